//! The four training stages and the loss each optimises.

use burn::tensor::{Distribution, Tensor};
use serde::{Deserialize, Serialize};

use crate::losses::{aux_objective, baseline_objective, flow_objective, latent_objective};
use crate::model::config::TimeSampling;
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

fn normal(shape: [usize; 4], device: &burn::tensor::Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

fn times(n: usize, sampling: TimeSampling, device: &burn::tensor::Device) -> Tensor<1> {
    match sampling {
        TimeSampling::Uniform => Tensor::random([n], Distribution::Uniform(0.0, 1.0), device),
        TimeSampling::LogitNormal { mean, std } => {
            burn::tensor::activation::sigmoid(Tensor::random([n], Distribution::Normal(mean, std), device))
        }
    }
}

/// The loss of `stage` on a batch `y` (`[B, 3, R, R]` in [-1, 1]). `frozen` holds the
/// auxiliary networks without autodiff for the stages that only read them. All randomness
/// comes from the device's generator, which the trainer seeds per step.
pub fn stage_loss(
    stage: Stage,
    model: &LeDiFlowModel,
    frozen: &LeDiFlowModel,
    config: &LeDiFlowConfig,
    y: Tensor<4>,
) -> Tensor<1> {
    let device = y.device();
    let [b, _, side, _] = y.dims();
    let r = config.latent_side(side);
    let z_shape = [b, config.latent_channels, r, r];
    let loss = &config.loss;
    match stage {
        Stage::Aux => aux_objective(&model.encoder, &model.decoder, y, normal(z_shape, &device), loss).total,
        Stage::Latent => {
            let t = times(b, loss.time_sampling, &device);
            latent_objective(
                &frozen.encoder,
                &model.latent,
                y,
                normal(z_shape, &device),
                normal(z_shape, &device),
                t,
                loss,
            )
        }
        Stage::Flow => {
            let t = times(b, loss.time_sampling, &device);
            let eps = normal([b, config.image_channels, side, side], &device);
            flow_objective(
                &frozen.encoder,
                &frozen.decoder,
                &model.flow,
                y,
                normal(z_shape, &device),
                eps,
                t,
                loss,
                config.prior_std_scale,
            )
        }
        Stage::Baseline => {
            let t = times(b, loss.time_sampling, &device);
            baseline_objective(&model.baseline, y, normal([b, config.image_channels, side, side], &device), t)
        }
    }
}
