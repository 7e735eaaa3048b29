//! What can stop a training run.

use thiserror::Error;

use super::run_dir::RunError;
use super::stage::Stage;
use lediflow_core::model_io::LoadError;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("invalid model configuration: {0}")]
    Config(#[from] lediflow_core::model::ConfigError),
    #[error("stage '{stage}' needs stage '{needs}' to have trained first")]
    MissingStage { stage: Stage, needs: Stage },
    #[error("{0}")]
    Invalid(String),
    /// A kernel failed on the device (seen: a cubecl matmul refusing bf16 tile shapes). The run
    /// keeps its last checkpoint; `--resume` continues from it.
    #[error("{0}")]
    Device(String),
}
