/**
 * Checks of the option values' types, before a request leaves the page. The runtime checks the
 * ranges (steps 1..=1000, count 1..=64, …) and names the field; but values that are not numbers
 * of its types at all (NaN and ±Infinity, which JSON turns into `null`; fractions, negative or
 * huge whole numbers for counts; strings) fail there in its JSON parser, whose message names no
 * field, and a `priorStdScale` of NaN would even pass as unset. Here each is an `InvalidOptions`
 * error that names the field (tests/web/hostile.spec.ts, issue 24).
 */

import { LeDiFlowError } from './errors.js';

/** Counts (a `usize` in the wasm, 32 bits wide): whole numbers in 0..2^32. */
const WHOLE = ['steps', 'latentSteps', 'count'];
/** Seeds and scales: any finite number (the runtime checks the range). */
const FINITE = ['seed', 'seedA', 'seedB', 'priorStdScale'];
const TEXT = ['solver', 'latentSolver', 'method'];

function invalid(message: string): LeDiFlowError {
  return new LeDiFlowError('InvalidOptions', `invalid options: ${message}`);
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Throws `InvalidOptions` naming the first field whose value is of the wrong type. */
export function checkOptionTypes(options: Record<string, unknown>): void {
  for (const key of WHOLE) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw invalid(`${key} must be a whole number, got ${shown(v)}`);
    }
  }
  for (const key of FINITE) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) throw invalid(`${key} must be a finite number, got ${shown(v)}`);
  }
  for (const key of TEXT) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'string') throw invalid(`${key} must be a string, got ${shown(v)}`);
  }
  if ('alphas' in options) {
    const alphas = options.alphas;
    if (!Array.isArray(alphas)) throw invalid(`alphas must be an array of numbers in [0, 1], got ${shown(alphas)}`);
    const bad = alphas.find((a) => !(typeof a === 'number' && Number.isFinite(a)));
    if (bad !== undefined || alphas.some((a) => a === undefined)) throw invalid(`every alpha must be a finite number in [0, 1], got ${shown(bad)}`);
  }
}
