//! `shaders/composite.wgsl`: the inpainting composite, keep ? known : generated.

use burn::tensor::{Bool, Tensor};

/// The host reference on flat NCHW values, `keep` being `[N, 1, H, W]`.
pub fn composite_reference(known: &[f32], generated: &[f32], keep: &[f32], [n, c, h, w]: [usize; 4]) -> Vec<f32> {
    let plane = h * w;
    (0..n * c * plane)
        .map(|i| {
            let image = i / (c * plane);
            if keep[image * plane + i % plane] > 0.5 { known[i] } else { generated[i] }
        })
        .collect()
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
}
