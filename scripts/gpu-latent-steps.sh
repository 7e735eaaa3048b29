#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with `carry` naming `.gl` and `carry/lediflow.xz`.
# Issue 22's "fewer network evaluations": LeDiFlow's quality and whole-chain time against the
# latent sampler's solver and steps, the flow at midpoint × 1 and × 2, every variant on the same
# seeds in one call (so its times compare). One `lediflow eval` per variant, each cut off by what
# is left of EVAL_SECONDS; the reports come back in $OUT/latent-steps.tgz, the tables on stdout.
#   usage: [LATENT='heun:8 midpoint:4 ...'] [EVAL_SECONDS=570] BACKEND=cuda scripts/gpu-latent-steps.sh [extra eval args]
set -uo pipefail
backend=${BACKEND:-cuda}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
mkdir -p reports
for variant in ${LATENT:-heun:8 midpoint:4 midpoint:6 midpoint:3 heun:6}; do
  solver=${variant%%:*} steps=${variant##*:}
  left=$((${EVAL_SECONDS:-570} - SECONDS))
  [ "$left" -gt 30 ] || { echo "== $variant: skipped, ${left} s left"; continue; }
  echo "== latent $solver × $steps (${left} s left)"
  mkdir -p "reports/$solver-$steps"
  timeout "$left" ./lediflow eval --backend "$backend" --eval-net ../models/eval --model ../models/landscapes-64.ldf \
    --method lediflow --solver midpoint --steps 1,2 --latent-solver "$solver" --latent-steps "$steps" \
    --n 2000 --inpaint 0 --interpolation-pairs 0 --swd-images 1000 --probe-steps 2 \
    --out "reports/$solver-$steps" "$@" 2>&1 | grep '^|' | tail -20
  echo "eval exit ${PIPESTATUS[0]} at $SECONDS s"
  rm -f reports/"$solver-$steps"/*.png
done
tar czf "$OUT/latent-steps.tgz" reports
