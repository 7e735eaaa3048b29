/**
 * Messages between the page (`index.ts`) and the worker (`worker.ts`). Every request carries an
 * `id`; the worker answers with any number of `progress` / `step` messages and then exactly one
 * `done` or `failed`. Pixels travel as transferred `ArrayBuffer`s, never copied twice. Besides
 * the answers, the worker sends one `fatal` message, with no `id`, when something ends the
 * generator between or during requests (the GPU device was lost, the wasm trapped).
 */

import type { GenerateOutput } from './contract.js';
import type { ErrorPayload } from './errors.js';
import type { Backend, BackendChoice, DequantizeChoice, LoadProgress, ModelInfo, WebGpuCalls } from './types.js';

/** Where one weight file comes from, with absolute URLs (the worker's base URL is its script). */
export interface WeightsSource {
  /** `null`: the manifest entry's `file`, relative to the manifest. */
  weightsUrl: string | null;
  manifestUrl: string | null;
  model: string | null;
  /** File name to look up in the manifest when the weights URL was rewritten by a bundler. */
  weightsFile: string | null;
  cache: boolean;
}

export interface InitRequest {
  type: 'init';
  backend: BackendChoice;
  dequantize: DequantizeChoice;
  source: WeightsSource;
  warmUp: boolean;
}

/** A further file whose networks join the loaded model (the baseline, loaded on demand). */
export interface AddWeightsRequest {
  type: 'addWeights';
  source: WeightsSource;
}

/** Options as the wasm API takes them, minus callbacks (functions cannot be cloned). */
export interface RunRequest {
  type: 'sample' | 'inpaint' | 'interpolate';
  options: Record<string, unknown>;
  /** Whether to send a `step` message after every solver step. */
  preview: boolean;
}

/**
 * The page no longer waits for request `target`: the worker skips it if it has not started, and
 * stops it at its next solver step if it sends previews. Not queued, and never answered.
 */
export interface CancelRequest {
  type: 'cancel';
  target: number;
}

export type Request = ((InitRequest | AddWeightsRequest | RunRequest) & { id: number }) | CancelRequest;

export interface InitResult {
  backend: Backend;
  adapterName: string;
  fallbackReason: string | null;
  /** Whether the crate's own WGSL kernels run (WebGPU), or their fallbacks (CPU). */
  wgslKernels: boolean;
  model: ModelInfo;
  /** How long the warm-up sample took (mostly shader compilation); `null` without one. */
  warmUpMs: number | null;
}

/** The wasm API's answer, its pixels moved into a buffer of their own (transferred, not copied). */
export interface RunResult extends Omit<GenerateOutput, 'pixels'> {
  pixels: ArrayBuffer;
  /** The WebGPU calls the request made, counted in the worker (calls.ts). */
  webgpu: WebGpuCalls;
}

export type Response =
  | ({ id: number } & (
      | { type: 'progress'; progress: LoadProgress }
      | { type: 'step'; step: number; steps: number; width: number; height: number; count: number; pixels: ArrayBuffer }
      | { type: 'done'; value: InitResult | ModelInfo | RunResult }
      | { type: 'failed'; error: ErrorPayload }
    ))
  /**
   * The generator is unusable from now on (kind `DeviceLost` or `Crashed`): sent once, as soon as
   * the worker notices, even while no request runs. Every request still pending, and every later
   * one, fails with this error.
   */
  | { type: 'fatal'; error: ErrorPayload };
