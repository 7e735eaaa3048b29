#!/usr/bin/env bash
# Runs on the GPU machine (device tool), `carry` naming `.gl` and carry/lediflow.xz. Scores the
# models in models/ (landscapes-64.ldf, baseline-64.ldf: put the files to score there) with
# `lediflow eval`, once per ';'-separated argument set of EVAL_ARGS, each set cut off at
# EVAL_SECONDS since the script began. Prints each report's tables; brings the reports back
# as $OUT/evals.tgz (eval-1/, eval-2/, ...).
#   usage: [BACKEND=cuda] [EVAL_SECONDS=560] EVAL_ARGS='--n 2000 ...;--n 2000 ...' scripts/gpu-eval-sets.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" >/dev/null
rm -rf evals && mkdir -p evals
IFS=';' read -ra sets <<< "${EVAL_ARGS:?EVAL_ARGS: ';'-separated lediflow eval arguments}"
k=0
for set in "${sets[@]}"; do
  k=$((k + 1))
  left=$(( ${EVAL_SECONDS:-560} - SECONDS ))
  [ "$left" -gt 10 ] || { echo "eval $k: no time left"; break; }
  echo "== eval $k from $SECONDS s: $set"
  # shellcheck disable=SC2086
  timeout "$left" ./lediflow eval --backend "${BACKEND:-cuda}" --eval-net ../models/eval \
    --model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf --out "evals/eval-$k" $set > "evals/eval-$k.log" 2>&1
  echo "exit $? at $SECONDS s"
  grep '^| \(method\|lediflow\|baseline\|encoder\|latent\|prior\)' "evals/eval-$k/report.md" 2>/dev/null
done
tar czf "$OUT/evals.tgz" evals
