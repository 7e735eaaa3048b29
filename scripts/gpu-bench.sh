#!/usr/bin/env bash
# Runs on the GPU machine (device tool) with `carry` naming `.gl` and `carry`: times the
# shipped model's sampling chain (`lediflow bench`) on burn's Vulkan backend.
#   usage: scripts/gpu-bench.sh [extra lediflow bench args...]
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
mkdir -p .devrun && cd .devrun
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('../carry/lediflow.xz'), open('lediflow','wb'))"
chmod +x lediflow
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
./lediflow bench --backend vulkan --model ../models/landscapes-64.ldf --model ../models/baseline-64.ldf "$@" 2>&1 | tee "$OUT/bench.md"
