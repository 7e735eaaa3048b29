# Sourced by the scripts/gpu-*.sh that run on the GPU machine (device tool), in the repository
# root, with `carry` naming `.gl` and `carry`. Sets up the Vulkan loader (.gl debs), CUDA's NCCL
# and NVRTC, unpacks carry/lediflow.xz (a stripped release build) into .devrun (ignored, not
# carried, kept between calls while the machine stays warm), writes cubecl's configuration
# (autotune level AUTOTUNE_LEVEL, default minimal; a persistent kernel cache in .devrun/cache,
# which only a build with the crate's `persistence` feature reads and writes) and restores
# carry/cubecl-cache.tgz. Leaves the shell in .devrun. Defines unpack_browser_bench (the WebGPU
# benchmarks' files) and eval_sets (several `lediflow eval` argument sets on two model files).
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
# NVLink multicast stays off (the device README's KINDS.md says why).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
mkdir -p .devrun/lib && cd .devrun
# NCCL ships with PyTorch there as libnccl.so.2, a name cudarc does not try: link it as libnccl.so.
nccl=$(python3 -c "import nvidia.nccl, os, glob; print(glob.glob(os.path.join(list(nvidia.nccl.__path__)[0], 'lib', 'libnccl.so*'))[0])" 2>/dev/null \
  || ldconfig -p | awk '/libnccl\.so/ {print $NF; exit}')
[ -n "$nccl" ] && ln -sf "$nccl" lib/libnccl.so
export LD_LIBRARY_PATH="$PWD/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "nccl: ${nccl:-not found}"
# Unpacked again only when the carried build is newer: a second script sourcing this one while a
# lediflow process still runs (scripts/gpu-grow.sh) cannot rewrite a busy executable.
[ lediflow -nt ../carry/lediflow.xz ] \
  || python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('../carry/lediflow.xz'), open('lediflow','wb'))"
chmod +x lediflow
cat > cubecl.toml <<TOML
[compilation]
cache = true
[autotune]
level = "${AUTOTUNE_LEVEL:-minimal}"
[environment]
path = { directory = "cache" }
TOML
[ -f ../carry/cubecl-cache.tgz ] && tar xzf ../carry/cubecl-cache.tgz
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# For the WebGPU benchmarks (scripts/gpu-webgpu.sh, scripts/gpu-dequant.sh): Node (carry/node.xz),
# Dawn (carry/webgpu-node.tgz into bench/webgpu-node) and the browser build (carry/pkg.tgz).
unpack_browser_bench() {
  python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('../carry/node.xz'), open('node','wb'))" && chmod +x node
  (cd ../bench/webgpu-node && tar xf ../../carry/webgpu-node.tgz)
  (cd ../web && rm -rf pkg && tar xzf ../carry/pkg.tgz)
  export XDG_RUNTIME_DIR=/tmp
}

# `lediflow eval` of LEDIFLOW_FILE and BASELINE_FILE once per ';'-separated argument set of
# EVAL_ARGS, into PREFIX-1/, PREFIX-2/, ... (each with its log beside it), each set cut off when
# EVAL_SECONDS (default 570) have passed since the calling script began; prints each report's
# tables. EVAL_NET (default ../models/eval, the 64-px one) is the evaluation network's directory.
# Run from .devrun, where the prelude leaves the shell.
#   usage: eval_sets LEDIFLOW_FILE BASELINE_FILE PREFIX
eval_sets() {
  local -a sets
  local set left k=0
  IFS=';' read -ra sets <<< "${EVAL_ARGS:?EVAL_ARGS: ';'-separated lediflow eval arguments}"
  for set in "${sets[@]}"; do
    k=$((k + 1))
    left=$(( ${EVAL_SECONDS:-570} - SECONDS ))
    [ "$left" -gt 10 ] || { echo "eval $k: no time left"; break; }
    echo "== eval $k from $SECONDS s: $set"
    # shellcheck disable=SC2086
    timeout "$left" ./lediflow eval --backend "${BACKEND:-vulkan}" --eval-net "${EVAL_NET:-../models/eval}" \
      --model "$1" --model "$2" --out "$3-$k" $set > "$3-$k.log" 2>&1
    echo "exit $? at $SECONDS s"
    grep '^| \(method\|lediflow\|baseline\|encoder\|latent\|prior\)' "$3-$k/report.md" 2>/dev/null || tail -5 "$3-$k.log"
  done
}
