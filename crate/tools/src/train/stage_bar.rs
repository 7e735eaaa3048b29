//! The progress bar of a stage, when the invocation asked for one.

use indicatif::ProgressBar;

use super::stage::Stage;
use super::stage_loss::LossValue;

pub(super) struct StageBar(Option<ProgressBar>);

impl StageBar {
    /// A bar for `stage` from `step` to `target`, or none unless `show`.
    pub(super) fn start(show: bool, stage: Stage, step: u64, target: u64) -> Self {
        let bar = show.then(|| crate::progress::bar(target, stage.name()));
        if let Some(bar) = &bar {
            bar.set_position(step);
        }
        Self(bar)
    }

    pub(super) fn set_step(&self, step: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(step);
        }
    }

    /// Shows a logged loss, with the aux stage's parts, and the throughput.
    pub(super) fn show_loss(&self, stage: Stage, value: &LossValue, images_per_second: f64) {
        if let Some(bar) = &self.0 {
            let parts =
                value.parts.map(|p| format!(" (nll {:.4} kl {:.4} σ {:.4})", p.nll, p.kl, p.sigma)).unwrap_or_default();
            let loss = value.total;
            bar.set_message(format!("{stage} loss {loss:.4}{parts} {images_per_second:.0} img/s"));
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}
