//! One validation of a model configuration, run by every entry (a weight file's header, the
//! CLI's `--config`, the trainer, the browser's `load`) before anything is built.
//!
//! A configuration is data from outside (a JSON file, a weight file's header), so every field is
//! bounded here before any code divides by it, multiplies it or allocates by it. The checks run in
//! an order that keeps each one safe: single fields first (so that later arithmetic cannot
//! overflow or divide by zero), then how the fields fit together, then the image side through the
//! networks, and last the size of the whole model (parameters, and activations per image).

use thiserror::Error;

use super::config::{AttentionKind, BackboneConfig, LeDiFlowConfig, LevelConfig, MappingConfig, TimeSampling};

/// Largest image side (pixels).
pub const MAX_IMAGE_SIDE: usize = 2048;
/// Largest number of image or latent channels.
pub const MAX_CHANNELS: usize = 64;
/// Largest patch side of a backbone's input or output, latent downsampling or decoder upsampling.
pub const MAX_FACTOR: usize = 64;
/// Largest number of hourglass levels of one backbone.
pub const MAX_LEVELS: usize = 8;
/// Largest width (token features) of a level or a mapping network.
pub const MAX_WIDTH: usize = 8192;
/// Largest feed-forward hidden size.
pub const MAX_D_FF: usize = 32768;
/// Largest number of blocks of one level or mapping network.
pub const MAX_DEPTH: usize = 256;
/// Longest configuration name (bytes).
pub const MAX_NAME_BYTES: usize = 256;
/// Largest |value| of the decoder's log-variance clamp: exp(±50) stays finite in f32.
pub const MAX_ABS_LOG_VAR: f64 = 50.0;
/// Largest parameter count of all five networks together (the baseline is the flow model's twin):
/// 400 MB of f32, which a browser tab and the trainer's replicas can still hold.
pub const MAX_PARAMETERS: u64 = 100_000_000;
/// Largest estimate of the f32 activations one image needs (see [`activation_bytes`]).
pub const MAX_ACTIVATION_BYTES: u64 = 1 << 30;

/// Why a configuration was refused; each names the field and the bound it broke.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("{field} is {value}, must be in {min}..={max}")]
    OutOfRange { field: String, value: u64, min: u64, max: u64 },
    #[error("{field} is {value}, must be {expected} ({why})")]
    Mismatch { field: String, value: u64, expected: u64, why: &'static str },
    #[error("{field} is {value}, must be a multiple of {divisor} ({why})")]
    NotMultiple { field: String, value: u64, divisor: u64, why: &'static str },
    #[error("{field} is {value}, must be a finite number {bound}")]
    Number { field: String, value: f64, bound: String },
    #[error("{field} {problem}")]
    Structure { field: String, problem: String },
    #[error("the configured image side does not fit the networks: {0}")]
    ImageSide(String),
    #[error("the five networks would hold {count} parameters, more than the bound {max}")]
    TooManyParameters { count: u64, max: u64 },
    #[error("one {side}×{side} image would need about {bytes} bytes of activations, more than the bound {max}")]
    TooMuchActivation { side: usize, bytes: u64, max: u64 },
}

fn range(field: impl Into<String>, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { field: field.into(), value: value as u64, min: min as u64, max: max as u64 })
    }
}

fn equal(field: impl Into<String>, value: usize, expected: usize, why: &'static str) -> Result<(), ConfigError> {
    if value == expected {
        Ok(())
    } else {
        Err(ConfigError::Mismatch { field: field.into(), value: value as u64, expected: expected as u64, why })
    }
}

/// `value` must be finite and satisfy `ok`; `bound` says how, for the message.
fn number(field: &str, value: f64, bound: &str, ok: impl Fn(f64) -> bool) -> Result<(), ConfigError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(ConfigError::Number { field: field.into(), value, bound: bound.into() })
    }
}

impl LeDiFlowConfig {
    /// Checks every field, how they fit together, and the model's size, without allocating
    /// anything that grows with the configuration. Every entry calls this before building a model.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_fields()?;
        self.check_image_side(self.image_size).map_err(ConfigError::ImageSide)?;
        for (field, backbone, side) in self.velocity_nets() {
            // A velocity field's output is added to its input, so it must keep the input's side.
            if side / backbone.patch_in * backbone.patch_out != side {
                return Err(ConfigError::Structure {
                    field: format!("{field}.patch_out"),
                    problem: format!(
                        "({}) must equal {field}.patch_in ({}): a velocity has the shape of its input",
                        backbone.patch_out, backbone.patch_in
                    ),
                });
            }
        }
        let count = parameter_count(self);
        if count > MAX_PARAMETERS {
            return Err(ConfigError::TooManyParameters { count, max: MAX_PARAMETERS });
        }
        let bytes = activation_bytes(self);
        if bytes > MAX_ACTIVATION_BYTES {
            return Err(ConfigError::TooMuchActivation { side: self.image_size, bytes, max: MAX_ACTIVATION_BYTES });
        }
        Ok(())
    }

    fn velocity_nets(&self) -> [(&'static str, &BackboneConfig, usize); 2] {
        let z_side = self.latent_side(self.image_size);
        [("latent_sampler", &self.latent_sampler, z_side), ("flow", &self.flow, self.image_size)]
    }

    /// Each field on its own, and the channel counts that connect the networks.
    fn validate_fields(&self) -> Result<(), ConfigError> {
        range("name (bytes)", self.name.len(), 0, MAX_NAME_BYTES)?;
        range("image_size", self.image_size, 1, MAX_IMAGE_SIDE)?;
        range("image_channels", self.image_channels, 1, MAX_CHANNELS)?;
        range("latent_channels", self.latent_channels, 1, MAX_CHANNELS)?;
        range("latent_downsample", self.latent_downsample, 1, MAX_FACTOR)?;
        range("decoder_z_upsample", self.decoder_z_upsample, 1, MAX_FACTOR)?;
        let (image, latent) = (self.image_channels, self.latent_channels);
        // (field, backbone, in_channels, out_channels, whether it takes a time input)
        let networks: [(&str, &BackboneConfig, usize, usize, bool); 4] = [
            ("encoder", &self.encoder, image, 2 * latent, false),
            ("decoder", &self.decoder, latent, 2 * image, false),
            ("latent_sampler", &self.latent_sampler, latent, latent, true),
            ("flow", &self.flow, image, image, true),
        ];
        for (field, backbone, in_channels, out_channels, timed) in networks {
            validate_backbone(field, backbone, timed)?;
            equal(format!("{field}.in_channels"), backbone.in_channels, in_channels, "what the network is fed")?;
            equal(
                format!("{field}.out_channels"),
                backbone.out_channels,
                out_channels,
                "what the network must produce",
            )?;
        }
        self.validate_numbers()
    }

    fn validate_numbers(&self) -> Result<(), ConfigError> {
        let l = &self.loss;
        number("loss.beta", l.beta, "≥ 0", |v| v >= 0.0)?;
        number("loss.vgl_gamma", l.vgl_gamma, "in [0, 10]", |v| (0.0..=10.0).contains(&v))?;
        let log_var = format!("in [-{MAX_ABS_LOG_VAR}, {MAX_ABS_LOG_VAR}]");
        number("loss.log_var_min", l.log_var_min, &log_var, |v| v.abs() <= MAX_ABS_LOG_VAR)?;
        number("loss.log_var_max", l.log_var_max, &log_var, |v| v.abs() <= MAX_ABS_LOG_VAR)?;
        if l.log_var_min >= l.log_var_max {
            return Err(ConfigError::Number {
                field: "loss.log_var_min".into(),
                value: l.log_var_min,
                bound: format!("below loss.log_var_max ({})", l.log_var_max),
            });
        }
        number("loss.sigma_lo", l.sigma_lo, "> 0", |v| v > 0.0)?;
        number("loss.sigma_hi", l.sigma_hi, &format!("≥ loss.sigma_lo ({})", l.sigma_lo), |v| v >= l.sigma_lo)?;
        match l.time_sampling {
            TimeSampling::Uniform => {}
            TimeSampling::LogitNormal { mean, std } => {
                number("loss.time_sampling.mean", mean, "in [-10, 10]", |v| v.abs() <= 10.0)?;
                number("loss.time_sampling.std", std, "in (0, 10]", |v| v > 0.0 && v <= 10.0)?;
            }
            TimeSampling::Power { exponent } => {
                number("loss.time_sampling.exponent", exponent, "in (0, 100]", |v| v > 0.0 && v <= 100.0)?;
            }
        }
        number("prior_std_scale", self.prior_std_scale, "≥ 0", |v| v >= 0.0)?;
        number("prior_std_floor", self.prior_std_floor, "≥ 0", |v| v >= 0.0)?;
        Ok(())
    }
}

fn validate_backbone(field: &str, backbone: &BackboneConfig, timed: bool) -> Result<(), ConfigError> {
    range(format!("{field}.in_channels"), backbone.in_channels, 1, 2 * MAX_CHANNELS)?;
    range(format!("{field}.out_channels"), backbone.out_channels, 1, 2 * MAX_CHANNELS)?;
    range(format!("{field}.patch_in"), backbone.patch_in, 1, MAX_FACTOR)?;
    range(format!("{field}.patch_out"), backbone.patch_out, 1, MAX_FACTOR)?;
    range(format!("{field}.levels (count)"), backbone.levels.len(), 1, MAX_LEVELS)?;
    for (i, level) in backbone.levels.iter().enumerate() {
        validate_level(&format!("{field}.levels[{i}]"), level)?;
    }
    match (&backbone.mapping, timed) {
        (Some(mapping), true) => validate_mapping(&format!("{field}.mapping"), mapping),
        (None, false) => Ok(()),
        (Some(_), false) => Err(ConfigError::Structure {
            field: format!("{field}.mapping"),
            problem: "must be null: this network has no time input".into(),
        }),
        (None, true) => Err(ConfigError::Structure {
            field: format!("{field}.mapping"),
            problem: "is required: a velocity field is conditioned on the time".into(),
        }),
    }
}

fn validate_level(field: &str, level: &LevelConfig) -> Result<(), ConfigError> {
    range(format!("{field}.width"), level.width, 1, MAX_WIDTH)?;
    range(format!("{field}.depth"), level.depth, 0, MAX_DEPTH)?;
    range(format!("{field}.d_ff"), level.d_ff, 1, MAX_D_FF)?;
    range(format!("{field}.d_head"), level.d_head, 1, level.width)?;
    if level.width % level.d_head != 0 {
        return Err(ConfigError::NotMultiple {
            field: format!("{field}.width"),
            value: level.width as u64,
            divisor: level.d_head as u64,
            why: "the width is split into heads of d_head features",
        });
    }
    if let AttentionKind::Window { size } = level.attention {
        range(format!("{field}.attention.size"), size, 1, MAX_IMAGE_SIDE)?;
    }
    Ok(())
}

fn validate_mapping(field: &str, mapping: &MappingConfig) -> Result<(), ConfigError> {
    range(format!("{field}.width"), mapping.width, 2, MAX_WIDTH)?;
    if mapping.width % 2 != 0 {
        return Err(ConfigError::NotMultiple {
            field: format!("{field}.width"),
            value: mapping.width as u64,
            divisor: 2,
            why: "the time features are cosine and sine pairs",
        });
    }
    range(format!("{field}.depth"), mapping.depth, 0, MAX_DEPTH)?;
    range(format!("{field}.d_ff"), mapping.d_ff, 1, MAX_D_FF)
}

/// Saturating arithmetic: the counts below only need to be compared with a bound, and a product
/// of bounded fields must not overflow on wasm32, where `usize` has 32 bits.
fn mul(factors: &[usize]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f as u64))
}

/// The parameters of one backbone, module by module as `hourglass.rs` builds it (the same
/// count as [`super::cost::backbone_cost`], in arithmetic that cannot overflow).
pub fn backbone_parameters(config: &BackboneConfig) -> u64 {
    let levels = &config.levels;
    let Some(first) = levels.first() else { return 0 };
    let cond = config.mapping.as_ref().map(|m| m.width);
    let mut total = mul(&[config.in_channels, config.patch_in, config.patch_in, first.width]);
    if let Some(m) = &config.mapping {
        // time_in, the norms (in, out, one per block), each block's GEGLU up and down.
        let block = mul(&[m.width, 2, m.d_ff]).saturating_add(mul(&[m.d_ff, m.width])).saturating_add(m.width as u64);
        total = total
            .saturating_add(mul(&[m.width, m.width]))
            .saturating_add(mul(&[2, m.width]))
            .saturating_add(block.saturating_mul(m.depth as u64));
    }
    let level_parameters = |l: &LevelConfig| {
        let modulation = cond.map_or(0, |c| mul(&[2, c, l.width]));
        let block = modulation
            .saturating_add(mul(&[l.width, 3, l.width]))
            .saturating_add(mul(&[l.width, l.width]))
            .saturating_add(mul(&[l.width, 2, l.d_ff]))
            .saturating_add(mul(&[l.d_ff, l.width]))
            .saturating_add((l.width / l.d_head.clamp(1, l.width.max(1))).max(1) as u64);
        block.saturating_mul(l.depth as u64)
    };
    let n = levels.len();
    for (i, level) in levels.iter().enumerate() {
        // Levels above the bottleneck appear twice, on the way down and on the way up.
        let copies = if i + 1 < n { 2 } else { 1 };
        total = total.saturating_add(level_parameters(level).saturating_mul(copies));
    }
    for pair in levels.windows(2) {
        // A merge, a split and the split's lerp factor.
        total = total.saturating_add(mul(&[8, pair[0].width, pair[1].width])).saturating_add(1);
    }
    // The output norm and the output projection.
    total.saturating_add(first.width as u64).saturating_add(mul(&[
        first.width,
        config.out_channels,
        config.patch_out,
        config.patch_out,
    ]))
}

/// The parameters of all five networks (the baseline has the flow model's architecture).
pub fn parameter_count(config: &LeDiFlowConfig) -> u64 {
    [&config.encoder, &config.decoder, &config.latent_sampler, &config.flow, &config.flow]
        .into_iter()
        .fold(0u64, |acc, b| acc.saturating_add(backbone_parameters(b)))
}

/// An estimate of the f32 activations that one forward pass of a backbone on an input of side
/// `side` keeps for a backward pass, per image: per block, the token features after each step
/// (norms, q/k/v, attention output, projections, GEGLU), the attention scores of every head, and
/// the skips and merges between levels. It errs high: it is a bound to refuse configurations by,
/// not a measurement.
fn backbone_activation_floats(config: &BackboneConfig, side: usize) -> u64 {
    let mut grid = side / config.patch_in.max(1);
    let mut total = mul(&[side, side, config.in_channels]);
    let n = config.levels.len();
    for (i, level) in config.levels.iter().enumerate() {
        let tokens = mul(&[grid, grid]);
        let keys = match level.attention {
            AttentionKind::Global => tokens,
            AttentionKind::Window { size } => mul(&[size.min(grid), size.min(grid)]),
        };
        let heads = (level.width / level.d_head.clamp(1, level.width.max(1))).max(1);
        let per_token = mul(&[8, level.width])
            .saturating_add(mul(&[3, level.d_ff]))
            .saturating_add(keys.saturating_mul(heads as u64));
        let copies = if i + 1 < n { 2 } else { 1 };
        let blocks = tokens.saturating_mul(per_token).saturating_mul(level.depth.max(1) as u64);
        // The level's input and output (the skip) are kept as well.
        total = total.saturating_add(
            blocks.saturating_add(mul(&[2, level.width]).saturating_mul(tokens)).saturating_mul(copies),
        );
        grid /= 2;
    }
    let out = mul(&[side / config.patch_in.max(1), side / config.patch_in.max(1)]);
    total.saturating_add(out.saturating_mul(mul(&[config.out_channels, config.patch_out, config.patch_out])))
}

/// Bytes of f32 activations one image needs in the four networks at the configured image size
/// (each at its own input side), by [`backbone_activation_floats`].
pub fn activation_bytes(config: &LeDiFlowConfig) -> u64 {
    let side = config.image_size;
    let z_side = config.latent_side(side);
    let decoder_side = z_side.saturating_mul(config.decoder_z_upsample);
    [
        backbone_activation_floats(&config.encoder, side),
        backbone_activation_floats(&config.decoder, decoder_side),
        backbone_activation_floats(&config.latent_sampler, z_side),
        backbone_activation_floats(&config.flow, side),
    ]
    .into_iter()
    .fold(0u64, |acc, floats| acc.saturating_add(floats.saturating_mul(4)))
}

#[cfg(test)]
mod tests;
