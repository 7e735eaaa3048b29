#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Times the inference stack through WebGPU engines against
# burn's native backends on the same GPU, in one run (issue 6, BENCHMARKS.md "WebGPU on the GPU
# machine"), and the weight loading per dequantization path (issue 5).
# `carry` names `.gl` and `carry`, which holds:
#   lediflow.xz        a release build with `--features wgpu,cuda` (wgpu = WGSL on Vulkan, the
#                      shader path of Firefox's engine; cuda = burn's fastest native backend)
#   node.xz            a stripped Node 20 binary (Node is not installed there)
#   webgpu-node.tgz    bench/webgpu-node/node_modules with Dawn for linux-x64 only
#   pkg.tgz            web/pkg, the browser build (its WebGPU module, pkg/webgpu, is timed)
#   pkg-NAME.tgz       (any number, optional) other browser builds, timed on Dawn beside web/pkg
# Output: $OUT/webgpu$TAG.md (everything printed) and $OUT/dawn-json$TAG.tgz (bench.mjs --json per
# build and batch). MODELS (bench.mjs's --model arguments; the 64-px pair by default) picks the
# files timed, e.g. MODELS='--model ../models/landscapes-128.ldf' TAG=-128.
#   usage: [SKIP_LOAD=1] [CONFIGS=lediflow:heun:2,...] [NATIVE='--solver midpoint --steps 2;...']
#          [NATIVE_BACKENDS='wgpu wgsl cuda'] [UNTIMED=1] [REPLAY=1] [MODELS='--model …'] [TAG=-name] scripts/gpu-webgpu.sh
# A configuration is bench.mjs's method:solver:steps[:latentSolver:latentSteps[:latentTimePower]].
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh"
unpack_browser_bench
pkgs=../web/pkg/webgpu
for packed in ../carry/pkg-*.tgz; do
  [ -f "$packed" ] || continue
  name=$(basename "$packed" .tgz)
  mkdir -p "../web/$name" && tar xzf "$packed" -C "../web/$name" --strip-components 1
  # A build of today's layout holds the WebGPU module in webgpu/; an older one is the module.
  if [ -d "../web/$name/webgpu" ]; then pkgs="$pkgs ../web/$name/webgpu"; else pkgs="$pkgs ../web/$name"; fi
done
# $OUT takes at most 8 files: the JSON of every Dawn run comes back in one tgz.
rm -rf dawn pixels-*.rgba && mkdir -p dawn
models=${MODELS:-"--model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf"}
# The name a build's results carry: pkg for web/pkg, NAME for carry/pkg-NAME.tgz.
label() { case "$1" in ../web/pkg/webgpu) echo pkg ;; */webgpu) basename "$(dirname "$1")" ;; *) basename "$1" ;; esac; }
run() { echo; echo "== $*"; timeout "${STEP_SECONDS:-150}" "$@" 2>&1 | grep -v '^\s*$' | tail -40; }
{
  if [ "${SKIP_LOAD:-0}" != 1 ]; then
    run ./lediflow bench-load --backend wgpu --model ../models/landscapes-64.ldf --dequantize gpu,burn,host
    run ./lediflow bench-load --backend cuda --model ../models/landscapes-64.ldf --dequantize burn,host
  fi
  for batch in 1 16; do
    for pkg in $pkgs; do
      run ./node ../bench/webgpu-node/bench.mjs --pkg "$pkg" $models --batch $batch --repeats 7 \
        --configs "${CONFIGS:-lediflow:heun:2,baseline:heun:2,baseline:heun:32}" --json "dawn/$(label "$pkg")-batch$batch.json" \
        --save "pixels-$(label "$pkg")-batch$batch"
      # UNTIMED=1: the same calls with `stageTimes: false` (one readback per call, issue 22).
      [ "${UNTIMED:-0}" = 1 ] && run ./node ../bench/webgpu-node/bench.mjs --pkg "$pkg" $models --batch $batch --repeats 7 \
        --configs "${CONFIGS:-lediflow:heun:2,baseline:heun:2,baseline:heun:32}" --json "dawn/$(label "$pkg")-batch$batch-untimed.json" \
        --stage-times off
      # REPLAY=1: the same calls untimed with the generator's recorded evaluations replayed
      # (`recordEvaluations(true)`, cubecl's software graph).
      [ "${REPLAY:-0}" = 1 ] && run ./node ../bench/webgpu-node/bench.mjs --pkg "$pkg" $models --batch $batch --repeats 7 \
        --configs "${CONFIGS:-lediflow:heun:2,baseline:heun:2,baseline:heun:32}" --json "dawn/$(label "$pkg")-batch$batch-replay.json" \
        --stage-times off --replay on
    done
    # Every other build's pixels against web/pkg's, same seeds (0 = the same image bytes).
    python3 - pixels-pkg-batch$batch-*.rgba <<'PY'
import glob, sys
for ref in sys.argv[1:]:
    a = open(ref, 'rb').read()
    for other in sorted(glob.glob(ref.replace('pixels-pkg-', 'pixels-pkg-*-'))):
        b = open(other, 'rb').read()
        if len(a) != len(b):
            print(f"{other}: {len(b)} bytes against {len(a)}"); continue
        d = [abs(x - y) for x, y in zip(a, b)]
        print(f"{other} vs {ref}: max |Δ| {max(d)} of 255, mean {sum(d) / len(d):.3f}, {sum(x > 8 for x in d)} bytes off by more than 8")
PY
    # NATIVE: ';'-separated `lediflow bench` arguments, each run on the NATIVE_BACKENDS (default
    # all three): wgpu (burn's kernels), wgsl (wgpu with our WGSL network kernels, the browser's:
    # LEDIFLOW_WGSL_NETWORK=1) and cuda.
    IFS=';' read -ra natives <<<"${NATIVE:---solver heun --steps 2,32}"
    for native in "${natives[@]}"; do
      for backend in ${NATIVE_BACKENDS:-wgpu wgsl cuda}; do
        case $backend in
          wgpu) run ./lediflow bench --backend wgpu $models --batch $batch --repeats 7 $native ;;
          wgsl) run env LEDIFLOW_WGSL_NETWORK=1 ./lediflow bench --backend wgpu $models --batch $batch --repeats 7 $native ;;
          cuda) run ./lediflow bench --backend cuda $models --batch $batch --repeats 7 $native ;;
        esac
      done
    done
  done
} | tee "$OUT/webgpu${TAG:-}.md"
tar czf "$OUT/dawn-json${TAG:-}.tgz" dawn && rm -rf dawn
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
