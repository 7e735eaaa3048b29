#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Trains several independent stages at once, one process
# per stage ("lane"), sharing the GPU, so one 10-minute call advances both the flow model and
# the baseline. (Measured on an H100: one lane already keeps the GPU at 100 %, so two lanes
# share its throughput rather than add to it.) Each lane works on its own copy of carry/run and
# brings back its state, log, last grid and EMA part (4 files: the tool returns at most 8);
# merge them into the run with scripts/merge-lanes.py.
# BACKEND (vulkan by default; cuda for a `--features cuda` build) picks the device. With
# EVAL_ARGS set and both a flow and a baseline lane, their int8 exports (the files that would
# ship), the README's grids from them and `lediflow eval` on them with those arguments come back
# as $OUT/landscapes-64.ldf and $OUT/ship-rest.tgz (the baseline file, grids, report). The tool
# returns at most 8 files of 16 MiB each, so then the lanes leave their last grid behind, and no
# file goes into one archive with the 14.6 MB LeDiFlow file (a 19 MB ship.tgz was lost that way).
#   usage: [BACKEND=cuda] [EVAL_ARGS='--n 2000 ...'] scripts/gpu-train-lanes.sh MINUTES flow+baseline [extra lediflow train args...]
set -uo pipefail
minutes=$1; lanes=$2; shift 2
source "$(dirname "$0")/gpu-prelude.sh"
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > gpu-util.log &
monitor=$!
pids=()
for stage in ${lanes//+/ }; do
  # EMA parts come from carry/run, or, when it carries none (the tool's 64 MiB limit), from the
  # shipped run in the repository.
  parts=$(ls ../carry/run/ema*.ldf 2>/dev/null || ls ../models/checkpoints/s64-landscapes/ema-*.ldf)
  rm -rf "$stage" && mkdir -p "$stage" && cp ../carry/run/state.json ../carry/run/log.csv $parts "$stage/" && chmod -R u+w "$stage"
  # The checkpoint keeps no latent sampler (its README says why): the shipped file's, as f32.
  [ -f "$stage/ema-latent.ldf" ] || ./lediflow export --run ../models/landscapes-64.ldf --networks latent --quant f32 \
    --check-samples 0 --out "$stage/ema-latent.ldf" | head -1
  ./lediflow train --backend "${BACKEND:-vulkan}" --run "$stage" --stage "$stage" --minutes "$minutes" --resume "$@" \
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
  cp "$stage/state.json" "$stage/log.csv" "$OUT/$stage/"  # at most 8 files come back: 3 or 4 per lane
  # $OUT takes files of at most 16 MiB: each lane brings back only its own network's EMA weights.
  ./lediflow export --run "$stage" --quant f16 --networks "$stage" --out "$OUT/$stage/ema-$stage.ldf" --check-samples 0 2>&1 | head -3
  last=$(ls "$stage"/samples/$stage-*.png 2>/dev/null | tail -1)
  [ -n "$last" ] && [ -z "${EVAL_ARGS:-}" ] && cp "$last" "$OUT/$stage/"
done

if [ -n "${EVAL_ARGS:-}" ] && [ -d flow ] && [ -d baseline ]; then
  # The files that would ship: int8 exports of both lanes, scored as shipped, and the README's
  # grids from them (same seeds as before: 100..107).
  mkdir -p ship
  ./lediflow export --run flow --quant int8 --networks latent,decoder,encoder,flow --out ship/landscapes-64.ldf 2>&1 | tail -2
  ./lediflow export --run baseline --quant int8 --networks baseline --out ship/baseline-64.ldf 2>&1 | tail -2
  for grid in lediflow:1 lediflow:2 baseline:2 baseline:32; do
    file=ship/landscapes-64.ldf; [ "${grid%:*}" = baseline ] && file=ship/baseline-64.ldf
    ./lediflow sample --backend "${BACKEND:-vulkan}" --model "$file" \
      --method "${grid%:*}" --solver heun --steps "${grid#*:}" --n 8 --seed 100 --out "ship/samples-${grid%:*}-heun${grid#*:}.png" 2>&1 | tail -1
  done
  left=$(( ${EVAL_SECONDS:-570} - SECONDS ))
  echo "eval from $SECONDS s, $left s left"
  # shellcheck disable=SC2086
  timeout "$left" ./lediflow eval --backend "${BACKEND:-vulkan}" --eval-net ../models/eval --model ship/landscapes-64.ldf \
    --model ship/baseline-64.ldf --out ship/eval $EVAL_ARGS 2>&1 | tail -c 6000
  echo "eval exit ${PIPESTATUS[0]} at $SECONDS s"
  mv ship/landscapes-64.ldf "$OUT/"
  tar czf "$OUT/ship-rest.tgz" ship
  size=$(stat -c %s "$OUT/ship-rest.tgz"); [ "$size" -gt 16000000 ] && echo "warning: ship-rest.tgz is $size bytes: over the tool's 16 MiB, it will not come back" >&2
fi
ls -la "$OUT"/*
exit $status
