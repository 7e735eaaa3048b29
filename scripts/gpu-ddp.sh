#!/usr/bin/env bash
# Runs on a GPU machine with two GPUs (device tool, nvidia-h100-x2 or nvidia-h200-x2), with
# `carry` naming `.gl` and `carry` (carry/lediflow.xz built with --features vulkan,cuda).
# Trains the baseline stage of s64 from scratch, same seed, several ways in one call:
#   cuda1   CUDA, 1 GPU, batch 64
#   cuda2   CUDA, 2 GPUs, batch 64 (32 each): must train what cuda1 trains
#   cuda2w  CUDA, 2 GPUs, batch 128 (64 each): throughput at the per-GPU batch of cuda1
#   vulkan1 Vulkan, 1 GPU, batch 64 (the backend the shipped model trained on)
# after bench/pytorch_twin.py (the same network in PyTorch, same batch, same GPU),
# and brings back each run's log.csv, the GPU utilisation and summary.md
# (scripts/ddp-summary.py).
#   usage: scripts/gpu-ddp.sh STEPS
set -uo pipefail
steps=${1:-300}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
nvidia-smi topo -m 2>&1 | head -4
(while sleep 10; do echo "$SECONDS $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader | tr '\n' ' ')"; done) > gpu-util.log &
monitor=$!
train() {   # name minutes args...
  local name=$1 minutes=$2; shift 2
  rm -rf "$name"
  local start=$SECONDS
  ./lediflow train --run "$name" --stage baseline --config s64 --steps "$steps" --seed 0 \
    --checkpoint-every 100000 --sample-every 100000 --minutes "$minutes" "$@" 2>&1 \
    | tr '\r' '\n' | grep -v '^\s*$' | grep -iv 'warn' | tail -4
  echo "$name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
  cp "$name/log.csv" "$OUT/$name.csv" 2>/dev/null
}
left() { awk -v s=$SECONDS -v cap="$1" 'BEGIN { m = (560 - s) / 60 - 0.3; if (m > cap) m = cap; printf "%.2f", (m < 0.3 ? 0.3 : m) }'; }
env -u LD_LIBRARY_PATH python3 "$here/../bench/pytorch_twin.py" --all --batch 64 --steps 120 --warmup 20 \
  --json "$OUT/twin.json" 2>&1 | tail -6
train cuda1 "$(left 4.5)" --backend cuda --devices 1 --batch 64
train cuda2 "$(left 2.0)" --backend cuda --devices 2 --batch 64
train cuda2w "$(left 1.2)" --backend cuda --devices 2 --batch 128
train vulkan1 "$(left 4.0)" --backend vulkan --batch 64
kill $monitor
cp gpu-util.log "$OUT/"
python3 "$here/ddp-summary.py" "$OUT" | tee "$OUT/summary.md"
[ -d cache ] && tar czf "$OUT/cubecl-cache.tgz" cache
