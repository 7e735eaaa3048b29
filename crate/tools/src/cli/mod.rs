//! The `lediflow` command-line tool.

mod backend;
mod bench;
mod bench_load;
mod dataset;
mod eval;
mod export;
mod grow;
mod info;
mod model_file;
mod ranges;
mod sample;
mod solve_args;
mod train;

use clap::{Parser, Subcommand};

pub use backend::Backend;

pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Parser)]
#[command(name = "lediflow", version, about = "LeDiFlow: flow matching from a learned prior")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample images into a PNG grid.
    Sample(sample::SampleArgs),
    /// Print parameters and multiply-accumulates per forward pass of each network.
    Info(info::InfoArgs),
    /// Train the LeDiFlow stages and the baseline (resumable).
    Train(train::TrainArgs),
    /// Write a (quantized) `.ldf` model file.
    Export(export::ExportArgs),
    /// Preview or export the procedural landscape dataset.
    Dataset(dataset::DatasetArgs),
    /// Time the sampling chain per method, solver and step count on one device.
    Bench(bench::BenchArgs),
    /// Time loading a weight file onto the device per dequantization path.
    BenchLoad(bench_load::BenchLoadArgs),
    /// Quality × NFE × wall-clock per method, solver and step count (the paper's table).
    Eval(eval::EvalArgs),
    /// Train the evaluation network (once) that `eval` embeds images with.
    EvalNet(eval::EvalNetArgs),
    /// Start a run for images `factor` times larger from a trained model's weights.
    Grow(grow::GrowArgs),
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Sample(args) => sample::run(args),
        Command::Info(args) => info::run(args),
        Command::Dataset(args) => dataset::run(args),
        Command::Export(args) => export::run(args),
        Command::Train(args) => train::run(args),
        Command::Bench(args) => bench::run(args),
        Command::BenchLoad(args) => bench_load::run(args),
        Command::Eval(args) => eval::run(args),
        Command::EvalNet(args) => eval::run_eval_net(args),
        Command::Grow(args) => grow::run(args),
    }
}
