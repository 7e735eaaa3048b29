// Where one steady-state sample of the browser build spends its time on Dawn (npm `webgpu` in
// Node): counts the WebGPU calls it makes and writes a V8 CPU profile of the calling thread
// (open it in Chrome's devtools, or summarise it with `--top N`).
//
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
//     node bench/webgpu-node/profile.mjs --model models/tiny-test.ldf [--pkg web/pkg/webgpu] \
//     [--batch 1] [--configs lediflow:heun:2] [--out steady.cpuprofile] [--top 25]
//
// The first call (shader compilation) is not profiled. For function names, profile a build with
// symbols: `CARGO_PROFILE_WASM_RELEASE_STRIP=false` and `wasm-bindgen --keep-debug`, no wasm-opt
// (BENCHMARKS.md, "Browser build: static constructors").
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

import { installDawn, loadBrowserBuild } from './dawn.mjs';

const args = { model: 'models/tiny-test.ldf', pkg: 'web/pkg/webgpu', batch: 1, configs: 'lediflow:heun:2', out: 'steady.cpuprofile', top: 25 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in args) || argv[i + 1] === undefined) throw new Error(`usage: see the comment at the top (bad option ${argv[i]})`);
  args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}

const globals = installDawn();

// Every call of these WebGPU methods is counted, per sample.
const counts = {};
const watched = {
  GPUDevice: ['createComputePipeline', 'createBindGroup', 'createBuffer', 'createShaderModule', 'createCommandEncoder'],
  GPUQueue: ['submit', 'writeBuffer', 'onSubmittedWorkDone'],
  GPUComputePassEncoder: ['dispatchWorkgroups'],
  GPUCommandEncoder: ['beginComputePass', 'copyBufferToBuffer'],
  GPUBuffer: ['mapAsync'],
};
for (const [type, methods] of Object.entries(watched)) {
  for (const name of methods) {
    const original = globals[type].prototype[name];
    globals[type].prototype[name] = function (...rest) {
      counts[`${type}.${name}`] = (counts[`${type}.${name}`] ?? 0) + 1;
      return original.apply(this, rest);
    };
  }
}

// Dispatches per compute pipeline, named by its label (cubecl labels a pipeline with its kernel's
// entry point), to see which kernels make up the dispatch count.
const pipelineLabels = new WeakMap();
const dispatchesByKernel = {};
{
  const create = globals.GPUDevice.prototype.createComputePipeline;
  globals.GPUDevice.prototype.createComputePipeline = function (descriptor) {
    const pipeline = create.call(this, descriptor);
    pipelineLabels.set(pipeline, descriptor.label || descriptor.compute?.entryPoint || '(no label)');
    return pipeline;
  };
  const setPipeline = globals.GPUComputePassEncoder.prototype.setPipeline;
  globals.GPUComputePassEncoder.prototype.setPipeline = function (pipeline) {
    this.lediflowKernel = pipelineLabels.get(pipeline) ?? '(unknown)';
    return setPipeline.call(this, pipeline);
  };
  const dispatch = globals.GPUComputePassEncoder.prototype.dispatchWorkgroups;
  globals.GPUComputePassEncoder.prototype.dispatchWorkgroups = function (...rest) {
    const kernel = this.lediflowKernel ?? '(unknown)';
    dispatchesByKernel[kernel] = (dispatchesByKernel[kernel] ?? 0) + 1;
    return dispatch.apply(this, rest);
  };
}

// Shader modules, and those that use subgroup operations: cubecl emits `enable subgroups;` only
// when wgpu reports the feature (wgpu 30 does not in the browser: gfx-rs/wgpu#10146) and a
// kernel uses them.
const shaderModules = { all: 0, subgroups: 0 };
{
  const create = globals.GPUDevice.prototype.createShaderModule;
  globals.GPUDevice.prototype.createShaderModule = function (descriptor) {
    shaderModules.all += 1;
    if (/enable\s+subgroups/.test(descriptor.code ?? '')) shaderModules.subgroups += 1;
    return create.call(this, descriptor);
  };
}

const wasm = await loadBrowserBuild(args.pkg);
const generator = await wasm.Generator.create({ backend: 'webgpu' });
generator.load(readFileSync(args.model));
await generator.finishLoad();

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 });
for (const spec of args.configs.split(',')) {
  const [method, solver, steps] = spec.split(':');
  const options = { seed: 0, count: args.batch, method, solver, steps: Number(steps) };
  await generator.sample(options); // compiles the shaders
  for (const key of Object.keys(counts)) delete counts[key];
  for (const key of Object.keys(dispatchesByKernel)) delete dispatchesByKernel[key];
  await session.post('Profiler.start');
  const started = performance.now();
  const result = await generator.sample(options);
  const ms = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  const out = args.configs.includes(',') ? args.out.replace(/(\.cpuprofile)?$/, `-${method}-${solver}-${steps}.cpuprofile`) : args.out;
  writeFileSync(out, JSON.stringify(profile));
  console.log(`${spec}, batch ${args.batch}: ${ms.toFixed(0)} ms, stages ${JSON.stringify(result.times)}`);
  console.log(`  WebGPU calls: ${JSON.stringify(counts)}`);
  console.log('  dispatches by kernel:');
  for (const [kernel, n] of Object.entries(dispatchesByKernel).sort((a, b) => b[1] - a[1]).slice(0, args.top)) {
    console.log(`  ${String(n).padStart(6)}  ${kernel}`);
  }
  console.log(`  shader modules so far: ${shaderModules.all}, ${shaderModules.subgroups} with subgroup operations`);
  console.log(`  static constructor runs: ${wasm.staticConstructorRuns()} (must be 1)`);
  console.log(`  profile: ${out}; self time by function:`);
  for (const [name, share] of topSelfTime(profile, args.top)) console.log(`  ${share.toFixed(1).padStart(5)} %  ${name}`);
}
generator.dispose();
process.exit(0);

function topSelfTime(profile, n) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const byName = new Map();
  let total = 0;
  profile.samples.forEach((id, k) => {
    const dt = profile.timeDeltas[k] ?? 0;
    const frame = byNode.get(id).callFrame;
    const name = frame.functionName || `(anonymous ${frame.url.split('/').pop()})`;
    byName.set(name, (byName.get(name) ?? 0) + dt);
    total += dt;
  });
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, t]) => [name, (100 * t) / total]);
}
