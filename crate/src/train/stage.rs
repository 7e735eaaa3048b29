//! The four training stages and the loss each optimises.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::draws::{DrawTensors, Draws};
use crate::losses::{aux_objective, baseline_objective, flow_objective, latent_objective};
use crate::model::{LeDiFlowConfig, LeDiFlowModel};
use crate::weights::Network;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Encoder and decoder, with VGL + β·KL.
    Aux,
    /// The latent sampler, on the frozen encoder.
    Latent,
    /// The flow model, from the learned prior with 1/σ weighting.
    Flow,
    /// The Gaussian-prior flow model with the same backbone and budget.
    Baseline,
}

impl Stage {
    pub const ORDER: [Stage; 4] = [Stage::Aux, Stage::Latent, Stage::Flow, Stage::Baseline];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Aux => "aux",
            Stage::Latent => "latent",
            Stage::Flow => "flow",
            Stage::Baseline => "baseline",
        }
    }

    /// The networks this stage trains.
    pub fn trains(self) -> &'static [Network] {
        match self {
            Stage::Aux => &[Network::Encoder, Network::Decoder],
            Stage::Latent => &[Network::Latent],
            Stage::Flow => &[Network::Flow],
            Stage::Baseline => &[Network::Baseline],
        }
    }

    /// Stages whose results this one needs.
    pub fn needs(self) -> &'static [Stage] {
        match self {
            Stage::Aux | Stage::Baseline => &[],
            Stage::Latent | Stage::Flow => &[Stage::Aux],
        }
    }
}

impl core::fmt::Display for Stage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The loss of a stage on a batch `y` (`[B, 3, R, R]` in [-1, 1]) with the step's `draws`
/// (see [`super::draws`]); the draws say which stage. `frozen` holds the auxiliary networks
/// without autodiff for the stages that only read them.
pub fn stage_loss(
    model: &LeDiFlowModel,
    frozen: &LeDiFlowModel,
    config: &LeDiFlowConfig,
    y: Tensor<4>,
    draws: &Draws,
) -> Tensor<1> {
    let loss = &config.loss;
    match draws.tensors(&y.device()) {
        DrawTensors::Aux { eps_z } => aux_objective(&model.encoder, &model.decoder, y, eps_z, loss).total,
        DrawTensors::Latent { t, eps, eps_q } => {
            latent_objective(&frozen.encoder, &model.latent, y, eps, eps_q, t, loss)
        }
        DrawTensors::Flow { t, eps_z, eps } => flow_objective(
            &frozen.encoder,
            &frozen.decoder,
            &model.flow,
            y,
            eps_z,
            eps,
            t,
            loss,
            config.prior_std_scale,
        ),
        DrawTensors::Baseline { t, eps } => baseline_objective(&model.baseline, y, eps, t),
    }
}
