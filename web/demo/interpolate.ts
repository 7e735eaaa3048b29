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
import { byId, hide, type Session } from './session.js';

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
  setupLive(session, form);

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

/**
 * The live slider: every input event asks for the frame at its α. One frame computes at a time;
 * positions that arrive meanwhile replace each other, so the newest one is drawn next and a fast
 * drag never builds a queue. The frame rate counts the frames of the last two seconds.
 */
function setupLive(session: Session, form: HTMLFormElement): void {
  const live = byId('interpolate-live') as HTMLInputElement;
  const canvas = byId('interpolate-canvas') as HTMLCanvasElement;
  const caption = byId('interpolate-caption');
  const fps = byId('interpolate-fps');
  const errorBox = byId('interpolate-error');
  enableWhenReady(session, [live]);
  let pending: number | null = null;
  let running = false;
  const drawn: number[] = [];
  live.dataset.requested = live.dataset.rendered = live.dataset.dropped = '0';
  const count = (key: 'requested' | 'rendered' | 'dropped') => {
    live.dataset[key] = String(Number(live.dataset[key]) + 1);
  };

  const render = async () => {
    running = true;
    hide(errorBox);
    try {
      while (pending !== null) {
        const alpha = pending;
        pending = null;
        const generator = session.current;
        if (!generator) break;
        const seedA = numberField(form, 'seedA');
        const seedB = numberField(form, 'seedB');
        // No stage timing: the call waits only for its image, never for a stage in between. Every
        // frame evaluates the networks at the same times and shape, so they are replayed.
        const result = await generator.interpolate({ seedA, seedB, alphas: [alpha], stageTimes: false, replay: true });
        draw(canvas, result.images[0]);
        caption.textContent = `α = ${alpha.toFixed(3)} (live)`;
        const now = performance.now();
        drawn.push(now);
        while (drawn.length > 0 && drawn[0] < now - 2000) drawn.shift();
        const span = drawn.length > 1 ? (now - drawn[0]) / 1000 : 0;
        fps.textContent = span > 0 ? `${((drawn.length - 1) / span).toFixed(1)} frames/s` : `${formatMs(result.times.totalMs)} per frame`;
        live.dataset.alpha = String(alpha);
        count('rendered');
      }
    } catch (error) {
      pending = null;
      session.showError(errorBox, error);
    } finally {
      running = false;
    }
  };

  live.addEventListener('input', () => {
    count('requested');
    if (pending !== null) count('dropped');
    pending = Number(live.value) / Number(live.max);
    if (!running) void render();
  });
}
