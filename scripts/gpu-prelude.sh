# Sourced by the scripts/gpu-*.sh that run on the GPU machine (device tool), in the repository
# root, with `carry` naming `.gl` and `carry`. Sets up the Vulkan loader (.gl debs), CUDA's NCCL
# and NVRTC, unpacks carry/lediflow.xz (a stripped release build) into .devrun (ignored, not
# carried, kept between calls while the machine stays warm), writes cubecl's configuration
# (autotune level AUTOTUNE_LEVEL, default minimal; a persistent kernel cache in .devrun/cache,
# which only a build with the crate's `persistence` feature reads and writes) and restores
# carry/cubecl-cache.tgz. Leaves the shell in .devrun.
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
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('../carry/lediflow.xz'), open('lediflow','wb'))"
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
