//! `lediflow train`: run the training stages on a device, resumably.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult};
use crate::train::replicas::GradSync;
use crate::train::{DataSpec, Stage, TrainRequest, TrainSettings, parse_stage_steps, train};
use lediflow_core::model::precision::Precision;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run directory (checkpoints, log, sample grids).
    #[arg(long)]
    pub run: PathBuf,
    /// Stages to train, in order.
    #[arg(long, value_delimiter = ',', default_value = "aux,latent,flow,baseline")]
    pub stage: Vec<Stage>,
    /// Continue the run in `--run`.
    #[arg(long)]
    pub resume: bool,
    /// Stop cleanly, with a checkpoint, before this many minutes.
    #[arg(long, value_parser = super::ranges::minutes)]
    pub minutes: Option<f64>,
    /// Anneal: the learning rate falls linearly to zero over the last this many of --minutes
    /// (its warm-up still applies; logged per step in log.csv's `lr`).
    #[arg(long, value_parser = super::ranges::minutes)]
    pub cooldown_minutes: Option<f64>,
    /// Model configuration of a new run (tiny, s64, s128 or a JSON file).
    #[arg(long, default_value = "s64")]
    pub config: String,
    /// `procedural`, or a folder of images.
    #[arg(long, default_value = "procedural")]
    pub data: String,
    /// Random horizontal flips (image folders).
    #[arg(long)]
    pub hflip: bool,
    /// Step target of every stage without its own (on --resume: the new default target).
    #[arg(long, value_parser = super::ranges::whole(0, 1_000_000_000))]
    pub steps: Option<u64>,
    /// Per-stage step targets, e.g. `flow=8000,baseline=8000`, taking precedence over --steps
    /// (on --resume: merged into the run's; a stage at its target is not re-opened).
    #[arg(long, value_parser = parse_stage_steps)]
    pub stage_steps: Option<BTreeMap<Stage, u64>>,
    #[arg(long, value_parser = super::ranges::count(1, 4096))]
    pub batch: Option<usize>,
    #[arg(long, value_parser = super::ranges::learning_rate)]
    pub lr: Option<f64>,
    #[arg(long, value_parser = super::ranges::seed())]
    pub seed: Option<u64>,
    #[arg(long, value_parser = super::ranges::whole(1, 1_000_000_000))]
    pub checkpoint_every: Option<u64>,
    #[arg(long, value_parser = super::ranges::whole(1, 1_000_000_000))]
    pub sample_every: Option<u64>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Data-parallel training on this many devices of `--backend` (CUDA for more than one):
    /// each takes an equal share of `--batch`, gradients are averaged through NCCL.
    #[arg(long, default_value_t = 1, value_parser = super::ranges::count(1, 64))]
    pub devices: usize,
    /// With several devices: seconds a step may make no progress before training stops with an
    /// error (a hung collective); 0 waits forever. The first step, which compiles kernels, is
    /// not timed.
    #[arg(long, default_value_t = 300.0, value_parser = super::ranges::step_timeout)]
    pub step_timeout: f64,
    /// With several devices: average the gradients in one bucket after the backward pass (one
    /// all-reduce, the faster on two H100s) or per parameter during it (burn's autodiff sync);
    /// see BENCHMARKS.md, "Several GPUs".
    #[arg(long, default_value = "bucket")]
    pub grad_sync: GradSync,
    /// The matmuls' element type: f32, or f16 / bf16 operands with the weights, gradients and
    /// optimiser kept in f32 (mixed precision; ARCHITECTURE.md, "GPU backend"). GPU backends only.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

pub fn run(args: TrainArgs) -> CliResult {
    let config = super::info::load_config(&args.config)?;
    let defaults = TrainSettings::default();
    let data = if args.data == "procedural" {
        DataSpec::Procedural { repeat: None }
    } else {
        DataSpec::Folder { path: args.data.clone(), hflip: args.hflip }
    };
    let settings = TrainSettings {
        batch: args.batch.unwrap_or(defaults.batch),
        lr: args.lr.unwrap_or(defaults.lr),
        steps: args.steps.unwrap_or(defaults.steps),
        stage_steps: args.stage_steps.clone().unwrap_or_default(),
        seed: args.seed.unwrap_or(defaults.seed),
        checkpoint_every: args.checkpoint_every.unwrap_or(defaults.checkpoint_every),
        sample_every: args.sample_every.unwrap_or(defaults.sample_every),
        data,
        ..defaults
    };
    let devices = args.backend.devices(args.devices)?;
    let report = train(TrainRequest {
        run: args.run.clone(),
        stages: args.stage,
        resume: args.resume,
        config,
        steps_override: args.steps,
        stage_steps_override: args.stage_steps.unwrap_or_default(),
        settings,
        minutes: args.minutes,
        cooldown_minutes: args.cooldown_minutes,
        devices,
        step_timeout: (args.step_timeout > 0.0).then(|| std::time::Duration::from_secs_f64(args.step_timeout)),
        grad_sync: args.grad_sync,
        precision: args.precision,
        progress: true,
    })?;
    if let Some(state) = &report.state {
        for stage in Stage::ORDER {
            let p = state.progress(stage);
            if p.step > 0 {
                println!(
                    "{stage:<9} step {:>7}/{}  {:>9} images  {:>7.1} min",
                    p.step,
                    state.settings.steps_for(stage),
                    p.images,
                    p.seconds / 60.0
                );
            }
        }
    }
    if report.stopped_by_budget {
        println!("stopped before the time budget; continue with --resume");
    }
    println!("run directory: {}", args.run.display());
    Ok(())
}
