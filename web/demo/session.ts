/**
 * The demo's one generator: created at start-up from the URL's options, re-created after a
 * fatal error (a lost GPU device or a crashed worker), shown in the status bar.
 */

import {
  createGenerator,
  LeDiFlowError,
  listModels,
  type BackendChoice,
  type DequantizeChoice,
  type Generator,
  type LoadProgress,
  type ManifestModel,
} from '../src/index.js';
import { describeError, formatBytes, formatMs, formatSeconds } from './format.js';
import { shippedWeights } from './shipped.js';

export type State = 'loading' | 'ready' | 'error';

export class Session {
  current: Generator | null = null;
  /** The LeDiFlow models of the manifest (the shipped one, or `?manifest=`), for the picker. */
  models: ManifestModel[] = [];
  private readonly readyListeners: ((generator: Generator) => void)[] = [];
  private readonly params = new URLSearchParams(location.search);
  private listed = false;

  /** Called with each new generator (the first one, and after every restart). */
  onReady(listener: (generator: Generator) => void): void {
    this.readyListeners.push(listener);
    if (this.current) listener(this.current);
  }

  param(name: string): string | null {
    return this.params.get(name);
  }

  /** The picked model's manifest entry; `null` for `?weights=` or a manifest that lists none. */
  get model(): ManifestModel | null {
    const name = this.param('model');
    return this.models.find((m) => m.name === name) ?? (name === null ? (this.models[0] ?? null) : null);
  }

  /** Loads another model of the manifest in a new generator (`?model=` follows, for reloads and links). */
  chooseModel(name: string): void {
    this.params.set('model', name);
    history.replaceState(null, '', `?${this.params.toString()}${location.hash}`);
    void this.start();
  }

  /**
   * Fills the model picker once. A manifest that cannot be listed leaves it hidden:
   * `createGenerator` then reports what is wrong with it, as it did without a picker.
   */
  private async listModels(): Promise<void> {
    if (this.listed || this.param('weights') !== null) return;
    this.listed = true;
    try {
      this.models = await listModels(this.param('manifest') ?? undefined);
    } catch {
      this.models = [];
    }
    const picker = byId('model-picker') as HTMLSelectElement;
    picker.replaceChildren(
      ...this.models.map((m) => {
        const option = document.createElement('option');
        option.value = m.name;
        option.textContent = m.bytes === null ? m.name : `${m.name} (${formatBytes(m.bytes)})`;
        return option;
      }),
    );
    picker.addEventListener('change', () => this.chooseModel(picker.value));
    byId('model-choice').hidden = this.models.length === 0;
  }

  async start(): Promise<void> {
    this.current?.dispose();
    this.current = null;
    setState('loading');
    hide(byId('fatal'));
    byId('backend').textContent = 'Starting…';
    byId('backend').className = 'badge';
    byId('weights').hidden = false;
    const picker = byId('model-picker') as HTMLSelectElement;
    picker.disabled = true;
    try {
      await this.listModels();
      const model = this.param('model') ?? this.model?.name;
      if (model !== undefined) picker.value = model;
      // A shipped LeDiFlow model the main module does not name loads through its own module.
      const listed = this.models.some((m) => m.name === model);
      const ownModule = listed && this.param('weights') === null && this.param('manifest') === null ? await shippedWeights(model) : null;
      const generator = await createGenerator({
        ...(ownModule ?? {
          weights: this.param('weights') ?? undefined,
          manifest: this.param('manifest') ?? undefined,
          model,
        }),
        backend: (this.param('backend') as BackendChoice | null) ?? 'auto',
        warmUp: this.param('warmup') !== '0',
        dequantize: (this.param('dequantize') as DequantizeChoice | null) ?? undefined,
        onProgress: showProgress,
      });
      this.current = generator;
      showLoaded(generator);
      showBackend(generator);
      showModel(generator);
      setState('ready');
      for (const listener of this.readyListeners) listener(generator);
      // A lost GPU device (or a crash) is shown when it happens, not at the next click.
      void generator.ended.then((error) => {
        if (this.current !== generator || !error.fatal) return;
        setState('error');
        byId('backend').textContent = 'Stopped';
        byId('backend').className = 'badge bad';
        this.showError(byId('fatal'), error);
      });
    } catch (error) {
      setState('error');
      byId('backend').textContent = 'Not running';
      byId('backend').className = 'badge bad';
      this.showError(byId('fatal'), error, true);
    } finally {
      // Another model can be picked whether this one loaded or not.
      picker.disabled = false;
    }
  }

  /** Updates the model and weights lines (after more weights were added). */
  showModel(): void {
    if (!this.current) return;
    showModel(this.current);
    showLoaded(this.current);
  }

  /**
   * Shows an error in `box`. Errors that end the generator, and any failure to start one, get a
   * button that starts a new one (a new worker; the weights then come from the cache).
   */
  showError(box: HTMLElement, error: unknown, offerRestart = false): void {
    box.replaceChildren(document.createTextNode(describeError(error)));
    if (offerRestart || (error instanceof LeDiFlowError && error.fatal)) {
      const restart = document.createElement('button');
      restart.type = 'button';
      restart.textContent = this.current ? 'Restart the generator' : 'Try again';
      restart.addEventListener('click', () => {
        hide(box);
        void this.start();
      });
      box.append(' ', restart);
    }
    box.hidden = false;
    console.error(error);
  }
}

function showProgress(p: LoadProgress): void {
  if (p.phase === 'warm-up') {
    byId('weights-text').textContent += ' · compiling the GPU shaders (one small image)…';
    return;
  }
  const bar = byId('weights-bar') as HTMLProgressElement;
  const total = p.totalBytes ?? 0;
  bar.max = Math.max(total, 1);
  bar.value = Math.min(p.bytesReceived, bar.max);
  const source = p.fromCache ? ' from the browser cache' : '';
  const amount = total ? `${formatBytes(p.bytesReceived)} of ${formatBytes(total)}` : formatBytes(p.bytesReceived);
  const eta = p.etaSeconds === null ? '' : p.etaSeconds > 0 ? `, ${formatSeconds(p.etaSeconds)} left` : '';
  const tensors = p.tensorsTotal ? ` (${p.tensorsReady}/${p.tensorsTotal} tensors)` : '';
  byId('weights-text').textContent = `${amount}${source}${eta}${tensors}`;
}

/** Replaces the progress line (and its "compiling the GPU shaders…") with what the load did. */
function showLoaded(generator: Generator): void {
  const { bytes, source } = generator.model;
  const from = source === 'cache' ? ' from the browser cache' : '';
  const warmUp = generator.warmUpMs === null ? '' : ` · GPU shaders compiled in ${formatMs(generator.warmUpMs)}`;
  byId('weights-text').textContent = `${formatBytes(bytes)} loaded${from}${warmUp}`;
}

function showBackend(generator: Generator): void {
  const badge = byId('backend');
  if (generator.backend === 'webgpu') {
    const warmUp = generator.warmUpMs === null ? '' : ` · warm-up ${formatMs(generator.warmUpMs)}`;
    badge.textContent = `WebGPU · ${generator.adapterName || 'unnamed adapter'}${warmUp}`;
    badge.className = 'badge good';
  } else {
    // The runtime's reason is precise but long; the badge says it in words, the tooltip in full.
    const why = !generator.fallbackReason
      ? 'the CPU was asked for'
      : /fallback \(software\) adapter/.test(generator.fallbackReason)
        ? 'WebGPU here is a software renderer, slower than the CPU'
        : 'gpu' in navigator
        ? 'WebGPU found no usable adapter'
        : 'this browser has WebGPU turned off or lacks it';
    badge.textContent = `CPU fallback — ${why}`;
    badge.className = 'badge warn';
    badge.title = `The networks run on the CPU (burn's ndarray backend in WebAssembly). ${generator.fallbackReason ?? ''}`.trim();
  }
}

function showModel(generator: Generator): void {
  const m = generator.model;
  const networks = m.baseline ? ' (with the baseline)' : '';
  byId('model-info').textContent = `${m.name} · ${m.imageSize}×${m.imageSize} px · ${formatBytes(m.bytes)} of weights${networks}${
    m.source === 'cache' ? ' (from cache)' : ''
  }`;
}

export function setState(state: State): void {
  document.body.dataset.state = state;
}

export function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

export function hide(element: HTMLElement): void {
  element.hidden = true;
  element.replaceChildren();
}
