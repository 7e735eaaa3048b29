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
# BATCHES runs each batch size in turn (default: BATCH, or 64); every name carries its batch.
#   usage: PRECISIONS='f32 bf16' BATCHES='64 128' STEPS=600 RUN_SECONDS=420 scripts/gpu-train-ratio.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" > /dev/null
batch=${BATCH:-64}
mkdir -p results
[ -d cache ] && echo "cache restored: $(du -sh cache | cut -f1)" || echo "cache: empty"

for batch in ${BATCHES:-$batch}; do
for precision in ${PRECISIONS:-f32}; do
  name="$precision-b$batch"
  nvidia-smi dmon -s u -d 1 > "results/$name.dmon" 2>&1 & dmon=$!
  start=$SECONDS
  timeout "${RUN_SECONDS:-420}" ./lediflow train --run "run-$name" --stage baseline --config s64 \
    --steps "${STEPS:-600}" --seed 0 --batch "$batch" --checkpoint-every 100000 --sample-every 100000 \
    --backend cuda --precision "$precision" > "run-$name.log" 2>&1
  echo "$name: exit $? after $((SECONDS - start)) s"
  kill $dmon 2>/dev/null
  tr '\r' '\n' < "run-$name.log" | grep -iE 'error|panic|nan' | head -3
  cp "run-$name/log.csv" "results/$name.csv" 2>/dev/null
  tr '\r' '\n' < "run-$name.log" | tail -c 4000 > "results/$name.log"
  # Written after every run, so that a call cut short still brings back what it compiled.
  [ -d cache ] && tar czf "$OUT/cubecl-cache.tgz" cache
done
[ "${SKIP_TWIN:-0}" = 1 ] || env -u LD_LIBRARY_PATH python3 "$here/../bench/pytorch_twin.py" --all --batch "$batch" \
  --steps 120 --warmup 20 2>&1 | grep "img/s" | tee "results/twin-b$batch.txt"
done
python3 "$here/train-summary.py" results
tar czf "$OUT/train-ratio.tgz" results
