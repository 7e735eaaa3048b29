//! `lediflow eval` (quality × NFE × wall-clock of every configuration, on one device in one
//! run) and `lediflow eval-net` (train the evaluation network once).

use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult};
use crate::eval::features::{EvalTrainRequest, load, train_eval_net};
use crate::eval::report::write_all;
use crate::eval::run::{ConfigRow, EvalRequest, Reference, evaluate};
use lediflow_core::pipeline::{Method, Pipeline, SampleOptions};
use lediflow_core::solvers::Solver;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// `.ldf` files (or a run directory) holding the networks; repeat to merge several.
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// The evaluation network's directory (`lediflow eval-net`).
    #[arg(long, default_value = "models/eval")]
    pub eval_net: PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "lediflow,baseline")]
    pub method: Vec<Method>,
    #[arg(long, value_delimiter = ',', default_value = "euler,midpoint,heun")]
    pub solver: Vec<Solver>,
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32", value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub steps: Vec<usize>,
    /// Samples per configuration.
    #[arg(long, default_value_t = 5000, value_parser = super::ranges::count(2, 10_000_000))]
    pub n: usize,
    /// First seed of every configuration's samples (seeds `first_seed..first_seed + n`).
    #[arg(long, default_value_t = 0, value_parser = super::ranges::seed())]
    pub first_seed: u64,
    /// Held-out reference images.
    #[arg(long, default_value_t = 10_000, value_parser = super::ranges::count(2, 10_000_000))]
    pub reference: usize,
    /// Images per sampling call (at most 256).
    #[arg(long, default_value_t = 250, value_parser = super::ranges::count(1, 256))]
    pub batch: usize,
    /// Images per set for the sliced Wasserstein distance.
    #[arg(long, default_value_t = 2000, value_parser = super::ranges::count(1, 10_000_000))]
    pub swd_images: usize,
    /// Held-out images inpainted per mask kind (0 = skip).
    #[arg(long, default_value_t = 1000, value_parser = super::ranges::count(0, 10_000_000))]
    pub inpaint: usize,
    /// Seed pairs interpolated (0 = skip).
    #[arg(long, default_value_t = 64, value_parser = super::ranges::count(0, 1_000_000))]
    pub interpolation_pairs: usize,
    /// Steps of the inpainting and interpolation probes (Heun).
    #[arg(long, value_delimiter = ',', default_value = "2,16", value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub probe_steps: Vec<usize>,
    /// The latent sampler's steps in every LeDiFlow configuration (the product's default).
    #[arg(long, default_value_t = SampleOptions::default().latent_steps, value_parser = super::ranges::count(1, super::ranges::MAX_STEPS))]
    pub latent_steps: usize,
    #[command(flatten)]
    pub solve: super::solve_args::SolveArgs,
    /// Where the report, CSV and plots go.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
}

pub fn run(args: EvalArgs) -> CliResult {
    if args.n < 2 || args.reference < 2 {
        return Err("--n and --reference must be at least 2".into());
    }
    let device = args.backend.device()?;
    let loaded = super::model_file::load_many(&args.model, &device)?;
    for &method in &args.method {
        super::model_file::require_method(&loaded, method)?;
    }
    let (net, manifest) = load(&args.eval_net, &device)?;
    manifest.check_image_size(loaded.config.image_size)?;
    let mut pipeline = Pipeline::new(&loaded.model, &loaded.config, device.clone());
    pipeline.limits.max_batch = pipeline.limits.max_batch.max(args.batch);
    let size = loaded.config.image_size as u32;
    eprintln!("embedding {} reference images", args.reference);
    let reference =
        Reference::new(&net, device, size, args.reference, args.swd_images, manifest.mmd_bandwidth, args.batch)?;
    // An interrupted run of the same model and sizes continues where it stopped.
    let partial_path = args.out.join("partial.json");
    let model_name = args.model.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" + ");
    let key = format!(
        "{model_name} n={} first_seed={} reference={} batch={} backend={:?} latent={}x{}^{} latent_temperature={} time_power={}",
        args.n,
        args.first_seed,
        args.reference,
        args.batch,
        args.backend,
        args.solve.latent_solver,
        args.latent_steps,
        args.solve.latent_time_power,
        args.solve.latent_temperature,
        args.solve.time_power
    );
    let done: Vec<ConfigRow> = std::fs::read_to_string(&partial_path)
        .ok()
        .and_then(|text| serde_json::from_str::<(String, Vec<ConfigRow>)>(&text).ok())
        .filter(|(k, _)| *k == key)
        .map(|(_, rows)| rows)
        .unwrap_or_default();
    if !done.is_empty() {
        eprintln!("continuing: {} configurations already in {}", done.len(), partial_path.display());
    }
    std::fs::create_dir_all(&args.out)?;
    let mut save = |rows: &[ConfigRow]| {
        if let Ok(text) = serde_json::to_string(&(&key, rows)) {
            let _ = std::fs::write(&partial_path, text);
        }
    };
    let request = EvalRequest {
        methods: args.method.clone(),
        solvers: args.solver.clone(),
        steps: args.steps.clone(),
        n: args.n,
        first_seed: args.first_seed,
        reference: args.reference,
        batch: args.batch,
        swd_images: args.swd_images,
        inpaint_images: args.inpaint,
        interpolation_pairs: args.interpolation_pairs,
        probe_steps: args.probe_steps.clone(),
        latent_solver: args.solve.latent_solver,
        latent_steps: args.latent_steps,
        latent_time_power: args.solve.latent_time_power,
        latent_temperature: args.solve.latent_temperature,
        time_power: args.solve.time_power,
        progress: true,
        done,
    };
    let report = evaluate(&pipeline, &reference, &request, &model_name, &format!("{:?}", args.backend), &mut save)?;
    let written = write_all(&report, &args.out)?;
    println!("{}", crate::eval::report::markdown(&report));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct EvalNetArgs {
    /// Output directory (weights and manifest).
    #[arg(long, default_value = "models/eval")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(8..=1024))]
    pub size: u32,
    #[arg(long, default_value_t = 3000, value_parser = super::ranges::whole(1, 10_000_000))]
    pub steps: u64,
    #[arg(long, default_value_t = 128, value_parser = super::ranges::count(1, 256))]
    pub batch: usize,
    #[arg(long, default_value_t = 2e-3, value_parser = super::ranges::learning_rate)]
    pub lr: f64,
    /// Held-out images for the R² of each attribute.
    #[arg(long, default_value_t = 2000, value_parser = super::ranges::count(1, 10_000_000))]
    pub validation: usize,
    /// Held-out reference images that fix the MMD bandwidth (must match `eval --reference`).
    #[arg(long, default_value_t = 10_000, value_parser = super::ranges::count(2, 10_000_000))]
    pub reference: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
}

pub fn run_eval_net(args: EvalNetArgs) -> CliResult {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let manifest = train_eval_net(&EvalTrainRequest {
        out: args.out.clone(),
        image_size: args.size,
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        validation_images: args.validation,
        reference_images: args.reference,
        device: args.backend.device()?,
        command,
        progress: true,
    })?;
    println!("held-out R² per target:");
    for (name, r2) in &manifest.heldout_r2 {
        println!("  {name:<16} {r2:.3}");
    }
    println!("MMD bandwidth {:.4}; {:.0} s; wrote {}", manifest.mmd_bandwidth, manifest.seconds, args.out.display());
    Ok(())
}
