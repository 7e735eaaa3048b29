/** Small helpers shared by the sections: form values, busy buttons, cancelling, error boxes. */

import { LeDiFlowError } from '../src/index.js';
import type { Session } from './session.js';
import { hide } from './session.js';

export function numberField(form: HTMLFormElement, name: string): number {
  return Number((form.elements.namedItem(name) as HTMLInputElement).value);
}

export function textField(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
}

export interface TaskControls {
  /** Disabled while the task runs. */
  disable: (HTMLButtonElement | HTMLInputElement)[];
  /** Shown and enabled while the task runs; a click aborts the task's signal. */
  cancel: HTMLButtonElement;
  /** Told "Cancelled." when the task stops that way. */
  note?: HTMLElement;
}

/**
 * Runs `task` with its controls disabled, its Cancel button live and the section's error box
 * cleared first; an error ends up in the box (never a silent failure), a cancel in the note.
 * Resolves `'done'`, `'cancelled'` or `'failed'`.
 */
export async function runTask(
  session: Session,
  errorBox: HTMLElement,
  controls: TaskControls,
  task: (signal: AbortSignal) => Promise<void>,
): Promise<'done' | 'cancelled' | 'failed'> {
  hide(errorBox);
  const abort = new AbortController();
  const cancel = () => abort.abort();
  for (const control of controls.disable) control.disabled = true;
  controls.cancel.hidden = false;
  controls.cancel.disabled = false;
  controls.cancel.addEventListener('click', cancel);
  document.body.dataset.busy = String(Number(document.body.dataset.busy ?? 0) + 1);
  try {
    await task(abort.signal);
    return 'done';
  } catch (error) {
    if (abort.signal.aborted && error instanceof LeDiFlowError && error.kind === 'Aborted') {
      if (controls.note) controls.note.textContent = 'Cancelled.';
      return 'cancelled';
    }
    session.showError(errorBox, error);
    return 'failed';
  } finally {
    controls.cancel.removeEventListener('click', cancel);
    controls.cancel.hidden = true;
    for (const control of controls.disable) control.disabled = session.current === null;
    document.body.dataset.busy = String(Number(document.body.dataset.busy) - 1);
  }
}

/** Enables these controls whenever a generator is ready. */
export function enableWhenReady(session: Session, controls: (HTMLButtonElement | HTMLInputElement)[]): void {
  session.onReady(() => {
    for (const control of controls) control.disabled = false;
  });
}

/** Throws `Aborted` if the signal fired: for loops of several requests, between them. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new LeDiFlowError('Aborted', 'cancelled');
}
