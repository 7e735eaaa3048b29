//! `shaders/attention.wgsl`: a block's cosine attention (unit norm, scale, rotation, scores, the
//! shift mask, softmax, weighted sum) in one dispatch, where burn needs about twenty (issue 22:
//! the browser build is bound by dispatches), each window's keys built once per workgroup.

use burn::tensor::{Int, Tensor};

use crate::model::rope::rotation_partner;

/// What the kernel needs besides the fused projection and the tables: the shapes, the rotation
/// and the cosine norm's epsilon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionShape {
    pub heads: usize,
    pub d_head: usize,
    /// Tokens per window (the whole sequence for global attention).
    pub window: usize,
    /// Dimensions below `2·pairs` rotate, `d < pairs` with `d + pairs` (`model::rope::Rotation`).
    pub pairs: usize,
    /// `x / sqrt(Σx² + eps)`.
    pub eps: f32,
}

/// The largest `d_head` the shader takes (its per-invocation arrays); it also takes only
/// multiples of 4 (it reads rows as vec4s).
pub const MAX_D_HEAD: usize = 64;

/// The host reference. `qkv`: `[B, L, 3·H, D]`; `scale`: `[H]`; `cos`, `sin`: `[L, 2·H, D]`
/// (queries' heads, then keys'); `bias`: `[L / n, n, n]`. Returns `[B, L, H, D]`. Positions run
/// in window order; `rows[p]` is the row of `qkv` and of the result that holds position `p` (the
/// windows' gather and scatter), or row `p` where there are no `rows`. The same arithmetic as the
/// model's burn path (`model::attention`): `x / sqrt(Σx² + eps)`, times `sqrt(scale)`,
/// `x·cos + swap(x)·sin`, then `softmax(q·kᵀ + bias)·v`.
#[allow(clippy::too_many_arguments)]
pub fn attention_reference(
    qkv: &[f32],
    batch: usize,
    shape: AttentionShape,
    scale: &[f32],
    cos: &[f32],
    sin: &[f32],
    bias: Option<&[f32]>,
    rows: Option<&[usize]>,
) -> Vec<f32> {
    let AttentionShape { heads: h, d_head: d, window: n, pairs, eps } = shape;
    let len = qkv.len() / (batch * 3 * h * d).max(1);
    let row = |p: usize| rows.map_or(p, |rows| rows[p]);
    let partner = |j: usize| rotation_partner(j, pairs);
    // Slot `s` of position `t` of image `b`, normalised, scaled and rotated.
    let rotated = |b: usize, t: usize, s: usize, head: usize| -> Vec<f32> {
        let base = ((b * len + row(t)) * 3 * h + s) * d;
        let x = &qkv[base..base + d];
        let norm = (x.iter().fold(0.0f32, |acc, v| v.mul_add(*v, acc)) + eps).sqrt();
        let root = scale[head].sqrt();
        let table = (t * 2 * h + s) * d;
        (0..d).map(|j| x[j] / norm * root * cos[table + j] + x[partner(j)] / norm * root * sin[table + j]).collect()
    };
    let mut out = vec![0.0; batch * len * h * d];
    for b in 0..batch {
        for head in 0..h {
            let keys: Vec<Vec<f32>> = (0..len).map(|t| rotated(b, t, h + head, head)).collect();
            for t in 0..len {
                let q = rotated(b, t, head, head);
                let first = t / n * n;
                let scores: Vec<f32> = (0..n)
                    .map(|j| {
                        let s = q.iter().zip(&keys[first + j]).fold(0.0f32, |acc, (x, y)| x.mul_add(*y, acc));
                        s + bias.map_or(0.0, |bias| bias[t * n + j])
                    })
                    .collect();
                let best = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let weights: Vec<f32> = scores.iter().map(|s| (s - best).exp()).collect();
                let total: f32 = weights.iter().sum();
                let o = ((b * len + row(t)) * h + head) * d;
                for (j, w) in weights.iter().enumerate() {
                    let v = ((b * len + row(first + j)) * 3 * h + 2 * h + head) * d;
                    for k in 0..d {
                        out[o + k] += w / total * qkv[v + k];
                    }
                }
            }
        }
    }
    out
}

/// The attention of `qkv` (`[B, L, 3·H·D]`) as `[B, L, H·D]`: our shader where the networks'
/// kernels run ([`super::network_kernels_run`]) and the shapes fit, `None` elsewhere, so that the
/// caller spells it in burn. `cos`, `sin`: `[1, L, 2·H, D]`; `bias`: `[L / window, window,
/// window]`; `rows`: `[L]`, the row of each window-ordered position ([`attention_reference`]).
pub fn attention(
    qkv: &Tensor<3>,
    shape: AttentionShape,
    scale: &Tensor<1>,
    cos: &Tensor<4>,
    sin: &Tensor<4>,
    bias: Option<&Tensor<3>>,
    rows: Option<&Tensor<1, Int>>,
) -> Option<Tensor<3>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&qkv.device()) {
        return gpu::attention(qkv, shape, scale, cos, sin, bias, rows);
    }
    let _ = (qkv, shape, scale, cos, sin, bias, rows);
    None
}

/// Our shader against [`attention_reference`] on `device`: global attention over 70 tokens
/// (two workgroups of queries, three tiles of keys, the last one partial), and masked windows
/// of 16 tokens (one partial tile) and of 64 with the rows permuted (the windows' gather; two
/// tiles under the mask), two images, a `d_head` with unrotated dimensions. Returns the largest
/// error relative to `1 + |reference|`.
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let data = super::check_values;
    let mut worst = 0f32;
    for (batch, len, window, heads, d_head, pairs, masked, permuted) in
        [(1, 70, 70, 2, 16, 4, false, false), (2, 64, 16, 3, 12, 2, true, false), (2, 128, 64, 3, 12, 2, true, true)]
    {
        let shape = AttentionShape { heads, d_head, window, pairs, eps: 1e-6 };
        let qkv = data(batch * len * 3 * heads * d_head, 11);
        let scale: Vec<f32> = (0..heads).map(|i| 8.0 + i as f32).collect();
        let angle = data(len * 2 * heads * d_head, 12);
        let cos: Vec<f32> = angle.iter().map(|a| a.cos()).collect();
        let sin: Vec<f32> = angle.iter().map(|a| a.sin()).collect();
        let bias: Option<Vec<f32>> =
            masked.then(|| (0..len * window).map(|i| if (i * 7) % 5 == 0 { -1.0e4 } else { 0.0 }).collect());
        let rows: Option<Vec<usize>> = permuted.then(|| permutation(len));
        let want = attention_reference(&qkv, batch, shape, &scale, &cos, &sin, bias.as_deref(), rows.as_deref());
        let t3 = |v: &[f32], s: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), s), device);
        let t4 = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, len, 2 * heads, d_head]), device);
        let tb = bias.as_ref().map(|b| t3(b, [len / window, window, window]));
        let tr = rows.as_ref().map(|r| {
            Tensor::<1, Int>::from_data(TensorData::new(r.iter().map(|&i| i as i64).collect(), [len]), device)
        });
        let got = attention(
            &t3(&qkv, [batch, len, 3 * heads * d_head]),
            shape,
            &Tensor::<1>::from_data(TensorData::new(scale.clone(), [heads]), device),
            &t4(&cos),
            &t4(&sin),
            tb.as_ref(),
            tr.as_ref(),
        )
        .ok_or_else(|| super::KernelError("our WGSL attention does not run on this device".into()))?;
        worst = worst.max(super::worst_relative_error(got, &want).await?);
    }
    Ok(worst)
}

/// A permutation of `0..len` that moves every row (a stride coprime to `len`, plus an offset).
fn permutation(len: usize) -> Vec<usize> {
    let stride = (2..len).rev().find(|s| gcd(*s, len) == 1 && *s != len - 1).unwrap_or(1);
    (0..len).map(|p| (p * stride + 3) % len.max(1)).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Int, Shape, Tensor};

    use super::super::wgsl::{WgslKernel, cube, cube_index, launch_words};
    use super::{AttentionShape, MAX_D_HEAD};

    enum AttentionKernel {}

    pub fn attention(
        qkv: &Tensor<3>,
        shape: AttentionShape,
        scale: &Tensor<1>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        bias: Option<&Tensor<3>>,
        rows: Option<&Tensor<1, Int>>,
    ) -> Option<Tensor<3>> {
        let AttentionShape { heads, d_head, window, pairs, eps } = shape;
        let [batch, len, width] = qkv.dims();
        let table = [1, len, 2 * heads, d_head];
        let fits = d_head > 0
            && d_head <= MAX_D_HEAD
            && d_head % 4 == 0
            && 2 * pairs <= d_head
            && width == 3 * heads * d_head
            && window > 0
            && len % window == 0
            && scale.dims() == [heads]
            && cos.dims() == table
            && sin.dims() == table
            && bias.is_none_or(|b| b.dims() == [len / window, window, window])
            && rows.is_none_or(|r| r.dims() == [len]);
        if !fits || batch == 0 {
            return None;
        }
        // One workgroup per (image, head, window, 64 of its queries).
        let groups = batch * heads * (len / window) * window.div_ceil(64);
        let words = [batch, len, heads, d_head, window, pairs].map(u32::try_from);
        let [Ok(b), Ok(l), Ok(h), Ok(d), Ok(n), Ok(p)] = words else {
            return None;
        };
        let (cx, cs) = (cube(qkv.clone())?, cube(scale.clone())?);
        let (cc, csin) = (cube(cos.clone())?, cube(sin.clone())?);
        let cb = match bias {
            Some(b) => Some(cube(b.clone())?),
            None => None,
        };
        let cr = match rows {
            Some(r) => Some(cube_index(r.clone())?),
            None => None,
        };
        let client = cx.client.clone();
        let out = CubeTensor::new_contiguous(
            client.clone(),
            cx.device.clone(),
            Shape::new([batch, len, heads * d_head]),
            client.empty(batch * len * heads * d_head * 4),
            DType::F32,
        );
        // Rows of at most 65,535 workgroups.
        let (x, y) = super::super::rows_of_workgroups(groups, super::super::MAX_WORKGROUPS)?;
        let flags = cb.is_some() as u32 | (cr.is_some() as u32) << 1;
        let info = [b, l, h, d, n, flags, p, eps.to_bits(), x, 0, 0, 0];
        let kernel = WgslKernel {
            id: KernelId::new::<AttentionKernel>(),
            shader: super::super::Shader::Attention,
            source: include_str!("../../../../shaders/attention.wgsl"),
            entry: "attention",
            workgroup: Dim3::new_1d(64),
        };
        // An unused binding still needs a buffer: the scale's (read-only, so it may alias).
        let bias_buffer = cb.as_ref().unwrap_or(&cs);
        let rows_buffer = cr.as_ref().unwrap_or(&cs);
        let buffers = [&cx, &cs, &cc, &csin, bias_buffer, rows_buffer, &out];
        launch_words(kernel, CubeCount::Static(x, y, 1), &buffers, &info);
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::kernels::check_values as values;
    use crate::testing::cpu;

    /// The model's burn path, spelled as `model::attention` spells it (norm, scale, rotation,
    /// scores, mask, softmax, weighted sum), on the CPU.
    fn burn_path(
        qkv: &[f32],
        batch: usize,
        shape: AttentionShape,
        scale: &[f32],
        cos: &[f32],
        sin: &[f32],
        bias: Option<&[f32]>,
        rows: Option<&[usize]>,
    ) -> Vec<f32> {
        let AttentionShape { heads: h, d_head: d, window: n, pairs, eps } = shape;
        let len = qkv.len() / (batch * 3 * h * d);
        let device = cpu();
        let index = |r: &[usize]| {
            Tensor::<1, burn::tensor::Int>::from_data(
                TensorData::new(r.iter().map(|&i| i as i64).collect(), [len]),
                &device,
            )
        };
        let mut x = Tensor::<4>::from_data(TensorData::new(qkv.to_vec(), [batch, len, 3 * h, d]), &device);
        // The model's gather into window order, and its scatter back below.
        if let Some(rows) = rows {
            x = x.select(1, index(rows));
        }
        let table = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, len, 2 * h, d]), &device);
        let swap: Vec<i64> = (0..d).map(|j| rotation_partner(j, pairs) as i64).collect();
        let swap = Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(swap, [d]), &device);
        let qk = x.clone().narrow(2, 0, 2 * h);
        let unit = qk.clone() / qk.square().sum_dim(3).add_scalar(eps).sqrt();
        let root =
            Tensor::<1>::from_data(TensorData::new(scale.to_vec(), [h]), &device).sqrt().reshape([1, 1, 1, h, 1]);
        let qk = (unit.reshape([batch, len, 2, h, d]) * root).reshape([batch, len, 2 * h, d]);
        let qk = qk.clone() * table(cos) + qk.select(3, swap) * table(sin);
        let heads = |t: Tensor<4>| t.reshape([batch * (len / n), n, h, d]).swap_dims(1, 2);
        let (q, k, v) = (heads(qk.clone().narrow(2, 0, h)), heads(qk.narrow(2, h, h)), heads(x.narrow(2, 2 * h, h)));
        let mut scores = q.matmul(k.swap_dims(2, 3));
        if let Some(bias) = bias {
            let bias = Tensor::<4>::from_data(TensorData::new(bias.to_vec(), [1, len / n, n, n]), &device)
                .unsqueeze_dim::<5>(2)
                .expand([batch, len / n, h, n, n])
                .reshape([batch * (len / n), h, n, n]);
            scores = scores + bias;
        }
        let mut y = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([batch, len, h * d]);
        if let Some(rows) = rows {
            let mut inverse = vec![0; len];
            for (p, &row) in rows.iter().enumerate() {
                inverse[row] = p;
            }
            y = y.select(1, index(&inverse));
        }
        y.into_data().try_to_vec::<f32>().unwrap()
    }

    fn case(batch: usize, len: usize, shape: AttentionShape, masked: bool, rows: Option<&[usize]>) {
        let h = shape.heads;
        let qkv = values(batch * len * 3 * h * shape.d_head, 1);
        let scale: Vec<f32> = (0..h).map(|i| 9.0 + i as f32).collect();
        let angle = values(len * 2 * h * shape.d_head, 2);
        let cos: Vec<f32> = angle.iter().map(|a| a.cos()).collect();
        let sin: Vec<f32> = angle.iter().map(|a| a.sin()).collect();
        let n = shape.window;
        let bias: Option<Vec<f32>> =
            masked.then(|| (0..len * n).map(|i| if (i * 7) % 5 == 0 { -1.0e4 } else { 0.0 }).collect());
        let want = burn_path(&qkv, batch, shape, &scale, &cos, &sin, bias.as_deref(), rows);
        let got = attention_reference(&qkv, batch, shape, &scale, &cos, &sin, bias.as_deref(), rows);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "element {i}: {g} vs {w}");
        }
    }

    #[test]
    fn the_reference_is_the_models_global_attention() {
        case(1, 20, AttentionShape { heads: 2, d_head: 16, window: 20, pairs: 4, eps: 1e-6 }, false, None);
    }

    #[test]
    fn the_reference_is_the_models_masked_windows() {
        case(2, 32, AttentionShape { heads: 3, d_head: 8, window: 16, pairs: 2, eps: 1e-6 }, true, None);
    }

    #[test]
    fn the_reference_gathers_and_scatters_as_the_model_does() {
        let rows = permutation(32);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..32).collect::<Vec<_>>(), "a permutation");
        assert!(rows.iter().enumerate().all(|(p, &r)| p != r), "every row moves");
        case(2, 32, AttentionShape { heads: 3, d_head: 8, window: 16, pairs: 2, eps: 1e-6 }, true, Some(&rows));
    }

    #[test]
    fn off_the_wgsl_devices_the_caller_computes_it() {
        let shape = AttentionShape { heads: 1, d_head: 8, window: 2, pairs: 2, eps: 1e-6 };
        let qkv = Tensor::<3>::from_data(TensorData::new(values(2 * 24, 3), [1, 2, 24]), &cpu());
        let scale = Tensor::<1>::from_data(TensorData::new(vec![10.0], [1]), &cpu());
        let table = Tensor::<4>::from_data(TensorData::new(values(2 * 2 * 8, 4), [1, 2, 2, 8]), &cpu());
        assert!(attention(&qkv, shape, &scale, &table, &table, None, None).is_none());
    }
}
