//! Progress bars for anything that takes more than a second (the CLI and the trainer).

use indicatif::{ProgressBar, ProgressStyle};

use lediflow_core::pipeline::{PipelineError, StepObserver, StepState};

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed_precise} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Advances a bar after every flow solver step.
pub struct StepBar(pub ProgressBar);

impl StepObserver for StepBar {
    async fn on_step(&mut self, _: usize, _: usize, _: &StepState<'_>) -> Result<(), PipelineError> {
        self.0.inc(1);
        Ok(())
    }
}
