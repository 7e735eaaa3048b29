/** The demo page: one generator (see session.ts) shared by four sections. */

import { LeDiFlowError } from '../src/index.js';
import { setupCompare } from './compare.js';
import { describeError } from './format.js';
import { setupGenerate } from './generate.js';
import { Inpainter } from './inpaint.js';
import { setupInterpolate } from './interpolate.js';
import { byId, Session } from './session.js';
import { setupTabs } from './tabs.js';

setupTabs();
const session = new Session();
const inpainter = new Inpainter(session);
setupGenerate(session, (canvas, seed) => inpainter.useCanvas(canvas, `generated, seed ${seed}`));
setupCompare(session);
setupInterpolate(session);

// Anything that escapes a section still reaches the page: never a silent, blank failure.
const showUnexpected = (error: unknown) => {
  const box = byId('fatal');
  box.textContent = describeError(error);
  box.hidden = false;
};
window.addEventListener('error', (event) => showUnexpected(event.error ?? event.message));
window.addEventListener('unhandledrejection', (event) => showUnexpected(event.reason));

// For the browser tests and the curious: the live generator and the error class.
Object.assign(window, { lediflowDemo: { session, inpainter, LeDiFlowError } });

void session.start();
