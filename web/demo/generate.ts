/** The Generate section: a grid of samples with progressive previews, costs and downloads. */

import type { Solver } from '../src/index.js';
import { describeCost } from './format.js';
import { numberField, runTask, textField, enableWhenReady } from './forms.js';
import { button, downloadPng, draw, figure, type Figure } from './images.js';
import { byId, type Session } from './session.js';

export function setupGenerate(session: Session, sendToInpaint: (canvas: HTMLCanvasElement, seed: number) => void): void {
  const form = byId('generate-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const random = byId('generate-random') as HTMLButtonElement;
  const grid = byId('generate-grid');
  const note = byId('generate-note');
  const errorBox = byId('generate-error');
  enableWhenReady(session, [submit, random]);

  const generate = () =>
    runTask(session, errorBox, [submit, random], async () => {
      const generator = session.current!;
      const seed = numberField(form, 'seed');
      const count = numberField(form, 'count');
      const steps = numberField(form, 'steps');
      const solver = textField(form, 'solver') as Solver;
      const figures: Figure[] = Array.from({ length: count }, (_, k) => figure(`seed ${seed + k}`));
      grid.replaceChildren(...figures.map((f) => f.figure));
      grid.dataset.state = 'running';
      note.textContent = `Sampling ${count} image${count > 1 ? 's' : ''}…`;
      const result = await generator.sample({
        seed,
        count,
        solver,
        steps,
        onStep: ({ step, steps: total, images }) => {
          images.forEach((image, k) => draw(figures[k].canvas, image));
          note.textContent = `Solver step ${step} of ${total}…`;
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
      note.textContent = `${count} image${count > 1 ? 's' : ''} on ${result.backend === 'webgpu' ? 'WebGPU' : 'the CPU'}, ${solver} × ${steps}: ${describeCost(result)} for the batch.`;
      grid.dataset.state = 'done';
    });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void generate();
  });
  random.addEventListener('click', () => {
    (form.elements.namedItem('seed') as HTMLInputElement).value = String(Math.floor(Math.random() * 1e6));
    void generate();
  });
  if (session.param('autorun') !== '0') {
    let first = true;
    session.onReady(() => {
      if (first) void generate();
      first = false;
    });
  }
}
