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

/// Checks `shaders/dequantize.wgsl` against its host reference (`lediflow_format::Storage::dequantize`,
/// what the native build and `dequantize: 'host'` use) on `device`: int8 rows, and int4 with rows
/// padded to whole groups and an odd number of columns, both over several workgroups and off
/// their size. Resolves to how many elements differ in any bit (0: the formats promise the same
/// f32 products).
pub async fn check_against_reference(device: &Device) -> Result<usize, super::KernelError> {
    use lediflow_format::{Scheme, Storage, quantize_tensor};
    let fail = |e: &dyn std::fmt::Display| super::KernelError(e.to_string());
    if !super::wgsl_available(device) {
        return Err(super::KernelError("our WGSL dequantization does not run on this device".into()));
    }
    let mut differing = 0;
    for (shape, scheme) in [
        (vec![37usize, 45], Scheme::Int8),
        (vec![19, 3, 7], Scheme::Int4 { group: 8 }),
        (vec![5, 70], Scheme::Int4 { group: 32 }),
    ] {
        let elements = shape.iter().product::<usize>();
        // Rows of different magnitudes, so that every row (int8) or group (int4) has its own scale.
        let values: Vec<f32> = super::check_values(elements, shape[0])
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + (i / 11 % 5) as f32 * 0.37))
            .collect();
        let storage = quantize_tensor("check", &shape, &values, scheme).map_err(|e| fail(&e))?;
        let want = storage.dequantize(&shape).map_err(|e| fail(&e))?;
        let codes = match &storage {
            Storage::Int8 { q, .. } => Codes::Int8(q),
            Storage::Int4 { packed, group, .. } => Codes::Int4 { packed, group: *group },
            _ => return Err(super::KernelError("a check case is not quantized".into())),
        };
        let scales = match &storage {
            Storage::Int8 { scales, .. } | Storage::Int4 { scales, .. } => scales.as_slice(),
            _ => &[],
        };
        let flat = [shape[0], elements / shape[0]];
        let got = dequantize_on_device(codes, scales, flat, device)
            .ok_or_else(|| super::KernelError("the kernel refused a check case".into()))?;
        let got = got.into_data_async().await.map_err(|e| fail(&e))?;
        let got = got.try_to_vec::<f32>().map_err(|e| super::KernelError(format!("{e:?}")))?;
        if got.len() != want.len() {
            return Err(super::KernelError(format!("{} values for {} elements", got.len(), want.len())));
        }
        differing += got.iter().zip(&want).filter(|(g, w)| g.to_bits() != w.to_bits()).count();
    }
    Ok(differing)
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
            shader: super::super::Shader::Dequantize,
            source: include_str!("../../../../shaders/dequantize.wgsl"),
            entry: "main",
            workgroup: Dim3::new_1d(256),
        };
        let (x, y) = super::super::rows_of_workgroups(elements.div_ceil(256), super::super::MAX_WORKGROUPS)?;
        launch(
            kernel,
            CubeCount::Static(x, y, 1),
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
    fn the_check_refuses_a_device_without_wgsl() {
        let device = crate::testing::cpu();
        let refused = pollster::block_on(check_against_reference(&device)).expect_err("no WGSL on the CPU");
        assert!(refused.0.contains("does not run"), "{refused}");
    }

    #[test]
    fn without_wgsl_the_caller_is_told_to_use_the_host() {
        let device = crate::testing::cpu();
        let out = dequantize_on_device(Codes::Int8(&[1, -2, 3, 4]), &[f16::ONE, f16::ONE], [2, 2], &device);
        assert!(out.is_none());
    }
}
