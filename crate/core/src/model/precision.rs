//! Mixed precision, as PyTorch's autocast does it: inside an [`Autocast`] scope the matmuls (every
//! linear layer and the attention) take f16 or bf16 operands, while the weights, their gradients,
//! the optimiser, the norms and everything element-wise stay f32. The casts are ordinary tensor
//! operations, so autodiff carries gradients back through them in f32.
//!
//! The setting is per thread, like autocast: each training thread enters its own scope, and a
//! test that enters one changes nothing for the tests running beside it.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use burn::nn::Linear;
#[cfg(not(wgsl_only))]
use burn::tensor::module::linear as linear_op;
use burn::tensor::{Device, FloatDType, Tensor};

/// The element type of the matmuls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the default, and the only choice for inference).
    #[default]
    F32,
    /// Matmuls in f16: tensor cores, 10 mantissa bits, a range that ends at 65,504. The trainer
    /// has no loss scaling, so gradients below f16's smallest value (6·10⁻⁸) are lost.
    F16,
    /// Matmuls in bf16: tensor cores, 7 mantissa bits, f32's range.
    Bf16,
}

impl Precision {
    /// The matmul operand type, or `None` where nothing is cast: always in the browser's WebGPU
    /// module (`cfg(wgsl_only)`), whose one matmul is our f32 WGSL.
    fn compute_dtype(self) -> Option<FloatDType> {
        #[cfg(wgsl_only)]
        return None;
        #[cfg(not(wgsl_only))]
        match self {
            Precision::F32 => None,
            Precision::F16 => Some(FloatDType::F16),
            Precision::Bf16 => Some(FloatDType::BF16),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        })
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "bf16" => Ok(Precision::Bf16),
            other => Err(format!("unknown precision {other:?}: expected f32, f16 or bf16")),
        }
    }
}

/// Whether `device` computes in `precision`: f16 and bf16 need a GPU backend (burn's ndarray
/// has neither type, and a cast to one would panic inside burn).
pub fn check(precision: Precision, device: &Device) -> Result<(), String> {
    match precision.compute_dtype() {
        Some(dtype) if !device.supports_dtype(dtype) => {
            Err(format!("{device:?} does not compute in {precision}; use --precision f32 there"))
        }
        _ => Ok(()),
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The scope of one precision on this thread; the previous one comes back when it is dropped.
#[must_use = "the precision holds only while the guard lives"]
pub struct Autocast {
    previous: Precision,
}

/// Runs this thread's matmuls in `precision` until the returned guard is dropped.
pub fn autocast(precision: Precision) -> Autocast {
    Autocast { previous: CURRENT.with(|current| current.replace(precision)) }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// This thread's matmul precision.
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// `layer.forward(x)`, with the matmul in the current precision and the bias added in f32.
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    #[cfg(not(wgsl_only))]
    if let Some(dtype) = current().compute_dtype() {
        let y = linear_op(x.cast(dtype), layer.weight.val().cast(dtype), None).cast(FloatDType::F32);
        return match &layer.bias {
            Some(bias) => y + bias.val().unsqueeze(),
            None => y,
        };
    }
    // In the browser build this is our WGSL matmul with the bias fused (kernels::linear).
    crate::kernels::linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `residual + layer.forward(x)`: in f32 with the add in the matmul's epilogue where our WGSL
/// runs (`kernels::linear_residual`); the same sum in burn elsewhere.
pub fn linear_residual<const D: usize>(layer: &Linear, x: Tensor<D>, residual: Tensor<D>) -> Tensor<D> {
    if current() == Precision::F32 {
        return crate::kernels::linear_residual(residual, x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
    }
    residual + linear(layer, x)
}

/// GEGLU's `a · gelu(g)` of `layer.forward(x) = [a, g]`, the gate in the matmul's epilogue where
/// our WGSL runs, in f32 only (`kernels::linear_geglu`); `None` elsewhere, where the caller
/// spells it in burn.
pub fn linear_geglu<const D: usize>(layer: &Linear, x: &Tensor<D>) -> Option<Tensor<D>> {
    if current() != Precision::F32 {
        return None;
    }
    crate::kernels::linear_geglu(x, &layer.weight.val(), layer.bias.as_ref().map(|b| b.val()).as_ref())
}

/// `t` as a matmul operand in the current precision (unchanged in f32).
pub fn operand<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    match current().compute_dtype() {
        Some(dtype) => t.cast(dtype),
        None => t,
    }
}

/// A matmul result back in f32 (unchanged where it already is).
pub fn result<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    match current().compute_dtype() {
        Some(_) => t.cast(FloatDType::F32),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::cpu;
    use burn::nn::LinearConfig;
    use burn::tensor::{DType, Distribution};

    #[test]
    fn names_parse_and_print_back() {
        for p in [Precision::F32, Precision::F16, Precision::Bf16] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
        }
        assert!("fp8".parse::<Precision>().unwrap_err().contains("fp8"));
    }

    #[test]
    fn the_scope_is_per_thread_and_nests() {
        assert_eq!(current(), Precision::F32);
        {
            let _outer = autocast(Precision::Bf16);
            assert_eq!(current(), Precision::Bf16);
            std::thread::spawn(|| assert_eq!(current(), Precision::F32)).join().unwrap();
            {
                let _inner = autocast(Precision::F16);
                assert_eq!(current(), Precision::F16);
            }
            assert_eq!(current(), Precision::Bf16);
        }
        assert_eq!(current(), Precision::F32);
    }

    #[test]
    fn half_precision_is_refused_by_a_device_without_it() {
        let device = cpu();
        assert_eq!(check(Precision::F32, &device), Ok(()));
        for precision in [Precision::F16, Precision::Bf16] {
            let message = check(precision, &device).expect_err("ndarray has no f16 or bf16");
            assert!(message.contains(&precision.to_string()), "{message}");
        }
    }

    #[test]
    fn in_f32_a_linear_layer_is_untouched() {
        let device = cpu();
        device.seed(7);
        let layer = LinearConfig::new(24, 16).init(&device);
        let x = Tensor::<3>::random([2, 5, 24], Distribution::Normal(0.0, 1.0), &device);
        let _scope = autocast(Precision::F32);
        let ours = linear(&layer, x.clone());
        assert_eq!(ours.dtype(), DType::F32);
        assert_eq!(ours.into_data(), layer.forward(x).into_data());
    }
}
