/**
 * The core of the suite in headless Firefox, driven by puppeteer-core over WebDriver BiDi (no
 * geckodriver): Debian 13's firefox-esr 153 from the root scripts/firefox-root.sh makes (cached in
 * ~/.cache/lediflow/firefox-trixie; `./dev test` makes it), whose WebGPU is wgpu + naga on Mesa's
 * lavapipe. The CPU fallback with the shipped model (no WebGPU prefs), and WebGPU with the tiny
 * model: our WGSL kernels' self-check, sample = native, inpainting exact, interpolation endpoints,
 * every tab with a screenshot. Tests skip only when there is no such Firefox, and say why.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, test } from '@playwright/test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

import { difference, record, TOLERANCE } from './helpers.js';
import { DEMO_URL, FIREFOX, FIREFOX_ROOT, FIREFOX_ROOT_LAUNCHER, RESULTS, TINY_MODEL } from './paths.js';
import { REFERENCES, loadReference } from './references.js';

const rootReady = existsSync(join(FIREFOX_ROOT, '.lediflow-root')) && existsSync(join(FIREFOX_ROOT, 'usr/bin/firefox-esr'));
const rootWhy = existsSync(`${FIREFOX_ROOT}.why`)
  ? readFileSync(`${FIREFOX_ROOT}.why`, 'utf8').trim()
  : 'scripts/firefox-root.sh setup (which ./dev test runs) has not run';
/** The root's Firefox unless FIREFOX_BIN names another. */
const fromRoot = !process.env.FIREFOX_BIN && rootReady;
const firefox = fromRoot ? FIREFOX_ROOT_LAUNCHER : FIREFOX;
const noRoot = `the Debian 13 root with firefox-esr 153 (${FIREFOX_ROOT}) is not made: ${rootWhy}`;
const noFirefox = fromRoot || existsSync(FIREFOX) ? null : `no Firefox: ${noRoot}; and no ${FIREFOX} (FIREFOX_BIN)`;
if (noFirefox) console.log(`[skip] ${noFirefox}`);
else console.log(`[firefox] ${fromRoot ? `${FIREFOX_ROOT_LAUNCHER} (the root ${FIREFOX_ROOT})` : firefox}`);
test.skip(noFirefox !== null, noFirefox ?? '');

async function launch(webgpu: boolean): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefox,
    headless: true,
    protocolTimeout: 600_000,
    // Both prefs are needed for an adapter; without them navigator.gpu is undefined (BROWSER.md).
    extraPrefsFirefox: webgpu ? { 'dom.webgpu.enabled': true, 'gfx.webgpu.ignore-blocklist': true } : {},
  });
}

async function openReady(page: Page, query: string): Promise<void> {
  await page.goto(`${DEMO_URL}?${query}`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), { timeout: 240_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== 'ready') throw new Error(`the demo did not start in Firefox: ${await page.$eval('#fatal', (e) => e.textContent)}`);
}

/** Runs a generator call in the page; returns the images' bytes. */
async function call(
  page: Page,
  method: string,
  options: object,
): Promise<{ images: Uint8Array[]; backend: string; times: object; dispatches: number; nfe: { latent: number; flow: number } }> {
  const raw = await page.evaluate(
    async (method: string, options: any) => {
      const demo = (window as any).lediflowDemo;
      const opts = { ...options };
      for (const key of ['image', 'mask']) if (opts[key]) opts[key] = Uint8Array.from(opts[key]);
      try {
        const result = await demo.session.current[method](opts);
        const images = result.images.map((i: ImageData) => Array.from(i.data));
        return { images, backend: demo.session.current.backend, times: result.times, dispatches: result.dispatches, nfe: result.nfe };
      } catch (e: any) {
        return { error: `${e.kind}: ${e.message}` };
      }
    },
    method,
    options,
  );
  if ('error' in raw) throw new Error(`${method} failed in Firefox: ${raw.error}`);
  return { ...raw, images: raw.images.map((i: number[]) => new Uint8Array(i)) };
}

/** Keeps the pixels where `mask` is 0; checks them bit for bit. */
function expectKnownPixelsKept(filled: Uint8Array, source: Uint8Array, mask: number[]): void {
  let checked = 0;
  for (let p = 0; p < mask.length; p++) {
    if (mask[p]) continue;
    for (let c = 0; c < 4; c++) if (filled[p * 4 + c] !== source[p * 4 + c]) expect(filled[p * 4 + c], `pixel ${p} channel ${c}`).toBe(source[p * 4 + c]);
    checked++;
  }
  expect(checked).toBeGreaterThan(0);
}

test('Firefox: the CPU fallback (no WebGPU prefs) loads the shipped model, samples like native and inpaints exactly', async () => {
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    await openReady(page, 'autorun=0');
    console.log(`[firefox] ${await browser.version()}, CPU: ${await page.$eval('#backend', (e) => e.textContent)}`);
    expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
    expect(await page.$eval('#backend', (e) => e.textContent)).toContain('CPU fallback');
    const spec = REFERENCES.shipped;
    const { images } = await call(page, 'sample', { seed: 0, count: 1, solver: spec.solver, steps: spec.steps, latentSteps: spec.latentSteps });
    const diff = difference(images[0], loadReference('shipped')[0]);
    record('firefox cpu, shipped model, seed 0, midpoint 2', diff);
    expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);

    const side = Math.sqrt(images[0].length / 4);
    const mask = Array.from({ length: side * side }, (_, i) => Number(Math.floor(i / side) < side / 2));
    const filled = (await call(page, 'inpaint', { image: Array.from(images[0]), mask, seed: 3 })).images[0];
    expectKnownPixelsKept(filled, images[0], mask);
    await page.screenshot({ path: `${RESULTS}/demo-firefox-cpu.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});

/**
 * WebGPU: one browser and one page for every test below, because lavapipe compiles each shader
 * through LLVM (the first image pays for it) and a new worker would compile them all again.
 */
test.describe.serial('Firefox WebGPU (lavapipe), the tiny model', () => {
  let browser: Browser | undefined;
  let page: Page;
  const tinyQuery = 'autorun=0&warmup=0&backend=webgpu&dequantize=gpu&weights=/fixtures/tiny-test.ldf&manifest=/fixtures/tiny-manifest.json';
  const tiny = { count: 1, steps: REFERENCES.tiny.steps, latentSteps: REFERENCES.tiny.latentSteps };

  test.beforeAll(async () => {
    test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
    test.setTimeout(300_000);
    browser = await launch(true);
    page = await browser.newPage();
    await page.evaluateOnNewDocument(wrapModuleWorkers);
    await page.setViewport({ width: 1100, height: 900 });
    await page.goto(`${DEMO_URL}?autorun=0&weights=/fixtures/not-a-model.ldf`);
    const probe = await page.evaluate(async () => {
      try {
        return (await (navigator as any).gpu?.requestAdapter()) ? 'ok' : `requestAdapter() gave ${(navigator as any).gpu ? 'null' : 'nothing: no navigator.gpu'}`;
      } catch (e) {
        return `requestAdapter() threw: ${(e as Error).message}`;
      }
    });
    const version = await browser.version();
    // The root's Firefox must have WebGPU: there, no adapter is a failure. Another Firefox (an
    // older system firefox-esr, FIREFOX_BIN) may have none: then skip, saying why.
    if (probe !== 'ok' && !fromRoot) {
      const why = `${version} at ${firefox} has no WebGPU adapter (${probe}), and ${noRoot}`;
      console.log(`[skip] ${why}`);
      test.skip(true, why);
    }
    expect(probe, `${version} from ${firefox}`).toBe('ok');
    const started = Date.now();
    await openReady(page, tinyQuery);
    console.log(`[firefox] ${version}: ${await page.$eval('#backend', (e) => e.textContent)}; ready in ${Date.now() - started} ms`);
  });

  test.afterAll(async () => {
    await browser?.close();
  });

  test('sample = native; our WGSL kernels pass their self-check on naga', async () => {
    // With the int8 weights dequantized by shaders/dequantize.wgsl (`dequantize=gpu`).
    const loaded = await page.evaluate(() => {
      const g = (window as any).lediflowDemo.session.current;
      return { backend: g.backend as string, wgslKernels: g.wgslKernels as boolean, dequantized: g.model.dequantized };
    });
    console.log(`[firefox] ${JSON.stringify(loaded)}`);
    expect(loaded.backend).toBe('webgpu');
    expect(loaded.wgslKernels).toBe(true);
    expect(loaded.dequantized.gpu).toBeGreaterThan(0);
    expect(loaded.dequantized.host).toBe(0);

    const spec = REFERENCES.tiny;
    let started = Date.now();
    const first = await call(page, 'sample', { ...tiny, seed: spec.seed, solver: spec.solver });
    const firstMs = Date.now() - started;
    started = Date.now();
    const again = await call(page, 'sample', { ...tiny, seed: spec.seed, solver: spec.solver });
    console.log(`[measure] firefox webgpu tiny: first sample ${firstMs} ms (shader compilation), the next ${Date.now() - started} ms, ${JSON.stringify(again.times)}`);
    expect(first.backend).toBe('webgpu');
    expect(difference(again.images[0], first.images[0]).maxDiff, 'the same call twice').toBe(0);
    const diff = difference(first.images[0], loadReference('tiny')[0]);
    record(`firefox webgpu (lavapipe), tiny model, seed ${spec.seed}, heun ${spec.steps}`, diff, { times: again.times });
    // Soft: a wrong kernel should also show below, in the self-check that names it.
    expect.soft(diff.maxDiff, 'largest difference from the native reference').toBeLessThanOrEqual(TOLERANCE.webgpu);

    // Our WGSL matmul and row norm on naga against their host references (as on Tint in webgpu.spec.ts).
    expect(await inWorker(page, 'self.lediflowModule')).toBe('webgpu');
    const errors = await inWorker<Record<string, number>>(page, 'self.lediflowCheckKernels()');
    console.log(`[measure] firefox: WGSL kernels against their host references (largest relative error; dequantize: elements differing): ${JSON.stringify(errors)}`);
    expect.soft(errors.matmul, 'matmul.wgsl').toBeLessThan(1e-5);
    expect.soft(errors.rowNorm, 'row_norm.wgsl').toBeLessThan(1e-5);
    expect.soft(errors.attention, 'attention.wgsl').toBeLessThan(1e-5);
    expect.soft(errors.priorDraw, 'prior_draw.wgsl').toBeLessThan(1e-5);
    // Elements that differ in any bit from the host's dequantization (in checkKernels() since the
    // kernel's self-check was added; the sample above checks the kernel either way).
    if ('dequantize' in errors) expect.soft(errors.dequantize, 'dequantize.wgsl').toBe(0);
  });

  test('inpainting keeps the known pixels bit-exact', async () => {
    const source = (await call(page, 'sample', { ...tiny, seed: 1 })).images[0];
    const side = Math.sqrt(source.length / 4);
    const mask = Array.from({ length: side * side }, (_, i) => Number(i % side < side / 2));
    const filled = (await call(page, 'inpaint', { ...tiny, image: Array.from(source), mask, seed: 2 })).images[0];
    expect(difference(filled, source).maxDiff, 'the masked half was filled').toBeGreaterThan(0);
    expectKnownPixelsKept(filled, source, mask);
  });

  test("interpolation's endpoints are the two seeds' samples", async () => {
    const path = await call(page, 'interpolate', { steps: tiny.steps, latentSteps: tiny.latentSteps, seedA: 3, seedB: 8, alphas: [0, 0.5, 1] });
    const a = (await call(page, 'sample', { ...tiny, seed: 3 })).images[0];
    const b = (await call(page, 'sample', { ...tiny, seed: 8 })).images[0];
    const endA = difference(path.images[0], a);
    const endB = difference(path.images[2], b);
    record('firefox webgpu, interpolation endpoint A vs sample(seed 3)', endA);
    record('firefox webgpu, interpolation endpoint B vs sample(seed 8)', endB);
    expect(endA.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);
    expect(endB.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);
    expect(difference(a, b).maxDiff, 'the two seeds differ').toBeGreaterThan(TOLERANCE.webgpu);
  });

  test('replayed evaluations (the live slider\'s calls) draw the usual images', async () => {
    const options = { steps: tiny.steps, latentSteps: tiny.latentSteps, seedA: 3, seedB: 8, alphas: [0.25], stageTimes: false };
    const usual = await call(page, 'interpolate', options);
    // The first replaying call records, the next two replay (web/src/worker.ts).
    const replayed = [];
    for (let k = 0; k < 3; k++) replayed.push(await call(page, 'interpolate', { ...options, replay: true }));
    for (const result of replayed) expect(difference(result.images[0], usual.images[0]).maxDiff).toBe(0);
    // Replayed, not run as usual: each evaluation adds the copy of its input and its solver update,
    // which reads the recorded output in place; the usual call makes the update in the network's
    // last layer (midpoint: every evaluation's). crate/core/src/model/replayed.rs
    const { latent, flow } = usual.nfe;
    expect(replayed[2].dispatches, 'our kernels counted as replayed').toBe(usual.dispatches + 2 * (latent + flow));
  });

  test('every tab in use, with a screenshot of each', async () => {
    const shoot = async (name: string) => {
      await page.screenshot({ path: `${RESULTS}/demo-firefox-${name}.png`, fullPage: true });
      console.log(`[screenshot] ${RESULTS}/demo-firefox-${name}.png`);
    };
    const done = (selector: string) =>
      page.waitForFunction((s: string) => document.querySelector<HTMLElement>(s)?.dataset.state === 'done', { timeout: 180_000 }, selector);
    const set = (selector: string, value: string) =>
      page.$eval(selector, (e, v) => ((e as HTMLInputElement).value = v as string), value);
    const clickText = (selector: string, text: string, nth = 0) =>
      page.evaluate(
        (s: string, t: string, n: number) => {
          const found = [...document.querySelectorAll<HTMLElement>(s)].filter((e) => e.textContent?.trim() === t);
          if (!found[n]) throw new Error(`no ${s} "${t}" #${n}`);
          found[n].click();
        },
        selector,
        text,
        nth,
      );
    const visible = (id: string) => page.$eval(`#${id}`, (e) => !(e as HTMLElement).hidden && (e as HTMLElement).offsetParent !== null);

    // Generate: two images, Heun × 1.
    await set('#generate-form input[name=count]', '2');
    await set('#generate-form input[name=steps]', '1');
    await page.click('#generate-form button[type=submit]');
    await done('#generate-grid');
    await shoot('generate');

    // LeDiFlow vs. baseline (the tiny file has a baseline network): one image, few steps each.
    await clickText('[role=tab]', 'LeDiFlow vs. baseline');
    expect(await visible('compare')).toBe(true);
    expect(await visible('generate')).toBe(false);
    await set('#compare-form input[name=count]', '1');
    await set('#compare-form input[name=baseline-steps]', '2');
    await page.click('#compare-form button[type=submit]');
    await done('#compare-baseline');
    console.log(`[firefox] compare: ${await page.$eval('#compare-summary', (e) => e.textContent)}`);
    await shoot('compare');

    // Inpaint: from the Generate grid, the centre masked, filled.
    await clickText('[role=tab]', 'Generate');
    await clickText('button', 'Inpaint this', 1);
    expect(await visible('inpaint')).toBe(true);
    await page.click('#mask-centre');
    await page.click('#inpaint-fill');
    await done('#inpaint-result-caption');
    await shoot('inpaint');

    // Interpolate: five frames.
    await clickText('[role=tab]', 'Interpolate');
    await set('#interpolate-form input[name=frames]', '5');
    await page.click('#interpolate-form button[type=submit]');
    await done('#interpolate-form');
    await shoot('interpolate');
    expect(await page.$eval('#fatal', (e) => (e as HTMLElement).hidden)).toBe(true);
  });
});

/**
 * Firefox's WebDriver BiDi lists a worker's realm but cannot evaluate in it ("no such frame"), so
 * the page's module workers are wrapped before the demo starts: each one first imports a small
 * module that answers `{ lediflowTestEval, port }` messages (evaluating the text in the worker)
 * on the given port and hides them from the generator's own handler, then the real worker script.
 */
function wrapModuleWorkers(): void {
  const Original = window.Worker;
  const workers: Worker[] = [];
  const hook = `self.addEventListener('message', async (event) => {
    const data = event.data;
    if (!data || typeof data.lediflowTestEval !== 'string') return;
    event.stopImmediatePropagation();
    try { data.port.postMessage({ value: await (0, eval)(data.lediflowTestEval) }); }
    catch (e) { data.port.postMessage({ error: String((e && e.stack) || e) }); }
  });`;
  const blob = (text: string) => URL.createObjectURL(new Blob([text], { type: 'text/javascript' }));
  const Wrapped = function (url: string | URL, options?: WorkerOptions) {
    if (options?.type !== 'module') return new Original(url, options);
    const main = `import ${JSON.stringify(blob(hook))};\nimport ${JSON.stringify(new URL(url, location.href).href)};`;
    const worker = new Original(blob(main), options);
    workers.push(worker);
    return worker;
  } as unknown as typeof Worker;
  Wrapped.prototype = Original.prototype;
  window.Worker = Wrapped;
  (window as any).lediflowWorkerEval = (code: string) =>
    new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.value));
      workers[workers.length - 1].postMessage({ lediflowTestEval: code, port: channel.port2 }, [channel.port2]);
    });
}

/** Evaluates `code` in the generator's worker (the newest one the page made). */
function inWorker<T>(page: Page, code: string): Promise<T> {
  return page.evaluate((code: string) => (window as any).lediflowWorkerEval(code), code) as Promise<T>;
}
