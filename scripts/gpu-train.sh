#!/usr/bin/env bash
# Runs on the GPU machine (device tool), in the repository root, with `carry` naming `.gl` and
# `carry`. Expects carry/lediflow.xz (a release build with --features vulkan, stripped) and,
# when resuming, carry/run/ (state.json + ema.ldf at least) and carry/cubecl-cache.tgz.
#   usage: scripts/gpu-train.sh MINUTES STAGES [extra lediflow train args...]
set -uo pipefail
minutes=$1; stages=$2; shift 2
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
mkdir -p work && cd work
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('../carry/lediflow.xz'), open('lediflow','wb'))"
chmod +x lediflow
cat > cubecl.toml <<'TOML'
[compilation]
cache = true
[autotune]
level = "minimal"
[environment]
path = { directory = "cache" }
TOML
[ -f ../carry/cubecl-cache.tgz ] && tar xzf ../carry/cubecl-cache.tgz
resume=""
if [ -f ../carry/run/state.json ]; then cp -r ../carry/run run; resume="--resume"; fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
./lediflow train --backend vulkan --run run --stage "$stages" --minutes "$minutes" $resume "$@" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | awk 'NR % 20 == 1 || /loss|error|wrote|step|stopped/' | tail -c 20000
status=${PIPESTATUS[0]}
mkdir -p "$OUT/run"
cp run/state.json run/log.csv run/loss.png "$OUT/run/" 2>/dev/null
[ -f run/ema.ldf ] && cp run/ema.ldf "$OUT/run/"
last=$(ls run/samples/*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" "$OUT/run/"
[ -d cache ] && tar czf "$OUT/cubecl-cache.tgz" cache
ls -la "$OUT" "$OUT/run"
exit $status
