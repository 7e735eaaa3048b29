#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with `carry` naming `.gl` and `carry`. Trains the
# evaluation network if none is shipped or carried yet (models/eval, or carry/eval), then runs
# `lediflow eval` on the shipped models, writing straight into $OUT/eval so that a run cut off
# by the command's time limit still returns its finished configurations (partial.json: carry
# it back as carry/eval-partial.json and call again to continue).
#   usage: BACKEND=cuda|vulkan scripts/gpu-eval.sh [extra lediflow eval args...]
set -uo pipefail
backend=${BACKEND:-vulkan}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
net=../models/eval
if [ ! -f "$net/manifest.json" ]; then
  net=evalnet
  if [ -f ../carry/eval/manifest.json ]; then mkdir -p evalnet && cp ../carry/eval/* evalnet/
  elif [ ! -f evalnet/manifest.json ]; then
    start=$SECONDS
    ./lediflow eval-net --out evalnet --backend "$backend" --steps "${EVALNET_STEPS:-3000}" --batch 128 2>&1 \
      | tr '\r' '\n' | grep -v '^\s*$' | awk 'NR % 40 == 1 || !/eval-net/' | tail -40
    echo "eval-net: $((SECONDS - start)) s"
  fi
  mkdir -p "$OUT/evalnet" && cp evalnet/* "$OUT/evalnet/"
fi
mkdir -p "$OUT/eval"
[ -f ../carry/eval-partial.json ] && cp ../carry/eval-partial.json "$OUT/eval/partial.json"
left=$((${EVAL_SECONDS:-570} - SECONDS))
timeout "$left" ./lediflow eval --backend "$backend" --eval-net "$net" \
  --model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf --out "$OUT/eval" "$@" 2>&1 | tail -c 12000
echo "eval exit ${PIPESTATUS[0]} at $SECONDS s"
cd "$OUT/eval" && ls *.png >/dev/null 2>&1 && tar czf plots.tgz *.png && rm -f *.png
# The tool returns at most 8 files: a finished run needs no partial rows.
[ -f report.md ] && rm -f partial.json
ls -la "$OUT" "$OUT/eval"
