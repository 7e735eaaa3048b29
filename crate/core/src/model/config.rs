//! Network configurations as data (serde), and the named configurations we ship.

use serde::{Deserialize, Serialize};

/// How the tokens of one hourglass level attend to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AttentionKind {
    /// Every token attends to every other token of the level (used at the bottleneck).
    Global,
    /// Non-overlapping `size`×`size` windows, shifted by half a window on every other layer
    /// (Swin-style). Stands in for HDiT's neighbourhood attention, which burn does not have.
    Window { size: usize },
}

/// One level of the hourglass: `depth` transformer blocks at one token resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelConfig {
    pub width: usize,
    pub depth: usize,
    /// Feed-forward hidden size; HDiT uses 3 × width.
    pub d_ff: usize,
    pub d_head: usize,
    pub attention: AttentionKind,
}

/// Time conditioning: Fourier features of t → a small GEGLU MLP → the AdaRMSNorm condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingConfig {
    pub width: usize,
    pub depth: usize,
    pub d_ff: usize,
}

/// An HDiT-style hourglass transformer.
///
/// The input `[B, in_channels, R, R]` is cut into `patch_in`² patches, giving an `R/patch_in`
/// token grid. The last entry of `levels` is the bottleneck; the others appear twice, once on
/// the way down and once on the way up. Each token of the output grid becomes a
/// `patch_out`² patch of `out_channels`, so the output is `[B, out_channels, R·patch_out/patch_in, …]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackboneConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub patch_in: usize,
    pub patch_out: usize,
    pub levels: Vec<LevelConfig>,
    /// `None` for networks without a time input (encoder, decoder).
    pub mapping: Option<MappingConfig>,
}

impl BackboneConfig {
    /// Token-grid side lengths must divide evenly through every merge and window.
    /// Returns the reason when an input side `side` cannot be processed.
    pub fn check_input_side(&self, side: usize) -> Result<(), String> {
        if side == 0 || side % self.patch_in != 0 {
            return Err(format!("input side {side} is not a multiple of patch size {}", self.patch_in));
        }
        let mut grid = side / self.patch_in;
        for (i, level) in self.levels.iter().enumerate() {
            if let AttentionKind::Window { size } = level.attention {
                let window = size.min(grid);
                if grid % window != 0 {
                    return Err(format!("level {i}: token grid {grid} is not a multiple of window {window}"));
                }
            }
            if i + 1 < self.levels.len() {
                if grid % 2 != 0 {
                    return Err(format!("level {i}: token grid {grid} cannot be merged 2×2"));
                }
                grid /= 2;
            }
        }
        Ok(())
    }
}

/// Loss settings. Fields marked "reconstructed" are choices this project made where the paper's
/// equations were not available (see `shared/LEDIFLOW.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    /// KL weight of the auxiliary model, per latent element.
    pub beta: f64,
    /// Reconstructed: exponent γ of the stop-gradient variance factor in VGL (β-NLL uses 0.5).
    pub vgl_gamma: f64,
    /// Reconstructed: clamp range of the decoder's log σ².
    pub log_var_min: f64,
    pub log_var_max: f64,
    /// Reconstructed: σ is clipped to [sigma_lo, sigma_hi] before the importance weight.
    pub sigma_lo: f64,
    pub sigma_hi: f64,
    /// Reconstructed: weight the squared flow error by 1/σ (`Sigma`) or 1/σ² (`Variance`).
    pub weighting: ImportanceWeighting,
    /// Reconstructed: normalise the importance weights to mean 1 per image, so that the
    /// learning rate means the same as in the baseline.
    pub normalize_weights: bool,
    /// Reconstructed: the latent sampler learns to reach the encoder mean (`false`) or a draw
    /// of q(z|y) (`true`).
    pub latent_target_sampled: bool,
    /// How training draws t.
    pub time_sampling: TimeSampling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportanceWeighting {
    Sigma,
    Variance,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TimeSampling {
    Uniform,
    /// t = sigmoid(mean + std·n), n ~ N(0, 1).
    LogitNormal {
        mean: f64,
        std: f64,
    },
    /// t = u^exponent, u ~ U(0, 1): an exponent above 1 spends more of training near t = 0,
    /// where the flow from a tight prior has to create the detail.
    Power {
        exponent: f64,
    },
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            beta: 1e-3,
            vgl_gamma: 0.5,
            log_var_min: -12.0,
            log_var_max: 2.0,
            sigma_lo: 0.02,
            sigma_hi: 1.0,
            weighting: ImportanceWeighting::Sigma,
            normalize_weights: true,
            latent_target_sampled: false,
            time_sampling: TimeSampling::Uniform,
        }
    }
}

/// Everything that defines a LeDiFlow model: the image and latent shapes and the four networks.
/// The Gaussian-prior baseline uses `flow`'s architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeDiFlowConfig {
    pub name: String,
    pub image_size: usize,
    pub image_channels: usize,
    pub latent_channels: usize,
    /// The latent grid is `image_size / latent_downsample` on a side.
    pub latent_downsample: usize,
    /// The decoder upsamples z (nearest) by this factor before its backbone.
    pub decoder_z_upsample: usize,
    pub encoder: BackboneConfig,
    pub decoder: BackboneConfig,
    pub latent_sampler: BackboneConfig,
    pub flow: BackboneConfig,
    pub loss: LossConfig,
    /// Temperature s of the prior draw x0 = μ + s·max(σ, σ_floor)·ε, the same in training and
    /// sampling.
    pub prior_std_scale: f64,
    /// Reconstructed lever, not in the paper: a floor σ_floor on the σ of the prior draw, so that
    /// an almost deterministic prior (the decoder's σ falls to ~0.05) still leaves the flow model
    /// noise to turn into detail. 0 (the default, and what files without the field mean) draws
    /// from σ as the decoder predicts it. The importance weight keeps the decoder's own σ.
    #[serde(default)]
    pub prior_std_floor: f64,
}

fn level(width: usize, depth: usize, d_head: usize, attention: AttentionKind) -> LevelConfig {
    LevelConfig { width, depth, d_ff: 3 * width, d_head, attention }
}

impl LeDiFlowConfig {
    /// The names accepted by [`LeDiFlowConfig::named`].
    pub const NAMES: [&'static str; 3] = ["tiny", "s64", "s128"];

    pub fn named(name: &str) -> Option<Self> {
        match name {
            "tiny" => Some(Self::tiny()),
            "s64" => Some(Self::s64()),
            "s128" => Some(Self::s128()),
            _ => None,
        }
    }

    /// For tests on the CPU: under 1 M parameters in all four networks, 32×32 images.
    pub fn tiny() -> Self {
        let z = 4;
        let win = AttentionKind::Window { size: 4 };
        Self {
            name: "tiny".into(),
            image_size: 32,
            image_channels: 3,
            latent_channels: z,
            latent_downsample: 8,
            decoder_z_upsample: 2,
            encoder: BackboneConfig {
                in_channels: 3,
                out_channels: 2 * z,
                patch_in: 8,
                patch_out: 1,
                levels: vec![level(48, 1, 16, AttentionKind::Global)],
                mapping: None,
            },
            decoder: BackboneConfig {
                in_channels: z,
                out_channels: 6,
                patch_in: 1,
                patch_out: 4,
                levels: vec![level(48, 1, 16, win), level(64, 1, 16, AttentionKind::Global)],
                mapping: None,
            },
            latent_sampler: BackboneConfig {
                in_channels: z,
                out_channels: z,
                patch_in: 1,
                patch_out: 1,
                levels: vec![level(48, 2, 16, AttentionKind::Global)],
                mapping: Some(MappingConfig { width: 48, depth: 1, d_ff: 96 }),
            },
            flow: BackboneConfig {
                in_channels: 3,
                out_channels: 3,
                patch_in: 2,
                patch_out: 2,
                levels: vec![level(48, 1, 16, win), level(64, 1, 16, AttentionKind::Global)],
                mapping: Some(MappingConfig { width: 64, depth: 1, d_ff: 128 }),
            },
            loss: LossConfig::default(),
            prior_std_scale: 1.0,
            prior_std_floor: 0.0,
        }
    }

    /// The 64×64 model we train first. Patch 4 gives a 16×16 token grid for the flow model.
    pub fn s64() -> Self {
        let z = 4;
        let win = AttentionKind::Window { size: 8 };
        Self {
            name: "s64".into(),
            image_size: 64,
            image_channels: 3,
            latent_channels: z,
            latent_downsample: 8,
            decoder_z_upsample: 2,
            encoder: BackboneConfig {
                in_channels: 3,
                out_channels: 2 * z,
                patch_in: 8,
                patch_out: 1,
                levels: vec![level(128, 3, 32, AttentionKind::Global)],
                mapping: None,
            },
            decoder: BackboneConfig {
                in_channels: z,
                out_channels: 6,
                patch_in: 1,
                patch_out: 4,
                levels: vec![level(96, 2, 32, win), level(160, 2, 32, AttentionKind::Global)],
                mapping: None,
            },
            latent_sampler: BackboneConfig {
                in_channels: z,
                out_channels: z,
                patch_in: 1,
                patch_out: 1,
                levels: vec![level(128, 3, 32, AttentionKind::Global)],
                mapping: Some(MappingConfig { width: 128, depth: 1, d_ff: 256 }),
            },
            flow: BackboneConfig {
                in_channels: 3,
                out_channels: 3,
                patch_in: 4,
                patch_out: 4,
                levels: vec![level(128, 2, 32, win), level(256, 3, 32, AttentionKind::Global)],
                mapping: Some(MappingConfig { width: 256, depth: 1, d_ff: 512 }),
            },
            loss: LossConfig::default(),
            prior_std_scale: 1.0,
            prior_std_floor: 0.0,
        }
    }

    /// 128×128: [`LeDiFlowConfig::s64`] grown by 2 ([`LeDiFlowConfig::grown`]), so every network
    /// keeps s64's token grid (the flow model's patches are 8×8 pixels, as pixel-space
    /// transformers with large patches use at 256 px with 16×16) and a trained s64 run can seed
    /// it (`lediflow grow`). It costs about what s64 costs per image.
    pub fn s128() -> Self {
        let mut c = Self::s64().grown(2).expect("s64 grown by 2 is a valid configuration (tested)");
        c.name = "s128".into();
        c
    }

    pub fn latent_side(&self, image_side: usize) -> usize {
        image_side / self.latent_downsample
    }

    /// Checks that the networks can process images of side `side`.
    pub fn check_image_side(&self, side: usize) -> Result<(), String> {
        if side == 0 || side % self.latent_downsample != 0 {
            return Err(format!(
                "image side {side} is not a multiple of the latent downsampling {}",
                self.latent_downsample
            ));
        }
        let z_side = self.latent_side(side);
        self.encoder.check_input_side(side).map_err(|e| format!("encoder: {e}"))?;
        let enc_grid = side / self.encoder.patch_in;
        if enc_grid * self.encoder.patch_out != z_side {
            return Err(format!(
                "encoder yields a {}-side latent, expected {z_side}",
                enc_grid * self.encoder.patch_out
            ));
        }
        let dec_in = z_side * self.decoder_z_upsample;
        self.decoder.check_input_side(dec_in).map_err(|e| format!("decoder: {e}"))?;
        if dec_in / self.decoder.patch_in * self.decoder.patch_out != side {
            return Err("decoder output side does not match the image side".into());
        }
        self.latent_sampler.check_input_side(z_side).map_err(|e| format!("latent sampler: {e}"))?;
        self.flow.check_input_side(side).map_err(|e| format!("flow: {e}"))?;
        Ok(())
    }
}
