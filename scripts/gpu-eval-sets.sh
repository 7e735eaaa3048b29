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
BACKEND=${BACKEND:-cuda} EVAL_SECONDS=${EVAL_SECONDS:-560} eval_sets ../models/landscapes-64.ldf ../models/baseline-64.ldf evals/eval
tar czf "$OUT/evals.tgz" evals
