//! `shaders/fourier.wgsl`: the mapping network's Fourier features of t, `[cos(ω t), sin(ω t)]`,
//! in one dispatch where burn needs five (the browser build is bound by dispatches).

use burn::tensor::Tensor;

/// The host reference: `[B]` times and `half` frequencies to `[B, 2·half]` features.
pub fn fourier_reference(t: &[f32], freqs: &[f32]) -> Vec<f32> {
    t.iter()
        .flat_map(|&t| freqs.iter().map(move |f| (t * f).cos()).chain(freqs.iter().map(move |f| (t * f).sin())))
        .collect()
}

/// `[cos(t ⊗ freqs), sin(t ⊗ freqs)]` (`[B, 2·half]`): our shader where the networks' kernels
/// run ([`super::network_kernels_run`]), `None` elsewhere, so that the caller spells it in burn
/// (`model::mapping::fourier_features`).
pub fn fourier_features(t: &Tensor<1>, freqs: &Tensor<1>) -> Option<Tensor<2>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&t.device()) {
        return gpu::fourier_features(t, freqs);
    }
    let _ = (t, freqs);
    None
}

/// Our shader against [`fourier_reference`] on `device`: more values than a workgroup, angles
/// in [0, π], where WGSL bounds `sin` and `cos` (absolute error 2⁻¹¹; beyond it, nothing). The
/// model's features are computed as burn's are (the same product and builtins): this
/// checks the layout and the product. Returns the largest error relative to `1 + |reference|`
/// (for the browser tests).
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let (batch, half) = (3, 37);
    let t: Vec<f32> = (0..batch).map(|b| 0.1 + 0.4 * b as f32).collect();
    let freqs: Vec<f32> = (0..half).map(|i| 0.1 + 3.3 * i as f32 / (half - 1) as f32).collect();
    let tt = Tensor::<1>::from_data(TensorData::new(t.clone(), [batch]), device);
    let tf = Tensor::<1>::from_data(TensorData::new(freqs.clone(), [half]), device);
    let got = fourier_features(&tt, &tf)
        .ok_or_else(|| super::KernelError("our WGSL Fourier features do not run on this device".into()))?;
    super::worst_relative_error(got, &fourier_reference(&t, &freqs)).await
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

    enum Fourier {}

    pub fn fourier_features(t: &Tensor<1>, freqs: &Tensor<1>) -> Option<Tensor<2>> {
        let ([batch], [half]) = (t.dims(), freqs.dims());
        let total = batch * 2 * half;
        let groups = u32::try_from(total.div_ceil(64)).ok().filter(|&g| g > 0 && g <= 65_535)?;
        let (ct, cf) = (cube(t.clone())?, cube(freqs.clone())?);
        let client = ct.client.clone();
        let handle = client.empty(total * 4);
        let out =
            CubeTensor::new_contiguous(client, ct.device.clone(), Shape::new([batch, 2 * half]), handle, DType::F32);
        let kernel = WgslKernel {
            id: KernelId::new::<Fourier>(),
            shader: super::super::Shader::Fourier,
            source: include_str!("../../../../shaders/fourier.wgsl"),
            entry: "fourier",
            workgroup: Dim3::new_1d(64),
        };
        launch(kernel, CubeCount::Static(groups, 1, 1), &[&ct, &cf, &out], [batch as u32, half as u32, 0, 0]);
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::testing::cpu;

    #[test]
    fn the_reference_is_the_mapping_networks_features() {
        let t = [0.0f32, 0.37, 1.0];
        let tt = Tensor::<1>::from_data(TensorData::new(t.to_vec(), [3]), &cpu());
        let features = crate::model::mapping::fourier_features(tt.clone(), 48);
        let freqs = crate::model::mapping::time_frequencies(24);
        let want = features.into_data().try_to_vec::<f32>().unwrap();
        let got = fourier_reference(&t, &freqs);
        assert_eq!(got.len(), want.len());
        // ndarray's vectorised cos and sin are not std's: a few differ in the last bit.
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-6, "feature {i}: {g} vs {w}");
        }
        let tf = Tensor::<1>::from_data(TensorData::new(freqs, [24]), &cpu());
        assert!(fourier_features(&tt, &tf).is_none(), "the CPU spells it in burn");
    }
}
