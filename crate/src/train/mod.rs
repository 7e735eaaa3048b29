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
pub mod draws;
pub mod ema;
pub mod grids;
pub mod log;
pub mod replicas;
pub mod run_dir;
pub mod settings;
pub mod stage;
pub mod watchdog;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::optim::AdamWConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::Device;
use thiserror::Error;

pub use run_dir::{RunDir, RunError, RunState, StageProgress};
pub use settings::{DataSpec, TrainSettings, parse_stage_steps};
pub use stage::Stage;

use crate::model::{LeDiFlowConfig, LeDiFlowModel};
use crate::model_io::{LoadError, load_file_into, model_file_bytes};
use crate::weights::{Network, QuantPolicy};
use draws::DrawSpec;
use ema::{ema_decay, update_ema};
use log::LogRow;
use replicas::Replicas;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("invalid model configuration: {0}")]
    Config(#[from] crate::model::ConfigError),
    #[error("stage '{stage}' needs stage '{needs}' to have trained first")]
    MissingStage { stage: Stage, needs: Stage },
    #[error("{0}")]
    Invalid(String),
    /// A kernel failed on the device (seen: a cubecl matmul refusing bf16 tile shapes). The run
    /// keeps its last checkpoint; `--resume` continues from it.
    #[error("{0}")]
    Device(String),
}

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
    /// One device, or several for data-parallel training (each takes an equal share of the
    /// batch; gradients are averaged by burn's collectives, see [`replicas`]).
    pub devices: Vec<Device>,
    /// With several devices: end the process with an error when a step makes no progress for
    /// this long (see [`watchdog`]); `None` waits forever.
    pub step_timeout: Option<std::time::Duration>,
    /// With several devices: how the replicas average their gradients.
    pub grad_sync: replicas::GradSync,
    /// The matmuls' element type ([`crate::model::precision`]); weights, gradients and the
    /// optimiser stay f32 whatever it is.
    pub precision: crate::model::precision::Precision,
    pub progress: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TrainReport {
    /// (stage, step, loss) for every logged step of this invocation.
    pub losses: Vec<(Stage, u64, f64)>,
    pub stopped_by_budget: bool,
    pub state: Option<RunState>,
}

/// Networks with a trained stage, in file order.
fn trained_networks(state: &RunState) -> Vec<Network> {
    let mut nets: Vec<Network> =
        Stage::ORDER.iter().filter(|s| state.progress(**s).step > 0).flat_map(|s| s.trains().iter().copied()).collect();
    nets.sort_by_key(|n| {
        [Network::Latent, Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline]
            .iter()
            .position(|x| x == n)
    });
    nets
}

fn trained_stages(state: &RunState) -> Vec<Stage> {
    Stage::ORDER.into_iter().filter(|s| state.progress(*s).step > 0).collect()
}

fn update_stage_ema(stage: Stage, ema: LeDiFlowModel, online: &LeDiFlowModel, decay: f64) -> LeDiFlowModel {
    let mut ema = ema;
    match stage {
        Stage::Aux => {
            ema.encoder = update_ema(ema.encoder, &online.encoder, decay);
            ema.decoder = update_ema(ema.decoder, &online.decoder, decay);
        }
        Stage::Latent => ema.latent = update_ema(ema.latent, &online.latent, decay),
        Stage::Flow => ema.flow = update_ema(ema.flow, &online.flow, decay),
        Stage::Baseline => ema.baseline = update_ema(ema.baseline, &online.baseline, decay),
    }
    ema
}

struct Checkpointer<'a> {
    dir: &'a RunDir,
}

impl Checkpointer<'_> {
    fn save(
        &self,
        state: &RunState,
        model: &LeDiFlowModel,
        ema: &LeDiFlowModel,
        optim: &burn::optim::ModuleOptimizer,
        stage: Stage,
    ) -> Result<(), TrainError> {
        let err =
            |path: PathBuf| move |e: burn::store::RecordError| RunError::Checkpoint { path, message: e.to_string() };
        model.clone().save_file(self.dir.model_path()).map_err(err(self.dir.model_path()))?;
        optim.save(self.dir.optimizer_path(stage)).map_err(err(self.dir.optimizer_path(stage)))?;
        let networks = trained_networks(state);
        if !networks.is_empty() {
            let bytes =
                model_file_bytes(ema, &state.config, &networks, QuantPolicy::F32).map_err(TrainError::Invalid)?;
            run_dir::write_atomic(&self.dir.ema_path(), &bytes)?;
        }
        self.dir.write_state(state)?;
        Ok(())
    }
}

fn optimizer(settings: &TrainSettings) -> burn::optim::ModuleOptimizer {
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

/// Trains the requested stages, checkpointing every `checkpoint_every` steps and at the end.
pub fn train(request: TrainRequest) -> Result<TrainReport, TrainError> {
    for device in &request.devices {
        crate::model::precision::check(request.precision, device).map_err(TrainError::Invalid)?;
    }
    let dir = RunDir::new(&request.run);
    let mut state = if request.resume {
        let state = dir.read_state()?;
        // The run's state file is data from disk like any configuration file.
        state.config.validate()?;
        // A run carried between machines may arrive without its sample folder.
        dir.create()?;
        state
    } else {
        if dir.exists() {
            return Err(TrainError::Invalid(format!(
                "{} already holds a run: pass --resume to continue it",
                dir.root.display()
            )));
        }
        request.config.validate()?;
        request.settings.check().map_err(TrainError::Invalid)?;
        dir.create()?;
        RunState {
            format: RunState::FORMAT,
            config: request.config.clone(),
            settings: request.settings.clone(),
            stages: Default::default(),
        }
    };
    if request.resume {
        let before = state.settings.clone();
        if let Some(steps) = request.steps_override {
            state.settings.steps = steps;
        }
        state.settings.stage_steps.extend(request.stage_steps_override.iter().map(|(s, n)| (*s, *n)));
        if state.settings != before {
            // Kept even when no stage trains now (every requested one is at its target).
            dir.write_state(&state)?;
        }
    }
    let config = state.config.clone();
    let settings = state.settings.clone();
    settings.check().map_err(TrainError::Invalid)?;
    let Some(plain) = request.devices.first().cloned() else {
        return Err(TrainError::Invalid("training needs at least one device".into()));
    };
    if settings.batch % request.devices.len() != 0 {
        return Err(TrainError::Invalid(format!(
            "the batch of {} images does not split evenly across {} devices",
            settings.batch,
            request.devices.len()
        )));
    }
    let device = plain.clone().autodiff();

    // Materialised at once from the run's seed: lazily initialised parameters would draw from
    // the device generator in the middle of a step, whenever a network is first touched.
    device.seed(settings.seed);
    let mut model = LeDiFlowModel::new(&config, &device).materialize();
    if dir.model_path().is_file() {
        model = model
            .try_load_file(dir.model_path())
            .map_err(|e| RunError::Checkpoint { path: dir.model_path(), message: e.to_string() })?;
    }
    let mut ema = model.valid();
    // Imported `ema-*.ldf` files first, the run's own `ema.ldf` (always the newest) last.
    for file in dir.ema_files()? {
        ema = load_file_into(&file, ema, &config, &plain)?.model;
        if !dir.model_path().is_file() {
            // A run carried between machines may keep only its EMA weights (the full state
            // can be too large to move, so they may also come split into several files):
            // continue from them, with a fresh optimiser.
            model = load_file_into(&file, model, &config, &device)?.model;
        }
    }

    let source = batches::open_source(&settings.data, config.image_size as u32, settings.seed)?;
    let started = Instant::now();
    let budget = request.minutes.map(|m| m * 60.0);
    let mut report = TrainReport::default();

    for &stage in &request.stages {
        for &needed in stage.needs() {
            if state.progress(needed).step == 0 {
                return Err(TrainError::MissingStage { stage, needs: needed });
            }
        }
        let mut progress = state.progress(stage);
        // Each stage trains to its own target: a stage that reached it is not re-opened.
        let target = settings.steps_for(stage);
        if progress.step >= target {
            continue;
        }
        let mut optim = optimizer(&settings);
        if progress.step > 0 && dir.optimizer_path(stage).is_file() {
            optim = optim
                .load(dir.optimizer_path(stage))
                .map_err(|e| RunError::Checkpoint { path: dir.optimizer_path(stage), message: e.to_string() })?;
        }
        // The frozen auxiliary networks, without autodiff: the EMA weights that ship.
        let frozen = ema.clone();
        let mut replicas = Replicas::new(
            model,
            frozen,
            optim,
            &config,
            &request.devices,
            request.step_timeout,
            request.grad_sync,
            request.precision,
        )?;
        let prefetch = batches::Prefetcher::start(
            source.clone(),
            settings.data.clone(),
            DrawSpec::new(stage, settings.seed, &config),
            settings.batch,
            progress.step,
            target,
        );
        let bar = request.progress.then(|| crate::progress::bar(target, stage.name()));
        if let Some(bar) = &bar {
            bar.set_position(progress.step);
        }
        let mut rows = Vec::new();
        let stage_start = Instant::now();
        let seconds_before = progress.seconds;
        let mut window = (Instant::now(), 0u64);
        let mut step_seconds = 0.0f64;
        // The step whose state is on disk: the stage's last step checkpoints inside the loop, so
        // the save after it is only for a stop by budget.
        let mut saved_step = progress.step;
        while progress.step < target {
            if let Some(budget) = budget {
                // Leave room for one more step and the checkpoint.
                if started.elapsed().as_secs_f64() + 3.0 * step_seconds + 5.0 > budget {
                    report.stopped_by_budget = true;
                    break;
                }
            }
            let step_start = Instant::now();
            let step = progress.step;
            let batch = prefetch.next()?;
            let log_now = step % settings.log_every.max(1) == 0 || step + 1 == target;
            let lr = settings.lr_at(step);
            let loss_value = replicas.step(batch, lr, log_now)?;
            ema = update_stage_ema(stage, ema, replicas.model(), ema_decay(settings.ema_decay, step));
            progress.step += 1;
            progress.images += settings.batch as u64;
            window.1 += settings.batch as u64;
            step_seconds = step_start.elapsed().as_secs_f64();
            if let Some(value) = loss_value {
                let loss_value = value.total;
                if !loss_value.is_finite() {
                    return Err(TrainError::Invalid(format!(
                        "{stage} loss became {loss_value} at step {step}; the last checkpoint is intact"
                    )));
                }
                let ips = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
                window = (Instant::now(), 0);
                let seconds = seconds_before + stage_start.elapsed().as_secs_f64();
                rows.push(LogRow {
                    stage: stage.name().into(),
                    step,
                    loss: loss_value,
                    images_per_second: ips,
                    lr,
                    seconds,
                    nll: value.parts.map(|p| p.nll),
                    kl: value.parts.map(|p| p.kl),
                    gaussian_nll: value.parts.map(|p| p.gaussian_nll),
                    sigma: value.parts.map(|p| p.sigma),
                });
                report.losses.push((stage, step, loss_value));
                if let Some(bar) = &bar {
                    let parts = value
                        .parts
                        .map(|p| format!(" (nll {:.4} kl {:.4} σ {:.4})", p.nll, p.kl, p.sigma))
                        .unwrap_or_default();
                    bar.set_message(format!("{stage} loss {loss_value:.4}{parts} {ips:.0} img/s"));
                }
            }
            if let Some(bar) = &bar {
                bar.set_position(progress.step);
            }
            let done = progress.step >= target;
            if progress.step % settings.checkpoint_every.max(1) == 0 || done {
                progress.seconds = seconds_before + stage_start.elapsed().as_secs_f64();
                state.stages.insert(stage, progress.clone());
                Checkpointer { dir: &dir }.save(&state, replicas.model(), &ema, replicas.optimizer(), stage)?;
                log::append(&dir.log_path(), &std::mem::take(&mut rows))?;
                saved_step = progress.step;
            }
            if progress.step % settings.sample_every.max(1) == 0 || done {
                let grid = grids::stage_grid(stage, &ema, &config, &trained_stages(&state), &plain)
                    .map_err(|e| TrainError::Invalid(e.to_string()))?;
                grid.save(dir.sample_path(stage, progress.step)).map_err(|e| TrainError::Invalid(e.to_string()))?;
            }
        }
        if let Some(bar) = bar {
            bar.finish();
        }
        if saved_step != progress.step {
            progress.seconds = seconds_before + stage_start.elapsed().as_secs_f64();
            state.stages.insert(stage, progress.clone());
            Checkpointer { dir: &dir }.save(&state, replicas.model(), &ema, replicas.optimizer(), stage)?;
            log::append(&dir.log_path(), &rows)?;
        }
        model = replicas.into_model();
        if report.stopped_by_budget {
            break;
        }
    }
    let stages: Vec<&str> = Stage::ORDER.iter().map(|s| s.name()).collect();
    log::plot(&log::read(&dir.log_path()), &stages, &dir.plot_path())?;
    report.state = Some(state);
    Ok(report)
}
