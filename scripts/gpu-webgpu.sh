#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Times the inference stack through WebGPU engines against
# burn's native backends on the same GPU, in one run (issue 6, BENCHMARKS.md "WebGPU on the GPU
# machine"), and the weight loading per dequantization path (issue 5).
# `carry` names `.gl` and `carry`, which holds:
#   lediflow.xz        a release build with `--features wgpu,cuda` (wgpu = WGSL on Vulkan, the
#                      shader path of Firefox's engine; cuda = burn's fastest native backend)
#   node.xz            a stripped Node 20 binary (Node is not installed there)
#   webgpu-node.tgz    bench/webgpu-node/node_modules with Dawn for linux-x64 only
#   pkg.tgz            web/pkg, the browser build
#   usage: [SKIP_LOAD=1] scripts/gpu-webgpu.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
unpack_browser_bench
models="--model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf"
run() { echo; echo "== $*"; timeout "${STEP_SECONDS:-150}" "$@" 2>&1 | grep -v '^\s*$' | tail -40; }
{
  if [ "${SKIP_LOAD:-0}" != 1 ]; then
    run ./lediflow bench-load --backend wgpu --model ../models/landscapes-64.ldf --dequantize gpu,burn,host
    run ./lediflow bench-load --backend cuda --model ../models/landscapes-64.ldf --dequantize burn,host
  fi
  for batch in 1 16; do
    run ./node ../bench/webgpu-node/bench.mjs --pkg ../web/pkg $models --batch $batch --repeats 7 \
      --configs lediflow:heun:2,baseline:heun:2,baseline:heun:32 --json "$OUT/dawn-batch$batch.json"
    run ./lediflow bench --backend wgpu $models --batch $batch --repeats 7 --solver heun --steps 2,32
    run ./lediflow bench --backend cuda $models --batch $batch --repeats 7 --solver heun --steps 2,32
  done
} | tee "$OUT/webgpu.md"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
