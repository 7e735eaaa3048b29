//! A stage's loss on one batch, and its value read back to the host.

use burn::tensor::Tensor;

use super::draws::{DrawTensors, Draws};
use lediflow_core::losses::{PriorFit, aux_objective, baseline_objective, flow_objective, latent_objective};
use lediflow_core::model::prior::PriorTemperature;
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};

/// A stage's loss on a batch, with the aux stage's parts and diagnostics.
pub struct StageLoss {
    pub total: Tensor<1>,
    /// Aux stage only: VGL, KL (before β) and the decoder's fit, for [`AuxParts`].
    pub aux: Option<(Tensor<1>, Tensor<1>, PriorFit)>,
}

/// The aux stage's loss in parts, read back: `total = nll + β·kl`, plus two diagnostics without
/// gradient (see [`lediflow_core::losses::PriorFit`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuxParts {
    /// The VGL term.
    pub nll: f64,
    /// The KL term, before β.
    pub kl: f64,
    /// The plain Gaussian negative log-likelihood per pixel.
    pub gaussian_nll: f64,
    /// The decoder's mean predicted σ.
    pub sigma: f64,
}

/// A stage's loss read back to the host: the total and, for the aux stage, its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValue {
    pub total: f64,
    pub parts: Option<AuxParts>,
}

impl StageLoss {
    /// Reads the loss (and its parts, in the same readback) back to the host. This is where a
    /// failed kernel of the step surfaces (the device reports it at the next read), so it is an
    /// error for the caller, not a panic.
    pub fn read(&self) -> Result<LossValue, String> {
        let failed = |e| format!("the device failed during the training step: {e:?}");
        let Some((vgl, kl, fit)) = &self.aux else {
            let total = self.total.clone().try_into_scalar::<f32>().map_err(failed)?;
            return Ok(LossValue { total: total as f64, parts: None });
        };
        let all = [self.total.clone(), vgl.clone(), kl.clone(), fit.gaussian_nll(), fit.mean_sigma()];
        let values = Tensor::cat(all.into_iter().map(|t| t.without_autodiff()).collect(), 0)
            .try_to_vec_as::<f32>()
            .map_err(failed)?;
        let v = |k: usize| values[k] as f64;
        Ok(LossValue { total: v(0), parts: Some(AuxParts { nll: v(1), kl: v(2), gaussian_nll: v(3), sigma: v(4) }) })
    }
}

impl LossValue {
    /// The mean of equal shards' losses: the whole batch's loss (every loss is a batch mean).
    pub fn mean(values: &[LossValue]) -> Option<LossValue> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let total = values.iter().map(|v| v.total).sum::<f64>() / n;
        let parts = values.iter().map(|v| v.parts).collect::<Option<Vec<_>>>().map(|parts| {
            let mean = |f: fn(&AuxParts) -> f64| parts.iter().map(f).sum::<f64>() / n;
            AuxParts {
                nll: mean(|p| p.nll),
                kl: mean(|p| p.kl),
                gaussian_nll: mean(|p| p.gaussian_nll),
                sigma: mean(|p| p.sigma),
            }
        });
        Some(LossValue { total, parts })
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
    stage_loss_parts(model, frozen, config, y, draws).total
}

/// [`stage_loss`] with the aux stage's parts.
pub fn stage_loss_parts(
    model: &LeDiFlowModel,
    frozen: &LeDiFlowModel,
    config: &LeDiFlowConfig,
    y: Tensor<4>,
    draws: &Draws,
) -> StageLoss {
    let loss = &config.loss;
    let total = match draws.tensors(&y.device()) {
        DrawTensors::Aux { eps_z } => {
            let aux = aux_objective(&model.encoder, &model.decoder, y, eps_z, loss);
            return StageLoss { total: aux.total, aux: Some((aux.vgl, aux.kl, aux.fit)) };
        }
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
            PriorTemperature::of(config),
        ),
        DrawTensors::Baseline { t, eps } => baseline_objective(&model.baseline, y, eps, t),
    };
    StageLoss { total, aux: None }
}
