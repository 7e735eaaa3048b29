#!/usr/bin/env bash
# Runs on the GPU machine (device tool), after the same set-up as scripts/gpu-webgpu.sh (same
# `carry`): where Dawn's time goes (issue 6). Times LeDiFlow (Heun, 2 steps) at batch BATCH (16)
# on Dawn as it comes, and with Dawn's safety toggles off one at a time and all together:
#   skip_validation          no WebGPU validation of each call;
#   disable_robustness       no bounds clamps in the generated shaders;
#   disable_workgroup_init   no zeroing of workgroup memory;
#   lazy_clear_resource_on_first_use (disabled)   no zeroing of new buffers.
# A Chrome user cannot change these; a toggle that buys a lot says what our dispatches cost there.
# Then burn's native wgpu and CUDA at batch 1 and 16 for the ratio in the same run.
#   usage: [BATCH=16] scripts/gpu-dawn-toggles.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" > /dev/null
unpack_browser_bench
batch=${BATCH:-16}
models="--model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf"
dawn() { # name, Dawn options...
  local name=$1; shift
  local opts=()
  for o in "$@"; do opts+=(--dawn "$o"); done
  echo "== Dawn, $name"
  timeout 120 ./node ../bench/webgpu-node/bench.mjs --pkg ../web/pkg/webgpu $models --batch "$batch" --repeats 7 \
    --configs lediflow:heun:2 "${opts[@]}" 2>/dev/null | grep -E '^\| lediflow|first call'
}
{
  dawn "as it comes"
  dawn "skip_validation" enable-dawn-features=skip_validation
  dawn "disable_robustness" enable-dawn-features=disable_robustness
  dawn "disable_workgroup_init" enable-dawn-features=disable_workgroup_init
  dawn "no lazy clear" disable-dawn-features=lazy_clear_resource_on_first_use
  dawn "all four" enable-dawn-features=skip_validation,disable_robustness,disable_workgroup_init \
    disable-dawn-features=lazy_clear_resource_on_first_use
  for b in 1 16; do
    echo "== native, batch $b"
    ./lediflow bench --backend wgpu $models --batch $b --repeats 7 --solver heun --steps 2 2>&1 | grep -E '^\|' | tail -3
    ./lediflow bench --backend cuda $models --batch $b --repeats 7 --solver heun --steps 2 2>&1 | grep -E '^\|' | tail -3
  done
} 2>&1 | tee "$OUT/dawn-toggles.md"
