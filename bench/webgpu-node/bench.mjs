// Times the browser build (web/pkg/webgpu: wasm-bindgen `--target web`, WebGPU through burn's wgpu
// backend) on Dawn, Chrome's WebGPU engine, through npm `webgpu` in Node: the same wasm, the
// same API calls and the same WGSL a Chrome tab would run, without a browser around it.
//
//   node bench/webgpu-node/bench.mjs --model models/landscapes-64.ldf --model models/baseline-64.ldf \
//     [--pkg web/pkg/webgpu] [--batch 16] [--repeats 5] [--configs lediflow:heun:2,baseline:heun:32] [--json out.json]
//     [--dequantize gpu|burn|host] [--dawn <Dawn toggle>]... [--save PREFIX] [--stage-times on|off]
//     [--replay on|off]
//
// A configuration is method:solver:steps, optionally :latentSolver:latentSteps[:latentTimePower]
// (the API's defaults otherwise), e.g. lediflow:midpoint:2:midpoint:4:1.25.
//
// `--replay on` turns on the generator's recorded evaluations (`recordEvaluations(true)`: each
// network evaluation recorded once, then replayed) for each configuration's calls, after one usual
// call whose images the replayed ones are compared with (`replayMaxDiff`, levels of 255).
//
// `--stage-times off` samples with `stageTimes: false`: one readback per call, for the images,
// instead of one after each stage as well (issue 22).
//
// `--save PREFIX` writes each configuration's last images, RGBA8 one after another, to
// PREFIX-METHOD-SOLVER-STEPS.rgba: to compare two builds' pixels (scripts/gpu-webgpu.sh does).
//
// Prints a table in `lediflow bench`'s units (ms per image, the whole chain up to RGBA8 on the
// host), the load time and the first call's time (which pays for shader compilation).
import { readFileSync, writeFileSync } from 'node:fs';

import { installDawn, loadBrowserBuild } from './dawn.mjs';
import { median, phase } from './timing.mjs';

function parseArgs(argv) {
  const args = { model: [], pkg: 'web/pkg/webgpu', batch: 16, repeats: 5, configs: 'lediflow:heun:2,baseline:heun:32', dawn: [], json: '', dequantize: 'host', loads: 1, save: '', 'stage-times': 'on', replay: 'off' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    if (key === 'model' || key === 'dawn') args[key].push(value);
    else if (key in args) args[key] = ['batch', 'repeats', 'loads'].includes(key) ? Number(value) : value;
    else throw new Error(`unknown option --${key}`);
  }
  if (args.model.length === 0) throw new Error('give at least one --model');
  for (const key of ['stage-times', 'replay']) {
    if (!['on', 'off'].includes(args[key])) throw new Error(`--${key} is on or off, not ${args[key]}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
// `--dawn backend=vulkan` etc. are passed to Dawn as they are.
installDawn(args.dawn);
// Counts the WebGPU calls of each sample, as the web worker does (web/src/calls.ts): wrapped
// before the wasm starts WebGPU, one addition per call.
const calls = { dispatches: 0, submits: 0, bindGroups: 0, readbacks: 0 };
const count = (cls, method, key) => {
  const proto = globalThis[cls]?.prototype;
  const original = proto?.[method];
  if (typeof original === 'function') proto[method] = function (...a) { calls[key]++; return original.apply(this, a); };
};
count('GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches');
count('GPUQueue', 'submit', 'submits');
count('GPUDevice', 'createBindGroup', 'bindGroups');
count('GPUBuffer', 'mapAsync', 'readbacks');
const wasm = await loadBrowserBuild(args.pkg);

phase('requesting an adapter');
const adapter = await navigator.gpu.requestAdapter();
phase(`adapter: ${JSON.stringify(adapter?.info ?? null)}`);
const info = adapter?.info ?? {};
// `subgroups` would let cubecl use subgroup operations, but wgpu 30's WebGPU backend does not pass
// the feature on (gfx-rs/wgpu#10146; BENCHMARKS.md, "Where Dawn's time goes").
const features = [...(adapter?.features ?? [])].sort();
phase(`features: ${features.join(' ')}; subgroup sizes ${info.subgroupMinSize}..${info.subgroupMaxSize}`);
const t0 = performance.now();
const generator = await wasm.Generator.create({ backend: 'webgpu', dequantize: args.dequantize });
const createMs = performance.now() - t0;

// `--loads K` loads each file K times (a later load of a file replaces the same networks) and
// reports the median: the time from the bytes in memory to networks built on the device.
const loads = [];
for (const file of args.model) {
  const bytes = readFileSync(file);
  phase(`loading ${file}`);
  const times = [];
  let loaded;
  for (let k = 0; k < args.loads; k++) {
    const start = performance.now();
    for (let at = 0; at < bytes.length; at += 1 << 20) generator.load(bytes.subarray(at, at + (1 << 20)));
    // Until the networks are built: uploads and dequantization kernels are queued by then (the
    // first sample waits for them, a few milliseconds on a real GPU).
    loaded = await generator.finishLoad();
    times.push(performance.now() - start);
  }
  loads.push({ file, bytes: bytes.length, ms: median(times), runs: times, dequantized: loaded.dequantized ?? null });
}

const rows = [];
let firstCallMs = null;
for (const spec of args.configs === 'none' ? [] : args.configs.split(',')) {
  const [method, solver, steps, latentSolver, latentSteps, latentTimePower] = spec.split(':');
  const options = { seed: 0, count: args.batch, method, solver, steps: Number(steps), stageTimes: args['stage-times'] === 'on' };
  if (latentSolver) Object.assign(options, { latentSolver, latentSteps: Number(latentSteps) });
  if (latentTimePower) options.latentTimePower = Number(latentTimePower);
  const times = [];
  let last;
  // Replayed: one usual call first, whose images the replayed calls must draw to the bit.
  let usual = null;
  if (args.replay === 'on') {
    generator.recordEvaluations(false);
    // A copy: the result's pixels may view the wasm memory, which later calls reuse.
    usual = { pixels: Uint8Array.from((await generator.sample(options)).pixels) };
    generator.recordEvaluations(true);
  }
  for (let call = 0; call <= args.repeats; call++) {
    if (call === 0) phase(`first call of ${spec}`);
    const before = { ...calls };
    const start = performance.now();
    last = await generator.sample(options);
    const ms = performance.now() - start;
    last.webgpu = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v - before[k]]));
    if (call === 0 && firstCallMs === null) firstCallMs = ms;
    if (call > 0) times.push(ms / args.batch);
  }
  if (args.save) writeFileSync(`${args.save}-${spec.replaceAll(':', '-')}.rgba`, last.pixels);
  const ms = median(times);
  let replayMaxDiff = null;
  if (usual) {
    replayMaxDiff = 0;
    for (let i = 0; i < usual.pixels.length; i++) replayMaxDiff = Math.max(replayMaxDiff, Math.abs(usual.pixels[i] - last.pixels[i]));
    console.log(`${spec}: replayed images against the usual call's, largest difference ${replayMaxDiff} levels`);
  }
  rows.push({ method, solver, steps: Number(steps), latent: latentSolver ? `${latentSolver} × ${latentSteps}${latentTimePower ? ` p ${latentTimePower}` : ''}` : 'default', nfe: last.nfe, msPerImage: ms, imagesPerSecond: 1000 / ms, dispatches: last.dispatches, webgpu: last.webgpu, stageTimes: last.times, replayMaxDiff });
}

const result = {
  engine: 'Dawn (npm webgpu 0.6.2) in Node ' + process.version,
  adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, subgroups: features.includes('subgroups') },
  burnAdapterName: generator.adapterName,
  wgslKernels: generator.wgslKernels,
  createMs,
  loads,
  firstCallMs,
  batch: args.batch,
  repeats: args.repeats,
  replay: args.replay,
  rows,
};
console.log(`Dawn in Node: ${JSON.stringify(result.adapter)} (burn: ${generator.adapterName}), batch ${args.batch}, median of ${args.repeats} calls, replay ${args.replay}`);
for (const l of loads) console.log(`load ${l.file}: ${l.bytes} bytes in ${l.ms.toFixed(1)} ms, dequantized ${JSON.stringify(l.dequantized)}`);
console.log(`create ${createMs.toFixed(1)} ms; first call (shader compilation) ${firstCallMs?.toFixed(1)} ms; dequantize ${args.dequantize}`);
console.log('| method | solver | steps | latent | NFE latent | NFE decoder | NFE flow | ms / image | images / s | WebGPU dispatches / submits per call | last call\'s stage times (ms) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.method} | ${r.solver} | ${r.steps} | ${r.latent} | ${r.nfe.latent} | ${r.nfe.decoder} | ${r.nfe.flow} | ${r.msPerImage.toFixed(2)} | ${r.imagesPerSecond.toFixed(1)} | ${r.webgpu.dispatches} / ${r.webgpu.submits} | ${JSON.stringify(r.stageTimes)} |`);
}
if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
generator.dispose();
process.exit(0);
