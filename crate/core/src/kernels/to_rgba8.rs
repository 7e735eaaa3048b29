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
    // Pixels of a product that was refused would be zeros, not an image.
    super::take_refusal()?;
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
            shader: super::super::Shader::ToRgba8,
            source: include_str!("../../../../shaders/to_rgba8.wgsl"),
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
    fn the_packed_bytes_are_the_pixels_in_rgba_order() {
        // Each value is the exact centre of a known byte (b / 127.5 − 1), so the expected output
        // is known by construction, not computed by the code under test; two values lie outside
        // [-1, 1] and must clamp.
        let [b, c, h, w] = [2usize, 3, 5, 7];
        let byte = |i: usize, ch: usize, y: usize, x: usize| ((i * 101 + ch * 37 + y * 11 + x * 3) % 256) as u8;
        let mut values = vec![0f32; b * c * h * w];
        let mut expected = vec![0u8; b * h * w * 4];
        for i in 0..b {
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        let v = byte(i, ch, y, x);
                        values[((i * c + ch) * h + y) * w + x] = v as f32 / 127.5 - 1.0;
                        expected[((i * h + y) * w + x) * 4 + ch] = v;
                    }
                    expected[((i * h + y) * w + x) * 4 + 3] = 255;
                }
            }
        }
        values[0] = -5.0;
        expected[0] = 0;
        values[((c + 2) * h + 4) * w + 6] = 9.0;
        expected[((h + 4) * w + 6) * 4 + 2] = 255;
        let t = Tensor::<4>::from_data(TensorData::new(values.clone(), [b, c, h, w]), &crate::testing::cpu());
        assert_eq!(pollster::block_on(to_rgba8_packed(t)).unwrap(), expected);
        assert_eq!(to_rgba8_reference(&values, [b, c, h, w]), expected);
    }
}
