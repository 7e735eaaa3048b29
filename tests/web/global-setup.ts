/**
 * Runs once before the browser tests: checks that dist/ exists, makes the native references
 * (references.ts) and the test-only fixtures that the static server publishes under /fixtures/.
 */

import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DIST, FIXTURES, REPO, SHIPPED_BASELINE, SHIPPED_MODEL, TINY_MODEL } from './paths.js';
import { REFERENCES, ldfMetadata, makeReference, type ReferenceName } from './references.js';

export default function globalSetup(): void {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} is missing: run \`npm run build\` first (\`npm run test:web\` does)`);
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
  // The shipped model and baseline paired by `config`, as make-manifest.py pairs them, and the
  // model again under a configuration name no baseline has (the demo's comparison, issue 21).
  const shippedEntry = { file: 'landscapes-64.ldf', sha256: sha256(shipped), bytes: shipped.length, networks: ['decoder', 'encoder', 'flow', 'latent'] };
  const paired = {
    models: {
      'landscapes-64': { ...shippedEntry, config: 's64' },
      'baseline-64': { file: 'baseline-64.ldf', sha256: sha256(baseline), bytes: baseline.length, networks: ['baseline'], config: 's64' },
      'landscapes-64-unpaired': { ...shippedEntry, config: 's64-unpaired' },
    },
  };
  writeFileSync(join(FIXTURES, 'paired-manifest.json'), `${JSON.stringify(paired, null, 2)}\n`);

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
    makeModelChoice(tiny);
    makeHostileCorpus(tiny);
  }

  // The CPU wasm module itself, for calling its API without the worker (hostile.spec.ts).
  rmSync(join(FIXTURES, 'pkg-cpu'), { recursive: true, force: true });
  if (existsSync(join(REPO, 'web/pkg/cpu/lediflow.js'))) cpSync(join(REPO, 'web/pkg/cpu'), join(FIXTURES, 'pkg-cpu'), { recursive: true });
  console.log(`[global-setup] fixtures in ${FIXTURES}; shipped model sha256 ${shippedMeta.sha256}`);
}

/**
 * A manifest of two models for the demo's model picker (issue 21): the tiny model at 32 px, and
 * the same weights as a 128-px model (the configuration's image_size edited, its header hash
 * recomputed: the networks are size-agnostic, so it samples 128×128 images; 0.7 MB). Beside them
 * a baseline-only entry (the picker leaves it out) and an entry that pins the 128-px file to
 * another hash.
 */
function makeModelChoice(tiny: Buffer): void {
  const at128 = editHeader(tiny, (meta) => {
    const config = JSON.parse(meta.config);
    config.image_size = 128;
    config.name = 'tiny-128';
    meta.config = JSON.stringify(config);
  });
  writeFileSync(join(FIXTURES, 'tiny-128.ldf'), at128);
  const all = ['decoder', 'encoder', 'flow', 'latent', 'baseline'];
  const manifest = {
    models: {
      'tiny-32': { file: 'tiny-test.ldf', sha256: sha256(tiny), bytes: tiny.length, networks: all, config: 'tiny' },
      'tiny-128': { file: 'tiny-128.ldf', sha256: sha256(at128), bytes: at128.length, networks: all, config: 'tiny-128' },
      'tiny-baseline': { file: 'tiny-test.ldf', sha256: sha256(tiny), bytes: tiny.length, networks: ['baseline'], config: 'tiny' },
      'tiny-128-wrong-hash': { file: 'tiny-128.ldf', sha256: sha256(tiny), bytes: at128.length, networks: all, config: 'tiny-128' },
    },
  };
  writeFileSync(join(FIXTURES, 'two-models-manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Where the hostile corpus goes, and its index: `{ name, file, expect }` per weight file. */
export const HOSTILE_DIR = 'hostile';

/**
 * The browser's half of issue 24's corpus (the CLI's is crate/tools/tests/hostile_corpus.rs): the
 * tiny model with degenerate configurations (hashes right, so only validation can refuse them)
 * and damaged in the ways the CLI corpus damages it. `expect` is what the error must name.
 */
function makeHostileCorpus(tiny: Buffer): void {
  const dir = join(FIXTURES, HOSTILE_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const index: { name: string; file: string; expect: string }[] = [];
  const add = (name: string, bytes: Uint8Array, expect: string) => {
    const file = `${name.replace(/[^A-Za-z0-9^.-]+/g, '-')}.ldf`;
    writeFileSync(join(dir, file), bytes);
    index.push({ name, file, expect });
  };
  // Numbers JavaScript cannot hold exactly go in as text: a placeholder string, replaced.
  const RAW: Record<string, string> = { U64_MAX: '18446744073709551615', TWO_62: '4611686018427387904', TWO_32: '4294967296' };
  const raw = (text: string) => text.replace(/"@(\w+)@"/g, (_, k: string) => RAW[k]!);
  const config = (path: string, value: unknown, more: [string, unknown][] = []) =>
    editHeader(tiny, (meta) => {
      const c = JSON.parse(meta.config);
      for (const [p, v] of [[path, value] as [string, unknown], ...more]) {
        const keys = p.split('/');
        const last = keys.pop()!;
        keys.reduce((o: any, k) => o[k], c)[last] = v;
      }
      meta.config = raw(JSON.stringify(c));
    });
  for (const [name, path, value, expect, more] of [
    ['latent_downsample 0', 'latent_downsample', 0, 'latent_downsample'],
    ['decoder_z_upsample 0', 'decoder_z_upsample', 0, 'decoder_z_upsample'],
    ['flow patch_in 0', 'flow/patch_in', 0, 'flow.patch_in'],
    ['encoder patch_in 0', 'encoder/patch_in', 0, 'encoder.patch_in'],
    ['window size 0', 'flow/levels/0/attention/size', 0, 'attention.size'],
    ['levels []', 'flow/levels', [], 'flow.levels'],
    ['d_head 0', 'latent_sampler/levels/0/d_head', 0, 'd_head'],
    ['d_head not dividing the width', 'flow/levels/0/d_head', 7, 'flow.levels[0].width'],
    ['d_ff 0', 'decoder/levels/0/d_ff', 0, 'd_ff'],
    ['latent_channels 0', 'latent_channels', 0, 'latent_channels'],
    // On wasm32 a usize holds 32 bits: these three fail in the JSON parser, whose error names
    // the field by its path (model_io's `oversized_integer`; the 64-bit CLI parses them and
    // the validation names the field).
    ['patch_out 2^62', 'flow/patch_out', '@TWO_62@', 'flow.patch_out = 4611686018427387904'],
    ['image_size 0', 'image_size', 0, 'image_size'],
    ['image_size 2^32', 'image_size', '@TWO_32@', 'image_size = 4294967296'],
    ['image_size 4096', 'image_size', 4096, 'image_size'],
    ['image_size 2^20', 'image_size', 2 ** 20, 'image_size'],
    ['image_size 2048', 'image_size', 2048, 'activations'],
    ['image_size 36 (not divisible)', 'image_size', 36, 'image side'],
    ['depth 1e5', 'flow/levels/0/depth', 100_000, 'depth'],
    ['depth 1e6', 'flow/levels/1/depth', 1_000_000, 'depth'],
    ['depth 1e9', 'encoder/levels/0/depth', 1_000_000_000, 'depth'],
    ['width 1e9', 'flow/levels/0/width', 1_000_000_000, 'width'],
    ['width 2^64-1', 'flow/levels/0/width', '@U64_MAX@', 'flow.levels.0.width = 18446744073709551615'],
    ['mapping width odd', 'flow/mapping/width', 63, 'flow.mapping.width'],
    ['mapping removed', 'flow/mapping', null, 'flow.mapping'],
    ['channels mismatch', 'decoder/out_channels', 5, 'decoder.out_channels'],
    ['parameters over the bound', 'flow/levels/1/width', 4096, 'parameters', [['flow/levels/1/d_ff', 16384], ['flow/levels/1/depth', 4]]],
    ['log_var_min above log_var_max', 'loss/log_var_min', 10, 'loss.log_var_min'],
    ['sigma_lo negative', 'loss/sigma_lo', -1, 'loss.sigma_lo'],
    ['depth negative', 'flow/levels/0/depth', -1, 'invalid value'],
    ['depth 1e30 (a float)', 'flow/levels/0/depth', 1e30, 'invalid type'],
    ['unknown attention kind', 'flow/levels/0/attention', { kind: 'sparse' }, 'unknown variant'],
    ['a valid configuration the tensors do not fit', 'flow/levels/0/width', 64, 'has shape'],
  ] as [string, string, unknown, string, [string, unknown][]?][]) {
    add(`config: ${name}`, config(path, value, more), expect);
  }

  // Damaged files.
  const n = Number(tiny.readBigUInt64LE(0));
  const withLength = (length: bigint) => {
    const b = Buffer.from(tiny);
    b.writeBigUInt64LE(length, 0);
    return b;
  };
  const flip = (at: number) => {
    const b = Buffer.from(tiny);
    b[at]! ^= 0x01;
    return b;
  };
  const withHeaderText = (text: string) => {
    text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
    return Buffer.concat([length, Buffer.from(text, 'utf8'), tiny.subarray(8 + n)]);
  };
  const headerText = tiny.subarray(8, 8 + n).toString('utf8').trimEnd();
  const header = JSON.parse(headerText);
  const first = Object.keys(header).find((k) => k !== '__metadata__')!;
  const tensorEdit = (edit: (entry: any) => void) => editHeader(tiny, (_, h) => edit(h[first]));
  const metaEdit = (edit: (meta: Record<string, string>) => void, rehash = true) => {
    if (rehash) return editHeader(tiny, edit);
    const h = JSON.parse(headerText);
    edit(h.__metadata__);
    return withHeaderText(JSON.stringify(h));
  };
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'),
    Buffer.from([0, 0, 0, 64, 0, 0, 0, 64, 8, 6, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  const damaged: [string, Uint8Array, string][] = [
    ['an empty file', new Uint8Array(0), 'truncated'],
    ['4 bytes', tiny.subarray(0, 4), 'truncated'],
    ['8 bytes (the length only)', tiny.subarray(0, 8), 'truncated'],
    ['truncated in the header', tiny.subarray(0, 8 + (n >> 1)), 'truncated'],
    ['truncated right after the header', tiny.subarray(0, 8 + n), 'truncated'],
    ['truncated in the data', tiny.subarray(0, tiny.length >> 1), 'truncated'],
    ['truncated at 90%', tiny.subarray(0, Math.floor(tiny.length * 0.9)), 'truncated'],
    ['one byte short', tiny.subarray(0, tiny.length - 1), 'truncated'],
    ['a trailing byte', Buffer.concat([tiny, Buffer.from([0])]), 'trailing'],
    ['header length u64::MAX', withLength(2n ** 64n - 1n), 'header'],
    ['header length 2^40', withLength(2n ** 40n), 'header'],
    ['header length 16 MiB + 8', withLength(BigInt((16 << 20) + 8)), 'header'],
    ['header length beyond the file', withLength(BigInt(tiny.length + 8)), 'truncated'],
    ['header length 0', withLength(0n), 'header'],
    ['header length 1 too long', withLength(BigInt(n + 1)), 'json'],
    ['a JSON header cut short', withHeaderText('{"__metadata__": {'), 'json'],
    ['a header that is not JSON', withHeaderText('this is not JSON at all'), 'json'],
    ['a header that is not an object', withHeaderText('[1, 2, 3]'), 'json'],
    ['unknown dtype', tensorEdit((t) => (t.dtype = 'F64')), 'dtype'],
    ['a wrong dtype', tensorEdit((t) => (t.dtype = 'F32')), 'offsets'],
    ['shape 2^64 × 2^64', withHeaderText(headerText.replace(/"shape":\[[0-9,]*\]/, `"shape":[${RAW.U64_MAX},${RAW.U64_MAX}]`)), 'shape'],
    ['data offsets past the end', tensorEdit((t) => (t.data_offsets = [0, tiny.length * 4])), 'offsets'],
    ['a duplicate tensor', withHeaderText(headerText.replace('{', `{"${first}":${JSON.stringify(header[first])},`)), 'duplicate'],
    ['not a lediflow file', metaEdit((m) => (m.format = 'safetensors')), 'lediflow'],
    ['format version 2', metaEdit((m) => (m.format_version = '2')), 'version'],
    ['config changed without its hash', metaEdit((m) => (m.config = m.config.replace('"latent_downsample":8', '"latent_downsample":0')), false), 'hash'],
    ['config not JSON', metaEdit((m) => (m.config = '{not json')), 'config'],
    ['no __metadata__', withHeaderText(JSON.stringify({ ...header, __metadata__: undefined })), 'metadata'],
    ['a bit flip in the header', flip(8 + Math.floor(n / 3)), 'header'],
    ['a bit flip in the data', flip(8 + n + ((tiny.length - 8 - n) >> 1)), 'hash'],
    ['a bit flip in the last byte', flip(tiny.length - 1), 'hash'],
    ['a PNG, not a weight file', png, 'header'],
    ['text, not a weight file', Buffer.from('this is not a LeDiFlow weight file\n'.repeat(100)), 'header'],
  ];
  for (const [name, bytes, expect] of damaged) add(`file: ${name}`, bytes, expect);
  writeFileSync(join(dir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
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
