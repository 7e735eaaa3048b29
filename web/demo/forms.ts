/** Small helpers shared by the sections: form values, busy buttons, error boxes. */

import type { Session } from './session.js';
import { hide } from './session.js';

export function numberField(form: HTMLFormElement, name: string): number {
  return Number((form.elements.namedItem(name) as HTMLInputElement).value);
}

export function textField(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
}

/**
 * Runs `task` with `controls` disabled and the section's error box cleared first; an error ends
 * up in the box (never a silent failure).
 */
export async function runTask(
  session: Session,
  errorBox: HTMLElement,
  controls: (HTMLButtonElement | HTMLInputElement)[],
  task: () => Promise<void>,
): Promise<void> {
  hide(errorBox);
  for (const control of controls) control.disabled = true;
  document.body.dataset.busy = String(Number(document.body.dataset.busy ?? 0) + 1);
  try {
    await task();
  } catch (error) {
    session.showError(errorBox, error);
  } finally {
    for (const control of controls) control.disabled = session.current === null;
    document.body.dataset.busy = String(Number(document.body.dataset.busy) - 1);
  }
}

/** Enables these controls whenever a generator is ready. */
export function enableWhenReady(session: Session, controls: (HTMLButtonElement | HTMLInputElement)[]): void {
  session.onReady(() => {
    for (const control of controls) control.disabled = false;
  });
}
