//! Sampling, timing and scoring every configuration on one device in one run.
//!
//! Every configuration samples the same seeds `0..n` and is scored against the same reference
//! (held-out images `0..reference`), so rows differ only by what they configure. Times are the
//! whole chain per image (seed to RGB8 on the host) at a fixed batch, after one untimed call.

mod inpaint;
mod interpolation;
mod probes;

use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use self::inpaint::inpainting_rows;
pub use self::inpaint::mask;
use self::interpolation::interpolation_rows;
use self::probes::{data_probes, stage_probes};
use super::EvalError;
use super::features::embed;
use super::scores::{DEFAULT_K, ReferenceSet, frechet_distance};
use super::swd::{SwdOptions, sliced_wasserstein};
use crate::data::{ImageSource, Procedural, Split};
use crate::eval::evalnet::EvalNet;
use lediflow_core::pipeline::{Method, Nfe, NoPreview, Pipeline, SampleOptions, SystemClock, to_rgb8};
use lediflow_core::solvers::Solver;

/// What `lediflow eval` measures.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    pub methods: Vec<Method>,
    pub solvers: Vec<Solver>,
    pub steps: Vec<usize>,
    /// Samples per configuration (seeds `first_seed..first_seed + n`).
    pub n: usize,
    /// The first seed of every configuration's samples: a second run at another offset
    /// measures how much the scores move with the seeds alone.
    pub first_seed: u64,
    /// Reference images (held-out indices `0..reference`).
    pub reference: usize,
    /// Images per sampling call.
    pub batch: usize,
    /// Images per set for the sliced Wasserstein distance (its cost grows with them).
    pub swd_images: usize,
    /// Held-out images to inpaint per mask kind (0 skips inpainting).
    pub inpaint_images: usize,
    /// Seed pairs to interpolate between (0 skips interpolation).
    pub interpolation_pairs: usize,
    /// Solver steps of the inpainting, interpolation and per-stage probes.
    pub probe_steps: Vec<usize>,
    /// The latent sampler's solver and steps in every LeDiFlow configuration (the product's
    /// defaults unless a run measures what fewer latent evaluations cost).
    pub latent_solver: Solver,
    pub latent_steps: usize,
    /// The latent sampler's time-grid power (`SampleOptions::latent_time_power`).
    pub latent_time_power: f64,
    /// The latent sampler's temperature (`SampleOptions::latent_temperature`).
    pub latent_temperature: f64,
    /// The flow ODE's time-grid power in every configuration (`SampleOptions::time_power`).
    pub time_power: f64,
    pub progress: bool,
    /// Rows of an interrupted run of the same request: their configurations are not redone.
    pub done: Vec<ConfigRow>,
}

/// Every score of one set of images against the reference.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Fréchet distance of the embeddings (lower is better).
    pub fd: f64,
    /// CMMD-style MMD ×1000 (lower is better).
    pub mmd: f64,
    pub precision: f64,
    pub recall: f64,
    /// Sliced Wasserstein distance ×1000 on Laplacian-pyramid patches (network-free).
    pub swd: f64,
}

impl Scores {
    pub const NAMES: [&'static str; 5] = ["fd", "mmd", "precision", "recall", "swd"];

    pub fn get(&self, name: &str) -> f64 {
        match name {
            "fd" => self.fd,
            "mmd" => self.mmd,
            "precision" => self.precision,
            "recall" => self.recall,
            "swd" => self.swd,
            _ => f64::NAN,
        }
    }
}

/// One (method, solver, steps) configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigRow {
    pub method: Method,
    pub solver: Solver,
    pub steps: usize,
    pub nfe: Nfe,
    /// Wall-clock milliseconds per image of the whole chain.
    pub ms_per_image: f64,
    pub scores: Scores,
}

/// A probe of one stage of the chain, or of the data itself.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRow {
    pub name: String,
    pub scores: Scores,
}

#[derive(Debug, Clone, Serialize)]
pub struct InpaintRow {
    pub method: Method,
    pub mask: String,
    pub steps: usize,
    /// PSNR (dB) of the regenerated pixels against the original image, masked region only.
    pub masked_psnr: f64,
    /// Scores of the completed images against the reference: only the masked region differs
    /// from real images, so these see how well it blends in.
    pub scores: Scores,
}

#[derive(Debug, Clone, Serialize)]
pub struct InterpolationRow {
    pub method: Method,
    pub steps: usize,
    /// Mean over seed pairs of the summed embedding distance between consecutive frames.
    pub path_length: f64,
    /// Mean of path length over the endpoints' direct distance (1 = a straight path).
    pub path_ratio: f64,
    /// Mean of the largest single jump over the mean jump (1 = evenly spaced frames).
    pub max_jump_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub device: String,
    pub n: usize,
    /// The first seed of every configuration's samples and of the per-stage probes.
    pub first_seed: u64,
    pub reference: usize,
    pub batch: usize,
    pub mmd_bandwidth: f64,
    /// How the rows' images were solved besides their flow solver and steps: the latent
    /// sampler's solver, steps and time grid, and the flow's time grid.
    pub solves: String,
    /// Noise floor and data checks: fresh held-out vs reference, training split vs reference.
    pub data: Vec<ProbeRow>,
    pub rows: Vec<ConfigRow>,
    pub stages: Vec<ProbeRow>,
    pub inpainting: Vec<InpaintRow>,
    pub interpolation: Vec<InterpolationRow>,
    pub seconds: f64,
}

/// The reference set, embedded once.
pub struct Reference<'a> {
    pub net: &'a EvalNet,
    pub device: Device,
    pub size: u32,
    pub set: ReferenceSet,
    pub swd_images: Vec<Vec<u8>>,
    pub sigma: f64,
    pub batch: usize,
}

impl<'a> Reference<'a> {
    pub fn new(
        net: &'a EvalNet,
        device: Device,
        size: u32,
        count: usize,
        swd_count: usize,
        sigma: f64,
        batch: usize,
    ) -> Result<Self, EvalError> {
        let images = heldout(size, 0, count)?;
        let embeddings = embed(net, &images, size, &device, batch);
        let swd_images = images.into_iter().take(swd_count).collect();
        let set = ReferenceSet::new(embeddings, sigma, DEFAULT_K)?;
        Ok(Self { net, device, size, set, swd_images, sigma, batch })
    }

    /// Every score of `images` (RGB8) against the reference.
    pub fn score(&self, images: &[Vec<u8>]) -> Result<Scores, EvalError> {
        let e = embed(self.net, images, self.size, &self.device, self.batch);
        let (precision, recall) = self.set.precision_recall(&e)?;
        let swd_count = self.swd_images.len().min(images.len());
        let swd = if swd_count >= 2 {
            sliced_wasserstein(&self.swd_images[..swd_count], &images[..swd_count], self.size, &SwdOptions::default())?
                .mean
        } else {
            f64::NAN
        };
        Ok(Scores { fd: frechet_distance(self.set.embeddings(), &e)?, mmd: self.set.mmd(&e)?, precision, recall, swd })
    }
}

fn heldout(size: u32, first: u64, count: usize) -> Result<Vec<Vec<u8>>, EvalError> {
    let source = Procedural::new(Split::HeldOut, size, 0)?;
    Ok(source.batch(&(first..first + count as u64).collect::<Vec<_>>())?)
}

fn chunks(n: usize, batch: usize) -> impl Iterator<Item = Vec<u64>> {
    seed_chunks(0, n, batch)
}

fn seed_chunks(first: u64, n: usize, batch: usize) -> impl Iterator<Item = Vec<u64>> {
    (first..first + n as u64)
        .collect::<Vec<_>>()
        .chunks(batch.max(1))
        .map(<[u64]>::to_vec)
        .collect::<Vec<_>>()
        .into_iter()
}

/// Samples seeds `first..first + n` with `options`; returns the images and the chain's milliseconds per
/// image, timed after one untimed call of the same batch size.
fn sample_all(
    pipeline: &Pipeline,
    options: &SampleOptions,
    first: u64,
    n: usize,
    batch: usize,
) -> Result<(Vec<Vec<u8>>, Nfe, f64), EvalError> {
    let clock = SystemClock::default();
    let warm: Vec<u64> = (first..first + batch.min(n) as u64).collect();
    pollster::block_on(async {
        let out = pipeline.sample(&warm, options, &clock, &mut NoPreview).await?;
        to_rgb8(out.images).await
    })?;
    let mut images = Vec::with_capacity(n);
    let mut nfe = Nfe::default();
    let start = Instant::now();
    for seeds in seed_chunks(first, n, batch) {
        let out = pollster::block_on(pipeline.sample(&seeds, options, &clock, &mut NoPreview))?;
        nfe = out.nfe;
        images.extend(pollster::block_on(to_rgb8(out.images))?);
    }
    Ok((images, nfe, start.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64))
}

fn log(progress: bool, message: &str) {
    if progress {
        eprintln!("{message}");
    }
}

/// Runs the whole evaluation of `pipeline`'s model: the data probes, every configuration,
/// then the per-stage, inpainting and interpolation probes.
///
/// `save` receives the configuration rows after each new one, so that a run cut short (the GPU
/// machine's commands end after 10 minutes) can continue through [`EvalRequest::done`].
pub fn evaluate(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
    model_name: &str,
    device_name: &str,
    save: &mut dyn FnMut(&[ConfigRow]),
) -> Result<EvalReport, EvalError> {
    let started = Instant::now();
    let data = data_probes(reference, request)?;
    let rows = config_rows(pipeline, reference, request, save)?;
    let stages = if request.methods.contains(&Method::LeDiFlow) {
        stage_probes(pipeline, reference, request)?
    } else {
        Vec::new()
    };
    let inpainting = inpainting_rows(pipeline, reference, request)?;
    let interpolation = interpolation_rows(pipeline, reference, request)?;
    Ok(EvalReport {
        model: model_name.to_string(),
        device: device_name.to_string(),
        n: request.n,
        first_seed: request.first_seed,
        reference: request.reference,
        batch: request.batch,
        mmd_bandwidth: reference.sigma,
        solves: format!(
            "LeDiFlow's latent sampler {} × {} on the time grid (i/n)^{}{}; every flow on (i/n)^{}",
            request.latent_solver,
            request.latent_steps,
            request.latent_time_power,
            if request.latent_temperature == 1.0 {
                String::new()
            } else {
                format!(" at temperature {}", request.latent_temperature)
            },
            request.time_power
        ),
        data,
        rows,
        stages,
        inpainting,
        interpolation,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One row per (method, solver, steps), in that nesting order; rows of
/// [`EvalRequest::done`] are taken as they are.
fn config_rows(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
    save: &mut dyn FnMut(&[ConfigRow]),
) -> Result<Vec<ConfigRow>, EvalError> {
    let mut rows = Vec::new();
    for &method in &request.methods {
        for &solver in &request.solvers {
            for &steps in &request.steps {
                let same = |r: &&ConfigRow| r.method == method && r.solver == solver && r.steps == steps;
                if let Some(row) = request.done.iter().find(same) {
                    rows.push(row.clone());
                    continue;
                }
                rows.push(config_row(pipeline, reference, request, method, solver, steps)?);
                save(&rows);
            }
        }
    }
    Ok(rows)
}

/// Samples, times and scores one configuration.
fn config_row(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
    method: Method,
    solver: Solver,
    steps: usize,
) -> Result<ConfigRow, EvalError> {
    let options = SampleOptions {
        method,
        solver,
        steps,
        latent_solver: request.latent_solver,
        latent_steps: request.latent_steps,
        latent_time_power: request.latent_time_power,
        latent_temperature: request.latent_temperature,
        time_power: request.time_power,
        ..SampleOptions::default()
    };
    let (images, nfe, ms) = sample_all(pipeline, &options, request.first_seed, request.n, request.batch)?;
    let scores = reference.score(&images)?;
    log(request.progress, &format!("{method} {solver} {steps}: {ms:.2} ms/image, {scores:?}"));
    Ok(ConfigRow { method, solver, steps, nfe, ms_per_image: ms, scores })
}
