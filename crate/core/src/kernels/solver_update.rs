//! `shaders/solver_update.wgsl`: a solver's state update `x + s1·k1 + s2·k2` in one dispatch
//! where burn needs two per term (the browser build is bound by dispatches).

use burn::tensor::Tensor;

/// The host reference: `x + Σ s_i · k_i`, each product rounded to f32 and added in order, as
/// burn's `x + k.mul_scalar(s)` chain does.
pub fn solver_update_reference(x: &[f32], terms: &[(&[f32], f32)]) -> Vec<f32> {
    let mut y = x.to_vec();
    for (k, s) in terms {
        for (y, k) in y.iter_mut().zip(*k) {
            *y += k * s;
        }
    }
    y
}

/// `x + Σ scale_i · term_i`, terms added in order: our shader where the networks' kernels run
/// ([`super::network_kernels_run`]), two terms per dispatch; `None` elsewhere or for terms of
/// another shape, so that the caller spells it in burn (`solvers::OdeState`).
pub fn solver_update<const D: usize>(x: &Tensor<D>, terms: &[(&Tensor<D>, f64)]) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    if !terms.is_empty() && terms.iter().all(|(k, _)| k.dims() == x.dims()) && super::network_kernels_run(&x.device()) {
        return terms.chunks(2).try_fold(x.clone(), |y, pair| gpu::update(&y, pair, super::MAX_WORKGROUPS));
    }
    let _ = (x, terms);
    None
}

/// Our shader against [`solver_update_reference`] on `device`: one, two and three terms (two
/// dispatches) over more values than a workgroup, and a state laid over a second grid axis
/// (the axis limit lowered to 2 workgroups). Returns the largest error relative to
/// `1 + |reference|` (for the browser tests).
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let n = 1_000;
    let [x, k1, k2, k3] = [0, 1, 2, 3].map(|seed| super::check_values(n, 31 * seed));
    let tensor = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [n]), device);
    let (tx, t1, t2, t3) = (tensor(&x), tensor(&k1), tensor(&k2), tensor(&k3));
    let all = [(&t1, &k1[..], 0.37f32), (&t2, &k2[..], -1.25), (&t3, &k3[..], 0.5)];
    // The first one, two and three terms of `all`, for the shader and for the reference.
    let terms = |count: usize| all[..count].iter().map(|&(t, _, s)| (t, s as f64)).collect::<Vec<_>>();
    let reference =
        |count: usize| solver_update_reference(&x, &all[..count].iter().map(|&(_, k, s)| (k, s)).collect::<Vec<_>>());
    let missing = || super::KernelError("our WGSL solver update does not run on this device".into());
    let mut worst = 0f32;
    for count in 1..=all.len() {
        let got = solver_update(&tx, &terms(count)).ok_or_else(missing)?;
        worst = worst.max(super::worst_relative_error(got, &reference(count)).await?);
    }
    #[cfg(feature = "kernels")]
    {
        let got = gpu::update(&tx, &terms(2), 2).ok_or_else(missing)?;
        worst = worst.max(super::worst_relative_error(got, &reference(2)).await?);
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
    use burn::tensor::{DType, Tensor};

    use super::super::wgsl::{WgslKernel, cube, launch};

    enum SolverUpdate {}

    const WORKGROUP: usize = 256;

    /// One dispatch for one or two terms; `max_per_axis` workgroups at most on each grid axis.
    pub fn update<const D: usize>(x: &Tensor<D>, terms: &[(&Tensor<D>, f64)], max_per_axis: u32) -> Option<Tensor<D>> {
        let (first, second) = match terms {
            [first] => (first, None),
            [first, second] => (first, Some(second)),
            _ => return None,
        };
        let n = x.shape().num_elements();
        let (across, down) = super::super::rows_of_workgroups(n.div_ceil(WORKGROUP), max_per_axis)?;
        let cx = cube(x.clone())?;
        let c1 = cube(first.0.clone())?;
        let c2 = match second {
            Some((k, _)) => cube((*k).clone())?,
            None => c1.clone(),
        };
        let client = cx.client.clone();
        let handle = client.empty(n * 4);
        let out = CubeTensor::new_contiguous(client, cx.device.clone(), x.shape(), handle, DType::F32);
        let kernel = WgslKernel {
            id: KernelId::new::<SolverUpdate>(),
            shader: super::super::Shader::SolverUpdate,
            source: include_str!("../../../../shaders/solver_update.wgsl"),
            entry: "solver_update",
            workgroup: Dim3::new_1d(WORKGROUP as u32),
        };
        let scale = |s: f64| (s as f32).to_bits();
        let info =
            [u32::try_from(n).ok()?, 1 + second.is_some() as u32, scale(first.1), second.map_or(0, |(_, s)| scale(*s))];
        launch(kernel, CubeCount::Static(across, down, 1), &[&cx, &c1, &c2, &out], info);
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::testing::cpu;

    #[test]
    fn the_reference_is_burns_chain_of_scaled_additions() {
        let values = |seed| crate::kernels::check_values(50, seed);
        let (x, k1, k2) = (values(0), values(7), values(13));
        let tensor = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [50]), &cpu());
        let chained = tensor(&x) + tensor(&k1).mul_scalar(0.3) + tensor(&k2).mul_scalar(-0.7);
        let want = chained.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(solver_update_reference(&x, &[(&k1, 0.3), (&k2, -0.7)]), want);
        assert!(solver_update(&tensor(&x), &[(&tensor(&k1), 0.3)]).is_none(), "the CPU spells it in burn");
    }
}
