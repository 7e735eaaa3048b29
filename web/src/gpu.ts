/**
 * Watches, from JavaScript, the WebGPU device that the wasm runtime (wgpu, inside `worker.ts`)
 * computes on. wgpu tells cubecl when its device is lost, but cubecl only fails the *next*
 * synchronisation, so an idle page would learn of a driver reset only when it next asked for
 * an image (and a request in flight could wait on a device that no longer answers). Here a loss
 * is noticed the moment the browser reports it, and every error WebGPU reports without an error
 * scope (out of memory, validation) is seen too, so that no result computed alongside one is
 * reported as a success.
 *
 * How: `GPUAdapter.prototype.requestDevice` is wrapped before the wasm starts WebGPU (the
 * wasm-bindgen glue calls it through the prototype). Each device it returns is observed
 * (`device.lost`, the `uncapturederror` event, added beside wgpu's own handler) and kept, while
 * it is the latest, as the worker global `lediflowGpuDevice`.
 *
 * `lediflowGpuDevice` (read-only; `null` until WebGPU starts, and on the CPU backend) is the one
 * thing this module exposes. It exists for diagnostics: a developer in the worker's devtools
 * console, or a browser test that calls `lediflowGpuDevice.destroy()` to provoke a real device
 * loss (tests/web/webgpu.spec.ts). Only code running inside this worker can reach it. Destroying
 * the device ends the generator exactly as a driver reset would: kind `DeviceLost`.
 */

import type { ErrorPayload } from './errors.js';

/** The part of `GPUDeviceLostInfo` used here (the DOM lib has no WebGPU types). */
export interface DeviceLostInfo {
  /** `'destroyed'` (someone called `destroy()`) or `'unknown'` (driver reset, GPU removed, …). */
  reason: string;
  message: string;
}

interface ObservedDevice {
  readonly lost: Promise<DeviceLostInfo>;
  addEventListener(type: 'uncapturederror', listener: (event: Event & { error?: unknown }) => void): void;
}

interface AdapterPrototype {
  requestDevice(this: unknown, descriptor?: unknown): Promise<ObservedDevice>;
}

export interface GpuWatchHandlers {
  /** The device the runtime computes on was lost (called once per device, only for the latest). */
  lost(info: DeviceLostInfo): void;
  /** WebGPU reported an error no error scope caught: out of memory, validation, internal. */
  error(error: ErrorPayload): void;
}

/** The global that holds the watched device (see the module comment). */
export const DEVICE_GLOBAL = 'lediflowGpuDevice';

/** The latest device the runtime asked for. */
let latest: ObservedDevice | null = null;

/**
 * Installs the watch in this worker; call it before the wasm initialises WebGPU. Does nothing
 * where the browser has no WebGPU.
 */
export function watchGpuDevices(handlers: GpuWatchHandlers): void {
  const Adapter = (globalThis as { GPUAdapter?: { prototype: AdapterPrototype } }).GPUAdapter;
  if (!Adapter || typeof Adapter.prototype.requestDevice !== 'function') return;
  Object.defineProperty(globalThis, DEVICE_GLOBAL, { get: () => latest, configurable: true, enumerable: false });

  const requestDevice = Adapter.prototype.requestDevice;
  Adapter.prototype.requestDevice = function (descriptor?: unknown) {
    return requestDevice.call(this, descriptor).then((device) => {
      latest = device;
      // Registered before wgpu installs its own handlers, so these run first.
      device.addEventListener('uncapturederror', (event) => {
        if (device === latest) handlers.error(describeGpuError(event.error));
      });
      void device.lost.then((info) => {
        // Our dispose never destroys the device (it terminates the worker), so every loss of
        // the device in use is real: a driver reset, a removed GPU, or `destroy()` from outside.
        if (device === latest) handlers.lost({ reason: String(info.reason), message: String(info.message ?? '') });
      });
      return device;
    });
  };
}

/**
 * Resolves once the watched device's loss has been reported (its `lost` handler has run), or
 * after `ms`, whichever comes first; at once without a device. A failed call can be the first
 * symptom of a loss that the browser reports a moment later: waiting this long lets the caller
 * tell the two apart.
 */
export function lossReported(ms: number): Promise<void> {
  if (!latest) return Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  // `then` after the handler registered in `watchGpuDevices`, so it runs after that handler.
  return Promise.race([latest.lost.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** A `GPUError` as a typed payload: out of memory is `OutOfMemory`, anything else `Backend`. */
export function describeGpuError(error: unknown): ErrorPayload {
  const message = (error as { message?: unknown } | null)?.message;
  const text = typeof message === 'string' && message ? message : String(error);
  const name = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  const OutOfMemory = (globalThis as { GPUOutOfMemoryError?: abstract new (...args: never[]) => unknown }).GPUOutOfMemoryError;
  if ((OutOfMemory && error instanceof OutOfMemory) || name === 'GPUOutOfMemoryError') {
    return { kind: 'OutOfMemory', message: `the GPU ran out of memory: ${text}` };
  }
  const what = name === 'GPUValidationError' ? 'a validation error' : name === 'GPUInternalError' ? 'an internal error' : 'an error';
  return { kind: 'Backend', message: `WebGPU reported ${what}: ${text}` };
}
