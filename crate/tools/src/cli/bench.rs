//! `lediflow bench`: wall-clock time of the whole sampling chain per configuration, on one
//! device in one run, so the ratios between configurations are comparable.

use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult};
use crate::eval::scores::median;
use lediflow_core::pipeline::{Method, NoPreview, Pipeline, SampleOptions, SystemClock, to_rgba8};
use lediflow_core::solvers::Solver;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// `.ldf` files (or a run directory) holding the networks to time; repeat for several.
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Methods to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "lediflow,baseline")]
    pub method: Vec<Method>,
    #[arg(long, value_delimiter = ',', default_values_t = [SampleOptions::default().solver])]
    pub solver: Vec<Solver>,
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32", value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub steps: Vec<usize>,
    /// Images per call.
    #[arg(long, default_value_t = 16, value_parser = super::ranges::count(1, super::ranges::MAX_SAMPLES))]
    pub batch: usize,
    /// Timed calls per configuration (after one untimed warm-up call); the median is reported.
    #[arg(long, default_value_t = 5, value_parser = super::ranges::count(1, 1000))]
    pub repeats: usize,
    /// The latent sampler's steps to time LeDiFlow at, comma-separated; the baseline has none.
    #[arg(long, value_delimiter = ',', default_values_t = [SampleOptions::default().latent_steps], value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub latent_steps: Vec<usize>,
    #[command(flatten)]
    pub solve: super::solve_args::SolveArgs,
}

pub fn run(args: BenchArgs) -> CliResult {
    let device = args.backend.device()?;
    let loaded = super::model_file::load_many(&args.model, &device)?;
    for &method in &args.method {
        super::model_file::require_method(&loaded, method)?;
    }
    let pipeline = Pipeline::new(&loaded.model, &loaded.config, device);
    let seeds: Vec<u64> = (0..args.batch as u64).collect();
    let clock = SystemClock::default();
    println!(
        "{} on {:?}, batch {}, median of {} calls (ms per image: the whole chain up to RGBA8 on the host)",
        loaded.config.name, args.backend, args.batch, args.repeats
    );
    println!(
        "| method | solver | steps | latent solver | NFE latent | NFE decoder | NFE flow | ms / image | images / s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &method in &args.method {
        let latent_steps = if method == Method::LeDiFlow { args.latent_steps.clone() } else { vec![0] };
        for (&solver, &latent_steps) in args.solver.iter().flat_map(|s| latent_steps.iter().map(move |l| (s, l))) {
            for &steps in &args.steps {
                let defaults = SampleOptions::default();
                let latent_steps = if latent_steps == 0 { defaults.latent_steps } else { latent_steps };
                let options = args.solve.apply(SampleOptions { method, solver, steps, latent_steps, ..defaults });
                let mut times = Vec::new();
                let mut nfe = Default::default();
                for call in 0..=args.repeats {
                    let start = std::time::Instant::now();
                    let out = pollster::block_on(pipeline.sample(&seeds, &options, &clock, &mut NoPreview))?;
                    pollster::block_on(to_rgba8(out.images))?;
                    if call > 0 {
                        times.push(start.elapsed().as_secs_f64() * 1e3 / args.batch as f64);
                    }
                    nfe = out.nfe;
                }
                let ms = median(&mut times);
                println!(
                    "| {method} | {solver} | {steps} | {} | {} | {} | {} | {ms:.2} | {:.1} |",
                    if method == Method::LeDiFlow { options.latent_solver.to_string() } else { "–".to_string() },
                    nfe.latent,
                    nfe.decoder,
                    nfe.flow,
                    1e3 / ms
                );
            }
        }
    }
    Ok(())
}
