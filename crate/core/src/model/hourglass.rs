//! The HDiT-style hourglass transformer that every LeDiFlow network is built from.

use burn::module::{Module, Param};
use burn::nn::Linear;
use std::sync::{Arc, Mutex};

use burn::tensor::{Device, Tensor, TensorData};

use super::attention::AttentionBlock;
use super::config::{BackboneConfig, LevelConfig};
use super::feedforward::FeedForwardBlock;
use super::mapping::MappingNetwork;
use super::norm::{AdaRmsNorm, Conditioning, RmsNorm, linear, zero_linear};
use super::precision;
use super::replayed::Recordings;
use crate::kernels::Epilogue;
use crate::solvers::OdeState;

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

    fn forward(&self, x: Tensor<4>, cond: Conditioning) -> Tensor<4> {
        run_blocks(&self.blocks, x, cond)
    }

    /// [`Level::forward`] of `x`, a patch_in layer's output perhaps left uncomputed: its first
    /// block reads it in place ([`AttentionBlock::forward_embedded`]).
    fn forward_stream(&self, x: Stream, cond: Conditioning) -> Tensor<4> {
        let embedding = match x {
            Stream::Computed(x) => return self.forward(x, cond),
            Stream::Embedded(embedding) => embedding,
        };
        let Some((first, rest)) = self.blocks.split_first() else {
            return embedding.computed();
        };
        let x = first.ff.forward(first.attn.forward_embedded(&embedding, cond), cond);
        run_blocks(rest, x, cond)
    }
}

fn run_blocks(blocks: &[Block], mut x: Tensor<4>, cond: Conditioning) -> Tensor<4> {
    for block in blocks {
        x = block.attn.forward(x, cond);
        x = block.ff.forward(x, cond);
    }
    x
}

/// A backbone's patch_in layer's output `layer(tokens)`, left uncomputed for the first block's
/// two matmuls that read it (`kernels::Embedded`: the normed projection's rows, the output
/// projection's residual), where our WGSL runs and the layer is prepared
/// ([`Backbone::prepare_modulations`]): one dispatch fewer per evaluation, the same values.
pub struct Embedding<'a> {
    tokens: Tensor<4>,
    layer: &'a Linear,
    packed: &'a Tensor<2>,
}

impl Embedding<'_> {
    /// The output's shape, `[B, H, W, width]`.
    pub fn dims(&self) -> [usize; 4] {
        let [b, h, w, _] = self.tokens.dims();
        [b, h, w, self.packed.dims()[1]]
    }

    /// As our kernels read it: the tokens as rows.
    pub fn embedded(&self) -> crate::kernels::Embedded {
        let [b, h, w, rank] = self.tokens.dims();
        crate::kernels::Embedded { tokens: self.tokens.clone().reshape([b * h * w, rank]), packed: self.packed.clone() }
    }

    /// The output, computed.
    pub fn computed(&self) -> Tensor<4> {
        precision::linear(self.layer, self.tokens.clone())
    }
}

/// What a level starts from.
enum Stream<'a> {
    Computed(Tensor<4>),
    Embedded(Embedding<'a>),
}

/// Up-path token split: Linear to four finer tokens, mixed with the skip by a learnable lerp.
#[derive(Module, Debug)]
pub struct TokenSplit {
    pub proj: Linear,
    /// Lerp factor between skip (0) and upsampled tokens (1), initialised to 0.5.
    pub fac: Param<Tensor<1>>,
}

impl TokenSplit {
    /// `x` `[B, H, W, D]` to the finer grid `[B, 2H, 2W, C]` of `skip`, mixed with it. One
    /// dispatch where our WGSL runs (`kernels::linear_split_lerp`), in f32.
    pub fn forward(&self, x: Tensor<4>, skip: Tensor<4>) -> Tensor<4> {
        let fac = self.fac.val();
        if precision::current() == precision::Precision::F32
            && let Some(y) = crate::kernels::linear_split_lerp(
                &x,
                &self.proj.weight.val(),
                self.proj.bias.as_ref().map(|b| b.val()).as_ref(),
                &skip,
                &fac,
            )
        {
            return y;
        }
        let up = split_2x2(precision::linear(&self.proj, x), skip.dims()[3]);
        skip.clone() + (up - skip) * fac.reshape([1, 1, 1, 1])
    }
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

/// A velocity network's patch tokens: `[B, C, R, R]` images ↔ `[B, R/p, R/p, p·p·C]` tokens, the
/// layout its first and last layers work in. An ODE solve is element-wise in its state, so it
/// may keep the state as tokens and lay out images only at its ends: at batch 1 in the browser
/// every copy is a dispatch of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLayout {
    pub patch: usize,
    pub channels: usize,
}

impl TokenLayout {
    /// Images → tokens ([`patchify`]).
    pub fn tokens(&self, images: Tensor<4>) -> Tensor<4> {
        patchify(images, self.patch)
    }

    /// Tokens → images ([`unpatchify`]).
    pub fn images(&self, tokens: Tensor<4>) -> Tensor<4> {
        unpatchify(tokens, self.patch, self.channels)
    }

    /// [`TokenLayout::tokens`] on the host, before an upload: `images` `[B, C, H, W]` row-major
    /// → the tokens' values and shape `[B, H/p, W/p, p·p·C]`. Host noise laid out so costs the
    /// device no copy. `None` where the shape is not `[B, channels, H, W]` with `p` dividing `H`
    /// and `W`, or the values are not that many.
    pub fn tokens_on_host(&self, images: &[f32], shape: [usize; 4]) -> Option<(Vec<f32>, [usize; 4])> {
        let [b, c, h, w] = shape;
        let p = self.patch;
        if c != self.channels || p == 0 || h % p != 0 || w % p != 0 || images.len() != b * c * h * w {
            return None;
        }
        let (rows, columns) = (h / p, w / p);
        let mut tokens = Vec::with_capacity(images.len());
        for image in 0..b {
            for (row, column) in (0..rows).flat_map(|row| (0..columns).map(move |column| (row, column))) {
                for (dy, dx) in (0..p).flat_map(|dy| (0..p).map(move |dx| (dy, dx))) {
                    let (y, x) = (row * p + dy, column * p + dx);
                    tokens.extend((0..c).map(|channel| images[((image * c + channel) * h + y) * w + x]));
                }
            }
        }
        Some((tokens, [b, rows, columns, p * p * c]))
    }
}

/// `[B, H, W, C]` → `[B, H/2, W/2, 4C]` (2×2 token merge before the Linear).
fn merge_2x2(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    x.reshape([b, h / 2, 2, w / 2, 2, c]).permute([0, 1, 3, 2, 4, 5]).reshape([b, h / 2, w / 2, 4 * c])
}

/// The down path's 2 × 2 token merge and its Linear: one dispatch where our WGSL runs
/// (`kernels::linear_merged`, which reads the finer grid in place), in f32.
fn merge_tokens(merge: &Linear, x: Tensor<4>) -> Tensor<4> {
    if precision::current() == precision::Precision::F32
        && let Some(y) =
            crate::kernels::linear_merged(&x, &merge.weight.val(), merge.bias.as_ref().map(|b| b.val()).as_ref())
    {
        return y;
    }
    precision::linear(merge, merge_2x2(x))
}

/// Inverse of [`merge_2x2`].
pub(crate) fn split_2x2(x: Tensor<4>, c: usize) -> Tensor<4> {
    let [b, h, w, _] = x.dims();
    x.reshape([b, h, w, 2, 2, c]).permute([0, 1, 3, 2, 4, 5]).reshape([b, 2 * h, 2 * w, c])
}

/// What a solver adds a velocity to: `base + scale · v` ([`Backbone::advanced_tokens_at`]).
#[derive(Clone, Copy)]
pub struct Advance<'a> {
    pub base: &'a Tensor<4>,
    pub scale: f64,
}

impl Advance<'_> {
    /// `base + scale · v` where asked (`OdeState::add_scaled`), else `v`.
    pub fn apply(advance: Option<Self>, v: Tensor<4>) -> Tensor<4> {
        match advance {
            Some(a) => a.base.clone().add_scaled(&v, a.scale),
            None => v,
        }
    }
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
    /// `patch_in`'s `[weight; bias]` as our kernels read it in place of its output
    /// ([`Embedding`]), where [`Backbone::prepare_modulations`] built it: a layer of at most
    /// `kernels::Embedded::MAX_RANK` inputs where our WGSL runs.
    #[module(skip)]
    pub patch_in_packed: Option<Tensor<2>>,
    /// Each time's condition, once [`Backbone::prepare_modulations`] has readied the backbone for
    /// inference ([`Backbone::forward_at`]).
    #[module(skip)]
    pub conditions: Option<ConditionCache>,
    /// Each (time, shape) evaluation recorded once and replayed after, where
    /// [`Backbone::record_evaluations`] turned it on.
    #[module(skip)]
    pub recordings: Option<Recordings>,
}

/// What a prepared backbone's time conditioning gave at each time it was evaluated at: the
/// mapping network's output for one image (`[1, C_cond]`) and, where batched, every norm's
/// modulation (`[1, Σ widths]`). A sampler evaluates every image of a call at the same time and
/// asks for the same few times in every call (its grid), so the mapping network and the
/// modulations' matmul run once per time; the norms broadcast the one row over the batch.
#[derive(Clone, Debug, Default)]
pub struct ConditionCache(Arc<Mutex<Vec<(u64, Condition)>>>);

type Condition = (Tensor<2>, Option<Tensor<2>>);

impl ConditionCache {
    /// Times kept before the cache starts afresh: a bound on memory, far above the few dozen
    /// times a page's settings reach.
    pub const CAPACITY: usize = 256;

    fn get_or_compute(&self, t: f64, compute: impl FnOnce() -> Condition) -> Condition {
        let key = t.to_bits();
        // A poisoned lock means a panic elsewhere, never mid-insert: the entries are whole.
        let mut entries = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, condition)) = entries.iter().find(|(k, _)| *k == key) {
            return condition.clone();
        }
        let condition = compute();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.push((key, condition.clone()));
        condition
    }

    /// The times held.
    pub fn len(&self) -> usize {
        self.0.lock().map_or_else(|poisoned| poisoned.into_inner().len(), |entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
            patch_in_packed: None,
            conditions: None,
            recordings: None,
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
    /// any earlier preparation. Also packs `patch_in` for the first block to read in place of its
    /// output ([`Embedding`]). Call it again after the weights change.
    pub fn prepare_modulations(&mut self) {
        self.modulations = None;
        let patch_in = self.patch_in.weight.val();
        self.patch_in_packed = crate::kernels::network_kernels_run(&patch_in.device())
            .then(|| crate::kernels::Embedded::pack(&patch_in, self.patch_in.bias.as_ref().map(|b| b.val()).as_ref()))
            .flatten();
        // Conditions cached before are stale once the weights or their layout change, and so
        // are recordings, which read the old buffers.
        self.conditions = Some(ConditionCache::default());
        self.recordings = None;
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

    /// For a prepared backbone ([`Backbone::prepare_modulations`]), on burn's wgpu runtime:
    /// [`Backbone::tokens_at`] (and so [`Backbone::forward_at`]) records each (time, input shape) evaluation once and replays it
    /// after (`model::replayed`); the velocity is the same. Off again with `on` false.
    pub fn record_evaluations(&mut self, on: bool) {
        self.recordings = (on && self.conditions.is_some()).then(Recordings::default);
    }

    /// `x`: `[B, C_in, R, R]`; `t`: `[B]` times when the network is time-conditioned.
    pub fn forward(&self, x: Tensor<4>, t: Option<Tensor<1>>) -> Tensor<4> {
        let cond = match (&self.mapping, t) {
            (Some(mapping), Some(t)) => Some(mapping.forward(t)),
            _ => None,
        };
        let modulations = self.modulations_of(cond.as_ref());
        self.forward_conditioned(x, Conditioning { cond: cond.as_ref(), modulations: modulations.as_ref() })
    }

    /// [`Backbone::forward`] with every image at time `t`, as the samplers evaluate it. A prepared
    /// backbone takes the condition from its [`ConditionCache`]; the velocity is the same.
    pub fn forward_at(&self, x: Tensor<4>, t: f64) -> Tensor<4> {
        unpatchify(self.tokens_at(patchify(x, self.p_in), t), self.p_out, self.out_channels)
    }

    /// [`Backbone::forward_at`] on patch tokens (`[B, R/p, R/p, p·p·C]`, [`TokenLayout::tokens`]),
    /// giving the velocity's tokens: a solve that keeps its state as tokens lays out no pixels
    /// between evaluations; the velocity networks give tokens of their input's layout
    /// ([`Backbone::input_tokens`]).
    /// Where [`Backbone::record_evaluations`] turned recording on, each (time, shape) evaluation
    /// is recorded once and replayed after.
    pub fn tokens_at(&self, tokens: Tensor<4>, t: f64) -> Tensor<4> {
        match &self.recordings {
            Some(recordings) if precision::current() == precision::Precision::F32 => {
                recordings.eval(&tokens, t, None, |tokens| self.evaluate_tokens_at(tokens, t, None))
            }
            _ => self.evaluate_tokens_at(tokens, t, None),
        }
    }

    /// `base + scale · v`, v = [`Backbone::tokens_at`]`(tokens, t)`: a solver's state update
    /// (`OdeState::add_scaled`, the same values). Where our WGSL runs, the update is the last
    /// layer's epilogue ([`Epilogue::Update`]): no dispatch of its own. A replayed evaluation
    /// updates apart, reading the recording's output in place (`Recordings::eval`).
    pub fn advanced_tokens_at(&self, tokens: Tensor<4>, t: f64, base: &Tensor<4>, scale: f64) -> Tensor<4> {
        match &self.recordings {
            Some(recordings) if precision::current() == precision::Precision::F32 => {
                let advance = Some(Advance { base, scale });
                recordings.eval(&tokens, t, advance, |tokens| self.evaluate_tokens_at(tokens, t, None))
            }
            _ => self.evaluate_tokens_at(tokens, t, Some(Advance { base, scale })),
        }
    }

    /// [`Backbone::tokens_at`] evaluated as usual, its velocity added to a base where asked.
    fn evaluate_tokens_at(&self, tokens: Tensor<4>, t: f64, advance: Option<Advance>) -> Tensor<4> {
        let device = tokens.device();
        let times = |n: usize| Tensor::<1>::from_data(TensorData::new(vec![t as f32; n], [n]), &device);
        match (&self.mapping, &self.conditions) {
            (Some(mapping), Some(cache)) if precision::current() == precision::Precision::F32 => {
                let (cond, modulations) = cache.get_or_compute(t, || {
                    let cond = mapping.forward(times(1));
                    let modulations = self.modulations_of(Some(&cond));
                    (cond, modulations)
                });
                self.through(tokens, Conditioning { cond: Some(&cond), modulations: modulations.as_ref() }, advance)
            }
            (Some(mapping), _) => {
                let cond = mapping.forward(times(tokens.dims()[0]));
                let modulations = self.modulations_of(Some(&cond));
                self.through(tokens, Conditioning { cond: Some(&cond), modulations: modulations.as_ref() }, advance)
            }
            (None, _) => self.through(tokens, Conditioning { cond: None, modulations: None }, advance),
        }
    }

    /// An unconditioned backbone (encoder, decoder) on patch tokens: [`Backbone::forward`] without
    /// its layout copies, for an input already laid out as tokens.
    pub fn forward_tokens(&self, tokens: Tensor<4>) -> Tensor<4> {
        self.through(tokens, Conditioning { cond: None, modulations: None }, None)
    }

    /// How this backbone's input is laid out as tokens ([`Backbone::tokens_at`]'s input).
    pub fn input_tokens(&self) -> TokenLayout {
        let channels = self.patch_in.weight.dims()[0] / (self.p_in * self.p_in);
        TokenLayout { patch: self.p_in, channels }
    }

    /// The block norms' modulations of `cond` in one matmul where prepared (f32, our WGSL).
    fn modulations_of(&self, cond: Option<&Tensor<2>>) -> Option<Tensor<2>> {
        match (&self.modulations, cond) {
            (Some(weight), Some(cond)) if precision::current() == precision::Precision::F32 => {
                Some(crate::kernels::linear(cond.clone(), weight.clone(), None))
            }
            _ => None,
        }
    }

    fn forward_conditioned(&self, x: Tensor<4>, cond: Conditioning) -> Tensor<4> {
        unpatchify(self.through(patchify(x, self.p_in), cond, None), self.p_out, self.out_channels)
    }

    /// Patch tokens in (`[B, R/p_in, R/p_in, p_in²·C_in]`), patch tokens out; with `advance`, those
    /// added to its base.
    fn through(&self, tokens: Tensor<4>, cond: Conditioning, advance: Option<Advance>) -> Tensor<4> {
        let mut x = match &self.patch_in_packed {
            Some(packed) if precision::current() == precision::Precision::F32 => {
                Stream::Embedded(Embedding { tokens, layer: &self.patch_in, packed })
            }
            _ => Stream::Computed(precision::linear(&self.patch_in, tokens)),
        };
        let mut skips = Vec::with_capacity(self.down.len());
        for (level, merge) in self.down.iter().zip(&self.merges) {
            let y = level.forward_stream(x, cond);
            skips.push(y.clone());
            x = Stream::Computed(merge_tokens(merge, y));
        }
        let mut x = self.mid.forward_stream(x, cond);
        for (i, skip) in skips.into_iter().enumerate().rev() {
            x = self.splits[i].forward(x, skip);
            x = self.up[i].forward(x, cond);
        }
        // The norm folded into the projection where our WGSL runs (one dispatch fewer), and the
        // solver's update in its epilogue where the base has the output's shape.
        let [b, h, w, _] = x.dims();
        let out_shape = [b, h, w, self.patch_out.weight.dims()[1]];
        let folded = |epilogue, base| self.out_norm.linear(&x, &self.patch_out, epilogue, base);
        if let Some(a) = advance.filter(|a| a.base.dims() == out_shape)
            && let Some(y) = folded(Epilogue::update(a.scale as f32), Some(a.base))
        {
            return y;
        }
        let v = folded(Epilogue::Plain, None)
            .unwrap_or_else(|| precision::linear(&self.patch_out, self.out_norm.forward(x)));
        Advance::apply(advance, v)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;
    use crate::kernels::{Operand, Plan, check_values, matmul_reference, merge_reference, split_lerp_reference};
    use crate::testing::cpu;

    /// The split epilogue's host reference (what the browser's shader is checked against) is the
    /// model's token split as burn computes it: a 2 × 3 grid of 2 images, 5 channels per finer token.
    #[test]
    fn the_split_epilogues_reference_is_the_models_token_split() {
        let device = cpu();
        let (images, grid_h, grid_w, d_in, channels, fac) = (2, 2, 3, 7, 5, 0.3f32);
        let rows = images * grid_h * grid_w;
        let (x, w, bias) =
            (check_values(rows * d_in, 1), check_values(d_in * 4 * channels, 2), check_values(4 * channels, 3));
        let skip = check_values(rows * 4 * channels, 4);
        let mut proj = linear(d_in, 4 * channels, &device);
        proj.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w.clone(), [d_in, 4 * channels]), &device));
        proj.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias.clone(), [4 * channels]), &device)));
        let split =
            TokenSplit { proj, fac: Param::from_tensor(Tensor::from_data(TensorData::new(vec![fac], [1]), &device)) };
        let x_t = Tensor::<4>::from_data(TensorData::new(x.clone(), [images, grid_h, grid_w, d_in]), &device);
        let skip_t =
            Tensor::<4>::from_data(TensorData::new(skip.clone(), [images, 2 * grid_h, 2 * grid_w, channels]), &device);
        let got = split.forward(x_t, skip_t);
        assert_eq!(got.dims(), [images, 2 * grid_h, 2 * grid_w, channels]);
        let got = got.into_data().try_to_vec::<f32>().expect("f32");
        let plan = Plan::new(
            Operand::contiguous(&[rows, d_in]).expect("operand"),
            Operand::contiguous(&[d_in, 4 * channels]).expect("operand"),
        )
        .expect("plan");
        let want = split_lerp_reference(&matmul_reference(&plan, &x, &w, Some(&bias)), channels, grid_w, &skip, fac);
        let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / (1.0 + w.abs())).fold(0f32, f32::max);
        assert!(worst < 1e-5, "largest relative difference {worst}");
    }

    /// The merge prologue's host reference (what the browser's shader is checked against) is the
    /// model's `merge_2x2`: a 4 × 6 grid of 2 images, 3 channels per finer token.
    #[test]
    fn the_merge_prologues_reference_is_the_models_token_merge() {
        let device = cpu();
        let (images, grid_h, grid_w, channels) = (2, 4, 6, 3);
        let x = check_values(images * grid_h * grid_w * channels, 5);
        let grid = Tensor::<4>::from_data(TensorData::new(x.clone(), [images, grid_h, grid_w, channels]), &device);
        let merged = merge_2x2(grid);
        assert_eq!(merged.dims(), [images, grid_h / 2, grid_w / 2, 4 * channels]);
        let got = merged.into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(got, merge_reference(&x, channels, grid_w / 2));
    }
}
