//! The HDiT-style hourglass transformer that every LeDiFlow network is built from.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use super::attention::AttentionBlock;
use super::config::{BackboneConfig, LevelConfig};
use super::feedforward::FeedForwardBlock;
use super::mapping::MappingNetwork;
use super::norm::{AdaRmsNorm, Conditioning, RmsNorm, linear, zero_linear};
use super::precision;

#[derive(Module, Debug)]
pub struct Block {
    pub attn: AttentionBlock,
    pub ff: FeedForwardBlock,
}

/// `depth` blocks at one token resolution; windowed levels shift every other block.
#[derive(Module, Debug)]
pub struct Level {
    pub blocks: Vec<Block>,
}

impl Level {
    fn new(config: &LevelConfig, cond: Option<usize>, device: &Device) -> Self {
        let blocks = (0..config.depth)
            .map(|i| Block {
                attn: AttentionBlock::new(config.width, config.d_head, config.attention, i % 2 == 1, cond, device),
                ff: FeedForwardBlock::new(config.width, config.d_ff, cond, device),
            })
            .collect();
        Self { blocks }
    }

    fn forward(&self, mut x: Tensor<4>, cond: Conditioning) -> Tensor<4> {
        for block in &self.blocks {
            x = block.attn.forward(x, cond);
            x = block.ff.forward(x, cond);
        }
        x
    }
}

/// Up-path token split: Linear to four finer tokens, mixed with the skip by a learnable lerp.
#[derive(Module, Debug)]
pub struct TokenSplit {
    pub proj: Linear,
    /// Lerp factor between skip (0) and upsampled tokens (1), initialised to 0.5.
    pub fac: Param<Tensor<1>>,
}

/// `[B, C, H, W]` → `[B, H/p, W/p, p·p·C]`, each token holding one patch (rows, columns, channels).
pub fn patchify(x: Tensor<4>, p: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h / p, p, w / p, p]).permute([0, 2, 4, 3, 5, 1]).reshape([b, h / p, w / p, p * p * c])
}

/// Inverse of [`patchify`].
pub fn unpatchify(x: Tensor<4>, p: usize, channels: usize) -> Tensor<4> {
    let [b, h, w, _] = x.dims();
    x.reshape([b, h, w, p, p, channels]).permute([0, 5, 1, 3, 2, 4]).reshape([b, channels, h * p, w * p])
}

/// `[B, H, W, C]` → `[B, H/2, W/2, 4C]` (2×2 token merge before the Linear).
fn merge_2x2(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    x.reshape([b, h / 2, 2, w / 2, 2, c]).permute([0, 1, 3, 2, 4, 5]).reshape([b, h / 2, w / 2, 4 * c])
}

/// Inverse of [`merge_2x2`].
fn split_2x2(x: Tensor<4>, c: usize) -> Tensor<4> {
    let [b, h, w, _] = x.dims();
    x.reshape([b, h, w, 2, 2, c]).permute([0, 1, 3, 2, 4, 5]).reshape([b, 2 * h, 2 * w, c])
}

#[derive(Module, Debug)]
pub struct Backbone {
    pub patch_in: Linear,
    pub mapping: Option<MappingNetwork>,
    pub down: Vec<Level>,
    pub merges: Vec<Linear>,
    pub mid: Level,
    pub splits: Vec<TokenSplit>,
    pub up: Vec<Level>,
    pub out_norm: RmsNorm,
    pub patch_out: Linear,
    #[module(skip)]
    pub p_in: usize,
    #[module(skip)]
    pub p_out: usize,
    #[module(skip)]
    pub out_channels: usize,
    #[module(skip)]
    pub widths: Vec<usize>,
    /// Every block norm's modulation weight side by side (`[C_cond, Σ widths]`), where
    /// [`Backbone::prepare_modulations`] built it: one matmul per evaluation instead of one per norm.
    #[module(skip)]
    pub modulations: Option<Tensor<2>>,
}

impl Backbone {
    pub fn new(config: &BackboneConfig, device: &Device) -> Self {
        let levels = &config.levels;
        assert!(!levels.is_empty(), "a backbone needs at least one level");
        let cond = config.mapping.as_ref().map(|m| m.width);
        let n = levels.len();
        let w0 = levels[0].width;
        Self {
            patch_in: linear(config.in_channels * config.patch_in * config.patch_in, w0, device),
            mapping: config.mapping.as_ref().map(|m| MappingNetwork::new(m, device)),
            down: levels[..n - 1].iter().map(|l| Level::new(l, cond, device)).collect(),
            merges: (0..n - 1).map(|i| linear(4 * levels[i].width, levels[i + 1].width, device)).collect(),
            mid: Level::new(&levels[n - 1], cond, device),
            splits: (0..n - 1)
                .map(|i| TokenSplit {
                    proj: linear(levels[i + 1].width, 4 * levels[i].width, device),
                    fac: super::init::constant([1], 0.5, device),
                })
                .collect(),
            up: levels[..n - 1].iter().map(|l| Level::new(l, cond, device)).collect(),
            out_norm: RmsNorm::new(w0, device),
            patch_out: zero_linear(w0, config.out_channels * config.patch_out * config.patch_out, device),
            p_in: config.patch_in,
            p_out: config.patch_out,
            out_channels: config.out_channels,
            widths: levels.iter().map(|l| l.width).collect(),
            modulations: None,
        }
    }

    /// The block norms, in a fixed order.
    fn norms_mut(&mut self) -> impl Iterator<Item = &mut AdaRmsNorm> {
        let levels = self.down.iter_mut().chain(std::iter::once(&mut self.mid)).chain(self.up.iter_mut());
        levels.flat_map(|level| level.blocks.iter_mut()).flat_map(|block| [&mut block.attn.norm, &mut block.ff.norm])
    }

    /// For inference where our WGSL runs (the browser): concatenates the block norms' modulation
    /// weights once, so that [`Backbone::forward`] computes every modulation of an evaluation in
    /// one matmul, and each norm reads its columns of it. The result is the same to the bit (each
    /// column is the same dot product). Elsewhere, or where a norm's Linear has a bias, it undoes
    /// any earlier preparation. Call it again after the weights change.
    pub fn prepare_modulations(&mut self) {
        self.modulations = None;
        let mut weights = Vec::new();
        let mut column = 0;
        let mut batched = self.mapping.is_some();
        for norm in self.norms_mut() {
            norm.column = None;
            match &norm.linear {
                Some(linear) if linear.bias.is_none() => {
                    let weight = linear.weight.val();
                    batched &= crate::kernels::network_kernels_run(&weight.device());
                    norm.column = Some(column);
                    column += weight.dims()[1];
                    weights.push(weight);
                }
                _ => batched = false,
            }
        }
        if !batched || weights.is_empty() {
            self.norms_mut().for_each(|norm| norm.column = None);
            return;
        }
        self.modulations = Some(Tensor::cat(weights, 1));
    }

    /// `x`: `[B, C_in, R, R]`; `t`: `[B]` times when the network is time-conditioned.
    pub fn forward(&self, x: Tensor<4>, t: Option<Tensor<1>>) -> Tensor<4> {
        let cond = match (&self.mapping, t) {
            (Some(mapping), Some(t)) => Some(mapping.forward(t)),
            _ => None,
        };
        // The block norms' modulations in one matmul where prepared (f32, our WGSL).
        let modulations = match (&self.modulations, &cond) {
            (Some(weight), Some(cond)) if super::precision::current() == super::precision::Precision::F32 => {
                Some(crate::kernels::linear(cond.clone(), weight.clone(), None))
            }
            _ => None,
        };
        let cond = Conditioning { cond: cond.as_ref(), modulations: modulations.as_ref() };
        let mut x = precision::linear(&self.patch_in, patchify(x, self.p_in));
        let mut skips = Vec::with_capacity(self.down.len());
        for (level, merge) in self.down.iter().zip(&self.merges) {
            x = level.forward(x, cond);
            skips.push(x.clone());
            x = precision::linear(merge, merge_2x2(x));
        }
        x = self.mid.forward(x, cond);
        for (i, skip) in skips.into_iter().enumerate().rev() {
            let split = &self.splits[i];
            let up = split_2x2(precision::linear(&split.proj, x), self.widths[i]);
            let fac = split.fac.val().reshape([1, 1, 1, 1]);
            x = skip.clone() + (up - skip) * fac;
            x = self.up[i].forward(x, cond);
        }
        // The norm folded into the projection where our WGSL runs (one dispatch fewer).
        let x = match self.out_norm.linear(&x, &self.patch_out, crate::kernels::Epilogue::Plain) {
            Some(y) => y,
            None => precision::linear(&self.patch_out, self.out_norm.forward(x)),
        };
        unpatchify(x, self.p_out, self.out_channels)
    }
}
