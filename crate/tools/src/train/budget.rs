//! The wall-clock budget of one invocation (`--minutes`): a run stops cleanly, with a
//! checkpoint, before it runs out.

use std::time::Instant;

pub(super) struct Budget {
    started: Instant,
    seconds: Option<f64>,
}

impl Budget {
    /// Starts the clock of `minutes` (none: no limit).
    pub(super) fn start(minutes: Option<f64>) -> Self {
        Self { started: Instant::now(), seconds: minutes.map(|m| m * 60.0) }
    }

    /// Whether one more step of `step_seconds` and the checkpoint after it might not fit.
    pub(super) fn runs_out(&self, step_seconds: f64) -> bool {
        // Leave room for one more step and the checkpoint.
        self.seconds.is_some_and(|budget| self.started.elapsed().as_secs_f64() + 3.0 * step_seconds + 5.0 > budget)
    }
}
