/**
 * The module Web Worker that owns the wasm runtime: the page thread never computes.
 *
 * Requests run one at a time, in arrival order (one wasm instance, one device). A trap in the
 * wasm (a Rust panic ends in `unreachable`) or a lost GPU device leaves the instance unusable:
 * from then on every request fails with that error, and the page creates a new worker. The
 * worker watches its WebGPU device (`gpu.ts`), so a loss is reported to the page at once with a
 * `fatal` message, even while no request runs, and a request in flight never resolves with a
 * result computed on a lost device or alongside a GPU error (out of memory, validation).
 * Disposing is terminating the worker, which frees the wasm memory and the GPU device with it;
 * nothing here destroys the device.
 *
 * The runtime comes as two wasm modules with the same API (web/build-wasm.sh): `pkg/webgpu`
 * (burn's WebGPU backend and our WGSL) and `pkg/cpu` (burn's ndarray backend). The worker loads
 * only the one it needs: a visitor without WebGPU never downloads the larger WebGPU module. Weight
 * files stream into it through `weights.ts`.
 */

import type * as wasm from '../pkg/webgpu/lediflow.js';
import { FATAL_KINDS, LeDiFlowError, toErrorPayload, type ErrorPayload } from './errors.js';
import { countWebGpuCalls, since, webGpuCalls } from './calls.js';
import { lossReported, watchGpuDevices } from './gpu.js';
import type { AddWeightsRequest, CancelRequest, InitRequest, InitResult, Request, Response, RunRequest, RunResult } from './protocol.js';
import type { Backend, BackendChoice, LoadProgress, ModelInfo } from './types.js';
import { loadWeights } from './weights.js';

/**
 * What the worker uses of either wasm module (web/pkg/webgpu, web/pkg/cpu): the same API, typed by
 * wasm-bindgen from crate/wasm/src/bindings.rs and the types it names (web/src/contract.ts). Only
 * their internal exports differ, which `default()` resolves to.
 */
interface WasmModule {
  default(init: { module_or_path: globalThis.Response }): Promise<{ memory?: WebAssembly.Memory }>;
  Generator: Pick<typeof wasm.Generator, 'create'>;
  staticConstructorRuns(): number;
}
type WasmGenerator = wasm.Generator;

/** The worker's global scope (typed here: the DOM and WebWorker libs cannot be combined). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: Response, transfer: Transferable[]): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (event: PromiseRejectionEvent) => void): void;
};
let generator: WasmGenerator | null = null;
let imageSize = 0;
/** What ended this worker's generator (`DeviceLost`, `Crashed`); every request then fails with it. */
let fatal: ErrorPayload | null = null;
/** The first error WebGPU reported outside any error scope since the last request finished. */
let gpuError: ErrorPayload | null = null;
let queue: Promise<void> = Promise.resolve();
/** Requests the page gave up on (`cancel` messages) that have not finished yet. */
const cancelled = new Set<number>();

/**
 * How long a failed request waits for a device loss to be reported before answering. In
 * Chromium a buffer mapping on a destroyed device fails a few tasks before `device.lost`
 * resolves (seen in tests/web/webgpu.spec.ts), which without the wait reads as `Backend`.
 */
const LOSS_GRACE_MS = 500;

// Before the wasm starts WebGPU: see each device it creates, its loss and its errors.
watchGpuDevices({
  lost: ({ reason, message }) => {
    const why = reason === 'destroyed' ? 'it was destroyed' : 'the browser or the driver reset it';
    end({ kind: 'DeviceLost', message: `the GPU device was lost (${why}${message ? `: ${message}` : ''}); create a new generator` });
  },
  error: (error) => {
    gpuError ??= error;
  },
});

// Before the wasm starts WebGPU too: the calls it makes, reported per request (issue 22).
countWebGpuCalls();

// A trap outside any request (e.g. in a WebGPU callback: wgpu panics on an error no scope caught)
// leaves the instance in an undefined state, and a request waiting on it might never settle.
scope.addEventListener('error', (event) => {
  if (!isTrap(event.error)) return;
  event.preventDefault(); // the `fatal` message below says it, typed, instead of a bare ErrorEvent
  end(crashed(event.error));
});
scope.addEventListener('unhandledrejection', (event) => {
  if (isTrap(event.reason)) end(crashed(event.reason));
});

function isTrap(error: unknown): error is Error {
  return typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError;
}

function crashed(trap: Error): ErrorPayload {
  const cause = gpuError ? ` after WebGPU reported an error (${gpuError.message})` : '';
  return { kind: 'Crashed', message: `the WebAssembly runtime trapped${cause} (${trap.message}); create a new generator` };
}

/** Ends the generator: tells the page at once; pending and later requests fail with `error`. */
function end(error: ErrorPayload): void {
  if (fatal) return;
  fatal = error;
  post({ type: 'fatal', error });
}

scope.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  // Not queued: it must reach a request that is waiting in the queue or running.
  if (request.type === 'cancel') cancelled.add(request.target);
  else queue = queue.then(() => handle(request));
};

function abortedError(): LeDiFlowError {
  return new LeDiFlowError('Aborted', 'the request was cancelled');
}

function post(message: Response, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function handle(request: Exclude<Request, CancelRequest>): Promise<void> {
  try {
    if (fatal) throw new LeDiFlowError(fatal.kind, fatal.message);
    if (cancelled.has(request.id)) throw abortedError();
    const value =
      request.type === 'init'
        ? await initialise(request)
        : request.type === 'addWeights'
          ? await addWeights(request)
          : await run(request);
    // Never a success computed on a lost device or while WebGPU reported an error.
    const spoiled = fatal ?? takeGpuError();
    if (spoiled) throw new LeDiFlowError(spoiled.kind, spoiled.message);
    if (value && 'pixels' in value) post({ id: request.id, type: 'done', value }, [value.pixels]);
    else post({ id: request.id, type: 'done', value });
  } catch (error) {
    // Once the generator has ended, whatever a request fails with (a poisoned device, a failed
    // buffer mapping, a trap) is a symptom: the error is what ended it, e.g. `DeviceLost`.
    // A request stopped by its cancel fails with whatever the runtime made of the stop.
    const failed = cancelled.has(request.id) && !fatal ? toErrorPayload(abortedError()) : toErrorPayload(error);
    // A backend failure may be the first sign of a lost device: give the loss a moment to arrive.
    if (!fatal && (failed.kind === 'Backend' || failed.kind === 'Crashed')) await lossReported(LOSS_GRACE_MS);
    const reported = takeGpuError();
    const payload = fatal ?? (reported && failed.kind === 'Backend' ? reported : failed);
    if (FATAL_KINDS.includes(payload.kind)) end(payload);
    post({ id: request.id, type: 'failed', error: payload });
  } finally {
    cancelled.delete(request.id);
  }
}

function takeGpuError(): ErrorPayload | null {
  const error = gpuError;
  gpuError = null;
  return error;
}

/** Each module's bindings and its .wasm, as literal paths so that bundlers (Vite) see both. */
const MODULES: Record<Backend, () => Promise<[WasmModule, URL]>> = {
  webgpu: async () => [await import('../pkg/webgpu/lediflow.js'), new URL('../pkg/webgpu/lediflow_bg.wasm', import.meta.url)],
  cpu: async () => [await import('../pkg/cpu/lediflow.js'), new URL('../pkg/cpu/lediflow_bg.wasm', import.meta.url)],
};

/**
 * Downloads, compiles and starts one of the two wasm modules. Only a failed download is
 * `Network`: each step is tried on its own, because an error's text cannot tell them apart (a
 * module that does not link says "Import #0 …", and V8 makes some link errors `TypeError`s).
 */
async function startModule(backend: Backend): Promise<WasmModule> {
  const fail = (kind: 'Network' | 'Backend', message: string) =>
    new LeDiFlowError(kind, `cannot start the WebAssembly runtime (${backend} module): ${message}`);
  let module: WasmModule;
  let binary: globalThis.Response;
  try {
    let url: URL;
    [module, url] = await MODULES[backend]();
    binary = await fetch(url);
  } catch (e) {
    // A glue script that loaded but does not parse is broken, not offline.
    throw fail(e instanceof SyntaxError ? 'Backend' : 'Network', (e as Error).message);
  }
  if (!binary.ok) throw fail('Network', `HTTP ${binary.status} ${binary.statusText} for ${binary.url}`.trim());
  try {
    const exports = await module.default({ module_or_path: binary });
    // For the browser tests: the wasm linear memory's size, which a rejected input must not blow
    // up (tests/web/hostile.spec.ts).
    Object.defineProperty(self, 'lediflowWasmMemoryBytes', { value: () => exports?.memory?.buffer.byteLength ?? null, configurable: true });
    // Diagnostics, like `lediflowGpuDevice` (gpu.ts): how often the wasm's static constructors
    // ran, which must stay 1 (crate/wasm/src/constructors.rs; checked by tests/web/webgpu.spec.ts).
    Object.defineProperty(self, 'lediflowStaticConstructorRuns', { value: module.staticConstructorRuns, configurable: true });
    Object.defineProperty(self, 'lediflowModule', { value: backend, configurable: true });
    return module;
  } catch (e) {
    // The response arrived; its body breaking off mid-stream is the one network failure left here
    // (compile and link errors start "WebAssembly.instantiate…", never like these).
    const message = (e as Error).message;
    throw fail(e instanceof TypeError && /network error|failed to fetch/i.test(message) ? 'Network' : 'Backend', message);
  }
}

function createIn(module: WasmModule, backend: BackendChoice, dequantize: InitRequest['dequantize']): Promise<WasmGenerator> {
  return module.Generator.create({ backend, dequantize });
}

/** The parts of `GPUAdapter` read here (the DOM lib has no WebGPU types). */
interface AdapterLike {
  /** Where Chromium 131+ and the spec put it. */
  info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; device?: string; description?: string };
  /** Where older browsers put it. */
  isFallbackAdapter?: boolean;
}

/** Opening words of the reason for a fallback adapter (the demo's badge and the tests key on them). */
const SOFTWARE_ADAPTER_REASON = 'the WebGPU adapter is a fallback (software) adapter';

/**
 * Why 'auto' should not use WebGPU here, or `null` when a hardware adapter exists. A fallback
 * adapter (`isFallbackAdapter`, e.g. Chromium's SwiftShader on a machine without a GPU) counts as
 * none: it ran the demo's first grid in 41.6 s where the CPU module took 3.4 s (issue 23).
 */
async function webgpuMissing(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
  if (!gpu) return 'no WebGPU adapter: this browser has no WebGPU (navigator.gpu is missing)';
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return `no WebGPU adapter: ${(e as Error).message}`;
  }
  if (!adapter) return 'no WebGPU adapter: requestAdapter() found none';
  if (adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter) {
    const name = adapterWords(adapter.info) || 'unnamed';
    return `${SOFTWARE_ADAPTER_REASON} (${name}, isFallbackAdapter: true), much slower than the CPU module; backend: 'webgpu' uses it anyway`;
  }
  return null;
}

function adapterWords(info: AdapterLike['info']): string {
  const words = [info?.vendor, info?.architecture, info?.device, info?.description].filter((w) => w);
  return [...new Set(words)].join(' ');
}

/**
 * The generator for `backend`: 'cpu' and 'webgpu' load their module; 'auto' asks the browser for
 * an adapter first and loads the WebGPU module only when there is one, falling back to the CPU
 * module when there is none or when the WebGPU module cannot get a device from it.
 */
async function createGenerator(request: InitRequest): Promise<{ created: WasmGenerator; fallbackReason: string | null }> {
  if (request.backend === 'cpu') return { created: await createIn(await startModule('cpu'), 'cpu', request.dequantize), fallbackReason: null };
  let fallbackReason = request.backend === 'auto' ? await webgpuMissing() : null;
  if (fallbackReason === null) {
    const module = await startModule('webgpu');
    try {
      return { created: await createIn(module, request.backend, request.dequantize), fallbackReason: null };
    } catch (e) {
      const failed = toErrorPayload(e);
      if (request.backend !== 'auto' || failed.kind !== 'NoAdapter') throw e;
      fallbackReason = failed.message;
    }
  }
  return { created: await createIn(await startModule('cpu'), 'cpu', request.dequantize), fallbackReason };
}

async function initialise(request: InitRequest & { id: number }): Promise<InitResult> {
  if (generator) throw new LeDiFlowError('InvalidState', 'this worker already holds a generator');
  const { created, fallbackReason } = await createGenerator(request);
  generator = created;
  // Diagnostics for the browser tests: our WGSL matmul and row norm against their host references
  // on this device (tests/web/webgpu.spec.ts); it rejects on the CPU, where the shaders do not run.
  Object.defineProperty(self, 'lediflowCheckKernels', { value: () => created.checkKernels(), configurable: true });
  // How often each of our WGSL kernels was dispatched (the tests' proof that they ran).
  Object.defineProperty(self, 'lediflowKernelDispatches', { value: () => created.kernelDispatches(), configurable: true });
  const onProgress = progressPoster(request.id);
  const model = await loadWeights(created, request.source, onProgress);
  imageSize = model.imageSize;
  let warmUpMs: number | null = null;
  if (request.warmUp && created.backend === 'webgpu') {
    // The first run of each kernel compiles its shader; one small image pays for nearly all of them.
    const { bytes, source } = model;
    const done = { bytesReceived: bytes, totalBytes: bytes, tensorsReady: 0, tensorsTotal: null, etaSeconds: null };
    onProgress({ phase: 'warm-up', ...done, fromCache: source === 'cache' });
    const started = performance.now();
    await created.sample({ seed: 0, count: 1, steps: 1, latentSteps: 1 });
    warmUpMs = performance.now() - started;
  }
  return {
    warmUpMs,
    backend: created.backend,
    adapterName: created.backend === 'webgpu' ? await describeAdapter(created.adapterName) : '',
    fallbackReason: fallbackReason ?? created.fallbackReason ?? null,
    wgslKernels: created.wgslKernels,
    model,
  };
}

/**
 * In a browser wgpu learns no adapter name (it reports its backend, "BrowserWebGpu"); the page's
 * own `GPUAdapter.info` says which GPU it is, e.g. "google swiftshader" or "nvidia ampere".
 */
async function describeAdapter(fromWasm: string): Promise<string> {
  try {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
    return adapterWords((await gpu?.requestAdapter())?.info) || fromWasm;
  } catch {
    return fromWasm;
  }
}

async function addWeights(request: AddWeightsRequest & { id: number }): Promise<ModelInfo> {
  if (!generator) throw new LeDiFlowError('InvalidState', 'the generator is not loaded, or was disposed');
  // The networks loaded next start without recordings.
  replayEvaluations(generator, false);
  return loadWeights(generator, request.source, progressPoster(request.id));
}

function progressPoster(id: number): (progress: LoadProgress) => void {
  return (progress) => post({ id, type: 'progress', progress });
}

async function run(request: RunRequest & { id: number }): Promise<RunResult> {
  if (!generator) throw new LeDiFlowError('InvalidState', 'the generator is not loaded, or was disposed');
  const { replay, ...options } = request.options;
  if (replay !== undefined && typeof replay !== 'boolean') {
    throw new LeDiFlowError('InvalidOptions', `replay must be true or false, got ${String(replay)}`);
  }
  replayEvaluations(generator, replay === true);
  if (request.preview) {
    const onStep: wasm.OnStep = (step, steps, pixels) => {
      // Throwing here is how a request stops mid-way: the runtime ends it at this step.
      if (cancelled.has(request.id)) throw abortedError();
      const buffer = ownBuffer(pixels);
      const count = buffer.byteLength / (imageSize * imageSize * 4);
      post({ id: request.id, type: 'step', step, steps, width: imageSize, height: imageSize, count, pixels: buffer }, [buffer]);
    };
    options.onStep = onStep;
  }
  // The runtime reads and checks the options, naming a mistyped field (crate/wasm/src/options.rs).
  const before = webGpuCalls();
  const result =
    request.type === 'interpolate'
      ? await generator.interpolate(options as wasm.InterpolateCall)
      : await generator[request.type](options as wasm.InpaintCall);
  return { ...result, pixels: ownBuffer(result.pixels), webgpu: since(before) };
}

/**
 * Whether the networks record each evaluation once and replay it after (`replay: true` calls):
 * a replay re-encodes the recorded dispatches, with no bind group made per dispatch, which takes a
 * quarter off a batch-1 image on a GPU and costs at batch 16 (BENCHMARKS.md, "Dawn at 64 px,
 * replayed evaluations"). A call without `replay` drops the recordings, so only a run of replaying
 * calls (the demo's live slider) holds their memory.
 */
let replaying = false;

function replayEvaluations(target: WasmGenerator, on: boolean): void {
  if (on === replaying) return;
  target.recordEvaluations(on);
  replaying = on;
}

/** A transferable buffer holding exactly these bytes (a view into wasm memory must be copied). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
}
