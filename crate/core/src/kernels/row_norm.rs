//! `shaders/row_norm.wgsl`: a norm over the last axis with its scale and modulation, in one
//! dispatch where burn needs six to nine (the browser build is bound by dispatches).

use burn::tensor::Tensor;

/// Which norm of a row `x` of width `C`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowNorm {
    /// `x · 1/sqrt(mean(x²) + eps)`, as `model::norm::rms_norm` computes it.
    Rms { eps: f32 },
    /// `x / sqrt(sum(x²) + eps)`: unit length (the cosine attention's queries and keys).
    Unit { eps: f32 },
}

impl RowNorm {
    fn divisor(self, width: usize) -> f32 {
        match self {
            RowNorm::Rms { .. } => width as f32,
            RowNorm::Unit { .. } => 1.0,
        }
    }

    fn eps(self) -> f32 {
        match self {
            RowNorm::Rms { eps } | RowNorm::Unit { eps } => eps,
        }
    }
}

/// The host reference: rows of `width` values; `scale` has `width` values; `modulation` has one
/// row of `width` per `group` consecutive rows of `x`.
pub fn row_norm_reference(
    x: &[f32],
    width: usize,
    norm: RowNorm,
    scale: Option<&[f32]>,
    modulation: Option<(&[f32], usize)>,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for (r, row) in x.chunks(width).enumerate() {
        let sum = row.iter().fold(0.0f32, |acc, v| v.mul_add(*v, acc));
        let n = (sum / norm.divisor(width) + norm.eps()).sqrt();
        for (c, v) in row.iter().enumerate() {
            let mut y = match norm {
                RowNorm::Rms { .. } => v * (1.0 / n),
                RowNorm::Unit { .. } => v / n,
            };
            if let Some(scale) = scale {
                y *= scale[c];
            }
            if let Some((m, group)) = modulation {
                y *= 1.0 + m[(r / group) * width + c];
            }
            out.push(y);
        }
    }
    out
}

/// `norm` of each row of `x` (its last axis), times `scale` (`[C]`) and `1 + modulation`
/// (`[G, C]`, one row per `x.rows / G` consecutive rows) where given: our shader where it runs
/// ([`super::network_kernels_run`]), `None` elsewhere, so that the caller spells it in burn.
pub fn row_norm<const D: usize>(
    x: &Tensor<D>,
    norm: RowNorm,
    scale: Option<&Tensor<1>>,
    modulation: Option<&Tensor<2>>,
) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) {
        return gpu::row_norm(x, norm, scale, modulation.map(|m| (m, 0)));
    }
    let _ = (x, norm, scale, modulation);
    None
}

/// [`row_norm`] with the modulation in columns `offset..offset + C` of `modulations` (`[G, ≥ C]`):
/// where one matmul computed the modulations of all of a network's norms side by side
/// (`model::hourglass::Backbone::prepare_modulations`). `None` off our WGSL, like [`row_norm`].
pub fn row_norm_columns<const D: usize>(
    x: &Tensor<D>,
    norm: RowNorm,
    modulations: &Tensor<2>,
    offset: usize,
) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) {
        return gpu::row_norm(x, norm, None, Some((modulations, offset)));
    }
    let _ = (x, norm, modulations, offset);
    None
}

/// Our shader against [`row_norm_reference`] on `device`: RMS with a scale, RMS with a
/// modulation per group of rows (whole, and columns of a wider one), and the unit norm, on rows of 150 values. Returns the largest error relative to `1 + |reference|` (for the browser tests).
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let data = super::check_values;
    let (b, hw, c) = (3, 5, 150);
    let (x, scale, m) = (data(b * hw * c, 1), data(c, 2), data(b * c, 3));
    let tx = Tensor::<3>::from_data(TensorData::new(x.clone(), [b, hw, c]), device);
    let ts = Tensor::<1>::from_data(TensorData::new(scale.clone(), [c]), device);
    let tm = Tensor::<2>::from_data(TensorData::new(m.clone(), [b, c]), device);
    let wide = data(b * 170, 4);
    let tw = Tensor::<2>::from_data(TensorData::new(wide.clone(), [b, 170]), device);
    let columns: Vec<f32> = wide.chunks(170).flat_map(|row| row[7..7 + c].to_vec()).collect();
    let rms = RowNorm::Rms { eps: 1e-6 };
    let unit = RowNorm::Unit { eps: 1e-6 };
    let cases = [
        (row_norm(&tx, rms, Some(&ts), None), row_norm_reference(&x, c, rms, Some(&scale), None)),
        (row_norm(&tx, rms, None, Some(&tm)), row_norm_reference(&x, c, rms, None, Some((&m, hw)))),
        (row_norm(&tx, unit, None, None), row_norm_reference(&x, c, unit, None, None)),
        // Columns 7..157 of modulations 170 wide.
        (row_norm_columns(&tx, rms, &tw, 7), row_norm_reference(&x, c, rms, None, Some((&columns, hw)))),
    ];
    let mut worst = 0f32;
    for (got, want) in cases {
        let got = got.ok_or_else(|| super::KernelError("our WGSL row norm does not run on this device".into()))?;
        worst = worst.max(super::worst_relative_error(got, &want).await?);
    }
    Ok(worst)
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Shape, Tensor};

    use super::super::wgsl::{WgslKernel, cube, launch_words};
    use super::RowNorm;

    enum RowNormKernel {}

    pub fn row_norm<const D: usize>(
        x: &Tensor<D>,
        norm: RowNorm,
        scale: Option<&Tensor<1>>,
        modulation: Option<(&Tensor<2>, usize)>,
    ) -> Option<Tensor<D>> {
        let dims = x.dims();
        let width = dims[D - 1];
        let rows = dims[..D - 1].iter().product::<usize>();
        if width == 0 || rows == 0 || scale.is_some_and(|s| s.dims() != [width]) {
            return None;
        }
        let (group, stride, offset) = match modulation {
            Some((m, offset)) if m.dims()[1] >= offset + width && m.dims()[0] > 0 && rows % m.dims()[0] == 0 => {
                (rows / m.dims()[0], m.dims()[1], offset)
            }
            Some(_) => return None,
            None => (1, 0, 0),
        };
        let (Ok(words_rows), Ok(words_width), Ok(words_group), Ok(words_stride), Ok(words_offset)) = (
            u32::try_from(rows),
            u32::try_from(width),
            u32::try_from(group),
            u32::try_from(stride),
            u32::try_from(offset),
        ) else {
            return None;
        };
        let cx = cube(x.clone())?;
        let cs = match scale {
            Some(s) => Some(cube(s.clone())?),
            None => None,
        };
        let cm = match modulation {
            Some((m, _)) => Some(cube(m.clone())?),
            None => None,
        };
        let client = cx.client.clone();
        let out = CubeTensor::new_contiguous(
            client.clone(),
            cx.device.clone(),
            Shape::new(dims),
            client.empty(rows * width * 4),
            DType::F32,
        );
        let flags =
            cs.is_some() as u32 | (cm.is_some() as u32) << 1 | (matches!(norm, RowNorm::Rms { .. }) as u32) << 2;
        let info = [
            words_rows,
            words_width,
            words_group,
            flags,
            norm.divisor(width).to_bits(),
            norm.eps().to_bits(),
            words_stride,
            words_offset,
        ];
        // Unused bindings still need a buffer: `x`'s (read-only, so it may alias).
        let (scale_buffer, modulation_buffer) = (cs.as_ref().unwrap_or(&cx), cm.as_ref().unwrap_or(&cx));
        // One invocation per row, 64 to a workgroup.
        let workgroups = words_rows.div_ceil(64);
        if workgroups > 65_535 {
            return None;
        }
        let count = CubeCount::Static(workgroups, 1, 1);
        let kernel = WgslKernel {
            id: KernelId::new::<RowNormKernel>(),
            shader: super::super::Shader::RowNorm,
            source: include_str!("../../../../shaders/row_norm.wgsl"),
            entry: "row_norm",
            workgroup: Dim3::new_1d(64),
        };
        launch_words(kernel, count, &[&cx, scale_buffer, modulation_buffer, &out], &info);
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::kernels::check_values as values;
    use crate::testing::cpu;

    fn close(x: &[f32], y: &[f32]) {
        assert_eq!(x.len(), y.len());
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert!((p - q).abs() <= 1e-5 * (1.0 + q.abs()), "element {i}: {p} vs {q}");
        }
    }

    #[test]
    fn the_reference_is_the_models_rms_norm_with_scale_and_modulation() {
        let (b, hw, c) = (2, 3, 70);
        let x = values(b * hw * c, 1);
        let scale = values(c, 2);
        let m = values(b * c, 3);
        let tx = Tensor::<3>::from_data(TensorData::new(x.clone(), [b, hw, c]), &cpu());
        let plain = crate::model::norm::rms_norm(tx.clone());
        close(
            &row_norm_reference(&x, c, RowNorm::Rms { eps: 1e-6 }, None, None),
            &plain.clone().into_data().try_to_vec::<f32>().unwrap(),
        );
        let ts = Tensor::<1>::from_data(TensorData::new(scale.clone(), [c]), &cpu());
        let tm = Tensor::<2>::from_data(TensorData::new(m.clone(), [b, c]), &cpu());
        let expected = plain * ts.unsqueeze::<3>() * tm.add_scalar(1.0).unsqueeze_dim::<3>(1);
        let got = row_norm_reference(&x, c, RowNorm::Rms { eps: 1e-6 }, Some(&scale), Some((&m, hw)));
        close(&got, &expected.into_data().try_to_vec::<f32>().unwrap());
    }

    #[test]
    fn the_unit_norm_gives_rows_of_length_one() {
        let x = values(4 * 32, 4);
        let y = row_norm_reference(&x, 32, RowNorm::Unit { eps: 0.0 }, None, None);
        for row in y.chunks(32) {
            let length: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((length - 1.0).abs() < 1e-5, "{length}");
        }
    }

    #[test]
    fn off_the_wgsl_devices_the_caller_computes_it() {
        let x = Tensor::<2>::from_data(TensorData::new(values(6, 5), [2, 3]), &cpu());
        assert!(row_norm(&x, RowNorm::Rms { eps: 1e-6 }, None, None).is_none());
        let m = Tensor::<2>::from_data(TensorData::new(values(10, 6), [2, 5]), &cpu());
        assert!(row_norm_columns(&x, RowNorm::Rms { eps: 1e-6 }, &m, 2).is_none());
    }
}
