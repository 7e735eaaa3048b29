//! The option objects JavaScript passes in, validated into pipeline options.
//!
//! Plain serde structs, so they are parsed and tested natively; `mod.rs` converts from JS.

use serde::Deserialize;

use super::error::WebError;
use crate::model_io::Dequantize;
use crate::pipeline::{Method, SampleOptions};
use crate::solvers::Solver;

/// Largest `count` a browser request may ask for: a batch is one GPU allocation, and a tab
/// that asks for hundreds of images at once is better served in several calls.
pub const MAX_COUNT: usize = 64;
/// Largest number of solver steps.
pub const MAX_STEPS: usize = 1000;

/// Which compute backend a generator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when an adapter exists, the CPU otherwise.
    #[default]
    Auto,
    Webgpu,
    Cpu,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateRequest {
    pub backend: BackendChoice,
    /// Where quantized weights become f32 at load; the default suits every device, the others
    /// exist to measure against it (bench/webgpu-node).
    pub dequantize: Dequantize,
}

/// Settings shared by every request that runs a flow ODE.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SolveRequest {
    pub method: String,
    pub solver: String,
    pub steps: usize,
    pub latent_solver: String,
    pub latent_steps: usize,
    pub prior_std_scale: Option<f64>,
}

impl Default for SolveRequest {
    fn default() -> Self {
        let d = SampleOptions::default();
        Self {
            method: d.method.to_string(),
            solver: d.solver.name().into(),
            steps: d.steps,
            latent_solver: d.latent_solver.name().into(),
            latent_steps: d.latent_steps,
            prior_std_scale: None,
        }
    }
}

impl SolveRequest {
    pub fn options(&self) -> Result<SampleOptions, WebError> {
        let method: Method = self.method.parse().map_err(WebError::Options)?;
        let solver: Solver = self.solver.parse().map_err(WebError::Options)?;
        let latent_solver: Solver = self.latent_solver.parse().map_err(WebError::Options)?;
        for (what, value) in [("steps", self.steps), ("latentSteps", self.latent_steps)] {
            if value == 0 || value > MAX_STEPS {
                return Err(WebError::Options(format!("{what} must be in 1..={MAX_STEPS}, got {value}")));
            }
        }
        if let Some(s) = self.prior_std_scale {
            if !s.is_finite() || !(0.0..=10.0).contains(&s) {
                return Err(WebError::Options(format!("priorStdScale must be in [0, 10], got {s}")));
            }
        }
        Ok(SampleOptions {
            method,
            solver,
            steps: self.steps,
            latent_solver,
            latent_steps: self.latent_steps,
            prior_std_scale: self.prior_std_scale,
        })
    }
}

fn check_count(count: usize) -> Result<(), WebError> {
    if count == 0 || count > MAX_COUNT {
        return Err(WebError::Options(format!("count must be in 1..={MAX_COUNT}, got {count}")));
    }
    Ok(())
}

/// Seeds are JavaScript numbers: integers up to 2^53 − 1 are exact there.
const MAX_SAFE_SEED: u64 = (1 << 53) - 1;

fn check_seed(what: &str, seed: f64) -> Result<u64, WebError> {
    if !seed.is_finite() || seed < 0.0 || seed > MAX_SAFE_SEED as f64 || seed.fract() != 0.0 {
        return Err(WebError::Options(format!("{what} must be an integer in 0..=2^53−1, got {seed}")));
    }
    Ok(seed as u64)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SampleRequest {
    pub seed: f64,
    pub count: usize,
    #[serde(flatten)]
    pub solve: SolveRequest,
}

impl Default for SampleRequest {
    fn default() -> Self {
        Self { seed: 0.0, count: 1, solve: SolveRequest::default() }
    }
}

impl SampleRequest {
    /// Image `k` uses seed `seed + k`, so a grid of `count` images extends a smaller one.
    pub fn seeds(&self) -> Result<Vec<u64>, WebError> {
        check_count(self.count)?;
        let first = check_seed("seed", self.seed)?;
        let last = first + self.count as u64 - 1;
        if last > MAX_SAFE_SEED {
            return Err(WebError::Options(format!("seed + count − 1 = {last} is beyond 2^53−1")));
        }
        Ok((first..=last).collect())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InpaintRequest {
    pub seed: f64,
    pub count: usize,
    #[serde(flatten)]
    pub solve: SolveRequest,
}

impl Default for InpaintRequest {
    fn default() -> Self {
        Self { seed: 0.0, count: 1, solve: SolveRequest::default() }
    }
}

impl InpaintRequest {
    pub fn seeds(&self) -> Result<Vec<u64>, WebError> {
        SampleRequest { seed: self.seed, count: self.count, solve: self.solve.clone() }.seeds()
    }
}

/// Checks an RGBA8 image and a one-byte-per-pixel mask (non-zero: regenerate) against the
/// model's side, and returns the pipeline's mask (1: keep) as floats.
pub fn inpaint_inputs(image: &[u8], mask: &[u8], side: usize) -> Result<Vec<f32>, WebError> {
    let pixels = side * side;
    if image.len() != pixels * 4 {
        return Err(WebError::Options(format!(
            "image has {} bytes; the model needs a {side}×{side} RGBA image ({} bytes)",
            image.len(),
            pixels * 4
        )));
    }
    if mask.len() != pixels {
        return Err(WebError::Options(format!(
            "mask has {} bytes; the model needs {side}×{side} = {pixels} (one byte per pixel)",
            mask.len()
        )));
    }
    Ok(mask.iter().map(|&m| if m == 0 { 1.0 } else { 0.0 }).collect())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InterpolateRequest {
    pub seed_a: f64,
    pub seed_b: f64,
    pub alphas: Vec<f64>,
    #[serde(flatten)]
    pub solve: SolveRequest,
}

impl Default for InterpolateRequest {
    fn default() -> Self {
        Self { seed_a: 0.0, seed_b: 1.0, alphas: vec![0.0, 0.5, 1.0], solve: SolveRequest::default() }
    }
}

impl InterpolateRequest {
    pub fn checked(&self) -> Result<(u64, u64, &[f64]), WebError> {
        check_count(self.alphas.len()).map_err(|_| {
            WebError::Options(format!("alphas must hold 1..={MAX_COUNT} values, got {}", self.alphas.len()))
        })?;
        if let Some(a) = self.alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(WebError::Options(format!("every alpha must be in [0, 1], got {a}")));
        }
        Ok((check_seed("seedA", self.seed_a)?, check_seed("seedB", self.seed_b)?, &self.alphas))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(json: &str) -> SampleRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn create_options_choose_backend_and_dequantization() {
        let r: CreateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!((r.backend, r.dequantize), (BackendChoice::Auto, Dequantize::Host));
        let r: CreateRequest = serde_json::from_str(r#"{"backend": "webgpu", "dequantize": "gpu"}"#).unwrap();
        assert_eq!((r.backend, r.dequantize), (BackendChoice::Webgpu, Dequantize::Gpu));
        assert!(serde_json::from_str::<CreateRequest>(r#"{"dequantize": "GPU"}"#).is_err(), "a typo is an error");
    }

    #[test]
    fn defaults_are_the_pipeline_defaults() {
        let r = sample("{}");
        assert_eq!(r.seeds().unwrap(), vec![0]);
        assert_eq!(r.solve.options().unwrap(), SampleOptions::default());
    }

    #[test]
    fn fields_are_camel_case() {
        let r =
            sample(r#"{"seed": 7, "count": 3, "solver": "euler", "steps": 8, "method": "baseline", "latentSteps": 2}"#);
        assert_eq!(r.seeds().unwrap(), vec![7, 8, 9]);
        let o = r.solve.options().unwrap();
        assert_eq!((o.solver, o.steps, o.method, o.latent_steps), (Solver::Euler, 8, Method::Baseline, 2));
    }

    #[test]
    fn out_of_range_requests_are_option_errors() {
        for bad in [
            r#"{"steps": 0}"#,
            r#"{"steps": 10000}"#,
            r#"{"count": 1000}"#,
            r#"{"count": 0}"#,
            r#"{"seed": -1}"#,
            r#"{"seed": 1.5}"#,
            r#"{"solver": "dopri"}"#,
            r#"{"method": "ddpm"}"#,
            r#"{"priorStdScale": 11}"#,
        ] {
            let r = sample(bad);
            let result = r.seeds().and_then(|_| r.solve.options());
            assert!(matches!(result, Err(WebError::Options(_))), "{bad} gave {result:?}");
        }
    }

    #[test]
    fn the_largest_safe_seed_is_accepted_and_beyond_it_is_not() {
        let max = 9_007_199_254_740_991.0;
        assert!(SampleRequest { seed: max, ..Default::default() }.seeds().is_ok());
        assert!(SampleRequest { seed: max, count: 2, ..Default::default() }.seeds().is_err());
    }

    #[test]
    fn inpaint_inputs_check_sizes_and_invert_the_mask() {
        let image = vec![0u8; 4 * 4 * 4];
        let mask: Vec<u8> = (0..16).map(|i| if i < 4 { 255 } else { 0 }).collect();
        let keep = inpaint_inputs(&image, &mask, 4).unwrap();
        assert_eq!(&keep[..5], &[0.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(matches!(inpaint_inputs(&image, &mask[..15], 4), Err(WebError::Options(m)) if m.contains("mask")));
        assert!(matches!(inpaint_inputs(&image[..60], &mask, 4), Err(WebError::Options(m)) if m.contains("image")));
    }

    #[test]
    fn interpolation_alphas_are_checked() {
        let ok: InterpolateRequest =
            serde_json::from_str(r#"{"seedA": 1, "seedB": 2, "alphas": [0, 0.25, 1]}"#).unwrap();
        assert_eq!(ok.checked().unwrap().0, 1);
        for bad in [r#"{"alphas": []}"#, r#"{"alphas": [1.5]}"#, r#"{"seedB": -3}"#] {
            let r: InterpolateRequest = serde_json::from_str(bad).unwrap();
            assert!(matches!(r.checked(), Err(WebError::Options(_))), "{bad}");
        }
    }
}
