//! Sampling options and their validation: the one definition the CLI, the evaluation and the
//! browser share (the browser's JavaScript spells the fields in camelCase).

use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::PipelineError;
use crate::solvers::Solver;

/// Which prior the flow starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Learned prior: latent sampler → decoder → flow model.
    #[serde(rename = "lediflow")]
    LeDiFlow,
    /// Gaussian prior → baseline flow model.
    Baseline,
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "lediflow" => Ok(Method::LeDiFlow),
            "baseline" => Ok(Method::Baseline),
            _ => Err(format!("unknown method '{s}' (expected lediflow or baseline)")),
        }
    }
}

impl core::fmt::Display for Method {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Method::LeDiFlow => "lediflow",
            Method::Baseline => "baseline",
        })
    }
}

/// How images are sampled. Unset fields take the defaults below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct SampleOptions {
    /// `'lediflow'` (the learned prior; default) or `'baseline'` (a Gaussian prior; needs the
    /// baseline network).
    #[serde(deserialize_with = "by_name")]
    pub method: Method,
    /// The flow ODE's solver (default midpoint).
    #[serde(deserialize_with = "by_name")]
    pub solver: Solver,
    /// The flow ODE's steps (default 2).
    pub steps: usize,
    /// The flow ODE's time grid, `t_i = (i / steps)^p`, p in [0.25, 4] (default 1: uniform).
    /// Below 1 the last steps are shorter: at midpoint × 2, p = 0.5–0.75 solves the shipped
    /// flow ODE 10–20 % more closely than the uniform grid (BENCHMARKS.md, "The latent sampler's
    /// time grid").
    pub time_power: f64,
    /// The latent sampler's solver (default midpoint).
    #[serde(deserialize_with = "by_name")]
    pub latent_solver: Solver,
    /// The latent sampler's steps (default 8).
    pub latent_steps: usize,
    /// The latent sampler's time grid, `t_i = (i / latentSteps)^p`, p in [0.25, 4] (default 1:
    /// uniform). Above 1 its first steps are shorter, where its ODE bends most: at midpoint × 4,
    /// p = 1.25 solves it as closely as Heun × 8 on the uniform grid with half the evaluations
    /// (BENCHMARKS.md, "The latent sampler's time grid").
    pub latent_time_power: f64,
    /// The latent sampler's temperature τ: its ODE starts from τ·ε instead of ε ~ N(0, I), in
    /// [0, 2] (default 1: the distribution it was trained on). Below 1 it draws latents nearer
    /// the modes, Glow's reduced-temperature sampling: fewer atypical images (precision) for
    /// less variety (recall). 0 gives every seed the same latent.
    pub latent_temperature: f64,
    /// Overrides the model's prior temperature s in x0 = μ + s·σ·ε, in [0, 10].
    #[cfg_attr(feature = "typescript", ts(optional = nullable))]
    pub prior_std_scale: Option<f64>,
    /// Time each stage (latent sampler, decoder or encoder, flow) by waiting for it to finish: a
    /// readback after each (default on). Off, nothing waits between the stages, so a GPU goes on
    /// computing while the host encodes the next one, and the call's only wait is for its images:
    /// the result's stage times are then unknown (a live preview at batch 1, where each wait
    /// leaves the GPU idle).
    pub stage_times: bool,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            method: Method::LeDiFlow,
            // The shipped models' best at two flow steps: midpoint, with the latent sampler at
            // midpoint × 8 (16 NFE on an 8×8 grid), the one setting at or below the 64-px
            // baseline's best on FD, MMD and SWD, and better than Heun × 8 on every score at
            // 128 px (BENCHMARKS.md, "The latent sampler at midpoint × 8").
            solver: Solver::Midpoint,
            steps: 2,
            time_power: 1.0,
            latent_solver: Solver::Midpoint,
            latent_steps: 8,
            latent_time_power: 1.0,
            latent_temperature: 1.0,
            prior_std_scale: None,
            stage_times: true,
        }
    }
}

/// Solvers and methods by name, in any case, with their `FromStr`'s message for an unknown one.
fn by_name<'de, D: Deserializer<'de>, T: FromStr<Err = String>>(deserializer: D) -> Result<T, D::Error> {
    String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
}

/// Bounds that keep a request from exhausting the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_steps: usize,
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    pub const DEFAULT: Limits = Limits { max_steps: 1000, max_batch: 256 };
    /// Largest seed: 2^53 − 1, the largest integer JavaScript holds exactly.
    pub const MAX_SEED: u64 = (1 << 53) - 1;

    /// The seeds of a batch of `count` images from `seed`: image `k` uses `seed + k`, so a grid of
    /// `count` images extends a smaller one.
    pub fn seeds(&self, seed: u64, count: usize) -> Result<Vec<u64>, PipelineError> {
        in_range("count", count, self.max_batch)?;
        check_seed("seed", seed)?;
        let last = seed + count as u64 - 1;
        if last > Self::MAX_SEED {
            return Err(PipelineError::Options(format!("seed + count − 1 = {last} is beyond 2^53−1")));
        }
        Ok((seed..=last).collect())
    }

    /// Checks an interpolation path: two seeds and one α ∈ [0, 1] per image.
    pub fn check_path(&self, seed_a: u64, seed_b: u64, alphas: &[f64]) -> Result<(), PipelineError> {
        if alphas.is_empty() || alphas.len() > self.max_batch {
            let (max, n) = (self.max_batch, alphas.len());
            return Err(PipelineError::Options(format!("alphas must hold 1..={max} values, got {n}")));
        }
        if let Some(a) = alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(PipelineError::Options(format!("every alpha must be in [0, 1], got {a}")));
        }
        check_seed("seedA", seed_a)?;
        check_seed("seedB", seed_b)
    }
}

fn in_range(what: &str, value: usize, max: usize) -> Result<(), PipelineError> {
    if value == 0 || value > max {
        return Err(PipelineError::Options(format!("{what} must be in 1..={max}, got {value}")));
    }
    Ok(())
}

/// NaN is in no interval, so it is refused too.
fn in_interval(what: &str, value: f64, interval: &core::ops::RangeInclusive<f64>) -> Result<(), PipelineError> {
    if !interval.contains(&value) {
        let (low, high) = (interval.start(), interval.end());
        return Err(PipelineError::Options(format!("{what} must be in [{low}, {high}], got {value}")));
    }
    Ok(())
}

fn check_seed(what: &str, seed: u64) -> Result<(), PipelineError> {
    if seed > Limits::MAX_SEED {
        return Err(PipelineError::Options(format!("{what} must be an integer in 0..=2^53−1, got {seed}")));
    }
    Ok(())
}

impl SampleOptions {
    /// The time grids' powers taken: beyond them one step of a grid covers nearly all of [0, 1].
    pub const TIME_POWERS: core::ops::RangeInclusive<f64> = 0.25..=4.0;
    /// The latent temperatures taken: far above 1 the latent sampler starts where it never
    /// trained.
    pub const LATENT_TEMPERATURES: core::ops::RangeInclusive<f64> = 0.0..=2.0;

    /// Checks the options for a batch of `batch` images; errors name the fields as JavaScript
    /// spells them.
    pub fn validate(&self, limits: &Limits, batch: usize) -> Result<(), PipelineError> {
        in_range("steps", self.steps, limits.max_steps)?;
        in_range("latentSteps", self.latent_steps, limits.max_steps)?;
        in_range("batch size", batch, limits.max_batch)?;
        in_interval("timePower", self.time_power, &Self::TIME_POWERS)?;
        in_interval("latentTimePower", self.latent_time_power, &Self::TIME_POWERS)?;
        in_interval("latentTemperature", self.latent_temperature, &Self::LATENT_TEMPERATURES)?;
        if let Some(s) = self.prior_std_scale {
            in_interval("priorStdScale", s, &(0.0..=10.0))?;
        }
        Ok(())
    }
}

/// The solvers' TypeScript type, from their names (`solvers/` keeps no TypeScript of its own).
#[cfg(feature = "typescript")]
impl ts_rs::TS for Solver {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn docs() -> Option<String> {
        Some("/**\n * An ODE solver, by name.\n */".into())
    }
    fn name(_: &ts_rs::Config) -> String {
        "Solver".into()
    }
    fn inline(_: &ts_rs::Config) -> String {
        Solver::ALL.map(|s| format!("\"{}\"", s.name())).join(" | ")
    }
    fn decl(cfg: &ts_rs::Config) -> String {
        format!("type Solver = {};", Self::inline(cfg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: &str) -> Result<SampleOptions, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn refused(result: Result<(), PipelineError>) -> String {
        match result {
            Err(PipelineError::Options(message)) => message,
            other => panic!("expected an options error, got {other:?}"),
        }
    }

    #[test]
    fn unset_fields_take_the_defaults() {
        assert_eq!(options("{}").unwrap(), SampleOptions::default());
    }

    #[test]
    fn fields_are_camel_case_and_names_any_case() {
        let o = options(r#"{"solver": "Euler", "steps": 8, "timePower": 0.5, "method": "baseline", "latentSolver": "rk4", "latentSteps": 2, "latentTimePower": 1.25, "latentTemperature": 0.75, "priorStdScale": 0.5, "stageTimes": false}"#)
            .unwrap();
        let expected = SampleOptions {
            method: Method::Baseline,
            solver: Solver::Euler,
            steps: 8,
            time_power: 0.5,
            latent_solver: Solver::Rk4,
            latent_steps: 2,
            latent_time_power: 1.25,
            latent_temperature: 0.75,
            prior_std_scale: Some(0.5),
            stage_times: false,
        };
        assert_eq!(o, expected);
        let round_trip: SampleOptions = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(round_trip, o);
    }

    #[test]
    fn unknown_names_are_refused_naming_them() {
        let e = options(r#"{"solver": "dopri"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown solver 'dopri'"), "{e}");
        let e = options(r#"{"method": "ddpm"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown method 'ddpm'"), "{e}");
    }

    #[test]
    fn out_of_range_options_name_their_field() {
        let limits = Limits { max_batch: 64, ..Limits::DEFAULT };
        for (json, field) in [
            (r#"{"steps": 0}"#, "steps must be in 1..=1000, got 0"),
            (r#"{"steps": 10000}"#, "steps"),
            (r#"{"latentSteps": 0}"#, "latentSteps"),
            (r#"{"latentTemperature": -0.1}"#, "latentTemperature must be in [0, 2], got -0.1"),
            (r#"{"latentTemperature": 2.5}"#, "latentTemperature"),
            (r#"{"priorStdScale": 11}"#, "priorStdScale"),
            (r#"{"priorStdScale": -1}"#, "priorStdScale"),
            (r#"{"latentTimePower": 0.2}"#, "latentTimePower must be in [0.25, 4], got 0.2"),
            (r#"{"timePower": 4.5}"#, "timePower must be in [0.25, 4], got 4.5"),
            (r#"{"timePower": -1}"#, "timePower"),
            (r#"{"latentTimePower": 5}"#, "latentTimePower"),
        ] {
            let message = refused(options(json).unwrap().validate(&limits, 1));
            assert!(message.contains(field), "{json}: {message}");
        }
        assert!(
            refused(SampleOptions { prior_std_scale: Some(f64::NAN), ..Default::default() }.validate(&limits, 1))
                .contains("priorStdScale")
        );
        assert!(
            refused(SampleOptions { latent_time_power: f64::NAN, ..Default::default() }.validate(&limits, 1))
                .contains("latentTimePower")
        );
        assert!(
            refused(SampleOptions { latent_temperature: f64::NAN, ..Default::default() }.validate(&limits, 1))
                .contains("latentTemperature")
        );
        assert!(SampleOptions { latent_time_power: 4.0, ..Default::default() }.validate(&limits, 1).is_ok());
        assert!(SampleOptions { latent_temperature: 0.0, ..Default::default() }.validate(&limits, 1).is_ok());
        assert!(refused(SampleOptions::default().validate(&limits, 65)).contains("batch size must be in 1..=64"));
        assert!(SampleOptions::default().validate(&Limits::DEFAULT, 256).is_ok());
    }

    #[test]
    fn seeds_count_up_from_the_first_and_stay_exact_in_javascript() {
        let limits = Limits { max_batch: 64, ..Limits::DEFAULT };
        assert_eq!(limits.seeds(7, 3).unwrap(), vec![7, 8, 9]);
        assert!(refused(limits.seeds(0, 0).map(drop)).contains("count must be in 1..=64, got 0"));
        assert!(refused(limits.seeds(0, 65).map(drop)).contains("count"));
        assert!(limits.seeds(Limits::MAX_SEED, 1).is_ok());
        assert!(refused(limits.seeds(Limits::MAX_SEED, 2).map(drop)).contains("seed + count"));
        assert!(refused(limits.seeds(u64::MAX, 1).map(drop)).contains("seed must be an integer"));
    }

    #[test]
    fn interpolation_paths_are_checked() {
        let limits = Limits { max_batch: 64, ..Limits::DEFAULT };
        assert!(limits.check_path(1, 2, &[0.0, 0.25, 1.0]).is_ok());
        for (seed_b, alphas, named) in [
            (2, vec![], "alphas must hold 1..=64 values, got 0"),
            (2, vec![0.5; 65], "alphas"),
            (2, vec![1.5], "every alpha"),
            (2, vec![f64::NAN], "every alpha"),
            (1 << 60, vec![0.5], "seedB"),
        ] {
            assert!(refused(limits.check_path(1, seed_b, &alphas)).contains(named), "{named}");
        }
    }
}
