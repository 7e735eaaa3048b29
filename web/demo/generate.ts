/**
 * The Generate section: a grid of samples with progressive previews, costs and downloads.
 *
 * Each press of Generate draws a new random seed, shown in the Seed field and in every caption,
 * so any image can be made again: type its seed (the field then keeps it for the next press).
 * The grid drawn at load uses the field's initial seed, 0.
 */

import type { Solver } from '../src/index.js';
import { describeCost } from './format.js';
import { enableWhenReady, numberField, runTask, textField } from './forms.js';
import { button, downloadPng, draw, figure, type Figure } from './images.js';
import { byId, type Session } from './session.js';

/** Seeds the page draws: below 10⁶, so that they are easy to read and to type back. */
const SEED_RANGE = 1_000_000;

export function setupGenerate(session: Session, sendToInpaint: (canvas: HTMLCanvasElement, seed: number) => void): void {
  const form = byId('generate-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const cancel = byId('generate-cancel') as HTMLButtonElement;
  const seedField = form.elements.namedItem('seed') as HTMLInputElement;
  const grid = byId('generate-grid');
  const note = byId('generate-note');
  const errorBox = byId('generate-error');
  enableWhenReady(session, [submit]);
  /** Whether the visitor typed the seed since the last run: then it is used once as typed. */
  let seedTyped = false;
  seedField.addEventListener('input', () => (seedTyped = true));

  const generate = (newSeed: boolean) =>
    runTask(session, errorBox, { disable: [submit], cancel, note }, async (signal) => {
      const generator = session.current!;
      if (newSeed) seedField.value = String(Math.floor(Math.random() * SEED_RANGE));
      seedTyped = false;
      const seed = numberField(form, 'seed');
      const count = numberField(form, 'count');
      const steps = numberField(form, 'steps');
      const solver = textField(form, 'solver') as Solver;
      const figures: Figure[] = Array.from({ length: count }, (_, k) => figure(`seed ${seed + k}`));
      grid.replaceChildren(...figures.map((f) => f.figure));
      grid.dataset.state = 'running';
      grid.dataset.seed = String(seed);
      note.textContent = `Sampling ${count} image${count > 1 ? 's' : ''} from seed ${seed}…`;
      const result = await generator.sample({
        seed,
        count,
        solver,
        steps,
        signal,
        onStep: ({ step, steps: total, images }) => {
          images.forEach((image, k) => draw(figures[k].canvas, image));
          note.textContent = `Seed ${seed}: solver step ${step} of ${total}…`;
          grid.dataset.previews = String(step);
        },
      });
      result.images.forEach((image, k) => {
        const f = figures[k];
        draw(f.canvas, image);
        f.caption.textContent = `seed ${seed + k} · ${describeCost(result, true)}`;
        f.actions.append(
          button('Download PNG', () => downloadPng(f.canvas, `lediflow-seed-${seed + k}.png`)),
          button('Inpaint this', () => sendToInpaint(f.canvas, seed + k)),
        );
      });
      note.textContent = `Seed ${seed}: ${count} image${count > 1 ? 's' : ''} on ${result.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}, ${solver} × ${steps}: ${describeCost(result)} for the batch.`;
      grid.dataset.state = 'done';
    }).then((outcome) => {
      if (outcome !== 'done') grid.dataset.state = outcome;
    });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void generate(!seedTyped);
  });
  if (session.param('autorun') !== '0') {
    let first = true;
    session.onReady(() => {
      if (first) void generate(false);
      first = false;
    });
  }
}
