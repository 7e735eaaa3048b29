#!/usr/bin/env bash
# Runs on the GPU machine (device tool), `carry` as for scripts/gpu-webgpu.sh: the weight loading
# per dequantization path (issue 5), natively (`lediflow bench-load`, wgpu and CUDA) and in the
# browser build on Dawn (bench/webgpu-node, `--configs none --loads 7`), in one run.
#   usage: scripts/gpu-dequant.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
unpack_browser_bench
model=../models/landscapes-64.ldf
{
  echo "== lediflow bench-load, wgpu"
  timeout 90 ./lediflow bench-load --backend wgpu --model $model --dequantize gpu,burn,host --repeats 9 2>&1
  echo "== lediflow bench-load, cuda"
  timeout 60 ./lediflow bench-load --backend cuda --model $model --dequantize burn,host --repeats 9 2>&1
  for path in gpu burn host; do
    echo "== Dawn, dequantize $path"
    timeout 60 ./node ../bench/webgpu-node/bench.mjs --pkg ../web/pkg/webgpu --model $model --configs none --loads 9 \
      --dequantize $path --json "$OUT/dawn-load-$path.json" 2>&1 | grep -E '^load|^create'
  done
} | tee "$OUT/dequant.md"
