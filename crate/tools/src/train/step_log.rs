//! A stage's log rows as it trains, with the throughput and wall-clock time they report.

use std::time::Instant;

use super::error::TrainError;
use super::log::LogRow;
use super::stage::Stage;
use super::stage_loss::LossValue;

pub(super) struct StepLog {
    stage: Stage,
    /// Rows not yet appended to the run's log.
    rows: Vec<LogRow>,
    /// When the stage started in this invocation, and the seconds it had trained before.
    started: Instant,
    seconds_before: f64,
    /// Since when images are counted for the throughput, and how many since then.
    window: (Instant, u64),
}

impl StepLog {
    pub(super) fn start(stage: Stage, seconds_before: f64) -> Self {
        let started = Instant::now();
        Self { stage, rows: Vec::new(), started, seconds_before, window: (Instant::now(), 0) }
    }

    /// Wall-clock seconds the stage has trained, over every invocation.
    pub(super) fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    /// Counts a step's images for the throughput.
    pub(super) fn count_images(&mut self, images: u64) {
        self.window.1 += images;
    }

    /// Logs the loss of `step`; returns the throughput since the last logged step (images per
    /// second). A loss that is not finite ends the run.
    pub(super) fn record(&mut self, step: u64, value: LossValue, lr: f64) -> Result<f64, TrainError> {
        let (stage, loss) = (self.stage, value.total);
        if !loss.is_finite() {
            return Err(TrainError::Invalid(format!(
                "{stage} loss became {loss} at step {step}; the last checkpoint is intact"
            )));
        }
        let ips = self.window.1 as f64 / self.window.0.elapsed().as_secs_f64().max(1e-9);
        self.window = (Instant::now(), 0);
        let seconds = self.seconds();
        self.rows.push(LogRow {
            stage: stage.name().into(),
            step,
            loss,
            images_per_second: ips,
            lr,
            seconds,
            nll: value.parts.map(|p| p.nll),
            kl: value.parts.map(|p| p.kl),
            gaussian_nll: value.parts.map(|p| p.gaussian_nll),
            sigma: value.parts.map(|p| p.sigma),
        });
        Ok(ips)
    }

    /// The rows logged since the last call, for the run's log.
    pub(super) fn take_rows(&mut self) -> Vec<LogRow> {
        std::mem::take(&mut self.rows)
    }
}
