//! `lediflow sample`: a PNG grid of samples.

use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult};
use crate::progress::{StepBar, bar};
use lediflow_core::model::LeDiFlowModel;
use lediflow_core::pipeline::{Method, Pipeline, SampleOptions, SystemClock, to_rgb8, to_rgba8};
use lediflow_core::solvers::Solver;

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A model directory or `.ldf` weight file. Without it, a randomly initialised `--config`
    /// model is used (its samples are noise).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Configuration for an untrained model (tiny, s64, s128 or a JSON file).
    #[arg(long, default_value = "s64")]
    pub config: String,
    #[arg(long, default_value_t = 16, value_parser = super::ranges::count(1, super::ranges::MAX_SAMPLES))]
    pub n: usize,
    #[arg(long, default_value_t = 0, value_parser = super::ranges::seed())]
    pub seed: u64,
    #[arg(long, default_value_t = SampleOptions::default().solver)]
    pub solver: Solver,
    #[arg(long, default_value_t = SampleOptions::default().steps, value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub steps: usize,
    #[arg(long, default_value = "lediflow")]
    pub method: Method,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Solver steps of the latent sampler.
    #[arg(long, default_value_t = SampleOptions::default().latent_steps, value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub latent_steps: usize,
    #[command(flatten)]
    pub solve: super::solve_args::SolveArgs,
    #[arg(long, default_value = "grid.png")]
    pub out: PathBuf,
    /// Also write the images as raw RGBA8 bytes, image after image (the browser tests'
    /// native reference).
    #[arg(long)]
    pub raw: Option<PathBuf>,
}

pub fn run(args: SampleArgs) -> CliResult {
    let device = args.backend.device()?;
    let (config, model) = match &args.model {
        Some(path) => {
            let loaded = super::model_file::load(path, &device)?;
            super::model_file::require_method(&loaded, args.method)?;
            (loaded.config, loaded.model)
        }
        None => {
            let config = super::info::load_config(&args.config)?;
            eprintln!(
                "warning: no --model given: sampling from a randomly initialised, UNTRAINED '{}' model",
                config.name
            );
            let model = LeDiFlowModel::new(&config, &device);
            (config, model)
        }
    };
    let options = args.solve.apply(SampleOptions {
        method: args.method,
        solver: args.solver,
        steps: args.steps,
        latent_steps: args.latent_steps,
        ..SampleOptions::default()
    });
    let seeds: Vec<u64> = (args.seed..args.seed + args.n as u64).collect();
    let pipeline = Pipeline::new(&model, &config, device);
    let progress = bar(args.steps as u64, "sampling");
    let out =
        pollster::block_on(pipeline.sample(&seeds, &options, &SystemClock::default(), &mut StepBar(progress.clone())))?;
    progress.finish_and_clear();
    if let Some(raw) = &args.raw {
        let rgba = pollster::block_on(to_rgba8(out.images.clone()))?.concat();
        std::fs::write(raw, rgba).map_err(|e| format!("cannot write {}: {e}", raw.display()))?;
    }
    let images = pollster::block_on(to_rgb8(out.images))?;
    let grid = crate::data::make_grid(&images, config.image_size as u32, grid_columns(images.len()), 2);
    grid.save(&args.out).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    // The default options time every stage.
    let times = out.times.unwrap_or_default();
    println!(
        "wrote {} ({} × {}px, {} {} steps): NFE latent {} + decoder {} + flow {}; {:.1} ms ({:.1} latent, {:.1} decoder, {:.1} flow)",
        args.out.display(),
        images.len(),
        config.image_size,
        options.solver,
        options.steps,
        out.nfe.latent,
        out.nfe.decoder,
        out.nfe.flow,
        times.total_ms(),
        times.latent_ms,
        times.decoder_ms,
        times.flow_ms
    );
    Ok(())
}

fn grid_columns(n: usize) -> u32 {
    (n as f64).sqrt().ceil().max(1.0) as u32
}
