#!/usr/bin/env bash
# Runs on the GPU machine (device tool), in the repository root, with `carry` naming `.gl` and
# `carry`. Expects carry/lediflow.xz (a release build with --features vulkan, stripped) and,
# when resuming, carry/run/ (state.json and ema*.ldf) and carry/cubecl-cache.tgz. The run
# itself lives in .devrun/run (ignored, not carried), which outlives a call while the machine stays warm.
#   usage: scripts/gpu-train.sh MINUTES STAGES [extra lediflow train args...]
set -uo pipefail
minutes=$1; stages=$2; shift 2
source "$(dirname "$0")/gpu-prelude.sh"
resume=""
if [ -f run/state.json ]; then resume="--resume"
elif [ -f ../carry/run/state.json ]; then mkdir -p run && cp ../carry/run/state.json ../carry/run/ema*.ldf run/ && chmod -R u+w run; resume="--resume"; fi
./lediflow train --backend vulkan --run run --stage "$stages" --minutes "$minutes" $resume "$@" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | awk 'NR % 20 == 1 || /loss|error|wrote|step|stopped/' | tail -c 20000
status=${PIPESTATUS[0]}
mkdir -p "$OUT/run"
cp run/state.json run/log.csv run/loss.png "$OUT/run/" 2>/dev/null
# $OUT takes files of at most 16 MiB: bring the EMA weights back as f16 parts.
./lediflow export --run run --quant f16 --networks latent,decoder,encoder --out "$OUT/run/ema-aux.ldf" --check-samples 0 2>&1 | head -3
./lediflow export --run run --quant f16 --networks flow --out "$OUT/run/ema-flow.ldf" --check-samples 0 2>&1 | head -3
./lediflow export --run run --quant f16 --networks baseline --out "$OUT/run/ema-baseline.ldf" --check-samples 0 2>&1 | head -3
for stage in aux latent flow baseline; do
  last=$(ls run/samples/$stage-*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" "$OUT/run/"
done
[ -d cache ] && tar czf "$OUT/cubecl-cache.tgz" cache
ls -la "$OUT/run"
exit $status
