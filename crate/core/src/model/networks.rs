//! The four LeDiFlow networks, each a [`Backbone`] with its own configuration.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::config::{BackboneConfig, LeDiFlowConfig};
use super::hourglass::{Backbone, TokenLayout, unpatchify};

/// θE: image → mean and log-variance of q(z|y).
#[derive(Module, Debug)]
pub struct Encoder {
    pub backbone: Backbone,
    #[module(skip)]
    pub latent_channels: usize,
}

impl Encoder {
    pub fn new(config: &LeDiFlowConfig, device: &Device) -> Self {
        Self { backbone: Backbone::new(&config.encoder, device), latent_channels: config.latent_channels }
    }

    /// `[B, 3, R, R]` in [-1, 1] → (mean, log-variance), each `[B, z, R/8, R/8]`.
    pub fn forward(&self, image: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let out = self.backbone.forward(image, None);
        let z = self.latent_channels;
        let mean = out.clone().narrow(1, 0, z);
        // Bounded so that exp() stays finite in the KL term and in sampling.
        let log_var = out.narrow(1, z, z).clamp(-30.0, 20.0);
        (mean, log_var)
    }
}

/// θD: z → per-pixel mean and log-variance of the learned prior.
#[derive(Module, Debug)]
pub struct Decoder {
    pub backbone: Backbone,
    #[module(skip)]
    pub z_upsample: usize,
    #[module(skip)]
    pub image_channels: usize,
    #[module(skip)]
    pub log_var_min: f64,
    #[module(skip)]
    pub log_var_max: f64,
}

impl Decoder {
    pub fn new(config: &LeDiFlowConfig, device: &Device) -> Self {
        Self {
            backbone: Backbone::new(&config.decoder, device),
            z_upsample: config.decoder_z_upsample,
            image_channels: config.image_channels,
            log_var_min: config.loss.log_var_min,
            log_var_max: config.loss.log_var_max,
        }
    }

    /// `[B, z, r, r]` → (μ, log σ²), each `[B, 3, R, R]`; log σ² clamped to the configured range.
    pub fn forward(&self, z: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let z = upsample_nearest(z, self.z_upsample);
        self.prior_of(self.backbone.forward(z, None))
    }

    /// [`Decoder::forward`] of latents given as tokens of `layout` (the latent sampler's solve
    /// keeps them so). Where a token is one latent and the backbone takes one per token, the
    /// latents are upsampled as tokens and go in as they are: two layout copies fewer (dispatches
    /// in the browser), the same values; otherwise they are laid out as images first.
    pub fn forward_latent_tokens(&self, z: Tensor<4>, layout: TokenLayout) -> (Tensor<4>, Tensor<4>) {
        match self.output_tokens(&z, layout) {
            Some(out) => self.prior_of_output_tokens(out),
            None => self.forward(layout.images(z)),
        }
    }

    /// The backbone's output as its patch tokens (`[B, R/p, R/p, p·p·2·3]`, p =
    /// [`Decoder::output_patch`]: each pixel's three means, then its three log σ²), for latents
    /// given as tokens of `layout`, where they go in as they are
    /// ([`Decoder::forward_latent_tokens`]); `None` where they would be laid out as images first.
    /// A draw from the prior can read them without laying out images (`kernels::prior_draw_tokens`).
    pub fn output_tokens(&self, z: &Tensor<4>, layout: TokenLayout) -> Option<Tensor<4>> {
        (layout.patch == 1 && self.backbone.p_in == 1)
            .then(|| self.backbone.forward_tokens(upsample_tokens(z.clone(), self.z_upsample)))
    }

    /// The patch size of [`Decoder::output_tokens`].
    pub fn output_patch(&self) -> usize {
        self.backbone.p_out
    }

    /// [`Decoder::output_tokens`] as (μ, clamped log σ²) images.
    pub fn prior_of_output_tokens(&self, out: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        self.prior_of(unpatchify(out, self.backbone.p_out, self.backbone.out_channels))
    }

    /// The backbone's images `[B, 2·3, R, R]` as (μ, clamped log σ²).
    fn prior_of(&self, out: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let c = self.image_channels;
        let mu = out.clone().narrow(1, 0, c);
        let log_var = out.narrow(1, c, c).clamp(self.log_var_min, self.log_var_max);
        (mu, log_var)
    }
}

/// A velocity field v(x, t): the latent sampler θL, the flow model θFM and the baseline.
#[derive(Module, Debug)]
pub struct VelocityNet {
    pub backbone: Backbone,
}

impl VelocityNet {
    pub fn new(config: &BackboneConfig, device: &Device) -> Self {
        Self { backbone: Backbone::new(config, device) }
    }

    /// `x`: `[B, C, R, R]`, `t`: `[B]` → velocity of the same shape as `x`.
    pub fn forward(&self, x: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self.backbone.forward(x, Some(t))
    }

    /// [`VelocityNet::forward`] with every image at time `t` (the samplers' case): a prepared
    /// network computes each time's condition once ([`super::hourglass::ConditionCache`]).
    pub fn forward_at(&self, x: Tensor<4>, t: f64) -> Tensor<4> {
        self.backbone.forward_at(x, t)
    }

    /// [`VelocityNet::forward_at`] on patch tokens ([`Backbone::tokens_at`]).
    pub fn tokens_at(&self, tokens: Tensor<4>, t: f64) -> Tensor<4> {
        self.backbone.tokens_at(tokens, t)
    }

    /// `base + scale · v(tokens, t)`, the update in the network's last layer where our WGSL runs
    /// ([`Backbone::advanced_tokens_at`]).
    pub fn advanced_tokens_at(&self, tokens: Tensor<4>, t: f64, base: &Tensor<4>, scale: f64) -> Tensor<4> {
        self.backbone.advanced_tokens_at(tokens, t, base, scale)
    }

    /// The token layout of both its input and its velocity, which a solve keeps its state in: a
    /// validated configuration gives a velocity network the same patch size and channels in and
    /// out (`LeDiFlowConfig::validate`), since a velocity has the shape of its input.
    pub fn token_layout(&self) -> TokenLayout {
        self.backbone.input_tokens()
    }
}

/// [`upsample_nearest`] of tokens `[B, H, W, C]` (one pixel per token): `[B, factor·H, factor·W, C]`.
pub fn upsample_tokens(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [b, h, w, c] = x.dims();
    x.reshape([b, h, 1, w, 1, c]).expand([b, h, factor, w, factor, c]).reshape([b, h * factor, w * factor, c])
}

/// Nearest-neighbour upsampling by an integer factor.
pub fn upsample_nearest(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1]).expand([b, c, h, factor, w, factor]).reshape([b, c, h * factor, w * factor])
}

/// All networks of a LeDiFlow model. Any of them may be absent from a weight file, so each is
/// optional except where a pipeline needs it.
#[derive(Module, Debug)]
pub struct LeDiFlowModel {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub latent: VelocityNet,
    pub flow: VelocityNet,
    /// The Gaussian-prior baseline: the flow architecture trained from N(0, I).
    pub baseline: VelocityNet,
}

impl LeDiFlowModel {
    pub fn new(config: &LeDiFlowConfig, device: &Device) -> Self {
        Self {
            encoder: Encoder::new(config, device),
            decoder: Decoder::new(config, device),
            latent: VelocityNet::new(&config.latent_sampler, device),
            flow: VelocityNet::new(&config.flow, device),
            baseline: VelocityNet::new(&config.flow, device),
        }
    }

    /// Readies the loaded networks for sampling where our WGSL runs (the browser): each
    /// backbone's norm modulations in one matmul ([`Backbone::prepare_modulations`]); nothing
    /// elsewhere. Call it again after the weights change (a trained model is never prepared).
    pub fn prepare_for_inference(&mut self) {
        for backbone in [
            &mut self.encoder.backbone,
            &mut self.decoder.backbone,
            &mut self.latent.backbone,
            &mut self.flow.backbone,
            &mut self.baseline.backbone,
        ] {
            backbone.prepare_modulations();
        }
    }

    /// After [`LeDiFlowModel::prepare_for_inference`]: the samplers' networks (latent sampler,
    /// flow, baseline) record each (time, shape) evaluation once and replay it after, where burn's
    /// wgpu runtime runs our WGSL (`model::replayed`); off again with `on` false.
    pub fn record_evaluations(&mut self, on: bool) {
        for backbone in [&mut self.latent.backbone, &mut self.flow.backbone, &mut self.baseline.backbone] {
            backbone.record_evaluations(on);
        }
    }
}
