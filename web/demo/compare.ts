/**
 * LeDiFlow vs. baseline: the same seeds, each method with its own solver and steps, side by side
 * with their times. The defaults are the evaluation's (docs/eval/report.md, BENCHMARKS.md "The wide
 * latent sampler"): LeDiFlow midpoint × 2 against the baseline's best, midpoint × 32. The baseline flow
 * model is a weight file of its own, streamed on the first comparison only.
 */

import type { AddWeightsOptions, GenerateResult, Method, Solver } from '../src/index.js';
import { describeCost, formatBytes, formatMs } from './format.js';
import { enableWhenReady, numberField, runTask, textField, throwIfCancelled } from './forms.js';
import { draw, figure } from './images.js';
import { byId, type Session } from './session.js';
import { shippedWeights } from './shipped.js';

const METHODS: { method: Method; title: string }[] = [
  { method: 'lediflow', title: 'LeDiFlow' },
  { method: 'baseline', title: 'the baseline' },
];

export function setupCompare(session: Session): void {
  const form = byId('compare-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const cancel = byId('compare-cancel') as HTMLButtonElement;
  const note = byId('compare-note');
  const summary = byId('compare-summary');
  enableWhenReady(session, [submit]);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void runTask(session, byId('compare-error'), { disable: [submit], cancel, note }, async (signal) => {
      const generator = session.current!;
      if (!generator.model.baseline) await loadBaseline(session, note);
      throwIfCancelled(signal);
      const seed = numberField(form, 'seed');
      const count = numberField(form, 'count');
      summary.textContent = '';
      for (const { method } of METHODS) {
        byId(`compare-${method}`).replaceChildren();
        byId(`compare-${method}`).dataset.state = 'waiting';
        byId(`compare-${method}-time`).textContent = '…';
      }
      const totals: Partial<Record<Method, { ms: number; settings: string }>> = {};
      for (const { method, title } of METHODS) {
        const solver = textField(form, `${method}-solver`) as Solver;
        const steps = numberField(form, `${method}-steps`);
        note.textContent = `Sampling with ${title}, ${solver} × ${steps}…`;
        const result = await generator.sample({
          seed,
          count,
          solver,
          steps,
          method,
          signal,
          onStep: ({ step, steps: total }) => (note.textContent = `Sampling with ${title}, ${solver} × ${steps}: step ${step} of ${total}…`),
        });
        show(method, seed, `${solver} × ${steps}`, result);
        totals[method] = { ms: result.times.totalMs, settings: `${solver} × ${steps}` };
      }
      const { lediflow, baseline } = totals as Record<Method, { ms: number; settings: string }>;
      const faster = baseline.ms >= lediflow.ms ? `LeDiFlow ${(baseline.ms / lediflow.ms).toFixed(1)}×` : `the baseline ${(lediflow.ms / baseline.ms).toFixed(1)}×`;
      summary.textContent = `LeDiFlow ${lediflow.settings}: ${formatMs(lediflow.ms)} · baseline ${baseline.settings}: ${formatMs(baseline.ms)} · ${faster} faster`;
      note.textContent = '';
    });
  });
}

/**
 * `?baseline=URL`, else the baseline the manifest pairs with the picked model: the shipped one
 * from its own module (so that only a page that compares carries it, under the name the bundler
 * gave the file), any other through the manifest.
 */
async function loadBaseline(session: Session, note: HTMLElement): Promise<void> {
  const url = session.param('baseline');
  if (session.param('weights') && !url) {
    throw new Error('this page runs custom weights: name their baseline file with ?baseline=URL to compare');
  }
  const model = session.model;
  const shipped = session.param('manifest') === null ? await shippedWeights(model === null ? 'baseline-64' : model.baseline) : null;
  let source: AddWeightsOptions;
  if (url) source = { weights: url, manifest: session.param('manifest') ?? undefined };
  else if (shipped) source = shipped;
  else if (model?.baseline) source = { manifest: model.manifest, model: model.baseline };
  else throw new Error(`the manifest lists no baseline for ${model ? `the model ${model.name}` : 'this model'}: name one with ?baseline=URL to compare`);
  note.textContent = 'Loading the baseline weights…';
  await session.current!.addWeights({
    ...source,
    onProgress: (p) => {
      const total = p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : '';
      note.textContent = `Loading the baseline weights: ${formatBytes(p.bytesReceived)}${total}${p.fromCache ? ' from the browser cache' : ''}…`;
    },
  });
  session.showModel();
}

function show(method: Method, seed: number, settings: string, result: GenerateResult): void {
  const row = byId(`compare-${method}`);
  row.replaceChildren(
    ...result.images.map((image, k) => {
      const f = figure(`${method} seed ${seed + k}`);
      draw(f.canvas, image);
      f.caption.textContent = `seed ${seed + k}`;
      return f.figure;
    }),
  );
  byId(`compare-${method}-time`).textContent = `${settings} · ${describeCost(result)}`;
  row.dataset.state = 'done';
}
