/**
 * The demo on Chromium with WebGPU through SwiftShader (about 0.2 GFLOP/s here): the tiny test
 * model, one image, one step.
 */

import { existsSync } from 'node:fs';

import { expect, test, type Page, type Worker } from '@playwright/test';

import { callGenerator, difference, expectReady, mustCall, openDemo, record, TOLERANCE, toBase64, waitForState } from './helpers.js';
import { RESULTS, TINY_MODEL } from './paths.js';
import { REFERENCES, loadReference } from './references.js';

if (!existsSync(TINY_MODEL)) console.log(`[skip] the WebGPU tests need ${TINY_MODEL}`);
test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);

/** SwiftShader is a fallback adapter, which 'auto' declines: these tests ask for WebGPU by name. */
const tinyPage = { autorun: '0', warmup: '0', backend: 'webgpu', weights: '/fixtures/tiny-test.ldf', manifest: '/fixtures/tiny-manifest.json' };

test('WebGPU (SwiftShader) warms up at load, runs the tiny model and matches the native reference', async ({ page }) => {
  // With the int8 weights dequantized by our WGSL kernel (the default is the host).
  await openDemo(page, { ...tinyPage, warmup: '1', dequantize: 'gpu' });
  await expectReady(page);
  await expect(page.locator('#backend')).toContainText('WebGPU');
  await expect(page.locator('#backend')).toContainText('warm-up');
  const adapter = await page.locator('#backend').textContent();
  const warmUpMs = await page.evaluate(() => (window as any).lediflowDemo.session.current.warmUpMs);
  console.log(`[backend] ${adapter}`);
  expect(warmUpMs).toBeGreaterThan(0);
  // The status line says what the load did, not what it was doing ("compiling the GPU shaders…").
  await expect(page.locator('#weights-text')).toContainText('GPU shaders compiled in');
  await expect(page.locator('#weights-text')).not.toContainText('compiling');
  // The device accepts our WGSL (a capability only: the dispatch counts below prove it ran).
  const wgslKernels = await page.evaluate(() => (window as any).lediflowDemo.session.current.wgslKernels);
  expect(wgslKernels).toBe(true);
  // The int8 weights became f32 on the GPU (shaders/dequantize.wgsl): the sample below matching
  // the native reference, which dequantizes on the host, checks the kernel.
  const dequantized = await page.evaluate(() => (window as any).lediflowDemo.session.current.model.dequantized);
  console.log(`[measure] dequantized at load: ${JSON.stringify(dequantized)}`);
  expect(dequantized.gpu).toBeGreaterThan(0);
  expect(dequantized.host).toBe(0);
  const spec = REFERENCES.tiny;
  const started = Date.now();
  const result = await mustCall(page, 'sample', {
    seed: spec.seed,
    count: spec.n,
    solver: spec.solver,
    steps: spec.steps,
    latentSteps: spec.latentSteps,
  });
  // Each of our kernels that loading and sampling use was dispatched (counted where the Rust
  // launches it, crate/core/src/kernels/wgsl.rs), not a fallback: the dequantization at load, every
  // linear layer, every attention (fused), every norm, the RGBA8 conversion of the result.
  const worker = await generatorWorker(page);
  const dispatches = await worker.evaluate(() => (self as any).lediflowKernelDispatches());
  console.log(`[measure] WGSL dispatches after load + one sample: ${JSON.stringify(dispatches)}`);
  for (const kernel of ['dequantize', 'matmul', 'rowNorm', 'toRgba8', 'attention', 'fourier', 'solverUpdate', 'priorDraw']) expect(dispatches[kernel], kernel).toBeGreaterThanOrEqual(1);
  const reference = loadReference('tiny');
  const diff = difference(result.images[0], reference[0]);
  record(`chromium webgpu (SwiftShader), tiny model, seed ${spec.seed}, heun ${spec.steps}`, diff, { times: result.times });
  console.log(`[measure] webgpu tiny: warm-up at load ${Math.round(warmUpMs)} ms; then one sample ${Date.now() - started} ms wall, ${JSON.stringify(result.times)}`);
  expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);
  await page.screenshot({ path: `${RESULTS}/demo-webgpu.png`, fullPage: true });
  // The multistep solver: its last velocity lives on across a step (and a network evaluation).
  const ab2 = REFERENCES.tinyAb2;
  const multistep = await mustCall(page, 'sample', {
    seed: ab2.seed,
    count: ab2.n,
    solver: ab2.solver,
    steps: ab2.steps,
    latentSteps: ab2.latentSteps,
  });
  const ab2Diff = difference(multistep.images[0], loadReference('tinyAb2')[0]);
  record(`chromium webgpu (SwiftShader), tiny model, seed ${ab2.seed}, ab2 ${ab2.steps}`, ab2Diff, { times: multistep.times });
  expect(ab2Diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);

  // The wasm's static constructors ran once, not once per call into the module: thousands of
  // calls (every WebGPU object crosses it) happened by now (crate/wasm/src/constructors.rs).
  expect(await worker.evaluate(() => (self as any).lediflowStaticConstructorRuns())).toBe(1);
  // The WebGPU module ran it (web/pkg/webgpu), not the CPU one.
  expect(await worker.evaluate(() => (self as any).lediflowModule)).toBe('webgpu');
  // Our WGSL matmul and row norm (shaders/matmul.wgsl, shaders/row_norm.wgsl), which the sample
  // above ran for every linear layer and every norm, against their host references: sizes off
  // the matmul's 64 block, a broadcast batch axis, a transposed view, a fused bias, the residual
  // and GEGLU epilogues, the blocks' RMS norm folded into its prologue (a modulation's columns, a
  // scale, none; each epilogue; a split grid); rows wider than a workgroup, a scale, a modulation
  // per image (whole, and columns of all the norms' modulations side by side), the unit norm
  // (crate/core/src/kernels/matmul.rs, row_norm.rs).
  const errors = await worker.evaluate(() => (self as any).lediflowCheckKernels());
  console.log(`[measure] WGSL kernels against their host references, largest relative error: ${JSON.stringify(errors)}`);
  expect(errors.matmul).toBeLessThan(1e-5);
  expect(errors.rowNorm).toBeLessThan(1e-5);
  // The fused attention (shaders/attention.wgsl): global over more tokens than a workgroup, and
  // shifted windows with their mask (crate/core/src/kernels/attention.rs).
  expect(errors.attention).toBeLessThan(1e-5);
  // The mapping network's time features (shaders/fourier.wgsl, crate/core/src/kernels/fourier.rs),
  // within WGSL's bound on sin and cos (2^-11 absolute on [-π, π]; SwiftShader's differ from the
  // host's by ~1e-4), far from what a layout or product error gives (~1).
  expect(errors.fourier).toBeLessThan(1e-3);
  // The solvers' state update, x + s1·k1 + s2·k2 in one dispatch (shaders/solver_update.wgsl,
  // crate/core/src/kernels/solver_update.rs): one, two and three terms, and a second grid axis.
  expect(errors.solverUpdate).toBeLessThan(1e-6);
  // The inpainting composite (shaders/composite.wgsl): a select, so exact, with a per-pixel mask
  // and with a per-value one (a solve kept as patch tokens carries its mask that way).
  expect(errors.composite).toBe(0);
  // The prior's draw from the decoder's tokens into the flow's (shaders/prior_draw.wgsl,
  // crate/core/src/kernels/prior_draw.rs): equal and unequal patches, both clamp bounds, a scale
  // and a floor, a second grid axis; within WGSL's bound on exp, far from a layout error (~1).
  expect(errors.priorDraw).toBeLessThan(1e-5);
});

/**
 * Most WebGPU dispatches a default LeDiFlow sample (batch 1) may make (issue 22: ≤ 400 is the
 * goal). The bound the code meets today; each cut tightens it. Per model: the tiny test model
 * runs in every suite, the shipped one with LEDIFLOW_MEASURE_SHIPPED=1 (minutes on SwiftShader).
 */
const MAX_DISPATCHES = { tiny: 279, shipped: 455 } as const;

/** One call's counts: every WebGPU call of the kinds counted in the worker (web/src/calls.ts). */
async function countedSample(page: Page, options: object) {
  return page.evaluate(async (options) => {
    const result = await (window as any).lediflowDemo.session.current.sample(options);
    const pixels = (result.images as ImageData[]).map((image) => Array.from(image.data).join(',')).join(';');
    return { webgpu: result.webgpu, dispatches: result.dispatches as number, nfe: result.nfe, times: result.times, pixels };
  }, options);
}

for (const model of ['tiny', 'shipped'] as const) {
  test(`a default LeDiFlow sample's WebGPU calls are counted per call and bounded (${model} model, issue 22)`, async ({ page }) => {
    test.skip(model === 'shipped' && process.env.LEDIFLOW_MEASURE_SHIPPED !== '1', 'set LEDIFLOW_MEASURE_SHIPPED=1 to count the shipped model');
    test.setTimeout(model === 'shipped' ? 1_200_000 : 300_000);
    await openDemo(page, model === 'tiny' ? tinyPage : { autorun: '0', warmup: '0', backend: 'webgpu' });
    await expectReady(page);
    const worker = await generatorWorker(page);
    // The first call compiles the shaders and builds the blocks' constants (a few dispatches
    // more); the second is the steady state counted here. Submits vary: cubecl flushes its queue
    // by its own measures.
    const first = await countedSample(page, { seed: 3 });
    const byKernelBefore = await worker.evaluate(() => (self as any).lediflowWebGpuCalls().byKernel);
    const defaults = await countedSample(page, { seed: 3 });
    const byKernelAfter = await worker.evaluate(() => (self as any).lediflowWebGpuCalls().byKernel);
    expect(defaults.webgpu.dispatches).toBeLessThanOrEqual(first.webgpu.dispatches);
    const { webgpu, dispatches } = defaults;
    console.log(`[measure] ${model} model, default LeDiFlow sample, batch 1: WebGPU ${JSON.stringify(webgpu)}, our WGSL kernels ${dispatches}, nfe ${JSON.stringify(defaults.nfe)}`);
    expect(webgpu.dispatches).toBeGreaterThan(0);
    expect(webgpu.submits).toBeGreaterThan(0);
    expect(webgpu.passes).toBeGreaterThan(0);
    // Our kernels are among the dispatches, and every dispatch needs a bind group.
    expect(dispatches).toBeGreaterThan(0);
    expect(dispatches).toBeLessThanOrEqual(webgpu.dispatches);
    expect(webgpu.bindGroups).toBeGreaterThanOrEqual(webgpu.dispatches);
    // A readback after each stage (latent sampler, decoder, flow) times it, and one brings the
    // images back; without stage times the call waits once, for its images, and draws the same.
    expect(webgpu.readbacks, 'timed stages').toBe(4);
    const untimed = await countedSample(page, { seed: 3, stageTimes: false });
    expect(untimed.webgpu.readbacks, 'stageTimes: false').toBe(1);
    console.log(`[measure] ${model} model, the same sample with stageTimes: false: WebGPU ${JSON.stringify(untimed.webgpu)}`);
    // Each skipped wait also skips the one-element slice it reads back.
    expect(untimed.webgpu.dispatches).toBeLessThan(webgpu.dispatches);
    expect(untimed.times.latentMs).toBeNull();
    expect(untimed.times.totalMs).toBeGreaterThan(0);
    expect(untimed.pixels, 'the same image without stage times').toBe(defaults.pixels);
    // The per-kernel table accounts for every dispatch of the call.
    const perKernel: Record<string, number> = {};
    for (const [kernel, n] of Object.entries(byKernelAfter as Record<string, number>)) {
      const k = n - ((byKernelBefore as Record<string, number>)[kernel] ?? 0);
      if (k) perKernel[kernel] = k;
    }
    expect(Object.values(perKernel).reduce((a, b) => a + b, 0)).toBe(webgpu.dispatches);
    console.log(`[measure] ${model} model, dispatches by kernel: ${JSON.stringify(perKernel)}`);
    // Midpoint's every update adds one evaluation to a state: the network's last layer makes it
    // (`Backbone::advanced_tokens_at`), so no update kernel runs.
    expect(perKernel.solver_update ?? 0, 'the solver updates in the last layers').toBe(0);
    // Per network evaluation: the latent sampler's 8 steps against 4, the flow's 2 midpoint
    // steps against 1; what is left is the decoder, the prior draw and the RGBA8 conversion.
    const latent4 = await countedSample(page, { seed: 3, latentSteps: 4 });
    const flow1 = await countedSample(page, { seed: 3, steps: 1 });
    const latentNfe = (defaults.nfe.latent - latent4.nfe.latent) as number;
    const flowNfe = (defaults.nfe.flow - flow1.nfe.flow) as number;
    const perLatent = (webgpu.dispatches - latent4.webgpu.dispatches) / latentNfe;
    const perFlow = (webgpu.dispatches - flow1.webgpu.dispatches) / flowNfe;
    const rest = webgpu.dispatches - perLatent * defaults.nfe.latent - perFlow * defaults.nfe.flow;
    console.log(`[measure] ${model} model, dispatches per network evaluation: latent sampler ${perLatent}, flow ${perFlow}, decoder and the rest ${rest}`);
    expect(perLatent).toBeGreaterThan(0);
    expect(perFlow).toBeGreaterThan(0);
    expect(webgpu.dispatches).toBeLessThanOrEqual(MAX_DISPATCHES[model]);
    // The 8-NFE latent chain on its power grid (BENCHMARKS.md, "The latent sampler's time
    // grid"): as many dispatches as on the uniform grid once its times' conditions are cached,
    // and another image.
    const midpoint4 = { seed: 3, latentSolver: 'midpoint', latentSteps: 4 };
    const uniformGrid = await countedSample(page, midpoint4);
    await countedSample(page, { ...midpoint4, latentTimePower: 1.25 });
    const powerGrid = await countedSample(page, { ...midpoint4, latentTimePower: 1.25 });
    console.log(`[measure] ${model} model, latent midpoint × 4 at p = 1.25: WebGPU ${JSON.stringify(powerGrid.webgpu)}, nfe ${JSON.stringify(powerGrid.nfe)}`);
    expect(powerGrid.nfe.latent).toBe(8);
    expect(powerGrid.webgpu.dispatches).toBe(uniformGrid.webgpu.dispatches);
    expect(powerGrid.pixels, 'the grid reaches the latent solve').not.toBe(uniformGrid.pixels);
  });
}

for (const model of ['tiny', 'shipped'] as const) {
  test(`recorded network evaluations replay: the same image from far fewer bind groups (${model} model)`, async ({ page }) => {
    test.skip(model === 'shipped' && process.env.LEDIFLOW_MEASURE_SHIPPED !== '1', 'set LEDIFLOW_MEASURE_SHIPPED=1 to count the shipped model');
    test.setTimeout(model === 'shipped' ? 1_200_000 : 300_000);
    await openDemo(page, model === 'tiny' ? tinyPage : { autorun: '0', warmup: '0', backend: 'webgpu' });
    await expectReady(page);
    const call = { seed: 3, stageTimes: false };
    await countedSample(page, call);
    const usual = await countedSample(page, call);
    // The first call with `replay` records each (time, shape) evaluation once; the next replay
    // them all (crate/core/src/model/replayed.rs, web/src/worker.ts).
    const replaying = { ...call, replay: true };
    const recording = await countedSample(page, replaying);
    const replayed = await countedSample(page, replaying);
    const again = await countedSample(page, replaying);
    console.log(`[measure] ${model} model, default LeDiFlow sample, batch 1, stageTimes off: usual WebGPU ${JSON.stringify(usual.webgpu)} in ${usual.times.totalMs} ms; recording call ${JSON.stringify(recording.webgpu)} in ${recording.times.totalMs} ms; replayed ${JSON.stringify(replayed.webgpu)} in ${replayed.times.totalMs} ms, then ${again.times.totalMs} ms; our WGSL kernels ${usual.dispatches} → ${replayed.dispatches}`);
    expect(recording.pixels, 'the recording call draws the same image').toBe(usual.pixels);
    expect(replayed.pixels, 'replays draw the same image').toBe(usual.pixels);
    expect(again.pixels).toBe(usual.pixels);
    // Every replayed dispatch reuses the bind group recorded with it; each evaluation adds the
    // copy of its input and its solver update, launched as usual: the update reads the recorded
    // output in place (no copy out), where the usual call makes it in the network's last layer
    // (the default midpoint: every evaluation's; `Backbone::advanced_tokens_at`).
    expect(replayed.webgpu.bindGroups).toBeLessThan(usual.webgpu.bindGroups / 2);
    expect(replayed.dispatches, 'our kernels counted as replayed').toBe(usual.dispatches + 2 * (replayed.nfe.latent + replayed.nfe.flow));
    // A call without `replay` drops the recordings: it runs as usual, and the next replaying call
    // records afresh.
    const off = await countedSample(page, call);
    expect(off.pixels).toBe(usual.pixels);
    expect(off.webgpu.bindGroups, 'off again').toBe(usual.webgpu.bindGroups);
    const recordingAgain = await countedSample(page, replaying);
    expect(recordingAgain.webgpu.bindGroups, 'recorded afresh').toBeGreaterThan(usual.webgpu.bindGroups);
    expect(recordingAgain.pixels).toBe(usual.pixels);
  });
}

test('shaders/dequantize.wgsl gives the bits of its host reference (int8, int4 with padded rows)', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const worker = await generatorWorker(page);
  // crate/core/src/kernels/dequantize.rs: int8 rows; int4 with an odd number of columns and rows
  // padded to whole groups; several workgroups, sizes off theirs. The count of differing values.
  const errors = await worker.evaluate(() => (self as any).lediflowCheckKernels());
  console.log(`[measure] WGSL kernels against their host references: ${JSON.stringify(errors)}`);
  expect(errors.dequantize).toBe(0);
});

test('WebGPU inpainting keeps unmasked pixels bit-exact', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const source = (await mustCall(page, 'sample', { seed: 1, count: 1, steps: 1, latentSteps: 1 })).images[0];
  const worker = await generatorWorker(page);
  const composites = async () => (await worker.evaluate(() => (self as any).lediflowKernelDispatches())).composite as number;
  const compositesBefore = await composites();
  const side = Math.sqrt(source.length / 4);
  const mask = new Uint8Array(side * side).map((_, i) => Number(i % side < side / 2));
  const filled = (await mustCall(page, 'inpaint', { $image: toBase64(source), $mask: toBase64(mask), seed: 2, steps: 1, latentSteps: 1 }))
    .images[0];
  // shaders/composite.wgsl put the known pixels back, not its fallback.
  expect(await composites()).toBeGreaterThan(compositesBefore);
  for (let p = 0; p < mask.length; p++) {
    if (mask[p]) continue;
    for (let c = 0; c < 4; c++) expect(filled[p * 4 + c], `pixel ${p} channel ${c}`).toBe(source[p * 4 + c]);
  }
});

test("'auto' declines SwiftShader, a fallback adapter, for the faster CPU module, and says so", async ({ page }) => {
  const wasmFetched: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('.wasm')) wasmFetched.push(request.url());
  });
  await openDemo(page, { ...tinyPage, backend: 'auto' });
  await expectReady(page);
  // The premise: this Chromium's only adapter is SwiftShader, which calls itself a fallback.
  const adapter = await page.evaluate(async () => {
    const found = await (navigator as any).gpu.requestAdapter();
    return { fallback: found?.info?.isFallbackAdapter ?? found?.isFallbackAdapter, vendor: found?.info?.vendor as string };
  });
  console.log(`[backend] the page's adapter: ${JSON.stringify(adapter)}`);
  expect(adapter.fallback).toBe(true);
  const session = await page.evaluate(() => {
    const generator = (window as any).lediflowDemo.session.current;
    return { backend: generator.backend as string, fallbackReason: generator.fallbackReason as string | null };
  });
  console.log(`[backend] 'auto': ${JSON.stringify(session)}`);
  expect(session.backend).toBe('cpu');
  expect(session.fallbackReason).toContain('isFallbackAdapter: true');
  await expect(page.locator('#backend')).toContainText('CPU fallback');
  await expect(page.locator('#backend')).toContainText('software renderer');
  expect(await (await generatorWorker(page)).evaluate(() => (self as any).lediflowModule)).toBe('cpu');
  // The WebGPU module was never downloaded: one .wasm, the CPU module's.
  expect(wasmFetched, wasmFetched.join(', ')).toHaveLength(1);
});

test("backend 'webgpu' is honoured and 'cpu' forces the fallback", async ({ page }) => {
  await openDemo(page, { ...tinyPage, backend: 'cpu' });
  await expectReady(page);
  await expect(page.locator('#backend')).toContainText('CPU fallback');
  await expect(page.locator('#backend')).toContainText('asked for');
  expect(await (await generatorWorker(page)).evaluate(() => (self as any).lediflowModule)).toBe('cpu');
});

/** The generator's module worker (the demo has exactly one at a time). */
async function generatorWorker(page: Page): Promise<Worker> {
  await expect.poll(() => page.workers().filter((w) => /worker[^/]*\.js/.test(w.url())).length).toBe(1);
  return page.workers().find((w) => /worker[^/]*\.js/.test(w.url()))!;
}

/** `promise`, or a failure after `ms`: a lost device must give an error, never a hang. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

/** What `session.current.ended` resolved with, or `null` if it did not within `ms`. */
function endedWithin(page: Page, ms: number) {
  return page.evaluate(
    (ms) =>
      Promise.race([
        (window as any).lediflowDemo.session.current.ended.then((e: any) => ({ kind: e.kind as string, fatal: e.fatal as boolean, message: e.message as string })),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), ms)),
      ]),
    ms,
  );
}

const tiny = { seed: 7, count: 1, steps: 1, latentSteps: 1 };

test('a lost GPU device (destroyed in the worker) is a DeviceLost error, even between calls; a new generator works', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const first = (await mustCall(page, 'sample', tiny)).images[0];

  // A real loss: destroy the GPUDevice the wasm runtime computes on, inside its worker, where
  // web/src/gpu.ts keeps it as `lediflowGpuDevice`. The device's `lost` promise then resolves,
  // as on a driver reset (reason 'destroyed' instead of 'unknown').
  const worker = await generatorWorker(page);
  expect(await worker.evaluate(() => (self as any).lediflowGpuDevice?.constructor.name)).toBe('GPUDevice');
  await worker.evaluate(() => (self as any).lediflowGpuDevice.destroy());

  // The page hears of it while idle: `generator.ended`, and the demo's status with a restart.
  const ended = await endedWithin(page, 20_000);
  console.log(`[device lost] ended: ${JSON.stringify(ended)}`);
  expect(ended).toMatchObject({ kind: 'DeviceLost', fatal: true });
  expect(await waitForState(page, 20_000)).toBe('error');
  await expect(page.locator('#fatal')).toContainText('(DeviceLost)');

  // The next call on that generator fails with the same kind, at once.
  const next = await within(callGenerator(page, 'sample', tiny), 20_000, 'sample after the loss');
  expect('error' in next ? next.error : next).toMatchObject({ kind: 'DeviceLost', isLeDiFlowError: true });

  // A new generator (a new worker, a new device; the weights from the Cache API) gives the same image.
  await page.getByRole('button', { name: 'Restart the generator' }).click();
  await expectReady(page);
  await expect(page.locator('#fatal')).toBeHidden();
  const again = (await mustCall(page, 'sample', tiny)).images[0];
  expect(difference(again, first).maxDiff).toBe(0);
});

test('a GPU device lost during a sample fails that sample: no hang, no success', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const worker = await generatorWorker(page);
  // Lose the device while the sample waits for its first readback (a buffer mapping). In
  // Chromium that mapping fails before `device.lost` resolves; the worker waits LOSS_GRACE_MS
  // (web/src/worker.ts) for the loss so that it can answer `DeviceLost`, see below.
  await worker.evaluate(() => {
    const device = (self as any).lediflowGpuDevice;
    const proto = (self as any).GPUBuffer.prototype;
    const mapAsync = proto.mapAsync;
    proto.mapAsync = function (...args: unknown[]) {
      proto.mapAsync = mapAsync;
      const mapped = mapAsync.apply(this, args);
      device.destroy();
      return mapped;
    };
  });
  const pending = callGenerator(page, 'sample', tiny);
  const result = await within(pending, 30_000, 'the sample in flight');
  console.log(`[device lost in flight] ${JSON.stringify('error' in result ? result.error : 'success')}`);
  // The call in flight must fail: no hang, no success. It should say `DeviceLost`, but this
  // Chromium (SwiftShader) had not resolved `device.lost` 5 s after a destroy during a mapping, so
  // the call answers with the mapping's `Backend` error (tests/web/README.md).
  expect('error' in result, 'the sample in flight fails').toBe(true);
  expect(['DeviceLost', 'Backend']).toContain((result as { error: { kind: string } }).error.kind);
});

test('a GPU out-of-memory error during a sample is not reported as success', async ({ page }) => {
  await openDemo(page, tinyPage);
  await expectReady(page);
  const worker = await generatorWorker(page);
  // WebGPU reports out-of-memory (and validation) errors outside error scopes as an
  // `uncapturederror` event on the device. A real out-of-memory is impractical here, so the
  // sample's first submission is followed by a dispatched one, as a GPU whose memory ran out
  // would send: the handlers (ours in web/src/gpu.ts, wgpu's) are the ones a real error reaches.
  await worker.evaluate(() => {
    const device = (self as any).lediflowGpuDevice;
    const queue = device.queue;
    const submit = queue.submit;
    queue.submit = function (...args: unknown[]) {
      queue.submit = submit;
      const error = new (self as any).GPUOutOfMemoryError('test: buffer allocation failed');
      setTimeout(() => device.dispatchEvent(new (self as any).GPUUncapturedErrorEvent('uncapturederror', { error })));
      return submit.apply(this, args);
    };
  });
  const result = await within(callGenerator(page, 'sample', tiny), 60_000, 'the sample with a GPU error');
  console.log(`[gpu error] ${JSON.stringify('error' in result ? result.error : 'success')}`);
  expect('error' in result, 'a sample during a GPU error must fail').toBe(true);
  if ('error' in result) {
    expect(['OutOfMemory', 'Crashed']).toContain(result.error.kind);
    expect(result.error.message).toContain('out of memory');
  }
});
