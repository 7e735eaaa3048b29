//! RMS normalisation, plain and adaptive (conditioned on the time embedding).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::kernels::{Embedded, Epilogue, RowNorm, row_norm};

use super::precision;

const EPS: f64 = 1e-6;
const RMS: RowNorm = RowNorm::Rms { eps: EPS as f32 };

/// `x / sqrt(mean(x², last axis) + eps)`. In the browser build one dispatch of our WGSL
/// (`kernels::row_norm`), like the two norms below with their scale and modulation.
pub fn rms_norm<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if let Some(y) = row_norm(&x, RMS, None, None) {
        return y;
    }
    let ms = x.clone().square().mean_dim(D - 1);
    x * ms.add_scalar(EPS).sqrt().recip()
}

/// RMSNorm with a learnable per-feature scale (initialised to 1).
#[derive(Module, Debug)]
pub struct RmsNorm {
    pub scale: Param<Tensor<1>>,
}

impl RmsNorm {
    pub fn new(features: usize, device: &Device) -> Self {
        Self { scale: super::init::constant([features], 1.0, device) }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let scale = self.scale.val();
        if let Some(y) = row_norm(&x, RMS, Some(&scale), None) {
            return y;
        }
        rms_norm(x) * scale.unsqueeze()
    }

    /// `layer.forward(self.forward(x))` and `epilogue`, the norm folded into the layer's matmul
    /// where our WGSL runs ([`folds`]); `None` elsewhere, where the caller runs the norm, then the
    /// layer. `base`: what [`Epilogue::Update`] adds to (`None` for the others).
    pub fn linear<const D: usize>(
        &self,
        x: &Tensor<D>,
        layer: &Linear,
        epilogue: Epilogue,
        base: Option<&Tensor<D>>,
    ) -> Option<Tensor<D>> {
        if !folds(x) {
            return None;
        }
        let scale = self.scale.val().unsqueeze::<2>();
        let bias = layer.bias.as_ref().map(|b| b.val());
        RMS.linear(x, Some((&scale, 0, 0.0)), &layer.weight.val(), bias.as_ref(), epilogue, base)
    }
}

/// Whether a norm folds into the next matmul: f32 (the fold is our WGSL's), where our WGSL runs.
/// There the norm costs no dispatch of its own (`kernels::Prologue`); the sums differ from the
/// separate norm's only in their order.
fn folds<const D: usize>(x: &Tensor<D>) -> bool {
    precision::current() == precision::Precision::F32 && crate::kernels::network_kernels_run(&x.device())
}

/// What a block's AdaRMSNorm is conditioned on in one network evaluation: the condition, and
/// where a prepared backbone computed them at once (`Backbone::prepare_modulations`), every
/// norm's modulation side by side, `[B, Σ widths]`.
#[derive(Clone, Copy, Default)]
pub struct Conditioning<'a> {
    pub cond: Option<&'a Tensor<2>>,
    pub modulations: Option<&'a Tensor<2>>,
}

impl<'a> From<Option<&'a Tensor<2>>> for Conditioning<'a> {
    fn from(cond: Option<&'a Tensor<2>>) -> Self {
        Self { cond, modulations: None }
    }
}

/// AdaRMSNorm: `rms_norm(x) · (1 + Linear(cond))`, the Linear zero-initialised so that a fresh
/// network starts as a plain RMSNorm. Networks without a time input pass no condition and get
/// the bare normalisation (the next Linear supplies any scale).
#[derive(Module, Debug)]
pub struct AdaRmsNorm {
    pub linear: Option<Linear>,
    /// Where this norm's modulation starts in [`Conditioning::modulations`], once prepared.
    #[module(skip)]
    pub column: Option<usize>,
}

impl AdaRmsNorm {
    pub fn new(features: usize, cond_features: Option<usize>, device: &Device) -> Self {
        let linear = cond_features.map(|c| zero_linear(c, features, device));
        Self { linear, column: None }
    }

    /// `x`: `[B, H, W, C]`; `cond`: `[B, C_cond]`.
    pub fn forward<'a>(&self, x: Tensor<4>, cond: impl Into<Conditioning<'a>>) -> Tensor<4> {
        let Conditioning { cond, modulations } = cond.into();
        match (&self.linear, cond) {
            (Some(linear), Some(cond)) => {
                if let (Some(all), Some(column)) = (modulations, self.column)
                    && let Some(y) = crate::kernels::row_norm_columns(&x, RMS, all, column)
                {
                    return y;
                }
                let modulation = super::precision::linear(linear, cond.clone());
                if let Some(y) = row_norm(&x, RMS, None, Some(&modulation)) {
                    return y;
                }
                rms_norm(x) * modulation.add_scalar(1.0).unsqueeze_dims::<4>(&[1, 2])
            }
            _ => rms_norm(x),
        }
    }

    /// `layer.forward(self.forward(x, cond))` and `epilogue` (plain or GEGLU), the norm folded
    /// into the layer's matmul where our WGSL runs ([`folds`]): the modulation (prepared, or one
    /// matmul of the condition) scales `x` as the matmul loads it. `None` elsewhere, where the
    /// caller runs the norm, then the layer.
    /// [`AdaRmsNorm::linear`] of a patch_in layer's output left uncomputed (`kernels::Embedded`,
    /// rows flattened), the plain epilogue: `[rows, d_out]`; `None` where our WGSL does not run.
    pub fn linear_embedded<'a>(
        &self,
        x: &Embedded,
        cond: impl Into<Conditioning<'a>>,
        layer: &Linear,
    ) -> Option<Tensor<2>> {
        if !folds(&x.tokens) {
            return None;
        }
        let Conditioning { cond, modulations } = cond.into();
        let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
        let fold = |factor| RMS.linear_embedded(x, factor, &weight, bias.as_ref());
        match (&self.linear, cond) {
            (Some(linear), Some(cond)) => match (modulations, self.column) {
                (Some(all), Some(column)) => fold(Some((all, column, 1.0))),
                _ => fold(Some((&precision::linear(linear, cond.clone()), 0, 1.0))),
            },
            _ => fold(None),
        }
    }

    pub fn linear<'a>(
        &self,
        x: &Tensor<4>,
        cond: impl Into<Conditioning<'a>>,
        layer: &Linear,
        epilogue: Epilogue,
    ) -> Option<Tensor<4>> {
        if !folds(x) {
            return None;
        }
        let Conditioning { cond, modulations } = cond.into();
        let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
        let fold = |factor| RMS.linear(x, factor, &weight, bias.as_ref(), epilogue, None);
        match (&self.linear, cond) {
            (Some(linear), Some(cond)) => match (modulations, self.column) {
                (Some(all), Some(column)) => fold(Some((all, column, 1.0))),
                _ => fold(Some((&precision::linear(linear, cond.clone()), 0, 1.0))),
            },
            _ => fold(None),
        }
    }
}

/// A bias-free Linear layer with the default (Kaiming-uniform) initialisation.
pub fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    super::init::linear(d_in, d_out, false, device)
}

/// A bias-free Linear layer that starts at zero, so residual branches start as the identity.
pub fn zero_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    super::init::linear(d_in, d_out, true, device)
}
