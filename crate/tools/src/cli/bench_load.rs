//! `lediflow bench-load`: the time from a weight file's bytes in memory to a model whose
//! parameters are ready on the device, per dequantization path, in one run.

use std::path::PathBuf;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use clap::Args;

use super::{Backend, CliResult};
use crate::eval::scores::median;
use lediflow_core::model_io::{Dequantize, LoadedModel, ModelLoader};
use lediflow_format::Network;

#[derive(Debug, Args)]
pub struct BenchLoadArgs {
    /// The `.ldf` file to load.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Dequantization paths to time, comma-separated: gpu (our WGSL), burn (burn's quantized
    /// tensors), host.
    #[arg(long, value_delimiter = ',', default_value = "gpu,burn,host")]
    pub dequantize: Vec<Dequantize>,
    /// Timed loads per path (after one untimed warm-up load); the median is reported.
    #[arg(long, default_value_t = 7, value_parser = super::ranges::count(1, 1000))]
    pub repeats: usize,
}

/// Every parameter, flattened, for a checksum and for the final synchronisation.
#[derive(Default)]
struct Params(Vec<Tensor<1>>);

impl ModuleVisitor for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().flatten(0, D - 1));
    }
}

/// The parameters of the networks the file held (the others keep their random initial values).
fn params(loaded: &LoadedModel) -> Vec<Tensor<1>> {
    let mut v = Params::default();
    let m = &loaded.model;
    for network in &loaded.networks {
        match network {
            Network::Latent => m.latent.visit(&mut v),
            Network::Decoder => m.decoder.visit(&mut v),
            Network::Encoder => m.encoder.visit(&mut v),
            Network::Flow => m.flow.visit(&mut v),
            Network::Baseline => m.baseline.visit(&mut v),
        }
    }
    v.0
}

/// Waits until the device has finished every upload and kernel of the load: a queue runs its
/// work in order, so reading one value of the last parameter is enough.
fn synchronise(loaded: &LoadedModel) -> CliResult {
    if let Some(last) = params(loaded).pop() {
        pollster::block_on(last.slice(0..1).into_data_async())?;
    }
    Ok(())
}

/// FNV-1a over the bits of every parameter, so paths can be compared exactly.
fn checksum(loaded: &LoadedModel) -> CliResult<u64> {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for p in params(loaded) {
        let values = pollster::block_on(p.into_data_async())?.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
        for v in values {
            hash = (hash ^ v.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(hash)
}

pub fn run(args: BenchLoadArgs) -> CliResult {
    let device = args.backend.device()?;
    let bytes = std::fs::read(&args.model).map_err(|e| format!("{}: {e}", args.model.display()))?;
    println!(
        "{} ({} bytes) on {:?}: median of {} loads from memory (parse + SHA-256 + dequantize + upload, synchronised)",
        args.model.display(),
        bytes.len(),
        args.backend,
        args.repeats
    );
    println!(
        "| path | load ms | of which parse ms | tensors on GPU (ours) | by burn | on host | unquantized | checksum |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut reference = None;
    for &path in &args.dequantize {
        let (mut totals, mut parses, mut last) = (vec![], vec![], None);
        for call in 0..=args.repeats {
            let start = std::time::Instant::now();
            let mut loader = ModelLoader::default().with_dequantize(path);
            for chunk in bytes.chunks(1 << 20) {
                loader.push(chunk)?;
            }
            let parsed = start.elapsed();
            let loaded = loader.finish(&device)?;
            synchronise(&loaded)?;
            if call > 0 {
                totals.push(start.elapsed().as_secs_f64() * 1e3);
                parses.push(parsed.as_secs_f64() * 1e3);
            }
            last = Some(loaded);
        }
        let loaded = last.ok_or("no load ran")?;
        let sum = checksum(&loaded)?;
        let same = *reference.get_or_insert(sum) == sum;
        let c = loaded.dequantized;
        println!(
            "| {path:?} | {:.1} | {:.1} | {} | {} | {} | {} | {sum:016x}{} |",
            median(&mut totals),
            median(&mut parses),
            c.gpu,
            c.burn,
            c.host,
            c.unquantized,
            if same { "" } else { " (differs from the first path)" }
        );
    }
    Ok(())
}
