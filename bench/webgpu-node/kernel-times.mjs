// GPU time per kernel of one steady-state sample of the browser build on Dawn (npm `webgpu` in
// Node), to see which of cubecl's kernels a Dawn setting (e.g. its robustness pass) slows down.
//
//   node bench/webgpu-node/kernel-times.mjs --model models/landscapes-64.ldf [--pkg web/pkg/webgpu] \
//     [--batch 1] [--config lediflow:heun:2] [--replays 5] [--top 25] [--grids 15] [--json out.json] \
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
// The floor of that method is measured the same way: an empty kernel (one invocation that does
// nothing), a pass each, as many times as the sample has dispatches; what a kernel takes above
// it is its own. `--grids N` lists the N costliest (kernel, workgroup grid) pairs: one network
// layer's shape each, so a kernel's time splits by the layers that call it.
import { readFileSync, writeFileSync } from 'node:fs';

import { installDawn, loadBrowserBuild } from './dawn.mjs';

const args = { model: 'models/landscapes-64.ldf', pkg: 'web/pkg/webgpu', batch: 1, config: 'lediflow:heun:2', replays: 5, top: 25, grids: 15, json: '' };
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

// The method's floor: an empty kernel, a pass per dispatch, as many as the sample's.
const empty = device.createComputePipeline({
  label: '(empty kernel)',
  layout: 'auto',
  compute: { module: device.createShaderModule({ code: '@compute @workgroup_size(1) fn main() {}' }), entryPoint: 'main' },
});
const floorDispatches = dispatches.map(() => ({ pipeline: empty, groups: [], x: 1, y: 1, z: 1 }));

// Replay: one pass per dispatch, two timestamps each; a query set holds at most 4096.
const perSet = 2048;
let failure = null;
device.addEventListener('uncapturederror', (event) => { failure ??= event.error.message; });
const floorNanos = await timeEach(floorDispatches);
started = performance.now();
const nanos = await timeEach(dispatches);
const replayMs = (performance.now() - started) / args.replays;
if (failure) throw new Error(`the replay failed: ${failure}`);

/** Each dispatch's GPU nanoseconds in every replay, a pass each. */
async function timeEach(dispatches) {
  const nanos = dispatches.map(() => []);
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
  return nanos;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const floorNs = median(floorNanos.map(median));
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
console.log(`the method's floor, an empty kernel in a pass of its own: ${(floorNs / 1e3).toFixed(2)} µs (median), ${((floorNs * dispatches.length) / 1e6).toFixed(2)} ms for ${dispatches.length}`);
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
// By (kernel, grid): one layer shape each.
const byGrid = new Map();
dispatches.forEach((d, i) => {
  const label = pipelineLabels.get(d.pipeline) ?? '(unknown)';
  const grid = d.indirect ? 'indirect' : `${d.x}x${d.y}x${d.z}`;
  const key = `${label} ${grid}`;
  const entry = byGrid.get(key) ?? { label, grid, dispatches: 0, ns: 0 };
  entry.dispatches += 1; entry.ns += median(nanos[i]);
  byGrid.set(key, entry);
});
const grids = [...byGrid.values()].sort((a, b) => b.ns - a.ns);
console.log('\n| kernel | workgroups | dispatches | GPU ms | µs each | above the floor, µs each |');
console.log('|---|---|---|---|---|---|');
for (const g of grids.slice(0, args.grids)) {
  const each = g.ns / g.dispatches;
  console.log(`| ${g.label} | ${g.grid} | ${g.dispatches} | ${(g.ns / 1e6).toFixed(3)} | ${(each / 1e3).toFixed(1)} | ${((each - floorNs) / 1e3).toFixed(1)} |`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ config: args.config, batch: args.batch, dawn: dawnOptions, sampleMs, totalMs: totalNs / 1e6, floorUs: floorNs / 1e3, grids: grids.map(({ label, grid, dispatches: n, ns }) => ({ label, grid, dispatches: n, ms: ns / 1e6 })), kernels: rows.map(({ label, dispatches: n, ns, maxNs }) => ({ label, dispatches: n, ms: ns / 1e6, maxUs: maxNs / 1e3 })), families: families.map(({ family, kernels, dispatches: n, ns }) => ({ family, kernels, dispatches: n, ms: ns / 1e6 })) }, null, 1));
generator.dispose();
process.exit(0);
