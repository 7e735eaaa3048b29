//! Training hyper-parameters.

use serde::{Deserialize, Serialize};

/// Where training images come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DataSpec {
    /// The procedural landscapes of the training split. `repeat`, when set, cycles through the
    /// first `repeat` images only (overfitting checks).
    Procedural { repeat: Option<u64> },
    /// A folder of the user's images.
    Folder { path: String, hflip: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub batch: usize,
    pub lr: f64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub grad_clip: Option<f64>,
    pub ema_decay: f64,
    /// Steps per stage.
    pub steps: u64,
    pub seed: u64,
    pub log_every: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub data: DataSpec,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            batch: 64,
            lr: 2e-4,
            warmup_steps: 500,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            grad_clip: Some(1.0),
            ema_decay: 0.999,
            steps: 20_000,
            seed: 0,
            log_every: 25,
            checkpoint_every: 1000,
            sample_every: 1000,
            data: DataSpec::Procedural { repeat: None },
        }
    }
}

impl TrainSettings {
    /// Linear warm-up, then constant.
    pub fn lr_at(&self, step: u64) -> f64 {
        if self.warmup_steps == 0 { self.lr } else { self.lr * ((step + 1) as f64 / self.warmup_steps as f64).min(1.0) }
    }
}
