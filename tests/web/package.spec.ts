/**
 * The npm package: `npm pack`'s file list, and a tiny Vite app built against the packed tarball
 * (the way a user installs it) that generates an image in the browser.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { difference, record, TOLERANCE } from './helpers.js';
import { CONSUMER, ORIGIN, REPO } from './paths.js';
import { loadReference } from './references.js';


const EXPECTED_FILES = [
  'package.json',
  'README.md',
  'models/landscapes-64.ldf',
  'models/baseline-64.ldf',
  'models/manifest.json',
  ...['webgpu', 'cpu'].flatMap((m) =>
    ['lediflow.js', 'lediflow.d.ts', 'lediflow_bg.wasm', 'lediflow_bg.wasm.d.ts'].map((f) => `web/pkg/${m}/${f}`),
  ),
  'web/lib/index.js',
  'web/lib/index.d.ts',
  'web/lib/worker.js',
  'web/lib/worker.d.ts',
  'web/lib/errors.js',
  'web/lib/errors.d.ts',
  'web/lib/gpu.js',
  'web/lib/gpu.d.ts',
  'web/lib/protocol.js',
  'web/lib/protocol.d.ts',
  'web/lib/types.js',
  'web/lib/types.d.ts',
  'web/lib/weights.js',
  'web/lib/weights.d.ts',
];

test('npm pack ships the library, its types, the worker, the wasm and the model, and nothing else', () => {
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO }).toString());
  const files: string[] = pack.files.map((f: { path: string }) => f.path);
  expect(new Set(files)).toEqual(new Set(EXPECTED_FILES));
  console.log(`[measure] npm pack: ${files.length} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked`);
});

test('a Vite app built against the packed tarball generates an image', async ({ page }) => {
  rmSync(CONSUMER, { recursive: true, force: true });
  const installed = join(CONSUMER, 'node_modules', 'lediflow');
  mkdirSync(installed, { recursive: true });
  // What `npm install lediflow-x.y.z.tgz` does for a package without dependencies.
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', CONSUMER], { cwd: REPO }).toString());
  execFileSync('tar', ['-xzf', join(CONSUMER, pack.filename), '-C', installed, '--strip-components=1']);

  writeFileSync(join(CONSUMER, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(
    join(CONSUMER, 'index.html'),
    '<!doctype html><html><body data-state="loading"><p id="out">…</p><script type="module" src="./main.js"></script></body></html>\n',
  );
  // The README's example, nearly verbatim.
  writeFileSync(
    join(CONSUMER, 'main.js'),
    `import { createGenerator } from 'lediflow';
const out = document.getElementById('out');
try {
  const generator = await createGenerator({ onProgress: (p) => (out.textContent = p.bytesReceived + ' bytes') });
  const { images } = await generator.sample({ seed: 0, count: 1 });
  const canvas = document.createElement('canvas');
  canvas.width = images[0].width;
  canvas.height = images[0].height;
  canvas.getContext('2d').putImageData(images[0], 0, 0);
  document.body.append(canvas);
  out.textContent = generator.backend + ' ' + generator.model.name;
  document.body.dataset.state = 'done';
} catch (e) {
  out.textContent = e.kind + ': ' + e.message;
  document.body.dataset.state = 'error';
}
`,
  );
  // Built with the repository's Vite but the consumer's node_modules: nothing resolves back here.
  const { build } = await import('vite');
  await build({ root: CONSUMER, base: './', logLevel: 'warn', configFile: false, build: { outDir: join(CONSUMER, 'dist'), target: 'es2022' } });
  const emitted = readdirSync(join(CONSUMER, 'dist', 'assets'));
  expect(emitted.some((f) => f.endsWith('.wasm')), `assets: ${emitted.join(', ')}`).toBe(true);
  expect(emitted.some((f) => f.endsWith('.ldf')), `assets: ${emitted.join(', ')}`).toBe(true);

  await page.goto(`${ORIGIN}/consumer/`);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 180_000 });
  await expect(page.locator('#out')).toHaveText(/^(cpu|webgpu) /);
  const pixels = await page.locator('canvas').evaluate((c: HTMLCanvasElement) =>
    Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
  );
  const diff = difference(new Uint8Array(pixels), loadReference('shipped')[0]);
  record('consumer app (packed tarball), chromium cpu, seed 0', diff);
  expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
});
