//! Training hyper-parameters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stage::Stage;

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
    /// Step target of every stage without one of its own in `stage_steps`.
    pub steps: u64,
    /// Per-stage step targets, overriding `steps` for the stages they name. Missing from the
    /// settings of runs made before they existed (and left out when empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stage_steps: BTreeMap<Stage, u64>,
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
            stage_steps: BTreeMap::new(),
            seed: 0,
            log_every: 25,
            checkpoint_every: 1000,
            sample_every: 1000,
            data: DataSpec::Procedural { repeat: None },
        }
    }
}

/// Largest batch one training step takes (images, over all devices).
pub const MAX_BATCH: usize = 4096;

impl TrainSettings {
    /// Refuses settings no step can run with (they come from the command line or a run's state
    /// file): a batch outside 1..=[`MAX_BATCH`], or a rate, decay or clip that is not a finite
    /// number in its range. Returns what is wrong, naming the setting.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(format!("batch is {}, must be in 1..={MAX_BATCH}", self.batch));
        }
        let unit = |v: f64| (0.0..1.0).contains(&v);
        let numbers: [(&str, f64, &str, bool); 6] = [
            ("lr", self.lr, "in (0, 1]", self.lr > 0.0 && self.lr <= 1.0),
            ("weight_decay", self.weight_decay, "in [0, 1]", (0.0..=1.0).contains(&self.weight_decay)),
            ("beta1", self.beta1, "in [0, 1)", unit(self.beta1)),
            ("beta2", self.beta2, "in [0, 1)", unit(self.beta2)),
            ("ema_decay", self.ema_decay, "in [0, 1)", unit(self.ema_decay)),
            ("grad_clip", self.grad_clip.unwrap_or(1.0), "> 0", self.grad_clip.is_none_or(|c| c > 0.0)),
        ];
        for (name, value, bound, ok) in numbers {
            if !value.is_finite() || !ok {
                return Err(format!("{name} is {value}, must be a finite number {bound}"));
            }
        }
        Ok(())
    }

    /// The step count `stage` trains to: its own target, or else `steps`.
    pub fn steps_for(&self, stage: Stage) -> u64 {
        self.stage_steps.get(&stage).copied().unwrap_or(self.steps)
    }

    /// Linear warm-up, then constant.
    pub fn lr_at(&self, step: u64) -> f64 {
        if self.warmup_steps == 0 { self.lr } else { self.lr * ((step + 1) as f64 / self.warmup_steps as f64).min(1.0) }
    }
}

/// Parses per-stage step targets, `flow=8000,baseline=8000` (the `--stage-steps` argument).
pub fn parse_stage_steps(text: &str) -> Result<BTreeMap<Stage, u64>, String> {
    let mut targets = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (name, steps) =
            item.split_once('=').ok_or_else(|| format!("'{item}' is not STAGE=STEPS (e.g. flow=8000)"))?;
        let stage = Stage::ORDER
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| format!("'{}' is not a stage (aux, latent, flow, baseline)", name.trim()))?;
        let steps = steps.trim().parse::<u64>().map_err(|e| format!("'{item}': {e}"))?;
        if targets.insert(stage, steps).is_some() {
            return Err(format!("stage '{stage}' is given twice"));
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_stage_targets_override_the_default() {
        let settings = TrainSettings {
            steps: 100,
            stage_steps: parse_stage_steps("flow=8000, baseline=9000").expect("parse"),
            ..TrainSettings::default()
        };
        let targets: Vec<u64> = Stage::ORDER.iter().map(|s| settings.steps_for(*s)).collect();
        assert_eq!(targets, [100, 100, 8000, 9000]);
        assert_eq!(parse_stage_steps("").expect("empty"), BTreeMap::new());
        for bad in ["flow", "flow=x", "nope=3", "aux=1,aux=2", "flow=-1"] {
            assert!(parse_stage_steps(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_no_step_can_run_with_are_refused_naming_the_setting() {
        assert_eq!(TrainSettings::default().check(), Ok(()));
        let cases: [(&str, TrainSettings); 7] = [
            ("batch", TrainSettings { batch: 0, ..TrainSettings::default() }),
            ("batch", TrainSettings { batch: usize::MAX, ..TrainSettings::default() }),
            ("lr", TrainSettings { lr: f64::NAN, ..TrainSettings::default() }),
            ("lr", TrainSettings { lr: 0.0, ..TrainSettings::default() }),
            ("beta2", TrainSettings { beta2: 1.0, ..TrainSettings::default() }),
            ("ema_decay", TrainSettings { ema_decay: f64::INFINITY, ..TrainSettings::default() }),
            ("grad_clip", TrainSettings { grad_clip: Some(-1.0), ..TrainSettings::default() }),
        ];
        for (name, settings) in cases {
            let error = settings.check().expect_err(name);
            assert!(error.starts_with(name), "{name}: {error}");
        }
    }

    #[test]
    fn settings_without_stage_steps_still_load_and_round_trip() {
        // The settings of a run made before per-stage targets (models/checkpoints/s64-landscapes).
        let old = r#"{"batch": 64, "lr": 0.0002, "warmup_steps": 500, "weight_decay": 0.01, "beta1": 0.9,
            "beta2": 0.99, "grad_clip": 1.0, "ema_decay": 0.999, "steps": 20000, "seed": 0,
            "log_every": 25, "checkpoint_every": 250, "sample_every": 500,
            "data": {"kind": "procedural", "repeat": null}}"#;
        let settings: TrainSettings = serde_json::from_str(old).expect("old settings load");
        assert!(settings.stage_steps.is_empty());
        assert_eq!(settings.steps_for(Stage::Flow), 20_000);
        let text = serde_json::to_string(&settings).expect("serialize");
        assert!(!text.contains("stage_steps"), "empty targets stay out of the file: {text}");

        let new = TrainSettings { stage_steps: BTreeMap::from([(Stage::Flow, 8000)]), ..settings };
        let text = serde_json::to_string(&new).expect("serialize");
        assert!(text.contains(r#""stage_steps":{"flow":8000}"#), "{text}");
        assert_eq!(serde_json::from_str::<TrainSettings>(&text).expect("round trip"), new);
    }
}
