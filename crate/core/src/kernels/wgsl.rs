//! Launching a hand-written WGSL compute shader through cubecl on burn tensors.
//!
//! cubecl runs a kernel whose `source()` is a precompiled WGSL text as is (naga validates it,
//! the bind group layout comes from the shader). Bindings are the buffers in argument order,
//! then one uniform with the `info` words.

use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::backend::{Cube, DispatchDevice};
use burn::cubecl::ir::settings::{Dim3, ExecutionMode, KernelSettings};
use burn::cubecl::ir::{AddressType, ElemType, Scope, UIntKind, metadata::Info};
use burn::cubecl::prelude::{KernelDefinition, KernelId, KernelMetadata};
use burn::cubecl::server::{KernelArguments, MetadataBindingInfo};
use burn::cubecl::{CubeCount, CubeKernel, PrecompiledSource};
use burn::tensor::{DType, Device, Int, Tensor};

pub struct WgslKernel {
    pub id: KernelId,
    /// Which of ours it is: [`launch_words`] counts each dispatch (`super::dispatches`).
    pub shader: super::Shader,
    pub source: &'static str,
    /// The shader's entry point; it also labels the pipeline in WebGPU profiles.
    pub entry: &'static str,
    pub workgroup: Dim3,
}

impl KernelMetadata for WgslKernel {
    fn id(&self) -> KernelId {
        self.id.clone()
    }
    fn address_type(&self) -> ElemType {
        ElemType::UInt(UIntKind::U32)
    }
}

impl CubeKernel for WgslKernel {
    fn define(&self) -> KernelDefinition {
        // Never compiled (the source below is used as is); cubecl only keys its caches on it.
        let settings = KernelSettings::new(self.workgroup, ExecutionMode::Checked, AddressType::U32);
        KernelDefinition { body: Scope::root(settings.clone()), settings, info: Info::default() }
    }
    fn source(&self) -> Option<PrecompiledSource> {
        Some(PrecompiledSource { source: self.source.into(), entrypoint_name: self.entry.into(), lang: "wgsl" })
    }
}

pub fn accepts_wgsl(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Cube(d @ burn::cubecl::Device::Wgpu(_)) => d.client().name() == "wgpu<wgsl>",
        _ => false,
    }
}

/// The contiguous f32 cube tensor behind `t`; `None` on another backend, another dtype or a
/// quantized tensor: what our shaders read.
pub fn cube<const D: usize>(t: Tensor<D>) -> Option<CubeTensor> {
    let t = t.try_into_primitive::<Cube>().ok()?;
    (t.dtype == DType::F32 && t.qparams.is_none()).then(|| into_contiguous(t))
}

/// The contiguous 32-bit integer cube tensor behind an index tensor, read as `array<u32>` by our
/// shaders (its values are non-negative); `None` on another backend or a wider integer type.
pub fn cube_index(t: Tensor<1, Int>) -> Option<CubeTensor> {
    let t = t.try_into_primitive::<Cube>().ok()?;
    matches!(t.dtype, DType::I32 | DType::U32).then(|| into_contiguous(t))
}

pub fn launch(kernel: WgslKernel, count: CubeCount, buffers: &[&CubeTensor], info: [u32; 4]) {
    launch_words(kernel, count, buffers, &info)
}

/// [`launch`] with an `info` uniform of any multiple of 4 words (`array<vec4<u32>, N>` in WGSL).
pub fn launch_words(kernel: WgslKernel, count: CubeCount, buffers: &[&CubeTensor], info: &[u32]) {
    debug_assert!(info.len() % 4 == 0, "a uniform is whole vec4<u32>s");
    let client = buffers[0].client.clone();
    let mut args = KernelArguments::new();
    for b in buffers {
        args = args.with_buffer(b.handle.clone().binding());
    }
    let words = info.chunks(2).map(|w| w[0] as u64 | (w.get(1).copied().unwrap_or(0) as u64) << 32).collect();
    args = args.with_info(MetadataBindingInfo::custom(words));
    super::count_dispatch(kernel.shader);
    client.launch(Box::new(kernel), count, args);
}
