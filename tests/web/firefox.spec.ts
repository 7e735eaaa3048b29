/**
 * The core of the suite in headless Firefox (Debian's firefox-esr, driven by puppeteer-core over
 * WebDriver BiDi; no geckodriver): the CPU fallback with the shipped model, inpainting, and
 * WebGPU through Mesa's lavapipe with the tiny model. Skipped, saying so, without Firefox.
 */

import { existsSync } from 'node:fs';

import { expect, test } from '@playwright/test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

import { difference, record, TOLERANCE } from './helpers.js';
import { DEMO_URL, FIREFOX, RESULTS, TINY_MODEL } from './paths.js';
import { REFERENCES, loadReference } from './references.js';

const noFirefox = `no Firefox at ${FIREFOX}: apt-get install -y firefox-esr mesa-vulkan-drivers (or set FIREFOX_BIN)`;
if (!existsSync(FIREFOX)) console.log(`[skip] ${noFirefox}`);
test.skip(!existsSync(FIREFOX), noFirefox);

async function launch(webgpu: boolean): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
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
async function call(page: Page, method: string, options: object): Promise<{ images: Uint8Array[]; backend: string }> {
  const raw = await page.evaluate(
    async (method: string, options: any) => {
      const demo = (window as any).lediflowDemo;
      const opts = { ...options };
      for (const key of ['image', 'mask']) if (opts[key]) opts[key] = Uint8Array.from(opts[key]);
      try {
        const result = await demo.session.current[method](opts);
        return { images: result.images.map((i: ImageData) => Array.from(i.data)), backend: result.backend };
      } catch (e: any) {
        return { error: `${e.kind}: ${e.message}` };
      }
    },
    method,
    options,
  );
  if ('error' in raw) throw new Error(`${method} failed in Firefox: ${raw.error}`);
  return { images: raw.images.map((i: number[]) => new Uint8Array(i)), backend: raw.backend };
}

test('Firefox: the CPU fallback loads the shipped model, samples like native and inpaints exactly', async () => {
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    await openReady(page, 'autorun=0');
    expect(await page.$eval('#backend', (e) => e.textContent)).toContain('CPU fallback');
    const spec = REFERENCES.shipped;
    const { images } = await call(page, 'sample', { seed: 0, count: 1, solver: spec.solver, steps: spec.steps, latentSteps: spec.latentSteps });
    const diff = difference(images[0], loadReference('shipped')[0]);
    record('firefox cpu, shipped model, seed 0, heun 2', diff);
    expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.cpu);

    const side = Math.sqrt(images[0].length / 4);
    const mask = Array.from({ length: side * side }, (_, i) => Number(Math.floor(i / side) < side / 2));
    const filled = (await call(page, 'inpaint', { image: Array.from(images[0]), mask, seed: 3 })).images[0];
    for (let p = 0; p < mask.length; p++) {
      if (!mask[p]) for (let c = 0; c < 4; c++) expect(filled[p * 4 + c]).toBe(images[0][p * 4 + c]);
    }
    await page.screenshot({ path: `${RESULTS}/demo-firefox-cpu.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});

test('Firefox: WebGPU (lavapipe) runs the tiny model', async () => {
  test.skip(!existsSync(TINY_MODEL), `the tiny test model ${TINY_MODEL} is missing`);
  const browser = await launch(true);
  try {
    const page = await browser.newPage();
    await page.goto(DEMO_URL + '?autorun=0&weights=/fixtures/not-a-model.ldf');
    // Firefox ESR 140 (Debian 12) compiles WebGPU out of release builds whatever the prefs say;
    // 153 has it (shared/BROWSER.md). Without an adapter this test has nothing to test.
    const probe = await page.evaluate(async () => {
      try {
        return (await (navigator as any).gpu?.requestAdapter()) ? 'ok' : 'requestAdapter() gave null';
      } catch (e) {
        return `requestAdapter() threw: ${(e as Error).message}`;
      }
    });
    const why = `${await browser.version()} has no WebGPU adapter here (${probe}); its CPU path is tested above`;
    if (probe !== 'ok') console.log(`[skip] ${why}`);
    test.skip(probe !== 'ok', why);
    await openReady(page, 'autorun=0&weights=/fixtures/tiny-test.ldf&manifest=/fixtures/tiny-manifest.json');
    const badge = await page.$eval('#backend', (e) => e.textContent ?? '');
    console.log(`[backend] firefox: ${badge}`);
    const spec = REFERENCES.tiny;
    const { images, backend } = await call(page, 'sample', {
      seed: spec.seed,
      count: 1,
      solver: spec.solver,
      steps: spec.steps,
      latentSteps: spec.latentSteps,
    });
    const diff = difference(images[0], loadReference('tiny')[0]);
    record(`firefox ${backend}, tiny model, seed ${spec.seed}, heun ${spec.steps}`, diff);
    expect(backend, `badge: ${badge}`).toBe('webgpu');
    expect(diff.maxDiff).toBeLessThanOrEqual(TOLERANCE.webgpu);
  } finally {
    await browser.close();
  }
});
