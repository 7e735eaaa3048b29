//! Our own WGSL kernels (floor 1), from `shaders/`, dispatched on burn's wgpu tensors.
//!
//! Each kernel has a host reference next to it and falls back to it (or to burn tensor ops)
//! wherever WGSL cannot run: the CPU backend, or a wgpu runtime that compiles SPIR-V
//! (`vulkan` builds reject hand-written WGSL). [`wgsl_available`] says which applies.

mod attention;
mod composite;
mod dequantize;
mod fourier;
mod matmul;
mod prior_draw;
#[cfg(feature = "kernels")]
mod replay;
mod row_norm;
mod solver_update;
mod to_rgba8;
#[cfg(feature = "kernels")]
mod wgsl;

pub use attention::{
    AttentionShape, MAX_D_HEAD, attention, attention_reference, check_against_reference as check_attention,
};
pub use composite::{check_against_reference as check_composite, composite, composite_reference};
pub use dequantize::{Codes, check_against_reference as check_dequantize, dequantize_on_device};
pub use fourier::{check_against_reference as check_fourier, fourier_features, fourier_reference};
pub use matmul::{
    Embedded, EmbeddedAs, Epilogue, Operand, Plan, Tile, check_against_reference as check_matmul, embedded_reference,
    geglu_reference, gelu_reference, linear, linear_geglu, linear_merged, linear_residual, linear_residual_embedded,
    linear_split_lerp, matmul, matmul_reference, merge_reference, set_cpu_device, split_lerp_reference,
};
pub use prior_draw::{
    DrawParameters, DrawShape, check_against_reference as check_prior_draw, prior_draw_reference, prior_draw_tokens,
};
#[cfg(feature = "kernels")]
pub use replay::Captured;
pub use row_norm::{
    RowNorm, check_against_reference as check_row_norm, row_norm, row_norm_columns, row_norm_reference,
};
pub use solver_update::{check_against_reference as check_solver_update, solver_update, solver_update_reference};
pub use to_rgba8::{quantize, to_rgba8_packed, to_rgba8_reference};

/// Workgroups per dispatch axis that every WebGPU device accepts: a larger grid is split
/// (`Plan::launches`) or laid out in rows ([`rows_of_workgroups`]).
pub const MAX_WORKGROUPS: u32 = 65_535;

/// The grid of a one-dimensional job of `groups` workgroups, laid out in rows of at most
/// `max_per_axis` (WebGPU's per-axis limit; the shaders index `y · num_workgroups.x + x`):
/// `(x, y)` workgroups; `None` for no work, or more than `max_per_axis²` workgroups.
pub fn rows_of_workgroups(groups: usize, max_per_axis: u32) -> Option<(u32, u32)> {
    let groups = u32::try_from(groups).ok().filter(|&g| g > 0)?;
    let across = groups.min(max_per_axis);
    let down = groups.div_ceil(across);
    (down <= max_per_axis).then_some((across, down))
}

/// Our WGSL kernels (`shaders/`), each counted every time it is dispatched ([`dispatches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shader {
    Matmul,
    RowNorm,
    Dequantize,
    ToRgba8,
    Composite,
    Attention,
    Fourier,
    SolverUpdate,
    Copy,
    PriorDraw,
}

impl Shader {
    pub const ALL: [Shader; 10] = [
        Shader::Matmul,
        Shader::RowNorm,
        Shader::Dequantize,
        Shader::ToRgba8,
        Shader::Composite,
        Shader::Attention,
        Shader::Fourier,
        Shader::SolverUpdate,
        Shader::Copy,
        Shader::PriorDraw,
    ];

    /// The name the JavaScript diagnostics use (`kernelDispatches()`).
    pub fn name(self) -> &'static str {
        match self {
            Shader::Matmul => "matmul",
            Shader::RowNorm => "rowNorm",
            Shader::Dequantize => "dequantize",
            Shader::ToRgba8 => "toRgba8",
            Shader::Composite => "composite",
            Shader::Attention => "attention",
            Shader::Fourier => "fourier",
            Shader::SolverUpdate => "solverUpdate",
            Shader::Copy => "copy",
            Shader::PriorDraw => "priorDraw",
        }
    }
}

static DISPATCHES: [std::sync::atomic::AtomicU64; Shader::ALL.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; Shader::ALL.len()];

/// How many times each of our kernels has been dispatched in this process (a wasm instance):
/// proof that our WGSL ran, where [`wgsl_available`] only says that it could.
pub fn dispatches() -> [(Shader, u64); Shader::ALL.len()] {
    Shader::ALL.map(|s| (s, DISPATCHES[s as usize].load(std::sync::atomic::Ordering::Relaxed)))
}

#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn count_dispatch(shader: Shader) {
    DISPATCHES[shader as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A kernel could not run or its result could not be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KernelError(pub String);

use burn::tensor::{Device, Tensor};

thread_local! {
    /// The first product our kernels could not take since the last [`take_refusal`] on this
    /// thread, where no other kernel stands in (the browser's WebGPU module links no burn
    /// matmul): the product is zeros, and the pipeline's next readback returns this error instead
    /// of an image. Per thread, as the graph a pipeline builds and reads back is.
    static REFUSAL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

#[cfg_attr(not(wgsl_only), allow(dead_code))]
fn refuse(message: String) {
    REFUSAL.with_borrow_mut(|refusal| {
        refusal.get_or_insert(message);
    });
}

/// The refusal recorded since the last call, if any (and clears it).
pub fn take_refusal() -> Result<(), KernelError> {
    REFUSAL.with_borrow_mut(Option::take).map_or(Ok(()), |message| Err(KernelError(message)))
}

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

/// Whether the networks' own kernels (`matmul.wgsl`, `row_norm.wgsl`) replace burn's on `device`.
/// The browser always runs them: its bounds checks made burn's matmul many times slower, and it
/// is bound by dispatches. Native wgpu runs cubecl's WGSL without bounds checks and they have not
/// been timed against burn's there, so natively they are opt-in: `LEDIFLOW_WGSL_NETWORK=1`.
pub fn network_kernels_run(device: &Device) -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on = *ON.get_or_init(|| {
        #[cfg(target_family = "wasm")]
        return true;
        #[cfg(not(target_family = "wasm"))]
        std::env::var("LEDIFLOW_WGSL_NETWORK").is_ok_and(|v| v == "1")
    });
    on && wgsl_available(device)
}

/// Reads `got` back and returns its largest error relative to `1 + |want|` (infinite when the
/// lengths differ): the measure every kernel's check against its host reference reports.
pub(crate) async fn worst_relative_error<const D: usize>(got: Tensor<D>, want: &[f32]) -> Result<f32, KernelError> {
    let got = got.into_data_async().await.map_err(|e| KernelError(e.to_string()))?;
    let got = got.try_to_vec::<f32>().map_err(|e| KernelError(format!("{e:?}")))?;
    if got.len() != want.len() {
        return Ok(f32::INFINITY);
    }
    Ok(got.iter().zip(want).fold(0f32, |worst, (g, w)| worst.max((g - w).abs() / (1.0 + w.abs()))))
}

/// Deterministic test values in about [-1.5, 1.5], for the kernels' checks against their references.
pub(crate) fn check_values(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i + seed) * 7919 % 113) as f32 - 56.0) / 37.0).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use crate::testing::cpu;

    #[test]
    fn the_checks_measure_the_largest_relative_error_and_refuse_a_wrong_length() {
        let got = || Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &cpu());
        let error = |want: &[f32]| pollster::block_on(super::worst_relative_error(got(), want)).unwrap();
        assert_eq!(error(&[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(error(&[1.0, 2.0, 4.0]), 0.2, "|3 − 4| / (1 + 4)");
        assert_eq!(error(&[1.0, 2.0]), f32::INFINITY);
    }

    #[test]
    fn a_long_job_is_laid_out_in_rows_that_cover_every_workgroup_within_the_axis_limit() {
        use super::rows_of_workgroups as rows;
        assert_eq!(rows(0, 4), None, "no work, no dispatch");
        assert_eq!(rows(3, 4), Some((3, 1)));
        assert_eq!(rows(4, 4), Some((4, 1)));
        assert_eq!(rows(5, 4), Some((4, 2)), "a second row, partly idle");
        assert_eq!(rows(16, 4), Some((4, 4)));
        assert_eq!(rows(17, 4), None, "past limit² workgroups");
        assert_eq!(rows(65_536, super::MAX_WORKGROUPS), Some((65_535, 2)));
    }

    #[test]
    fn a_refusal_is_reported_once_the_first_one_kept() {
        super::refuse("first".into());
        super::refuse("second".into());
        assert_eq!(super::take_refusal(), Err(super::KernelError("first".into())));
        assert_eq!(super::take_refusal(), Ok(()), "taken");
    }
}
