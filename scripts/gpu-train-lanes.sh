#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Trains several independent stages at once, one process
# per stage ("lane"), sharing the GPU, so one 10-minute call advances both the flow model and
# the baseline. (Measured on an H100: one lane already keeps the GPU at 100 %, so two lanes
# share its throughput rather than add to it.) Each lane works on its own copy of carry/run and
# brings back its state, log, last grid and EMA part (4 files: the tool returns at most 8);
# merge them into the run with scripts/merge-lanes.py.
#   usage: scripts/gpu-train-lanes.sh MINUTES flow+baseline [extra lediflow train args...]
set -uo pipefail
minutes=$1; lanes=$2; shift 2
source "$(dirname "$0")/gpu-prelude.sh"
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > gpu-util.log &
monitor=$!
pids=()
for stage in ${lanes//+/ }; do
  rm -rf "$stage" && mkdir -p "$stage" && cp ../carry/run/state.json ../carry/run/log.csv ../carry/run/ema*.ldf "$stage/" && chmod -R u+w "$stage"
  ./lediflow train --backend vulkan --run "$stage" --stage "$stage" --minutes "$minutes" --resume "$@" \
    > "$stage.out" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
kill $monitor
echo "GPU utilisation, memory (every 20 s):"; tr '\n' ' ' < gpu-util.log; echo
for stage in ${lanes//+/ }; do
  echo "== $stage"; tr '\r' '\n' < "$stage.out" | grep -v '^\s*$' | awk 'NR % 40 == 1 || /error|wrote|stopped/' | tail -c 4000
  mkdir -p "$OUT/$stage"
  cp "$stage/state.json" "$stage/log.csv" "$OUT/$stage/"  # at most 8 files come back: 4 per lane
  # $OUT takes files of at most 16 MiB: each lane brings back only its own network's EMA weights.
  ./lediflow export --run "$stage" --quant f16 --networks "$stage" --out "$OUT/$stage/ema-$stage.ldf" --check-samples 0 2>&1 | head -3
  last=$(ls "$stage"/samples/$stage-*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" "$OUT/$stage/"
done

ls -la "$OUT"/*
exit $status
