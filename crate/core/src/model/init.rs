//! The networks' parameter initialisers: burn's `Initializer`, except in the browser's WebGPU
//! module (`cfg(wgsl_only)`). There `Initializer`'s orthogonal arm alone would link burn's QR and
//! with it burn's matmul (cubek_matmul: BENCHMARKS.md, "Module size"), so the same draws are
//! spelt without it. In that module every parameter is replaced from the weight file before its
//! first use (a missing tensor is a load error), so these lazy draws never run there.

use burn::module::Param;
use burn::nn::Linear;
#[cfg(not(wgsl_only))]
use burn::nn::{Initializer, LinearConfig};
use burn::tensor::{Device, Tensor};

/// A parameter of `shape` filled with `value`.
pub fn constant<const D: usize>(shape: [usize; D], value: f64, device: &Device) -> Param<Tensor<D>> {
    #[cfg(not(wgsl_only))]
    return if value == 1.0 {
        Initializer::Ones.init(shape, device)
    } else {
        Initializer::Constant { value }.init(shape, device)
    };
    #[cfg(wgsl_only)]
    lazy(shape, device, move |device| Tensor::full(shape, value, device))
}

/// A bias-free `Linear(d_in → d_out)`: burn's default Kaiming-uniform weights, U(−k, k) with
/// k = 1/√d_in, or zeros.
pub fn linear(d_in: usize, d_out: usize, zero: bool, device: &Device) -> Linear {
    #[cfg(not(wgsl_only))]
    {
        let config = LinearConfig::new(d_in, d_out).with_bias(false);
        if zero { config.with_initializer(Initializer::Zeros).init(device) } else { config.init(device) }
    }
    #[cfg(wgsl_only)]
    {
        let k = (1.0 / d_in as f64).sqrt();
        let weight = lazy([d_in, d_out], device, move |device| match zero {
            true => Tensor::zeros([d_in, d_out], device),
            false => Tensor::random([d_in, d_out], burn::tensor::Distribution::Uniform(-k, k), device),
        });
        Linear { weight, bias: None }
    }
}

/// `Initializer::init_with`'s lazy parameter, its draw given.
#[cfg(wgsl_only)]
fn lazy<const D: usize>(
    shape: [usize; D],
    device: &Device,
    draw: impl FnOnce(&Device) -> Tensor<D> + Send + Sync + 'static,
) -> Param<Tensor<D>> {
    let init = move |device: &Device, require_grad: bool| {
        let tensor = draw(device);
        if require_grad { tensor.require_grad() } else { tensor }
    };
    Param::uninitialized(burn::module::ParamId::new(), init, device.clone(), true, shape.into())
}
