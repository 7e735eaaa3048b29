//! Axial rotary position embedding (k-diffusion `AxialRoPE`), on half of each head's dimensions.
//!
//! Angles are computed on the host with `libm`, so every platform uploads the same constants.

use burn::tensor::{Device, Int, Tensor, TensorData};

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

/// The dimension that dimension `j` of a head rotates with (`swap` below): the two halves of the
/// first `2·pairs` dimensions exchange places, the rest stay. Our attention shader and its host
/// reference use the same pairing.
pub fn rotation_partner(j: usize, pairs: usize) -> usize {
    match j {
        j if j < pairs => j + pairs,
        j if j < 2 * pairs => j - pairs,
        j => j,
    }
}

/// The rotation of each head's first `2·pairs` dimensions, written as one expression over the
/// whole head, `x · cos + swap(x) · sin`, so that it costs a gather and three element-wise
/// kernels instead of slicing and concatenating the halves (what dominates a GPU's kernel count
/// at these sizes). `swap` exchanges the two rotated halves and keeps the rest in place; the
/// tables hold `[cos, cos, 1]` and `[-sin, sin, 0]`. Per element this is the same arithmetic as
/// `x₁·cos − x₂·sin`, `x₂·cos + x₁·sin`, so results do not change.
#[derive(Clone)]
pub struct Rotation {
    /// `[1, L, heads, d_head]`.
    pub cos: Tensor<4>,
    /// `[1, L, heads, d_head]`.
    pub sin: Tensor<4>,
    /// The index of the partner of each of a head's dimensions; `None` when nothing rotates.
    pub swap: Option<Tensor<1, Int>>,
}

impl Rotation {
    /// Tables for a sequence whose `i`-th token is token `order[i]` of the row-major `h`×`w` grid,
    /// with the `n_heads` heads' frequencies repeated `repeats` times along the heads axis (2 when
    /// queries and keys are rotated together).
    pub fn new(
        h: usize,
        w: usize,
        n_heads: usize,
        d_head: usize,
        order: &[usize],
        repeats: usize,
        device: &Device,
    ) -> Self {
        let freqs = frequencies(n_heads, d_head);
        let per_axis = d_head / 8;
        let pairs = 2 * per_axis;
        let positions = axial_positions(h, w);
        let heads = n_heads * repeats;
        let mut cos = Vec::with_capacity(order.len() * heads * d_head);
        let mut sin = Vec::with_capacity(cos.capacity());
        let mut head_cos = vec![0f32; pairs];
        let mut head_sin = vec![0f32; pairs];
        for &token in order {
            let p = positions[token];
            for _ in 0..repeats {
                for head in &freqs {
                    for axis in 0..2 {
                        for (k, f) in head.iter().enumerate() {
                            let theta = p[axis] * f;
                            head_cos[axis * per_axis + k] = libm::cos(theta) as f32;
                            head_sin[axis * per_axis + k] = libm::sin(theta) as f32;
                        }
                    }
                    cos.extend_from_slice(&head_cos);
                    cos.extend_from_slice(&head_cos);
                    cos.extend(std::iter::repeat_n(1.0f32, d_head - 2 * pairs));
                    sin.extend(head_sin.iter().map(|s| -s));
                    sin.extend_from_slice(&head_sin);
                    sin.extend(std::iter::repeat_n(0.0f32, d_head - 2 * pairs));
                }
            }
        }
        let shape = [1, order.len(), heads, d_head];
        let swap = (pairs > 0).then(|| {
            let index: Vec<i64> = (0..d_head).map(|j| rotation_partner(j, pairs) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(index, [d_head]), device)
        });
        Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
            swap,
        }
    }

    /// Rotates `x`: `[B, L, heads, d_head]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.swap {
            None => x,
            Some(swap) => x.clone() * self.cos.clone() + x.select(3, swap.clone()) * self.sin.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    /// The textbook form: rotate `(x₁, x₂)` pairs by the angle of each token, leave the rest.
    fn rotate_by_halves(x: Tensor<4>, h: usize, w: usize, n_heads: usize, d_head: usize) -> Tensor<4> {
        let freqs = frequencies(n_heads, d_head);
        let per_axis = d_head / 8;
        let d = 2 * per_axis;
        let device = x.device();
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        for p in axial_positions(h, w) {
            for head in &freqs {
                for axis in 0..2 {
                    for f in head {
                        cos.push(libm::cos(p[axis] * f) as f32);
                        sin.push(libm::sin(p[axis] * f) as f32);
                    }
                }
            }
        }
        let shape = [1, h * w, n_heads, d];
        let cos = Tensor::<4>::from_data(TensorData::new(cos, shape), &device);
        let sin = Tensor::<4>::from_data(TensorData::new(sin, shape), &device);
        let x1 = x.clone().narrow(3, 0, d);
        let x2 = x.clone().narrow(3, d, d);
        let y1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
        let y2 = x2 * cos + x1 * sin;
        Tensor::cat(vec![y1, y2, x.narrow(3, 2 * d, d_head - 2 * d)], 3)
    }

    #[test]
    fn the_one_expression_form_equals_rotating_by_halves_bit_for_bit() {
        let device = crate::testing::cpu();
        let (h, w, n_heads, d_head) = (4, 6, 3, 16);
        let x = Tensor::<4>::random([2, h * w, n_heads, d_head], Distribution::Normal(0.0, 1.0), &device);
        let order: Vec<usize> = (0..h * w).collect();
        let ours = Rotation::new(h, w, n_heads, d_head, &order, 1, &device).apply(x.clone());
        let reference = rotate_by_halves(x, h, w, n_heads, d_head);
        assert_eq!(ours.into_data(), reference.into_data());
    }

    #[test]
    fn reordered_and_repeated_tables_follow_their_tokens_and_heads() {
        let device = crate::testing::cpu();
        let (h, w, n_heads, d_head) = (2, 3, 2, 8);
        let order = [5, 0, 3, 1, 4, 2];
        let x = Tensor::<4>::random([1, h * w, 2 * n_heads, d_head], Distribution::Normal(0.0, 1.0), &device);
        let ours = Rotation::new(h, w, n_heads, d_head, &order, 2, &device).apply(x.clone());
        // Undo the order, then rotate each copy of the heads as its own tensor.
        let mut inverse = vec![0i64; order.len()];
        for (i, &t) in order.iter().enumerate() {
            inverse[t] = i as i64;
        }
        let inverse = Tensor::<1, Int>::from_data(TensorData::new(inverse, [order.len()]), &device);
        let in_grid = |t: Tensor<4>| t.select(1, inverse.clone());
        let all: Vec<usize> = (0..h * w).collect();
        let plain = Rotation::new(h, w, n_heads, d_head, &all, 1, &device);
        for copy in 0..2 {
            let expected = plain.apply(in_grid(x.clone()).narrow(2, copy * n_heads, n_heads));
            let got = in_grid(ours.clone()).narrow(2, copy * n_heads, n_heads);
            assert_eq!(got.into_data(), expected.into_data(), "copy {copy}");
        }
    }

    #[test]
    fn heads_too_narrow_to_rotate_pass_through() {
        let device = crate::testing::cpu();
        let x = Tensor::<4>::random([1, 4, 2, 4], Distribution::Normal(0.0, 1.0), &device);
        let rotation = Rotation::new(2, 2, 2, 4, &[0, 1, 2, 3], 1, &device);
        assert!(rotation.swap.is_none());
        assert_eq!(rotation.apply(x.clone()).into_data(), x.into_data());
    }
}
