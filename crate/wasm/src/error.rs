//! The errors the JavaScript API throws: each has a `kind` a page can switch on.

use thiserror::Error;

use lediflow_core::model_io::LoadError;
use lediflow_core::pipeline::PipelineError;

#[derive(Debug, Error)]
pub enum WebError {
    /// `backend: 'webgpu'` was asked for and the browser has no WebGPU adapter.
    #[error("no WebGPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU device was lost (driver reset, tab in the background too long, `destroy()`);
    /// create a new generator.
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    #[error("bad weight file: {0}")]
    Weights(#[from] LoadError),
    /// The whole file's SHA-256 is not the one the manifest pins (checked before the model is
    /// built, so a file that fails it is never used).
    #[error("bad weight file: its SHA-256 {actual} does not match the manifest's {expected}")]
    FileHash { expected: String, actual: String },
    #[error("invalid options: {0}")]
    Options(String),
    /// A call that needs weights came before `finishLoad()`, or after `dispose()`.
    #[error("{0}")]
    State(String),
    #[error("the compute backend failed: {0}")]
    Backend(String),
}

impl WebError {
    /// The `kind` property of the thrown JavaScript error.
    pub fn kind(&self) -> &'static str {
        match self {
            WebError::NoAdapter(_) => "NoAdapter",
            WebError::DeviceLost(_) => "DeviceLost",
            WebError::OutOfMemory(_) => "OutOfMemory",
            WebError::Weights(_) | WebError::FileHash { .. } => "BadWeights",
            WebError::Options(_) => "InvalidOptions",
            WebError::State(_) => "InvalidState",
            WebError::Backend(_) => "Backend",
        }
    }

    /// Sorts a backend failure by its message: cubecl reports a lost device as a poisoned one
    /// on the next synchronisation, and allocation failures as out-of-memory errors.
    pub fn from_backend(message: String) -> Self {
        let lower = message.to_ascii_lowercase();
        if lower.contains("poison") || lower.contains("device lost") || lower.contains("was lost") {
            WebError::DeviceLost(message)
        } else if lower.contains("out of memory") || lower.contains("outofmemory") {
            WebError::OutOfMemory(message)
        } else {
            WebError::Backend(message)
        }
    }
}

impl From<PipelineError> for WebError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Options(m) | PipelineError::Shape(m) => WebError::Options(m),
            PipelineError::Backend(m) => WebError::from_backend(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_failures_are_sorted_by_cause() {
        let lost = WebError::from_backend("device poisoned: Destroyed: device destroyed".into());
        assert_eq!(lost.kind(), "DeviceLost");
        assert_eq!(WebError::from_backend("Out of memory allocating 4 GiB".into()).kind(), "OutOfMemory");
        assert_eq!(WebError::from_backend("shader failed".into()).kind(), "Backend");
    }

    #[test]
    fn a_refused_model_configuration_is_bad_weights_not_a_crash() {
        let mut config = lediflow_core::model::LeDiFlowConfig::tiny();
        config.latent_downsample = 0;
        let refused = config.validate().expect_err("a zero divisor");
        assert_eq!(WebError::from(LoadError::from(refused)).kind(), "BadWeights");
    }

    #[test]
    fn a_file_hash_is_checked_only_against_a_well_formed_pin() {
        let actual = lediflow_format::sha256_hex(b"the whole file");
        assert!(super::super::check_file_hash(None, &actual).is_ok());
        assert!(super::super::check_file_hash(Some(&actual), &actual).is_ok());
        let other = lediflow_format::sha256_hex(b"another file");
        let refused = super::super::check_file_hash(Some(&other), &actual).expect_err("a different file");
        assert_eq!(refused.kind(), "BadWeights");
        assert!(refused.to_string().contains(&other) && refused.to_string().contains(&actual));
        let malformed = super::super::check_file_hash(Some("ABC"), &actual).expect_err("not a hash");
        assert_eq!(malformed.kind(), "InvalidOptions");
    }

    #[test]
    fn pipeline_shape_errors_are_option_errors() {
        let e: WebError = PipelineError::Shape("mask is 3×3".into()).into();
        assert_eq!(e.kind(), "InvalidOptions");
    }
}
