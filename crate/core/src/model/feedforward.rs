//! The GEGLU feed-forward block.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};

use super::norm::{AdaRmsNorm, Conditioning, linear, zero_linear};
use super::precision;
use crate::kernels::Epilogue;

/// `Linear(d → 2·d_ff)`, then `a · gelu(gate)`.
#[derive(Module, Debug)]
pub struct Geglu {
    pub proj: Linear,
    #[module(skip)]
    pub d_ff: usize,
}

impl Geglu {
    pub fn new(d_in: usize, d_ff: usize, device: &Device) -> Self {
        Self { proj: linear(d_in, 2 * d_ff, device), d_ff }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // The gate in the matmul's epilogue where our WGSL runs (f32 only): six dispatches fewer.
        if let Some(y) = precision::linear_geglu(&self.proj, &x) {
            return y;
        }
        let h = precision::linear(&self.proj, x);
        let a = h.clone().narrow(D - 1, 0, self.d_ff);
        let gate = h.narrow(D - 1, self.d_ff, self.d_ff);
        a * gelu(gate)
    }
}

/// Pre-norm residual feed-forward block: `x + down(geglu(norm(x, cond)))`.
#[derive(Module, Debug)]
pub struct FeedForwardBlock {
    pub norm: AdaRmsNorm,
    pub up: Geglu,
    pub down: Linear,
}

impl FeedForwardBlock {
    pub fn new(width: usize, d_ff: usize, cond: Option<usize>, device: &Device) -> Self {
        Self {
            norm: AdaRmsNorm::new(width, cond, device),
            up: Geglu::new(width, d_ff, device),
            down: zero_linear(d_ff, width, device),
        }
    }

    pub fn forward<'a>(&self, x: Tensor<4>, cond: impl Into<Conditioning<'a>>) -> Tensor<4> {
        // The norm and the gate folded into one matmul where our WGSL runs (one dispatch fewer).
        let cond = cond.into();
        let h = match self.norm.linear(&x, cond, &self.up.proj, Epilogue::Geglu) {
            Some(h) => h,
            None => self.up.forward(self.norm.forward(x.clone(), cond)),
        };
        precision::linear_residual(&self.down, h, x)
    }
}
