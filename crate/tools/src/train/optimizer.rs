//! A stage's AdamW optimiser: fresh from the settings, or with its checkpointed state.

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};

use super::error::TrainError;
use super::run_dir::{RunDir, RunError};
use super::settings::TrainSettings;
use super::stage::Stage;

fn optimizer(settings: &TrainSettings) -> ModuleOptimizer {
    let mut config = AdamWConfig::new()
        .with_beta_1(settings.beta1 as f32)
        .with_beta_2(settings.beta2 as f32)
        .with_epsilon(1e-8)
        .with_weight_decay(settings.weight_decay as f32);
    if let Some(clip) = settings.grad_clip {
        config = config.with_grad_clipping(Some(GradientClippingConfig::Norm(clip as f32)));
    }
    config.init()
}

/// The optimiser of `stage` at `step`: its saved state when the stage has trained before and
/// the run kept it, a fresh one otherwise.
pub(super) fn stage_optimizer(
    settings: &TrainSettings,
    dir: &RunDir,
    stage: Stage,
    step: u64,
) -> Result<ModuleOptimizer, TrainError> {
    let optim = optimizer(settings);
    let path = dir.optimizer_path(stage);
    if step > 0 && path.is_file() {
        return Ok(optim.load(&path).map_err(|e| RunError::Checkpoint { path, message: e.to_string() })?);
    }
    Ok(optim)
}
