#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Peer comparison (issue 22): the PyTorch twin's networks
# (flow θFM, latent sampler θL) exported to ONNX (bench/ort-peer/export.py, with the machine's
# python3 + torch + onnx + onnxruntime), then run by onnxruntime-web's WebGPU EP on Dawn in Node
# (bench/ort-peer/bench.mjs) at batch 1 and 16, with and without graph capture.
# `carry` names `.gl` and `carry`, which holds (as for scripts/gpu-webgpu.sh):
#   lediflow.xz, node.xz, webgpu-node.tgz, pkg.tgz   read by gpu-prelude.sh / unpack_browser_bench
#   ort-peer.tgz                                     scripts/pack-ort-peer.sh (onnxruntime-web's WebGPU build)
# Output: $OUT/ort-peer.md (everything printed) and $OUT/ort-peer.json (bench.mjs's results and
# export.py's manifest).
#   usage: [REPEATS=30] [MODES=gpu,capture,cpu] [NETS=flow,latent] scripts/gpu-ort-peer.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
unpack_browser_bench
(cd ../bench/ort-peer && rm -rf node_modules && tar xJf ../../carry/ort-peer.tgz)
{
  echo "== export (python3 bench/ort-peer/export.py)"
  python3 -c "import torch, onnx, onnxruntime; print('torch', torch.__version__, 'onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__)"
  timeout 300 python3 ../bench/ort-peer/export.py --model ../models/landscapes-64.ldf --out ort-peer --nets "${NETS:-flow,latent}" 2>&1 \
    | grep -v -i -E 'warn|^\s*(torch\.onnx\.export|assert|return)' 
  echo
  echo "== onnxruntime-web WebGPU EP on Dawn (bench/ort-peer/bench.mjs)"
  timeout 480 ./node ../bench/ort-peer/bench.mjs --dir ort-peer --nets "${NETS:-flow,latent}" --batch 1,16 \
    --repeats "${REPEATS:-30}" --warmup 5 --modes "${MODES:-gpu,capture,cpu}" --dawn backend=vulkan \
    --json ort-peer/bench.json --md ort-peer/bench.md 2>&1 | grep -v -E '^Warning: maxDynamic|^\s*$'
  echo "bench.mjs exit ${PIPESTATUS[0]}"
} 2>&1 | tee "$OUT/ort-peer.md"
python3 - <<'PY'
import json, os
out = {}
for key, path in (("export", "ort-peer/manifest.json"), ("bench", "ort-peer/bench.json")):
    out[key] = json.load(open(path)) if os.path.exists(path) else None
json.dump(out, open(os.path.join(os.environ["OUT"], "ort-peer.json"), "w"), indent=2)
PY
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
