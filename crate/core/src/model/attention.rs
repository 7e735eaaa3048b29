//! Cosine-similarity self-attention with axial RoPE, global or in shifted windows.

use std::sync::{Arc, Mutex};

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::softmax;
#[cfg(not(wgsl_only))]
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::AttentionKind;
use super::hourglass::Embedding;
use super::norm::{AdaRmsNorm, Conditioning, linear, zero_linear};
use super::precision::{self, operand, result};
use super::rope::Rotation;
use crate::kernels::{Epilogue, RowNorm};

const COSINE_EPS: f64 = 1e-6;
/// Added to the logits of token pairs that a shifted window must keep apart. Logits of
/// cosine attention are bounded by the learned scale (~10), so this is effectively −∞ while
/// staying finite in f16.
const MASKED: f32 = -1.0e4;

/// Pre-norm residual attention block: `x + out(attn(norm(x, cond)))`.
#[derive(Module, Debug)]
pub struct AttentionBlock {
    pub norm: AdaRmsNorm,
    pub qkv: Linear,
    /// Per-head logit scale of the cosine attention, initialised to 10.
    pub scale: Param<Tensor<1>>,
    pub out: Linear,
    #[module(skip)]
    pub n_heads: usize,
    #[module(skip)]
    pub d_head: usize,
    /// Window side, or 0 for global attention.
    #[module(skip)]
    pub window: usize,
    #[module(skip)]
    pub shifted: bool,
    #[module(skip)]
    constants: ConstantCache,
}

impl AttentionBlock {
    pub fn new(
        width: usize,
        d_head: usize,
        kind: AttentionKind,
        shifted: bool,
        cond: Option<usize>,
        device: &Device,
    ) -> Self {
        let n_heads = (width / d_head).max(1);
        let window = match kind {
            AttentionKind::Global => 0,
            AttentionKind::Window { size } => size,
        };
        Self {
            norm: AdaRmsNorm::new(width, cond, device),
            qkv: linear(width, 3 * width, device),
            scale: super::init::constant([n_heads], 10.0, device),
            out: zero_linear(width, width, device),
            n_heads,
            d_head: width / n_heads,
            window,
            shifted,
            constants: ConstantCache::default(),
        }
    }

    /// `x`: `[B, H, W, C]` tokens; `cond`: `[B, C_cond]`.
    ///
    /// Windowed attention gathers the tokens into window order once (the shift's roll included)
    /// and scatters them back once; the rotation tables are built in that order, and queries and
    /// keys are normalised and rotated as one tensor. Each of these steps acts per token or per
    /// head, so the result is that of rotating, rolling and partitioning q, k and v one by one
    /// (`tests::the_block_matches_its_step_by_step_form`), with far fewer kernels: on a GPU at
    /// these sizes the kernel count, not arithmetic, sets the time.
    pub fn forward<'a>(&self, x: Tensor<4>, cond: impl Into<Conditioning<'a>>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let (nh, dh) = (self.n_heads, self.d_head);
        let windows = self.windows(h, w);
        let constants = self.constants.get(Shape { b, h, w, n_heads: nh, d_head: dh, windows }, &x.device());

        // The norm folded into the projection where our WGSL runs (one dispatch fewer); it acts
        // per token, so it comes before the window gather as the separate norm did.
        let cond = cond.into();
        let qkv = match self.norm.linear(&x, cond, &self.qkv, Epilogue::Plain) {
            Some(qkv) => qkv,
            None => precision::linear(&self.qkv, self.norm.forward(x.clone(), cond)),
        };
        let mut qkv = qkv.reshape([b, h * w, 3 * nh * dh]);
        // The fused kernel reads and writes each window's tokens in place (the gather's rows), so
        // it returns the sequence order and neither gather nor scatter is a dispatch of its own.
        if let Some(y) = self.fused(&qkv, windows, &constants) {
            return precision::linear_residual(&self.out, y.reshape([b, h, w, c]), x);
        }
        if let Some(gather) = &constants.gather {
            qkv = qkv.select(1, gather.clone());
        }
        let qkv = qkv.reshape([b, h * w, 3 * nh, dh]);
        let sqrt_scale = self.scale.val().sqrt().reshape([1, 1, 1, nh, 1]);
        let qk = qkv.clone().narrow(2, 0, 2 * nh);
        let unit = match crate::kernels::row_norm(&qk, RowNorm::Unit { eps: COSINE_EPS as f32 }, None, None) {
            Some(unit) => unit,
            None => {
                let norm = qk.clone().square().sum_dim(3).add_scalar(COSINE_EPS).sqrt();
                qk / norm
            }
        };
        // Queries and keys share the per-head scale: broadcast it over both halves.
        let qk = (unit.reshape([b, h * w, 2, nh, dh]) * sqrt_scale).reshape([b, h * w, 2 * nh, dh]);
        let qk = constants.rotation.apply(qk);

        let n = windows.map_or(h * w, |win| win.ws * win.ws);
        let heads = |t: Tensor<4>| t.reshape([b * (h * w / n), n, nh, dh]).swap_dims(1, 2);
        let (q, k, v) = (qk.clone().narrow(2, 0, nh), qk.narrow(2, nh, nh), qkv.narrow(2, 2 * nh, nh));
        let options = AttentionModuleOptions { scale: Some(1.0), softcap: None, is_causal: false };
        let (q, k, v) = (operand(heads(q)), operand(heads(k)), operand(heads(v)));
        let y = result(attend(q, k, v, constants.bias.clone().map(operand), options));
        let mut y = y.swap_dims(1, 2).reshape([b, h * w, c]);
        if let Some(scatter) = &constants.scatter {
            y = y.select(1, scatter.clone());
        }
        precision::linear_residual(&self.out, y.reshape([b, h, w, c]), x)
    }

    /// [`AttentionBlock::forward`] of a backbone's patch_in layer's output left uncomputed: where
    /// our WGSL runs, the normed projection reads it as its rows and the output projection as its
    /// residual (`kernels::Embedded`), so that it is never stored (one dispatch fewer); elsewhere
    /// it is computed and the block runs as usual. The same values either way.
    pub fn forward_embedded<'a>(&self, x: &Embedding, cond: impl Into<Conditioning<'a>>) -> Tensor<4> {
        let cond = cond.into();
        let [b, h, w, c] = x.dims();
        let embedded = x.embedded();
        let Some(qkv) = self.norm.linear_embedded(&embedded, cond, &self.qkv) else {
            return self.forward(x.computed(), cond);
        };
        let (nh, dh) = (self.n_heads, self.d_head);
        let windows = self.windows(h, w);
        let constants = self.constants.get(Shape { b, h, w, n_heads: nh, d_head: dh, windows }, &qkv.device());
        // Held until the block's output is launched, as `forward` holds it: a graph capture
        // (`model::replayed`) allocates only where its warm-up did, in the same order of frees.
        let qkv = qkv.reshape([b, h * w, 3 * nh * dh]);
        let Some(y) = self.fused(&qkv, windows, &constants) else {
            return self.forward(x.computed(), cond);
        };
        let y = y.reshape([b * h * w, c]);
        let bias = self.out.bias.as_ref().map(|b| b.val());
        let out = match crate::kernels::linear_residual_embedded(&embedded, &y, &self.out.weight.val(), bias.as_ref()) {
            Some(out) => out.reshape([b, h, w, c]),
            None => precision::linear_residual(&self.out, y.reshape([b, h, w, c]), x.computed()),
        };
        drop(qkv);
        out
    }

    /// Everything from the fused projection `qkv` (`[B, L, 3·C]`, grid order) to the heads'
    /// weighted sums (`[B, L, C]`, grid order) in one dispatch of our WGSL (`kernels::attention`), where it
    /// runs; `None` elsewhere (the CPU, f16, a shape it does not take), and the steps below run.
    fn fused(&self, qkv: &Tensor<3>, windows: Option<Windows>, constants: &Constants) -> Option<Tensor<3>> {
        if precision::current() != precision::Precision::F32 {
            return None;
        }
        let n = windows.map_or(qkv.dims()[1], |win| win.ws * win.ws);
        // `Rotation` turns the first `2 · 2·(d_head/8)` dimensions of each head.
        let shape = crate::kernels::AttentionShape {
            heads: self.n_heads,
            d_head: self.d_head,
            window: n,
            pairs: 2 * (self.d_head / 8),
            eps: COSINE_EPS as f32,
        };
        let rotation = &constants.rotation;
        crate::kernels::attention(
            qkv,
            shape,
            &self.scale.val(),
            &rotation.cos,
            &rotation.sin,
            constants.window_bias.as_ref(),
            constants.gather.as_ref(),
        )
    }

    /// The windows of an `h`×`w` grid, or `None` where attention is global (no window, or one
    /// window covering the whole grid).
    fn windows(&self, h: usize, w: usize) -> Option<Windows> {
        let ws = self.window.min(h).min(w);
        let shift = if self.shifted { ws / 2 } else { 0 };
        (ws != 0 && !(ws == h && ws == w)).then_some(Windows { h, w, ws, shift })
    }
}

/// `softmax(q·kᵀ + bias)·v` (the scale is already in `q` and `k`): burn's attention, or where our
/// WGSL matmul runs (the browser build; `kernels::matmul` says why) that matmul on both sides of
/// burn's softmax, with `kᵀ` read through its strides.
fn attend(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    bias: Option<Tensor<4>>,
    options: AttentionModuleOptions,
) -> Tensor<4> {
    // The browser's WebGPU module (`cfg(wgsl_only)`) links no burn matmul, so only this path.
    #[cfg(not(wgsl_only))]
    if !crate::kernels::network_kernels_run(&q.device()) || precision::current() != precision::Precision::F32 {
        return attention(q, k, v, None, bias, options);
    }
    let _ = options;
    let mut scores = crate::kernels::matmul(q, k.swap_dims(2, 3));
    if let Some(bias) = bias {
        scores = scores + bias;
    }
    crate::kernels::matmul(softmax(scores, 3), v)
}

/// The partition of an `h`×`w` token grid into `ws`×`ws` windows, after rolling it by `-shift`
/// on both axes (Swin's shifted windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Windows {
    h: usize,
    w: usize,
    ws: usize,
    shift: usize,
}

impl Windows {
    fn count(&self) -> usize {
        (self.h / self.ws) * (self.w / self.ws)
    }

    /// The grid token (row-major) at each position of the window-ordered sequence: windows
    /// row-major, then each window's tokens row-major, in the rolled grid.
    fn order(&self) -> Vec<usize> {
        let (h, w, ws, s) = (self.h, self.w, self.ws, self.shift);
        let mut order = Vec::with_capacity(h * w);
        for wy in 0..h / ws {
            for wx in 0..w / ws {
                for i in 0..ws * ws {
                    let (y, x) = (wy * ws + i / ws, wx * ws + i % ws);
                    order.push(((y + s) % h) * w + (x + s) % w);
                }
            }
        }
        order
    }

    /// Additive logit bias `[nW, ws², ws²]` (flat) that keeps apart tokens which the roll
    /// brought together from opposite edges of the image.
    fn shift_bias(&self) -> Vec<f32> {
        let (h, w, ws, s) = (self.h, self.w, self.ws, self.shift);
        let label = |y: usize, x: usize| 2 * usize::from(y >= h - s) + usize::from(x >= w - s);
        let n = ws * ws;
        let mut bias = Vec::with_capacity(self.count() * n * n);
        for wy in 0..h / ws {
            for wx in 0..w / ws {
                let labels: Vec<usize> = (0..n).map(|i| label(wy * ws + i / ws, wx * ws + i % ws)).collect();
                for a in &labels {
                    for b in &labels {
                        bias.push(if a == b { 0.0 } else { MASKED });
                    }
                }
            }
        }
        bias
    }
}

/// What a block's constants depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    b: usize,
    h: usize,
    w: usize,
    n_heads: usize,
    d_head: usize,
    windows: Option<Windows>,
}

/// The constant tensors of one forward pass of a block.
#[derive(Clone)]
struct Constants {
    /// Rotation tables for queries and keys together, in sequence order.
    rotation: Rotation,
    /// Grid token of each window-ordered position, and its inverse; `None` for global attention.
    gather: Option<Tensor<1, Int>>,
    scatter: Option<Tensor<1, Int>>,
    /// `[B·nW, heads, ws², ws²]` for shifted windows.
    bias: Option<Tensor<4>>,
    /// The same mask once, `[nW, ws², ws²]`, for the fused kernel.
    window_bias: Option<Tensor<3>>,
}

impl Constants {
    fn new(shape: Shape, device: &Device) -> Self {
        let Shape { b, h, w, n_heads, d_head, windows } = shape;
        let order: Vec<usize> = windows.map_or_else(|| (0..h * w).collect(), |win| win.order());
        let index = |values: Vec<usize>| {
            let len = values.len();
            Tensor::<1, Int>::from_data(TensorData::new(values.into_iter().map(|v| v as i64).collect(), [len]), device)
        };
        let mut inverse = vec![0; order.len()];
        for (position, &token) in order.iter().enumerate() {
            inverse[token] = position;
        }
        let window_bias = windows.filter(|win| win.shift > 0).map(|win| {
            let (nw, n) = (win.count(), win.ws * win.ws);
            Tensor::<3>::from_data(TensorData::new(win.shift_bias(), [nw, n, n]), device)
        });
        let bias = window_bias.clone().zip(windows).map(|(mask, win)| {
            let (nw, n) = (win.count(), win.ws * win.ws);
            mask.reshape([1, nw, n, n]).unsqueeze_dim::<5>(2).expand([b, nw, n_heads, n, n]).reshape([
                b * nw,
                n_heads,
                n,
                n,
            ])
        });
        Self {
            rotation: Rotation::new(h, w, n_heads, d_head, &order, 2, device),
            gather: windows.map(|_| index(order)),
            scatter: windows.map(|_| index(inverse)),
            bias,
            window_bias,
        }
    }
}

/// The [`Constants`] a block has built, by shape and device, so that they are uploaded once
/// rather than on every call (training and sampling repeat the same few shapes). Clones of a
/// block (an EMA copy, a replica) share it; it keeps the last [`ConstantCache::CAPACITY`].
#[derive(Clone, Default)]
struct ConstantCache(Arc<Mutex<Vec<(Shape, Device, Constants)>>>);

impl ConstantCache {
    const CAPACITY: usize = 8;

    fn get(&self, shape: Shape, device: &Device) -> Constants {
        // A panic elsewhere while the lock was held leaves the entries intact (each is inserted
        // whole), so a poisoned lock is still usable.
        let mut entries = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, _, found)) = entries.iter().find(|(s, d, _)| *s == shape && d == device) {
            return found.clone();
        }
        let constants = Constants::new(shape, device);
        if entries.len() == Self::CAPACITY {
            entries.remove(0);
        }
        entries.push((shape, device.clone(), constants.clone()));
        constants
    }
}

impl core::fmt::Debug for ConstantCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let len = self.0.lock().map_or(0, |entries| entries.len());
        write!(f, "ConstantCache({len} shapes)")
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    /// The block as first written: q, k and v normalised, rotated, rolled and cut into windows
    /// one by one, the windows merged and rolled back, the constants rebuilt on every call.
    fn step_by_step(block: &AttentionBlock, x: Tensor<4>, cond: Option<&Tensor<2>>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let (nh, dh) = (block.n_heads, block.d_head);
        let device = x.device();
        let qkv = block.qkv.forward(block.norm.forward(x.clone(), cond)).reshape([b, h * w, 3 * nh, dh]);
        let grid: Vec<usize> = (0..h * w).collect();
        let rotation = Rotation::new(h, w, nh, dh, &grid, 1, &device);
        let sqrt_scale = block.scale.val().sqrt().reshape([1, 1, nh, 1]);
        let cosine = |t: Tensor<4>| {
            let norm = t.clone().square().sum_dim(3).add_scalar(COSINE_EPS).sqrt();
            rotation.apply(t / norm * sqrt_scale.clone())
        };
        let q = cosine(qkv.clone().narrow(2, 0, nh));
        let k = cosine(qkv.clone().narrow(2, nh, nh));
        let v = qkv.narrow(2, 2 * nh, nh);
        let options = AttentionModuleOptions { scale: Some(1.0), softcap: None, is_causal: false };
        let y = match block.windows(h, w) {
            None => {
                let heads = |t: Tensor<4>| t.swap_dims(1, 2);
                attention(heads(q), heads(k), heads(v), None, None, options).swap_dims(1, 2).reshape([b, h, w, c])
            }
            Some(win) => {
                let (ws, s) = (win.ws, win.shift as i64);
                let split = |t: Tensor<4>| {
                    let mut t = t.reshape([b, h, w, c]);
                    if s > 0 {
                        t = t.roll(&[-s, -s], &[1, 2]);
                    }
                    t.reshape([b, h / ws, ws, w / ws, ws, c])
                        .permute([0, 1, 3, 2, 4, 5])
                        .reshape([b * win.count(), ws * ws, nh, dh])
                        .swap_dims(1, 2)
                };
                let bias = (s > 0).then(|| {
                    let (nw, n) = (win.count(), ws * ws);
                    Tensor::<4>::from_data(TensorData::new(win.shift_bias(), [1, nw, n, n]), &device)
                        .unsqueeze_dim::<5>(2)
                        .expand([b, nw, nh, n, n])
                        .reshape([b * nw, nh, n, n])
                });
                let y = attention(split(q), split(k), split(v), None, bias, options);
                let y = y
                    .swap_dims(1, 2)
                    .reshape([b, h / ws, w / ws, ws, ws, c])
                    .permute([0, 1, 3, 2, 4, 5])
                    .reshape([b, h, w, c]);
                if s > 0 { y.roll(&[s, s], &[1, 2]) } else { y }
            }
        };
        x + block.out.forward(y)
    }

    fn random_block(
        width: usize,
        d_head: usize,
        kind: AttentionKind,
        shifted: bool,
        device: &Device,
    ) -> AttentionBlock {
        let mut block = AttentionBlock::new(width, d_head, kind, shifted, Some(8), device);
        // The output projection and the norm's modulation start at zero; give them weights.
        let random = |p: &Param<Tensor<2>>| {
            Param::from_tensor(Tensor::random(p.val().dims(), Distribution::Normal(0.0, 0.3), device))
        };
        block.out.weight = random(&block.out.weight);
        if let Some(linear) = block.norm.linear.as_mut() {
            linear.weight = random(&linear.weight);
        }
        block.scale = Param::from_tensor(Tensor::random([block.n_heads], Distribution::Uniform(2.0, 12.0), device));
        block
    }

    #[test]
    fn the_block_matches_its_step_by_step_form() {
        let device = crate::testing::cpu();
        let cases = [
            (AttentionKind::Global, false, 4, 4),
            (AttentionKind::Window { size: 4 }, false, 8, 8),
            (AttentionKind::Window { size: 4 }, true, 8, 12),
            (AttentionKind::Window { size: 2 }, true, 4, 6),
            (AttentionKind::Window { size: 8 }, true, 8, 8), // one window: global
        ];
        for (kind, shifted, h, w) in cases {
            let block = random_block(32, 16, kind, shifted, &device);
            let x = Tensor::<4>::random([2, h, w, 32], Distribution::Normal(0.0, 1.0), &device);
            let cond = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
            let reference = step_by_step(&block, x.clone(), Some(&cond));
            for call in 0..2 {
                // The second call takes its constants from the cache.
                let ours = block.forward(x.clone(), Some(&cond));
                let diff = (ours - reference.clone()).abs().max().into_scalar::<f32>();
                // Exact on the CPU backend: the same operations on the same values.
                assert!(diff == 0.0, "{kind:?} shifted {shifted} {h}×{w}, call {call}: max difference {diff}");
            }
        }
    }

    #[test]
    fn the_cache_is_keyed_by_shape_and_bounded() {
        let device = crate::testing::cpu();
        let block = random_block(32, 16, AttentionKind::Window { size: 2 }, true, &device);
        for b in 1..=ConstantCache::CAPACITY + 3 {
            let x = Tensor::<4>::random([b, 4, 4, 32], Distribution::Normal(0.0, 1.0), &device);
            assert_eq!(block.forward(x, None).dims(), [b, 4, 4, 32]);
        }
        assert_eq!(block.constants.0.lock().expect("not poisoned").len(), ConstantCache::CAPACITY);
        // A clone (an EMA copy) shares the entries.
        assert_eq!(block.clone().constants.0.lock().expect("not poisoned").len(), ConstantCache::CAPACITY);
    }
}
