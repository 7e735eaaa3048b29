//! Choosing the compute device from a flag.

use burn::tensor::Device;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's ndarray backend on the CPU.
    Cpu,
    /// burn's wgpu backend (Vulkan, Metal or DX12); needs the `wgpu` feature.
    Wgpu,
}

impl Backend {
    pub fn device(self) -> Result<Device, String> {
        match self {
            #[allow(deprecated)]
            Backend::Cpu => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    Device::wgpu_options().init().map_err(|e| format!("no usable wgpu adapter: {e}"))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("this binary was built without the `wgpu` feature; rebuild with `--features wgpu` or use `--backend cpu`".into())
}
