//! Helpers shared by the trainer's integration tests.
#![allow(dead_code)]

use lediflow_core::model::LeDiFlowConfig;
use lediflow_tools::train::{DataSpec, Stage, TrainReport, TrainRequest, TrainSettings};

pub use lediflow_core::testing::cpu;

/// A `tiny` run on two repeated procedural images, logging every step.
pub fn settings(steps: u64) -> TrainSettings {
    TrainSettings {
        batch: 2,
        lr: 2e-3,
        warmup_steps: 0,
        weight_decay: 0.0,
        steps,
        log_every: 1,
        checkpoint_every: 1000,
        sample_every: 1000,
        data: DataSpec::Procedural { repeat: Some(2) },
        ..TrainSettings::default()
    }
}

pub fn request(run: &std::path::Path, stages: Vec<Stage>, steps: u64, resume: bool) -> TrainRequest {
    TrainRequest {
        run: run.to_path_buf(),
        stages,
        resume,
        config: LeDiFlowConfig::tiny(),
        steps_override: resume.then_some(steps),
        stage_steps_override: Default::default(),
        settings: settings(steps),
        minutes: None,
        cooldown_minutes: None,
        devices: vec![cpu()],
        step_timeout: None,
        grad_sync: Default::default(),
        precision: Default::default(),
        progress: false,
    }
}

pub fn losses(report: &TrainReport, stage: Stage) -> Vec<f64> {
    report.losses.iter().filter(|(s, _, _)| *s == stage).map(|(_, _, l)| *l).collect()
}
