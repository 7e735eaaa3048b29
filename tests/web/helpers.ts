/** Helpers the specs share: opening the demo, calling its generator, comparing pixels. */

import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { expect, type Page } from '@playwright/test';

import { RESULTS } from './paths.js';

/** Most a browser pixel channel may differ from the native reference, in levels of 255 (README.md). */
export const TOLERANCE = { cpu: 2, webgpu: 3 } as const;

export type DemoParams = Record<string, string>;

/** Opens the demo (served under a sub-path) and records every text the weights line shows. */
export async function openDemo(page: Page, params: DemoParams = {}): Promise<void> {
  await page.addInitScript(() => {
    const log: string[] = [];
    Object.assign(window, { progressLog: log });
    document.addEventListener('DOMContentLoaded', () => {
      const text = document.getElementById('weights-text')!;
      new MutationObserver(() => log.push(text.textContent ?? '')).observe(text, { childList: true, characterData: true, subtree: true });
    });
  });
  const query = new URLSearchParams(params).toString();
  await page.goto(query ? `./?${query}` : './');
}

/** Waits until the page has a generator ('ready') or has shown why not ('error'). */
export async function waitForState(page: Page, timeout = 180_000): Promise<'ready' | 'error'> {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout });
  return (await page.evaluate(() => document.body.dataset.state)) as 'ready' | 'error';
}

export async function expectReady(page: Page): Promise<void> {
  const state = await waitForState(page);
  if (state !== 'ready') throw new Error(`the demo did not start: ${await page.locator('#fatal').textContent()}`);
}

export interface PageError {
  kind: string;
  name: string;
  message: string;
  isLeDiFlowError: boolean;
}

export type CallResult = { images: Uint8Array[]; width: number; times: Record<string, number>; nfe: Record<string, number> } | { error: PageError };

/**
 * Calls `session.current[method](options)` in the page; images come back as bytes. `options`
 * may name `$image` / `$mask` (base64) for inpainting, since typed arrays do not cross as such.
 */
export async function callGenerator(page: Page, method: 'sample' | 'inpaint' | 'interpolate', options: object): Promise<CallResult> {
  const raw = await page.evaluate(
    async ({ method, options }) => {
      const demo = (window as any).lediflowDemo;
      const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
      const toBase64 = (bytes: Uint8ClampedArray) => {
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(text);
      };
      const opts: any = { ...options };
      if (opts.$image) opts.image = fromBase64(opts.$image);
      if (opts.$mask) opts.mask = fromBase64(opts.$mask);
      delete opts.$image;
      delete opts.$mask;
      try {
        const result = await demo.session.current[method](opts);
        return {
          images: result.images.map((image: ImageData) => toBase64(image.data)),
          width: result.images[0].width,
          times: result.times,
          nfe: result.nfe,
        };
      } catch (e: any) {
        return { error: { kind: e.kind, name: e.name, message: e.message, isLeDiFlowError: e instanceof demo.LeDiFlowError } };
      }
    },
    { method, options },
  );
  if ('error' in raw) return raw as { error: PageError };
  return { ...raw, images: raw.images.map((b: string) => new Uint8Array(Buffer.from(b, 'base64'))) };
}

export async function mustCall(page: Page, method: 'sample' | 'inpaint' | 'interpolate', options: object) {
  const result = await callGenerator(page, method, options);
  if ('error' in result) throw new Error(`${method} failed: ${result.error.kind}: ${result.error.message}`);
  return result;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Reads a canvas's pixels in the page. */
export async function canvasPixels(page: Page, selector: string): Promise<Uint8Array> {
  const text = await page.locator(selector).evaluate((canvas: HTMLCanvasElement) => {
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let text = '';
    for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(text);
  });
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export interface Difference {
  maxDiff: number;
  meanDiff: number;
  /** Share of channel values that differ at all. */
  differing: number;
}

/** Channel-wise difference of two RGBA8 images (alpha included: it must be 255 in both). */
export function difference(a: Uint8Array, b: Uint8Array): Difference {
  expect(a.length, 'image sizes differ').toBe(b.length);
  let max = 0;
  let sum = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
    if (d) differing++;
  }
  return { maxDiff: max, meanDiff: sum / a.length, differing: differing / a.length };
}

/** Appends a measured difference to test-results/web/tolerance.jsonl (and the log). */
export function record(what: string, diff: Difference, extra: object = {}): void {
  mkdirSync(RESULTS, { recursive: true });
  const line = { what, ...diff, ...extra, at: new Date().toISOString() };
  appendFileSync(join(RESULTS, 'tolerance.jsonl'), `${JSON.stringify(line)}\n`);
  console.log(`[measure] ${what}: max ${diff.maxDiff}, mean ${diff.meanDiff.toFixed(4)}, differing ${(diff.differing * 100).toFixed(2)}%`);
}

/**
 * A "real image" check: not flat, not salt-and-pepper noise. `spread` is the widest range of any
 * colour channel (a night scene spans little red but more blue); `roughness` the mean step
 * between horizontal neighbours in the red channel.
 */
export function looksLikeAnImage(rgba: Uint8Array, side: number): { spread: number; roughness: number } {
  const min = [255, 255, 255];
  const max = [0, 0, 0];
  let rough = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      for (let c = 0; c < 3; c++) {
        min[c] = Math.min(min[c], rgba[i + c]);
        max[c] = Math.max(max[c], rgba[i + c]);
      }
      if (x + 1 < side) rough += Math.abs(rgba[i] - rgba[i + 4]);
    }
  }
  const spread = Math.max(...max.map((m, c) => m - min[c]));
  return { spread, roughness: rough / (side * (side - 1)) };
}
