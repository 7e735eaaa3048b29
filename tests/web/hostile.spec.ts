/**
 * Hostile and damaged weight files on the CPU fallback (issue 24): a file is used only once its
 * whole-file SHA-256 matches the manifest's, a file that fails leaves the loaded model exactly as
 * it was, a damaged cached copy is never used, and a disposed generator installs nothing.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test, type Page } from '@playwright/test';

import { callGenerator, difference, expectReady, mustCall, openDemo, waitForState } from './helpers.js';
import { FIXTURES, ORIGIN, SHIPPED_MANIFEST, SHIPPED_MODEL, TINY_MODEL } from './paths.js';

const ONE_STEP = { seed: 3, count: 1, steps: 1, latentSteps: 1 };

/** `session.current[method](options)` in the page; resolves to the error's kind, or 'ok'. */
async function outcome(page: Page, method: string, options: object): Promise<string> {
  return page.evaluate(
    async ({ method, options }) => {
      try {
        await (window as any).lediflowDemo.session.current[method](options);
        return 'ok';
      } catch (e: any) {
        return `${e.kind}: ${e.message}`;
      }
    },
    { method, options },
  );
}

for (const [what, file, field] of [
  ['d_head 0', 'degenerate-d-head.ldf', 'd_head'],
  ['levels []', 'degenerate-levels.ldf', 'levels'],
] as const) {
  test(`a weight file whose configuration has ${what} is BadWeights, not a crash`, async ({ page }) => {
    await openDemo(page, { weights: `/fixtures/${file}` });
    expect(await waitForState(page)).toBe('error');
    const fatal = page.locator('#fatal');
    console.log(`[error shown] ${what}: ${await fatal.textContent()}`);
    await expect(fatal).toContainText('(BadWeights)');
    await expect(fatal).not.toContainText('Crashed');
    // The configuration is what was refused, naming the field.
    await expect(fatal).toContainText(field);
  });
}

test('the manifest pins the whole file: two same-shaped matrices with their names swapped are BadWeights', async ({ page }) => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  // The premise: the swapped file is valid (its data hash and meta_sha256 hold), so without a
  // manifest it loads, and only the whole file's hash can tell it from the pinned one.
  await openDemo(page, { autorun: '0', weights: '/fixtures/tiny-swapped.ldf' });
  await expectReady(page);
  await openDemo(page, { autorun: '0', weights: '/fixtures/tiny-swapped.ldf', manifest: '/fixtures/tiny-swapped-manifest.json' });
  expect(await waitForState(page)).toBe('error');
  const fatal = page.locator('#fatal');
  console.log(`[error shown] swapped names: ${await fatal.textContent()}`);
  await expect(fatal).toContainText('(BadWeights)');
  await expect(fatal).toContainText('does not match the manifest');
});

test('addWeights with a file that fails leaves the model exactly as it was; a good one then adds the baseline', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const model = () => page.evaluate(() => JSON.stringify((window as any).lediflowDemo.session.current.model));
  const before = (await mustCall(page, 'sample', ONE_STEP)).images[0];
  const modelBefore = await model();
  const failing: [string, object][] = [
    ['a manifest pinning another file', { weights: '/fixtures/baseline-64.ldf', manifest: '/fixtures/baseline-wrong-manifest.json' }],
    ['flipped data bytes', { weights: '/fixtures/baseline-corrupt.ldf' }],
    ['the networks of another configuration (the tiny model, baseline included)', { weights: '/fixtures/tiny-test.ldf' }],
  ];
  for (const [what, options] of failing) {
    if (what.includes('tiny') && !existsSync(TINY_MODEL)) continue;
    const added = await outcome(page, 'addWeights', options);
    console.log(`[addWeights] ${what}: ${added}`);
    expect(added, what).toMatch(/^BadWeights: /);
    // The baseline networks did not stay loaded, and nothing else changed.
    expect(await outcome(page, 'sample', { ...ONE_STEP, method: 'baseline' }), what).toMatch(/^InvalidState: .*baseline/);
    const after = (await mustCall(page, 'sample', ONE_STEP)).images[0];
    expect(difference(before, after).maxDiff, what).toBe(0);
    expect(await model(), what).toBe(modelBefore);
  }
  // The same file with its right manifest: the baseline runs, so the refusals above were the check's.
  expect(await outcome(page, 'addWeights', { weights: '/fixtures/baseline-64.ldf', manifest: '/fixtures/baseline-manifest.json' })).toBe('ok');
  expect(await outcome(page, 'sample', { ...ONE_STEP, method: 'baseline' })).toBe('ok');
  const after = (await mustCall(page, 'sample', ONE_STEP)).images[0];
  expect(difference(before, after).maxDiff).toBe(0);
});

/** The shipped model's manifest entry name and whole-file hash. */
function shippedEntry(): { name: string; sha256: string } {
  const [name, entry] = Object.entries(JSON.parse(readFileSync(SHIPPED_MANIFEST, 'utf8')).models).find(
    ([, e]) => (e as { file: string }).file === 'landscapes-64.ldf',
  ) as [string, { sha256: string }];
  return { name, sha256: entry.sha256 };
}

const damages = {
  // A free-form header value that neither the data hash nor meta_sha256 covers.
  'a header byte': `(bytes) => { const at = new TextDecoder().decode(bytes.subarray(0, 65536)).indexOf('"created_by":"') + 14; bytes[at] ^= 0x20; }`,
  'flipped data bytes': `(bytes) => { for (let i = bytes.length - 5000; i < bytes.length - 4990; i++) bytes[i] ^= 0x5a; }`,
};

for (const [what, damage] of Object.entries(damages)) {
  test(`a cached copy with ${what} altered is detected, dropped and downloaded again`, async ({ page, request }) => {
    const { name, sha256 } = shippedEntry();
    expect(sha256, 'the manifest pins the whole file').toBe(createHash('sha256').update(readFileSync(SHIPPED_MODEL)).digest('hex'));
    await openDemo(page, { autorun: '0' });
    await expectReady(page);
    const key = `/.lediflow-weights/${encodeURIComponent(name)}/${sha256}.ldf`;
    const cachedHash = () =>
      page.evaluate(async (key) => {
        const hit = await (await caches.open('lediflow-weights')).match(key);
        if (!hit) return null;
        const digest = await crypto.subtle.digest('SHA-256', await hit.arrayBuffer());
        return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      }, key);
    expect(await cachedHash()).toBe(sha256);
    // Damage the cached copy in place, under its key.
    await page.evaluate(
      async ({ key, damage }) => {
        const cache = await caches.open('lediflow-weights');
        const bytes = new Uint8Array(await (await cache.match(key))!.arrayBuffer());
        (0, eval)(damage)(bytes);
        await cache.put(key, new Response(bytes));
      },
      { key, damage },
    );
    expect(await cachedHash()).not.toBe(sha256);
    await request.get(`${ORIGIN}/__requests/reset`);
    await page.reload();
    await expectReady(page);
    const seen: string[] = await (await request.get(`${ORIGIN}/__requests`)).json();
    expect(seen.filter((p) => p.endsWith('.ldf')), 'the weights were not downloaded again').toHaveLength(1);
    await expect(page.locator('#model-info')).not.toContainText('from cache');
    expect(await page.evaluate(() => (window as any).lediflowDemo.session.current.model.sha256)).toBe(sha256);
    // The good copy replaced the damaged one.
    expect(await cachedHash()).toBe(sha256);
    await mustCall(page, 'sample', ONE_STEP);
  });
}

test('after dispose every call is a typed error', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const results = await page.evaluate(async () => {
    const generator = (window as any).lediflowDemo.session.current;
    generator.dispose();
    // Each must settle at once: a call that hangs is as wrong as one that succeeds.
    const kind = (p: Promise<unknown>) =>
      Promise.race([p, new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000))]).then(
        (v) => (typeof v === 'string' && v.startsWith('still') ? v : 'ok'),
        (e: any) => e.kind,
      );
    return {
      sample: await kind(generator.sample({ seed: 1, count: 1 })),
      interpolate: await kind(generator.interpolate({ seedA: 1, seedB: 2, alphas: [0.5] })),
      addWeights: await kind(generator.addWeights({ weights: '/fixtures/baseline-64.ldf' })),
      ended: await kind(generator.ended.then((e: any) => Promise.reject(e))),
    };
  });
  expect(results).toEqual({ sample: 'InvalidState', interpolate: 'InvalidState', addWeights: 'InvalidState', ended: 'InvalidState' });
});

test('the wasm API: a model is installed only after its hash matches, and never after dispose', async ({ page }) => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  test.skip(!existsSync(join(FIXTURES, 'pkg-cpu', 'lediflow.js')), 'web/pkg/cpu is missing (web/build-wasm.sh)');
  const tinyHash = createHash('sha256').update(readFileSync(TINY_MODEL)).digest('hex');
  await page.goto(`${ORIGIN}/__health`);
  const log = await page.evaluate(async (tinyHash) => {
    const wasm: any = await import(`${location.origin}/fixtures/pkg-cpu/lediflow.js`);
    await wasm.default({ module_or_path: `${location.origin}/fixtures/pkg-cpu/lediflow_bg.wasm` });
    const bytes = new Uint8Array(await (await fetch('/fixtures/tiny-test.ldf')).arrayBuffer());
    const out: Record<string, string> = {};
    const attempt = async (what: string, f: () => unknown) => {
      try {
        const value: any = await f();
        out[what] = value && typeof value === 'object' && 'sha256' in value ? `ok ${value.sha256}` : 'ok';
      } catch (e: any) {
        out[what] = `${e.kind}: ${e.message}`;
      }
    };
    const g = await wasm.Generator.create({ backend: 'cpu' });
    const sample = () => g.sample({ seed: 5, count: 1, steps: 1, latentSteps: 1 });
    // A whole, valid file with a pin that is not its hash: refused, and nothing installed.
    await attempt('load', () => g.load(bytes));
    await attempt('finishLoad wrong pin', () => g.finishLoad('0'.repeat(64)));
    await attempt('sample after the refusal', sample);
    // A file that broke off, dropped: the next one starts afresh.
    await attempt('load half', () => g.load(bytes.subarray(0, bytes.length >> 1)));
    g.cancelLoad();
    await attempt('load again', () => g.load(bytes));
    await attempt('finishLoad right pin', () => g.finishLoad(tinyHash));
    await attempt('sample', sample);
    // Disposed: streaming, finishing and sampling are refused; nothing is installed.
    await attempt('load before dispose', () => g.load(bytes));
    g.dispose();
    await attempt('finishLoad after dispose', () => g.finishLoad(tinyHash));
    await attempt('load after dispose', () => g.load(bytes));
    await attempt('finishLoad after load after dispose', () => g.finishLoad());
    await attempt('sample after dispose', sample);
    return out;
  }, tinyHash);
  console.log(`[wasm API] ${JSON.stringify(log, null, 1)}`);
  expect(log['load']).toBe('ok');
  expect(log['finishLoad wrong pin']).toMatch(/^BadWeights: .*does not match the manifest/);
  expect(log['sample after the refusal']).toMatch(/^InvalidState: no model/);
  expect(log['finishLoad right pin']).toBe(`ok ${tinyHash}`);
  expect(log['sample']).toBe('ok');
  for (const call of ['finishLoad after dispose', 'load after dispose', 'finishLoad after load after dispose', 'sample after dispose']) {
    expect(log[call], call).toMatch(/^InvalidState: /);
  }
});

test('a download that breaks off leaves nothing behind: the next addWeights starts afresh', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const before = (await mustCall(page, 'sample', ONE_STEP)).images[0];
  // Half the baseline arrives, then the connection drops: the worker drops the half-streamed file.
  expect(await outcome(page, 'addWeights', { weights: '/__cut/baseline-64.ldf' })).toMatch(/^Network: .*broke off/);
  expect(await outcome(page, 'sample', { ...ONE_STEP, method: 'baseline' })).toMatch(/^InvalidState: .*baseline/);
  expect(difference(before, (await mustCall(page, 'sample', ONE_STEP)).images[0]).maxDiff).toBe(0);
  expect(await outcome(page, 'addWeights', { weights: '/fixtures/baseline-64.ldf', manifest: '/fixtures/baseline-manifest.json' })).toBe('ok');
  const result = await callGenerator(page, 'sample', { ...ONE_STEP, method: 'baseline' });
  expect('error' in result ? `${result.error.kind}: ${result.error.message}` : 'ok').toBe('ok');
});

// ---- The browser corpus (issue 24) ----------------------------------------------------------------
// The CLI's half is crate/tools/tests/hostile_corpus.rs; the weight files are made by global-setup.ts.

/** Longest any rejected input may take, and the most wasm linear memory it may leave behind. */
const CASE_LIMIT_MS = 20_000;
const MAX_WASM_BYTES = 100 << 20;

/** Bad options, through the page's generator (the worker); each must be `InvalidOptions` naming the field. */
const BAD_OPTIONS: [string, 'sample' | 'inpaint' | 'interpolate', Record<string, unknown>, string][] = [
  ['steps 0', 'sample', { steps: 0 }, 'steps'],
  ['steps 1001', 'sample', { steps: 1001 }, 'steps'],
  ['steps 2^32', 'sample', { steps: 2 ** 32 }, 'steps'],
  ['steps -1', 'sample', { steps: -1 }, 'steps'],
  ['steps 1.5', 'sample', { steps: 1.5 }, 'steps'],
  ['steps NaN', 'sample', { steps: NaN }, 'steps'],
  ['steps "4"', 'sample', { steps: '4' }, 'steps'],
  ['latentSteps 0', 'sample', { latentSteps: 0 }, 'latentSteps'],
  ['latentSteps 1e5', 'sample', { latentSteps: 100_000 }, 'latentSteps'],
  ['count 0', 'sample', { count: 0 }, 'count'],
  ['count 65', 'sample', { count: 65 }, 'count'],
  ['count 1e12', 'sample', { count: 1e12 }, 'count'],
  ['count -1', 'sample', { count: -1 }, 'count'],
  ['count Infinity', 'sample', { count: Infinity }, 'count'],
  ['seed -1', 'sample', { seed: -1 }, 'seed'],
  ['seed 2^53', 'sample', { seed: 2 ** 53 }, 'seed'],
  ['seed 2^64', 'sample', { seed: 2 ** 64 }, 'seed'],
  ['seed 1.5', 'sample', { seed: 1.5 }, 'seed'],
  ['seed NaN', 'sample', { seed: NaN }, 'seed'],
  ['seed -Infinity', 'sample', { seed: -Infinity }, 'seed'],
  ['seed "x"', 'sample', { seed: 'x' }, 'seed'],
  ['seed + count past 2^53', 'sample', { seed: 2 ** 53 - 1, count: 2 }, 'seed'],
  ['solver rk99', 'sample', { solver: 'rk99' }, 'rk99'],
  ['method nope', 'sample', { method: 'nope' }, 'nope'],
  ['priorStdScale -1', 'sample', { priorStdScale: -1 }, 'priorStdScale'],
  ['priorStdScale NaN', 'sample', { priorStdScale: NaN }, 'priorStdScale'],
  ['priorStdScale 1e300', 'sample', { priorStdScale: 1e300 }, 'priorStdScale'],
  ['latentTimePower 0', 'sample', { latentTimePower: 0 }, 'latentTimePower'],
  ['latentTimePower NaN', 'sample', { latentTimePower: NaN }, 'latentTimePower'],
  ['latentTimePower "2"', 'sample', { latentTimePower: '2' }, 'latentTimePower'],
  ['latentTemperature -0.5', 'sample', { latentTemperature: -0.5 }, 'latentTemperature'],
  ['latentTemperature NaN', 'sample', { latentTemperature: NaN }, 'latentTemperature'],
  ['interpolate latentTemperature 3', 'interpolate', { seedA: 1, seedB: 2, alphas: [0.5], latentTemperature: 3 }, 'latentTemperature'],
  ['replay "yes"', 'sample', { replay: 'yes' }, 'replay'],
  ['timePower 5', 'sample', { timePower: 5 }, 'timePower'],
  ['interpolate timePower -1', 'interpolate', { seedA: 1, seedB: 2, alphas: [0.5], timePower: -1 }, 'timePower'],
  ['alphas []', 'interpolate', { seedA: 1, seedB: 2, alphas: [] }, 'alphas'],
  ['65 alphas', 'interpolate', { seedA: 1, seedB: 2, alphas: new Array(65).fill(0.5) }, 'alphas'],
  ['alpha NaN', 'interpolate', { seedA: 1, seedB: 2, alphas: [0.5, NaN] }, 'alpha'],
  ['alpha -0.1', 'interpolate', { seedA: 1, seedB: 2, alphas: [-0.1] }, 'alpha'],
  ['alpha Infinity', 'interpolate', { seedA: 1, seedB: 2, alphas: [Infinity] }, 'alpha'],
  ['alpha 2', 'interpolate', { seedA: 1, seedB: 2, alphas: [2] }, 'alpha'],
  ['alphas not an array', 'interpolate', { seedA: 1, seedB: 2, alphas: 0.5 }, 'alphas'],
  ['seedA -1', 'interpolate', { seedA: -1, seedB: 2, alphas: [0.5] }, 'seedA'],
  ['seedB 2^60', 'interpolate', { seedA: 1, seedB: 2 ** 60, alphas: [0.5] }, 'seedB'],
  ['interpolate steps 0', 'interpolate', { seedA: 1, seedB: 2, alphas: [0.5], steps: 0 }, 'steps'],
  ['a mask one byte short', 'inpaint', { $image: 32 * 32 * 4, $mask: 32 * 32 - 1 }, 'mask'],
  ['an empty mask', 'inpaint', { $image: 32 * 32 * 4, $mask: 0 }, 'mask'],
  ['an image of the wrong size', 'inpaint', { $image: 64 * 64 * 4, $mask: 32 * 32 }, 'image'],
  ['inpaint count 0', 'inpaint', { $image: 32 * 32 * 4, $mask: 32 * 32, count: 0 }, 'count'],
  ['inpaint steps 1e9', 'inpaint', { $image: 32 * 32 * 4, $mask: 32 * 32, steps: 1e9 }, 'steps'],
];

interface CaseResult {
  name: string;
  outcome: string;
  ms: number;
  wasmBytes: number | null;
}

test('the hostile corpus: every bad weight file and option is a typed error naming it, quickly, in bounded memory', async ({ page }) => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  test.skip(!existsSync(join(FIXTURES, 'pkg-cpu', 'lediflow.js')), 'web/pkg/cpu is missing (web/build-wasm.sh)');
  const files: { name: string; file: string; expect: string }[] = JSON.parse(readFileSync(join(FIXTURES, 'hostile', 'index.json'), 'utf8'));
  const results: (CaseResult & { expect: string })[] = [];

  // 1. Weight files, streamed into one wasm generator (the worker's own load path: `load` per
  // chunk, then `finishLoad`), which a refused file must leave usable.
  await page.goto(`${ORIGIN}/__health`);
  await page.evaluate(async () => {
    const wasm: any = await import(`${location.origin}/fixtures/pkg-cpu/lediflow.js`);
    const exports = await wasm.default({ module_or_path: `${location.origin}/fixtures/pkg-cpu/lediflow_bg.wasm` });
    const generator = await wasm.Generator.create({ backend: 'cpu' });
    /** Streams a file in as the worker does, in 64 KiB chunks; resolves to 'ok' or the error. */
    const loadFile = async (url: string, limitMs: number) => {
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const started = performance.now();
      let outcome: string;
      try {
        const load = async () => {
          for (let at = 0; at < bytes.length || at === 0; at += 65536) generator.load(bytes.subarray(at, at + 65536));
          return generator.finishLoad();
        };
        await Promise.race([load(), new Promise((_, reject) => setTimeout(() => reject({ kind: 'TimedOut', message: `nothing after ${limitMs} ms` }), limitMs))]);
        outcome = 'ok';
      } catch (e: any) {
        // As the worker sorts it (web/src/errors.ts): a trap is a crash, whatever it says.
        outcome = e instanceof WebAssembly.RuntimeError ? `Crashed: ${e.message}` : `${e?.kind ?? 'untyped'}: ${e?.message ?? e}`;
        generator.cancelLoad();
      }
      return { outcome, ms: performance.now() - started, wasmBytes: exports.memory.buffer.byteLength as number };
    };
    Object.assign(window, { loadFile, hostileGenerator: generator });
  });
  for (const { name, file, expect: expected } of files) {
    const r = await page.evaluate(({ url, limit }) => (window as any).loadFile(url, limit), { url: `/fixtures/hostile/${file}`, limit: CASE_LIMIT_MS });
    results.push({ name, expect: expected, ...r });
  }
  // The generator still works: the intact file loads and samples.
  const after = await page.evaluate(async ({ limit }) => {
    const loaded = await (window as any).loadFile('/fixtures/tiny-test.ldf', limit);
    if (loaded.outcome !== 'ok') return loaded.outcome;
    const result = await (window as any).hostileGenerator.sample({ seed: 3, count: 1, steps: 1, latentSteps: 1 });
    return `ok ${result.width}×${result.height}, ${result.pixels.length} bytes`;
  }, { limit: CASE_LIMIT_MS });
  expect(after, 'the tiny model loads and samples after the corpus of weight files').toBe('ok 32×32, 4096 bytes');

  // 2. Options, through the page's generator: the TypeScript wrapper, the worker, the wasm.
  await openDemo(page, { autorun: '0', weights: '/fixtures/tiny-test.ldf' });
  await expectReady(page);
  const worker = page.workers().find((w) => /worker[^/]*\.js/.test(w.url()))!;
  const before = (await mustCall(page, 'sample', ONE_STEP)).images[0];
  for (const [name, method, options, expected] of BAD_OPTIONS) {
    const r = await page.evaluate(
      async ({ method, options, limit }) => {
        const opts: any = { ...options };
        if (typeof opts.$image === 'number') opts.image = new Uint8Array(opts.$image).fill(128);
        if (typeof opts.$mask === 'number') opts.mask = new Uint8Array(opts.$mask).fill(1);
        delete opts.$image;
        delete opts.$mask;
        const started = performance.now();
        let outcome: string;
        try {
          const call = (window as any).lediflowDemo.session.current[method](opts);
          await Promise.race([call, new Promise((_, reject) => setTimeout(() => reject({ kind: 'TimedOut', message: `nothing after ${limit} ms` }), limit))]);
          outcome = 'ok';
        } catch (e: any) {
          outcome = `${e?.kind ?? 'untyped'}: ${e?.message ?? e}`;
        }
        return { outcome, ms: performance.now() - started };
      },
      { method, options, limit: CASE_LIMIT_MS },
    );
    // A worker the page ended (after a `Crashed`) has no memory to read: null, which fails below.
    const wasmBytes: number | null = await worker.evaluate(() => (self as any).lediflowWasmMemoryBytes()).catch(() => null);
    results.push({ name: `${method}: ${name}`, expect: expected, ...r, wasmBytes });
  }

  // Every case: a typed error of the expected kind that names the problem, in time, in bounded memory.
  for (const r of results) console.log(`[hostile] ${r.name} (${r.ms.toFixed(0)} ms, ${((r.wasmBytes ?? 0) / 2 ** 20).toFixed(1)} MiB): ${r.outcome}`);
  const kinds = (r: { name: string }) => (r.name.startsWith('config') || r.name.startsWith('file') ? 'BadWeights' : 'InvalidOptions');
  const wrong = results.filter(
    (r) => !r.outcome.startsWith(`${kinds(r)}: `) || !r.outcome.toLowerCase().includes(r.expect.toLowerCase()) || r.ms > CASE_LIMIT_MS || r.wasmBytes === null || r.wasmBytes > MAX_WASM_BYTES,
  );
  const largest = results.reduce((a, b) => ((b.wasmBytes ?? 0) > (a.wasmBytes ?? 0) ? b : a));
  const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
  console.log(
    `[measure] hostile corpus: ${results.length} cases (${files.length} weight files, ${BAD_OPTIONS.length} option sets); ` +
      `largest wasm memory ${(largest.wasmBytes! / 2 ** 20).toFixed(1)} MiB (${largest.name}); slowest ${slowest.ms.toFixed(0)} ms (${slowest.name})`,
  );
  expect(results.length).toBeGreaterThanOrEqual(60);
  expect(results.filter((r) => r.outcome.startsWith('Crashed')).map((r) => r.name), 'no case crashed the runtime').toEqual([]);
  expect(wrong.map((r) => `${r.name} (expected ${kinds(r)} naming '${r.expect}', ${r.ms.toFixed(0)} ms, ${r.wasmBytes} bytes): ${r.outcome}`)).toEqual([]);
  // The generator still samples, exactly as before the corpus.
  const again = (await mustCall(page, 'sample', ONE_STEP)).images[0];
  expect(difference(before, again).maxDiff, 'a sample after the corpus equals one before it').toBe(0);
});
