//! The option objects JavaScript passes in: the pipeline's [`SampleOptions`] with the seeds they
//! run on, read field by field and checked against the browser's [`LIMITS`].
//!
//! Plain serde, so they are read and tested natively; `bindings.rs` reads them from JavaScript
//! values (serde-wasm-bindgen).

use serde::{Deserialize, Deserializer};

use super::error::WebError;
use lediflow_core::model_io::Dequantize;
use lediflow_core::pipeline::{Limits, SampleOptions};

/// The browser's bounds: a batch is one GPU allocation, and a tab that asks for hundreds of
/// images at once is better served in several calls.
pub const LIMITS: Limits = Limits { max_batch: 64, ..Limits::DEFAULT };

/// Which compute backend a generator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// WebGPU when an adapter exists, the CPU otherwise.
    #[default]
    Auto,
    Webgpu,
    Cpu,
}

/// `Generator.create()`'s options.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct CreateRequest {
    /// Default `'auto'`.
    pub backend: BackendChoice,
    /// Where int8 weights become f32 at load: `'host'` (default: in the wasm, measured fastest),
    /// `'gpu'` (our WGSL kernel; WebGPU only, else the host) or `'burn'` (burn's quantized
    /// tensors); all give the same bits.
    pub dequantize: Dequantize,
}

/// Which images a request makes: image `k` uses seed `seed + k`, so a grid of `count` images
/// extends a smaller one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct Batch {
    /// The first image's seed, an integer in 0..=2^53−1 (default 0).
    pub seed: u64,
    /// How many images, 1..=64 (default 1).
    pub count: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Self { seed: 0, count: 1 }
    }
}

/// The path `interpolate()` samples along: the spherical path between two seeds' noise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct Path {
    pub seed_a: u64,
    pub seed_b: u64,
    /// Positions along the path, each in [0, 1]; one image per alpha.
    pub alphas: Vec<f64>,
}

impl Default for Path {
    fn default() -> Self {
        Self { seed_a: 0, seed_b: 1, alphas: vec![0.0, 0.5, 1.0] }
    }
}

/// `sample()` and `inpaint()`'s options: `{ seed, count, ...SampleOptions }`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GenerateRequest {
    #[cfg_attr(test, ts(flatten))]
    pub batch: Batch,
    #[cfg_attr(test, ts(flatten))]
    pub options: SampleOptions,
}

/// `interpolate()`'s options: `{ seedA, seedB, alphas, ...SampleOptions }`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InterpolateRequest {
    #[cfg_attr(test, ts(flatten))]
    pub path: Path,
    #[cfg_attr(test, ts(flatten))]
    pub options: SampleOptions,
}

/// Reads a value, naming the field of the first mistyped one (`steps: invalid type: …`).
pub fn read<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, WebError> {
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        // serde-wasm-bindgen's errors are JavaScript `Error`s, which print as "Error: …".
        let inner = e.into_inner().to_string();
        let inner = inner.strip_prefix("Error: ").unwrap_or(&inner);
        WebError::Options(if path == "." { inner.to_string() } else { format!("{path}: {inner}") })
    })
}

// Both halves of a request come from one flat object. Each is a struct that reads only its own
// fields, so each reads the whole object, and its other entries (`onStep`, `image`, `mask`) are
// never touched: serde's `flatten` would buffer every entry, callback and image included, and
// lose the field names of errors.

impl GenerateRequest {
    /// Reads `{ seed, count, ...SampleOptions }` from `object()`, a deserializer of the object.
    pub fn read<'de, D: Deserializer<'de>>(object: impl Fn() -> D) -> Result<Self, WebError> {
        Ok(Self { batch: read(object())?, options: read(object())? })
    }

    /// Checks the request against the browser's limits; returns the seeds of its images.
    pub fn seeds(&self) -> Result<Vec<u64>, WebError> {
        let seeds = LIMITS.seeds(self.batch.seed, self.batch.count)?;
        self.options.validate(&LIMITS, seeds.len())?;
        Ok(seeds)
    }
}

impl InterpolateRequest {
    /// Reads `{ seedA, seedB, alphas, ...SampleOptions }` from `object()`.
    pub fn read<'de, D: Deserializer<'de>>(object: impl Fn() -> D) -> Result<Self, WebError> {
        Ok(Self { path: read(object())?, options: read(object())? })
    }

    /// Checks the request against the browser's limits.
    pub fn check(&self) -> Result<(), WebError> {
        let Path { seed_a, seed_b, alphas } = &self.path;
        LIMITS.check_path(*seed_a, *seed_b, alphas)?;
        Ok(self.options.validate(&LIMITS, alphas.len())?)
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use lediflow_core::pipeline::Method;
    use lediflow_core::solvers::Solver;

    fn sample(object: Value) -> Result<GenerateRequest, WebError> {
        GenerateRequest::read(|| &object)
    }

    fn refused<T: std::fmt::Debug>(result: Result<T, WebError>) -> String {
        match result {
            Err(WebError::Options(message)) => message,
            other => panic!("expected InvalidOptions, got {other:?}"),
        }
    }

    #[test]
    fn create_options_choose_backend_and_dequantization() {
        let r: CreateRequest = read(&json!({})).unwrap();
        assert_eq!((r.backend, r.dequantize), (BackendChoice::Auto, Dequantize::Host));
        let r: CreateRequest = read(&json!({"backend": "webgpu", "dequantize": "gpu"})).unwrap();
        assert_eq!((r.backend, r.dequantize), (BackendChoice::Webgpu, Dequantize::Gpu));
        assert!(refused(read::<CreateRequest, _>(&json!({"dequantize": "GPU"}))).starts_with("dequantize: "));
    }

    #[test]
    fn defaults_are_the_pipeline_defaults() {
        let r = sample(json!({})).unwrap();
        assert_eq!(r.seeds().unwrap(), vec![0]);
        assert_eq!(r.options, SampleOptions::default());
    }

    #[test]
    fn one_flat_object_holds_the_seeds_and_the_options() {
        let r = sample(json!({"seed": 7, "count": 3, "solver": "euler", "steps": 8, "method": "baseline",
            "latentSteps": 2, "onStep": "not read", "image": [1, 2]}))
        .unwrap();
        assert_eq!(r.seeds().unwrap(), vec![7, 8, 9]);
        let o = r.options;
        assert_eq!((o.solver, o.steps, o.method, o.latent_steps), (Solver::Euler, 8, Method::Baseline, 2));
    }

    #[test]
    fn mistyped_values_name_their_field() {
        for (object, field) in [
            (json!({"steps": "4"}), "steps: "),
            (json!({"steps": 1.5}), "steps: "),
            (json!({"steps": -1}), "steps: "),
            (json!({"latentSteps": null}), "latentSteps: "),
            (json!({"count": 1.5}), "count: "),
            (json!({"seed": "x"}), "seed: "),
            (json!({"seed": -1}), "seed: "),
            (json!({"priorStdScale": "big"}), "priorStdScale: "),
            (json!({"solver": 4}), "solver: "),
            (json!({"solver": "rk99"}), "solver: unknown solver 'rk99'"),
            (json!({"method": "nope"}), "method: unknown method 'nope'"),
        ] {
            let message = refused(sample(object.clone()));
            assert!(message.starts_with(field), "{object}: {message}");
        }
    }

    #[test]
    fn out_of_range_requests_name_their_field() {
        for (object, field) in [
            (json!({"steps": 0}), "steps"),
            (json!({"steps": 10000}), "steps"),
            (json!({"count": 65}), "count must be in 1..=64"),
            (json!({"count": 0}), "count"),
            (json!({"seed": 9_007_199_254_740_992u64}), "seed"),
            (json!({"seed": 9_007_199_254_740_991u64, "count": 2}), "seed + count"),
            (json!({"latentSteps": 0}), "latentSteps"),
            (json!({"priorStdScale": 11}), "priorStdScale"),
        ] {
            let message = refused(sample(object.clone()).and_then(|r| r.seeds()));
            assert!(message.contains(field), "{object}: {message}");
        }
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
    fn interpolation_requests_are_checked() {
        let interpolate = |object: Value| InterpolateRequest::read(|| &object).and_then(|r| r.check().map(|()| r));
        let ok = interpolate(json!({"seedA": 1, "seedB": 2, "alphas": [0, 0.25, 1], "steps": 3})).unwrap();
        assert_eq!((ok.path.seed_a, ok.path.alphas.len(), ok.options.steps), (1, 3, 3));
        for (object, field) in [
            (json!({"alphas": []}), "alphas"),
            (json!({"alphas": [1.5]}), "alpha"),
            (json!({"alphas": 0.5}), "alphas: "),
            (json!({"alphas": [0.5, "x"]}), "alphas[1]: "),
            (json!({"seedB": -3}), "seedB: "),
            (json!({"alphas": [0.5], "steps": 0}), "steps"),
        ] {
            let message = refused(interpolate(object.clone()));
            assert!(message.contains(field), "{object}: {message}");
        }
    }
}
