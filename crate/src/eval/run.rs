//! Sampling, timing and scoring every configuration on one device in one run.
//!
//! Every configuration samples the same seeds `0..n` and is scored against the same reference
//! (held-out images `0..reference`), so rows differ only by what they configure. Times are the
//! whole chain per image (seed to RGB8 on the host) at a fixed batch, after one untimed call.

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::EvalError;
use super::features::embed;
use super::scores::{DEFAULT_K, ReferenceSet, frechet_distance};
use super::swd::{SwdOptions, sliced_wasserstein};
use crate::data::{ImageSource, Procedural, Split, rgb8_to_chw_f32};
use crate::model::evalnet::EvalNet;
use crate::noise::splitmix64;
use crate::pipeline::{Method, Nfe, NoPreview, Pipeline, SampleOptions, SystemClock, to_rgb8};
use crate::solvers::Solver;

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
    pub reference: usize,
    pub batch: usize,
    pub mmd_bandwidth: f64,
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

/// Mask of image `index` (1 = keep): a box covering a quarter of the image at a random place,
/// or free-form strokes (random walks of a thick brush) covering roughly a quarter.
pub fn mask(kind: &str, size: usize, index: u64) -> Vec<f32> {
    let mut rng = splitmix64(index ^ 0x4D41_534B);
    let mut next = move |n: usize| {
        rng = splitmix64(rng);
        (rng % n.max(1) as u64) as usize
    };
    let mut keep = vec![1f32; size * size];
    if kind == "box" {
        let side = size / 2;
        let (top, left) = (next(size - side + 1), next(size - side + 1));
        for y in top..top + side {
            keep[y * size + left..y * size + left + side].fill(0.0);
        }
        return keep;
    }
    let radius = (size / 16).max(1) as isize;
    let target = size * size / 4;
    let mut holes = 0;
    while holes < target {
        let (mut y, mut x) = (next(size) as isize, next(size) as isize);
        for _ in 0..size {
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    let (py, px) = (y + dy, x + dx);
                    if dy * dy + dx * dx <= radius * radius
                        && (0..size as isize).contains(&py)
                        && (0..size as isize).contains(&px)
                    {
                        let i = py as usize * size + px as usize;
                        holes += (keep[i] == 1.0) as usize;
                        keep[i] = 0.0;
                    }
                }
            }
            y += next(3) as isize - 1;
            x += next(3) as isize - 1;
        }
    }
    keep
}

fn masked_psnr(original: &[Vec<u8>], completed: &[Vec<u8>], masks: &[Vec<f32>]) -> f64 {
    let (mut se, mut count) = (0f64, 0usize);
    for ((a, b), m) in original.iter().zip(completed).zip(masks) {
        for (p, &keep) in m.iter().enumerate() {
            if keep < 0.5 {
                for c in 0..3 {
                    se += (a[p * 3 + c] as f64 - b[p * 3 + c] as f64).powi(2);
                    count += 1;
                }
            }
        }
    }
    10.0 * (255f64.powi(2) / (se / count.max(1) as f64).max(1e-12)).log10()
}

fn interpolation_row(
    pipeline: &Pipeline,
    reference: &Reference,
    method: Method,
    steps: usize,
    pairs: usize,
) -> Result<InterpolationRow, EvalError> {
    let clock = SystemClock::default();
    let alphas: Vec<f64> = (0..16).map(|i| i as f64 / 15.0).collect();
    let options = SampleOptions { method, solver: Solver::Heun, steps, ..SampleOptions::default() };
    let (mut length, mut ratio, mut jump) = (0.0, 0.0, 0.0);
    for pair in 0..pairs as u64 {
        let out = pollster::block_on(pipeline.interpolate(
            1_000_000 + 2 * pair,
            1_000_001 + 2 * pair,
            &alphas,
            &options,
            &clock,
        ))?;
        let frames = pollster::block_on(to_rgb8(out.images))?;
        let e = embed(reference.net, &frames, reference.size, &reference.device, reference.batch);
        let dist = |i: usize, j: usize| -> f64 {
            e.row(i).iter().zip(e.row(j)).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt()
        };
        let jumps: Vec<f64> = (0..frames.len() - 1).map(|i| dist(i, i + 1)).collect();
        let total: f64 = jumps.iter().sum();
        length += total;
        ratio += total / dist(0, frames.len() - 1).max(1e-9);
        jump += jumps.iter().cloned().fold(0.0, f64::max) / (total / jumps.len() as f64).max(1e-12);
    }
    let n = pairs.max(1) as f64;
    Ok(InterpolationRow { method, steps, path_length: length / n, path_ratio: ratio / n, max_jump_ratio: jump / n })
}

fn log(progress: bool, message: &str) {
    if progress {
        eprintln!("{message}");
    }
}

/// Runs the whole evaluation of `pipeline`'s model.
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
    let size = reference.size;
    let side = size as usize;
    let p = request.progress;
    let has = |m: Method| request.methods.contains(&m);

    log(p, "data: held-out vs reference, training split vs reference");
    let fresh = heldout(size, request.reference as u64, request.n)?;
    let train = Procedural::new(Split::Train, size, 0)?.batch(&(0..request.n as u64).collect::<Vec<_>>())?;
    let data = vec![
        ProbeRow { name: "held-out (fresh) vs reference".into(), scores: reference.score(&fresh)? },
        ProbeRow { name: "training split vs reference".into(), scores: reference.score(&train)? },
    ];

    let mut rows = Vec::new();
    for &method in &request.methods {
        for &solver in &request.solvers {
            for &steps in &request.steps {
                let same = |r: &&ConfigRow| r.method == method && r.solver == solver && r.steps == steps;
                if let Some(row) = request.done.iter().find(same) {
                    rows.push(row.clone());
                    continue;
                }
                let options = SampleOptions {
                    method,
                    solver,
                    steps,
                    latent_solver: request.latent_solver,
                    latent_steps: request.latent_steps,
                    ..SampleOptions::default()
                };
                let (images, nfe, ms) = sample_all(pipeline, &options, request.first_seed, request.n, request.batch)?;
                let scores = reference.score(&images)?;
                log(p, &format!("{method} {solver} {steps}: {ms:.2} ms/image, {scores:?}"));
                rows.push(ConfigRow { method, solver, steps, nfe, ms_per_image: ms, scores });
                save(&rows);
            }
        }
    }

    let mut stages = Vec::new();
    if has(Method::LeDiFlow) {
        log(p, "per-stage probes");
        let clock = SystemClock::default();
        let options = SampleOptions {
            latent_solver: request.latent_solver,
            latent_steps: request.latent_steps,
            ..SampleOptions::default()
        };
        // `reconstruct` also runs the flow; only its μ is read here, so one Euler step.
        let reconstruct_options = SampleOptions { solver: Solver::Euler, steps: 1, ..options.clone() };
        let (mut recon, mut mean, mut prior) = (Vec::new(), Vec::new(), Vec::new());
        for seeds in chunks(request.n, request.batch) {
            let originals = heldout(size, request.reference as u64 + seeds[0], seeds.len())?;
            let x = Tensor::<4>::from_data(
                TensorData::new(rgb8_to_chw_f32(&originals, size), [seeds.len(), 3, side, side]),
                &pipeline.device,
            );
            let r = pollster::block_on(pipeline.reconstruct(x, &seeds, &reconstruct_options, &clock))?;
            recon.extend(pollster::block_on(to_rgb8(r.mean))?);
            mean.extend(pollster::block_on(to_rgb8(pollster::block_on(
                pipeline.prior_mean(&seeds, &options, &clock),
            )?))?);
            prior.extend(pollster::block_on(to_rgb8(pollster::block_on(
                pipeline.prior_sample(&seeds, &options, &clock),
            )?))?);
        }
        stages.push(ProbeRow {
            name: "encoder → decoder μ of held-out images (the prior's ceiling)".into(),
            scores: reference.score(&recon)?,
        });
        stages.push(ProbeRow { name: "latent sampler → decoder μ".into(), scores: reference.score(&mean)? });
        stages.push(ProbeRow {
            name: "prior draw x0 = μ + s·σ·ε (0 flow steps)".into(),
            scores: reference.score(&prior)?,
        });
    }

    let mut inpainting = Vec::new();
    if request.inpaint_images > 0 {
        let count = request.inpaint_images;
        let originals = heldout(size, 5_000_000, count)?;
        for kind in ["box", "free-form"] {
            let masks: Vec<Vec<f32>> = (0..count as u64).map(|i| mask(kind, side, i)).collect();
            for &method in &request.methods {
                for &steps in &request.probe_steps {
                    log(p, &format!("inpainting {kind} {method} {steps}"));
                    let clock = SystemClock::default();
                    let options = SampleOptions { method, solver: Solver::Heun, steps, ..SampleOptions::default() };
                    let mut completed = Vec::with_capacity(count);
                    for seeds in chunks(count, request.batch) {
                        let range = seeds[0] as usize..seeds[0] as usize + seeds.len();
                        let image = Tensor::<4>::from_data(
                            TensorData::new(
                                rgb8_to_chw_f32(&originals[range.clone()], size),
                                [seeds.len(), 3, side, side],
                            ),
                            &pipeline.device,
                        );
                        let keep: Vec<f32> = masks[range].concat();
                        let keep = Tensor::<4>::from_data(
                            TensorData::new(keep, [seeds.len(), 1, side, side]),
                            &pipeline.device,
                        );
                        let out = pollster::block_on(pipeline.inpaint(
                            image,
                            keep,
                            &seeds,
                            &options,
                            &clock,
                            &mut NoPreview,
                        ))?;
                        completed.extend(pollster::block_on(to_rgb8(out.images))?);
                    }
                    inpainting.push(InpaintRow {
                        method,
                        mask: kind.to_string(),
                        steps,
                        masked_psnr: masked_psnr(&originals, &completed, &masks),
                        scores: reference.score(&completed)?,
                    });
                }
            }
        }
    }

    let mut interpolation = Vec::new();
    if request.interpolation_pairs > 0 {
        for &method in &request.methods {
            for &steps in &request.probe_steps {
                log(p, &format!("interpolation {method} {steps}"));
                interpolation.push(interpolation_row(pipeline, reference, method, steps, request.interpolation_pairs)?);
            }
        }
    }

    Ok(EvalReport {
        model: model_name.to_string(),
        device: device_name.to_string(),
        n: request.n,
        reference: request.reference,
        batch: request.batch,
        mmd_bandwidth: reference.sigma,
        data,
        rows,
        stages,
        inpainting,
        interpolation,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_about_a_quarter_and_differ_per_image() {
        for kind in ["box", "free-form"] {
            let m = mask(kind, 64, 3);
            let hidden = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
            assert!((0.24..0.4).contains(&hidden), "{kind}: {hidden}");
            assert!(m.iter().all(|&v| v == 0.0 || v == 1.0));
            assert_eq!(m, mask(kind, 64, 3), "{kind}: deterministic");
            assert_ne!(m, mask(kind, 64, 4), "{kind}: per image");
        }
    }

    #[test]
    fn masked_psnr_only_sees_the_hole() {
        let original = vec![vec![100u8; 4 * 3]];
        let mut completed = original.clone();
        completed[0][0] = 110; // pixel 0, hidden
        completed[0][3] = 0; // pixel 1, kept: ignored
        let masks = vec![vec![0.0, 1.0, 1.0, 1.0]];
        let expected = 10.0 * (255f64.powi(2) / (100.0 / 3.0)).log10();
        assert!((masked_psnr(&original, &completed, &masks) - expected).abs() < 1e-9);
    }
}
