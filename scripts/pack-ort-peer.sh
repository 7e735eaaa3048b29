#!/usr/bin/env bash
# Packs what bench/ort-peer/bench.mjs needs of onnxruntime-web into carry/ort-peer.tgz (an
# xz-compressed tar, despite the name: the GPU machine has no internet). Only the WebGPU build:
# its ESM entry (ort.webgpu.min.mjs, onnxruntime-common bundled in), the Emscripten loader and the
# wasm of the asyncify build it loads, and package.json. Dawn is not in it: scripts/gpu-ort-peer.sh
# takes it from carry/webgpu-node.tgz (bench/webgpu-node/node_modules), as scripts/gpu-webgpu.sh does.
#   usage: scripts/pack-ort-peer.sh      (runs `npm ci` in bench/ort-peer first when needed)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/bench/ort-peer"
[ -f node_modules/onnxruntime-web/package.json ] || npm ci --no-audit --no-fund
files=(
  node_modules/onnxruntime-web/package.json
  node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs
  node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs
  node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm
)
mkdir -p "$root/carry"
tar --owner=0 --group=0 --numeric-owner -cf - "${files[@]}" | xz -9e -T0 > "$root/carry/ort-peer.tgz"
ls -l "$root/carry/ort-peer.tgz"
