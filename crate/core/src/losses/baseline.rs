//! The baseline's loss: plain flow matching from the Gaussian prior, for comparison.

use burn::tensor::Tensor;

use super::elementary::{flow_matching, interpolate_path};
use crate::model::networks::VelocityNet;

/// The Gaussian-prior baseline: x0 = ε, unweighted.
pub fn baseline_objective(baseline: &VelocityNet, y: Tensor<4>, eps: Tensor<4>, t: Tensor<1>) -> Tensor<1> {
    let x_t = interpolate_path(eps.clone(), y.clone(), &t);
    flow_matching(baseline.forward(x_t, t), y - eps)
}
