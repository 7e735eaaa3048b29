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
}

impl Backend {
    pub fn device(self) -> Result<Device, String> {
        match self {
            #[allow(deprecated)]
            Backend::Cpu => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
            Backend::Vulkan => vulkan_device(),
        }
    }
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
