//! Tests of the configuration validation: the shipped configurations pass, each degenerate edit
//! of the issue is a typed error naming its field, and arbitrary configurations either validate
//! and build within the bounds or are refused, never a panic.

use burn::module::Module;
use burn::tensor::Tensor;
use proptest::prelude::*;

use super::*;
use crate::model::LeDiFlowModel;
use crate::model::cost::model_costs;
use crate::testing::cpu;

/// The field an error names, for asserting which check refused a configuration.
fn field_of(error: &ConfigError) -> String {
    match error {
        ConfigError::OutOfRange { field, .. }
        | ConfigError::Mismatch { field, .. }
        | ConfigError::NotMultiple { field, .. }
        | ConfigError::Number { field, .. }
        | ConfigError::Structure { field, .. } => field.clone(),
        ConfigError::ImageSide(_) => "image side".into(),
        ConfigError::TooManyParameters { .. } => "parameters".into(),
        ConfigError::TooMuchActivation { .. } => "activations".into(),
    }
}

fn refused(config: &LeDiFlowConfig) -> ConfigError {
    match config.validate() {
        Ok(()) => panic!("accepted a configuration that must be refused: {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_shipped_configuration_validates_and_its_count_matches_the_cost_model() {
    for name in LeDiFlowConfig::NAMES {
        let config = LeDiFlowConfig::named(name).expect("shipped configuration");
        config.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        // The five networks: the four of cost.rs and the baseline, the flow model's twin.
        let costs = model_costs(&config);
        let flow = costs.iter().find(|(n, _)| *n == "flow").map(|(_, c)| c.params).expect("flow cost");
        let from_cost: u64 = costs.iter().map(|(_, c)| c.params).sum::<u64>() + flow;
        assert_eq!(parameter_count(&config), from_cost, "{name}");
    }
}

#[test]
fn the_degenerate_configurations_of_the_issue_are_typed_errors_naming_the_field() {
    type Edit = fn(&mut LeDiFlowConfig);
    let s64 = LeDiFlowConfig::s64;
    // A function, so that each closure becomes an `Edit`.
    fn case(what: &'static str, edit: Edit, field: &'static str) -> (&'static str, Edit, &'static str) {
        (what, edit, field)
    }
    let cases = [
        case("latent_downsample 0", |c| c.latent_downsample = 0, "latent_downsample"),
        case("encoder patch_in 0", |c| c.encoder.patch_in = 0, "encoder.patch_in"),
        case("flow patch_in 0", |c| c.flow.patch_in = 0, "flow.patch_in"),
        case(
            "window size 0",
            |c| c.flow.levels[0].attention = AttentionKind::Window { size: 0 },
            "flow.levels[0].attention.size",
        ),
        case("levels []", |c| c.decoder.levels.clear(), "decoder.levels (count)"),
        case("d_head 0", |c| c.flow.levels[1].d_head = 0, "flow.levels[1].d_head"),
        case("latent_channels 0", |c| c.latent_channels = 0, "latent_channels"),
        case("patch_out 2^62", |c| c.decoder.patch_out = 1 << 62, "decoder.patch_out"),
        case("image_size 2^32", |c| c.image_size = 1 << 32, "image_size"),
        case("image_size 4096", |c| c.image_size = 4096, "image_size"),
        case("image_size 2^20", |c| c.image_size = 1 << 20, "image_size"),
        case("depth 10^5", |c| c.flow.levels[0].depth = 100_000, "flow.levels[0].depth"),
        case("depth 10^6", |c| c.latent_sampler.levels[0].depth = 1_000_000, "latent_sampler.levels[0].depth"),
        case("depth 10^9", |c| c.encoder.levels[0].depth = 1_000_000_000, "encoder.levels[0].depth"),
        case("width 10^9", |c| c.flow.levels[1].width = 1_000_000_000, "flow.levels[1].width"),
        case("width not a multiple of d_head", |c| c.flow.levels[1].width = 250, "flow.levels[1].width"),
        case("odd mapping width", |c| c.flow.mapping.as_mut().expect("mapping").width = 255, "flow.mapping.width"),
        case("encoder with a time input", |c| c.encoder.mapping = c.flow.mapping.clone(), "encoder.mapping"),
        case("flow without a time input", |c| c.flow.mapping = None, "flow.mapping"),
        case("encoder fed the wrong channels", |c| c.encoder.in_channels = 4, "encoder.in_channels"),
        case("decoder without the variance", |c| c.decoder.out_channels = 3, "decoder.out_channels"),
        case("flow changes the side", |c| c.flow.patch_out = 2, "flow.patch_out"),
        case("beta NaN", |c| c.loss.beta = f64::NAN, "loss.beta"),
        case("sigma_lo 0", |c| c.loss.sigma_lo = 0.0, "loss.sigma_lo"),
        case("log_var range empty", |c| c.loss.log_var_min = 3.0, "loss.log_var_min"),
        case("log_var_max 1e6", |c| c.loss.log_var_max = 1e6, "loss.log_var_max"),
        case("prior_std_scale inf", |c| c.prior_std_scale = f64::INFINITY, "prior_std_scale"),
        case(
            "logit-normal std 0",
            |c| c.loss.time_sampling = TimeSampling::LogitNormal { mean: 0.0, std: 0.0 },
            "loss.time_sampling.std",
        ),
        case("name of 1 MB", |c| c.name = "x".repeat(1 << 20), "name (bytes)"),
        case("image side not a multiple of the patch", |c| c.image_size = 60, "image side"),
    ];
    for (what, edit, field) in cases {
        let mut config = s64();
        edit(&mut config);
        let error = refused(&config);
        assert_eq!(field_of(&error), field, "{what}: {error}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn the_errors_say_the_bound() {
    let mut config = LeDiFlowConfig::s64();
    config.flow.levels[0].depth = 100_000;
    assert_eq!(refused(&config).to_string(), "flow.levels[0].depth is 100000, must be in 0..=256");
}

#[test]
fn a_model_too_large_in_parameters_is_refused() {
    let mut config = LeDiFlowConfig::s64();
    // Every field within its own bound, together 4 × 2 × 256 × (12 + 4) × 2048² ≈ 68 G.
    for level in &mut config.flow.levels {
        level.width = 2048;
        level.d_ff = 4 * 2048;
        level.depth = 256;
    }
    assert!(matches!(refused(&config), ConfigError::TooManyParameters { .. }));
}

#[test]
fn a_model_too_large_in_activations_is_refused() {
    // s64 at 1024 px: every side divides, but the global bottlenecks see 128² tokens.
    let mut config = LeDiFlowConfig::s64();
    config.image_size = 1024;
    assert!(config.check_image_side(1024).is_ok());
    assert!(matches!(refused(&config), ConfigError::TooMuchActivation { .. }));
}

/// A configuration consistent by construction, small enough to build and run on the CPU in
/// milliseconds: every side and window a power of two, channel counts matching.
#[derive(Debug, Clone)]
struct Shape {
    image_channels: usize,
    latent_channels: usize,
    /// log2 of the latent downsampling and of the latent side.
    downsample_log2: u32,
    z_side_log2: u32,
    z_upsample_log2: u32,
    flow_patch_log2: u32,
    /// Per network: (levels, width heads, d_head, d_ff, depth, window log2 or none).
    levels: [Vec<(usize, usize, usize, usize, Option<u32>)>; 4],
    mapping: [(usize, usize, usize); 2],
}

fn level_strategy() -> impl Strategy<Value = (usize, usize, usize, usize, Option<u32>)> {
    (1usize..=2, prop::sample::select(vec![4usize, 8]), 1usize..=24, 0usize..=2, prop::option::of(0u32..=2))
        .prop_map(|(heads, d_head, d_ff, depth, window)| (heads, d_head, d_ff, depth, window))
}

fn shape_strategy() -> impl Strategy<Value = Shape> {
    let levels = || prop::collection::vec(level_strategy(), 1..=3);
    let mapping = || (1usize..=8, 0usize..=1, 1usize..=16);
    (
        (1usize..=3, 1usize..=4, 0u32..=2, 1u32..=2, 0u32..=1, 0u32..=1),
        [levels(), levels(), levels(), levels()],
        [mapping(), mapping()],
    )
        .prop_map(
            |((image_channels, latent_channels, downsample_log2, z_side_log2, up, flow_patch), levels, mapping)| {
                Shape {
                    image_channels,
                    latent_channels,
                    downsample_log2,
                    z_side_log2,
                    z_upsample_log2: up.min(downsample_log2),
                    flow_patch_log2: flow_patch,
                    levels,
                    mapping,
                }
            },
        )
}

fn backbone(
    input_side: usize,
    in_channels: usize,
    out_channels: usize,
    patch_in: usize,
    patch_out: usize,
    levels: &[(usize, usize, usize, usize, Option<u32>)],
    mapping: Option<(usize, usize, usize)>,
) -> BackboneConfig {
    // As many levels as the token grid can be halved for.
    let mut grid = input_side / patch_in;
    let mut out = Vec::new();
    for &(heads, d_head, d_ff, depth, window) in levels {
        if !out.is_empty() {
            if grid % 2 != 0 || grid < 2 {
                break;
            }
            grid /= 2;
        }
        let attention = window.map_or(AttentionKind::Global, |w| AttentionKind::Window { size: 1 << w });
        out.push(LevelConfig { width: heads * d_head, depth, d_ff, d_head, attention });
    }
    BackboneConfig {
        in_channels,
        out_channels,
        patch_in,
        patch_out,
        levels: out,
        mapping: mapping.map(|(half, depth, d_ff)| MappingConfig { width: 2 * half, depth, d_ff }),
    }
}

fn build_config(shape: &Shape) -> LeDiFlowConfig {
    let (c, z) = (shape.image_channels, shape.latent_channels);
    let downsample = 1usize << shape.downsample_log2;
    let z_side = 1usize << shape.z_side_log2;
    let up = 1usize << shape.z_upsample_log2;
    let side = downsample * z_side;
    let flow_patch = 1usize << shape.flow_patch_log2;
    let mut config = LeDiFlowConfig::tiny();
    config.name = "arbitrary".into();
    config.image_size = side;
    config.image_channels = c;
    config.latent_channels = z;
    config.latent_downsample = downsample;
    config.decoder_z_upsample = up;
    let [enc, dec, lat, flow] = &shape.levels;
    config.encoder = backbone(side, c, 2 * z, downsample, 1, enc, None);
    config.decoder = backbone(z_side * up, z, 2 * c, 1, downsample / up, dec, None);
    config.latent_sampler = backbone(z_side, z, z, 1, 1, lat, Some(shape.mapping[0]));
    config.flow = backbone(side, c, c, flow_patch, flow_patch, flow, Some(shape.mapping[1]));
    config
}

/// One hostile edit: `field` picks what to change, `value` what to put there.
fn mutate(config: &mut LeDiFlowConfig, field: usize, value: usize) {
    let f = [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e300][value % 5];
    let backbone = match field % 4 {
        0 => &mut config.encoder,
        1 => &mut config.decoder,
        2 => &mut config.latent_sampler,
        _ => &mut config.flow,
    };
    let level = field % backbone.levels.len().max(1);
    match field % 23 {
        0 => config.image_size = value,
        1 => config.image_channels = value,
        2 => config.latent_channels = value,
        3 => config.latent_downsample = value,
        4 => config.decoder_z_upsample = value,
        5 => backbone.in_channels = value,
        6 => backbone.out_channels = value,
        7 => backbone.patch_in = value,
        8 => backbone.patch_out = value,
        9 => backbone.levels.clear(),
        10 => backbone.levels.iter_mut().for_each(|l| l.width = value),
        11 => backbone.levels.iter_mut().for_each(|l| l.depth = value),
        12 => backbone.levels.iter_mut().for_each(|l| l.d_ff = value),
        13 => backbone.levels.iter_mut().for_each(|l| l.d_head = value),
        14 => {
            if let Some(l) = backbone.levels.get_mut(level) {
                l.attention = AttentionKind::Window { size: value };
            }
        }
        15 => backbone.mapping = Some(MappingConfig { width: value, depth: 1, d_ff: 4 }),
        16 => backbone.mapping = None,
        17 => {
            if let Some(m) = backbone.mapping.as_mut() {
                m.depth = value;
                m.d_ff = value;
            }
        }
        18 => config.loss.beta = f,
        19 => config.loss.sigma_lo = f,
        20 => config.prior_std_floor = f,
        21 => config.loss.time_sampling = TimeSampling::Power { exponent: f },
        _ => config.loss.log_var_max = f,
    }
}

fn hostile_value() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..=9,
        1 => Just(usize::MAX),
        1 => Just(1usize << 62),
        1 => Just(1usize << 32),
        1 => Just(u32::MAX as usize),
        1 => 10usize..=2_000,
    ]
}

/// Builds the model and runs each network once at the configured side: every configuration that
/// validates must do this without a panic, with exactly the parameters `parameter_count` bounds.
fn build_and_run(config: &LeDiFlowConfig) -> Result<(), TestCaseError> {
    let device = cpu();
    let model = LeDiFlowModel::new(config, &device);
    let built = model.encoder.num_params()
        + model.decoder.num_params()
        + model.latent.num_params()
        + model.flow.num_params()
        + model.baseline.num_params();
    prop_assert_eq!(built as u64, parameter_count(config));
    prop_assert!(parameter_count(config) <= MAX_PARAMETERS);
    prop_assert!(activation_bytes(config) <= MAX_ACTIVATION_BYTES);
    let (side, c, z) = (config.image_size, config.image_channels, config.latent_channels);
    let z_side = config.latent_side(side);
    let image = Tensor::<4>::zeros([1, c, side, side], &device);
    let (mean, log_var) = model.encoder.forward(image.clone());
    prop_assert_eq!(mean.dims(), [1, z, z_side, z_side]);
    prop_assert_eq!(log_var.dims(), mean.dims());
    let (mu, _) = model.decoder.forward(mean.clone());
    prop_assert_eq!(mu.dims(), [1, c, side, side]);
    let t = Tensor::<1>::full([1], 0.5, &device);
    prop_assert_eq!(model.latent.forward(mean.clone(), t.clone()).dims(), mean.dims());
    prop_assert_eq!(model.flow.forward(image.clone(), t).dims(), image.dims());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary configurations (consistent ones with up to two hostile edits): each validates
    /// and then builds and runs within the bounds, or is a typed error. A panic anywhere fails.
    #[test]
    fn arbitrary_configurations_validate_and_build_or_are_typed_errors(
        shape in shape_strategy(),
        edits in prop::collection::vec((any::<usize>(), hostile_value()), 0..=2),
    ) {
        let mut config = build_config(&shape);
        for &(field, value) in &edits {
            mutate(&mut config, field, value);
        }
        match config.validate() {
            Ok(()) => build_and_run(&config)?,
            Err(error) => {
                // Only an edit may make a configuration invalid: the generator's own are valid.
                prop_assert!(!edits.is_empty(), "a consistent configuration was refused: {error}\n{config:?}");
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}
