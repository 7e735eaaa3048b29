#!/usr/bin/env bash
# Runs on a two-GPU machine (device tool): one short data-parallel run on CUDA with its output
# streamed to $OUT (NCCL's warnings included), and thread backtraces (cuda-gdb) if it is still
# running after SECONDS seconds, to see where a hang sits. Needs carry/lediflow.xz unstripped
# for names in the backtraces.
#   usage: scripts/gpu-ddp-check.sh STEPS SECONDS [extra lediflow train args...]
set -uo pipefail
steps=$1; seconds=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
export RUST_BACKTRACE=1 NCCL_DEBUG=WARN
rm -rf cuda2
./lediflow train --run cuda2 --stage baseline --config s64 --steps "$steps" --seed 0 --checkpoint-every 100000 \
  --sample-every 100000 --backend cuda --devices 2 --batch 64 "$@" > "$OUT/cuda2.log" 2>&1 &
pid=$!
for _ in $(seq "$seconds"); do kill -0 $pid 2>/dev/null || break; sleep 1; done
if kill -0 $pid 2>/dev/null; then
  echo "still running after $seconds s: backtraces" | tee -a "$OUT/cuda2.log"
  nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader >> "$OUT/cuda2.log"
  timeout 60 cuda-gdb -q -p $pid -batch -ex "thread apply all bt 25" > "$OUT/cuda2-bt.txt" 2>&1
  kill -9 $pid
else
  wait $pid; echo "exit $?" >> "$OUT/cuda2.log"
fi
cp cuda2/log.csv "$OUT/cuda2.csv" 2>/dev/null
tr '\r' '\n' < "$OUT/cuda2.log" | grep -v '^\s*$' | tail -30
