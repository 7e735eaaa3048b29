/**
 * `lediflow`: LeDiFlow image generation in the browser.
 *
 * ```ts
 * import { createGenerator } from 'lediflow';
 * const generator = await createGenerator({ onProgress: (p) => console.log(p.bytesReceived) });
 * const { images } = await generator.sample({ seed: 1, count: 4 });
 * ```
 *
 * Each generator owns one module Web Worker running the wasm runtime; this module only posts
 * messages and turns pixel buffers into `ImageData`.
 */

import { LeDiFlowError, fromErrorPayload } from './errors.js';
import { fetchManifest, pickEntry, type ManifestEntry } from './weights.js';
import type { AddWeightsRequest, InitRequest, InitResult, Response, RunRequest, RunResult, WeightsSource } from './protocol.js';
import type {
  AddWeightsOptions,
  Backend,
  CreateOptions,
  GenerateResult,
  InpaintOptions,
  InterpolateOptions,
  LoadProgress,
  ManifestModel,
  ModelInfo,
  SampleOptions,
  StepCallback,
} from './types.js';

export { LeDiFlowError, type ErrorKind } from './errors.js';
export type * from './types.js';

/**
 * The models this package ships by manifest name, and their manifest (resolved by bundlers as
 * assets: each file needs its own literal `new URL(…, import.meta.url)`, since a bundler renames
 * what it emits and the manifest's `file` then names nothing). The baseline is not named here but
 * in `lediflow/baseline` (baseline.ts), and the 128-px models in `lediflow/landscapes-128`
 * (landscapes128.ts), so that a bundler emits their files only for apps that import them. A name
 * the shipped manifest lists but this table lacks is fetched relative to the manifest, which
 * works wherever `models/` is served as it is.
 */
const SHIPPED_MODELS = new Map<string, URL>([['landscapes-64', new URL('../../models/landscapes-64.ldf', import.meta.url)]]);
const SHIPPED_MANIFEST = new URL('../../models/manifest.json', import.meta.url);
/** What `createGenerator()` loads without `weights`, `manifest` or `model`. */
const DEFAULT_MODEL = 'landscapes-64';

export interface Generator {
  readonly backend: Backend;
  /** The WebGPU adapter's name; empty on the CPU. */
  readonly adapterName: string;
  /** Why `backend: 'auto'` fell back to the CPU, if it did. */
  readonly fallbackReason: string | null;
  /** Whether the crate's own WGSL kernels (RGBA8 conversion, inpainting composite) run. */
  readonly wgslKernels: boolean;
  /** Milliseconds the WebGPU warm-up took (mostly shader compilation); `null` without one. */
  readonly warmUpMs: number | null;
  /** The loaded model; `addWeights` updates it. */
  readonly model: ModelInfo;
  /**
   * Streams another weight file whose networks join the model, e.g. the baseline flow model for
   * `method: 'baseline'`: `addWeights(shippedBaseline)` with `import { shippedBaseline } from
   * 'lediflow/baseline'` loads the one this package ships. `weights` or `manifest` is required.
   */
  addWeights(options: AddWeightsOptions): Promise<ModelInfo>;
  sample(options?: SampleOptions): Promise<GenerateResult>;
  /** Regenerates the masked pixels; the others come back exactly as given. */
  inpaint(options: InpaintOptions): Promise<GenerateResult>;
  interpolate(options: InterpolateOptions): Promise<GenerateResult>;
  /**
   * Resolves (never rejects) with the error that ended this generator: `DeviceLost` or `Crashed`
   * as soon as the worker notices, even while no call runs (e.g. the GPU driver was reset), or
   * `InvalidState` after `dispose()`. Every pending and later call fails with the same error;
   * after a fatal one (`error.fatal`), call `createGenerator` again for a new worker.
   */
  readonly ended: Promise<LeDiFlowError>;
  /** Stops the worker. Later calls fail with `InvalidState`. */
  dispose(): void;
}

interface Pending {
  resolve: (value: unknown) => void;
  /** Called once the request leaves `pending`, answered or not (removes the abort listener). */
  settled?: () => void;
  reject: (error: LeDiFlowError) => void;
  onProgress?: (progress: LoadProgress) => void;
  onStep?: StepCallback;
}

/** Streams the weights into a new worker and resolves once the model is ready. */
export async function createGenerator(options: CreateOptions = {}): Promise<Generator> {
  const request: InitRequest = {
    type: 'init',
    backend: options.backend ?? 'auto',
    dequantize: options.dequantize ?? 'host',
    source: weightsSource(options, true),
    warmUp: options.warmUp ?? true,
  };
  const connection = new WorkerConnection();
  try {
    const info = (await connection.call(request, { onProgress: options.onProgress })) as InitResult;
    return new WorkerGenerator(connection, info, request.source.cache);
  } catch (error) {
    connection.close();
    throw error;
  }
}

/**
 * Resolves URLs against the page. Without `weights`: with a `manifest`, the manifest's entry names
 * the file; with neither, the shipped manifest's entry `model` (default `landscapes-64`), from the
 * shipped file of that name where there is one.
 */
function weightsSource(options: AddWeightsOptions & { cache?: boolean }, shipped: boolean): WeightsSource {
  const resolve = (url: string | URL) => new URL(String(url), pageBase()).href;
  const cache = options.cache ?? true;
  if (options.weights === undefined && options.manifest === undefined) {
    if (!shipped) {
      throw new LeDiFlowError(
        'InvalidOptions',
        "name the weights (or a manifest); for the shipped baseline: import { shippedBaseline } from 'lediflow/baseline', then addWeights(shippedBaseline)",
      );
    }
    // By name, never by file name: a bundler may rename the shipped file (content hashes).
    const model = options.model ?? DEFAULT_MODEL;
    const weights = SHIPPED_MODELS.get(model);
    return { weightsUrl: weights?.href ?? null, manifestUrl: SHIPPED_MANIFEST.href, model, weightsFile: null, cache };
  }
  const weightsUrl = options.weights !== undefined ? resolve(options.weights) : null;
  return {
    weightsUrl,
    manifestUrl: options.manifest === undefined ? null : resolve(options.manifest),
    model: options.model ?? null,
    weightsFile: weightsUrl && fileName(weightsUrl),
    cache,
  };
}

function pageBase(): string | undefined {
  return typeof document !== 'undefined' ? document.baseURI : globalThis.location?.href;
}

/**
 * The LeDiFlow models a manifest lists (default: the shipped one), in its order, for a model
 * picker: every entry except the files that hold only a baseline, each with the name of the entry
 * holding its baseline (the baseline-only entry of the same `config`), if any. Load one with
 * `createGenerator({ manifest, model: name })`, or `createGenerator({ model: name })` for the
 * shipped manifest. Entries without a `file` and a SHA-256 are left out: they cannot load.
 */
export async function listModels(manifest?: string | URL): Promise<ManifestModel[]> {
  const url = manifest === undefined ? SHIPPED_MANIFEST.href : new URL(String(manifest), pageBase()).href;
  const parsed = await fetchManifest(url);
  const entries: { name: string; entry: ManifestEntry }[] = [];
  for (const name of Object.keys(parsed.models)) {
    try {
      entries.push(pickEntry(parsed, url, name, null));
    } catch {
      // Not loadable: createGenerator would refuse it too, naming the problem.
    }
  }
  const networks = (entry: ManifestEntry) => (Array.isArray(entry.networks) ? entry.networks.filter((n): n is string => typeof n === 'string') : null);
  const baselineOnly = (entry: ManifestEntry) => {
    const n = networks(entry);
    return n !== null && n.includes('baseline') && !n.includes('flow');
  };
  const config = (entry: ManifestEntry) => (typeof entry.config === 'string' ? entry.config : null);
  return entries
    .filter(({ entry }) => !baselineOnly(entry))
    .map(({ name, entry }) => ({
      name,
      manifest: url,
      file: entry.file,
      sha256: entry.sha256,
      bytes: typeof entry.bytes === 'number' ? entry.bytes : null,
      networks: networks(entry),
      config: config(entry),
      baseline: entries.find((b) => baselineOnly(b.entry) && config(b.entry) !== null && config(b.entry) === config(entry))?.name ?? null,
    }));
}

class WorkerConnection {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedBy: LeDiFlowError | null = null;
  private resolveEnded!: (error: LeDiFlowError) => void;
  /** The first error that closed this connection (see `Generator.ended`). */
  readonly ended = new Promise<LeDiFlowError>((resolve) => (this.resolveEnded = resolve));

  constructor() {
    // This exact form is what Vite and webpack recognise and bundle as a module worker.
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (event: MessageEvent<Response>) => this.receive(event.data);
    // An uncaught error or a failed module load: the worker cannot be trusted any more.
    this.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const detail = event.message || 'the worker script failed to load or threw';
      this.close(new LeDiFlowError('Crashed', `the generator's worker stopped: ${detail}`));
    };
    this.worker.onmessageerror = () => this.close(new LeDiFlowError('Crashed', 'a worker message could not be read'));
  }

  call(
    request: InitRequest | AddWeightsRequest | RunRequest,
    handlers: { onProgress?: Pending['onProgress']; onStep?: StepCallback } = {},
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    if (signal?.aborted) return Promise.reject(aborted());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // The caller is answered at once; the worker is told, so that it skips or stops the request
      // instead of keeping every later one waiting behind it.
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        signal?.removeEventListener('abort', onAbort);
        this.worker.postMessage({ type: 'cancel', target: id });
        reject(aborted());
      };
      const settled = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { resolve, reject, settled, ...handlers });
      signal?.addEventListener('abort', onAbort);
      try {
        this.worker.postMessage({ ...request, id });
      } catch (e) {
        this.pending.delete(id);
        settled();
        reject(new LeDiFlowError('InvalidOptions', `the options cannot be sent to the worker: ${(e as Error).message}`));
      }
    });
  }

  close(reason = new LeDiFlowError('InvalidState', 'the generator was disposed')): void {
    this.worker.terminate();
    this.fail(reason);
  }

  private fail(error: LeDiFlowError): void {
    if (!this.closedBy) {
      this.closedBy = error;
      this.resolveEnded(error);
    }
    for (const pending of this.pending.values()) {
      pending.settled?.();
      pending.reject(this.closedBy);
    }
    this.pending.clear();
  }

  private receive(message: Response): void {
    if (message.type === 'fatal') {
      // The device was lost or the wasm trapped: a request in flight may never be answered, so
      // it fails now, and the worker (its memory, its device) goes.
      this.close(fromErrorPayload(message.error));
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case 'progress':
        pending.onProgress?.(message.progress);
        break;
      case 'step':
        pending.onStep?.({
          step: message.step,
          steps: message.steps,
          images: toImages(message.pixels, message.width, message.height, message.count),
        });
        break;
      case 'done':
        this.pending.delete(message.id);
        pending.settled?.();
        pending.resolve(message.value);
        break;
      case 'failed':
        this.pending.delete(message.id);
        pending.settled?.();
        pending.reject(fromErrorPayload(message.error));
        break;
    }
  }
}

class WorkerGenerator implements Generator {
  readonly backend: Backend;
  readonly adapterName: string;
  readonly fallbackReason: string | null;
  readonly wgslKernels: boolean;
  readonly warmUpMs: number | null;
  readonly ended: Promise<LeDiFlowError>;
  model: ModelInfo;

  constructor(
    private readonly connection: WorkerConnection,
    info: InitResult,
    private readonly cache: boolean,
  ) {
    this.backend = info.backend;
    this.adapterName = info.adapterName;
    this.fallbackReason = info.fallbackReason;
    this.wgslKernels = info.wgslKernels;
    this.warmUpMs = info.warmUpMs;
    this.model = info.model;
    this.ended = connection.ended;
  }

  async addWeights(options: AddWeightsOptions): Promise<ModelInfo> {
    const source = weightsSource({ ...options, cache: this.cache }, false);
    const request: AddWeightsRequest = { type: 'addWeights', source };
    const added = (await this.connection.call(request, { onProgress: options.onProgress })) as ModelInfo;
    this.model = {
      ...added,
      bytes: this.model.bytes + added.bytes,
      source: this.model.source === 'cache' && added.source === 'cache' ? 'cache' : 'network',
    };
    return this.model;
  }

  sample(options: SampleOptions = {}): Promise<GenerateResult> {
    const { onStep, signal, ...rest } = options;
    return this.run('sample', rest, onStep, signal);
  }

  inpaint(options: InpaintOptions): Promise<GenerateResult> {
    const { onStep, signal, image, ...rest } = options;
    const pixels = image instanceof Uint8Array || image instanceof Uint8ClampedArray ? image : image?.data;
    return this.run('inpaint', { ...rest, image: pixels }, onStep, signal);
  }

  interpolate(options: InterpolateOptions): Promise<GenerateResult> {
    const { signal, ...rest } = options;
    return this.run('interpolate', rest, undefined, signal);
  }

  dispose(): void {
    // Terminating the worker frees the wasm memory and the GPU device with it.
    this.connection.close();
  }

  private async run(
    type: RunRequest['type'],
    options: Record<string, unknown>,
    onStep?: StepCallback,
    signal?: AbortSignal,
  ): Promise<GenerateResult> {
    // Functions cannot be posted; the runtime checks everything else, naming a mistyped field.
    for (const [key, value] of Object.entries(options)) {
      if (typeof value === 'function') delete options[key];
    }
    const request: RunRequest = { type, options, preview: onStep !== undefined };
    const result = (await this.connection.call(request, { onStep }, signal)) as RunResult;
    return {
      images: toImages(result.pixels, result.width, result.height, result.count),
      nfe: result.nfe,
      times: result.times,
      backend: result.backend,
      dispatches: result.dispatches,
      webgpu: result.webgpu,
    };
  }
}

/** Splits image-after-image RGBA8 bytes into one `ImageData` per image. */
function toImages(pixels: ArrayBuffer, width: number, height: number, count: number): ImageData[] {
  const size = width * height * 4;
  return Array.from({ length: count }, (_, k) => new ImageData(new Uint8ClampedArray(pixels.slice(k * size, (k + 1) * size)), width, height));
}

function aborted(): LeDiFlowError {
  return new LeDiFlowError('Aborted', 'the request was cancelled');
}

function fileName(url: string): string {
  return new URL(url).pathname.split('/').pop() ?? '';
}
