//! How closely cheap solves of the latent sampler's ODE reach its exact solution: per solver,
//! steps and time grid `t_i = (i / steps)^p`, the distance of each seed's end latent to a fine
//! reference solve (RK4 × 32), relative to the reference latents' RMS. Prints the median, the
//! 90th percentile and the RMS over the seeds. The latent sampler's draws get sharper as this
//! error falls (BENCHMARKS.md, "The wide latent sampler": SWD 74 → 33 → 25 at 8, 16, 32 latent
//! NFE), so it ranks grids on the CPU before `lediflow eval` scores the few worth a GPU.
//!
//! With `flow` after the first seed it measures the flow ODE instead, from each seed's prior draw
//! (the default latent chain), against RK4 × 12; with `baseline` (and the baseline's file) the
//! Gaussian-prior baseline's ODE from pixel noise, against RK4 × 64.
//!
//!   [LEDIFLOW_SOLVERS=ab2,midpoint] cargo run --release --example latent_ode_error -- models/landscapes-64.ldf 64 [first seed [latent|flow|baseline]]

use burn::tensor::{Device, Tensor, TensorData};
use lediflow_core::model_io::load_file;
use lediflow_core::noise::{Stream, gaussian_batch};
use lediflow_core::solvers::{Solver, power_grid, uniform_grid};

const CONFIGURATIONS: [(Solver, usize, &[f64]); 11] = [
    (Solver::Heun, 8, &[1.0]),
    (Solver::Midpoint, 4, &[1.0, 1.25, 1.5]),
    (Solver::Midpoint, 6, &[1.0, 1.25, 1.5]),
    (Solver::Midpoint, 8, &[1.0, 1.25, 1.5]),
    (Solver::Heun, 4, &[1.0, 1.25]),
    (Solver::Ab2, 8, &[1.0, 1.25, 1.5]),
    (Solver::Ab2, 10, &[1.0, 1.25, 1.5]),
    (Solver::Ab2, 12, &[1.0, 1.25, 1.5]),
    (Solver::Ab2, 16, &[1.0, 1.25]),
    (Solver::Rk4, 3, &[1.0, 1.25, 1.5]),
    (Solver::Rk4, 4, &[1.0, 1.25]),
];

const BASELINE_CONFIGURATIONS: [(Solver, usize, &[f64]); 4] = [
    (Solver::Midpoint, 16, &[1.0]),
    (Solver::Midpoint, 32, &[1.0]),
    (Solver::Heun, 32, &[1.0]),
    (Solver::Ab2, 64, &[1.0]),
];

const FLOW_CONFIGURATIONS: [(Solver, usize, &[f64]); 6] = [
    (Solver::Midpoint, 1, &[1.0]),
    (Solver::Midpoint, 2, &[0.25, 0.322, 0.415, 0.515, 0.737, 1.0, 1.32]),
    (Solver::Heun, 2, &[0.515, 1.0]),
    (Solver::Midpoint, 4, &[0.5, 0.737, 1.0]),
    (Solver::Ab2, 3, &[0.737, 1.0]),
    (Solver::Ab2, 4, &[0.737, 1.0]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map_or("models/landscapes-64.ldf", String::as_str);
    let n: usize = args.get(1).map_or(Ok(64), |s| s.parse())?;
    let first: u64 = args.get(2).map_or(Ok(0), |s| s.parse())?;
    if n == 0 || n > 4096 {
        return Err("between 1 and 4096 seeds".into());
    }
    #[allow(deprecated)]
    let device = Device::ndarray();
    let loaded = load_file(std::path::Path::new(path), &device)?;
    let mut model = loaded.model;
    model.prepare_for_inference();
    let seeds: Vec<u64> = (first..first + n as u64).collect();
    type Configurations = &'static [(Solver, usize, &'static [f64])];
    // Which ODE: its fine reference's RK4 steps and the cheap solves measured against it.
    let mode = args.get(3).map_or("latent", String::as_str);
    let (reference_steps, configurations): (usize, Configurations) = match mode {
        "latent" => (32, &CONFIGURATIONS),
        "flow" => (12, &FLOW_CONFIGURATIONS),
        "baseline" => (64, &BASELINE_CONFIGURATIONS),
        other => return Err(format!("unknown ODE '{other}' (expected latent, flow or baseline)").into()),
    };
    let (net, x0) = if mode == "baseline" {
        let shape = [n, loaded.config.image_channels, loaded.config.image_size, loaded.config.image_size];
        let noise = gaussian_batch(&seeds, Stream::Pixel, shape[1..].iter().product());
        (&model.baseline, Tensor::<4>::from_data(TensorData::new(noise, shape), &device))
    } else if mode == "flow" {
        let pipeline = lediflow_core::pipeline::Pipeline::new(&model, &loaded.config, device.clone());
        let options = lediflow_core::pipeline::SampleOptions::default();
        let clock = lediflow_core::pipeline::SystemClock::default();
        let x0 = pollster::block_on(pipeline.prior_sample(&seeds, &options, &clock))?;
        (&model.flow, x0)
    } else {
        let r = loaded.config.latent_side(loaded.config.image_size);
        let shape = [n, loaded.config.latent_channels, r, r];
        let noise = gaussian_batch(&seeds, Stream::Latent, shape[1..].iter().product());
        (&model.latent, Tensor::<4>::from_data(TensorData::new(noise, shape), &device))
    };
    let layout = net.token_layout();
    let x0 = layout.tokens(x0);

    let mut velocity = |x: &Tensor<4>, t: f64| net.tokens_at(x.clone(), t);
    let mut solve = |solver: Solver, grid: &[f64]| solver.solve(&mut velocity, x0.clone(), grid, &mut |_, _, x| x).x;
    let started = std::time::Instant::now();
    let reference = solve(Solver::Rk4, &uniform_grid(reference_steps));
    let scale = reference.clone().square().mean().into_scalar::<f32>().sqrt();
    println!("{n} seeds from {first}; reference RK4 × {reference_steps}, RMS {scale:.4}");
    println!("| solver | steps | NFE | power | median | p90 | RMS |");
    println!("|---|---|---|---|---|---|---|");
    // LEDIFLOW_SOLVERS=ab2,midpoint measures only those solvers' rows.
    let only: Option<Vec<Solver>> = std::env::var("LEDIFLOW_SOLVERS")
        .ok()
        .map(|list| list.split(',').map(str::parse).collect::<Result<_, _>>())
        .transpose()?;
    for &(solver, steps, powers) in configurations {
        if only.as_ref().is_some_and(|only| !only.contains(&solver)) {
            continue;
        }
        for &power in powers {
            let x = solve(solver, &power_grid(steps, power));
            let per_seed: Vec<f32> = (x - reference.clone())
                .square()
                .reshape([n as i32, -1])
                .mean_dim(1)
                .sqrt()
                .into_data()
                .try_to_vec()
                .map_err(|e| format!("{e:?}"))?;
            let mut sorted: Vec<f32> = per_seed.iter().map(|e| e / scale).collect();
            sorted.sort_by(f32::total_cmp);
            let rms = (sorted.iter().map(|e| e * e).sum::<f32>() / n as f32).sqrt();
            let nfe = steps * solver.nfe_per_step();
            println!(
                "| {solver} | {steps} | {nfe} | {power} | {:.4} | {:.4} | {rms:.4} |",
                sorted[n / 2],
                sorted[(n * 9 / 10).min(n - 1)]
            );
        }
    }
    eprintln!("{:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
