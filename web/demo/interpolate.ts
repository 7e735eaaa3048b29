/**
 * The Interpolate section: frames along the path between two seeds, a slider and Play.
 *
 * Each frame is its own request, drawn as soon as it arrives (a batch of all of them showed a grey
 * canvas for 7 s on the CPU), and Cancel stops the path between two frames.
 */

import type { GenerateResult } from '../src/index.js';
import { describeCost, formatMs } from './format.js';
import { enableWhenReady, numberField, runTask, throwIfCancelled } from './forms.js';
import { draw } from './images.js';
import { byId, type Session } from './session.js';

export function setupInterpolate(session: Session): void {
  const form = byId('interpolate-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const cancel = byId('interpolate-cancel') as HTMLButtonElement;
  const slider = byId('interpolate-slider') as HTMLInputElement;
  const play = byId('interpolate-play') as HTMLButtonElement;
  const canvas = byId('interpolate-canvas') as HTMLCanvasElement;
  const caption = byId('interpolate-caption');
  const note = byId('interpolate-note');
  let frames: ImageData[] = [];
  let alphas: number[] = [];
  let timer: number | undefined;
  enableWhenReady(session, [submit]);

  const show = () => {
    const k = Number(slider.value);
    if (!frames[k]) return;
    draw(canvas, frames[k]);
    caption.textContent = `α = ${alphas[k].toFixed(3)}`;
  };
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
  };
  slider.addEventListener('input', show);
  play.addEventListener('click', () => {
    if (timer !== undefined) return stop();
    let direction = 1;
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
    // Back and forth, so the walk never jumps from B to A.
    timer = window.setInterval(() => {
      const next = Number(slider.value) + direction;
      if (next < 0 || next > Number(slider.max)) direction = -direction;
      slider.value = String(Number(slider.value) + direction);
      show();
    }, 120);
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    stop();
    void runTask(session, byId('interpolate-error'), { disable: [submit], cancel, note }, async (signal) => {
      const count = numberField(form, 'frames');
      const seedA = numberField(form, 'seedA');
      const seedB = numberField(form, 'seedB');
      alphas = Array.from({ length: count }, (_, k) => k / (count - 1));
      frames = [];
      form.dataset.state = 'running';
      form.dataset.frames = '0';
      slider.disabled = play.disabled = true;
      let totalMs = 0;
      let last: GenerateResult | null = null;
      for (const [k, alpha] of alphas.entries()) {
        throwIfCancelled(signal);
        note.textContent = `Frame ${k + 1} of ${count}…`;
        last = await session.current!.interpolate({ seedA, seedB, alphas: [alpha], signal });
        frames.push(last.images[0]);
        totalMs += last.times.totalMs;
        // The newest frame on screen; the slider reaches every frame computed so far.
        slider.max = String(frames.length - 1);
        slider.value = String(k);
        slider.disabled = false;
        show();
        form.dataset.frames = String(frames.length);
      }
      play.disabled = false;
      note.textContent = `${count} frames: ${formatMs(totalMs)} (per frame: ${describeCost(last!)})`;
      form.dataset.cost = describeCost(last!);
      form.dataset.state = 'done';
    }).then((outcome) => {
      if (outcome === 'done') return;
      form.dataset.state = outcome;
      play.disabled = frames.length < 2;
    });
  });
}
