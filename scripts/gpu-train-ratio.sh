#!/usr/bin/env bash
# Runs on the GPU machine (device tool), one GPU (issue 4): burn's training throughput and the
# PyTorch twin's, in one call. `carry` names `.gl` and `carry`; carry/lediflow.xz is a build with
# `--features cuda,fusion,autotune,persistence`. carry/cubecl-cache.tgz, when present, is cubecl's
# kernel and autotune cache from an earlier call (gpu-prelude.sh unpacks it); the cache as it
# stands at the end comes back as $OUT/cubecl-cache.tgz, for the next call.
# For each precision in PRECISIONS: STEPS steps of the s64 baseline stage, batch BATCH, CUDA, for
# at most RUN_SECONDS; then the twin at the same batch (unless SKIP_TWIN=1). Prints per run the
# median images/s, when the first step was logged (the warm-up: compilation and autotuning), and
# the last loss.
#   usage: PRECISIONS='f32 bf16' STEPS=600 RUN_SECONDS=420 scripts/gpu-train-ratio.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" > /dev/null
batch=${BATCH:-64}
mkdir -p results
[ -d cache ] && echo "cache restored: $(du -sh cache | cut -f1)" || echo "cache: empty"

for precision in ${PRECISIONS:-f32}; do
  start=$SECONDS
  timeout "${RUN_SECONDS:-420}" ./lediflow train --run "run-$precision" --stage baseline --config s64 \
    --steps "${STEPS:-600}" --seed 0 --batch "$batch" --checkpoint-every 100000 --sample-every 100000 \
    --backend cuda --precision "$precision" > "run-$precision.log" 2>&1
  echo "$precision: exit $? after $((SECONDS - start)) s"
  tr '\r' '\n' < "run-$precision.log" | grep -iE 'error|panic|nan' | head -3
  cp "run-$precision/log.csv" "results/$precision.csv" 2>/dev/null
  tr '\r' '\n' < "run-$precision.log" | tail -c 4000 > "results/$precision.log"
  # Written after every run, so that a call cut short still brings back what it compiled.
  [ -d cache ] && tar czf "$OUT/cubecl-cache.tgz" cache
done

[ "${SKIP_TWIN:-0}" = 1 ] || env -u LD_LIBRARY_PATH python3 "$here/../bench/pytorch_twin.py" --all --batch "$batch" \
  --steps 120 --warmup 20 2>&1 | grep "img/s" | tee results/twin.txt
python3 "$here/train-summary.py" results
tar czf "$OUT/train-ratio.tgz" results
