//! The LeDiFlow objectives: VGL + β·KL for the auxiliary model, flow matching in latent space,
//! the σ-weighted flow matching of the main model, and the plain Gaussian-prior baseline.
//!
//! Elementary losses take tensors; the `*_objective` functions, one module per training stage,
//! run the networks on a batch. Randomness (ε, t) is passed in, so the objectives are pure and
//! testable.

// Not `aux`: a reserved file name on Windows.
mod auxiliary;
mod baseline;
mod elementary;
mod flow;
mod latent;

pub use auxiliary::{AuxLoss, PriorFit, aux_objective};
pub use baseline::baseline_objective;
pub use elementary::{
    flow_matching, importance_weights, interpolate_path, kl_standard_normal, vgl, weighted_flow_matching,
};
pub use flow::flow_objective;
pub use latent::latent_objective;

#[cfg(test)]
mod tests;
