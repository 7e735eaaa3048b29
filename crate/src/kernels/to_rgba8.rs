//! `shaders/to_rgba8.wgsl`: [-1, 1] images to packed RGBA8 on the GPU, so a readback moves one
//! byte per channel instead of four.

use burn::tensor::Tensor;

use super::KernelError;

/// `[-1, 1]` → `0..=255`, rounding to nearest: what the shader computes.
pub fn quantize(v: f32) -> u8 {
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// The host reference: `[B, 3, H, W]` values → RGBA8 bytes, image after image.
pub fn to_rgba8_reference(values: &[f32], [b, c, h, w]: [usize; 4]) -> Vec<u8> {
    let plane = h * w;
    let mut out = vec![255u8; b * plane * 4];
    for i in 0..b {
        for ch in 0..c.min(3) {
            let src = &values[(i * c + ch) * plane..][..plane];
            for (p, v) in src.iter().enumerate() {
                out[(i * plane + p) * 4 + ch] = quantize(*v);
            }
        }
    }
    out
}

/// `[B, 3, H, W]` → RGBA8 bytes, on the GPU where WGSL runs, else read back and converted here.
pub async fn to_rgba8_packed(images: Tensor<4>) -> Result<Vec<u8>, KernelError> {
    let dims = images.dims();
    if dims[1] != 3 {
        return Err(KernelError(format!("expected 3 channels, got {dims:?}")));
    }
    #[cfg(feature = "kernels")]
    if super::wgsl_available(&images.device()) {
        return gpu::to_rgba8(images).await;
    }
    let data = images.into_data_async().await.map_err(|e| KernelError(e.to_string()))?;
    let values = data.try_to_vec::<f32>().map_err(|e| KernelError(format!("{e:?}")))?;
    Ok(to_rgba8_reference(&values, dims))
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Int, Shape, Tensor};

    use super::super::KernelError;
    use super::super::wgsl::{WgslKernel, cube, launch};

    enum ToRgba8 {}

    pub async fn to_rgba8(images: Tensor<4>) -> Result<Vec<u8>, KernelError> {
        let [n, _, h, w] = images.dims();
        let x = cube(images).ok_or_else(|| KernelError("not a wgpu f32 tensor".into()))?;
        let client = x.client.clone();
        let handle = client.empty(n * h * w * 4);
        let out = CubeTensor::new_contiguous(client, x.device.clone(), Shape::new([n, h, w]), handle, DType::U32);
        let kernel = WgslKernel {
            id: KernelId::new::<ToRgba8>(),
            source: include_str!("../../../shaders/to_rgba8.wgsl"),
            entry: "main",
            workgroup: Dim3::new_2d(8, 8),
        };
        let count = CubeCount::Static(w.div_ceil(8) as u32, h.div_ceil(8) as u32, n as u32);
        launch(kernel, count, &[&x, &out], [n as u32, h as u32, w as u32, 0]);
        let packed = Tensor::<3, Int>::from_primitive::<Cube>(out);
        let data = packed.into_data_async().await.map_err(|e| KernelError(e.to_string()))?;
        Ok(data.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    #[test]
    fn reference_packs_rgb_and_opaque_alpha() {
        let values = [-1.0, 1.0, 0.0, 0.5, 2.0, -3.0];
        let rgba = to_rgba8_reference(&values, [1, 3, 1, 2]);
        assert_eq!(rgba, vec![0, 128, 255, 255, 255, 191, 0, 255]);
    }

    #[test]
    fn the_cpu_path_is_the_reference() {
        let values: Vec<f32> = (0..2 * 3 * 5 * 5).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        let t = Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 3, 5, 5]), &crate::testing::cpu());
        let rgba = pollster::block_on(to_rgba8_packed(t)).unwrap();
        assert_eq!(rgba, to_rgba8_reference(&values, [2, 3, 5, 5]));
    }
}
