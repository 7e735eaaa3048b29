//! The evaluation network: a small CNN that predicts a procedural landscape's attributes from
//! its pixels. Its penultimate features, L2-normalised, are the embedding our quality scores
//! compare (the role CLIP plays in CMMD, which cannot be fetched here). Trained once on the
//! training split and frozen; see `crate::eval`.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalNetConfig {
    /// Channels of the four stride-2 stages.
    pub widths: [usize; 4],
    /// Size of the embedding.
    pub embedding: usize,
    /// Number of predicted attributes.
    pub outputs: usize,
}

impl EvalNetConfig {
    pub fn new(outputs: usize) -> Self {
        Self { widths: [32, 64, 128, 256], embedding: 128, outputs }
    }
}

/// Two 3×3 convolutions (the first with stride 2), group norm and GELU.
#[derive(Module, Debug)]
pub struct Stage {
    pub down: Conv2d,
    pub conv: Conv2d,
    pub norm: GroupNorm,
}

impl Stage {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        Self {
            down: Conv2dConfig::new([input, output], [3, 3]).with_stride([2, 2]).with_padding(pad.clone()).init(device),
            conv: Conv2dConfig::new([output, output], [3, 3]).with_padding(pad).init(device),
            norm: GroupNormConfig::new(8, output).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = gelu(conv3x3(&self.down, x, 2));
        gelu(self.norm.forward(conv3x3(&self.conv, x, 1)))
    }
}

/// `conv.forward(x)` for a 3×3 convolution with padding 1, as im2col and one matrix product.
/// Same weights, same function; but burn's ndarray backend runs `Conv2d` as a direct loop,
/// minutes for the evaluation's CPU tests, where its matrix product (GEMM) takes seconds. On
/// the GPU backends both are fast. `x` must have even sides when `stride` is 2.
pub fn conv3x3(conv: &Conv2d, x: Tensor<4>, stride: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (oh, ow) = (h / stride, w / stride);
    let padded = x.pad((1, 1, 1, 1), PadMode::Constant(0.0));
    // Rows of the patch matrix: (input channel, ky, kx), the order of the weight's last dims.
    let mut taps = Vec::with_capacity(9);
    for ky in 0..3 {
        for kx in 0..3 {
            let shifted = padded.clone().slice([0..b, 0..c, ky..ky + h, kx..kx + w]);
            let sampled = if stride == 1 {
                shifted
            } else {
                shifted.reshape([b, c, oh, stride, ow, stride]).narrow(3, 0, 1).narrow(5, 0, 1).reshape([b, c, oh, ow])
            };
            taps.push(sampled.reshape([b, c, 1, oh * ow]));
        }
    }
    let patches = Tensor::cat(taps, 2).reshape([b, c * 9, oh * ow]);
    let weight = conv.weight.val();
    let out_channels = weight.dims()[0];
    let weight = weight.reshape([1, out_channels, c * 9]);
    let mut y = weight.matmul(patches);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().reshape([1, out_channels, 1]);
    }
    y.reshape([b, out_channels, oh, ow])
}

#[derive(Module, Debug)]
pub struct EvalNet {
    pub stages: Vec<Stage>,
    pub embed: Linear,
    pub head: Linear,
}

impl EvalNet {
    pub fn new(config: &EvalNetConfig, device: &Device) -> Self {
        let mut input = 3;
        let stages = config
            .widths
            .iter()
            .map(|&w| {
                let stage = Stage::new(input, w, device);
                input = w;
                stage
            })
            .collect();
        Self {
            stages,
            embed: LinearConfig::new(input, config.embedding).init(device),
            head: LinearConfig::new(config.embedding, config.outputs).init(device),
        }
    }

    /// The penultimate features `[B, E]` of images `[B, 3, S, S]` in [-1, 1], before
    /// normalisation. Any S ≥ 16 works: the last stage is averaged over space.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for stage in &self.stages {
            x = stage.forward(x);
        }
        let [b, c, _, _] = x.dims();
        self.embed.forward(x.mean_dims(&[2, 3]).reshape([b, c]))
    }

    /// The L2-normalised embedding `[B, E]`.
    pub fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let f = self.features(images);
        let norm = f.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        f / norm
    }

    /// Predicted attributes `[B, outputs]`, each scaled to [0, 1].
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(gelu(self.features(images)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};
    use lediflow_core::testing::cpu;

    #[test]
    fn im2col_convolution_equals_burns_conv2d() {
        let device = cpu();
        device.seed(1);
        let stage = Stage::new(5, 8, &device);
        let x = Tensor::<4>::random([2, 5, 12, 12], Distribution::Normal(0.0, 1.0), &device);
        for (conv, input, stride) in [(&stage.down, x.clone(), 2), (&stage.conv, stage.down.forward(x), 1)] {
            let ours = conv3x3(conv, input.clone(), stride);
            ours.into_data().assert_approx_eq::<f32>(&conv.forward(input).into_data(), Tolerance::absolute(1e-4));
        }
    }
}
