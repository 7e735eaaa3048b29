// The values the wasm API (crate/wasm/src/bindings.rs) takes and returns, generated from their Rust
// types by crate/wasm/src/typescript.rs: do not edit. After changing those types, run
//   LEDIFLOW_WRITE_TS=1 cargo test -p lediflow-wasm --lib typescript

/**
 * Which prior the flow starts from.
 */
export type Method = "lediflow" | "baseline";

/**
 * An ODE solver, by name.
 */
export type Solver = "euler" | "midpoint" | "heun" | "rk4" | "ab2";

/**
 * How images are sampled. Unset fields take the defaults below.
 */
export type SampleOptions = {
  /**
   * `'lediflow'` (the learned prior; default) or `'baseline'` (a Gaussian prior; needs the
   * baseline network).
   */
  method: Method,
  /**
   * The flow ODE's solver (default midpoint).
   */
  solver: Solver,
  /**
   * The flow ODE's steps (default 2).
   */
  steps: number,
  /**
   * The flow ODE's time grid, `t_i = (i / steps)^p`, p in [0.25, 4] (default 1: uniform).
   * Below 1 the last steps are shorter: at midpoint × 2, p = 0.5–0.75 solves the shipped
   * flow ODE 10–20 % more closely than the uniform grid (BENCHMARKS.md, "The latent sampler's
   * time grid").
   */
  timePower: number,
  /**
   * The latent sampler's solver (default midpoint).
   */
  latentSolver: Solver,
  /**
   * The latent sampler's steps (default 8).
   */
  latentSteps: number,
  /**
   * The latent sampler's time grid, `t_i = (i / latentSteps)^p`, p in [0.25, 4] (default 1:
   * uniform). Above 1 its first steps are shorter, where its ODE bends most: at midpoint × 4,
   * p = 1.25 solves it as closely as Heun × 8 on the uniform grid with half the evaluations
   * (BENCHMARKS.md, "The latent sampler's time grid").
   */
  latentTimePower: number,
  /**
   * The latent sampler's temperature τ: its ODE starts from τ·ε instead of ε ~ N(0, I), in
   * [0, 2] (default 1: the distribution it was trained on). Below 1 it draws latents nearer
   * the modes, Glow's reduced-temperature sampling: fewer atypical images (precision) for
   * less variety (recall). 0 gives every seed the same latent.
   */
  latentTemperature: number,
  /**
   * Overrides the model's prior temperature s in x0 = μ + s·σ·ε, in [0, 10].
   */
  priorStdScale?: number | null,
  /**
   * Time each stage (latent sampler, decoder or encoder, flow) by waiting for it to finish: a
   * readback after each (default on). Off, nothing waits between the stages, so a GPU goes on
   * computing while the host encodes the next one, and the call's only wait is for its images:
   * the result's stage times are then unknown (a live preview at batch 1, where each wait
   * leaves the GPU idle).
   */
  stageTimes: boolean,
};

/**
 * Which images a request makes: image `k` uses seed `seed + k`, so a grid of `count` images
 * extends a smaller one.
 */
export type Batch = {
  /**
   * The first image's seed, an integer in 0..=2^53−1 (default 0).
   */
  seed: number,
  /**
   * How many images, 1..=64 (default 1).
   */
  count: number,
};

/**
 * `sample()` and `inpaint()`'s options: `{ seed, count, ...SampleOptions }`.
 */
export type GenerateRequest = {
  /**
   * The first image's seed, an integer in 0..=2^53−1 (default 0).
   */
  seed: number,
  /**
   * How many images, 1..=64 (default 1).
   */
  count: number,
  /**
   * `'lediflow'` (the learned prior; default) or `'baseline'` (a Gaussian prior; needs the
   * baseline network).
   */
  method: Method,
  /**
   * The flow ODE's solver (default midpoint).
   */
  solver: Solver,
  /**
   * The flow ODE's steps (default 2).
   */
  steps: number,
  /**
   * The flow ODE's time grid, `t_i = (i / steps)^p`, p in [0.25, 4] (default 1: uniform).
   * Below 1 the last steps are shorter: at midpoint × 2, p = 0.5–0.75 solves the shipped
   * flow ODE 10–20 % more closely than the uniform grid (BENCHMARKS.md, "The latent sampler's
   * time grid").
   */
  timePower: number,
  /**
   * The latent sampler's solver (default midpoint).
   */
  latentSolver: Solver,
  /**
   * The latent sampler's steps (default 8).
   */
  latentSteps: number,
  /**
   * The latent sampler's time grid, `t_i = (i / latentSteps)^p`, p in [0.25, 4] (default 1:
   * uniform). Above 1 its first steps are shorter, where its ODE bends most: at midpoint × 4,
   * p = 1.25 solves it as closely as Heun × 8 on the uniform grid with half the evaluations
   * (BENCHMARKS.md, "The latent sampler's time grid").
   */
  latentTimePower: number,
  /**
   * The latent sampler's temperature τ: its ODE starts from τ·ε instead of ε ~ N(0, I), in
   * [0, 2] (default 1: the distribution it was trained on). Below 1 it draws latents nearer
   * the modes, Glow's reduced-temperature sampling: fewer atypical images (precision) for
   * less variety (recall). 0 gives every seed the same latent.
   */
  latentTemperature: number,
  /**
   * Overrides the model's prior temperature s in x0 = μ + s·σ·ε, in [0, 10].
   */
  priorStdScale?: number | null,
  /**
   * Time each stage (latent sampler, decoder or encoder, flow) by waiting for it to finish: a
   * readback after each (default on). Off, nothing waits between the stages, so a GPU goes on
   * computing while the host encodes the next one, and the call's only wait is for its images:
   * the result's stage times are then unknown (a live preview at batch 1, where each wait
   * leaves the GPU idle).
   */
  stageTimes: boolean,
};

/**
 * The path `interpolate()` samples along: the spherical path between two seeds' noise.
 */
export type Path = { seedA: number, seedB: number,
  /**
   * Positions along the path, each in [0, 1]; one image per alpha.
   */
  alphas: Array<number>,
};

/**
 * `interpolate()`'s options: `{ seedA, seedB, alphas, ...SampleOptions }`.
 */
export type InterpolateRequest = { seedA: number, seedB: number,
  /**
   * Positions along the path, each in [0, 1]; one image per alpha.
   */
  alphas: Array<number>,
  /**
   * `'lediflow'` (the learned prior; default) or `'baseline'` (a Gaussian prior; needs the
   * baseline network).
   */
  method: Method,
  /**
   * The flow ODE's solver (default midpoint).
   */
  solver: Solver,
  /**
   * The flow ODE's steps (default 2).
   */
  steps: number,
  /**
   * The flow ODE's time grid, `t_i = (i / steps)^p`, p in [0.25, 4] (default 1: uniform).
   * Below 1 the last steps are shorter: at midpoint × 2, p = 0.5–0.75 solves the shipped
   * flow ODE 10–20 % more closely than the uniform grid (BENCHMARKS.md, "The latent sampler's
   * time grid").
   */
  timePower: number,
  /**
   * The latent sampler's solver (default midpoint).
   */
  latentSolver: Solver,
  /**
   * The latent sampler's steps (default 8).
   */
  latentSteps: number,
  /**
   * The latent sampler's time grid, `t_i = (i / latentSteps)^p`, p in [0.25, 4] (default 1:
   * uniform). Above 1 its first steps are shorter, where its ODE bends most: at midpoint × 4,
   * p = 1.25 solves it as closely as Heun × 8 on the uniform grid with half the evaluations
   * (BENCHMARKS.md, "The latent sampler's time grid").
   */
  latentTimePower: number,
  /**
   * The latent sampler's temperature τ: its ODE starts from τ·ε instead of ε ~ N(0, I), in
   * [0, 2] (default 1: the distribution it was trained on). Below 1 it draws latents nearer
   * the modes, Glow's reduced-temperature sampling: fewer atypical images (precision) for
   * less variety (recall). 0 gives every seed the same latent.
   */
  latentTemperature: number,
  /**
   * Overrides the model's prior temperature s in x0 = μ + s·σ·ε, in [0, 10].
   */
  priorStdScale?: number | null,
  /**
   * Time each stage (latent sampler, decoder or encoder, flow) by waiting for it to finish: a
   * readback after each (default on). Off, nothing waits between the stages, so a GPU goes on
   * computing while the host encodes the next one, and the call's only wait is for its images:
   * the result's stage times are then unknown (a live preview at batch 1, where each wait
   * leaves the GPU idle).
   */
  stageTimes: boolean,
};

/**
 * Which compute backend a generator runs on.
 */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/**
 * Where int8 weights become f32 at load (BENCHMARKS.md, "Dequantization at load").
 */
export type DequantizeChoice = "host" | "gpu" | "burn";

/**
 * `Generator.create()`'s options.
 */
export type CreateRequest = {
  /**
   * Default `'auto'`.
   */
  backend: BackendChoice,
  /**
   * Where int8 weights become f32 at load: `'host'` (default: in the wasm, measured fastest),
   * `'gpu'` (our WGSL kernel; WebGPU only, else the host) or `'burn'` (burn's quantized
   * tensors); all give the same bits.
   */
  dequantize: DequantizeChoice,
};

/**
 * The backend a generator runs on.
 */
export type Backend = "webgpu" | "cpu";

/**
 * `load(chunk)`'s answer: how far the weight file has streamed in.
 */
export type LoadProgress = { bytesReceived: number,
  /**
   * `null` until known (from the file's header).
   */
  totalBytes: number | null, tensorsReady: number, tensorsTotal: number | null,
};

/**
 * How many tensors of a file became f32 where.
 */
export type Dequantized = {
  /**
   * By our WGSL kernel (`shaders/dequantize.wgsl`, WebGPU).
   */
  gpu: number,
  /**
   * By burn's quantized tensors.
   */
  burn: number,
  /**
   * In the wasm.
   */
  host: number,
  /**
   * Stored as f16 or f32.
   */
  unquantized: number,
};

/**
 * `finishLoad()`'s answer: the model after the file joined it.
 */
export type LoadedFile = { name: string, imageSize: number,
  /**
   * Every network loaded so far (all files).
   */
  networks: Array<string>,
  /**
   * SHA-256 of the last weight file, every byte of it (header and configuration included), as
   * the wasm computed it while the file streamed in: what a manifest's `sha256` pins, and what
   * `sha256sum` prints for the file.
   */
  sha256: string,
  /**
   * SHA-256 of the last file's data buffer alone (the `.ldf` header's own `sha256`).
   */
  dataSha256: string,
  /**
   * Whether the baseline flow model is loaded (`method: 'baseline'`).
   */
  baseline: boolean,
  /**
   * How many tensors of the last file became f32 where.
   */
  dequantized: Dequantized,
};

/**
 * Function evaluations spent per network.
 */
export type Nfe = { latent: number, decoder: number, encoder: number, flow: number };

/**
 * Wall-clock milliseconds per stage, each measured up to a completed readback of its output;
 * `null` with `stageTimes: false`, which waits for nothing but the images.
 */
export type StageTimes = { latentMs: number | null,
  /**
   * With inpainting, the encoder's time too: the runtime times them as one stage.
   */
  decoderMs: number | null, flowMs: number | null,
  /**
   * The stages' sum; with `stageTimes: false`, the whole call's time up to its images' readback
   * (the RGBA8 conversion included).
   */
  totalMs: number,
};

/**
 * `sample()`, `inpaint()` and `interpolate()`'s answer: the images as one RGBA8 buffer, image
 * after image, with what they cost.
 */
export type GenerateOutput = { width: number, height: number, count: number, pixels: Uint8Array, nfe: Nfe, times: StageTimes, backend: Backend,
  /**
   * How many times our WGSL kernels (`shaders/`) were dispatched during the call, previews and
   * the RGBA8 conversion included; 0 on the CPU.
   */
  dispatches: number,
};

/**
 * `checkKernels()`'s answer: the largest relative error of each of our WGSL kernels that the
 * networks run, against its host reference on this device.
 */
export type KernelErrors = { matmul: number, rowNorm: number, dequantize: number, attention: number, fourier: number, solverUpdate: number, composite: number, priorDraw: number };

/**
 * `kernelDispatches()`'s answer: how many times each of our WGSL kernels has been dispatched
 * by this wasm instance (all 0 on the CPU).
 */
export type KernelDispatches = { matmul: number, rowNorm: number, dequantize: number, toRgba8: number, composite: number, attention: number, fourier: number, solverUpdate: number, copy: number, priorDraw: number };
