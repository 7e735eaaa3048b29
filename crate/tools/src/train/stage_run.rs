//! One stage's training: its steps from where it stands to its target (or until the time
//! budget runs out), each followed by the EMA update, and the log rows, checkpoints and sample
//! grids when they are due.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;

use super::batches::Prefetcher;
use super::budget::Budget;
use super::draws::DrawSpec;
use super::ema::{ema_decay, update_stage_ema};
use super::error::TrainError;
use super::optimizer::stage_optimizer;
use super::replicas::Replicas;
use super::run_dir::{RunDir, RunState, StageProgress};
use super::stage::Stage;
use super::stage_bar::StageBar;
use super::start::Weights;
use super::step_log::StepLog;
use super::{TrainReport, TrainRequest, TrainSettings, checkpoint, grids, log};
use crate::data::ImageSource;
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};

/// What every stage of one invocation shares.
pub(super) struct Trainer<'a> {
    pub request: &'a TrainRequest,
    pub dir: &'a RunDir,
    pub config: &'a LeDiFlowConfig,
    pub settings: &'a TrainSettings,
    pub source: &'a Arc<dyn ImageSource>,
    /// The first device, without autodiff: where the EMA and the sample grids live.
    pub plain: &'a Device,
    pub budget: &'a Budget,
}

impl Trainer<'_> {
    /// Trains `stage` to its target, or until the budget runs out (then `report` says so), and
    /// returns the weights it leaves.
    pub(super) fn train_stage(
        &self,
        stage: Stage,
        state: &mut RunState,
        weights: Weights,
        report: &mut TrainReport,
    ) -> Result<Weights, TrainError> {
        for &needed in stage.needs() {
            if state.progress(needed).step == 0 {
                return Err(TrainError::MissingStage { stage, needs: needed });
            }
        }
        // Each stage trains to its own target: a stage that reached it is not re-opened.
        let target = self.settings.steps_for(stage);
        let progress = state.progress(stage);
        if progress.step >= target {
            return Ok(weights);
        }
        let mut run = StageRun::start(self, stage, progress, target, weights)?;
        while run.progress.step < target {
            if self.budget.runs_out(run.step_seconds) {
                report.stopped_by_budget = true;
                break;
            }
            run = run.step(report)?;
            let done = run.progress.step >= target;
            if run.progress.step % self.settings.checkpoint_every.max(1) == 0 || done {
                run.checkpoint(state)?;
            }
            if run.progress.step % self.settings.sample_every.max(1) == 0 || done {
                run.sample_grid(state)?;
            }
        }
        run.finish(state)
    }
}

/// A stage while it trains.
struct StageRun<'a> {
    trainer: &'a Trainer<'a>,
    stage: Stage,
    target: u64,
    progress: StageProgress,
    prefetch: Prefetcher,
    replicas: Replicas,
    ema: LeDiFlowModel,
    bar: StageBar,
    log: StepLog,
    /// The wall-clock time of the last step, for the budget.
    step_seconds: f64,
    /// The step whose state is on disk: the stage's last step checkpoints inside the loop, so
    /// the save after it is only for a stop by budget.
    saved_step: u64,
}

impl<'a> StageRun<'a> {
    fn start(
        trainer: &'a Trainer<'a>,
        stage: Stage,
        progress: StageProgress,
        target: u64,
        weights: Weights,
    ) -> Result<Self, TrainError> {
        let (request, settings) = (trainer.request, trainer.settings);
        let optim = stage_optimizer(settings, trainer.dir, stage, progress.step)?;
        // The frozen auxiliary networks, without autodiff: the EMA weights that ship.
        let frozen = weights.ema.clone();
        let replicas = Replicas::new(
            weights.online,
            frozen,
            optim,
            trainer.config,
            &request.devices,
            request.step_timeout,
            request.grad_sync,
            request.precision,
        )?;
        let prefetch = Prefetcher::start(
            trainer.source.clone(),
            settings.data.clone(),
            DrawSpec::new(stage, settings.seed, trainer.config),
            settings.batch,
            progress.step,
            target,
        );
        let bar = StageBar::start(request.progress, stage, progress.step, target);
        let log = StepLog::start(stage, progress.seconds);
        let saved_step = progress.step;
        Ok(Self {
            trainer,
            stage,
            target,
            progress,
            prefetch,
            replicas,
            ema: weights.ema,
            bar,
            log,
            step_seconds: 0.0,
            saved_step,
        })
    }

    /// One training step: the stage's loss on the next batch, AdamW and the EMA, and the loss
    /// logged at the steps that log it. By value, since the EMA update consumes the old EMA.
    fn step(mut self, report: &mut TrainReport) -> Result<Self, TrainError> {
        let settings = self.trainer.settings;
        let step_start = Instant::now();
        let step = self.progress.step;
        let batch = self.prefetch.next()?;
        let log_now = step % settings.log_every.max(1) == 0 || step + 1 == self.target;
        let lr = settings.lr_at(step) * self.trainer.budget.lr_factor();
        let loss = self.replicas.step(batch, lr, log_now)?;
        self.ema = update_stage_ema(self.stage, self.ema, self.replicas.model(), ema_decay(settings.ema_decay, step));
        self.progress.step += 1;
        self.progress.images += settings.batch as u64;
        self.log.count_images(settings.batch as u64);
        self.step_seconds = step_start.elapsed().as_secs_f64();
        if let Some(value) = loss {
            let images_per_second = self.log.record(step, value, lr)?;
            report.losses.push((self.stage, step, value.total));
            self.bar.show_loss(self.stage, &value, images_per_second);
        }
        self.bar.set_step(self.progress.step);
        Ok(self)
    }

    /// Saves the stage's progress into `state` and the checkpoint, and appends the log rows.
    fn checkpoint(&mut self, state: &mut RunState) -> Result<(), TrainError> {
        let dir = self.trainer.dir;
        self.progress.seconds = self.log.seconds();
        state.stages.insert(self.stage, self.progress.clone());
        checkpoint::save(dir, state, self.replicas.model(), &self.ema, self.replicas.optimizer(), self.stage)?;
        log::append(&dir.log_path(), &self.log.take_rows())?;
        self.saved_step = self.progress.step;
        Ok(())
    }

    /// Saves the sample grid of the stage's current step.
    fn sample_grid(&self, state: &RunState) -> Result<(), TrainError> {
        let Trainer { dir, config, plain, .. } = self.trainer;
        let grid = grids::stage_grid(self.stage, &self.ema, config, &state.trained_stages(), plain)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        grid.save(dir.sample_path(self.stage, self.progress.step)).map_err(|e| TrainError::Invalid(e.to_string()))
    }

    /// Ends the stage, with a checkpoint unless its last step has one already.
    fn finish(mut self, state: &mut RunState) -> Result<Weights, TrainError> {
        self.bar.finish();
        if self.saved_step != self.progress.step {
            self.checkpoint(state)?;
        }
        Ok(Weights { online: self.replicas.into_model(), ema: self.ema })
    }
}
