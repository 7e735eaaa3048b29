#!/usr/bin/env bash
# Remakes models/tiny-test.ldf, the browser tests' model: the `tiny` configuration trained for
# 300 steps of 32 images per stage on the CPU (about 6 minutes on 2 cores), exported as int8.
# Trained, so that every output layer is non-zero and a sample depends on every layer: an
# untrained model outputs v = 0 and its samples are the prior's noise, which no wrong matmul or
# dequantization can change (issue 24).
#   usage: scripts/make-tiny-test.sh [LEDIFLOW_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/lediflow}
run=$(mktemp -d)/tiny
"$bin" train --config tiny --backend cpu --run "$run" --steps 300 --batch 32 --seed 0 --sample-every 100000
"$bin" export --run "$run" --quant int8 --networks latent,decoder,encoder,flow,baseline --out models/tiny-test.ldf
