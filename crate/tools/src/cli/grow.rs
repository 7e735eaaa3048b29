//! `lediflow grow`: a new training run for images `factor` times larger, seeded with a trained
//! model's weights (`lediflow_core::model::grow`), so that every stage at the larger size starts
//! from what the smaller model learned.

use std::path::PathBuf;

use clap::Args;

use super::{Backend, CliResult, model_file};
use crate::train::run_dir::{RunDir, RunState};
use crate::train::settings::TrainSettings;
use crate::train::stage::Stage;
use lediflow_core::model::grow::{MAX_GROWTH, grow_model};
use lediflow_core::model_io::model_file_bytes;
use lediflow_format::{Network, QuantPolicy};

#[derive(Debug, Args)]
pub struct GrowArgs {
    /// Trained weights: a run directory, a model directory or an `.ldf` file; repeat it to take
    /// networks from several files of one configuration (the shipped LeDiFlow file and the
    /// baseline's). A later file's networks replace an earlier one's.
    #[arg(long = "from", required = true)]
    pub from: Vec<PathBuf>,
    /// How many times larger the images are on a side.
    #[arg(long, default_value_t = 2, value_parser = super::ranges::count(1, MAX_GROWTH as u32))]
    pub factor: usize,
    /// The training settings of this run's `state.json` (batch, rates, EMA decay, data); the
    /// defaults of `lediflow train` otherwise. Its step counts are not taken: every stage of the
    /// new run starts at step 0.
    #[arg(long)]
    pub settings_from: Option<PathBuf>,
    /// The new configuration's name (`s{side}` by default).
    #[arg(long)]
    pub name: Option<String>,
    /// The storage of the weight files written (f32 or f16: training reads them as f32).
    #[arg(long, default_value = "f32")]
    pub quant: QuantPolicy,
    /// The new run directory (must not hold a run yet).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: GrowArgs) -> CliResult {
    if !matches!(args.quant, QuantPolicy::F32 | QuantPolicy::F16) {
        return Err(format!("--quant {}: a run's weights are f32 or f16", args.quant).into());
    }
    let run = RunDir::new(&args.out);
    if run.exists() {
        return Err(format!("{} already holds a run: grow into a new directory", args.out.display()).into());
    }
    let settings = match &args.settings_from {
        Some(dir) => {
            let source = RunDir::new(dir);
            if !source.exists() {
                return Err(format!("--settings-from {}: no state.json there", dir.display()).into());
            }
            TrainSettings { stage_steps: Default::default(), ..source.read_state()?.settings }
        }
        None => TrainSettings::default(),
    };
    let device = Backend::Cpu.device()?;
    let loaded = model_file::load_many(&args.from, &device)?;
    let mut config = loaded.config.grown(args.factor)?;
    if let Some(name) = args.name {
        config.name = name;
        config.validate()?;
    }
    let model = grow_model(loaded.model, args.factor);
    run.create()?;
    // One part per stage, named as the training lanes name what they bring back (`ema-aux.ldf`
    // holds the encoder and the decoder), so that a lane's part replaces the grown one.
    for stage in Stage::ORDER {
        let networks: Vec<Network> = stage.trains().iter().copied().filter(|n| loaded.networks.contains(n)).collect();
        if networks.is_empty() {
            continue;
        }
        let bytes = model_file_bytes(&model, &config, &networks, args.quant)?;
        let path = args.out.join(format!("ema-{stage}.ldf"));
        std::fs::write(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} ({:.2} MB)", path.display(), bytes.len() as f64 / 1e6);
    }
    run.write_state(&RunState {
        format: RunState::FORMAT,
        config: config.clone(),
        settings,
        stages: Default::default(),
    })?;
    println!(
        "wrote {}: '{}', {}×{} images, every stage at step 0 (train the aux stage first: the others need it)",
        run.state_path().display(),
        config.name,
        config.image_size,
        config.image_size
    );
    Ok(())
}
