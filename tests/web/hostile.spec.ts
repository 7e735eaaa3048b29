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
