//! The trainer: the three LeDiFlow stages and the Gaussian-prior baseline, resumable.
//!
//! One step: take the step's images and random draws (both pure functions of the step, drawn
//! on the host image by image, see [`draws`]), compute the stage loss, AdamW, update the EMA.
//! Everything that decides the loss sequence is therefore either in the checkpoint or a
//! function of the step number: a resumed run repeats an uninterrupted one exactly (on a
//! deterministic backend), and N devices, each on a shard of the batch with gradients averaged
//! by burn's collectives ([`replicas`]), train what one device trains on the whole batch.

pub mod batches;
pub mod bucket;
mod budget;
mod checkpoint;
pub mod draws;
pub mod ema;
mod error;
pub mod grids;
pub mod log;
mod optimizer;
pub mod replicas;
pub mod run_dir;
pub mod settings;
pub mod stage;
mod stage_bar;
pub mod stage_loss;
mod stage_run;
mod start;
mod step_log;
pub mod watchdog;

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::tensor::Device;

pub use error::TrainError;
pub use run_dir::{RunDir, RunError, RunState, StageProgress};
pub use settings::{DataSpec, TrainSettings, parse_stage_steps};
pub use stage::Stage;

use budget::Budget;
use lediflow_core::model::LeDiFlowConfig;
use stage_run::Trainer;

/// What to train, where, and for how long.
pub struct TrainRequest {
    pub run: PathBuf,
    pub stages: Vec<Stage>,
    /// Continue an existing run; otherwise the run directory must not hold a run yet.
    pub resume: bool,
    /// For a new run.
    pub config: LeDiFlowConfig,
    /// When resuming: the new default step target (`TrainSettings::steps`), for every stage
    /// without a target of its own.
    pub steps_override: Option<u64>,
    /// When resuming: new per-stage step targets, merged into the run's
    /// (`TrainSettings::stage_steps`). A new run takes them from `settings`.
    pub stage_steps_override: BTreeMap<Stage, u64>,
    pub settings: TrainSettings,
    /// Stop cleanly, with a checkpoint, before this many minutes of wall-clock time.
    pub minutes: Option<f64>,
    /// The learning rate falls linearly to zero over the last this many minutes of `minutes`
    /// (needs `minutes`; see [`budget::cooldown_factor`]).
    pub cooldown_minutes: Option<f64>,
    /// One device, or several for data-parallel training (each takes an equal share of the
    /// batch; gradients are averaged by burn's collectives, see [`replicas`]).
    pub devices: Vec<Device>,
    /// With several devices: end the process with an error when a step makes no progress for
    /// this long (see [`watchdog`]); `None` waits forever.
    pub step_timeout: Option<std::time::Duration>,
    /// With several devices: how the replicas average their gradients.
    pub grad_sync: replicas::GradSync,
    /// The matmuls' element type ([`lediflow_core::model::precision`]); weights, gradients and the
    /// optimiser stay f32 whatever it is.
    pub precision: lediflow_core::model::precision::Precision,
    pub progress: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TrainReport {
    /// (stage, step, loss) for every logged step of this invocation.
    pub losses: Vec<(Stage, u64, f64)>,
    pub stopped_by_budget: bool,
    pub state: Option<RunState>,
}

/// Trains the requested stages, checkpointing every `checkpoint_every` steps and at the end.
pub fn train(request: TrainRequest) -> Result<TrainReport, TrainError> {
    start::check_precision(&request)?;
    start::check_cooldown(&request)?;
    let dir = RunDir::new(&request.run);
    let mut state = start::open_state(&dir, &request)?;
    let config = state.config.clone();
    let settings = state.settings.clone();
    settings.check().map_err(TrainError::Invalid)?;
    let plain = start::lead_device(&request.devices, &settings)?;
    let mut weights = start::load_weights(&dir, &config, settings.seed, &plain)?;
    let source = batches::open_source(&settings.data, config.image_size as u32, settings.seed)?;
    let budget = Budget::start(request.minutes, request.cooldown_minutes);
    let trainer = Trainer {
        request: &request,
        dir: &dir,
        config: &config,
        settings: &settings,
        source: &source,
        plain: &plain,
        budget: &budget,
    };
    let mut report = TrainReport::default();
    for &stage in &request.stages {
        weights = trainer.train_stage(stage, &mut state, weights, &mut report)?;
        if report.stopped_by_budget {
            break;
        }
    }
    let stages: Vec<&str> = Stage::ORDER.iter().map(|s| s.name()).collect();
    log::plot(&log::read(&dir.log_path()), &stages, &dir.plot_path())?;
    report.state = Some(state);
    Ok(report)
}
