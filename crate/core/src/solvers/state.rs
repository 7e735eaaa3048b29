//! What a solver needs from its state: `x + s·y`.

use burn::tensor::Tensor;

pub trait OdeState: Clone {
    /// `self + scale · other`.
    fn add_scaled(self, other: &Self, scale: f64) -> Self;
}

impl<const D: usize> OdeState for Tensor<D> {
    fn add_scaled(self, other: &Self, scale: f64) -> Self {
        self + other.clone().mul_scalar(scale)
    }
}

impl OdeState for f64 {
    fn add_scaled(self, other: &Self, scale: f64) -> Self {
        self + scale * other
    }
}

impl OdeState for Vec<f64> {
    fn add_scaled(mut self, other: &Self, scale: f64) -> Self {
        for (a, b) in self.iter_mut().zip(other) {
            *a += scale * b;
        }
        self
    }
}
