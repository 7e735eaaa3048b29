/**
 * The npm package: `npm pack`'s file list, and a tiny Vite app built against the packed tarball
 * (the way a user installs it) that generates an image in the browser.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';

import { difference, record, TOLERANCE } from './helpers.js';
import { CONSUMER, ORIGIN, REPO, WORK } from './paths.js';
import { loadReference } from './references.js';


/** The images README.md shows: shipped, so that the registry's page shows them too. */
const README_IMAGES = readmeImages(readFileSync(join(REPO, 'README.md'), 'utf8'));

const EXPECTED_FILES = [
  'package.json',
  'README.md',
  'LICENSE',
  ...README_IMAGES.filter((src) => !/^https?:/.test(src)),
  'models/landscapes-64.ldf',
  'models/baseline-64.ldf',
  'models/landscapes-128.ldf',
  'models/baseline-128.ldf',
  'models/manifest.json',
  ...['webgpu', 'cpu'].flatMap((m) =>
    ['lediflow.js', 'lediflow.d.ts', 'lediflow_bg.wasm', 'lediflow_bg.wasm.d.ts'].map((f) => `web/pkg/${m}/${f}`),
  ),
  'web/lib/index.js',
  'web/lib/contract.d.ts',
  'web/lib/contract.js',
  'web/lib/index.d.ts',
  'web/lib/baseline.js',
  'web/lib/calls.d.ts',
  'web/lib/calls.js',
  'web/lib/baseline.d.ts',
  'web/lib/landscapes128.js',
  'web/lib/landscapes128.d.ts',
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

function readmeImages(markdown: string): string[] {
  return [...markdown.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

/** What `npm install lediflow-x.y.z.tgz` does for a package without dependencies, into `app`. */
function installPacked(app: string): void {
  rmSync(app, { recursive: true, force: true });
  const installed = join(app, 'node_modules', 'lediflow');
  mkdirSync(installed, { recursive: true });
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', app], { cwd: REPO }).toString());
  execFileSync('tar', ['-xzf', join(app, pack.filename), '-C', installed, '--strip-components=1']);
}

test('the package ships an MIT LICENSE, and every image its README shows', () => {
  const packageJson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  expect(packageJson.license).toBe('MIT');
  const license = readFileSync(join(REPO, 'LICENSE'), 'utf8');
  expect(license).toMatch(/^MIT License\n/);
  expect(license).toContain('Permission is hereby granted, free of charge');
  // The registry shows the package's README.md: a relative image must be a file in the package.
  expect(README_IMAGES.length).toBeGreaterThan(0);
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO }).toString());
  const packed = new Set(pack.files.map((f: { path: string }) => f.path));
  for (const src of README_IMAGES) {
    if (!/^https?:\/\//.test(src)) expect(packed.has(src), `README.md shows ${src}, which the package lacks`).toBe(true);
  }
});

test('packing an unbuilt checkout fails and says how to build it', () => {
  // A checkout with the sources but no web/pkg/ (the wasm) and no web/lib/.
  const checkout = join(WORK, 'unbuilt');
  rmSync(checkout, { recursive: true, force: true });
  mkdirSync(checkout, { recursive: true });
  for (const path of ['package.json', 'README.md', 'LICENSE', 'models', 'docs', 'web/src', 'web/scripts', 'web/tsconfig.json', 'web/tsconfig.lib.json']) {
    cpSync(join(REPO, path), join(checkout, path), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(checkout, 'node_modules'));
  const packed = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: checkout, encoding: 'utf8' });
  console.log(`[npm pack, unbuilt] exit ${packed.status}: ${packed.stderr.split('\n').filter((l) => l.includes('prepack')).join(' | ')}`);
  expect(packed.status, 'npm pack succeeded without the wasm').not.toBe(0);
  expect(packed.stderr).toContain('web/build-wasm.sh');
  expect(existsSync(join(checkout, 'web/lib/index.js')), 'the library was built although the pack had to fail').toBe(false);
});

test("the READMEs' snippets type-check verbatim in a strict TypeScript app against the packed types", () => {
  const app = join(WORK, 'snippet');
  installPacked(app);
  // The compiler options of Vite's vanilla-ts template (create-vite), minus its vite/client types.
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'ESNext',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      moduleResolution: 'bundler',
      moduleDetection: 'force',
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      noEmit: true,
      strict: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      noFallthroughCasesInSwitch: true,
    },
    include: ['src'],
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  mkdirSync(join(app, 'src'));
  const snippets: string[] = [];
  for (const readme of ['README.md', 'web/README.md']) {
    const blocks = [...readFileSync(join(REPO, readme), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    const uses = blocks.filter((code) => code.includes("from 'lediflow'"));
    expect(uses.length, `${readme} has no snippet that imports 'lediflow'`).toBeGreaterThan(0);
    uses.forEach((code, k) => {
      const name = `${readme.replace(/\W/g, '-')}-${k}.ts`;
      writeFileSync(join(app, 'src', name), code);
      snippets.push(name);
    });
  }
  const checked = spawnSync(join(REPO, 'node_modules/.bin/tsc'), ['-p', app], { cwd: app, encoding: 'utf8' });
  expect(checked.stdout + checked.stderr, `tsc on ${snippets.join(', ')}`).toBe('');
  expect(checked.status).toBe(0);
});

test('a Vite app built against the packed tarball generates an image, and carries no baseline', async ({ page }) => {
  installPacked(CONSUMER);

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
  // The model, and not the baseline: an app that never compares does not carry it.
  expect(emitted.filter((f) => f.endsWith('.ldf')).map((f) => f.split('-')[0]), `assets: ${emitted.join(', ')}`).toEqual(['landscapes']);

  // An app that imports `lediflow/baseline` does carry it.
  writeFileSync(
    join(CONSUMER, 'compare.html'),
    '<!doctype html><html><body><script type="module" src="./compare.js"></script></body></html>\n',
  );
  writeFileSync(
    join(CONSUMER, 'compare.js'),
    `import { createGenerator } from 'lediflow';
import { shippedBaseline } from 'lediflow/baseline';
const generator = await createGenerator();
await generator.addWeights(shippedBaseline);
`,
  );
  const compareOut = join(CONSUMER, 'dist-compare');
  await build({
    root: CONSUMER,
    base: './',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: compareOut, target: 'es2022', rollupOptions: { input: join(CONSUMER, 'compare.html') } },
  });
  const withBaseline = readdirSync(join(compareOut, 'assets')).filter((f) => f.endsWith('.ldf'));
  expect(withBaseline.map((f) => f.split('-')[0]).sort(), `assets: ${withBaseline.join(', ')}`).toEqual(['baseline', 'landscapes']);

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
