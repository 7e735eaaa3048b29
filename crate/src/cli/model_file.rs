//! Finding and loading model files for the CLI.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::CliResult;
use crate::model_io::{LoadedModel, load_file};

/// A `.ldf` file, or a directory holding `model.ldf` (a model directory) or `ema.ldf`
/// (a training run).
pub fn resolve(path: &Path) -> CliResult<PathBuf> {
    if path.is_dir() {
        for name in ["model.ldf", "ema.ldf"] {
            let candidate = path.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        return Err(format!("{} holds neither model.ldf nor ema.ldf", path.display()).into());
    }
    Ok(path.to_path_buf())
}

pub fn load(path: &Path, device: &Device) -> CliResult<LoadedModel> {
    let file = resolve(path)?;
    Ok(load_file(&file, device).map_err(|e| format!("{}: {e}", file.display()))?)
}
