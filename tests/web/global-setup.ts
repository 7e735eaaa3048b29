/**
 * Runs once before the browser tests: checks that dist/ exists, makes the native references
 * (references.ts) and the test-only fixtures that the static server publishes under /fixtures/.
 */

import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { FIXTURES, REPO, SHIPPED_BASELINE, SHIPPED_MODEL, TINY_MODEL } from './paths.js';
import { REFERENCES, ldfMetadata, makeReference, type ReferenceName } from './references.js';

export default function globalSetup(): void {
  if (!existsSync(join(REPO, 'dist', 'index.html'))) {
    throw new Error('dist/ is missing: run `npm run build` first (`npm run test:web` does)');
  }
  if (!existsSync(SHIPPED_MODEL)) throw new Error(`the shipped model ${SHIPPED_MODEL} is missing`);
  for (const name of Object.keys(REFERENCES) as ReferenceName[]) {
    const problem = makeReference(name);
    if (problem) console.warn(`[global-setup] no native reference '${name}': ${problem}`);
  }
  makeFixtures();
}

function makeFixtures(): void {
  mkdirSync(FIXTURES, { recursive: true });
  const shipped = readFileSync(SHIPPED_MODEL);
  const shippedMeta = ldfMetadata(SHIPPED_MODEL);

  // The shipped file under its own name, with a manifest whose hash is wrong.
  copyFileSync(SHIPPED_MODEL, join(FIXTURES, 'landscapes-64.ldf'));
  writeManifest('wrong-hash-manifest.json', 'landscapes-64', 'landscapes-64.ldf', '0'.repeat(64), shipped.length);

  // The baseline, for addWeights: with its own manifest, with a manifest that pins another
  // file's hash (the shipped model's), and with flipped data bytes.
  const baseline = readFileSync(SHIPPED_BASELINE);
  writeFileSync(join(FIXTURES, 'baseline-64.ldf'), baseline);
  writeManifest('baseline-manifest.json', 'baseline-64', 'baseline-64.ldf', sha256(baseline), baseline.length);
  writeManifest('baseline-wrong-manifest.json', 'baseline-64', 'baseline-64.ldf', sha256(shipped), baseline.length);
  const baselineCorrupt = Buffer.from(baseline);
  for (let i = baselineCorrupt.length - 4096; i < baselineCorrupt.length - 4096 + 16; i++) baselineCorrupt[i] ^= 0x21;
  writeFileSync(join(FIXTURES, 'baseline-corrupt.ldf'), baselineCorrupt);

  // Degenerate configurations in an otherwise intact file, its header hash recomputed, so that
  // only the validation of the configuration can refuse them (hostile.spec.ts).
  const flowEdit = (edit: (flow: any) => void) => editHeader(shipped, (meta) => {
    const config = JSON.parse(meta.config);
    edit(config.flow);
    meta.config = JSON.stringify(config);
  });
  writeFileSync(join(FIXTURES, 'degenerate-d-head.ldf'), flowEdit((flow) => (flow.levels[0].d_head = 0)));
  writeFileSync(join(FIXTURES, 'degenerate-levels.ldf'), flowEdit((flow) => (flow.levels = [])));

  // Damaged files: flipped bytes in the data buffer (the hash check finds them), a download cut
  // short, and something that is not a weight file at all.
  const corrupt = Buffer.from(shipped);
  const at = Math.floor(corrupt.length * 0.8);
  for (let i = at; i < at + 64; i++) corrupt[i] ^= 0x5a;
  writeFileSync(join(FIXTURES, 'corrupt.ldf'), corrupt);
  writeFileSync(join(FIXTURES, 'truncated.ldf'), shipped.subarray(0, Math.floor(shipped.length * 0.55)));
  writeFileSync(join(FIXTURES, 'not-a-model.ldf'), 'this is not a LeDiFlow weight file\n'.repeat(100));

  if (existsSync(TINY_MODEL)) {
    copyFileSync(TINY_MODEL, join(FIXTURES, 'tiny-test.ldf'));
    const tiny = readFileSync(TINY_MODEL);
    writeManifest('tiny-manifest.json', 'tiny-test', 'tiny-test.ldf', sha256(tiny), tiny.length);
    // The names of two same-shaped matrices swapped in the header (meta_sha256 recomputed; the
    // data and its hash untouched): a valid file that is not the one the manifest pins.
    const [a, b] = ['flow.backbone.down.0.blocks.0.attn.qkv.weight', 'flow.backbone.up.0.blocks.0.attn.qkv.weight'];
    const swapped = editHeader(tiny, (meta, header) => {
      const tensors = JSON.parse(meta.tensors) as { name: string; parts: string[] }[];
      const rename = (name: string) => (name.startsWith(a) ? b + name.slice(a.length) : name.startsWith(b) ? a + name.slice(b.length) : name);
      for (const t of tensors) {
        t.name = rename(t.name);
        t.parts = t.parts.map(rename);
      }
      meta.tensors = JSON.stringify(tensors);
      const renamed = Object.fromEntries(Object.entries(header).map(([k, v]) => [rename(k), v]));
      for (const k of Object.keys(header)) delete header[k];
      Object.assign(header, renamed);
    });
    writeFileSync(join(FIXTURES, 'tiny-swapped.ldf'), swapped);
    writeManifest('tiny-swapped-manifest.json', 'tiny-test', 'tiny-swapped.ldf', sha256(tiny), tiny.length);
  }

  // The CPU wasm module itself, for calling its API without the worker (hostile.spec.ts).
  rmSync(join(FIXTURES, 'pkg-cpu'), { recursive: true, force: true });
  if (existsSync(join(REPO, 'web/pkg/cpu/lediflow.js'))) cpSync(join(REPO, 'web/pkg/cpu'), join(FIXTURES, 'pkg-cpu'), { recursive: true });
  console.log(`[global-setup] fixtures in ${FIXTURES}; shipped model sha256 ${shippedMeta.sha256}`);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A copy of an .ldf file whose header JSON `edit` changed (`meta` is `__metadata__`, `header`
 * the whole object), with `meta_sha256` recomputed and the header re-padded: the byte parser
 * accepts it, and its data (and data hash) are the original's.
 */
function editHeader(file: Buffer, edit: (meta: Record<string, string>, header: Record<string, any>) => void): Buffer {
  const length = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + length).toString('utf8'));
  const meta = header.__metadata__;
  edit(meta, header);
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const [config, tensors] = [Buffer.from(meta.config, 'utf8'), Buffer.from(meta.tensors, 'utf8')];
  meta.meta_sha256 = sha256(Buffer.concat([u64(config.length), config, u64(tensors.length), tensors]));
  let text = JSON.stringify({ __metadata__: meta, ...Object.fromEntries(Object.entries(header).filter(([k]) => k !== '__metadata__')) });
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
  return Buffer.concat([u64(Buffer.byteLength(text)), Buffer.from(text, 'utf8'), file.subarray(8 + length)]);
}

function writeManifest(fileName: string, model: string, file: string, sha256: string, bytes: number): void {
  const manifest = { models: { [model]: { file, sha256, bytes } } };
  writeFileSync(join(FIXTURES, fileName), `${JSON.stringify(manifest, null, 2)}\n`);
}
