//! `lediflow export`: write a (quantized) `.ldf` model file and report what quantization cost.

use std::path::PathBuf;

use clap::Args;

use super::model_file;
use super::{Backend, CliResult};
use lediflow_core::model::LeDiFlowModel;
use lediflow_core::model_io::{load_bytes, model_tensors};
use lediflow_core::pipeline::{Generated, Method, NoPreview, Pipeline, SampleOptions, SystemClock};
use lediflow_format::{Network, QuantPolicy, WriteOptions, choose_scheme, write_model_with_options};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A training run directory (its `ema.ldf`), a model directory or an `.ldf` file.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Export a randomly initialised model of this configuration instead (for sizes only).
    #[arg(long, conflicts_with = "run")]
    pub untrained: Option<String>,
    /// f32, f16, int8, int4-g32 or int4-g64.
    #[arg(long, default_value = "int8")]
    pub quant: QuantPolicy,
    /// Another storage for one network's tensors, e.g. `latent=int4-g64` (repeatable): the
    /// policy's rule (`--quant`'s) picks each of its tensors' scheme.
    #[arg(long = "quant-network", value_parser = parse_network_policy)]
    pub quant_network: Vec<(Network, QuantPolicy)>,
    /// Networks to include, in any order (the file orders them latent, decoder, encoder, flow, baseline).
    #[arg(long, value_delimiter = ',', default_value = "latent,decoder,encoder,flow,baseline")]
    pub networks: Vec<String>,
    /// Fixed seeds sampled with both the original and the exported weights.
    #[arg(long, default_value_t = 8, value_parser = super::ranges::count(0, 256))]
    pub check_samples: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    #[arg(long)]
    pub out: PathBuf,
}

/// `NETWORK=POLICY`, e.g. `latent=int4-g64`.
fn parse_network_policy(text: &str) -> Result<(Network, QuantPolicy), String> {
    let (network, policy) = text.split_once('=').ok_or_else(|| format!("'{text}' is not NETWORK=POLICY"))?;
    let network = Network::from_prefix(network.trim()).ok_or_else(|| format!("unknown network '{network}'"))?;
    let policy = policy.parse::<QuantPolicy>().map_err(|e| e.to_string())?;
    Ok((network, policy))
}

fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse =
        a.iter().zip(b).map(|(x, y)| ((x.clamp(-1.0, 1.0) - y.clamp(-1.0, 1.0)) as f64 / 2.0).powi(2)).sum::<f64>()
            / a.len().max(1) as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

fn values(g: Generated) -> CliResult<Vec<f32>> {
    Ok(g.images.into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?)
}

pub fn run(args: ExportArgs) -> CliResult {
    let device = args.backend.device()?;
    let (config, model, present) = match (&args.run, &args.untrained) {
        (Some(path), _) => {
            let loaded = model_file::load(path, &device)?;
            (loaded.config, loaded.model, loaded.networks)
        }
        (None, Some(name)) => {
            let config = super::info::load_config(name)?;
            eprintln!("warning: exporting a randomly initialised, UNTRAINED '{}' model", config.name);
            let model = LeDiFlowModel::new(&config, &device);
            (config, model, ALL_NETWORKS.into_iter().collect())
        }
        (None, None) => return Err("give --run DIR (or --untrained CONFIG)".into()),
    };
    let mut networks = Vec::new();
    for name in &args.networks {
        let network = Network::from_prefix(name).ok_or_else(|| format!("unknown network '{name}'"))?;
        if !present.contains(&network) {
            return Err(format!("the source holds no '{name}' network").into());
        }
        networks.push(network);
    }
    let tensors = model_tensors(&model, &networks)?;
    let config_json = serde_json::to_value(&config)?;
    let mut options = WriteOptions::new(args.quant);
    for (network, policy) in &args.quant_network {
        if !networks.contains(network) {
            return Err(format!("--quant-network {network}={policy}: '{network}' is not exported").into());
        }
        for tensor in tensors.iter().filter(|t| Network::of_tensor(&t.name) == Some(*network)) {
            options.overrides.insert(tensor.name.clone(), choose_scheme(&tensor.name, &tensor.shape, *policy));
        }
    }
    let (bytes, report) = write_model_with_options(&config_json, &tensors, &options)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &bytes).map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {} ({:.2} MB, {} quantization, sha256 {})",
        args.out.display(),
        bytes.len() as f64 / 1e6,
        args.quant,
        lediflow_format::sha256_hex(&bytes)
    );
    for (network, size) in &report.per_network_bytes {
        println!("  {network:<9} {:>9.3} MB", *size as f64 / 1e6);
    }
    println!("  max |weight error| {:.3e}", report.max_abs_error);

    if args.check_samples > 0 {
        let quantized = load_bytes(&bytes, &device)?;
        let seeds: Vec<u64> = (0..args.check_samples as u64).collect();
        let clock = SystemClock::default();
        for method in [Method::LeDiFlow, Method::Baseline] {
            let needed = match method {
                Method::LeDiFlow => [Network::Latent, Network::Decoder, Network::Flow].as_slice(),
                Method::Baseline => [Network::Baseline].as_slice(),
            };
            if !needed.iter().all(|n| quantized.networks.contains(n)) {
                continue;
            }
            let options = SampleOptions { method, ..SampleOptions::default() };
            let original = Pipeline::new(&model, &config, device.clone());
            let exported = Pipeline::new(&quantized.model, &quantized.config, device.clone());
            let a = values(pollster::block_on(original.sample(&seeds, &options, &clock, &mut NoPreview))?)?;
            let b = values(pollster::block_on(exported.sample(&seeds, &options, &clock, &mut NoPreview))?)?;
            println!(
                "  {method} samples ({} seeds, heun 2 steps): PSNR exported vs original {:.1} dB",
                seeds.len(),
                psnr(&a, &b)
            );
        }
    }
    Ok(())
}

const ALL_NETWORKS: [Network; 5] =
    [Network::Latent, Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline];

#[cfg(test)]
mod tests {
    use super::*;
    use lediflow_format::{Scheme, read_model};

    fn export(quant_network: Vec<(Network, QuantPolicy)>, networks: &[&str]) -> (CliResult, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("tiny.ldf");
        let args = ExportArgs {
            run: None,
            untrained: Some("tiny".into()),
            quant: QuantPolicy::Int8,
            quant_network,
            networks: networks.iter().map(|n| n.to_string()).collect(),
            check_samples: 0,
            backend: Backend::Cpu,
            out: out.clone(),
        };
        let result = run(args);
        (result, std::fs::read(&out).unwrap_or_default())
    }

    #[test]
    fn one_network_can_take_another_storage_than_the_rest() {
        let (result, bytes) = export(vec![(Network::Latent, QuantPolicy::Int4G64)], &["latent", "flow"]);
        result.expect("export");
        let (header, _) = read_model(&bytes).expect("a valid file");
        let matrices = |network: Network| -> Vec<Scheme> {
            header
                .tensors
                .iter()
                .filter(|t| {
                    t.network == network && t.shape.len() == 2 && t.numel() >= lediflow_format::QUANT_MIN_ELEMENTS
                })
                .map(|t| t.scheme)
                .collect()
        };
        let (latent, flow) = (matrices(Network::Latent), matrices(Network::Flow));
        assert!(!latent.is_empty() && !flow.is_empty());
        assert!(latent.iter().all(|s| *s == Scheme::Int4 { group: 64 }), "latent: {latent:?}");
        assert!(flow.iter().all(|s| *s == Scheme::Int8), "flow: {flow:?}");
    }

    #[test]
    fn a_storage_for_a_network_not_exported_or_unknown_is_refused() {
        let (result, bytes) = export(vec![(Network::Baseline, QuantPolicy::Int4G64)], &["latent"]);
        assert!(result.is_err() && bytes.is_empty(), "nothing written for an override that names no exported network");
        assert!(parse_network_policy("latent=int4-g64").is_ok());
        for bad in ["latent", "lattent=int8", "latent=int3", "=int8"] {
            assert!(parse_network_policy(bad).is_err(), "{bad}");
        }
    }
}
