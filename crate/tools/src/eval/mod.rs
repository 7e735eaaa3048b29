//! The evaluation: quality scores without CLIP, and the paper's table of quality × NFE ×
//! wall-clock for LeDiFlow and the baseline (`lediflow eval`).
//!
//! - [`features`]: the evaluation network (a CNN trained on the procedural attributes), whose
//!   L2-normalised penultimate features are the embedding;
//! - [`scores`]: Fréchet distance, a CMMD-style MMD, precision and recall on that embedding;
//! - [`swd`]: a network-free check, sliced Wasserstein distance on Laplacian-pyramid patches;
//! - [`run`]: sampling, timing and scoring every configuration on one device in one run;
//! - [`report`]: the markdown table, the CSV, the plots and the speed-up at equal quality.

pub mod evalnet;
pub mod features;
pub mod report;
pub mod run;
pub mod scores;
pub mod swd;

use std::path::Path;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Pipeline(#[from] lediflow_core::pipeline::PipelineError),
    #[error(transparent)]
    Score(#[from] scores::ScoreError),
    /// The evaluation network was trained at another image side than the model samples: its
    /// features, reference set and MMD bandwidth would not mean what they mean at that side.
    #[error(
        "the evaluation network sees {eval_net}×{eval_net} images, the model makes {model}×{model}: train one for it with `lediflow eval-net --size {model}`"
    )]
    ImageSize { eval_net: usize, model: usize },
    #[error("{0}")]
    Invalid(String),
}

impl EvalError {
    pub fn io(path: &Path, e: impl core::fmt::Display) -> Self {
        EvalError::Io { path: path.display().to_string(), message: e.to_string() }
    }
}
