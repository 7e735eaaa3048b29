//! Time conditioning: Fourier features of t and the mapping network.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::MappingConfig;
use super::feedforward::Geglu;
use super::norm::{RmsNorm, linear, zero_linear};
use super::precision;
use crate::kernels::Epilogue;

/// Fixed (not learned) log-spaced angular frequencies from 1 to 1000 rad per unit of t.
/// k-diffusion draws random Fourier features instead; fixed ones need no weights and are
/// identical on every platform.
pub(crate) fn time_frequencies(half: usize) -> Vec<f32> {
    let (lo, hi) = (0.0f64, libm::log(1000.0));
    (0..half)
        .map(|i| {
            let f = if half > 1 { i as f64 / (half - 1) as f64 } else { 0.0 };
            libm::exp(lo + f * (hi - lo)) as f32
        })
        .collect()
}

/// `[B]` times in [0, 1] → `[B, width]` features `[cos(ω t), sin(ω t)]`.
pub fn fourier_features(t: Tensor<1>, width: usize) -> Tensor<2> {
    let half = width / 2;
    let device = t.device();
    let freqs = Tensor::<1>::from_data(TensorData::new(time_frequencies(half), [half]), &device);
    // One dispatch of our WGSL where it runs, with the same product and builtins as burn's.
    if let Some(features) = crate::kernels::fourier_features(&t, &freqs) {
        return features;
    }
    let angles = t.unsqueeze_dim::<2>(1) * freqs.unsqueeze_dim::<2>(0);
    Tensor::cat(vec![angles.clone().cos(), angles.sin()], 1)
}

#[derive(Module, Debug)]
pub struct MappingBlock {
    pub norm: RmsNorm,
    pub up: Geglu,
    pub down: Linear,
}

/// t → Fourier features → Linear → residual GEGLU blocks → RMSNorm: the condition fed to every
/// AdaRMSNorm of the backbone.
#[derive(Module, Debug)]
pub struct MappingNetwork {
    pub time_in: Linear,
    pub in_norm: RmsNorm,
    pub blocks: Vec<MappingBlock>,
    pub out_norm: RmsNorm,
    #[module(skip)]
    pub width: usize,
}

impl MappingNetwork {
    pub fn new(config: &MappingConfig, device: &Device) -> Self {
        let w = config.width;
        Self {
            time_in: linear(w, w, device),
            in_norm: RmsNorm::new(w, device),
            blocks: (0..config.depth)
                .map(|_| MappingBlock {
                    norm: RmsNorm::new(w, device),
                    up: Geglu::new(w, config.d_ff, device),
                    down: zero_linear(config.d_ff, w, device),
                })
                .collect(),
            out_norm: RmsNorm::new(w, device),
            width: w,
        }
    }

    pub fn forward(&self, t: Tensor<1>) -> Tensor<2> {
        let mut x = self.in_norm.forward(precision::linear(&self.time_in, fourier_features(t, self.width)));
        for block in &self.blocks {
            // The norm and the gate folded into one matmul where our WGSL runs (one dispatch fewer).
            let h = match block.norm.linear(&x, &block.up.proj, Epilogue::Geglu, None) {
                Some(h) => h,
                None => block.up.forward(block.norm.forward(x.clone())),
            };
            x = precision::linear_residual(&block.down, h, x);
        }
        self.out_norm.forward(x)
    }
}
