//! Finding and loading model files for the CLI.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::CliResult;
use crate::model_io::{LoadedModel, load_file, load_file_into};

/// The EMA weights of a carried run split into parts (`ema-aux.ldf`, `ema-flow.ldf`, …), in
/// name order; empty when there are none.
fn ema_parts(dir: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ema-") && n.ends_with(".ldf"))
        })
        .collect();
    parts.sort();
    parts
}

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

/// Loads a model file, a model or run directory, or a run whose EMA weights come in parts.
pub fn load(path: &Path, device: &Device) -> CliResult<LoadedModel> {
    let parts = if path.is_dir() && resolve(path).is_err() { ema_parts(path) } else { vec![] };
    if let Some((first, rest)) = parts.split_first() {
        let mut loaded = load_file(first, device).map_err(|e| format!("{}: {e}", first.display()))?;
        for part in rest {
            let mut networks = loaded.networks;
            let next = load_file_into(part, loaded.model, &loaded.config, device)
                .map_err(|e| format!("{}: {e}", part.display()))?;
            networks.extend(next.networks.iter().copied());
            let dequantized = loaded.dequantized + next.dequantized;
            loaded = LoadedModel { networks, dequantized, ..next };
        }
        return Ok(loaded);
    }
    let file = resolve(path)?;
    Ok(load_file(&file, device).map_err(|e| format!("{}: {e}", file.display()))?)
}

/// Loads several model files of one configuration into one model (e.g. the LeDiFlow networks
/// and the separately shipped baseline).
pub fn load_many(paths: &[PathBuf], device: &Device) -> CliResult<LoadedModel> {
    let (first, rest) = paths.split_first().ok_or("give at least one --model")?;
    let mut loaded = load(first, device)?;
    for path in rest {
        let file = resolve(path)?;
        let mut networks = loaded.networks;
        let next = load_file_into(&file, loaded.model, &loaded.config, device)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        networks.extend(next.networks.iter().copied());
        let dequantized = loaded.dequantized + next.dequantized;
        loaded = LoadedModel { networks, dequantized, ..next };
    }
    Ok(loaded)
}
