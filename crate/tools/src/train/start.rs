//! Where an invocation starts: a new run's state or the one on disk (with the invocation's new
//! step targets), the device that leads, and the weights of the run's checkpoints.

use burn::module::Module;
use burn::tensor::Device;

use super::error::TrainError;
use super::run_dir::{RunDir, RunError, RunState};
use super::{TrainRequest, TrainSettings};
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
use lediflow_core::model_io::load_file_into;

/// The weights a run trains: the online model, on the first device's autodiff device, and its
/// exponential moving average, on the plain device.
pub(super) struct Weights {
    pub online: LeDiFlowModel,
    pub ema: LeDiFlowModel,
}

/// Refuses a precision that one of the devices cannot compute in.
pub(super) fn check_precision(request: &TrainRequest) -> Result<(), TrainError> {
    for device in &request.devices {
        lediflow_core::model::precision::check(request.precision, device).map_err(TrainError::Invalid)?;
    }
    Ok(())
}

/// A cooldown is the end of a time budget: it needs `minutes`, and fits inside them.
pub(super) fn check_cooldown(request: &TrainRequest) -> Result<(), TrainError> {
    let Some(cooldown) = request.cooldown_minutes else { return Ok(()) };
    match request.minutes {
        None => Err(TrainError::Invalid("a cooldown needs --minutes: it is the budget's last minutes".into())),
        Some(minutes) if !(cooldown > 0.0 && cooldown <= minutes) => Err(TrainError::Invalid(format!(
            "--cooldown-minutes {cooldown} must be above 0 and at most --minutes ({minutes})"
        ))),
        Some(_) => Ok(()),
    }
}

/// The state `request` starts from: a new run's, or the run's on disk.
pub(super) fn open_state(dir: &RunDir, request: &TrainRequest) -> Result<RunState, TrainError> {
    if request.resume { resumed_state(dir, request) } else { new_state(dir, request) }
}

fn new_state(dir: &RunDir, request: &TrainRequest) -> Result<RunState, TrainError> {
    if dir.exists() {
        return Err(TrainError::Invalid(format!(
            "{} already holds a run: pass --resume to continue it",
            dir.root.display()
        )));
    }
    request.config.validate()?;
    request.settings.check().map_err(TrainError::Invalid)?;
    dir.create()?;
    Ok(RunState {
        format: RunState::FORMAT,
        config: request.config.clone(),
        settings: request.settings.clone(),
        stages: Default::default(),
    })
}

/// The run's state on disk, with the step targets of `request` merged in.
fn resumed_state(dir: &RunDir, request: &TrainRequest) -> Result<RunState, TrainError> {
    let mut state = dir.read_state()?;
    // The run's state file is data from disk like any configuration file.
    state.config.validate()?;
    // A run carried between machines may arrive without its sample folder.
    dir.create()?;
    let before = state.settings.clone();
    if let Some(steps) = request.steps_override {
        state.settings.steps = steps;
    }
    state.settings.stage_steps.extend(request.stage_steps_override.iter().map(|(s, n)| (*s, *n)));
    if state.settings != before {
        // Kept even when no stage trains now (every requested one is at its target).
        dir.write_state(&state)?;
    }
    Ok(state)
}

/// The first of `devices`, which holds the EMA, once the batch is known to split evenly
/// across them all.
pub(super) fn lead_device(devices: &[Device], settings: &TrainSettings) -> Result<Device, TrainError> {
    let Some(plain) = devices.first().cloned() else {
        return Err(TrainError::Invalid("training needs at least one device".into()));
    };
    if settings.batch % devices.len() != 0 {
        return Err(TrainError::Invalid(format!(
            "the batch of {} images does not split evenly across {} devices",
            settings.batch,
            devices.len()
        )));
    }
    Ok(plain)
}

/// The run's weights: freshly initialised from its seed, then overwritten by its checkpoints.
pub(super) fn load_weights(
    dir: &RunDir,
    config: &LeDiFlowConfig,
    seed: u64,
    plain: &Device,
) -> Result<Weights, TrainError> {
    let device = plain.clone().autodiff();
    // Materialised at once from the run's seed: lazily initialised parameters would draw from
    // the device generator in the middle of a step, whenever a network is first touched.
    device.seed(seed);
    let mut model = LeDiFlowModel::new(config, &device).materialize();
    if dir.model_path().is_file() {
        model = model
            .try_load_file(dir.model_path())
            .map_err(|e| RunError::Checkpoint { path: dir.model_path(), message: e.to_string() })?;
    }
    let mut ema = model.valid();
    // Imported `ema-*.ldf` files first, the run's own `ema.ldf` (always the newest) last.
    for file in dir.ema_files()? {
        ema = load_file_into(&file, ema, config, plain)?.model;
        if !dir.model_path().is_file() {
            // A run carried between machines may keep only its EMA weights (the full state
            // can be too large to move, so they may also come split into several files):
            // continue from them, with a fresh optimiser.
            model = load_file_into(&file, model, config, &device)?.model;
        }
    }
    Ok(Weights { online: model, ema })
}
