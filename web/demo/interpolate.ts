/** The Interpolate section: frames along the path between two seeds, a slider and Play. */

import type { RgbaImage } from '../src/index.js';
import { describeCost } from './format.js';
import { enableWhenReady, numberField, runTask } from './forms.js';
import { draw } from './images.js';
import { byId, type Session } from './session.js';

export function setupInterpolate(session: Session): void {
  const form = byId('interpolate-form') as HTMLFormElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  const slider = byId('interpolate-slider') as HTMLInputElement;
  const play = byId('interpolate-play') as HTMLButtonElement;
  const canvas = byId('interpolate-canvas') as HTMLCanvasElement;
  const caption = byId('interpolate-caption');
  let frames: RgbaImage[] = [];
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
    void runTask(session, byId('interpolate-error'), [submit], async () => {
      const count = numberField(form, 'frames');
      alphas = Array.from({ length: count }, (_, k) => k / (count - 1));
      caption.textContent = 'Computing…';
      const result = await session.current!.interpolate({
        seedA: numberField(form, 'seedA'),
        seedB: numberField(form, 'seedB'),
        alphas,
      });
      frames = result.images;
      slider.max = String(frames.length - 1);
      slider.value = '0';
      slider.disabled = play.disabled = false;
      show();
      form.dataset.cost = describeCost(result);
      form.dataset.state = 'done';
    });
  });
}
