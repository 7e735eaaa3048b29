//! The sampling pipelines: LeDiFlow sampling, the Gaussian-prior baseline, inpainting and
//! latent interpolation.
//!
//! Pipelines are `async`: on the web every readback must be awaited, and previews are read back
//! between solver steps. Natively they run under a trivial executor (`pollster::block_on`).
//! All noise comes from [`crate::noise`], so a seed gives the same image on every backend.

mod error;
mod image;
mod options;

pub use error::PipelineError;
pub use image::{from_rgb8, to_rgb8, to_rgba8};
pub use options::{Limits, Method, SampleOptions};

use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::kernels::composite;
use crate::model::config::LeDiFlowConfig;
use crate::model::networks::{LeDiFlowModel, VelocityNet};
use crate::model::prior::{PriorTemperature, prior_draw};
use crate::noise::{Stream, gaussian_batch, slerp};
use crate::solvers::{Solver, uniform_grid};

/// A millisecond clock: `Instant` natively, `performance.now()` on the web.
pub trait Clock {
    fn now_ms(&self) -> f64;
}

/// Receives the flow state after every solver step, e.g. to render a progressive preview.
pub trait StepObserver {
    fn on_step(&mut self, step: usize, steps: usize, x: &Tensor<4>) -> impl Future<Output = Result<(), PipelineError>>;
}

/// Observes nothing.
pub struct NoPreview;

impl StepObserver for NoPreview {
    async fn on_step(&mut self, _: usize, _: usize, _: &Tensor<4>) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Function evaluations spent per network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Nfe {
    pub latent: usize,
    pub decoder: usize,
    pub encoder: usize,
    pub flow: usize,
}

/// Wall-clock milliseconds per stage, measured up to a completed readback of the stage output.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StageTimes {
    pub latent_ms: f64,
    pub decoder_ms: f64,
    pub flow_ms: f64,
}

impl StageTimes {
    pub fn total_ms(&self) -> f64 {
        self.latent_ms + self.decoder_ms + self.flow_ms
    }
}

/// Images in [-1, 1] (`[B, 3, R, R]`, not yet clamped) with their cost.
pub struct Generated {
    pub images: Tensor<4>,
    pub nfe: Nfe,
    pub times: StageTimes,
}

/// The stages of [`Pipeline::reconstruct`].
pub struct Reconstruction {
    /// The decoder mean μ.
    pub mean: Tensor<4>,
    /// The prior draw x0 = μ + s·σ·ε.
    pub prior: Tensor<4>,
    /// After the flow ODE.
    pub generated: Generated,
}

/// Waits until `x` is computed (a one-element asynchronous readback).
async fn settle(x: &Tensor<4>) -> Result<(), PipelineError> {
    x.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data_async().await.map_err(PipelineError::backend)?;
    Ok(())
}

/// Integrates `net` from `x0` over a uniform grid, awaiting the observer after every step and
/// letting `replace` overwrite the state (inpainting).
async fn integrate(
    net: &VelocityNet,
    solver: Solver,
    steps: usize,
    x0: Tensor<4>,
    observer: &mut impl StepObserver,
    replace: &dyn Fn(Tensor<4>, f64) -> Tensor<4>,
) -> Result<(Tensor<4>, usize), PipelineError> {
    let device = x0.device();
    let batch = x0.dims()[0];
    let mut velocity = |x: &Tensor<4>, t: f64| net.forward(x.clone(), Tensor::full([batch], t, &device));
    let grid = uniform_grid(steps);
    let mut x = x0;
    for (i, pair) in grid.windows(2).enumerate() {
        x = solver.step(&mut velocity, x, pair[0], pair[1]);
        x = replace(x, pair[1]);
        observer.on_step(i, steps, &x).await?;
    }
    Ok((x, steps * solver.nfe_per_step()))
}

/// Noise of `stream` slerped from `seed_a` to `seed_b`, one draw per α, laid out image after image.
fn slerp_path(seed_a: u64, seed_b: u64, stream: Stream, per_image: usize, alphas: &[f64]) -> Vec<f32> {
    let a = gaussian_batch(&[seed_a], stream, per_image);
    let b = gaussian_batch(&[seed_b], stream, per_image);
    alphas.iter().flat_map(|&alpha| slerp(&a, &b, alpha)).collect()
}

/// What the encoder sees where pixels are unknown: the mean of the known pixels of the same
/// row (of the whole image where a row has none). A flat global mean made the decoder's prior,
/// and so the few-step result, a flat patch; row means continue horizontal structure (horizon,
/// sky and ground bands) into the hole, which the prior and the flow then refine.
fn row_fill(image: &Tensor<4>, keep: &Tensor<4>) -> Tensor<4> {
    let shape = image.dims();
    let known = image.clone() * keep.clone();
    let row_count = keep.clone().sum_dim(3);
    let row_mean = known.clone().sum_dim(3) / row_count.clone().clamp_min(1.0);
    let image_mean = known.sum_dims(&[2, 3]) / keep.clone().sum_dims(&[2, 3]).clamp_min(1.0);
    let empty_row = row_count.lower_elem(0.5).expand([shape[0], shape[1], shape[2], 1]);
    row_mean.mask_where(empty_row, image_mean.expand([shape[0], shape[1], shape[2], 1])).expand(shape)
}

fn keep(x: Tensor<4>, _: f64) -> Tensor<4> {
    x
}

/// Runs the networks of one model on one device.
pub struct Pipeline<'a> {
    pub model: &'a LeDiFlowModel,
    pub config: &'a LeDiFlowConfig,
    pub device: Device,
    pub limits: Limits,
}

impl<'a> Pipeline<'a> {
    pub fn new(model: &'a LeDiFlowModel, config: &'a LeDiFlowConfig, device: Device) -> Self {
        Self { model, config, device, limits: Limits::default() }
    }

    fn tensor(&self, values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }

    fn latent_shape(&self, batch: usize) -> [usize; 4] {
        let r = self.config.latent_side(self.config.image_size);
        [batch, self.config.latent_channels, r, r]
    }

    fn image_shape(&self, batch: usize) -> [usize; 4] {
        let r = self.config.image_size;
        [batch, self.config.image_channels, r, r]
    }

    fn per_image(shape: [usize; 4]) -> usize {
        shape[1] * shape[2] * shape[3]
    }

    /// The learned prior for latent starting points `eps_latent`: returns z-derived (μ, σ)
    /// after the latent sampler and decoder, with NFEs and times filled in.
    async fn prior(
        &self,
        eps_latent: Tensor<4>,
        options: &SampleOptions,
        clock: &dyn Clock,
        nfe: &mut Nfe,
        times: &mut StageTimes,
    ) -> Result<(Tensor<4>, Tensor<4>), PipelineError> {
        let start = clock.now_ms();
        let (z, latent_nfe) = integrate(
            &self.model.latent,
            options.latent_solver,
            options.latent_steps,
            eps_latent,
            &mut NoPreview,
            &keep,
        )
        .await?;
        settle(&z).await?;
        let after_latent = clock.now_ms();
        let (mu, log_var) = self.model.decoder.forward(z);
        let sigma = log_var.mul_scalar(0.5).exp();
        settle(&sigma).await?;
        nfe.latent = latent_nfe;
        nfe.decoder = 1;
        times.latent_ms = after_latent - start;
        times.decoder_ms = clock.now_ms() - after_latent;
        Ok((mu, sigma))
    }

    fn prior_draw(&self, mu: Tensor<4>, sigma: Tensor<4>, eps: Tensor<4>, options: &SampleOptions) -> Tensor<4> {
        let model = PriorTemperature::of(&self.config);
        prior_draw(mu, sigma, eps, PriorTemperature { scale: options.prior_std_scale.unwrap_or(model.scale), ..model })
    }

    /// seed → latent sampler ODE → decoder → prior draw → flow ODE → images; or, with
    /// [`Method::Baseline`], Gaussian noise → baseline ODE. Image `k` uses seed `seeds[k]`.
    pub async fn sample(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
        observer: &mut impl StepObserver,
    ) -> Result<Generated, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let (mut nfe, mut times) = (Nfe::default(), StageTimes::default());
        let image_shape = self.image_shape(seeds.len());
        let eps = self.tensor(gaussian_batch(seeds, Stream::Pixel, Self::per_image(image_shape)), image_shape);
        let (x0, net) = match options.method {
            Method::LeDiFlow => {
                let (mu, sigma) = self.seeded_prior(seeds, options, clock, &mut nfe, &mut times).await?;
                (self.prior_draw(mu, sigma, eps, options), &self.model.flow)
            }
            Method::Baseline => (eps, &self.model.baseline),
        };
        let start = clock.now_ms();
        let (images, flow_nfe) = integrate(net, options.solver, options.steps, x0, observer, &keep).await?;
        settle(&images).await?;
        nfe.flow = flow_nfe;
        times.flow_ms = clock.now_ms() - start;
        Ok(Generated { images, nfe, times })
    }

    /// The learned prior (μ, σ) of each seed's latent draw: latent sampler → decoder.
    async fn seeded_prior(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
        nfe: &mut Nfe,
        times: &mut StageTimes,
    ) -> Result<(Tensor<4>, Tensor<4>), PipelineError> {
        let latent_shape = self.latent_shape(seeds.len());
        let eps_latent =
            self.tensor(gaussian_batch(seeds, Stream::Latent, Self::per_image(latent_shape)), latent_shape);
        self.prior(eps_latent, options, clock, nfe, times).await
    }

    /// The learned prior's mean μ for each seed (latent sampler → decoder), without the flow.
    pub async fn prior_mean(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Tensor<4>, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let (mu, _) = self.seeded_prior(seeds, options, clock, &mut Nfe::default(), &mut StageTimes::default()).await?;
        Ok(mu)
    }

    /// The learned prior's draw x0 = μ + s·σ·ε for each seed: where the flow starts.
    pub async fn prior_sample(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Tensor<4>, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let (mu, sigma) =
            self.seeded_prior(seeds, options, clock, &mut Nfe::default(), &mut StageTimes::default()).await?;
        let shape = self.image_shape(seeds.len());
        let eps = self.tensor(gaussian_batch(seeds, Stream::Pixel, Self::per_image(shape)), shape);
        Ok(self.prior_draw(mu, sigma, eps, options))
    }

    /// Encodes `images` (`[B, 3, R, R]`), decodes the encoder mean into the learned prior and
    /// runs the flow from a prior draw: the paper's reconstruction check, and the per-stage
    /// quality probe of the evaluation (decoder μ alone, prior draw, after the flow).
    pub async fn reconstruct(
        &self,
        images: Tensor<4>,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Reconstruction, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let shape = self.image_shape(seeds.len());
        if images.dims() != shape {
            return Err(PipelineError::Shape(format!("images are {:?}, expected {shape:?}", images.dims())));
        }
        let start = clock.now_ms();
        let (z, _) = self.model.encoder.forward(images);
        let (mu, log_var) = self.model.decoder.forward(z);
        let sigma = log_var.mul_scalar(0.5).exp();
        let eps = self.tensor(gaussian_batch(seeds, Stream::Pixel, Self::per_image(shape)), shape);
        let prior = self.prior_draw(mu.clone(), sigma, eps, options);
        settle(&prior).await?;
        let decoded = clock.now_ms();
        let (images, flow_nfe) =
            integrate(&self.model.flow, options.solver, options.steps, prior.clone(), &mut NoPreview, &keep).await?;
        settle(&images).await?;
        let nfe = Nfe { encoder: 1, decoder: 1, flow: flow_nfe, latent: 0 };
        let times = StageTimes { latent_ms: 0.0, decoder_ms: decoded - start, flow_ms: clock.now_ms() - decoded };
        Ok(Reconstruction { mean: mu, prior, generated: Generated { images, nfe, times } })
    }

    /// Regenerates the pixels where `mask` is 0 and keeps those where it is 1.
    ///
    /// `image`: `[B, 3, R, R]` in [-1, 1]; `mask`: `[B, 1, R, R]` of 0/1. Reconstructed as
    /// RePaint-style replacement for flow matching: the known pixels follow the straight path
    /// `(1 − t)·x0 + t·y` and are written back after every step, so at t = 1 they equal `y`
    /// exactly. LeDiFlow draws x0 from the prior of the encoded known image, its unknown pixels
    /// filled by [`row_fill`]; the baseline from N(0, I).
    pub async fn inpaint(
        &self,
        image: Tensor<4>,
        mask: Tensor<4>,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
        observer: &mut impl StepObserver,
    ) -> Result<Generated, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let shape = self.image_shape(seeds.len());
        let [b, c, h, w] = image.dims();
        if [b, c, h, w] != shape {
            return Err(PipelineError::Shape(format!("image is {b}×{c}×{h}×{w}, the model expects {shape:?}")));
        }
        let mask_dims = mask.dims();
        if mask_dims != [b, 1, h, w] {
            return Err(PipelineError::Shape(format!("mask is {mask_dims:?}, expected [{b}, 1, {h}, {w}]")));
        }
        let (mut nfe, mut times) = (Nfe::default(), StageTimes::default());
        let known: Tensor<4, Bool> = mask.clone().greater_elem(0.5).expand(shape);
        let eps = self.tensor(gaussian_batch(seeds, Stream::Pixel, Self::per_image(shape)), shape);
        let (x0, net) = match options.method {
            Method::LeDiFlow => {
                let start = clock.now_ms();
                let filled = image.clone().mask_where(known.clone().bool_not(), row_fill(&image, &mask));
                let (z, _) = self.model.encoder.forward(filled);
                let (mu, log_var) = self.model.decoder.forward(z);
                let sigma = log_var.mul_scalar(0.5).exp();
                settle(&sigma).await?;
                nfe.encoder = 1;
                nfe.decoder = 1;
                times.decoder_ms = clock.now_ms() - start;
                (self.prior_draw(mu, sigma, eps, options), &self.model.flow)
            }
            Method::Baseline => (eps, &self.model.baseline),
        };
        let replace = |x: Tensor<4>, t: f64| {
            let on_path = x0.clone().mul_scalar(1.0 - t) + image.clone().mul_scalar(t);
            composite(on_path, x, mask.clone())
        };
        let start = clock.now_ms();
        let x_start = replace(x0.clone(), 0.0);
        let (result, flow_nfe) = integrate(net, options.solver, options.steps, x_start, observer, &replace).await?;
        // Bit-exact known pixels whatever rounding the path took.
        let images = composite(image, result, mask);
        settle(&images).await?;
        nfe.flow = flow_nfe;
        times.flow_ms = clock.now_ms() - start;
        Ok(Generated { images, nfe, times })
    }

    /// Samples along the spherical path between two seeds. LeDiFlow interpolates the latent
    /// sampler's Gaussian start; the pixel noise of the prior draw is interpolated the same way
    /// (`shared/LEDIFLOW.md` keeps it fixed; interpolating it too makes α = 0 and α = 1 exactly
    /// the samples of the two seeds, and σ keeps its effect small). The baseline interpolates
    /// its pixel noise.
    pub async fn interpolate(
        &self,
        seed_a: u64,
        seed_b: u64,
        alphas: &[f64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Generated, PipelineError> {
        options.validate(&self.limits, alphas.len())?;
        if let Some(a) = alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(PipelineError::Options(format!("alpha {a} is outside [0, 1]")));
        }
        let n = alphas.len();
        let image_shape = self.image_shape(n);
        let per_pixel = Self::per_image(image_shape);
        let (mut nfe, mut times) = (Nfe::default(), StageTimes::default());
        let (x0, net) = match options.method {
            Method::LeDiFlow => {
                let latent_shape = self.latent_shape(n);
                let per_latent = Self::per_image(latent_shape);
                let eps_latent = slerp_path(seed_a, seed_b, Stream::Latent, per_latent, alphas);
                let (mu, sigma) =
                    self.prior(self.tensor(eps_latent, latent_shape), options, clock, &mut nfe, &mut times).await?;
                let eps = self.tensor(slerp_path(seed_a, seed_b, Stream::Pixel, per_pixel, alphas), image_shape);
                (self.prior_draw(mu, sigma, eps, options), &self.model.flow)
            }
            Method::Baseline => {
                let eps = slerp_path(seed_a, seed_b, Stream::Pixel, per_pixel, alphas);
                (self.tensor(eps, image_shape), &self.model.baseline)
            }
        };
        let start = clock.now_ms();
        let (images, flow_nfe) = integrate(net, options.solver, options.steps, x0, &mut NoPreview, &keep).await?;
        settle(&images).await?;
        nfe.flow = flow_nfe;
        times.flow_ms = clock.now_ms() - start;
        Ok(Generated { images, nfe, times })
    }
}

#[cfg(test)]
mod tests;

/// The process clock (not available on wasm, where the web API supplies `performance.now()`).
#[cfg(not(target_family = "wasm"))]
pub struct SystemClock(std::time::Instant);

#[cfg(not(target_family = "wasm"))]
impl Default for SystemClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

#[cfg(not(target_family = "wasm"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1e3
    }
}
