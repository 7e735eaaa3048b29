/**
 * The public option and result types of the `lediflow` package. Whatever crosses into the wasm
 * comes from `contract.ts`, generated from the Rust types that read and write it, so the two
 * cannot drift; this file adds what the wrapper adds (callbacks, cancellation, `ImageData`).
 */

import type { WebGpuCalls } from './calls.js';
import type * as wire from './contract.js';

export type { Backend, BackendChoice, DequantizeChoice, Method, Nfe, Solver, StageTimes } from './contract.js';

export interface LoadProgress extends wire.LoadProgress {
  /** 'weights' while the file streams in; 'warm-up' while the first run compiles the GPU shaders. */
  phase: 'weights' | 'warm-up';
  /** `null` until known (from the manifest, `Content-Length` or the file's header). */
  totalBytes: number | null;
  /** Seconds left at the rate so far; `null` while unknown. */
  etaSeconds: number | null;
  /** Whether the bytes come from the Cache API (a repeat visit) rather than the network. */
  fromCache: boolean;
}

/** Where a weight file comes from. */
export interface AddWeightsOptions {
  /**
   * URL of an `.ldf` weight file. Default: with a `manifest`, its entry's `file` (relative to
   * the manifest); with neither, the file this package ships.
   */
  weights?: string | URL;
  /**
   * URL of a `manifest.json` (`{ models: { name: { file, sha256, bytes } } }`). With one, the
   * weights are checked against its hash and kept in the Cache API under it. Default: the
   * shipped manifest when neither `weights` nor `manifest` is given, none otherwise.
   */
  manifest?: string | URL;
  /**
   * Which manifest entry, by name: default the one whose `file` is the weights' file name, else
   * the only one. With neither `weights` nor `manifest`, an entry of the shipped manifest
   * (default `landscapes-64`); `listModels()` lists them.
   */
  model?: string;
  onProgress?: (progress: LoadProgress) => void;
}

export interface CreateOptions extends AddWeightsOptions, Partial<wire.CreateRequest> {
  /**
   * On WebGPU, run one small sample before resolving, so that the shader compilation is paid at
   * load and the first real request is fast. Default `true`; no effect on the CPU.
   */
  warmUp?: boolean;
  /** Keep the weights in the Cache API (needs a manifest hash). Default `true`. */
  cache?: boolean;
}

/** A LeDiFlow model a manifest lists (`listModels`). */
export interface ManifestModel {
  /** The manifest's name for it: `createGenerator({ manifest, model: name })`. */
  name: string;
  /** The manifest's URL, resolved. */
  manifest: string;
  file: string;
  sha256: string;
  bytes: number | null;
  /** The networks the file holds, where the manifest says. */
  networks: string[] | null;
  /** The configuration's name (`s64`, `s128`), where the manifest says. */
  config: string | null;
  /** The manifest entry holding this model's baseline (for `addWeights`), if it lists one. */
  baseline: string | null;
}

export interface ModelInfo extends wire.LoadedFile {
  /** Bytes of weights loaded (all files). */
  bytes: number;
  /** Where the weights came from: 'cache' when every file came from the Cache API. */
  source: 'network' | 'cache';
}

/**
 * Settings shared by every request that integrates the flow ODE. Unset fields take the runtime's
 * defaults (LeDiFlow, midpoint × 2, the latent sampler at midpoint × 8).
 */
export interface SolveOptions extends Partial<wire.SampleOptions> {
  /**
   * Record each network evaluation of this call once and replay it in the next calls that ask for
   * `replay` too (WebGPU; the same images). A replay re-encodes the recorded dispatches without
   * making a bind group per dispatch: a quarter off a batch-1 image on a GPU, slower at batch 16
   * (BENCHMARKS.md, "Dawn at 64 px, replayed evaluations"). For repeated calls of one shape and
   * grid, such as a live slider; a call without it drops the recordings and their memory.
   */
  replay?: boolean;
}

/** Called after every solver step with the current images (RGBA8, image after image). */
export type StepCallback = (preview: StepPreview) => void;

export interface StepPreview {
  step: number;
  steps: number;
  images: ImageData[];
}

/**
 * Stops a request early: with `signal.abort()` the call rejects at once with a
 * `LeDiFlowError` of kind `Aborted`, and the worker drops the request if it has not started, or
 * stops it at its next solver step when `onStep` is given (otherwise it runs to its end unseen).
 */
export interface Cancellable {
  signal?: AbortSignal;
}

export interface SampleOptions extends SolveOptions, Partial<wire.Batch>, Cancellable {
  onStep?: StepCallback;
}

export interface InpaintOptions extends SolveOptions, Partial<wire.Batch>, Cancellable {
  /** The image at the model's size: `ImageData`, or RGBA8 bytes (`imageSize² · 4`). */
  image: RgbaImage | Uint8Array | Uint8ClampedArray;
  /** One byte per pixel (`imageSize²`); non-zero where pixels are regenerated. */
  mask: Uint8Array | Uint8ClampedArray;
  onStep?: StepCallback;
}

export interface InterpolateOptions extends SolveOptions, wire.Path, Cancellable {}

/** An RGBA8 image given to the generator: `ImageData`, or any object with its three fields. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

export type { WebGpuCalls } from './calls.js';

export interface GenerateResult extends Pick<wire.GenerateOutput, 'nfe' | 'times' | 'backend' | 'dispatches'> {
  /**
   * Every WebGPU call of this kind the call made (`dispatches` counts only our own WGSL kernels'),
   * previews and the RGBA8 conversion included; all 0 on the CPU.
   */
  webgpu: WebGpuCalls;
  /** One `ImageData` per image, ready for `CanvasRenderingContext2D.putImageData`. */
  images: ImageData[];
}
