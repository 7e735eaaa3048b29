/** The public option and result types of the `lediflow` package. */

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';
export type Backend = 'webgpu' | 'cpu';
export type Solver = 'heun' | 'midpoint' | 'euler' | 'rk4';
export type Method = 'lediflow' | 'baseline';

export interface LoadProgress {
  /** 'weights' while the file streams in; 'warm-up' while the first run compiles the GPU shaders. */
  phase: 'weights' | 'warm-up';
  bytesReceived: number;
  /** `null` until known (from the manifest, `Content-Length` or the file's header). */
  totalBytes: number | null;
  tensorsReady: number;
  tensorsTotal: number | null;
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
  /** Which manifest entry: default the one whose `file` is the weights' file name, else the only one. */
  model?: string;
  onProgress?: (progress: LoadProgress) => void;
}

/** Where int8 weights become f32 at load (see BENCHMARKS.md, "Dequantization at load"). */
export type DequantizeChoice = 'host' | 'gpu' | 'burn';

export interface CreateOptions extends AddWeightsOptions {
  backend?: BackendChoice;
  /**
   * Where int8 weights become f32: `'host'` (default: in the wasm, measured fastest),
   * `'gpu'` (our WGSL kernel, uploads a quarter of the bytes; WebGPU only, else the host) or
   * `'burn'` (burn's quantized tensors).
   */
  dequantize?: DequantizeChoice;
  /**
   * On WebGPU, run one small sample before resolving, so that the shader compilation is paid at
   * load and the first real request is fast. Default `true`; no effect on the CPU.
   */
  warmUp?: boolean;
  /** Keep the weights in the Cache API (needs a manifest hash). Default `true`. */
  cache?: boolean;
}

export interface ModelInfo {
  name: string;
  imageSize: number;
  networks: string[];
  /**
   * SHA-256 of the last weight file, every byte of it (header and configuration included), as
   * the wasm computed it while the file streamed in: what a manifest's `sha256` pins, and what
   * `sha256sum` prints for the file.
   */
  sha256: string;
  /** SHA-256 of the last file's data buffer alone (the `.ldf` header's own `sha256`). */
  dataSha256: string;
  /** Whether the file holds the baseline flow model (`method: 'baseline'`). */
  baseline: boolean;
  /** Bytes of weights loaded (all files). */
  bytes: number;
  /** Where the weights came from: 'cache' when every file came from the Cache API. */
  source: 'network' | 'cache';
  /**
   * How many tensors of the last file became f32 where: `gpu` by our WGSL kernel
   * (`shaders/dequantize.wgsl`, WebGPU), `burn` by burn's quantized tensors, `host` in the wasm;
   * `unquantized` were stored as f16/f32.
   */
  dequantized: { gpu: number; burn: number; host: number; unquantized: number };
}

/** Settings shared by every request that integrates the flow ODE. Unset fields take the runtime's defaults (midpoint, 2 steps, LeDiFlow). */
export interface SolveOptions {
  solver?: Solver;
  steps?: number;
  method?: Method;
  /** Solver steps of the latent sampler (Heun; default 8). */
  latentSteps?: number;
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

export interface SampleOptions extends SolveOptions, Cancellable {
  seed?: number;
  /** Number of images; image `k` uses seed `seed + k`. */
  count?: number;
  onStep?: StepCallback;
}

export interface InpaintOptions extends SolveOptions, Cancellable {
  /** The image at the model's size: `ImageData`, or RGBA8 bytes (`imageSize² · 4`). */
  image: RgbaImage | Uint8Array | Uint8ClampedArray;
  /** One byte per pixel (`imageSize²`); non-zero where pixels are regenerated. */
  mask: Uint8Array | Uint8ClampedArray;
  seed?: number;
  count?: number;
  onStep?: StepCallback;
}

export interface InterpolateOptions extends SolveOptions, Cancellable {
  seedA: number;
  seedB: number;
  /** Positions along the path, each in [0, 1]; one image per alpha. */
  alphas: number[];
}

/** An RGBA8 image given to the generator: `ImageData`, or any object with its three fields. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

export interface Nfe {
  latent: number;
  decoder: number;
  encoder: number;
  flow: number;
}

export interface StageTimes {
  latentMs: number;
  /** With inpainting, the encoder's time too: the runtime times them as one stage. */
  decoderMs: number;
  flowMs: number;
  totalMs: number;
}

export interface GenerateResult {
  /** One `ImageData` per image, ready for `CanvasRenderingContext2D.putImageData`. */
  images: ImageData[];
  nfe: Nfe;
  times: StageTimes;
  backend: Backend;
}
