//! What a solver needs from its state: `x + s·y`, and several such terms at once.

use burn::tensor::Tensor;

pub trait OdeState: Clone {
    /// `self + scale · other`.
    fn add_scaled(self, other: &Self, scale: f64) -> Self;

    /// `self + Σ scale_i · term_i`, the terms added in order: what chaining [`Self::add_scaled`]
    /// gives (the default). A state may do it at once: the browser's tensors in one dispatch.
    fn add_scaled_all(self, terms: &[(&Self, f64)]) -> Self {
        terms.iter().fold(self, |x, (term, scale)| x.add_scaled(term, *scale))
    }
}

impl<const D: usize> OdeState for Tensor<D> {
    fn add_scaled(self, other: &Self, scale: f64) -> Self {
        self.add_scaled_all(&[(other, scale)])
    }

    fn add_scaled_all(self, terms: &[(&Self, f64)]) -> Self {
        if let Some(y) = crate::kernels::solver_update(&self, terms) {
            return y;
        }
        terms.iter().fold(self, |x, (term, scale)| x + (*term).clone().mul_scalar(*scale))
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
