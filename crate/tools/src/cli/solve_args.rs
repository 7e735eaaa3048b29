//! The options of how the two ODEs are solved, besides the flow's solver and steps, which
//! `sample`, `eval` and `bench` share. Their steps stay with each command: `bench` sweeps them.

use clap::Args;

use lediflow_core::pipeline::SampleOptions;
use lediflow_core::solvers::Solver;

#[derive(Debug, Clone, Copy, Args)]
pub struct SolveArgs {
    /// The latent sampler's solver (LeDiFlow; the baseline has no latent sampler).
    #[arg(long, default_value_t = SampleOptions::default().latent_solver)]
    pub latent_solver: Solver,
    /// The latent sampler's time grid, t_i = (i / steps)^p (1: uniform; BENCHMARKS.md, "The
    /// latent sampler's time grid").
    #[arg(long, default_value_t = SampleOptions::default().latent_time_power, value_parser = super::ranges::time_power)]
    pub latent_time_power: f64,
    /// The latent sampler's temperature τ: it starts from τ·ε (1: as trained; below 1 fewer
    /// atypical images for less variety).
    #[arg(long, default_value_t = SampleOptions::default().latent_temperature, value_parser = super::ranges::latent_temperature)]
    pub latent_temperature: f64,
    /// The flow ODE's time grid, t_i = (i / steps)^p (1: uniform; below 1 the last steps are
    /// shorter).
    #[arg(long, default_value_t = SampleOptions::default().time_power, value_parser = super::ranges::time_power)]
    pub time_power: f64,
}

impl SolveArgs {
    /// `options` with these solves.
    pub fn apply(&self, options: SampleOptions) -> SampleOptions {
        SampleOptions {
            latent_solver: self.latent_solver,
            latent_time_power: self.latent_time_power,
            latent_temperature: self.latent_temperature,
            time_power: self.time_power,
            ..options
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        solve: SolveArgs,
    }

    #[test]
    fn unset_solve_options_are_the_product_defaults() {
        let parsed = Command::try_parse_from(["x"]).expect("no options parse");
        let defaults = SampleOptions::default();
        let applied = parsed.solve.apply(SampleOptions { steps: 7, ..defaults.clone() });
        assert_eq!(applied.latent_solver, defaults.latent_solver);
        assert_eq!(applied.latent_time_power, defaults.latent_time_power);
        assert_eq!(applied.latent_temperature, defaults.latent_temperature);
        assert_eq!(applied.time_power, defaults.time_power);
        assert_eq!(applied.steps, 7, "options the solve arguments do not name are kept");
    }

    #[test]
    fn solve_options_reach_the_sample_options_and_out_of_range_powers_are_refused() {
        let parsed = Command::try_parse_from([
            "x",
            "--latent-solver",
            "midpoint",
            "--latent-time-power",
            "1.25",
            "--time-power",
            "0.6",
            "--latent-temperature",
            "0.8",
        ])
        .expect("valid options parse");
        let applied = parsed.solve.apply(SampleOptions::default());
        assert_eq!(applied.latent_solver, Solver::Midpoint);
        assert_eq!(applied.latent_time_power, 1.25);
        assert_eq!(applied.time_power, 0.6);
        assert_eq!(applied.latent_temperature, 0.8);
        for bad in [
            "--time-power=5",
            "--latent-time-power=0",
            "--latent-time-power=NaN",
            "--latent-temperature=-0.5",
            "--latent-temperature=3",
        ] {
            let error = Command::try_parse_from(["x", bad]).expect_err("out of range");
            let flag = bad.split('=').next().unwrap_or(bad);
            assert!(error.to_string().contains(flag), "{error}");
        }
    }
}
