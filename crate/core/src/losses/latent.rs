//! Stage 2's loss: the latent sampler, flow matching from ε to the frozen encoder's z.

use burn::tensor::Tensor;

use super::elementary::{flow_matching, interpolate_path};
use crate::model::config::LossConfig;
use crate::model::networks::{Encoder, VelocityNet};

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
