//! Resolution growth: a trained model turned into one for images `factor` times larger whose
//! every network sees the same token grid, so that training at the larger size starts from what
//! the smaller model learned (progressive-resolution training, with the patch weights resized
//! as FlexiViT does).
//!
//! The patches that touch pixels grow by `factor`: the encoder's and the flow model's input
//! patches, the decoder's and the flow model's output patches. The latent grid keeps its side
//! (the latent downsampling grows too), so the latent sampler is unchanged. Every transformer
//! block, RoPE position and attention window then sees exactly the tokens it saw before.
//!
//! The resized weights make the grown model compute, at step zero, what the small model computes
//! on the image box-downsampled by `factor`, with its images (μ, σ, velocities) upsampled by
//! nearest neighbour: an input patch's weight is spread evenly over the `factor`² pixels that
//! replace each pixel, an output patch's is copied to them.

use burn::nn::Linear;
use burn::tensor::Tensor;

use super::config::LeDiFlowConfig;
use super::hourglass::Backbone;
use super::networks::LeDiFlowModel;
use super::validate::ConfigError;

/// Largest growth factor accepted: a factor that makes a patch larger than the validation's bound
/// is refused by [`LeDiFlowConfig::validate`] anyway; this keeps the message about the factor.
pub const MAX_GROWTH: usize = 8;

impl LeDiFlowConfig {
    /// This configuration for images `factor` times larger on a side, with every network's token
    /// grid unchanged (see the module doc). The name is `s{image side}`.
    pub fn grown(&self, factor: usize) -> Result<Self, ConfigError> {
        if !(1..=MAX_GROWTH).contains(&factor) {
            return Err(ConfigError::OutOfRange {
                field: "growth factor".into(),
                value: factor as u64,
                min: 1,
                max: MAX_GROWTH as u64,
            });
        }
        let mut grown = self.clone();
        grown.image_size *= factor;
        grown.name = format!("s{}", grown.image_size);
        grown.latent_downsample *= factor;
        grown.encoder.patch_in *= factor;
        grown.decoder.patch_out *= factor;
        grown.flow.patch_in *= factor;
        grown.flow.patch_out *= factor;
        grown.validate()?;
        Ok(grown)
    }
}

/// `model` (of any configuration whose [`LeDiFlowConfig::grown`] by `factor` is valid) as a model
/// of the grown configuration, every network present.
pub fn grow_model(model: LeDiFlowModel, factor: usize) -> LeDiFlowModel {
    let LeDiFlowModel { mut encoder, mut decoder, latent, mut flow, mut baseline } = model;
    encoder.backbone = grow_patch_in(encoder.backbone, factor);
    decoder.backbone = grow_patch_out(decoder.backbone, factor);
    flow.backbone = grow_patch_out(grow_patch_in(flow.backbone, factor), factor);
    baseline.backbone = grow_patch_out(grow_patch_in(baseline.backbone, factor), factor);
    LeDiFlowModel { encoder, decoder, latent, flow, baseline }
}

/// The input patch weight `[p·p·C, W]`, its rows ordered (row, column, channel) as
/// [`super::hourglass::patchify`] lays a patch out, becomes `[(f·p)²·C, W]`: each pixel's row
/// repeated over the f×f pixels that replace it and divided by f², so a patch of a nearest- or
/// box-upsampled image embeds as the small patch did.
fn grow_patch_in(mut backbone: Backbone, factor: usize) -> Backbone {
    let p = backbone.p_in;
    let grown = spread_pixel_rows(backbone.patch_in.weight.val(), p, factor) / (factor * factor) as f64;
    backbone.patch_in = with_weight(backbone.patch_in, grown);
    backbone.p_in = p * factor;
    backbone
}

/// The output patch weight `[W, p·p·C]` (and bias) becomes `[W, (f·p)²·C]`: each output pixel's
/// column copied to the f×f pixels that replace it, which upsamples the output by nearest
/// neighbour.
fn grow_patch_out(mut backbone: Backbone, factor: usize) -> Backbone {
    let p = backbone.p_out;
    let grown = spread_pixel_rows(backbone.patch_out.weight.val().swap_dims(0, 1), p, factor).swap_dims(0, 1);
    let bias = backbone.patch_out.bias.as_ref().map(|b| {
        let [columns] = b.dims();
        let spread = spread_pixel_rows(b.val().reshape([columns, 1]), p, factor);
        let [rows, _] = spread.dims();
        spread.reshape([rows])
    });
    let mut layer = with_weight(backbone.patch_out, grown);
    layer.bias = layer.bias.zip(bias).map(|(param, bias)| param.map(|_| bias));
    backbone.patch_out = layer;
    backbone.p_out = p * factor;
    backbone
}

/// Rows `[p·p·C, W]`, ordered (row, column, channel) as a patch lays its pixels out, become
/// `[(f·p)²·C, W]`: each pixel's C rows repeated over the f×f pixels that replace it.
fn spread_pixel_rows(rows: Tensor<2>, p: usize, factor: usize) -> Tensor<2> {
    let [count, width] = rows.dims();
    let channels = count / (p * p);
    // The channel is innermost, so [p, 1, p, 1, C·W] keeps each pixel's C×W block together.
    rows.reshape([p, 1, p, 1, channels * width])
        .expand([p, factor, p, factor, channels * width])
        .reshape([p * factor * p * factor * channels, width])
}

fn with_weight(mut layer: Linear, weight: Tensor<2>) -> Linear {
    layer.weight = layer.weight.map(|_| weight);
    layer
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::model::networks::upsample_nearest;
    use crate::testing::{cpu, perturbed_tiny};

    /// `[B, C, H, W]` averaged over f×f blocks.
    fn box_down(x: Tensor<4>, f: usize) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        x.reshape([b, c, h / f, f, w / f, f]).mean_dim(5).mean_dim(3).reshape([b, c, h / f, w / f])
    }

    fn assert_close(a: Tensor<4>, b: Tensor<4>, what: &str) {
        assert_eq!(a.dims(), b.dims(), "{what}: shapes");
        let scale = b.clone().abs().max().into_scalar::<f32>();
        let error = (a - b).abs().max().into_scalar::<f32>();
        assert!(scale > 1e-3, "{what}: the small model outputs ~0 ({scale}), the check would be vacuous");
        assert!(
            error <= 1e-4 * scale.max(1.0),
            "{what}: grown vs upsampled small model differ by {error} (scale {scale})"
        );
    }

    #[test]
    fn the_grown_model_computes_the_small_models_outputs_on_the_box_downsampled_image() {
        let (config, small) = perturbed_tiny(7);
        let factor = 2;
        let grown_config = config.grown(factor).expect("tiny grows by 2");
        assert_eq!((grown_config.image_size, grown_config.name.as_str()), (64, "s64"));
        let grown = grow_model(small.clone(), factor);
        let device = cpu();
        let side = grown_config.image_size;
        let image = Tensor::<4>::random([2, 3, side, side], Distribution::Uniform(-1.0, 1.0), &device);
        let small_image = box_down(image.clone(), factor);

        let (mean, log_var) = grown.encoder.forward(image.clone());
        let (small_mean, small_log_var) = small.encoder.forward(small_image.clone());
        assert_close(mean.clone(), small_mean, "encoder mean");
        assert_close(log_var, small_log_var, "encoder log-variance");

        let (mu, mu_log_var) = grown.decoder.forward(mean.clone());
        let (small_mu, small_mu_log_var) = small.decoder.forward(mean.clone());
        assert_close(mu, upsample_nearest(small_mu, factor), "decoder mean");
        assert_close(mu_log_var, upsample_nearest(small_mu_log_var, factor), "decoder log-variance");

        let t = Tensor::<1>::from_floats([0.3, 0.8], &device);
        for (name, net, small_net) in
            [("flow", &grown.flow, &small.flow), ("baseline", &grown.baseline, &small.baseline)]
        {
            let velocity = net.forward(image.clone(), t.clone());
            let small_velocity = small_net.forward(small_image.clone(), t.clone());
            assert_close(velocity, upsample_nearest(small_velocity, factor), name);
        }
        // The latent grid keeps its side, so the latent sampler is the same network.
        assert_close(grown.latent.forward(mean.clone(), t.clone()), small.latent.forward(mean, t), "latent sampler");
    }

    #[test]
    fn growth_keeps_every_token_grid_and_refuses_factors_out_of_range() {
        let config = LeDiFlowConfig::tiny();
        for factor in [0, MAX_GROWTH + 1] {
            assert!(
                matches!(config.grown(factor), Err(ConfigError::OutOfRange { ref field, .. }) if field == "growth factor"),
                "factor {factor}"
            );
        }
        assert_eq!(config.grown(1).expect("factor 1"), LeDiFlowConfig { name: "s32".into(), ..config.clone() });
        let grown = config.grown(4).expect("tiny grows by 4");
        assert_eq!(grown.latent_side(grown.image_size), config.latent_side(config.image_size));
        assert_eq!(grown.image_size / grown.flow.patch_in, config.image_size / config.flow.patch_in);
        assert_eq!(grown.image_size / grown.encoder.patch_in, config.image_size / config.encoder.patch_in);
        assert_eq!(grown.decoder.patch_out, 4 * config.decoder.patch_out);
        assert_eq!(grown.latent_sampler, config.latent_sampler);
        // A factor that makes a patch larger than the validation allows is refused by it.
        let mut wide = config.clone();
        wide.encoder.patch_in = 16;
        wide.latent_downsample = 16;
        wide.image_size = 64;
        assert!(wide.grown(8).is_err());
    }
}
