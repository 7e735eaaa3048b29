//! Cosine-similarity self-attention with axial RoPE, global or in shifted windows.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::AttentionKind;
use super::norm::{AdaRmsNorm, linear, zero_linear};
use super::rope::Rotation;

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
            scale: Initializer::Constant { value: 10.0 }.init([n_heads], device),
            out: zero_linear(width, width, device),
            n_heads,
            d_head: width / n_heads,
            window,
            shifted,
        }
    }

    /// `x`: `[B, H, W, C]` tokens; `cond`: `[B, C_cond]`.
    pub fn forward(&self, x: Tensor<4>, cond: Option<&Tensor<2>>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let (nh, dh) = (self.n_heads, self.d_head);
        let device = x.device();
        let qkv = self.qkv.forward(self.norm.forward(x.clone(), cond)).reshape([b, h * w, 3 * nh, dh]);
        let rotation = Rotation::new(h, w, nh, dh, &device);
        let sqrt_scale = self.scale.val().sqrt().reshape([1, 1, nh, 1]);
        let cosine = |t: Tensor<4>| {
            let norm = t.clone().square().sum_dim(3).add_scalar(COSINE_EPS).sqrt();
            rotation.apply(t / norm * sqrt_scale.clone())
        };
        let q = cosine(qkv.clone().narrow(2, 0, nh));
        let k = cosine(qkv.clone().narrow(2, nh, nh));
        let v = qkv.narrow(2, 2 * nh, nh);

        let options = AttentionModuleOptions { scale: Some(1.0), softcap: None, is_causal: false };
        let ws = if self.window == 0 { 0 } else { self.window.min(h).min(w) };
        let y = if ws == 0 || (ws == h && ws == w) {
            let heads = |t: Tensor<4>| t.swap_dims(1, 2);
            let y = attention(heads(q), heads(k), heads(v), None, None, options);
            y.swap_dims(1, 2).reshape([b, h, w, c])
        } else {
            let shift = if self.shifted { ws / 2 } else { 0 };
            let windows = Windows { b, h, w, ws, shift, n_heads: nh, d_head: dh };
            let bias = (shift > 0).then(|| windows.shift_bias(&device));
            let y = attention(windows.split(q), windows.split(k), windows.split(v), None, bias, options);
            windows.merge(y)
        };
        x + self.out.forward(y)
    }
}

/// Partitioning of a `[B, H·W, heads, d_head]` token set into (optionally rolled) windows.
struct Windows {
    b: usize,
    h: usize,
    w: usize,
    ws: usize,
    shift: usize,
    n_heads: usize,
    d_head: usize,
}

impl Windows {
    fn count(&self) -> usize {
        (self.h / self.ws) * (self.w / self.ws)
    }

    /// `[B, H·W, nh, dh]` → `[B·nW, nh, ws², dh]`.
    fn split(&self, t: Tensor<4>) -> Tensor<4> {
        let (b, h, w, ws) = (self.b, self.h, self.w, self.ws);
        let f = self.n_heads * self.d_head;
        let mut t = t.reshape([b, h, w, f]);
        if self.shift > 0 {
            let s = -(self.shift as i64);
            t = t.roll(&[s, s], &[1, 2]);
        }
        t.reshape([b, h / ws, ws, w / ws, ws, f])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b * self.count(), ws * ws, self.n_heads, self.d_head])
            .swap_dims(1, 2)
    }

    /// Inverse of [`Windows::split`], to `[B, H, W, nh·dh]`.
    fn merge(&self, t: Tensor<4>) -> Tensor<4> {
        let (b, h, w, ws) = (self.b, self.h, self.w, self.ws);
        let f = self.n_heads * self.d_head;
        let t =
            t.swap_dims(1, 2).reshape([b, h / ws, w / ws, ws, ws, f]).permute([0, 1, 3, 2, 4, 5]).reshape([b, h, w, f]);
        if self.shift > 0 {
            let s = self.shift as i64;
            t.roll(&[s, s], &[1, 2])
        } else {
            t
        }
    }

    /// Additive logit bias `[B·nW, nh, ws², ws²]` that keeps apart tokens which the roll
    /// brought together from opposite edges of the image.
    fn shift_bias(&self, device: &Device) -> Tensor<4> {
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
        let nw = self.count();
        Tensor::<4>::from_data(TensorData::new(bias, [1, nw, n, n]), device)
            .unsqueeze_dim::<5>(2)
            .expand([self.b, nw, self.n_heads, n, n])
            .reshape([self.b * nw, self.n_heads, n, n])
    }
}
