/**
 * The demo on Chromium without WebGPU: the CPU fallback runs the shipped model at full size.
 */

import { existsSync, readFileSync, statSync } from 'node:fs';

import { expect, test } from '@playwright/test';

import {
  callGenerator,
  canvasPixels,
  difference,
  expectReady,
  looksLikeAnImage,
  mustCall,
  openDemo,
  record,
  TOLERANCE,
  toBase64,
  waitForState,
} from './helpers.js';
import { ORIGIN, RESULTS, SHIPPED_MANIFEST, SHIPPED_MODEL, TINY_MODEL } from './paths.js';
import { REFERENCES, loadReference } from './references.js';


test('the page loads, streams the weights with progress, falls back to the CPU and shows the native samples', async ({ page }) => {
  const started = Date.now();
  // Without WebGPU only the CPU module is downloaded (web/build-wasm.sh builds two).
  const wasmFetched: Promise<number>[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.endsWith('.wasm')) wasmFetched.push(response.body().then((b) => b.length));
  });
  await openDemo(page);
  await expect(page.locator('h1')).toContainText('LeDiFlow');
  await expectReady(page);
  const loadedMs = Date.now() - started;

  await expect(page.locator('#backend')).toContainText('CPU fallback');
  expect(await page.evaluate(() => (window as any).lediflowDemo.session.current.wgslKernels)).toBe(false);
  const worker = page.workers().find((w) => /worker[^/]*\.js/.test(w.url()));
  expect(await worker?.evaluate(() => (self as any).lediflowModule)).toBe('cpu');
  // The kernels' self-check has nothing to check on the CPU: a typed error, not a number.
  const check = await worker?.evaluate(() =>
    (self as any).lediflowCheckKernels().then(
      () => 'resolved',
      (e: any) => `${e?.kind}: ${e?.message}`,
    ),
  );
  expect(check).toMatch(/^Backend: .*does not run on this device/);
  const wasmSizes = await Promise.all(wasmFetched);
  console.log(`[measure] chromium without WebGPU: fetched wasm of ${wasmSizes.join(', ')} bytes`);
  expect(wasmSizes).toHaveLength(1);
  expect(wasmSizes[0], 'the WebGPU module was fetched').toBeLessThan(6_000_000);
  await expect(page.locator('#model-info')).toContainText('64×64');
  // One unit for sizes, the README's: decimal megabytes (7.7 MB, where MiB would read 7.4).
  const megabytes = (statSync(SHIPPED_MODEL).size / 1e6).toFixed(1);
  await expect(page.locator('#model-info')).toContainText(`${megabytes} MB of weights`);
  const progress: string[] = await page.evaluate(() => (window as any).progressLog);
  expect(progress.length, 'the weights line never changed').toBeGreaterThan(1);
  expect(progress.some((t) => /MB of \d/.test(t)), `progress texts: ${progress.join(' | ')}`).toBe(true);
  const bar = page.locator('#weights-bar');
  expect(await bar.evaluate((b: HTMLProgressElement) => b.value === b.max && b.max > 1e6)).toBe(true);

  // The first grid is generated on load (seed 0, four images, midpoint × 2): the native reference.
  await expect(page.locator('#generate-grid')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(page.locator('#generate-grid')).toHaveAttribute('data-previews', String(REFERENCES.shipped.steps));
  const reference = loadReference('shipped');
  const canvases = page.locator('#generate-grid canvas');
  await expect(canvases).toHaveCount(reference.length);
  for (let k = 0; k < reference.length; k++) {
    const pixels = await canvasPixels(page, `#generate-grid figure:nth-child(${k + 1}) canvas`);
    const diff = difference(pixels, reference[k]);
    record(`chromium cpu, shipped model, seed ${k}, midpoint 2 (demo grid)`, diff);
    expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
    const shape = looksLikeAnImage(pixels, 64);
    // A flat (constant or all-black) output spans a few levels at most; the shipped model's darkest
    // scene among these seeds (seed 3, a night) spans 46 in blue.
    expect(shape.spread, 'a flat image').toBeGreaterThan(20);
    expect(shape.roughness, 'noise, not an image').toBeLessThan(40);
  }
  await expect(page.locator('#generate-grid figcaption').first()).toContainText(/NFE .* flow .*ms/);
  // One upscaling for every canvas of the page: nearest-neighbour, never smoothed.
  const renderings = await page.locator('canvas').evaluateAll((all) => all.map((c) => getComputedStyle(c).imageRendering));
  expect(new Set(renderings)).toEqual(new Set(['pixelated']));
  const note = await page.locator('#generate-note').textContent();
  console.log(`[measure] chromium cpu: page ready in ${loadedMs} ms; first grid: ${note}`);
  await page.screenshot({ path: `${RESULTS}/demo-cpu.png`, fullPage: true });
  console.log(`[screenshot] ${RESULTS}/demo-cpu.png`);
});

test('Generate draws a new seed each press, shows it, and a typed seed makes the same images again', async ({ page }) => {
  await openDemo(page);
  await expectReady(page);
  const grid = page.locator('#generate-grid');
  const seedField = page.locator('#generate-form input[name=seed]');
  await expect(grid).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(grid).toHaveAttribute('data-seed', '0');
  const first = await canvasPixels(page, '#generate-grid figure:nth-child(1) canvas');

  await page.locator('#generate-form button[type=submit]').click();
  await expect(grid).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  const seed = await seedField.inputValue();
  expect(seed, 'Generate kept seed 0').not.toBe('0');
  await expect(grid).toHaveAttribute('data-seed', seed);
  await expect(page.locator('#generate-grid figcaption').first()).toContainText(`seed ${seed} `);
  await expect(page.locator('#generate-note')).toContainText(`Seed ${seed}`);
  const second = await canvasPixels(page, '#generate-grid figure:nth-child(1) canvas');
  expect(difference(first, second).maxDiff, 'Generate drew the same image again').toBeGreaterThan(0);

  // Pressing again draws yet another seed.
  await page.locator('#generate-form button[type=submit]').click();
  await expect(grid).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  expect(await seedField.inputValue()).not.toBe(seed);

  // A typed seed is used as typed: the images of seed 0 again, exactly.
  await seedField.fill('0');
  await page.locator('#generate-form button[type=submit]').click();
  await expect(grid).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(grid).toHaveAttribute('data-seed', '0');
  expect(difference(await canvasPixels(page, '#generate-grid figure:nth-child(1) canvas'), first).maxDiff).toBe(0);
});

test('long work can be cancelled: Generate at once, Interpolate between frames; the generator stays usable', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  // Through the API: an aborted call rejects with kind `Aborted`, and the next call works.
  const aborted = await page.evaluate(async () => {
    const generator = (window as any).lediflowDemo.session.current;
    const controller = new AbortController();
    const call = generator.sample({ seed: 0, count: 8, signal: controller.signal });
    controller.abort();
    return call.then(
      () => 'resolved',
      (e: any) => `${e.kind}`,
    );
  });
  expect(aborted).toBe('Aborted');
  await mustCall(page, 'sample', { seed: 0, count: 1, steps: 1 });

  // Generate: Cancel gives the page back at once.
  const grid = page.locator('#generate-grid');
  await page.locator('#generate-form input[name=count]').fill('16');
  await page.locator('#generate-form button[type=submit]').click();
  await page.locator('#generate-cancel').click();
  await expect(grid).toHaveAttribute('data-state', 'cancelled');
  await expect(page.locator('#generate-note')).toHaveText('Cancelled.');
  await expect(page.locator('#generate-form button[type=submit]')).toBeEnabled();
  await expect(page.locator('#generate-cancel')).toBeHidden();
  await expect(page.locator('#generate-error')).toBeHidden();

  // Interpolate: frames show as they arrive; Cancel stops the path between two of them.
  await page.getByRole('tab', { name: 'Interpolate' }).click();
  const form = page.locator('#interpolate-form');
  await form.locator('input[name=frames]').fill('64');
  await form.locator('button[type=submit]').click();
  await expect.poll(() => form.getAttribute('data-frames').then(Number), { timeout: 120_000 }).toBeGreaterThanOrEqual(1);
  await page.locator('#interpolate-cancel').click();
  await expect(form).toHaveAttribute('data-state', 'cancelled');
  const shown = Number(await form.getAttribute('data-frames'));
  expect(shown).toBeLessThan(64);
  // No frame of the cancelled path is left queued in the worker: a new call answers at once.
  const started = Date.now();
  await mustCall(page, 'sample', { seed: 1, count: 1, steps: 1 });
  console.log(`[measure] interpolation cancelled after ${shown} of 64 frames; the next sample took ${Date.now() - started} ms`);
  expect(Date.now() - started, 'the cancelled frames still ran').toBeLessThan(30_000);
});

test('the API and the worker agree with native; bad options are typed errors', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const spec = REFERENCES.shipped;
  const result = await mustCall(page, 'sample', { seed: 2, count: 2, solver: spec.solver, steps: spec.steps, latentSteps: spec.latentSteps });
  const reference = loadReference('shipped');
  for (let k = 0; k < 2; k++) expect(difference(result.images[k], reference[2 + k]).maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
  expect(result.nfe.flow).toBeGreaterThan(0);
  console.log(`[measure] chromium cpu, 2 images midpoint 2: ${JSON.stringify(result.times)}`);

  const side = result.width;
  const bad: [string, 'sample' | 'inpaint' | 'interpolate', object][] = [
    ['steps 0', 'sample', { steps: 0 }],
    ['steps 10000', 'sample', { steps: 10000 }],
    ['count 1000', 'sample', { count: 1000 }],
    ['seed -1', 'sample', { seed: -1 }],
    ['solver dopri', 'sample', { solver: 'dopri' }],
    ['alpha 2', 'interpolate', { seedA: 0, seedB: 1, alphas: [2] }],
    ['wrong mask size', 'inpaint', { $image: toBase64(new Uint8Array(side * side * 4)), $mask: toBase64(new Uint8Array(10)) }],
    ['wrong image size', 'inpaint', { $image: toBase64(new Uint8Array(12)), $mask: toBase64(new Uint8Array(side * side)) }],
  ];
  for (const [what, method, options] of bad) {
    const outcome = await callGenerator(page, method, options);
    expect('error' in outcome, `${what} did not fail`).toBe(true);
    if ('error' in outcome) {
      expect(outcome.error.isLeDiFlowError, `${what}: ${outcome.error.name}`).toBe(true);
      expect(outcome.error.kind, `${what}: ${outcome.error.message}`).toBe('InvalidOptions');
    }
  }
  // The generator still works after all of that.
  await mustCall(page, 'sample', { seed: 0, count: 1, steps: 1 });
});

test('inpainting regenerates the mask and keeps every other pixel bit-exact', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  // Through the page: a generated image, "Mask centre", Fill.
  await page.locator('#generate-form button[type=submit]').click();
  await expect(page.locator('#generate-grid')).toHaveAttribute('data-state', 'done');
  await page.getByRole('button', { name: 'Inpaint this' }).first().click();
  await page.getByRole('button', { name: 'Mask centre' }).click();
  await page.locator('#inpaint-seed').fill('11');
  await page.getByRole('button', { name: 'Fill' }).click();
  await expect(page.locator('#inpaint-result-caption')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  const source = await canvasPixels(page, '#inpaint-source');
  const filled = await canvasPixels(page, '#inpaint-result');
  const mask: number[] = await page.evaluate(() => Array.from((window as any).lediflowDemo.inpainter.mask as Uint8Array));
  expectKeptExactly(source, filled, mask);
  // Inpainting runs no latent sampler but the encoder: the caption names the stages that ran.
  const caption = page.locator('#inpaint-result-caption');
  await expect(caption).toContainText(/NFE 1 encoder \+ 1 decoder \+ \d+ flow/);
  await expect(caption).toContainText(/encoder \+ decoder \d/);
  await expect(caption).not.toContainText('latent');

  // Through the API: a scribbled mask, two seeds at once.
  const side = Math.sqrt(mask.length);
  const scribble = new Uint8Array(side * side).map((_, i) => Number((i % side) + Math.floor(i / side) * 3 < side));
  const both = await mustCall(page, 'inpaint', { $image: toBase64(source), $mask: toBase64(scribble), seed: 4, count: 2 });
  for (const image of both.images) expectKeptExactly(source, image, Array.from(scribble));
  expect(difference(both.images[0], both.images[1]).maxDiff, 'two seeds gave the same fill').toBeGreaterThan(0);
});

function expectKeptExactly(source: Uint8Array, result: Uint8Array, mask: ArrayLike<number>): void {
  let changedInside = 0;
  for (let p = 0; p < mask.length; p++) {
    for (let c = 0; c < 4; c++) {
      const i = p * 4 + c;
      if (!mask[p] && source[i] !== result[i]) throw new Error(`unmasked pixel ${p} channel ${c}: ${source[i]} → ${result[i]}`);
      if (mask[p] && source[i] !== result[i]) changedInside++;
    }
  }
  expect(changedInside, 'the masked region did not change').toBeGreaterThan(0);
}

test('interpolation starts and ends at the two seeds and the slider walks smoothly', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const alphas = [0, 0.25, 0.5, 0.75, 1];
  const path = await mustCall(page, 'interpolate', { seedA: 3, seedB: 8, alphas });
  const a = await mustCall(page, 'sample', { seed: 3, count: 1 });
  const b = await mustCall(page, 'sample', { seed: 8, count: 1 });
  const endA = difference(path.images[0], a.images[0]);
  const endB = difference(path.images[4], b.images[0]);
  record('chromium cpu, interpolation endpoint A vs sample(seed 3)', endA);
  record('chromium cpu, interpolation endpoint B vs sample(seed 8)', endB);
  expect(endA.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
  expect(endB.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
  const whole = difference(path.images[0], path.images[4]).meanDiff;
  for (let k = 0; k + 1 < alphas.length; k++) {
    const step = difference(path.images[k], path.images[k + 1]).meanDiff;
    expect(step, `frames ${k}→${k + 1} jump`).toBeLessThan(whole);
  }

  // The page: compute a path, seeing each frame as it arrives, then walk it from the keyboard.
  await page.getByRole('tab', { name: 'Interpolate' }).click();
  const form = page.locator('#interpolate-form');
  await form.locator('input[name=frames]').fill('5');
  await form.evaluate((element: HTMLElement) => {
    const seen: string[] = [];
    (window as any).framesSeen = seen;
    const canvas = document.getElementById('interpolate-canvas') as HTMLCanvasElement;
    // One callback per frame, reading the count then: a path drawn all at once at the end would
    // log its last count each time.
    new MutationObserver(() => {
      if (Number(element.dataset.frames) > 0) seen.push(`${element.dataset.frames}:${canvas.width}`);
    }).observe(element, { attributes: true, attributeFilter: ['data-frames'] });
  });
  await form.locator('button[type=submit]').click();
  await expect(form).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  // Frames 1 to 5 were each drawn (the canvas at the model's 64 px) as they arrived.
  expect(await page.evaluate(() => (window as any).framesSeen)).toEqual(['1:64', '2:64', '3:64', '4:64', '5:64']);
  await page.locator('#interpolate-slider').fill('0');
  await page.locator('#interpolate-slider').dispatchEvent('input');
  const first = await canvasPixels(page, '#interpolate-canvas');
  await page.locator('#interpolate-slider').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#interpolate-caption')).toContainText('0.250');
  const second = await canvasPixels(page, '#interpolate-canvas');
  expect(difference(first, second).maxDiff).toBeGreaterThan(0);
});

test('the live slider renders while dragged: newer positions replace older ones, never queue', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  await page.getByRole('tab', { name: 'Interpolate' }).click();
  const form = page.locator('#interpolate-form');
  await form.locator('input[name=seedA]').fill('0');
  await form.locator('input[name=seedB]').fill('1');
  const live = page.locator('#interpolate-live');
  await expect(live).toBeEnabled();
  // A drag: twenty positions in one burst, far faster than a CPU frame.
  await live.evaluate((slider: HTMLInputElement) => {
    for (let k = 1; k <= 20; k++) {
      slider.value = String(k * 50);
      slider.dispatchEvent(new Event('input', { bubbles: true }));
    }
  });
  await expect(live).toHaveAttribute('data-alpha', '1', { timeout: 120_000 });
  const rendered = Number(await live.getAttribute('data-rendered'));
  expect(Number(await live.getAttribute('data-requested'))).toBe(20);
  // The first position, then the newest one that waited: the 18 in between were dropped.
  expect(rendered).toBe(2);
  expect(Number(await live.getAttribute('data-dropped'))).toBe(18);
  await expect(page.locator('#interpolate-caption')).toContainText('α = 1.000 (live)');
  await expect(page.locator('#interpolate-fps')).toContainText(/per frame|frames\/s/);
  // α = 1 is seed B's sample: the native reference of seed 1.
  const end = difference(await canvasPixels(page, '#interpolate-canvas'), loadReference('shipped')[1]);
  record('chromium cpu, live slider at α = 1 vs native sample(seed 1)', end);
  expect(end.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
  // Later input after the burst renders again (the loop is not stuck).
  await live.evaluate((slider: HTMLInputElement) => {
    slider.value = '0';
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await expect(live).toHaveAttribute('data-alpha', '0', { timeout: 60_000 });
  expect(Number(await live.getAttribute('data-rendered'))).toBe(3);
  console.log(`[measure] chromium cpu, live slider: ${await page.locator('#interpolate-fps').textContent()}`);
});

test('LeDiFlow vs. baseline loads the baseline on demand and matches native for both', async ({ page }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  expect(await page.evaluate(() => (window as any).lediflowDemo.session.current.model.baseline)).toBe(false);
  await page.getByRole('tab', { name: 'LeDiFlow vs. baseline' }).click();
  const form = page.locator('#compare-form');
  // Each side its own solver and steps; the defaults are the evaluation's equal quality
  // (docs/eval/report.md and docs/eval/baseline/report.md: LeDiFlow midpoint × 2; for the baseline midpoint × 32, its best SWD).
  await expect(form.locator('select[name=lediflow-solver]')).toHaveValue('midpoint');
  await expect(form.locator('input[name=lediflow-steps]')).toHaveValue('2');
  await expect(form.locator('select[name=baseline-solver]')).toHaveValue('midpoint');
  await expect(form.locator('input[name=baseline-steps]')).toHaveValue('32');
  // The native baseline reference is midpoint × 2 (32 steps would take the CPU half a minute).
  await form.locator('input[name=baseline-steps]').fill(String(REFERENCES.shippedBaseline.steps));
  await form.locator('input[name=count]').fill('2');
  await form.locator('button[type=submit]').click();
  await expect(page.locator('#compare-baseline')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await expect(page.locator('#model-info')).toContainText('with the baseline');
  for (const [row, name] of [['lediflow', 'shipped'], ['baseline', 'shippedBaseline']] as const) {
    const reference = loadReference(name);
    for (let k = 0; k < 2; k++) {
      const pixels = await canvasPixels(page, `#compare-${row} figure:nth-child(${k + 1}) canvas`);
      const diff = difference(pixels, reference[k]);
      record(`chromium cpu, ${row} (compare), seed ${k}`, diff);
      expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
    }
  }
  // Both times side by side: one summary line, and the two columns next to each other.
  await expect(page.locator('#compare-summary')).toContainText(/LeDiFlow midpoint × 2: [\d.]+ m?s · baseline midpoint × 2: [\d.]+ m?s/);
  const [left, right] = await Promise.all(
    ['#compare-lediflow', '#compare-baseline'].map((id) => page.locator('.compare-rows > div').filter({ has: page.locator(id) }).boundingBox()),
  );
  expect(right!.x, 'the baseline is not beside LeDiFlow').toBeGreaterThan(left!.x + left!.width - 1);
  expect(Math.abs(right!.y - left!.y)).toBeLessThan(5);
  const times = `LeDiFlow ${await page.locator('#compare-lediflow-time').textContent()} | baseline ${await page.locator('#compare-baseline-time').textContent()}`;
  console.log(`[measure] chromium cpu, compare 2 images midpoint 2: ${times}; ${await page.locator('#compare-summary').textContent()}`);
});

test('a reload takes the weights from the Cache API: no weight request reaches the server', async ({ page, request }) => {
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  // An older version of the same model, as a previous release would have left it.
  const current: string = await page.evaluate(() => (window as any).lediflowDemo.session.current.model.sha256);
  const [name] = Object.entries(JSON.parse(readFileSync(SHIPPED_MANIFEST, 'utf8')).models).find(
    ([, entry]) => (entry as { file: string }).file === 'landscapes-64.ldf',
  )!;
  const cacheKeys = () =>
    page.evaluate(async () => (await (await caches.open('lediflow-weights')).keys()).map((r) => new URL(r.url).pathname));
  await page.evaluate(async (name) => {
    const stale = `${location.origin}/.lediflow-weights/${encodeURIComponent(name)}/${'f'.repeat(64)}.ldf`;
    await (await caches.open('lediflow-weights')).put(stale, new Response('an older model'));
  }, name);
  expect(await cacheKeys()).toHaveLength(2);
  await request.get(`${ORIGIN}/__requests/reset`);
  await page.reload();
  await expectReady(page);
  const seen: string[] = await (await request.get(`${ORIGIN}/__requests`)).json();
  expect(seen.filter((p) => p.endsWith('.ldf')), `requests after reload: ${seen.join(', ')}`).toEqual([]);
  expect(seen, 'the server log misses the reload itself').toContain('/sub/dir/');
  await expect(page.locator('#model-info')).toContainText('from cache');
  await expect(page.locator('#weights-text')).toContainText('from the browser cache');
  // Loading a version deletes the others.
  expect(await cacheKeys()).toEqual([`/.lediflow-weights/${encodeURIComponent(name)}/${current}.ldf`]);
});

const broken: [string, Record<string, string>, string][] = [
  ['a corrupted weight file', { weights: '/fixtures/corrupt.ldf' }, 'BadWeights'],
  ['a truncated weight file', { weights: '/fixtures/truncated.ldf' }, 'BadWeights'],
  ['a file that is no weight file', { weights: '/fixtures/not-a-model.ldf' }, 'BadWeights'],
  ['a missing weight URL', { weights: '/fixtures/no-such-file.ldf' }, 'Network'],
  ['a hash that does not match the manifest', { weights: '/fixtures/landscapes-64.ldf', manifest: '/fixtures/wrong-hash-manifest.json' }, 'BadWeights'],
];
for (const [what, params, kind] of broken) {
  test(`${what} shows a clear ${kind} error on the page`, async ({ page }) => {
    await openDemo(page, params);
    expect(await waitForState(page)).toBe('error');
    const fatal = page.locator('#fatal');
    await expect(fatal).toBeVisible();
    await expect(fatal).toContainText(`(${kind})`);
    await expect(page.locator('h1')).toBeVisible();
    await expect(page.locator('#generate-form button[type=submit]')).toBeDisabled();
    console.log(`[error shown] ${what}: ${await fatal.textContent()}`);
  });
}

test('keyboard and phone width: tab to Generate, no sideways scrolling, PNG download', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openDemo(page, { autorun: '0' });
  await expectReady(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'the page scrolls sideways on a phone').toBeLessThanOrEqual(0);
  await page.locator('#generate-form input[name=count]').fill('1');
  await page.locator('#generate-form input[name=count]').focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
  await expect(page.locator('#generate-form button[type=submit]')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#generate-grid')).toHaveAttribute('data-state', 'done');
  const seed = await page.locator('#generate-form input[name=seed]').inputValue();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download PNG' }).first().click();
  expect((await download).suggestedFilename()).toBe(`lediflow-seed-${seed}.png`);
  // Every tool is one click away, even on a phone: all four tabs are above the fold.
  await expect(page.getByRole('tab')).toHaveCount(4);
  for (const tab of await page.getByRole('tab').all()) {
    const box = (await tab.boundingBox())!;
    expect(box.y + box.height, `${await tab.textContent()} is below the fold`).toBeLessThan(844);
  }
  await page.screenshot({ path: `${RESULTS}/demo-phone.png`, fullPage: true });
  console.log(`[screenshot] ${RESULTS}/demo-phone.png`);
});

test('a runtime that fails to load is a clear error, and "Try again" starts a new worker', async ({ page }) => {
  // The worker's wasm request fails once, as on a flaky connection.
  let failures = 0;
  await page.route('**/*.wasm', (route) => (failures++ === 0 ? route.fulfill({ status: 503, body: 'busy' }) : route.continue()));
  await openDemo(page, { autorun: '0' });
  expect(await waitForState(page)).toBe('error');
  await expect(page.locator('#fatal')).toContainText('(Network)');
  await expect(page.locator('#fatal')).toContainText('WebAssembly runtime');
  console.log(`[error shown] wasm 503: ${await page.locator('#fatal').textContent()}`);
  await page.getByRole('button', { name: 'Try again' }).click();
  await expectReady(page);
  await expect(page.locator('#fatal')).toBeHidden();
  expect(failures).toBe(2);
  await mustCall(page, 'sample', { seed: 0, count: 1, steps: 1 });
});

test('a wasm module that arrives but does not link is a Backend error, not a network one', async ({ page }) => {
  // A valid module importing a function the glue does not provide: V8's message starts
  // "WebAssembly.instantiate(): Import #0 …", which the old /fetch|import/ test called Network.
  const unlinkable = Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
    0x02, 0x0f, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x07, 0x6d, 0x69, 0x73, 0x73, 0x69, 0x6e, 0x67, 0x00, 0x00, // import env.missing
  ]);
  await page.route('**/*.wasm', (route) => route.fulfill({ status: 200, contentType: 'application/wasm', body: unlinkable }));
  await openDemo(page, { autorun: '0' });
  expect(await waitForState(page)).toBe('error');
  const fatal = page.locator('#fatal');
  console.log(`[error shown] unlinkable wasm: ${await fatal.textContent()}`);
  await expect(fatal).toContainText('Import #0');
  await expect(fatal).toContainText('(Backend)');
  await expect(fatal).not.toContainText('(Network)');
});

test('a manifest alone names the weights file; the tiny model on the CPU matches native', async ({ page }) => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  await openDemo(page, { autorun: '0', manifest: '/fixtures/tiny-manifest.json' });
  await expectReady(page);
  const spec = REFERENCES.tiny;
  const result = await mustCall(page, 'sample', { seed: spec.seed, count: 1, solver: spec.solver, steps: spec.steps, latentSteps: spec.latentSteps });
  const diff = difference(result.images[0], loadReference('tiny')[0]);
  record(`chromium cpu, tiny model, seed ${spec.seed}, heun ${spec.steps}`, diff);
  expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);
});

test('every tab in use: a screenshot of each', async ({ page }) => {
  await page.setViewportSize({ width: 1100, height: 900 });
  await openDemo(page);
  await expectReady(page);
  const shoot = async (name: string) => {
    await page.screenshot({ path: `${RESULTS}/demo-${name}.png`, fullPage: true });
    console.log(`[screenshot] ${RESULTS}/demo-${name}.png`);
  };
  await expect(page.locator('#generate-grid')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await shoot('generate');
  await page.getByRole('tab', { name: 'LeDiFlow vs. baseline' }).click();
  await expect(page.locator('#compare')).toBeVisible();
  await expect(page.locator('#generate')).toBeHidden();
  // The defaults: LeDiFlow midpoint × 2 against the baseline midpoint × 32.
  await page.locator('#compare-form button[type=submit]').click();
  await expect(page.locator('#compare-baseline')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  console.log(`[measure] compare at the defaults: ${await page.locator('#compare-summary').textContent()}`);
  await shoot('compare');
  await page.getByRole('tab', { name: 'Generate' }).click();
  await page.getByRole('button', { name: 'Inpaint this' }).nth(1).click();
  await expect(page.locator('#inpaint')).toBeVisible();
  await page.getByRole('button', { name: 'Mask centre' }).click();
  await page.getByRole('button', { name: 'Fill' }).click();
  await expect(page.locator('#inpaint-result-caption')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await shoot('inpaint');
  await page.getByRole('tab', { name: 'Interpolate' }).click();
  await page.locator('#interpolate-form button[type=submit]').click();
  await expect(page.locator('#interpolate-form')).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  await page.locator('#interpolate-slider').fill('4');
  await shoot('interpolate');
});

test('the model picker offers every LeDiFlow model of the manifest: each loads at its own size, with progress, cached and checked on its own', async ({ page, request }) => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  // global-setup.ts makeModelChoice: tiny-32, tiny-128 (the same weights as a 128-px model), a
  // baseline-only entry paired with tiny-32, and tiny-128's file pinned to another hash.
  await openDemo(page, { autorun: '0', manifest: '/fixtures/two-models-manifest.json' });
  await expectReady(page);
  const picker = page.locator('#model-picker');
  await expect(page.locator('#model-choice')).toBeVisible();
  const offered = await picker.locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  expect(offered, 'the LeDiFlow models in manifest order, not the baseline-only file').toEqual(['tiny-32', 'tiny-128', 'tiny-128-wrong-hash']);
  await expect(picker).toHaveValue('tiny-32');
  await expect(page.locator('#model-info')).toContainText('32×32');
  const options = { seed: 3, count: 1, steps: 1, latentSteps: 1 };
  const small = await mustCall(page, 'sample', options);
  expect(small.width).toBe(32);

  // Another model: a new generator, its own download with its own progress, its own image size.
  await page.evaluate(() => ((window as any).progressLog.length = 0));
  await picker.selectOption('tiny-128');
  await expectReady(page);
  await expect(page.locator('#model-info')).toContainText('128×128');
  expect(new URL(page.url()).searchParams.get('model'), 'a reload or a link keeps the choice').toBe('tiny-128');
  const progress: string[] = await page.evaluate(() => (window as any).progressLog);
  expect(progress.some((t) => /of 71\d\.\d kB/.test(t)), `progress texts: ${progress.join(' | ')}`).toBe(true);
  const large = await mustCall(page, 'sample', options);
  expect(large.width).toBe(128);
  expect(large.images[0]).toHaveLength(128 * 128 * 4);

  // Each model is cached under its own name: going back reads no weight byte from the server,
  // and gives the same image as before.
  await request.get(`${ORIGIN}/__requests/reset`);
  await picker.selectOption('tiny-32');
  await expectReady(page);
  const seen: string[] = await (await request.get(`${ORIGIN}/__requests`)).json();
  expect(seen.filter((p) => p.endsWith('.ldf')), `requests: ${seen.join(', ')}`).toEqual([]);
  await expect(page.locator('#model-info')).toContainText('32×32');
  await expect(page.locator('#model-info')).toContainText('from cache');
  expect((await mustCall(page, 'sample', options)).images[0]).toEqual(small.images[0]);
  const keys = await page.evaluate(async () => (await (await caches.open('lediflow-weights')).keys()).map((r) => new URL(r.url).pathname.split('/')[2]));
  expect(keys.sort()).toEqual(['tiny-128', 'tiny-32']);

  // Integrity per model: an entry pinning another hash is refused, and the picker stays usable.
  await picker.selectOption('tiny-128-wrong-hash');
  expect(await waitForState(page)).toBe('error');
  await expect(page.locator('#fatal')).toContainText('(BadWeights)');
  await expect(picker).toBeEnabled();
});

test('the comparison adds the baseline the manifest pairs with the picked model; a model without one says so', async ({ page, request }) => {
  // global-setup.ts: landscapes-64 and baseline-64 paired by `config`, and landscapes-64-unpaired.
  await openDemo(page, { autorun: '0', manifest: '/fixtures/paired-manifest.json', model: 'landscapes-64-unpaired' });
  await expectReady(page);
  await expect(page.locator('#model-picker option')).toHaveText([/^landscapes-64 /, /^landscapes-64-unpaired /]);
  await page.getByRole('tab', { name: 'LeDiFlow vs. baseline' }).click();
  const form = page.locator('#compare-form');
  await form.locator('input[name=count]').fill('1');
  await form.locator('input[name=baseline-steps]').fill('1');
  await form.locator('button[type=submit]').click();
  await expect(page.locator('#compare-error')).toContainText('the manifest lists no baseline for the model landscapes-64-unpaired');

  await page.locator('#model-picker').selectOption('landscapes-64');
  await expectReady(page);
  await request.get(`${ORIGIN}/__requests/reset`);
  await form.locator('button[type=submit]').click();
  await expect(page.locator('#compare-baseline')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.locator('#model-info')).toContainText('with the baseline');
  const seen: string[] = await (await request.get(`${ORIGIN}/__requests`)).json();
  expect(seen.filter((p) => p.endsWith('.ldf')), 'the baseline, through the manifest').toEqual(['/fixtures/baseline-64.ldf']);
});

test('createGenerator({ model }) picks from the shipped manifest by name; an unknown name lists the known ones', async ({ page, request }) => {
  await openDemo(page, { autorun: '0', model: 'no-such-model' });
  expect(await waitForState(page)).toBe('error');
  const fatal = page.locator('#fatal');
  await expect(fatal).toContainText('(BadWeights)');
  await expect(fatal).toContainText('no entry for model "no-such-model" (it has landscapes-64, baseline-64, landscapes-128, baseline-128)');
  await expect(page.locator('#model-picker option')).toHaveText([/^landscapes-64 /, /^landscapes-128 /]);

  // A listed name loads that entry's file, never the default model's. (This bundle emits only
  // the files index.ts names, so the baseline-only file next to the manifest is not there.)
  await request.get(`${ORIGIN}/__requests/reset`);
  await openDemo(page, { autorun: '0', model: 'baseline-64' });
  expect(await waitForState(page)).toBe('error');
  const weights = ((await (await request.get(`${ORIGIN}/__requests`)).json()) as string[]).filter((p) => p.endsWith('.ldf'));
  expect(weights, 'the weight requests').toEqual(['/sub/dir/assets/baseline-64.ldf']);
  await expect(fatal).toContainText('(Network)');
});

test('the demo offers the shipped 128-px model: picked, it loads its own file under the bundled name, checked against the manifest', async ({ page, request }) => {
  // The demo bundle emits landscapes-128.ldf only through lediflow/landscapes-128 (its own
  // module, imported when picked); fetched relative to the renamed manifest it would be missing.
  await request.get(`${ORIGIN}/__requests/reset`);
  await openDemo(page, { autorun: '0', warmup: '0', model: 'landscapes-128' });
  await expectReady(page);
  const weights = ((await (await request.get(`${ORIGIN}/__requests`)).json()) as string[]).filter((p) => p.endsWith('.ldf'));
  expect(weights, 'the weight requests').toEqual([expect.stringMatching(/^\/sub\/dir\/assets\/landscapes-128-[\w-]+\.ldf$/)]);
  await expect(page.locator('#model-picker')).toHaveValue('landscapes-128');
  await expect(page.locator('#model-info')).toContainText('128×128');
});
