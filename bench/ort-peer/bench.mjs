// Peer comparison (issue 22): the PyTorch twin's networks, exported to ONNX by export.py, run by
// onnxruntime-web's WebGPU execution provider on Dawn (npm `webgpu`, set up as
// bench/webgpu-node/dawn.mjs does) in Node. Times one network evaluation v(x, t) per batch size,
// with x, t and v in GPU buffers (the state of an ODE solve stays on the GPU), with and without
// ORT's graph capture, and with host tensors (upload + readback included) for reference.
//
//   node bench/ort-peer/bench.mjs --dir DIR [--nets flow,latent] [--batch 1,16] [--repeats 30] [--warmup 5]
//     [--ep webgpu|wasm] [--modes gpu,capture,cpu] [--dawn <Dawn toggle>]... [--ort-dist PATH] [--json out.json] [--md out.md]
//
// DIR holds export.py's NET-bB.onnx and NET-bB.ref.f32 (x, t and the twin's v: the output is checked).
// Per configuration: session creation, the first run (shader compilation; with capture, the
// capture), then `repeats` runs each followed by onSubmittedWorkDone (median: the latency of one
// evaluation), and `repeats` runs back to back with one wait at the end (mean: the throughput).
// `--ep wasm` runs ORT's CPU (wasm) EP instead, to check the setup without a GPU.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { median, phase } from '../webgpu-node/timing.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { dir: '', nets: 'flow,latent', batch: '1,16', repeats: 30, warmup: 5, ep: 'webgpu', modes: 'gpu,capture,cpu', dawn: [], 'ort-dist': join(here, 'node_modules/onnxruntime-web/dist'), json: '', md: '', threads: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    if (key === 'dawn') args.dawn.push(value);
    else if (key in args) args[key] = ['repeats', 'warmup', 'threads'].includes(key) ? Number(value) : value;
    else throw new Error(`unknown option --${key}`);
  }
  if (!args.dir) throw new Error('give --dir (export.py --out)');
  return args;
}

const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));

const args = parseArgs(process.argv.slice(2));
const webgpu = args.ep === 'webgpu';
let adapterInfo = null;
const sharedCopies = { count: 0, bytes: 0 };
if (webgpu) {
  // Dawn from bench/webgpu-node (its node_modules: carry/webgpu-node.tgz on the GPU machine).
  const { installDawn } = await import('../webgpu-node/dawn.mjs');
  installDawn(args.dawn);
  // ORT's wasm memory is shared (threaded build) and it writes buffers straight from it; npm
  // webgpu's writeBuffer rejects a view of a SharedArrayBuffer ("Invalid argument"), Chrome's
  // does not. Such views are copied first (small: uniforms and host inputs).
  const writeBuffer = GPUQueue.prototype.writeBuffer;
  GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset, size) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const el = data.BYTES_PER_ELEMENT ?? 1;
      const from = data.byteOffset + (dataOffset ?? 0) * el;
      const bytes = size !== undefined ? size * el : data.byteLength - (dataOffset ?? 0) * el;
      sharedCopies.count++;
      sharedCopies.bytes += bytes;
      return writeBuffer.call(this, buffer, offset, new Uint8Array(data.buffer, from, bytes).slice());
    }
    return writeBuffer.call(this, buffer, offset, data, dataOffset, size);
  };
  // ORT_PEER_DEBUG=1: print the entries of a bind group Dawn refuses (graph capture's replays).
  if (process.env.ORT_PEER_DEBUG) {
    const cbg = GPUDevice.prototype.createBindGroup;
    GPUDevice.prototype.createBindGroup = function (d) {
      try { return cbg.call(this, d); } catch (e) { console.error('createBindGroup', e.message, d.entries.map((x) => [x.binding, x.resource && Object.fromEntries(Object.entries(x.resource).map(([k, v]) => [k, `${typeof v} ${v?.constructor?.name} ${typeof v === 'object' ? '' : v}`]))])); throw e; }
    };
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  const info = adapter?.info ?? {};
  adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
  phase(`adapter: ${JSON.stringify(adapterInfo)}`);
}

// onnxruntime-web's WebGPU build (ESM, the wasm outside the bundle): in Node the wasm cannot be
// fetched from a file: URL, so its bytes are handed over (env.wasm.wasmBinary).
const dist = pathToFileURL(resolve(args['ort-dist']) + '/');
const ort = await import(new URL('ort.webgpu.min.mjs', dist).href);
ort.env.wasm.numThreads = args.threads;
ort.env.wasm.wasmPaths = { mjs: new URL('ort-wasm-simd-threaded.asyncify.mjs', dist).href, wasm: new URL('ort-wasm-simd-threaded.asyncify.wasm', dist).href };
ort.env.wasm.wasmBinary = readFileSync(new URL('ort-wasm-simd-threaded.asyncify.wasm', dist));
ort.env.logLevel = 'warning';
phase(`onnxruntime-web ${JSON.stringify(ort.env.versions)}, EP ${args.ep}`);

const manifest = JSON.parse(readFileSync(join(args.dir, 'manifest.json'), 'utf8'));
const product = (dims) => dims.reduce((a, b) => a * b, 1);

async function gpuDevice() {
  const device = await ort.env.webgpu.device;
  if (!device) throw new Error('ort.env.webgpu.device is not set');
  return device;
}

function gpuTensor(device, data, dims) {
  const buffer = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  if (data.length) device.queue.writeBuffer(buffer, 0, data);
  return { buffer, tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }) };
}

/** The buffer's first `bytes` bytes as f32, through a mapped copy (outside the timed runs). */
async function readBuffer(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return data;
}

async function runOne(entry, mode) {
  const row = { network: entry.network, batch: entry.batch, ep: args.ep, mode, io: mode === 'cpu' ? 'host tensors' : 'GPU buffers', graphCapture: mode === 'capture' };
  const ref = readFileSync(join(args.dir, entry.reference));
  const all = new Float32Array(ref.buffer, ref.byteOffset, ref.byteLength / 4);
  const nx = product(entry.inputs.x), nt = product(entry.inputs.t), nv = product(entry.output);
  const x = all.slice(0, nx), t = all.slice(nx, nx + nt), want = all.subarray(nx + nt, nx + nt + nv);
  const options = { executionProviders: [args.ep], graphOptimizationLevel: 'all' };
  if (webgpu && mode !== 'cpu') options.preferredOutputLocation = 'gpu-buffer';
  if (mode === 'capture') options.enableGraphCapture = true;
  const owned = [];
  let session;
  try {
    let start = performance.now();
    session = await ort.InferenceSession.create(readFileSync(join(args.dir, entry.file)), options); // bytes: Node cannot fetch a path
    row.createMs = performance.now() - start;
    const device = webgpu ? await gpuDevice() : null;
    let feeds, fetches, read;
    if (webgpu && mode !== 'cpu') {
      const gx = gpuTensor(device, x, entry.inputs.x), gt = gpuTensor(device, t, entry.inputs.t), gv = gpuTensor(device, new Float32Array(0), entry.output);
      gv.buffer.destroy();
      const out = device.createBuffer({ size: nv * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const outTensor = ort.Tensor.fromGpuBuffer(out, { dataType: 'float32', dims: entry.output });
      owned.push(gx.buffer, gt.buffer, out);
      feeds = { x: gx.tensor, t: gt.tensor };
      fetches = { v: outTensor }; // pre-allocated: the same buffer every run, as graph capture wants
      read = () => readBuffer(device, out, nv * 4);
    } else {
      feeds = { x: new ort.Tensor('float32', x, entry.inputs.x), t: new ort.Tensor('float32', t, entry.inputs.t) };
      fetches = undefined;
      read = null;
    }
    const wait = webgpu ? () => device.queue.onSubmittedWorkDone() : async () => {};
    const run = async () => {
      const r = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
      return r;
    };
    start = performance.now();
    let result = await run();
    await wait();
    row.firstRunMs = performance.now() - start;
    const got = read ? await read() : result.v.data;
    let diff = 0;
    for (let i = 0; i < nv; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
    row.maxAbsDiffVsTwin = diff;
    for (let i = 0; i < args.warmup; i++) { await run(); await wait(); }
    const times = [];
    for (let i = 0; i < args.repeats; i++) {
      start = performance.now();
      await run();
      await wait();
      times.push(performance.now() - start);
    }
    row.msPerEval = median(times);
    row.msPerEvalMin = Math.min(...times);
    row.msPerImage = row.msPerEval / entry.batch;
    row.runs = times;
    start = performance.now();
    for (let i = 0; i < args.repeats; i++) await run();
    await wait();
    row.msPerEvalPipelined = (performance.now() - start) / args.repeats;
    // A changed output after the timed runs would mean a replay went wrong.
    const again = read ? await read() : (await run()).v.data;
    let drift = 0;
    for (let i = 0; i < nv; i++) drift = Math.max(drift, Math.abs(again[i] - want[i]));
    row.maxAbsDiffAfterTiming = drift;
  } catch (e) {
    row.error = `${e?.name ?? 'Error'}: ${String(e?.message ?? e).slice(0, 500)}`;
    phase(`${entry.network} batch ${entry.batch} ${mode}: ${row.error}`);
  } finally {
    try { await session?.release(); } catch {}
    for (const b of owned) b.destroy();
  }
  return row;
}

const nets = args.nets.split(',');
const batches = args.batch.split(',').map(Number);
const modes = args.modes.split(',').filter((m) => webgpu || m === 'cpu');
const rows = [];
for (const entry of manifest.networks) {
  if (!nets.includes(entry.network) || !batches.includes(entry.batch)) continue;
  for (const mode of modes) {
    phase(`${entry.network} batch ${entry.batch}: ${mode}`);
    const row = await runOne(entry, mode);
    rows.push(row);
    phase(`  ${row.error ? 'failed' : `${fmt(row.msPerEval)} ms / evaluation (first run ${fmt(row.firstRunMs, 1)} ms), max |Δ| ${row.maxAbsDiffVsTwin?.toExponential(2)}`}`);
  }
}

const result = {
  engine: webgpu ? `onnxruntime-web ${ort.env.versions.web} WebGPU EP on Dawn (npm webgpu) in Node ${process.version}` : `onnxruntime-web ${ort.env.versions.web} wasm EP in Node ${process.version}`,
  adapter: adapterInfo,
  sharedArrayBufferWriteCopies: sharedCopies,
  export: { torch: manifest.torch, onnx: manifest.onnx, opset: manifest.opset, exporter: [...new Set(manifest.networks.map((n) => n.exporter))] },
  repeats: args.repeats,
  warmup: args.warmup,
  rows: rows.map(({ runs, ...r }) => r),
  runs: rows.map((r) => ({ network: r.network, batch: r.batch, mode: r.mode, runs: r.runs ?? null })),
};
const lines = [];
lines.push(`### onnxruntime-web peer: ${result.engine}`);
lines.push('');
lines.push(`Adapter ${JSON.stringify(adapterInfo)}; ONNX from the PyTorch twin (torch ${manifest.torch}, opset ${manifest.opset}, ${result.export.exporter.join('/')} exporter); median of ${args.repeats} evaluations after ${args.warmup} untimed, each waited for (onSubmittedWorkDone); "pipelined" = ${args.repeats} back to back, one wait.`);
lines.push('');
lines.push('| network | batch | inputs / output | graph capture | session create (ms) | first run (ms) | ms / evaluation (median) | min | pipelined ms / evaluation | ms / image | max \\|Δ\\| vs twin | error |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  lines.push(`| ${r.network} | ${r.batch} | ${r.io} | ${r.graphCapture ? 'on' : 'off'} | ${fmt(r.createMs, 0)} | ${fmt(r.firstRunMs, 1)} | ${fmt(r.msPerEval)} | ${fmt(r.msPerEvalMin)} | ${fmt(r.msPerEvalPipelined)} | ${fmt(r.msPerImage)} | ${r.maxAbsDiffVsTwin?.toExponential(2) ?? '–'} | ${r.error ? r.error.replace(/\|/g, '\\|').replace(/\n/g, ' ') : ''} |`);
}
const md = lines.join('\n');
console.log(md);
if (args.md) writeFileSync(args.md, md + '\n');
if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
process.exit(0);
