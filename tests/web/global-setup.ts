/**
 * Runs once before the browser tests: checks that dist/ exists, makes the native references
 * (references.ts) and the test-only fixtures that the static server publishes under /fixtures/.
 */

import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { FIXTURES, REPO, SHIPPED_MODEL, TINY_MODEL } from './paths.js';
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
    writeManifest('tiny-manifest.json', 'tiny-test', 'tiny-test.ldf', ldfMetadata(TINY_MODEL).sha256, statSync(TINY_MODEL).size);
  }
  console.log(`[global-setup] fixtures in ${FIXTURES}; shipped model sha256 ${shippedMeta.sha256}`);
}

function writeManifest(fileName: string, model: string, file: string, sha256: string, bytes: number): void {
  const manifest = { models: { [model]: { file, sha256, bytes } } };
  writeFileSync(join(FIXTURES, fileName), `${JSON.stringify(manifest, null, 2)}\n`);
}
