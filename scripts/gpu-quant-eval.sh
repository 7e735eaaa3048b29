#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with `carry` naming `.gl` and `carry`: scores the
# shipped int8 model against its f16 source (the run's EMA parts) on the evaluation metric, and
# the f16 model at a second set of seeds, which is how far the scores move with the seeds alone
# (issue 5: "quality loss within the metric's noise").
#   usage: BACKEND=cuda scripts/gpu-quant-eval.sh [extra lediflow eval args...]
set -uo pipefail
backend=${BACKEND:-cuda}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
common=(--backend "$backend" --eval-net ../models/eval --method lediflow --solver heun --steps 1,2,4
        --n "${N:-2000}" --inpaint 0 --interpolation-pairs 0 --probe-steps 2)
score() {
  local name=$1; shift
  echo "== $name: $*"
  timeout "${STEP_SECONDS:-170}" ./lediflow eval "${common[@]}" --out "$OUT/$name" "$@" 2>&1 | tr '\r' '\n' \
    | grep -E '^\||wrote|error|Error' | head -30
  (cd "$OUT/$name" && rm -f *.png report.json partial.json)
}
score int8 --model ../models/landscapes-64.ldf "$@"
score f16 --model ../models/checkpoints/s64-landscapes "$@"
score f16-other-seeds --model ../models/checkpoints/s64-landscapes --first-seed 1000000 "$@"
echo "done at $SECONDS s"
