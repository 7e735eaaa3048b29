//! Choosing the compute device from a flag.

use burn::tensor::Device;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's ndarray backend on the CPU.
    Cpu,
    /// burn's wgpu backend with WGSL (Vulkan, Metal or DX12); needs the `wgpu` feature.
    Wgpu,
    /// burn's wgpu backend compiling to SPIR-V on Vulkan; needs the `vulkan` feature.
    Vulkan,
    /// burn's CUDA backend (NVRTC), the only one with collectives for several GPUs; needs the
    /// `cuda` feature.
    Cuda,
}

impl Backend {
    pub fn device(self) -> Result<Device, String> {
        match self {
            #[allow(deprecated)]
            Backend::Cpu => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
            Backend::Vulkan => vulkan_device(),
            Backend::Cuda => cuda_device(0),
        }
    }

    /// The first `count` devices of this backend, for data-parallel training.
    pub fn devices(self, count: usize) -> Result<Vec<Device>, String> {
        if count == 0 {
            return Err("--devices must be at least 1".into());
        }
        if count == 1 {
            return Ok(vec![self.device()?]);
        }
        match self {
            Backend::Cuda => (0..count).map(cuda_device).collect(),
            other => Err(format!(
                "training on {count} devices needs `--backend cuda`: burn's collectives (NCCL) exist \
                 only there, not on {other:?}"
            )),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device, String> {
    let available = Device::enumerate(burn::tensor::DeviceType::Cuda).into_vec().len();
    if index >= available {
        return Err(format!("CUDA device {index} does not exist: {available} found"));
    }
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_index: usize) -> Result<Device, String> {
    Err("this binary was built without the `cuda` feature; rebuild with `--features cuda` or use `--backend cpu`"
        .into())
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    Device::wgpu_options().init().map_err(|e| format!("no usable wgpu adapter: {e}"))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("this binary was built without the `wgpu` feature; rebuild with `--features wgpu` or use `--backend cpu`"
        .into())
}

#[cfg(feature = "vulkan")]
fn vulkan_device() -> Result<Device, String> {
    Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "vulkan"))]
fn vulkan_device() -> Result<Device, String> {
    Err("this binary was built without the `vulkan` feature; rebuild with `--features vulkan` or use `--backend cpu`"
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_counts_are_checked() {
        assert!(Backend::Cpu.devices(0).is_err(), "no devices");
        assert_eq!(Backend::Cpu.devices(1).map(|d| d.len()), Ok(1));
        let err = Backend::Cpu.devices(2).err().expect("two CPU devices");
        assert!(err.contains("--backend cuda"), "{err}");
        #[cfg(not(feature = "cuda"))]
        assert!(Backend::Cuda.devices(2).is_err(), "a build without CUDA");
    }
}
