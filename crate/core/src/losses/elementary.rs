//! The elementary losses, on tensors: VGL, the KL to N(0, 1), (σ-weighted) flow matching, and
//! the linear path the flows are trained on.

use burn::tensor::Tensor;

use crate::model::config::{ImportanceWeighting, LossConfig};

/// Variance guided loss (reconstructed from the paper's description, see `LossConfig`):
/// `mean( sg(σ²)^γ · ½ · (log σ² + (y − μ)² / σ²) )`.
pub fn vgl(y: Tensor<4>, mu: Tensor<4>, log_var: Tensor<4>, gamma: f64) -> Tensor<1> {
    let var = log_var.clone().exp();
    let weight = var.clone().detach().powf_scalar(gamma);
    let nll = (log_var + (y - mu).square() / var).mul_scalar(0.5);
    (weight * nll).mean()
}

/// KL(N(m, v) ‖ N(0, 1)), averaged over latent elements.
pub fn kl_standard_normal(mean: Tensor<4>, log_var: Tensor<4>) -> Tensor<1> {
    (mean.square() + log_var.clone().exp() - log_var).sub_scalar(1.0).mul_scalar(0.5).mean()
}

/// Plain flow matching: `mean((v − u)²)`.
pub fn flow_matching(v: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (v - target).square().mean()
}

/// The per-pixel importance weight `1 / clip(σ)` (or `1 / clip(σ)²`), optionally normalised to
/// mean 1 per image. No gradient flows into σ.
pub fn importance_weights(sigma: Tensor<4>, config: &LossConfig) -> Tensor<4> {
    let sigma = sigma.detach().clamp(config.sigma_lo, config.sigma_hi);
    let w = match config.weighting {
        ImportanceWeighting::Sigma => sigma.recip(),
        ImportanceWeighting::Variance => sigma.square().recip(),
        ImportanceWeighting::None => sigma.ones_like(),
    };
    if config.normalize_weights {
        let mean = w.clone().mean_dims(&[1, 2, 3]);
        w / mean
    } else {
        w
    }
}

/// σ-weighted flow matching: `mean(w ⊙ (v − u)²)`.
pub fn weighted_flow_matching(v: Tensor<4>, target: Tensor<4>, weights: Tensor<4>) -> Tensor<1> {
    (weights * (v - target).square()).mean()
}

/// `[B]` times broadcast against `[B, C, H, W]`.
fn per_image(t: &Tensor<1>) -> Tensor<4> {
    t.clone().unsqueeze_dims(&[1, 2, 3])
}

/// The linear path `x_t = (1 − t)·x0 + t·x1`.
pub fn interpolate_path(x0: Tensor<4>, x1: Tensor<4>, t: &Tensor<1>) -> Tensor<4> {
    let t = per_image(t);
    x0.clone() + (x1 - x0) * t
}
