//! The JavaScript API (floor 3): a `Generator` that streams a weight file, then samples,
//! inpaints and interpolates on WebGPU or, without an adapter, on the CPU.
//!
//! Every method that touches the device returns a `Promise`: on wasm a synchronous readback
//! panics (burn issue #4487), so all readbacks go through the async pipeline. Options arrive as
//! plain objects and are parsed through `JSON.stringify` + serde, so a typo in a value is an
//! `InvalidOptions` error, not a silent default. Errors are `Error`s with a `kind` property
//! (see [`WebError::kind`]).
//!
//! A wasm instance initialises WebGPU once (burn registers one runtime per instance); after a
//! lost device the page creates a new worker, which is what the TypeScript wrapper does.

#[cfg(target_family = "wasm")]
mod bindings;
#[cfg(target_family = "wasm")]
mod constructors;
pub mod error;
pub mod options;

#[cfg(target_family = "wasm")]
pub use bindings::Generator;
pub use error::WebError;

use burn::tensor::Tensor;

use crate::pipeline::{Generated, PipelineError};

/// Checks the SHA-256 of a whole weight file (every byte `load()` received) against the one a
/// manifest pins, if one does: `finishLoad()` calls it before it builds anything.
pub fn check_file_hash(expected: Option<&str>, actual: &str) -> Result<(), WebError> {
    match expected {
        None => Ok(()),
        Some(pin) if !crate::weights::is_sha256_hex(pin) => {
            Err(WebError::Options(format!("the expected SHA-256 must be 64 lower-case hex digits, not '{pin}'")))
        }
        Some(pin) if pin != actual => Err(WebError::FileHash { expected: pin.into(), actual: actual.into() }),
        Some(_) => Ok(()),
    }
}

/// Images as one RGBA8 buffer (image after image) with what they cost.
pub struct Rendered {
    pub side: usize,
    pub count: usize,
    pub pixels: Vec<u8>,
    pub generated_nfe: crate::pipeline::Nfe,
    pub times: crate::pipeline::StageTimes,
}

/// `[B, 3, R, R]` in [-1, 1] → RGBA8, image after image (`shaders/to_rgba8.wgsl` on WebGPU).
pub async fn rgba8(images: Tensor<4>) -> Result<Vec<u8>, PipelineError> {
    crate::kernels::to_rgba8_packed(images).await.map_err(PipelineError::backend)
}

impl Rendered {
    pub async fn from_generated(generated: Generated) -> Result<Self, PipelineError> {
        let [count, _, side, _] = generated.images.dims();
        let pixels = rgba8(generated.images).await?;
        Ok(Self { side, count, pixels, generated_nfe: generated.nfe, times: generated.times })
    }

    /// The result's fields other than the pixels, as the JSON the JavaScript side receives.
    pub fn metadata(&self, backend: &str) -> serde_json::Value {
        let t = self.times;
        serde_json::json!({
            "width": self.side,
            "height": self.side,
            "count": self.count,
            "nfe": self.generated_nfe,
            "times": {
                "latentMs": t.latent_ms,
                "decoderMs": t.decoder_ms,
                "flowMs": t.flow_ms,
                "totalMs": t.total_ms(),
            },
            "backend": backend,
        })
    }
}
