//! Stage 1's loss: the auxiliary encoder and decoder, VGL + β·KL, with the decoder's fit kept
//! for the diagnostics.

use burn::tensor::Tensor;

use super::elementary::{kl_standard_normal, vgl};
use crate::model::config::LossConfig;
use crate::model::networks::{Decoder, Encoder};

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
