//! `shaders/dequantize.wgsl`: int8 and int4 weights to f32 on the GPU, once at load, so the
//! upload moves the quantized bytes (a quarter or an eighth of f32) and the host never holds
//! the f32 copy.

use burn::tensor::{Device, Tensor};
use half::f16;

/// The stored codes of one tensor, laid out as `docs/FORMAT.md` describes.
#[derive(Debug, Clone, Copy)]
pub enum Codes<'a> {
    /// One signed code per element, row-major; one scale per row.
    Int8(&'a [i8]),
    /// Rows padded to whole groups, two offset-binary codes per byte; one scale per group.
    Int4 { packed: &'a [u8], group: usize },
}

/// `codes × scales` as a `shape` tensor on `device`, computed by our WGSL kernel; `None` where
/// WGSL does not run (the caller dequantizes on the host instead) or the sizes do not fit the
/// format (the reader has already refused such files).
pub fn dequantize_on_device<const D: usize>(
    codes: Codes<'_>,
    scales: &[f16],
    shape: [usize; D],
    device: &Device,
) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    if super::wgsl_available(device) {
        return gpu::dequantize(codes, scales, shape, device);
    }
    let _ = (codes, scales, shape, device);
    None
}

/// Little-endian bytes padded to whole u32 words, as the shader reads them.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn words(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.resize(bytes.len().div_ceil(4).max(1) * 4, 0);
    bytes
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::DispatchDevice;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Device, Shape, Tensor};
    use half::f16;

    use super::super::wgsl::{WgslKernel, launch};
    use super::{Codes, words};

    enum Dequantize {}

    pub fn dequantize<const D: usize>(
        codes: Codes<'_>,
        scales: &[f16],
        shape: [usize; D],
        device: &Device,
    ) -> Option<Tensor<D>> {
        // Irrefutable in the WebGPU-only browser module, which has no other backend.
        #[allow(irrefutable_let_patterns)]
        let DispatchDevice::Cube(cube_device) = device.as_dispatch() else { return None };
        let elements = shape.iter().product::<usize>();
        let cols = shape.get(1..)?.iter().product::<usize>();
        if elements == 0 || cols == 0 || u32::try_from(elements).is_err() {
            return None;
        }
        let (code_bytes, group) = match codes {
            Codes::Int8(q) => (q.iter().map(|&v| v as u8).collect::<Vec<u8>>(), 0),
            Codes::Int4 { packed, group } => (packed.to_vec(), group),
        };
        let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_bits().to_le_bytes()).collect();
        let client = cube_device.client();
        let buffer = |bytes: Vec<u8>| {
            let bytes = words(bytes);
            let handle = client.create_from_slice(&bytes);
            CubeTensor::new_contiguous(
                client.clone(),
                cube_device.clone(),
                Shape::new([bytes.len() / 4]),
                handle,
                DType::U32,
            )
        };
        let codes = buffer(code_bytes);
        let scales = buffer(scale_bytes);
        let out = CubeTensor::new_contiguous(
            client.clone(),
            cube_device.clone(),
            Shape::new(shape),
            client.empty(elements * 4),
            DType::F32,
        );
        let kernel = WgslKernel {
            id: KernelId::new::<Dequantize>(),
            source: include_str!("../../../shaders/dequantize.wgsl"),
            entry: "main",
            workgroup: Dim3::new_1d(256),
        };
        let blocks = elements.div_ceil(256) as u32;
        let x = blocks.min(65535);
        launch(
            kernel,
            CubeCount::Static(x, blocks.div_ceil(x), 1),
            &[&codes, &scales, &out],
            [elements as u32, cols as u32, group as u32, 0],
        );
        Some(Tensor::<D>::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_pad_to_whole_u32s() {
        assert_eq!(words(vec![1, 2, 3]), vec![1, 2, 3, 0]);
        assert_eq!(words(vec![1, 2, 3, 4]).len(), 4);
        assert_eq!(words(vec![]).len(), 4, "an empty buffer still binds");
    }

    #[test]
    fn without_wgsl_the_caller_is_told_to_use_the_host() {
        let device = crate::testing::cpu();
        let out = dequantize_on_device(Codes::Int8(&[1, -2, 3, 4]), &[f16::ONE, f16::ONE], [2, 2], &device);
        assert!(out.is_none());
    }
}
