//! The sampling pipelines: LeDiFlow sampling, the Gaussian-prior baseline, inpainting and
//! latent interpolation.
//!
//! Pipelines are `async`: on the web every readback must be awaited, and previews are read back
//! between solver steps. Natively they run under a trivial executor (`pollster::block_on`).
//! All noise comes from [`crate::noise`], so a seed gives the same image on every backend.

mod error;
mod flow;
mod image;
mod known;
mod options;

pub use error::PipelineError;
pub use flow::{NoPreview, StepObserver, StepState};
pub use image::{from_rgb8, to_rgb8, to_rgba8};
pub use options::{Limits, Method, SampleOptions};

use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::model::config::LeDiFlowConfig;
use crate::model::networks::LeDiFlowModel;
use crate::model::prior::{PriorTemperature, prior_draw, prior_draw_tokens};
use crate::noise::{Stream, gaussian_batch, slerp};
use crate::solvers::power_grid;
use flow::{Flow, integrate, settle, settle_if};
use known::row_fill;

/// A millisecond clock: `Instant` natively, `performance.now()` on the web.
pub trait Clock {
    fn now_ms(&self) -> f64;
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
    /// `None` where the stages were not timed ([`SampleOptions::stage_times`] off).
    pub times: Option<StageTimes>,
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

/// What the decoder gave for a batch of latents.
enum Decoded {
    /// Its output as patch tokens (`Decoder::output_tokens`), which the flow's start is drawn
    /// from without laying out images where our WGSL runs.
    Tokens(Tensor<4>),
    /// The prior's (μ, σ) images.
    Spread(Tensor<4>, Tensor<4>),
}

/// Noise of `stream` slerped from `seed_a` to `seed_b`, one draw per α, laid out image after image.
fn slerp_path(seed_a: u64, seed_b: u64, stream: Stream, per_image: usize, alphas: &[f64]) -> Vec<f32> {
    let a = gaussian_batch(&[seed_a], stream, per_image);
    let b = gaussian_batch(&[seed_b], stream, per_image);
    alphas.iter().flat_map(|&alpha| slerp(&a, &b, alpha)).collect()
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

    /// The pixel noise ε of each seed: the baseline's start, the learned prior draw's noise.
    fn pixel_noise(&self, seeds: &[u64]) -> Tensor<4> {
        let shape = self.image_shape(seeds.len());
        self.tensor(self.pixel_noise_values(seeds), shape)
    }

    /// [`Pipeline::pixel_noise`] on the host, images of [`Pipeline::image_shape`] row-major.
    fn pixel_noise_values(&self, seeds: &[u64]) -> Vec<f32> {
        gaussian_batch(seeds, Stream::Pixel, Self::per_image(self.image_shape(1)))
    }

    /// (μ, σ) of what the decoder gave.
    fn spread(&self, decoded: Decoded) -> (Tensor<4>, Tensor<4>) {
        match decoded {
            Decoded::Tokens(out) => Self::prior_spread(self.model.decoder.prior_of_output_tokens(out)),
            Decoded::Spread(mu, sigma) => (mu, sigma),
        }
    }

    /// The decoder's prior (μ, σ) for latents `z`.
    fn decode(&self, z: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        Self::prior_spread(self.model.decoder.forward(z))
    }

    /// (μ, log σ²) → (μ, σ).
    fn prior_spread((mu, log_var): (Tensor<4>, Tensor<4>)) -> (Tensor<4>, Tensor<4>) {
        (mu, log_var.mul_scalar(0.5).exp())
    }

    /// The learned prior for latent noise `eps_latent` (`batch` images of
    /// [`Pipeline::latent_shape`], row-major), the latent ODE starting from it times the latent
    /// temperature: returns what the decoder gives for the latents, with NFEs and times filled
    /// in. The noise is laid out as the latent sampler's tokens on the host, and the decoder
    /// takes the solve's tokens as they are (`Decoder::output_tokens`): no layout copy on the
    /// device between the noise and the decoder's output where both take one latent per token.
    async fn prior(
        &self,
        eps_latent: Vec<f32>,
        batch: usize,
        options: &SampleOptions,
        clock: &dyn Clock,
        nfe: &mut Nfe,
        times: &mut StageTimes,
    ) -> Result<Decoded, PipelineError> {
        let start = clock.now_ms();
        let grid = power_grid(options.latent_steps, options.latent_time_power);
        let layout = self.model.latent.token_layout();
        let shape = self.latent_shape(batch);
        let eps_latent = match layout.tokens_on_host(&eps_latent, shape) {
            Some((tokens, token_shape)) => self.tensor(tokens, token_shape),
            None => layout.tokens(self.tensor(eps_latent, shape)),
        };
        // τ = 1 starts from the noise itself: no scaling kernel, a dispatch fewer in the browser.
        let start_latent = if options.latent_temperature == 1.0 {
            eps_latent
        } else {
            eps_latent.mul_scalar(options.latent_temperature)
        };
        let latent =
            integrate(&self.model.latent, options.latent_solver, &grid, start_latent, None, &mut NoPreview).await?;
        let z = latent.x;
        settle_if(options.stage_times, &z).await?;
        let after_latent = clock.now_ms();
        let decoded = match self.model.decoder.output_tokens(&z, layout) {
            Some(out) => {
                settle_if(options.stage_times, &out).await?;
                Decoded::Tokens(out)
            }
            None => {
                let (mu, sigma) = self.decode(layout.images(z));
                settle_if(options.stage_times, &sigma).await?;
                Decoded::Spread(mu, sigma)
            }
        };
        nfe.latent = latent.nfe;
        nfe.decoder = 1;
        times.latent_ms = after_latent - start;
        times.decoder_ms = clock.now_ms() - after_latent;
        Ok(decoded)
    }

    fn temperature(&self, options: &SampleOptions) -> PriorTemperature {
        let model = PriorTemperature::of(&self.config);
        PriorTemperature { scale: options.prior_std_scale.unwrap_or(model.scale), ..model }
    }

    fn prior_draw(&self, mu: Tensor<4>, sigma: Tensor<4>, eps: Tensor<4>, options: &SampleOptions) -> Tensor<4> {
        prior_draw(mu, sigma, eps, self.temperature(options))
    }

    /// Where the flow starts and which network carries it: for LeDiFlow the flow model from a
    /// draw with noise `eps` (images of [`Pipeline::image_shape`], row-major) from the learned
    /// prior that `prior` computes, awaited only then; for the baseline its own network from
    /// `eps`. With `known` (image, mask) the flow keeps those pixels. Without, it starts from its
    /// tokens: the noise laid out so on the host, and where our WGSL runs the prior drawn
    /// straight from the decoder's tokens into the flow's (`prior_draw_tokens`): one dispatch
    /// where the images' layouts and the draw's element-wise steps were ten.
    async fn flow_start(
        &self,
        eps: Vec<f32>,
        options: &SampleOptions,
        prior: impl Future<Output = Result<Decoded, PipelineError>>,
        known: Option<(Tensor<4>, Tensor<4>)>,
    ) -> Result<Flow<'a>, PipelineError> {
        let shape = self.image_shape(eps.len() / Self::per_image(self.image_shape(1)));
        let net = match options.method {
            Method::LeDiFlow => &self.model.flow,
            Method::Baseline => &self.model.baseline,
        };
        let layout = net.token_layout();
        // Without known pixels the flow starts from its tokens: the noise laid out so on the host.
        let eps_tokens = || {
            let (tokens, token_shape) = layout.tokens_on_host(&eps, shape).filter(|_| known.is_none())?;
            Some(self.tensor(tokens, token_shape))
        };
        let flow = match options.method {
            Method::Baseline => match eps_tokens() {
                Some(tokens) => Flow::from_tokens(net, tokens),
                None => Flow::new(net, self.tensor(eps, shape)),
            },
            Method::LeDiFlow => {
                let decoded = prior.await?;
                let drawn = match &decoded {
                    Decoded::Tokens(out) if crate::kernels::network_kernels_run(&self.device) => {
                        eps_tokens().and_then(|eps_tokens| {
                            prior_draw_tokens(
                                out,
                                self.model.decoder.output_patch(),
                                &eps_tokens,
                                layout.patch,
                                (self.model.decoder.log_var_min, self.model.decoder.log_var_max),
                                self.temperature(options),
                            )
                        })
                    }
                    _ => None,
                };
                match drawn {
                    Some(x0) => Flow::from_tokens(net, x0),
                    None => {
                        let (mu, sigma) = self.spread(decoded);
                        Flow::new(net, self.prior_draw(mu, sigma, self.tensor(eps, shape), options))
                    }
                }
            }
        };
        Ok(match known {
            Some((image, mask)) => flow.keeping(image, mask),
            None => flow,
        })
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
        let eps = self.pixel_noise_values(seeds);
        let prior = self.seeded_prior(seeds, options, clock, &mut nfe, &mut times);
        let flow = self.flow_start(eps, options, prior, None).await?;
        flow.run(options, clock, observer, nfe, times).await
    }

    /// The learned prior (μ, σ) of each seed's latent draw: latent sampler → decoder.
    async fn seeded_prior(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
        nfe: &mut Nfe,
        times: &mut StageTimes,
    ) -> Result<Decoded, PipelineError> {
        let per_image = Self::per_image(self.latent_shape(1));
        self.prior(gaussian_batch(seeds, Stream::Latent, per_image), seeds.len(), options, clock, nfe, times).await
    }

    /// The learned prior's mean μ for each seed (latent sampler → decoder), without the flow.
    pub async fn prior_mean(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Tensor<4>, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let decoded = self.seeded_prior(seeds, options, clock, &mut Nfe::default(), &mut StageTimes::default()).await?;
        Ok(self.spread(decoded).0)
    }

    /// The learned prior's draw x0 = μ + s·σ·ε for each seed: where the flow starts.
    pub async fn prior_sample(
        &self,
        seeds: &[u64],
        options: &SampleOptions,
        clock: &dyn Clock,
    ) -> Result<Tensor<4>, PipelineError> {
        options.validate(&self.limits, seeds.len())?;
        let decoded = self.seeded_prior(seeds, options, clock, &mut Nfe::default(), &mut StageTimes::default()).await?;
        let (mu, sigma) = self.spread(decoded);
        Ok(self.prior_draw(mu, sigma, self.pixel_noise(seeds), options))
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
        let (mu, sigma) = self.decode(z);
        let prior = self.prior_draw(mu.clone(), sigma, self.pixel_noise(seeds), options);
        settle(&prior).await?;
        let nfe = Nfe { encoder: 1, decoder: 1, ..Nfe::default() };
        let times = StageTimes { decoder_ms: clock.now_ms() - start, ..StageTimes::default() };
        let generated =
            Flow::new(&self.model.flow, prior.clone()).run(options, clock, &mut NoPreview, nfe, times).await?;
        Ok(Reconstruction { mean: mu, prior, generated })
    }

    /// The learned prior (μ, σ) of the known pixels of `image` (where `mask` is 1), the unknown
    /// ones filled by [`row_fill`]: encoder → decoder.
    async fn encoded_prior(
        &self,
        image: &Tensor<4>,
        mask: &Tensor<4>,
        options: &SampleOptions,
        clock: &dyn Clock,
        nfe: &mut Nfe,
        times: &mut StageTimes,
    ) -> Result<Decoded, PipelineError> {
        let start = clock.now_ms();
        let unknown: Tensor<4, Bool> = mask.clone().greater_elem(0.5).expand(image.dims()).bool_not();
        let filled = image.clone().mask_where(unknown, row_fill(image, mask));
        let (z, _) = self.model.encoder.forward(filled);
        let (mu, sigma) = self.decode(z);
        settle_if(options.stage_times, &sigma).await?;
        nfe.encoder = 1;
        nfe.decoder = 1;
        times.decoder_ms = clock.now_ms() - start;
        Ok(Decoded::Spread(mu, sigma))
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
        let eps = self.pixel_noise_values(seeds);
        let prior = self.encoded_prior(&image, &mask, options, clock, &mut nfe, &mut times);
        let flow = self.flow_start(eps, options, prior, Some((image.clone(), mask.clone()))).await?;
        flow.run(options, clock, observer, nfe, times).await
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
        let (mut nfe, mut times) = (Nfe::default(), StageTimes::default());
        let eps = slerp_path(seed_a, seed_b, Stream::Pixel, Self::per_image(image_shape), alphas);
        let prior = async {
            let eps_latent = slerp_path(seed_a, seed_b, Stream::Latent, Self::per_image(self.latent_shape(1)), alphas);
            self.prior(eps_latent, n, options, clock, &mut nfe, &mut times).await
        };
        let flow = self.flow_start(eps, options, prior, None).await?;
        flow.run(options, clock, &mut NoPreview, nfe, times).await
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
