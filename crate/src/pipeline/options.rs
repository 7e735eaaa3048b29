//! Sampling options and their validation.

use serde::{Deserialize, Serialize};

use super::PipelineError;
use crate::solvers::Solver;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Learned prior: latent sampler → decoder → flow model.
    #[serde(rename = "lediflow")]
    LeDiFlow,
    /// Gaussian prior → baseline flow model.
    Baseline,
}

impl core::str::FromStr for Method {
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SampleOptions {
    pub method: Method,
    pub solver: Solver,
    pub steps: usize,
    pub latent_solver: Solver,
    pub latent_steps: usize,
    /// Overrides the model's prior temperature s in x0 = μ + s·σ·ε.
    pub prior_std_scale: Option<f64>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            method: Method::LeDiFlow,
            // The shipped model's best at two flow steps (BENCHMARKS.md, "The wide latent
            // sampler"): midpoint, with the latent sampler at Heun × 8 (16 NFE on an 8×8 grid).
            solver: Solver::Midpoint,
            steps: 2,
            latent_solver: Solver::Heun,
            latent_steps: 8,
            prior_std_scale: None,
        }
    }
}

/// Bounds that keep a request from exhausting the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_steps: usize,
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_steps: 1000, max_batch: 256 }
    }
}

impl SampleOptions {
    pub fn validate(&self, limits: &Limits, batch: usize) -> Result<(), PipelineError> {
        let check = |what: &str, value: usize, max: usize| {
            if value == 0 || value > max {
                Err(PipelineError::Options(format!("{what} must be in 1..={max}, got {value}")))
            } else {
                Ok(())
            }
        };
        check("steps", self.steps, limits.max_steps)?;
        check("latent steps", self.latent_steps, limits.max_steps)?;
        check("batch size", batch, limits.max_batch)?;
        if let Some(s) = self.prior_std_scale {
            if !(0.0..=10.0).contains(&s) {
                return Err(PipelineError::Options(format!("prior_std_scale must be in [0, 10], got {s}")));
            }
        }
        Ok(())
    }
}
