//! Finding and loading model files for the CLI.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::CliResult;
use crate::train::run_dir::RunDir;
use lediflow_core::model::LeDiFlowModel;
use lediflow_core::model_io::{LoadedModel, load_file, load_file_into};
use lediflow_core::pipeline::Method;
use lediflow_format::Network;

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
/// A run's parts load into its own configuration (`state.json`) where it has one: they may date
/// from different times (an aux part written before a new latent sampler), so the first part's
/// configuration is not the run's, and the run's loss settings and prior temperature are the
/// ones its flow stage trains with.
pub fn load(path: &Path, device: &Device) -> CliResult<LoadedModel> {
    let parts = if path.is_dir() && resolve(path).is_err() { ema_parts(path) } else { vec![] };
    if let Some((first, rest)) = parts.split_first() {
        let run = RunDir::new(path);
        let expected = if run.exists() { Some(run.read_state()?.config) } else { None };
        let mut loaded = match &expected {
            Some(config) => load_file_into(first, LeDiFlowModel::new(config, device), config, device),
            None => load_file(first, device),
        }
        .map_err(|e| format!("{}: {e}", first.display()))?;
        for part in rest {
            let mut networks = loaded.networks;
            let next = load_file_into(part, loaded.model, expected.as_ref().unwrap_or(&loaded.config), device)
                .map_err(|e| format!("{}: {e}", part.display()))?;
            networks.extend(next.networks.iter().copied());
            let dequantized = loaded.dequantized + next.dequantized;
            loaded = LoadedModel { networks, dequantized, ..next };
        }
        if let Some(config) = expected {
            loaded.config = config;
        }
        return Ok(loaded);
    }
    let file = resolve(path)?;
    Ok(load_file(&file, device).map_err(|e| format!("{}: {e}", file.display()))?)
}

/// Fails unless `loaded` holds every network that sampling with `method` runs: a run directory
/// or a set of files may lack one, and an absent network would run with random weights.
pub fn require_method(loaded: &LoadedModel, method: Method) -> CliResult {
    let needed = match method {
        Method::LeDiFlow => [Network::Latent, Network::Decoder, Network::Flow].as_slice(),
        Method::Baseline => [Network::Baseline].as_slice(),
    };
    for &network in needed {
        loaded.require(network)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
    use lediflow_core::model_io::{load_bytes, model_file_bytes};
    use lediflow_core::testing::cpu;
    use lediflow_format::QuantPolicy;

    #[test]
    fn a_method_needs_every_network_it_runs() {
        let config = LeDiFlowConfig::tiny();
        let model = LeDiFlowModel::new(&config, &cpu());
        let holding = |networks: &[Network]| {
            let bytes = model_file_bytes(&model, &config, networks, QuantPolicy::F32).expect("write");
            load_bytes(&bytes, &cpu()).expect("load")
        };
        // A run directory whose latent sampler was left out (models/checkpoints) must not sample.
        let without_latent = holding(&[Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline]);
        assert!(require_method(&without_latent, Method::LeDiFlow).is_err());
        assert!(require_method(&without_latent, Method::Baseline).is_ok());
        let lediflow = holding(&[Network::Latent, Network::Decoder, Network::Flow]);
        assert!(require_method(&lediflow, Method::LeDiFlow).is_ok());
        assert!(require_method(&lediflow, Method::Baseline).is_err());
    }

    #[test]
    fn a_runs_parts_load_into_the_runs_own_configuration() {
        use crate::train::run_dir::{RunDir, RunState};
        // models/checkpoints/s64-landscapes: the aux part predates a wider latent sampler, so the
        // first part's configuration (its name sorts first) is not the run's.
        let old = LeDiFlowConfig::tiny();
        let mut run_config = old.clone();
        run_config.latent_sampler.levels[0].width += 32;
        run_config.latent_sampler.levels[0].d_ff += 32;
        run_config.prior_std_scale = 3.0;
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        let state = RunState {
            format: RunState::FORMAT,
            config: run_config.clone(),
            settings: Default::default(),
            stages: Default::default(),
        };
        run.write_state(&state).expect("state");
        let write = |config: &LeDiFlowConfig, networks: &[Network], name: &str| {
            let model = LeDiFlowModel::new(config, &cpu());
            let bytes = model_file_bytes(&model, config, networks, QuantPolicy::F32).expect("write");
            std::fs::write(dir.path().join(name), bytes).expect("part");
        };
        write(&old, &[Network::Decoder, Network::Encoder], "ema-aux.ldf");
        write(&run_config, &[Network::Latent], "ema-latent.ldf");
        let loaded = load(dir.path(), &cpu()).expect("the parts fit the run's configuration");
        assert_eq!(loaded.config, run_config, "the run's configuration, its temperature too");
        assert!(require_method(&loaded, Method::LeDiFlow).is_err(), "no flow part");
        assert!([Network::Latent, Network::Decoder, Network::Encoder].iter().all(|n| loaded.networks.contains(n)));
        // A part that fits neither is refused, naming its network.
        write(&old, &[Network::Latent], "ema-latent.ldf");
        let refused = load(dir.path(), &cpu()).err().expect("a latent sampler of another width is refused");
        assert!(refused.to_string().contains("'latent'"), "{refused}");
        // A corrupt state.json is a typed error naming it, not a panic or the parts' guess.
        std::fs::write(run.state_path(), b"{\"format\": 1, \"config\": ").expect("corrupt");
        let corrupt = load(dir.path(), &cpu()).err().expect("a corrupt run state is refused");
        assert!(corrupt.to_string().contains("state.json"), "{corrupt}");
    }
}
