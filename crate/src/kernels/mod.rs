//! Our own WGSL kernels (floor 1), from `shaders/`, dispatched on burn's wgpu tensors.
//!
//! Each kernel has a host reference next to it and falls back to it (or to burn tensor ops)
//! wherever WGSL cannot run: the CPU backend, or a wgpu runtime that compiles SPIR-V
//! (`vulkan` builds reject hand-written WGSL). [`wgsl_available`] says which applies.

mod composite;
mod dequantize;
mod matmul;
mod row_norm;
mod to_rgba8;
#[cfg(feature = "kernels")]
mod wgsl;

pub use composite::{composite, composite_reference};
pub use dequantize::{Codes, dequantize_on_device};
pub use matmul::{
    Operand, Plan, check_against_reference as check_matmul, linear, matmul, matmul_reference,
    runs_wgsl as matmul_runs_wgsl,
};
pub use row_norm::{RowNorm, check_against_reference as check_row_norm, row_norm, row_norm_reference};
pub use to_rgba8::{quantize, to_rgba8_packed, to_rgba8_reference};

/// A kernel could not run or its result could not be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KernelError(pub String);

use burn::tensor::Device;

/// Whether `device` runs hand-written WGSL (burn's wgpu runtime with its WGSL compiler).
pub fn wgsl_available(device: &Device) -> bool {
    #[cfg(feature = "kernels")]
    {
        wgsl::accepts_wgsl(device)
    }
    #[cfg(not(feature = "kernels"))]
    {
        let _ = device;
        false
    }
}
