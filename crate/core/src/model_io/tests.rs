//! Tests of the model file layer: round trips, streaming, and typed errors for files that do not fit.

use burn::tensor::Tensor;

use super::*;
use crate::testing::{cpu, perturbed_tiny};
use lediflow_format::{QuantPolicy, write_model};

const ALL: [Network; 5] = [Network::Latent, Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline];

fn file(config: &LeDiFlowConfig, model: &LeDiFlowModel, networks: &[Network], policy: QuantPolicy) -> Vec<u8> {
    let tensors = model_tensors(model, networks).expect("collect");
    let config = serde_json::to_value(config).expect("config json");
    write_model(&config, &tensors, policy).expect("write")
}

fn flow_output(model: &LeDiFlowModel) -> Vec<f32> {
    let device = cpu();
    let noise = crate::noise::gaussian(99, crate::noise::Stream::Pixel, 3 * 32 * 32);
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(noise, [1, 3, 32, 32]), &device);
    let v = model.flow.forward(x.clone(), Tensor::full([1], 0.4, &device));
    let (mu, _) = model.decoder.forward(model.encoder.forward(x).0);
    let mut out: Vec<f32> = v.into_data().try_to_vec().expect("f32");
    out.extend(mu.into_data().try_to_vec::<f32>().expect("f32"));
    out
}

#[test]
fn f32_files_reproduce_the_model_exactly() {
    let (config, model) = perturbed_tiny(1);
    let bytes = file(&config, &model, &ALL, QuantPolicy::F32);
    let loaded = load_bytes(&bytes, &cpu()).expect("load");
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.networks.len(), 5);
    assert_eq!(flow_output(&loaded.model), flow_output(&model));
}

#[test]
fn int8_files_stay_close_and_are_smaller() {
    let (config, model) = perturbed_tiny(2);
    let f32_bytes = file(&config, &model, &ALL, QuantPolicy::F32);
    let int8_bytes = file(&config, &model, &ALL, QuantPolicy::Int8);
    assert!(int8_bytes.len() * 3 < f32_bytes.len(), "{} vs {}", int8_bytes.len(), f32_bytes.len());
    let loaded = load_bytes(&int8_bytes, &cpu()).expect("load");
    let (a, b) = (flow_output(&loaded.model), flow_output(&model));
    let rms = |v: &mut dyn Iterator<Item = f32>| {
        let (sum, n) = v.fold((0f64, 0usize), |(s, n), x| (s + (x as f64).powi(2), n + 1));
        (sum / n as f64).sqrt()
    };
    let signal = rms(&mut b.iter().copied());
    let error = rms(&mut a.iter().zip(&b).map(|(x, y)| x - y));
    // About 0.5 % per layer from per-row int8 scales, compounded through ~20 layers.
    assert!(error < 0.05 * signal, "int8 RMS error {error} vs signal {signal}");
}

#[test]
fn streaming_in_small_chunks_gives_the_same_model() {
    let (config, model) = perturbed_tiny(3);
    let bytes = file(&config, &model, &ALL, QuantPolicy::Int8);
    let mut loader = ModelLoader::default();
    let mut last = Progress::default();
    for chunk in bytes.chunks(997) {
        last = loader.push(chunk).expect("push");
    }
    assert_eq!(last.bytes_received, bytes.len() as u64);
    assert_eq!(last.tensors_ready, last.tensors_total.expect("header parsed"));
    let streamed = loader.finish(&cpu()).expect("finish");
    assert_eq!(flow_output(&streamed.model), flow_output(&load_bytes(&bytes, &cpu()).expect("load").model));
}

#[test]
fn a_subset_of_networks_loads_and_reports_what_is_absent() {
    let (config, model) = perturbed_tiny(4);
    let bytes = file(&config, &model, &[Network::Latent, Network::Decoder, Network::Flow], QuantPolicy::F16);
    let loaded = load_bytes(&bytes, &cpu()).expect("load");
    assert!(loaded.require(Network::Flow).is_ok());
    assert!(matches!(loaded.require(Network::Baseline), Err(LoadError::NetworkAbsent(_))));
}

#[test]
fn tensors_that_do_not_fit_the_configuration_are_typed_errors() {
    let (config, model) = perturbed_tiny(5);
    let mut tensors = model_tensors(&model, &[Network::Flow]).expect("collect");
    // Wrong shape.
    let mut bad = tensors.clone();
    let first = &mut bad[0];
    first.shape = vec![first.values.len()];
    let bytes = write_model(&serde_json::to_value(&config).expect("json"), &bad, QuantPolicy::F32).expect("write");
    assert!(matches!(load_bytes(&bytes, &cpu()), Err(LoadError::Shape { .. })), "wrong shape");
    // Missing tensor.
    let removed = tensors.remove(3);
    let bytes = write_model(&serde_json::to_value(&config).expect("json"), &tensors, QuantPolicy::F32).expect("write");
    assert!(matches!(load_bytes(&bytes, &cpu()), Err(LoadError::Missing { .. })), "missing {}", removed.name);
    // A tensor the configuration has no place for.
    tensors.insert(3, removed);
    tensors.push(TensorEntry::new("flow.stray.weight", vec![2, 2], vec![0.0; 4]));
    let bytes = write_model(&serde_json::to_value(&config).expect("json"), &tensors, QuantPolicy::F32).expect("write");
    assert!(matches!(load_bytes(&bytes, &cpu()), Err(LoadError::Unused { .. })));
    // A configuration that is not a LeDiFlow configuration.
    let bytes = write_model(&serde_json::json!({"not": "a config"}), &tensors, QuantPolicy::F32).expect("write");
    assert!(matches!(load_bytes(&bytes, &cpu()), Err(LoadError::Config(_))));
}

#[test]
fn truncated_and_corrupted_files_are_typed_errors() {
    let (config, model) = perturbed_tiny(6);
    let bytes = file(&config, &model, &[Network::Latent], QuantPolicy::Int8);
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(load_bytes(&bytes[..cut], &cpu()), Err(LoadError::Format(_))), "cut at {cut}");
    }
    let mut flipped = bytes.clone();
    let last = flipped.len() - 5;
    flipped[last] ^= 0x10;
    assert!(matches!(load_bytes(&flipped, &cpu()), Err(LoadError::Format(_))));
}

/// The degenerate configurations of issue 24, each written into a file whose data is intact.
#[test]
fn degenerate_configurations_in_a_file_are_refused_as_soon_as_the_header_arrives() {
    let (config, model) = perturbed_tiny(7);
    let tensors = model_tensors(&model, &[Network::Flow]).expect("collect");
    let edits: [(&str, serde_json::Value); 15] = [
        ("/latent_downsample", 0.into()),
        ("/encoder/patch_in", 0.into()),
        ("/flow/levels/0/attention/size", 0.into()),
        ("/decoder/levels", serde_json::json!([])),
        ("/flow/levels/1/d_head", 0.into()),
        ("/latent_channels", 0.into()),
        ("/decoder/patch_out", (1u64 << 62).into()),
        ("/image_size", (1u64 << 32).into()),
        ("/image_size", 4096.into()),
        ("/image_size", (1u64 << 20).into()),
        ("/flow/levels/0/depth", 100_000.into()),
        ("/flow/levels/0/depth", 1_000_000.into()),
        ("/encoder/levels/0/depth", 1_000_000_000u64.into()),
        ("/flow/levels/1/width", 1_000_000_000u64.into()),
        ("/latent_sampler/mapping/width", 0.into()),
    ];
    for (pointer, value) in edits {
        let mut json = serde_json::to_value(&config).expect("json");
        *json.pointer_mut(pointer).expect("field of the tiny configuration") = value.clone();
        let bytes = write_model(&json, &tensors, QuantPolicy::F32).expect("write");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        // The header alone: the file is refused before any of its data is read.
        let mut loader = ModelLoader::default();
        let early = loader.push(&bytes[..8 + header_len]);
        assert!(matches!(early, Err(LoadError::InvalidConfig(_))), "{pointer} = {value}: {:?}", early.err());
        let whole = load_bytes(&bytes, &cpu());
        assert!(matches!(whole, Err(LoadError::InvalidConfig(_))), "{pointer} = {value}: {:?}", whole.err());
    }
}

#[test]
fn the_configurations_of_the_shipped_model_files_validate() {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("models/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ldf") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 3, "shipped model files: {files:?}");
    for path in files {
        let bytes = std::fs::read(&path).expect("read");
        let mut loader = ModelLoader::default();
        loader.push(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// A run that changes only its prior temperature or loss continues from networks trained before
/// (the flow-stage ablation does); a file of other networks is still refused.
#[test]
fn a_file_loads_into_a_model_that_differs_only_in_temperature_or_loss() {
    let (config, model) = perturbed_tiny(6);
    let bytes = file(&config, &model, &[Network::Flow], QuantPolicy::F32);
    let into = |expected: &LeDiFlowConfig| {
        let mut loader = ModelLoader::default();
        loader.push(&bytes).expect("push");
        let fresh = LeDiFlowModel::new(expected, &cpu());
        loader.finish_into(fresh, expected, &cpu())
    };
    let mut tuned = config.clone();
    tuned.prior_std_scale = 4.0;
    tuned.prior_std_floor = 0.1;
    tuned.loss.weighting = crate::model::config::ImportanceWeighting::None;
    let loaded = into(&tuned).expect("same networks");
    assert_eq!(flow_output(&loaded.model)[..3 * 32 * 32], flow_output(&model)[..3 * 32 * 32]);
    assert_eq!(loaded.config.prior_std_scale, config.prior_std_scale, "the file's temperature comes with it");
    let mut wider = config.clone();
    wider.flow.levels[0].d_ff += 16;
    assert!(matches!(into(&wider), Err(LoadError::Config(_))));
    let mut half_size = config.clone();
    half_size.image_size /= 2;
    assert!(matches!(into(&half_size), Err(LoadError::Config(_))), "the geometry must match too");
}

#[test]
fn a_file_loads_into_a_model_whose_other_networks_differ() {
    // A new latent sampler trained on top of the auxiliary networks of an earlier run.
    let (config, model) = perturbed_tiny(7);
    let mut wide_latent = config.clone();
    wide_latent.latent_sampler.levels[0].width += 32;
    wide_latent.latent_sampler.levels[0].d_ff += 32;
    let load = |networks: &[Network]| {
        let bytes = file(&config, &model, networks, QuantPolicy::F32);
        let mut loader = ModelLoader::default();
        loader.push(&bytes).expect("push");
        loader.finish_into(LeDiFlowModel::new(&wide_latent, &cpu()), &wide_latent, &cpu())
    };
    let loaded = load(&[Network::Decoder, Network::Encoder, Network::Flow]).expect("the file's networks match");
    assert_eq!(loaded.config.latent_sampler, wide_latent.latent_sampler, "the model keeps its own latent sampler");
    assert_eq!(flow_output(&loaded.model)[..3 * 32 * 32], flow_output(&model)[..3 * 32 * 32]);
    let refused = load(&[Network::Latent, Network::Flow]);
    assert!(
        matches!(&refused, Err(LoadError::Config(m)) if m.contains("latent")),
        "a file whose latent sampler differs: {:?}",
        refused.as_ref().err()
    );
}

#[test]
fn an_integer_too_large_for_the_platform_names_its_field() {
    let mut value = serde_json::to_value(LeDiFlowConfig::tiny()).expect("json");
    // Past u64: too large for a usize everywhere (on wasm32 anything from 2^32 on is).
    value["flow"]["levels"][0]["depth"] = serde_json::from_str("18446744073709551616").expect("number");
    let error = super::parse_config(&value).expect_err("refused");
    assert!(error.to_string().contains("flow.levels.0.depth"), "{error}");
    value["flow"]["levels"][0]["depth"] = serde_json::json!(-1);
    let error = super::parse_config(&value).expect_err("refused");
    assert!(!error.to_string().contains("flow.levels.0.depth ="), "a negative value is serde's own message: {error}");
}
