// GPU time per kernel of one steady-state sample of the browser build on Dawn (npm `webgpu` in
// Node), to see which of cubecl's kernels a Dawn setting (e.g. its robustness pass) slows down.
//
//   node bench/webgpu-node/kernel-times.mjs --model models/landscapes-64.ldf [--pkg web/pkg/webgpu] \
//     [--batch 1] [--config lediflow:heun:2] [--replays 5] [--top 25] [--json out.json] \
//     [--dawn enable-dawn-features=disable_robustness ...]
//
// cubecl records many dispatches into one compute pass, so pass timestamps cannot tell kernels
// apart. Instead every dispatch of one sample is recorded (pipeline, bind groups, workgroup counts)
// and afterwards replayed, each in a compute pass of its own with timestamps at its start and end,
// in the original order, `--replays` times; the median per dispatch is summed by kernel (cubecl
// labels a pipeline with its kernel's entry point). The replay reads and writes the same buffers
// as the sample did, so its arithmetic is the sample's, not its values; no kernel here branches on
// data, so the times are the sample's too. A pass per dispatch also drops the overlap Dawn may
// find between dispatches of one pass, so the sum is an upper bound of the sample's GPU time.
import { readFileSync, writeFileSync } from 'node:fs';

import { installDawn, loadBrowserBuild } from './dawn.mjs';

const args = { model: 'models/landscapes-64.ldf', pkg: 'web/pkg/webgpu', batch: 1, config: 'lediflow:heun:2', replays: 5, top: 25, json: '' };
const dawnOptions = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (argv[i + 1] === undefined) throw new Error(`usage: see the comment at the top (no value for ${argv[i]})`);
  if (key === 'dawn') { dawnOptions.push(argv[i + 1]); continue; }
  if (!(key in args)) throw new Error(`usage: see the comment at the top (bad option ${argv[i]})`);
  args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}

// Unquantised timestamps: Dawn rounds them (to 100 µs) unless told not to.
const globals = installDawn([...dawnOptions, 'disable-dawn-features=timestamp_quantization']);

// The device must have timestamp queries, whatever wgpu asks for.
{
  const requestDevice = globals.GPUAdapter.prototype.requestDevice;
  globals.GPUAdapter.prototype.requestDevice = function (descriptor = {}) {
    const wanted = new Set(descriptor.requiredFeatures ?? []);
    if (!this.features.has('timestamp-query')) throw new Error('this adapter has no timestamp-query');
    wanted.add('timestamp-query');
    return requestDevice.call(this, { ...descriptor, requiredFeatures: [...wanted] });
  };
}

let device = null;
const pipelineLabels = new WeakMap();
let recording = null; // the dispatches of the recorded sample, or null
{
  const P = globals.GPUComputePassEncoder.prototype;
  const create = globals.GPUDevice.prototype.createComputePipeline;
  globals.GPUDevice.prototype.createComputePipeline = function (descriptor) {
    device = this;
    const pipeline = create.call(this, descriptor);
    pipelineLabels.set(pipeline, descriptor.label || descriptor.compute?.entryPoint || '(no label)');
    return pipeline;
  };
  const setPipeline = P.setPipeline;
  P.setPipeline = function (pipeline) {
    this.lediflowPipeline = pipeline;
    return setPipeline.call(this, pipeline);
  };
  const setBindGroup = P.setBindGroup;
  P.setBindGroup = function (index, group, ...offsets) {
    this.lediflowGroups ??= [];
    this.lediflowGroups[index] = [group, ...offsets.map((o) => (ArrayBuffer.isView(o) ? Array.from(o) : o))];
    return setBindGroup.call(this, index, group, ...offsets);
  };
  const dispatch = P.dispatchWorkgroups;
  P.dispatchWorkgroups = function (x, y = 1, z = 1) {
    recording?.push({ pipeline: this.lediflowPipeline, groups: (this.lediflowGroups ?? []).slice(), x, y, z });
    return dispatch.call(this, x, y, z);
  };
  const indirect = P.dispatchWorkgroupsIndirect;
  P.dispatchWorkgroupsIndirect = function (buffer, offset) {
    recording?.push({ pipeline: this.lediflowPipeline, groups: (this.lediflowGroups ?? []).slice(), indirect: [buffer, offset] });
    return indirect.call(this, buffer, offset);
  };
}

const wasm = await loadBrowserBuild(args.pkg);
const generator = await wasm.Generator.create({ backend: 'webgpu' });
generator.load(readFileSync(args.model));
await generator.finishLoad();

const [method, solver, steps] = args.config.split(':');
const options = { seed: 0, count: args.batch, method, solver, steps: Number(steps) };
await generator.sample(options); // compiles the shaders
await generator.sample(options);
recording = [];
let started = performance.now();
await generator.sample(options);
const sampleMs = performance.now() - started;
const dispatches = recording;
recording = null;
console.log(`${args.config}, batch ${args.batch}, Dawn ${JSON.stringify(dawnOptions)}: sample ${sampleMs.toFixed(1)} ms wall, ${dispatches.length} dispatches`);

// Replay: one pass per dispatch, two timestamps each; a query set holds at most 4096.
const perSet = 2048;
const nanos = dispatches.map(() => []);
let failure = null;
device.addEventListener('uncapturederror', (event) => { failure ??= event.error.message; });
started = performance.now();
for (let replay = 0; replay < args.replays; replay += 1) {
  for (let first = 0; first < dispatches.length; first += perSet) {
    const chunk = dispatches.slice(first, first + perSet);
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * chunk.length });
    const resolved = device.createBuffer({ size: 16 * chunk.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = device.createBuffer({ size: 16 * chunk.length, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const encoder = device.createCommandEncoder();
    chunk.forEach((d, k) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
      pass.setPipeline(d.pipeline);
      d.groups.forEach((entry, index) => { if (entry) pass.setBindGroup(index, entry[0], ...entry.slice(1)); });
      if (d.indirect) pass.dispatchWorkgroupsIndirect(...d.indirect); else pass.dispatchWorkgroups(d.x, d.y, d.z);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, 2 * chunk.length, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, 16 * chunk.length);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    chunk.forEach((_, k) => nanos[first + k].push(Number(stamps[2 * k + 1] - stamps[2 * k])));
    querySet.destroy(); resolved.destroy(); readback.destroy();
  }
}
if (failure) throw new Error(`the replay failed: ${failure}`);
const replayMs = (performance.now() - started) / args.replays;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const byKernel = new Map();
let totalNs = 0;
dispatches.forEach((d, i) => {
  const label = pipelineLabels.get(d.pipeline) ?? '(unknown)';
  const ns = median(nanos[i]);
  const entry = byKernel.get(label) ?? { label, dispatches: 0, ns: 0, maxNs: 0 };
  entry.dispatches += 1; entry.ns += ns; entry.maxNs = Math.max(entry.maxNs, ns);
  byKernel.set(label, entry);
  totalNs += ns;
});
const rows = [...byKernel.values()].sort((a, b) => b.ns - a.ns);
console.log(`GPU time of the dispatches (median of ${args.replays} replays, one pass each): ${(totalNs / 1e6).toFixed(2)} ms; a replay took ${replayMs.toFixed(1)} ms wall`);
console.log('| kernel | dispatches | GPU ms | share | longest µs |');
console.log('|---|---|---|---|---|');
for (const r of rows.slice(0, args.top)) {
  console.log(`| ${r.label} | ${r.dispatches} | ${(r.ns / 1e6).toFixed(3)} | ${((100 * r.ns) / totalNs).toFixed(1)} % | ${(r.maxNs / 1e3).toFixed(1)} |`);
}
// Kernel families: a label without cubecl's hash of the kernel's settings (its last `_xxxxxxxx`).
const byFamily = new Map();
for (const r of rows) {
  const family = r.label.replace(/_[0-9a-f]{8}$/, '');
  const entry = byFamily.get(family) ?? { family, kernels: 0, dispatches: 0, ns: 0 };
  entry.kernels += 1; entry.dispatches += r.dispatches; entry.ns += r.ns;
  byFamily.set(family, entry);
}
const families = [...byFamily.values()].sort((a, b) => b.ns - a.ns);
console.log('\n| kernel family | kernels | dispatches | GPU ms | share |');
console.log('|---|---|---|---|---|');
for (const f of families.slice(0, args.top)) {
  console.log(`| ${f.family} | ${f.kernels} | ${f.dispatches} | ${(f.ns / 1e6).toFixed(3)} | ${((100 * f.ns) / totalNs).toFixed(1)} % |`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ config: args.config, batch: args.batch, dawn: dawnOptions, sampleMs, totalMs: totalNs / 1e6, kernels: rows.map(({ label, dispatches: n, ns, maxNs }) => ({ label, dispatches: n, ms: ns / 1e6, maxUs: maxNs / 1e3 })), families: families.map(({ family, kernels, dispatches: n, ns }) => ({ family, kernels, dispatches: n, ms: ns / 1e6 })) }, null, 1));
generator.dispose();
process.exit(0);
