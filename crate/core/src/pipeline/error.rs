use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum PipelineError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("the compute backend failed: {0}")]
    Backend(String),
}

impl PipelineError {
    pub fn backend(e: impl core::fmt::Display) -> Self {
        PipelineError::Backend(e.to_string())
    }
}
