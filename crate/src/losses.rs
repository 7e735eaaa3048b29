//! The LeDiFlow objectives: VGL + β·KL for the auxiliary model, flow matching in latent space,
//! the σ-weighted flow matching of the main model, and the plain Gaussian-prior baseline.
//!
//! Elementary losses take tensors; the `*_objective` functions run the networks on a batch.
//! Randomness (ε, t) is passed in, so the objectives are pure and testable.

use burn::tensor::Tensor;

use crate::model::config::{ImportanceWeighting, LossConfig};
use crate::model::networks::{Decoder, Encoder, VelocityNet};
use crate::model::prior::{PriorTemperature, prior_draw};

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

/// Components of the auxiliary loss.
pub struct AuxLoss {
    pub total: Tensor<1>,
    pub vgl: Tensor<1>,
    pub kl: Tensor<1>,
    /// The decoder's prediction for the batch, kept for the diagnostics.
    pub fit: PriorFit,
}

/// The prior the decoder predicted for a batch, without gradient: what the aux stage's
/// diagnostics are computed from, only when they are read (the trainer reads them at log steps).
pub struct PriorFit {
    y: Tensor<4>,
    mu: Tensor<4>,
    log_var: Tensor<4>,
}

impl PriorFit {
    /// The plain Gaussian negative log-likelihood per pixel (nats, without the constant
    /// ½·log 2π), which falls as the prior gets better. VGL's value need not: its weight
    /// sg(σ²)^γ shrinks with σ, so once σ is small the VGL value rises towards 0 while the model
    /// improves (BENCHMARKS.md, "The aux loss rise").
    pub fn gaussian_nll(&self) -> Tensor<1> {
        vgl(self.y.clone(), self.mu.clone(), self.log_var.clone(), 0.0)
    }

    /// The decoder's mean predicted σ.
    pub fn mean_sigma(&self) -> Tensor<1> {
        self.log_var.clone().mul_scalar(0.5).exp().mean()
    }
}

/// Stage 1: encode, draw z ~ q(z|y) with `eps_z`, decode, VGL + β·KL.
pub fn aux_objective(
    encoder: &Encoder,
    decoder: &Decoder,
    y: Tensor<4>,
    eps_z: Tensor<4>,
    config: &LossConfig,
) -> AuxLoss {
    let (mean, log_var) = encoder.forward(y.clone());
    let z = mean.clone() + log_var.clone().mul_scalar(0.5).exp() * eps_z;
    let (mu, dec_log_var) = decoder.forward(z);
    let fit = PriorFit { y: y.clone().detach(), mu: mu.clone().detach(), log_var: dec_log_var.clone().detach() };
    let vgl = vgl(y, mu, dec_log_var, config.vgl_gamma);
    let kl = kl_standard_normal(mean, log_var);
    AuxLoss { total: vgl.clone() + kl.clone().mul_scalar(config.beta), vgl, kl, fit }
}

/// Stage 2: flow matching from ε to the frozen encoder's z. `eps_q` draws z ~ q(z|y) when
/// `latent_target_sampled` is set.
///
/// Frozen networks should be passed without autodiff (`Module::valid`): then no graph is
/// recorded for them at all, instead of one that backward never visits and never frees.
pub fn latent_objective(
    frozen_encoder: &Encoder,
    latent: &VelocityNet,
    y: Tensor<4>,
    eps: Tensor<4>,
    eps_q: Tensor<4>,
    t: Tensor<1>,
    config: &LossConfig,
) -> Tensor<1> {
    let (mean, log_var) = frozen_encoder.forward(y.without_autodiff());
    let z = if config.latent_target_sampled {
        mean + log_var.mul_scalar(0.5).exp() * eps_q.without_autodiff()
    } else {
        mean
    };
    let z_t = interpolate_path(eps.clone(), z.clone(), &t);
    flow_matching(latent.forward(z_t, t), z - eps)
}

/// Stage 3: flow matching from the learned prior, with the importance weight of `config`.
/// `eps_z` draws z ~ q(z|y); `eps` draws x0 = μ + s·max(σ, σ_floor)·ε ([`prior_draw`]). The
/// auxiliary networks are frozen (see [`latent_objective`]).
#[allow(clippy::too_many_arguments)]
pub fn flow_objective(
    frozen_encoder: &Encoder,
    frozen_decoder: &Decoder,
    flow: &VelocityNet,
    y: Tensor<4>,
    eps_z: Tensor<4>,
    eps: Tensor<4>,
    t: Tensor<1>,
    config: &LossConfig,
    prior: PriorTemperature,
) -> Tensor<1> {
    let plain = y.clone().without_autodiff();
    let (mean, log_var) = frozen_encoder.forward(plain);
    let z = mean + log_var.mul_scalar(0.5).exp() * eps_z.without_autodiff();
    let (mu, dec_log_var) = frozen_decoder.forward(z);
    let sigma = dec_log_var.mul_scalar(0.5).exp();
    let x0 = prior_draw(mu, sigma.clone(), eps.without_autodiff(), prior);
    let x_t = interpolate_path(x0.clone(), y.clone(), &t);
    let v = flow.forward(x_t, t);
    weighted_flow_matching(v, y - x0, importance_weights(sigma, config))
}

/// The Gaussian-prior baseline: x0 = ε, unweighted.
pub fn baseline_objective(baseline: &VelocityNet, y: Tensor<4>, eps: Tensor<4>, t: Tensor<1>) -> Tensor<1> {
    let x_t = interpolate_path(eps.clone(), y.clone(), &t);
    flow_matching(baseline.forward(x_t, t), y - eps)
}

#[cfg(test)]
mod tests;
