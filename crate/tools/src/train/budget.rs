//! The wall-clock budget of one invocation (`--minutes`): a run stops cleanly, with a
//! checkpoint, before it runs out.

use std::time::Instant;

pub(super) struct Budget {
    started: Instant,
    seconds: Option<f64>,
    cooldown_seconds: Option<f64>,
}

impl Budget {
    /// Starts the clock of `minutes` (none: no limit), the learning rate falling to zero over
    /// its last `cooldown_minutes` (see [`cooldown_factor`]).
    pub(super) fn start(minutes: Option<f64>, cooldown_minutes: Option<f64>) -> Self {
        Self {
            started: Instant::now(),
            seconds: minutes.map(|m| m * 60.0),
            cooldown_seconds: cooldown_minutes.map(|m| m * 60.0),
        }
    }

    /// The factor of the learning rate now: 1 without a cooldown.
    pub(super) fn lr_factor(&self) -> f64 {
        match (self.seconds, self.cooldown_seconds) {
            (Some(budget), Some(cooldown)) => cooldown_factor(self.started.elapsed().as_secs_f64(), budget, cooldown),
            _ => 1.0,
        }
    }

    /// Whether one more step of `step_seconds` and the checkpoint after it might not fit.
    pub(super) fn runs_out(&self, step_seconds: f64) -> bool {
        // Leave room for one more step and the checkpoint.
        self.seconds.is_some_and(|budget| self.started.elapsed().as_secs_f64() + 3.0 * step_seconds + 5.0 > budget)
    }
}

/// A linear cooldown over the last `cooldown` seconds of a `budget` (a time-bounded form of the
/// warmup-stable-decay schedule: training at a constant rate ends by annealing it, which the
/// EMA alone does not replace): 1 before it starts, falling to 0 when the budget ends.
pub(super) fn cooldown_factor(elapsed: f64, budget: f64, cooldown: f64) -> f64 {
    if cooldown <= 0.0 {
        return 1.0;
    }
    ((budget - elapsed) / cooldown).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::cooldown_factor;

    #[test]
    fn the_cooldown_falls_linearly_to_zero_over_the_last_minutes_of_the_budget() {
        let at = |elapsed| cooldown_factor(elapsed, 600.0, 120.0);
        assert_eq!([at(0.0), at(480.0), at(540.0), at(600.0), at(700.0)], [1.0, 1.0, 0.5, 0.0, 0.0]);
        assert_eq!(cooldown_factor(10.0, 600.0, 0.0), 1.0, "no cooldown");
    }
}
