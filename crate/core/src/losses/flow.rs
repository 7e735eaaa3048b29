//! Stage 3's loss: the main flow model, flow matching from the learned prior with the σ
//! importance weight.

use burn::tensor::Tensor;

use super::elementary::{importance_weights, interpolate_path, weighted_flow_matching};
use crate::model::config::LossConfig;
use crate::model::networks::{Decoder, Encoder, VelocityNet};
use crate::model::prior::{PriorTemperature, prior_draw};

/// Stage 3: flow matching from the learned prior, with the importance weight of `config`.
/// `eps_z` draws z ~ q(z|y); `eps` draws x0 = μ + s·max(σ, σ_floor)·ε ([`prior_draw`]). The
/// auxiliary networks are frozen (see [`latent_objective`](super::latent_objective)).
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
