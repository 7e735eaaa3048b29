/**
 * The module Web Worker that owns the wasm runtime: the page thread never computes.
 *
 * Requests run one at a time, in arrival order (one wasm instance, one device). A trap in the
 * wasm (a Rust panic ends in `unreachable`) or a lost GPU device leaves the instance unusable:
 * from then on every request fails with that error, and the page creates a new worker.
 * Disposing is terminating the worker, which frees the wasm memory and the GPU device with it.
 */

import init, { Generator as WasmGeneratorClass } from '../pkg/lediflow.js';
import { FATAL_KINDS, LeDiFlowError, toErrorPayload, type ErrorPayload } from './errors.js';
import type {
  AddWeightsRequest,
  InitRequest,
  InitResult,
  Request,
  Response,
  RunRequest,
  RunResult,
  WeightsSource,
} from './protocol.js';
import type { Backend, LoadProgress, ModelInfo } from './types.js';
import { cachedWeights, deleteStaleWeights, fetchManifest, fetchOk, forgetWeights, pickEntry, storeWeights } from './weights.js';

/** The slice of the wasm API this worker uses (crate/src/web/bindings.rs). */
interface WasmGenerator {
  readonly backend: Backend;
  readonly adapterName: string;
  readonly fallbackReason: string | undefined;
  readonly wgslKernels: boolean;
  load(chunk: Uint8Array): { bytesReceived: number; totalBytes: number | null; tensorsReady: number; tensorsTotal: number | null };
  finishLoad(): Promise<{ name: string; imageSize: number; networks: string[]; sha256: string; baseline: boolean }>;
  sample(options: object): Promise<WasmResult>;
  inpaint(options: object): Promise<WasmResult>;
  interpolate(options: object): Promise<WasmResult>;
}

interface WasmResult extends Omit<RunResult, 'pixels'> {
  pixels: Uint8Array;
}

type StepHook = (step: number, steps: number, pixels: Uint8Array) => void;

/** The worker's global scope (typed here: the DOM and WebWorker libs cannot be combined). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: Response, transfer: Transferable[]): void;
};
let generator: WasmGenerator | null = null;
let imageSize = 0;
let fatal: ErrorPayload | null = null;
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  queue = queue.then(() => handle(request));
};

function post(message: Response, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function handle(request: Request): Promise<void> {
  try {
    if (fatal) throw new LeDiFlowError(fatal.kind, fatal.message);
    const value =
      request.type === 'init'
        ? await initialise(request)
        : request.type === 'addWeights'
          ? await addWeights(request)
          : await run(request);
    if (value && 'pixels' in value) post({ id: request.id, type: 'done', value }, [value.pixels]);
    else post({ id: request.id, type: 'done', value });
  } catch (error) {
    const payload = toErrorPayload(error);
    if (FATAL_KINDS.includes(payload.kind)) fatal = payload;
    post({ id: request.id, type: 'failed', error: payload });
  }
}

async function initialise(request: InitRequest & { id: number }): Promise<InitResult> {
  if (generator) throw new LeDiFlowError('InvalidState', 'this worker already holds a generator');
  try {
    await init({ module_or_path: new URL('../pkg/lediflow_bg.wasm', import.meta.url) });
  } catch (e) {
    // A failed download of the .wasm is a network problem; a module that does not compile is not.
    const message = (e as Error).message;
    const kind = e instanceof TypeError || /fetch/i.test(message) ? 'Network' : 'Backend';
    throw new LeDiFlowError(kind, `cannot start the WebAssembly runtime: ${message}`);
  }
  const created = (await WasmGeneratorClass.create({ backend: request.backend })) as unknown as WasmGenerator;
  generator = created;
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
    fallbackReason: created.fallbackReason ?? null,
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
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } }).gpu;
    const info = (await gpu?.requestAdapter())?.info;
    const words = [info?.vendor, info?.architecture, info?.device, info?.description].filter((w) => w);
    return words.length ? [...new Set(words)].join(' ') : fromWasm;
  } catch {
    return fromWasm;
  }
}

async function addWeights(request: AddWeightsRequest & { id: number }): Promise<ModelInfo> {
  if (!generator) throw new LeDiFlowError('InvalidState', 'the generator is not loaded, or was disposed');
  return loadWeights(generator, request.source, progressPoster(request.id));
}

function progressPoster(id: number): (progress: LoadProgress) => void {
  return (progress) => post({ id, type: 'progress', progress });
}

async function loadWeights(
  wasm: WasmGenerator,
  source: WeightsSource,
  onProgress: (progress: LoadProgress) => void,
): Promise<ModelInfo> {
  const manifest = source.manifestUrl ? await fetchManifest(source.manifestUrl) : null;
  const picked = manifest ? pickEntry(manifest, source.manifestUrl!, source.model, source.weightsFile) : null;
  const useCache = source.cache && picked !== null;
  const weightsUrl = source.weightsUrl ?? (picked && new URL(picked.entry.file, source.manifestUrl!).href);
  if (!weightsUrl) throw new LeDiFlowError('InvalidOptions', 'give the weights URL, or a manifest that names the file');

  if (useCache) {
    const { name, entry } = picked;
    const cached = await cachedWeights(name, entry.sha256);
    let info: ModelInfo | null = null;
    if (cached?.body) {
      try {
        info = await streamInto(wasm, cached, entry.sha256, true, entry.bytes, onProgress, null);
      } catch (e) {
        // A damaged cache entry must not brick the page: forget it and download again.
        if (!(e instanceof LeDiFlowError) || e.kind !== 'BadWeights') throw e;
        await forgetWeights(name, entry.sha256);
      }
    }
    if (!info) {
      const keep: Uint8Array[] = [];
      info = await streamInto(wasm, await fetchOk(weightsUrl, 'weights'), entry.sha256, false, entry.bytes, onProgress, keep);
      await storeWeights(name, entry.sha256, keep);
    }
    await deleteStaleWeights(name, entry.sha256);
    return info;
  }
  const response = await fetchOk(weightsUrl, 'weights');
  return streamInto(wasm, response, picked?.entry.sha256 ?? null, false, picked?.entry.bytes, onProgress, null);
}

/** Streams a response body into `load()`, reporting progress at most every 100 ms. */
async function streamInto(
  wasm: WasmGenerator,
  response: globalThis.Response,
  expectedSha256: string | null,
  fromCache: boolean,
  manifestBytes: number | undefined,
  onProgress: (progress: LoadProgress) => void,
  keep: Uint8Array[] | null,
): Promise<ModelInfo> {
  const lengthHeader = Number(response.headers.get('Content-Length'));
  const knownTotal = manifestBytes ?? (lengthHeader > 0 ? lengthHeader : null);
  const started = performance.now();
  let lastReport = -Infinity;
  let state = { bytesReceived: 0, totalBytes: knownTotal, tensorsReady: 0, tensorsTotal: null as number | null };
  /** `force` skips the throttle; `done` means nothing is left to wait for (ETA 0). */
  const report = (force: boolean, done = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    const total = state.totalBytes ?? knownTotal;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? state.bytesReceived / seconds : 0;
    const etaSeconds = done ? 0 : total !== null && rate > 0 ? Math.max(0, (total - state.bytesReceived) / rate) : null;
    onProgress({ phase: 'weights', ...state, totalBytes: total, etaSeconds, fromCache });
  };

  report(true);
  const reader = response.body!.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new LeDiFlowError('Network', `the weight download broke off: ${(e as Error).message}`);
    }
    if (chunk.done) break;
    const progress = wasm.load(chunk.value);
    state = { ...progress, totalBytes: progress.totalBytes ?? knownTotal };
    keep?.push(chunk.value);
    report(false);
  }
  report(true);
  const loaded = await wasm.finishLoad();
  report(true, true);
  if (expectedSha256 !== null && loaded.sha256 !== expectedSha256) {
    throw new LeDiFlowError(
      'BadWeights',
      `the weights' SHA-256 ${loaded.sha256} does not match the manifest's ${expectedSha256}`,
    );
  }
  return { ...loaded, bytes: state.bytesReceived, source: fromCache ? 'cache' : 'network' };
}

async function run(request: RunRequest & { id: number }): Promise<RunResult> {
  if (!generator) throw new LeDiFlowError('InvalidState', 'the generator is not loaded, or was disposed');
  const options: Record<string, unknown> = { ...request.options };
  if (request.preview) {
    const onStep: StepHook = (step, steps, pixels) => {
      const buffer = ownBuffer(pixels);
      const count = buffer.byteLength / (imageSize * imageSize * 4);
      post({ id: request.id, type: 'step', step, steps, width: imageSize, height: imageSize, count, pixels: buffer }, [buffer]);
    };
    options.onStep = onStep;
  }
  const result = await generator[request.type](options);
  return { ...result, pixels: ownBuffer(result.pixels) };
}

/** A transferable buffer holding exactly these bytes (a view into wasm memory must be copied). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return whole ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
}
