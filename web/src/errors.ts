/**
 * Typed errors. Every failure that reaches the caller is a `LeDiFlowError` whose `kind` a page
 * can switch on; the wasm API's kinds pass through unchanged, and the wrapper adds its own.
 */

export type ErrorKind =
  // From the wasm API (crate/wasm/src/error.rs).
  | 'NoAdapter' // backend 'webgpu' was asked for and the browser has no WebGPU adapter
  | 'DeviceLost' // the GPU device was lost: create a new generator
  | 'OutOfMemory'
  | 'BadWeights' // a corrupt, truncated or unexpected weight file (also: hash ≠ manifest)
  | 'InvalidOptions' // options out of range, e.g. steps 0 or a mask of the wrong size
  | 'InvalidState' // a call before the weights loaded, or after dispose()
  | 'Backend' // any other failure of the compute backend
  // Added by this wrapper.
  | 'Network' // the weights, the manifest or the wasm could not be fetched (offline, 404, CORS)
  | 'Aborted' // the call's `signal` was aborted: the generator stays usable
  | 'Crashed'; // the wasm instance trapped or the worker died: create a new generator

/** Kinds after which this generator is unusable and `createGenerator` must be called again. */
export const FATAL_KINDS: readonly ErrorKind[] = ['DeviceLost', 'Crashed'];

export class LeDiFlowError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = `LeDiFlow${kind}Error`;
    this.kind = kind;
  }

  /** Whether the generator that threw this must be re-created (a new worker). */
  get fatal(): boolean {
    return FATAL_KINDS.includes(this.kind);
  }
}

/** What crosses the worker boundary: `Error` subclasses lose their class in structured cloning. */
export interface ErrorPayload {
  kind: ErrorKind;
  message: string;
}

const KNOWN_KINDS = new Set<string>([
  'NoAdapter',
  'DeviceLost',
  'OutOfMemory',
  'BadWeights',
  'InvalidOptions',
  'InvalidState',
  'Backend',
  'Network',
  'Aborted',
  'Crashed',
]);

/**
 * Sorts anything thrown into a payload. A WebAssembly `RuntimeError` (a Rust panic ends in
 * `unreachable`) leaves the instance in an undefined state, so it is `Crashed`, not `Backend`.
 */
export function toErrorPayload(error: unknown): ErrorPayload {
  if (error instanceof LeDiFlowError) return { kind: error.kind, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError) {
    return { kind: 'Crashed', message: `the WebAssembly runtime trapped (${message}); create a new generator` };
  }
  const kind = (error as { kind?: unknown } | null)?.kind;
  if (typeof kind === 'string' && KNOWN_KINDS.has(kind)) return { kind: kind as ErrorKind, message };
  return { kind: 'Backend', message };
}

export function fromErrorPayload(payload: ErrorPayload): LeDiFlowError {
  return new LeDiFlowError(payload.kind, payload.message);
}
