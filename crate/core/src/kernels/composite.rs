//! `shaders/composite.wgsl`: the inpainting composite, keep ? known : generated.

use burn::tensor::{Bool, Tensor};

/// The host reference on flat NCHW values, `keep` being `[N, 1, H, W]` or the values' shape.
pub fn composite_reference(known: &[f32], generated: &[f32], keep: &[f32], [n, c, h, w]: [usize; 4]) -> Vec<f32> {
    let plane = h * w;
    let full = keep.len() == n * c * plane;
    (0..n * c * plane)
        .map(|i| {
            let kept = if full { keep[i] } else { keep[i / (c * plane) * plane + i % plane] };
            if kept > 0.5 { known[i] } else { generated[i] }
        })
        .collect()
}

/// Runs our WGSL composite with a mask of each shape it takes (`[N, 1, H, W]`, broadcast over
/// the channels, and the values' own shape) against [`composite_reference`]: the largest
/// relative error, 0 for a correct select.
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let shape = [2, 3, 5, 7];
    let n: usize = shape.iter().product();
    let (known, generated) = (super::check_values(n, 1), super::check_values(n, 2));
    let tensor = |v: &[f32], s: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), s), device);
    let mut worst = 0f32;
    for keep_shape in [[2, 1, 5, 7], shape] {
        let size = keep_shape.iter().product::<usize>();
        // Aperiodic over a plane and an image (period 113), so that a mask read at the wrong place shows.
        let keep: Vec<f32> = super::check_values(size, 3).iter().map(|&v| (v > 0.0) as u8 as f32).collect();
        let (k, g, m) = (tensor(&known, shape), tensor(&generated, shape), tensor(&keep, keep_shape));
        #[cfg(feature = "kernels")]
        let got = gpu::composite(k, g, m)
            .ok_or_else(|| super::KernelError("our WGSL composite does not run on this device".into()))?;
        #[cfg(not(feature = "kernels"))]
        let got = composite(k, g, m);
        let want = composite_reference(&known, &generated, &keep, shape);
        worst = worst.max(super::worst_relative_error(got, &want).await?);
    }
    Ok(worst)
}

/// `known` where `keep` (`[N, 1, H, W]` or `known`'s shape, 0/1) is set, `generated` elsewhere. The WGSL kernel
/// where it runs, burn's `mask_where` otherwise; both copy the kept values bit for bit.
pub fn composite(known: Tensor<4>, generated: Tensor<4>, keep: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "kernels")]
    if super::wgsl_available(&known.device()) {
        if let Some(out) = gpu::composite(known.clone(), generated.clone(), keep.clone()) {
            return out;
        }
    }
    let shape = known.dims();
    let mask: Tensor<4, Bool> = keep.greater_elem(0.5).expand(shape);
    generated.mask_where(mask, known)
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Shape, Tensor};

    use super::super::wgsl::{WgslKernel, cube, launch};

    enum Composite {}

    pub fn composite(known: Tensor<4>, generated: Tensor<4>, keep: Tensor<4>) -> Option<Tensor<4>> {
        let [n, c, h, w] = known.dims();
        // A full-shape `keep` is one plane of all the values per image, with one channel.
        let (plane, channels) = match keep.dims() {
            dims if dims == [n, 1, h, w] => (h * w, c),
            dims if dims == [n, c, h, w] => (c * h * w, 1),
            _ => return None,
        };
        if generated.dims() != [n, c, h, w] {
            return None;
        }
        let (k, g, m) = (cube(known)?, cube(generated)?, cube(keep)?);
        let client = k.client.clone();
        let total = n * c * h * w;
        let handle = client.empty(total * 4);
        let out = CubeTensor::new_contiguous(client, k.device.clone(), Shape::new([n, c, h, w]), handle, DType::F32);
        let (x, y) = super::super::rows_of_workgroups(total.div_ceil(256), super::super::MAX_WORKGROUPS)?;
        let kernel = WgslKernel {
            id: KernelId::new::<Composite>(),
            shader: super::super::Shader::Composite,
            source: include_str!("../../../../shaders/composite.wgsl"),
            entry: "main",
            workgroup: Dim3::new_1d(256),
        };
        launch(
            kernel,
            CubeCount::Static(x, y, 1),
            &[&k, &g, &m, &out],
            [total as u32, plane as u32, channels as u32, 0],
        );
        Some(Tensor::<4>::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    #[test]
    fn the_fallback_matches_the_reference_and_keeps_bits() {
        let device = crate::testing::cpu();
        let shape = [2, 3, 4, 4];
        let known: Vec<f32> = (0..96).map(|i| (i as f32 * 0.37).sin()).collect();
        let generated: Vec<f32> = (0..96).map(|i| (i as f32 * 0.11).cos()).collect();
        let keep: Vec<f32> = (0..32).map(|i| (i % 3 == 0) as u8 as f32).collect();
        let t = |v: &[f32], s: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), s), &device);
        let out = composite(t(&known, shape), t(&generated, shape), t(&keep, [2, 1, 4, 4]));
        let out = out.into_data().try_to_vec::<f32>().unwrap();
        let reference = composite_reference(&known, &generated, &keep, shape);
        assert_eq!(
            out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            reference.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_full_shape_mask_selects_each_value_on_its_own() {
        let device = crate::testing::cpu();
        assert_eq!(pollster::block_on(check_against_reference(&device)), Ok(0.0));
        // The reference reads a full-shape mask per value, not per pixel: channel 1 of pixel 0 alone.
        let mut keep = vec![0.0; 12];
        keep[4] = 1.0;
        let got = composite_reference(&[1.0; 12], &[0.0; 12], &keep, [1, 3, 2, 2]);
        assert_eq!(got, [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
