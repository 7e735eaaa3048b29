//! Axial rotary position embedding (k-diffusion `AxialRoPE`), on half of each head's dimensions.
//!
//! Angles are computed on the host with `libm`, so every platform uploads the same constants.

use burn::tensor::{Device, Tensor, TensorData};

/// Token centres of an `h`×`w` grid in [-1, 1]², row-major.
pub fn axial_positions(h: usize, w: usize) -> Vec<[f64; 2]> {
    let centre = |i: usize, n: usize| -1.0 + (2.0 * i as f64 + 1.0) / n as f64;
    (0..h).flat_map(|y| (0..w).map(move |x| [centre(y, h), centre(x, w)])).collect()
}

/// Per-head frequencies: `n_heads · d_head/8` values log-spaced from π to 10π, laid out
/// `[head][k]` as k-diffusion's `freqs.view(dim // 4, n_heads).T` does.
fn frequencies(n_heads: usize, d_head: usize) -> Vec<Vec<f64>> {
    let per_head = d_head / 8;
    let n = n_heads * per_head;
    let (lo, hi) = (libm::log(core::f64::consts::PI), libm::log(10.0 * core::f64::consts::PI));
    let all: Vec<f64> = (0..n).map(|i| libm::exp(lo + (hi - lo) * i as f64 / n as f64)).collect();
    (0..n_heads).map(|h| (0..per_head).map(|k| all[k * n_heads + h]).collect()).collect()
}

/// cos and sin of the rotation angles, each `[1, L, n_heads, d_head/4]` for tokens in
/// row-major order of an `h`×`w` grid.
pub struct Rotation {
    pub cos: Tensor<4>,
    pub sin: Tensor<4>,
    /// Number of rotated pairs per head (`d_head / 4`).
    pub pairs: usize,
}

impl Rotation {
    pub fn new(h: usize, w: usize, n_heads: usize, d_head: usize, device: &Device) -> Self {
        let freqs = frequencies(n_heads, d_head);
        let per_axis = d_head / 8;
        let pairs = 2 * per_axis;
        let positions = axial_positions(h, w);
        let mut cos = Vec::with_capacity(positions.len() * n_heads * pairs);
        let mut sin = Vec::with_capacity(cos.capacity());
        for p in &positions {
            for head in &freqs {
                for axis in 0..2 {
                    for f in head {
                        let theta = p[axis] * f;
                        cos.push(libm::cos(theta) as f32);
                        sin.push(libm::sin(theta) as f32);
                    }
                }
            }
        }
        let shape = [1, positions.len(), n_heads, pairs];
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
            pairs,
        }
    }

    /// Rotates `x`: `[B, L, n_heads, d_head]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let d = self.pairs;
        if d == 0 {
            return x;
        }
        let d_head = x.dims()[3];
        let x1 = x.clone().narrow(3, 0, d);
        let x2 = x.clone().narrow(3, d, d);
        let y1 = x1.clone() * self.cos.clone() - x2.clone() * self.sin.clone();
        let y2 = x2 * self.cos.clone() + x1 * self.sin.clone();
        if 2 * d == d_head {
            Tensor::cat(vec![y1, y2], 3)
        } else {
            Tensor::cat(vec![y1, y2, x.narrow(3, 2 * d, d_head - 2 * d)], 3)
        }
    }
}
