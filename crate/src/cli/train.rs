//! `lediflow train`: run the training stages on a device, resumably.

use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult};
use crate::train::{DataSpec, Stage, TrainRequest, TrainSettings, train};

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
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Model configuration of a new run (tiny, s64, s128 or a JSON file).
    #[arg(long, default_value = "s64")]
    pub config: String,
    /// `procedural`, or a folder of images.
    #[arg(long, default_value = "procedural")]
    pub data: String,
    /// Random horizontal flips (image folders).
    #[arg(long)]
    pub hflip: bool,
    /// Steps per stage (on --resume: the new target).
    #[arg(long)]
    pub steps: Option<u64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    #[arg(long)]
    pub sample_every: Option<u64>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Data-parallel training on this many devices of `--backend` (CUDA for more than one):
    /// each takes an equal share of `--batch`, gradients are averaged through NCCL.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
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
        settings,
        minutes: args.minutes,
        devices,
        progress: true,
    })?;
    if let Some(state) = &report.state {
        for stage in Stage::ORDER {
            let p = state.progress(stage);
            if p.step > 0 {
                println!(
                    "{stage:<9} step {:>7}/{}  {:>9} images  {:>7.1} min",
                    p.step,
                    state.settings.steps,
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
