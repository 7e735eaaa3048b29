/**
 * LeDiFlow vs. baseline: the same seeds and steps, side by side, with their costs. The baseline
 * flow model is a weight file of its own, streamed on the first comparison only.
 */

import type { GenerateResult, Method, Solver } from '../src/index.js';
import { describeCost, formatBytes } from './format.js';
import { enableWhenReady, numberField, runTask, textField } from './forms.js';
import { draw, figure } from './images.js';
import { byId, type Session } from './session.js';

export function setupCompare(session: Session): void {
  const form = byId('compare-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const note = byId('compare-note');
  enableWhenReady(session, [submit]);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void runTask(session, byId('compare-error'), [submit], async () => {
      const generator = session.current!;
      if (!generator.model.baseline) await loadBaseline(session, note);
      const settings = {
        seed: numberField(form, 'seed'),
        count: numberField(form, 'count'),
        steps: numberField(form, 'steps'),
        solver: textField(form, 'solver') as Solver,
      };
      for (const method of ['lediflow', 'baseline'] as Method[]) {
        byId(`compare-${method}`).replaceChildren();
        byId(`compare-${method}-time`).textContent = '…';
      }
      for (const method of ['lediflow', 'baseline'] as Method[]) {
        note.textContent = `Sampling with ${method === 'lediflow' ? 'LeDiFlow' : 'the baseline'}…`;
        show(method, settings.seed, await generator.sample({ ...settings, method }));
      }
      note.textContent = '';
    });
  });
}

/** The shipped baseline, or `?baseline=URL` for a page started with `?weights=URL`. */
async function loadBaseline(session: Session, note: HTMLElement): Promise<void> {
  const url = session.param('baseline');
  if (session.param('weights') && !url) {
    throw new Error('this page runs custom weights: name their baseline file with ?baseline=URL to compare');
  }
  note.textContent = 'Loading the baseline weights…';
  await session.current!.addWeights({
    weights: url ?? undefined,
    manifest: url ? (session.param('manifest') ?? undefined) : undefined,
    onProgress: (p) => {
      const total = p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : '';
      note.textContent = `Loading the baseline weights: ${formatBytes(p.bytesReceived)}${total}${p.fromCache ? ' from the browser cache' : ''}…`;
    },
  });
  session.showModel();
}

function show(method: Method, seed: number, result: GenerateResult): void {
  const row = byId(`compare-${method}`);
  row.replaceChildren(
    ...result.images.map((image, k) => {
      const f = figure(`${method} seed ${seed + k}`);
      draw(f.canvas, image);
      f.caption.textContent = `seed ${seed + k}`;
      return f.figure;
    }),
  );
  byId(`compare-${method}-time`).textContent = describeCost(result);
  row.dataset.state = 'done';
}
