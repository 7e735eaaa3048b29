/**
 * The demo on Chromium with WebGPU through SwiftShader (about 0.2 GFLOP/s here): the tiny test
 * model, one image, one step.
 */

import { existsSync } from 'node:fs';

import { expect, test } from '@playwright/test';

import { difference, expectReady, mustCall, openDemo, record, TOLERANCE, toBase64 } from './helpers.js';
import { RESULTS, TINY_MODEL } from './paths.js';
import { REFERENCES, loadReference } from './references.js';

if (!existsSync(TINY_MODEL)) console.log(`[skip] the WebGPU tests need ${TINY_MODEL}`);
test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);

const tinyPage = { autorun: '0', warmup: '0', weights: '/fixtures/tiny-test.ldf', manifest: '/fixtures/tiny-manifest.json' };

test('WebGPU (SwiftShader) warms up at load, runs the tiny model and matches the native reference', async ({ page }) => {
  await openDemo(page, { ...tinyPage, warmup: '1' });
  await expectReady(page);
  await expect(page.locator('#backend')).toContainText('WebGPU');
  await expect(page.locator('#backend')).toContainText('warm-up');
  const adapter = await page.locator('#backend').textContent();
  const warmUpMs = await page.evaluate(() => (window as any).lediflowDemo.session.current.warmUpMs);
  console.log(`[backend] ${adapter}`);
  expect(warmUpMs).toBeGreaterThan(0);
  // Our WGSL (shaders/to_rgba8.wgsl, shaders/composite.wgsl) really ran, not its fallback.
  const wgslKernels = await page.evaluate(() => (window as any).lediflowDemo.session.current.wgslKernels);
  expect(wgslKernels).toBe(true);
  const spec = REFERENCES.tiny;
  const started = Date.now();
  const result = await mustCall(page, 'sample', {
    seed: spec.seed,
    count: spec.n,
    solver: spec.solver,
    steps: spec.steps,
    latentSteps: spec.latentSteps,
  });
  const reference = loadReference('tiny');
  const diff = difference(result.images[0], reference[0]);
  record(`chromium webgpu (SwiftShader), tiny model, seed ${spec.seed}, heun ${spec.steps}`, diff, { times: result.times });
  console.log(`[measure] webgpu tiny: warm-up at load ${Math.round(warmUpMs)} ms; then one sample ${Date.now() - started} ms wall, ${JSON.stringify(result.times)}`);
  expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);
  await page.screenshot({ path: `${RESULTS}/demo-webgpu.png`, fullPage: true });
});

test('WebGPU inpainting keeps unmasked pixels bit-exact', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const source = (await mustCall(page, 'sample', { seed: 1, count: 1, steps: 1, latentSteps: 1 })).images[0];
  const side = Math.sqrt(source.length / 4);
  const mask = new Uint8Array(side * side).map((_, i) => Number(i % side < side / 2));
  const filled = (await mustCall(page, 'inpaint', { $image: toBase64(source), $mask: toBase64(mask), seed: 2, steps: 1, latentSteps: 1 }))
    .images[0];
  for (let p = 0; p < mask.length; p++) {
    if (mask[p]) continue;
    for (let c = 0; c < 4; c++) expect(filled[p * 4 + c], `pixel ${p} channel ${c}`).toBe(source[p * 4 + c]);
  }
});

test("backend 'webgpu' is honoured and 'cpu' forces the fallback", async ({ page }) => {
  await openDemo(page, { ...tinyPage, backend: 'cpu' });
  await expectReady(page);
  await expect(page.locator('#backend')).toContainText('CPU fallback');
  await expect(page.locator('#backend')).toContainText('asked for');
});
