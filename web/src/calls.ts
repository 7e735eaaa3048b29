/**
 * Counts the WebGPU calls the wasm runtime makes in this worker, per request (issue 22): at
 * batch 1 a sample's time goes to the host's cost per call, so the number of dispatches is the
 * number to cut, and it is the same on every GPU (SwiftShader included).
 *
 * How: like `gpu.ts`, the prototypes are wrapped before the wasm starts WebGPU (the wasm-bindgen
 * glue calls `GPUComputePassEncoder.prototype.dispatchWorkgroups` and the rest through them).
 * Each wrapper adds one to a counter; that is all the cost. Dispatches are also counted per kernel,
 * named by the compute pipeline's label (cubecl labels a pipeline with its kernel's entry point;
 * ours come from `crate/core/src/kernels/`), for the breakdown in BENCHMARKS.md.
 *
 * `lediflowWebGpuCalls()` (a worker global, diagnostics like `lediflowGpuDevice`) returns the
 * counts since the worker started, with the per-kernel table.
 */

/** WebGPU calls made during one request; `webgpu` in a result's timings. */
export interface WebGpuCalls {
  /** `dispatchWorkgroups` and `dispatchWorkgroupsIndirect` on compute passes. */
  dispatches: number;
  /** `GPUQueue.submit`. */
  submits: number;
  /** `GPUCommandEncoder.beginComputePass`. */
  passes: number;
  /** `GPUDevice.createBindGroup`. */
  bindGroups: number;
  /** `GPUBuffer.mapAsync`: each readback of results, a wait for the GPU to finish its queue. */
  readbacks: number;
}

/** Counts since the worker started. */
const total: WebGpuCalls = { dispatches: 0, submits: 0, passes: 0, bindGroups: 0, readbacks: 0 };
/** Dispatches since the worker started, by the label of the pipeline that was set. */
const byKernel = new Map<string, number>();
let installed = false;

type Proto = Record<string, unknown>;
type Method = (this: unknown, ...args: unknown[]) => unknown;

/** The global the diagnostic function lives in (see the module comment). */
export const CALLS_GLOBAL = 'lediflowWebGpuCalls';

/**
 * Installs the counters in this worker; call it before the wasm initialises WebGPU. Does nothing
 * where the browser has no WebGPU (then every count stays 0).
 */
export function countWebGpuCalls(): void {
  const g = globalThis as unknown as Record<string, { prototype: Proto } | undefined>;
  const Pass = g.GPUComputePassEncoder;
  const Queue = g.GPUQueue;
  const Encoder = g.GPUCommandEncoder;
  const Device = g.GPUDevice;
  const Buffer = g.GPUBuffer;
  if (installed || !Pass || !Queue || !Encoder || !Device || !Buffer) return;
  installed = true;

  const labels = new WeakMap<object, string>();
  /** The kernel each pass encoder last set, for the per-kernel table. */
  const current = new WeakMap<object, string>();
  const kernel = (pass: object) => {
    const name = current.get(pass) ?? '(unknown)';
    byKernel.set(name, (byKernel.get(name) ?? 0) + 1);
  };
  const wrap = (proto: Proto, name: string, before: (self: object, args: unknown[]) => void, after?: (self: object, args: unknown[], value: unknown) => void) => {
    const original = proto[name] as Method | undefined;
    if (typeof original !== 'function') return;
    proto[name] = function (this: object, ...args: unknown[]) {
      before(this, args);
      const value = original.apply(this, args);
      after?.(this, args, value);
      return value;
    };
  };
  const count = (key: keyof WebGpuCalls) => () => {
    total[key] += 1;
  };

  wrap(Pass.prototype, 'dispatchWorkgroups', (pass) => {
    total.dispatches += 1;
    kernel(pass);
  });
  wrap(Pass.prototype, 'dispatchWorkgroupsIndirect', (pass) => {
    total.dispatches += 1;
    kernel(pass);
  });
  wrap(Pass.prototype, 'setPipeline', (pass, [pipeline]) => {
    current.set(pass, (pipeline ? labels.get(pipeline as object) : undefined) ?? '(unlabelled)');
  });
  wrap(Queue.prototype, 'submit', count('submits'));
  wrap(Encoder.prototype, 'beginComputePass', count('passes'));
  wrap(Device.prototype, 'createBindGroup', count('bindGroups'));
  wrap(Buffer.prototype, 'mapAsync', count('readbacks'));
  const label = (descriptor: unknown) => {
    const d = descriptor as { label?: string; compute?: { entryPoint?: string } } | undefined;
    return d?.label || d?.compute?.entryPoint || '(unlabelled)';
  };
  wrap(Device.prototype, 'createComputePipeline', () => {}, (_device, [descriptor], pipeline) => {
    if (pipeline && typeof pipeline === 'object') labels.set(pipeline, label(descriptor));
  });
  // The async variant resolves to the pipeline; label it when it arrives.
  const createAsync = Device.prototype.createComputePipelineAsync as Method | undefined;
  if (typeof createAsync === 'function') {
    Device.prototype.createComputePipelineAsync = function (this: unknown, descriptor: unknown) {
      return (createAsync.call(this, descriptor) as Promise<object>).then((pipeline) => {
        labels.set(pipeline, label(descriptor));
        return pipeline;
      });
    };
  }

  Object.defineProperty(globalThis, CALLS_GLOBAL, {
    value: () => ({ ...total, byKernel: Object.fromEntries([...byKernel].sort((a, b) => b[1] - a[1])) }),
    configurable: true,
  });
}

/** The counts so far; `since(before)` gives one request's. */
export function webGpuCalls(): WebGpuCalls {
  return { ...total };
}

/** What was counted since `before` (a `webGpuCalls()` taken at the request's start). */
export function since(before: WebGpuCalls): WebGpuCalls {
  return {
    dispatches: total.dispatches - before.dispatches,
    submits: total.submits - before.submits,
    passes: total.passes - before.passes,
    bindGroups: total.bindGroups - before.bindGroups,
    readbacks: total.readbacks - before.readbacks,
  };
}
