#!/usr/bin/env bash
# Runs on the GPU machine (device tool), after the same set-up as scripts/gpu-webgpu.sh (same
# `carry`): which of cubecl's kernels Dawn's robustness pass slows down (issue 6). For each batch
# in BATCHES (16 1), bench/webgpu-node/kernel-times.mjs times every dispatch of one LeDiFlow
# Heun 2 sample on Dawn as it comes (Chrome's settings) and with `disable_robustness`.
# Optional: carry/pkg-NAME.tgz (other browser builds) are timed the same way, as it comes, and
# with bench.mjs against web/pkg for the end-to-end time and the pixels. NATIVE=1 (default) also
# times burn's native wgpu and CUDA builds (carry/lediflow.xz, `lediflow bench`) in the same call.
# Output: $OUT/dawn-kernels.md (everything printed) and $OUT/dawn-kernels-json.tgz.
#   usage: [BATCHES='16 1'] [REPLAYS=5] scripts/gpu-dawn-kernels.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" > /dev/null
unpack_browser_bench
others=()
for packed in ../carry/pkg-*.tgz; do
  [ -f "$packed" ] || continue
  name=$(basename "$packed" .tgz)
  mkdir -p "../web/$name" && tar xzf "$packed" -C "../web/$name" --strip-components 1
  others+=("$name")
done
mkdir -p kernels
model=../models/landscapes-64.ldf
times() { # name, pkg, batch, Dawn options...
  local name=$1 pkg=$2 batch=$3; shift 3
  local opts=()
  for o in "$@"; do opts+=(--dawn "$o"); done
  echo; echo "== $name, batch $batch"
  timeout "${STEP_SECONDS:-200}" ./node ../bench/webgpu-node/kernel-times.mjs --pkg "$pkg" --model $model --batch "$batch" \
    --replays "${REPLAYS:-5}" --top 20 --json "kernels/$name-batch$batch.json" "${opts[@]}" 2>&1 | grep -v XDG_RUNTIME_DIR
}
{
  for batch in ${BATCHES:-16 1}; do
    times as-it-comes ../web/pkg/webgpu "$batch"
    times disable-robustness ../web/pkg/webgpu "$batch" enable-dawn-features=disable_robustness
    for name in "${others[@]}"; do
      times "$name" "../web/$name/webgpu" "$batch"
      for pkg in ../web/pkg/webgpu "../web/$name/webgpu"; do
        echo "== bench.mjs $pkg, batch $batch"
        timeout 200 ./node ../bench/webgpu-node/bench.mjs --pkg "$pkg" --model $model --batch "$batch" --repeats 7 \
          --configs lediflow:heun:2 --save "pixels-$(basename "$(dirname "$pkg")")-b$batch" 2>/dev/null | grep -E '^\| lediflow|first call'
      done
      # The two builds' images, same seeds.
      python3 - "pixels-pkg-b$batch-lediflow-heun-2.rgba" "pixels-$name-b$batch-lediflow-heun-2.rgba" <<'PY'
import sys
a, b = (open(p, 'rb').read() for p in sys.argv[1:3])
d = [abs(x - y) for x, y in zip(a, b)]
print(f"pixels, {sys.argv[2]} vs {sys.argv[1]}: {len(d)} bytes, max |Δ| {max(d)} of 255, mean {sum(d) / len(d):.4f}")
PY
    done
    if [ "${NATIVE:-1}" = 1 ]; then
      for backend in wgpu cuda; do
        echo "== native $backend (carry/lediflow.xz), batch $batch"
        ./lediflow bench --backend $backend --model $model --batch "$batch" --repeats 7 --solver heun --steps 2 2>&1 | grep -E '^\|' | tail -2
      done
    fi
  done
} 2>&1 | tee "$OUT/dawn-kernels.md"
tar czf "$OUT/dawn-kernels-json.tgz" kernels
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
