#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with `carry` naming `.gl` and `carry`: times the
# shipped model's sampling chain (`lediflow bench`) on burn's Vulkan backend.
#   usage: scripts/gpu-bench.sh [extra lediflow bench args...]
set -uo pipefail
source "$(dirname "$0")/gpu-prelude.sh"
./lediflow bench --backend vulkan --model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf "$@" 2>&1 | tee "$OUT/bench.md"
