//! A training run on disk: what it trains, how far it got, and its checkpoints.
//!
//! ```text
//! RUN/state.json        configuration, settings, per-stage progress (written last, atomically)
//! RUN/model.bpk         online weights of every network (burnpack)
//! RUN/optim-STAGE.bpk   AdamW state of a stage (burnpack)
//! RUN/ema.ldf           EMA weights of the trained networks, f32 `.ldf`: what sampling, export
//!                       and resuming read
//! RUN/ema-*.ldf         imported EMA parts (a run moved between machines), read before ema.ldf
//! RUN/log.csv           stage,step,loss,images_per_second,lr,seconds,nll,kl (nll, kl: the aux
//!                       stage's loss = nll + β·kl, empty for the other stages)
//! RUN/loss.png          the loss curves
//! RUN/samples/STAGE-STEP.png
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::settings::TrainSettings;
use super::stage::Stage;
use lediflow_core::model::LeDiFlowConfig;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid run state ({message}); the checkpoint is corrupt or from another version")]
    State { path: PathBuf, message: String },
    #[error("checkpoint {path} cannot be loaded: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// How far a stage got.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageProgress {
    pub step: u64,
    pub images: u64,
    /// Wall-clock seconds spent training this stage (on whatever device ran it).
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub format: u32,
    pub config: LeDiFlowConfig,
    pub settings: TrainSettings,
    pub stages: BTreeMap<Stage, StageProgress>,
}

impl RunState {
    pub const FORMAT: u32 = 1;

    pub fn progress(&self, stage: Stage) -> StageProgress {
        self.stages.get(&stage).cloned().unwrap_or_default()
    }

    /// The stages that have taken a step, in [`Stage::ORDER`].
    pub fn trained_stages(&self) -> Vec<Stage> {
        Stage::ORDER.into_iter().filter(|s| self.progress(*s).step > 0).collect()
    }
}

pub struct RunDir {
    pub root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_path_buf(), source }
}

/// Writes through a temporary file and a rename, so a run killed mid-write keeps the old file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn create(&self) -> Result<(), RunError> {
        std::fs::create_dir_all(self.root.join("samples")).map_err(io(&self.root))
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn model_path(&self) -> PathBuf {
        self.root.join("model.bpk")
    }
    pub fn optimizer_path(&self, stage: Stage) -> PathBuf {
        self.root.join(format!("optim-{stage}.bpk"))
    }
    pub fn ema_path(&self) -> PathBuf {
        self.root.join("ema.ldf")
    }
    pub fn log_path(&self) -> PathBuf {
        self.root.join("log.csv")
    }
    pub fn plot_path(&self) -> PathBuf {
        self.root.join("loss.png")
    }
    pub fn sample_path(&self, stage: Stage, step: u64) -> PathBuf {
        self.root.join("samples").join(format!("{stage}-{step:07}.png"))
    }

    /// EMA weight files to read at start: imported `ema-*.ldf` parts (sorted), then `ema.ldf`.
    pub fn ema_files(&self) -> Result<Vec<PathBuf>, RunError> {
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let path = entry.map_err(io(&self.root))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("ema-") && name.ends_with(".ldf") {
                parts.push(path);
            }
        }
        parts.sort();
        if self.ema_path().is_file() {
            parts.push(self.ema_path());
        }
        Ok(parts)
    }

    pub fn exists(&self) -> bool {
        self.state_path().is_file()
    }

    pub fn read_state(&self) -> Result<RunState, RunError> {
        let path = self.state_path();
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let state: RunState =
            serde_json::from_str(&text).map_err(|e| RunError::State { path: path.clone(), message: e.to_string() })?;
        if state.format != RunState::FORMAT {
            return Err(RunError::State {
                path,
                message: format!("format {} (this build reads {})", state.format, RunState::FORMAT),
            });
        }
        Ok(state)
    }

    pub fn write_state(&self, state: &RunState) -> Result<(), RunError> {
        let text = serde_json::to_string_pretty(state).map_err(|e| RunError::Invalid(e.to_string()))?;
        write_atomic(&self.state_path(), text.as_bytes())
    }
}
