//! Conversions between [-1, 1] NCHW tensors and 8-bit pixels.

use burn::tensor::{Device, Tensor, TensorData};

use super::PipelineError;

/// `[-1, 1]` → `0..=255`, rounding to nearest. An 8-bit value `u` read in with
/// [`from_rgb8`] comes back as `u` exactly.
pub use crate::kernels::quantize;

async fn read(images: Tensor<4>) -> Result<(Vec<f32>, [usize; 4]), PipelineError> {
    let dims = images.dims();
    crate::kernels::take_refusal().map_err(|e| PipelineError::Shape(e.0))?;
    let data = images.into_data_async().await.map_err(PipelineError::backend)?;
    let values = data.try_to_vec::<f32>().map_err(|e| PipelineError::Backend(format!("{e:?}")))?;
    Ok((values, dims))
}

fn interleave(values: &[f32], [b, c, h, w]: [usize; 4], out_channels: usize) -> Vec<Vec<u8>> {
    (0..b)
        .map(|i| {
            let mut out = vec![255u8; h * w * out_channels];
            for ch in 0..c.min(out_channels) {
                let plane = &values[(i * c + ch) * h * w..][..h * w];
                for (p, v) in plane.iter().enumerate() {
                    out[p * out_channels + ch] = quantize(*v);
                }
            }
            out
        })
        .collect()
}

/// One RGB8 (HWC) buffer per image.
pub async fn to_rgb8(images: Tensor<4>) -> Result<Vec<Vec<u8>>, PipelineError> {
    let (values, dims) = read(images).await?;
    Ok(interleave(&values, dims, 3))
}

/// One RGBA8 buffer per image (opaque), ready for a canvas `ImageData`. Converted on the GPU
/// (`shaders/to_rgba8.wgsl`) where WGSL runs, so the readback is a quarter of the floats'.
pub async fn to_rgba8(images: Tensor<4>) -> Result<Vec<Vec<u8>>, PipelineError> {
    let [b, _, h, w] = images.dims();
    let packed = crate::kernels::to_rgba8_packed(images).await.map_err(PipelineError::backend)?;
    Ok(packed.chunks(h * w * 4).take(b).map(<[u8]>::to_vec).collect())
}

/// Interleaved 8-bit images (`channels` per pixel; an alpha channel is dropped) → `[B, 3, H, W]`.
pub fn from_rgb8(images: &[&[u8]], side: usize, channels: usize, device: &Device) -> Result<Tensor<4>, PipelineError> {
    let plane = side * side;
    let mut values = vec![0f32; images.len() * 3 * plane];
    for (i, pixels) in images.iter().enumerate() {
        if pixels.len() != plane * channels || channels < 3 {
            return Err(PipelineError::Shape(format!(
                "image {i} has {} bytes, expected {side}×{side}×{channels}",
                pixels.len()
            )));
        }
        for p in 0..plane {
            for ch in 0..3 {
                values[(i * 3 + ch) * plane + p] = pixels[p * channels + ch] as f32 / 127.5 - 1.0;
            }
        }
    }
    Ok(Tensor::from_data(TensorData::new(values, [images.len(), 3, side, side]), device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for u in 0..=255u8 {
            assert_eq!(quantize(u as f32 / 127.5 - 1.0), u);
        }
    }
}
