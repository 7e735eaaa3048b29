//! `lediflow info`: sizes and costs of a configuration.

use clap::Args;

use super::CliResult;
use lediflow_core::model::LeDiFlowConfig;
use lediflow_core::model::cost::model_costs;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A shipped configuration name (tiny, s64, s128) or a JSON configuration file.
    #[arg(long, default_value = "s64")]
    pub config: String,
}

pub fn load_config(name_or_path: &str) -> CliResult<LeDiFlowConfig> {
    let config = match LeDiFlowConfig::named(name_or_path) {
        Some(config) => config,
        None => {
            let text = read_bounded(name_or_path).map_err(|e| {
                format!(
                    "'{name_or_path}' is neither a shipped configuration ({}) nor a readable file: {e}",
                    LeDiFlowConfig::NAMES.join(", ")
                )
            })?;
            serde_json::from_str(&text).map_err(|e| format!("{name_or_path}: invalid configuration: {e}"))?
        }
    };
    // Before anything is built from it (sample, export, train, info all come through here).
    config.validate().map_err(|e| format!("{name_or_path}: invalid configuration: {e}"))?;
    Ok(config)
}

/// A configuration is a few kilobytes of JSON; a larger file is refused before it is read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

fn read_bounded(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_CONFIG_BYTES} bytes")));
    }
    Ok(text)
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

pub fn run(args: InfoArgs) -> CliResult {
    let config = load_config(&args.config)?;
    config.check_image_side(config.image_size)?;
    println!(
        "configuration {} — {}×{} images, latent {}×{}×{}",
        config.name,
        config.image_size,
        config.image_size,
        config.latent_channels,
        config.latent_side(config.image_size),
        config.latent_side(config.image_size)
    );
    println!("{:<10} {:>12} {:>14}", "network", "parameters", "MACs/forward");
    let costs = model_costs(&config);
    for (name, cost) in &costs {
        println!("{name:<10} {:>12} {:>14}", human(cost.params), human(cost.macs));
    }
    let total: u64 = costs.iter().map(|(_, c)| c.params).sum();
    println!("{:<10} {:>12}", "total", human(total));
    println!(
        "(the baseline has the flow model's size; one LeDiFlow image costs latent NFE × latent + 1 × decoder + flow NFE × flow)"
    );
    Ok(())
}
