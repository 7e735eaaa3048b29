//! A checkpoint: the online weights, the stage's optimiser, the EMA file of the trained
//! networks and, written last, the run's state.

use burn::module::Module;
use burn::optim::ModuleOptimizer;

use super::error::TrainError;
use super::run_dir::{self, RunDir, RunError, RunState};
use super::stage::Stage;
use lediflow_core::model::LeDiFlowModel;
use lediflow_core::model_io::model_file_bytes;
use lediflow_format::{Network, QuantPolicy};

/// Networks with a trained stage, in file order.
fn trained_networks(state: &RunState) -> Vec<Network> {
    let mut nets: Vec<Network> = state.trained_stages().iter().flat_map(|s| s.trains().iter().copied()).collect();
    nets.sort_by_key(|n| {
        [Network::Latent, Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline]
            .iter()
            .position(|x| x == n)
    });
    nets
}

/// Saves the checkpoint of `stage`, the run's state last.
pub(super) fn save(
    dir: &RunDir,
    state: &RunState,
    model: &LeDiFlowModel,
    ema: &LeDiFlowModel,
    optim: &ModuleOptimizer,
    stage: Stage,
) -> Result<(), TrainError> {
    let err = |path: std::path::PathBuf| {
        move |e: burn::store::RecordError| RunError::Checkpoint { path, message: e.to_string() }
    };
    model.clone().save_file(dir.model_path()).map_err(err(dir.model_path()))?;
    optim.save(dir.optimizer_path(stage)).map_err(err(dir.optimizer_path(stage)))?;
    let networks = trained_networks(state);
    if !networks.is_empty() {
        let bytes = model_file_bytes(ema, &state.config, &networks, QuantPolicy::F32).map_err(TrainError::Invalid)?;
        run_dir::write_atomic(&dir.ema_path(), &bytes)?;
    }
    dir.write_state(state)?;
    Ok(())
}
