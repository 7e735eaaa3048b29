//! Tests of the model: shapes at every shipped configuration and size, parameter counts and
//! costs, configuration files, and fresh velocity networks.

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};

use super::cost::model_costs;
use super::*;
use crate::testing::cpu;

fn run_all(config: &LeDiFlowConfig, side: usize) {
    let device = cpu();
    let model = LeDiFlowModel::new(config, &device);
    let z = config.latent_side(side);
    let image = Tensor::<4>::random([1, 3, side, side], Distribution::Uniform(-1.0, 1.0), &device);
    let (mean, log_var) = model.encoder.forward(image.clone());
    assert_eq!(mean.dims(), [1, config.latent_channels, z, z], "{} encoder at {side}", config.name);
    assert_eq!(log_var.dims(), mean.dims());
    let (mu, dec_log_var) = model.decoder.forward(mean.clone());
    assert_eq!(mu.dims(), [1, 3, side, side], "{} decoder at {side}", config.name);
    assert_eq!(dec_log_var.dims(), mu.dims());
    let t = Tensor::<1>::full([1], 0.3, &device);
    assert_eq!(model.latent.forward(mean.clone(), t.clone()).dims(), mean.dims(), "{} latent at {side}", config.name);
    assert_eq!(model.flow.forward(image.clone(), t.clone()).dims(), image.dims(), "{} flow at {side}", config.name);
    assert_eq!(model.baseline.forward(image.clone(), t).dims(), image.dims(), "{} baseline at {side}", config.name);
}

#[test]
fn every_shipped_configuration_has_the_right_shapes_at_32_64_and_128() {
    for name in LeDiFlowConfig::NAMES {
        let config = LeDiFlowConfig::named(name).expect("shipped configuration");
        for side in [32, 64, 128] {
            config.check_image_side(side).unwrap_or_else(|e| panic!("{name} at {side}: {e}"));
            run_all(&config, side);
        }
    }
}

#[test]
fn tiny_is_under_a_million_parameters_and_costs_match_the_modules() {
    let config = LeDiFlowConfig::tiny();
    let model = LeDiFlowModel::new(&config, &cpu());
    let networks = [
        ("encoder", model.encoder.num_params()),
        ("decoder", model.decoder.num_params()),
        ("latent", model.latent.num_params()),
        ("flow", model.flow.num_params()),
    ];
    let total: usize = networks.iter().map(|(_, n)| n).sum();
    assert!(total < 1_000_000, "tiny has {total} parameters");
    for config in [LeDiFlowConfig::tiny(), LeDiFlowConfig::s64(), LeDiFlowConfig::s128()] {
        let model = LeDiFlowModel::new(&config, &cpu());
        let actual = [
            model.encoder.num_params(),
            model.decoder.num_params(),
            model.latent.num_params(),
            model.flow.num_params(),
        ];
        for ((name, cost), actual) in model_costs(&config).iter().zip(actual) {
            assert_eq!(cost.params as usize, actual, "{} {name}: analytic vs module parameter count", config.name);
        }
    }
}

/// The side of a backbone's bottleneck token grid for an input of side `side`.
fn bottleneck_side(backbone: &BackboneConfig, side: usize) -> usize {
    side / backbone.patch_in >> (backbone.levels.len() - 1)
}

#[test]
fn s128_at_its_own_size_keeps_s64s_token_grids_and_the_shapes_of_every_network() {
    // The shipped s128 at full width: one image through each of the five networks takes about a
    // second on the CPU at the test profile's opt-level, so no narrowed stand-in is needed.
    let config = LeDiFlowConfig::s128();
    config.validate().unwrap_or_else(|e| panic!("s128: {e}"));
    assert_eq!((config.image_size, config.latent_side(config.image_size)), (128, 8));
    // s64 grown by 2: every network sees s64's tokens, so every global attention sees 8×8.
    let small = LeDiFlowConfig::s64();
    let z_side = config.latent_side(128);
    assert_eq!(z_side, small.latent_side(64));
    for ((name, backbone, side), (_, small_backbone, small_side)) in [
        ("encoder", &config.encoder, 128),
        ("decoder", &config.decoder, z_side * config.decoder_z_upsample),
        ("latent sampler", &config.latent_sampler, z_side),
        ("flow", &config.flow, 128),
    ]
    .into_iter()
    .zip([
        ("encoder", &small.encoder, 64),
        ("decoder", &small.decoder, z_side * small.decoder_z_upsample),
        ("latent sampler", &small.latent_sampler, z_side),
        ("flow", &small.flow, 64),
    ]) {
        assert_eq!(side / backbone.patch_in, small_side / small_backbone.patch_in, "s128 {name} token grid");
        assert_eq!(backbone.levels, small_backbone.levels, "s128 {name} levels");
        assert_eq!(bottleneck_side(backbone, side), 8, "s128 {name}");
        assert_eq!(backbone.levels.last().map(|l| l.attention), Some(AttentionKind::Global), "s128 {name}");
    }

    let device = cpu();
    device.seed(128);
    let model = LeDiFlowModel::new(&config, &device);
    let image = Tensor::<4>::random([1, 3, 128, 128], Distribution::Uniform(-1.0, 1.0), &device);
    let t = Tensor::<1>::full([1], 0.5, &device);
    let finite = |x: &Tensor<4>, what: &str| {
        let largest = x.clone().abs().max().into_scalar::<f32>();
        assert!(largest.is_finite(), "s128 {what}: {largest}");
    };
    let (mean, log_var) = model.encoder.forward(image.clone());
    assert_eq!(mean.dims(), [1, 4, 8, 8], "encoder mean");
    assert_eq!(log_var.dims(), [1, 4, 8, 8], "encoder log-variance");
    let (mu, dec_log_var) = model.decoder.forward(mean.clone());
    assert_eq!(mu.dims(), [1, 3, 128, 128], "decoder mean");
    assert_eq!(dec_log_var.dims(), [1, 3, 128, 128], "decoder log-variance");
    let latent = model.latent.forward(mean.clone(), t.clone());
    assert_eq!(latent.dims(), [1, 4, 8, 8], "latent sampler");
    let flow = model.flow.forward(image.clone(), t.clone());
    assert_eq!(flow.dims(), [1, 3, 128, 128], "flow");
    let baseline = model.baseline.forward(image, t);
    assert_eq!(baseline.dims(), [1, 3, 128, 128], "baseline");
    for (x, what) in [
        (&mean, "encoder"),
        (&mu, "decoder mean"),
        (&dec_log_var, "decoder log-variance"),
        (&latent, "latent"),
        (&flow, "flow"),
        (&baseline, "baseline"),
    ] {
        finite(x, what);
    }
}

#[test]
fn configurations_round_trip_through_json() {
    for name in LeDiFlowConfig::NAMES {
        let config = LeDiFlowConfig::named(name).expect("shipped configuration");
        let json = serde_json::to_string(&config).expect("serialize");
        let back: LeDiFlowConfig = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, config);
    }
}

#[test]
fn files_without_the_prior_floor_read_as_no_floor() {
    let mut json = serde_json::to_value(LeDiFlowConfig::s64()).expect("serialize");
    json.as_object_mut().expect("object").remove("prior_std_floor");
    let back: LeDiFlowConfig = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, LeDiFlowConfig::s64());
}

#[test]
fn impossible_sizes_are_rejected_before_running() {
    let config = LeDiFlowConfig::s64();
    assert!(config.check_image_side(60).is_err());
    assert!(config.check_image_side(0).is_err());
    assert!(config.check_image_side(40).is_err(), "a 10-token grid cannot hold 8-token windows");
}

#[test]
fn fresh_velocity_networks_output_zero() {
    // Zero-initialised output projections make a fresh model start from v = 0.
    let config = LeDiFlowConfig::tiny();
    let device = cpu();
    let net = VelocityNet::new(&config.flow, &device);
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let v = net.forward(x, Tensor::full([2], 0.5, &device));
    assert_eq!(v.abs().max().into_scalar::<f32>(), 0.0);
}

#[test]
fn a_prepared_network_caches_each_times_condition_and_gives_the_same_velocity() {
    let (config, mut model) = crate::testing::perturbed_tiny(7);
    let device = cpu();
    let side = config.image_size / config.latent_downsample;
    let x = Tensor::<4>::random([3, config.latent_channels, side, side], Distribution::Normal(0.0, 1.0), &device);
    let uncached = |net: &VelocityNet, t: f64| net.forward(x.clone(), Tensor::full([3], t, &device));
    let gap = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
    let (early, late) = (uncached(&model.latent, 0.25), uncached(&model.latent, 0.75));
    // The fixture can show a condition taken at the wrong time.
    assert!(gap(early.clone(), late.clone()) > 1e-3, "t barely changes the velocity: {}", gap(early, late));
    model.prepare_for_inference();
    let cache = model.latent.backbone.conditions.clone().expect("prepared");
    for (t, want) in [(0.25, &early), (0.75, &late), (0.25, &early)] {
        let got = model.latent.forward_at(x.clone(), t);
        assert!(gap(got, want.clone()) < 1e-5, "t = {t}");
    }
    assert_eq!(cache.len(), 2, "one entry per time, reused");
}

#[test]
fn an_advanced_evaluation_is_its_base_plus_the_scaled_velocity() {
    let (config, model) = crate::testing::perturbed_tiny(11);
    let device = cpu();
    let layout = model.flow.token_layout();
    let r = config.image_size;
    let tokens = layout.tokens(Tensor::<4>::random([2, 3, r, r], Distribution::Normal(0.0, 1.0), &device));
    let base = Tensor::<4>::random(tokens.dims(), Distribution::Normal(0.0, 1.0), &device);
    let velocity = model.flow.tokens_at(tokens.clone(), 0.4);
    // The fixture can show a velocity dropped or taken unscaled.
    assert!(velocity.clone().abs().max().into_scalar::<f32>() > 1e-3, "a perturbed network moves");
    let got = model.flow.advanced_tokens_at(tokens, 0.4, &base, -0.3);
    let want = base + velocity.mul_scalar(-0.3);
    assert_eq!(got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
}

#[test]
fn host_tokens_are_the_devices_patch_tokens() {
    let device = cpu();
    for (patch, channels, side) in [(1, 4, 3), (2, 3, 4), (4, 3, 8)] {
        let layout = super::hourglass::TokenLayout { patch, channels };
        let shape = [2, channels, side * patch, side * patch];
        let values: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| i as f32).collect();
        let (tokens, token_shape) = layout.tokens_on_host(&values, shape).expect("a shape of the layout");
        let on_device = layout.tokens(Tensor::<4>::from_data(burn::tensor::TensorData::new(values, shape), &device));
        assert_eq!(token_shape, on_device.dims(), "patch {patch}");
        assert_eq!(tokens, on_device.into_data().try_to_vec::<f32>().unwrap(), "patch {patch}");
    }
    let layout = super::hourglass::TokenLayout { patch: 2, channels: 3 };
    assert!(layout.tokens_on_host(&[0.0; 2 * 3 * 3 * 3], [2, 3, 3, 3]).is_none(), "2 does not divide 3");
    assert!(layout.tokens_on_host(&[0.0; 2 * 4 * 4 * 4], [2, 4, 4, 4]).is_none(), "4 channels, not 3");
    assert!(layout.tokens_on_host(&[0.0; 5], [2, 3, 4, 4]).is_none(), "too few values");
}

#[test]
fn the_decoder_takes_the_latent_samplers_tokens_as_it_takes_latents() {
    let (config, model) = crate::testing::perturbed_tiny(13);
    let device = cpu();
    let side = config.latent_side(config.image_size);
    let z = Tensor::<4>::random([2, config.latent_channels, side, side], Distribution::Normal(0.0, 1.0), &device);
    let layout = model.latent.token_layout();
    let (mu, log_var) = model.decoder.forward(z.clone());
    let (mu_t, log_var_t) = model.decoder.forward_latent_tokens(layout.tokens(z), layout);
    let bits = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
    // The fixture can show a transposed or unscaled grid: μ varies across the image.
    assert!(mu.clone().var(3).max().into_scalar::<f32>() > 1e-6);
    assert_eq!(bits(mu_t), bits(mu));
    assert_eq!(bits(log_var_t), bits(log_var));
}
