//! `lediflow dataset`: look at and export the procedural landscapes.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CliResult;
use crate::data::{Split, export_dataset_with_progress, preview_grid};
use crate::progress::bar;

#[derive(Debug, Args)]
pub struct DatasetArgs {
    #[command(subcommand)]
    pub command: DatasetCommand,
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Write a grid of landscapes a person can look at.
    Preview {
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::data::MAX_PREVIEW_IMAGES)))]
        n: u32,
        #[arg(long, default_value_t = 64, value_parser = landscape_size())]
        size: u32,
        /// `train` or `heldout`.
        #[arg(long, default_value = "train")]
        split: Split,
        #[arg(long, default_value = "grid.png")]
        out: PathBuf,
    },
    /// Write PNGs and `attributes.csv`.
    Export {
        #[arg(long, value_parser = super::ranges::whole(1, super::ranges::MAX_IMAGES))]
        n: u64,
        #[arg(long, default_value_t = 64, value_parser = landscape_size())]
        size: u32,
        #[arg(long, default_value = "train")]
        split: Split,
        #[arg(long)]
        out: PathBuf,
    },
}

/// The sides the procedural landscapes render at.
fn landscape_size() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(i64::from(crate::data::MIN_SIZE)..=i64::from(crate::data::MAX_SIZE))
}

pub fn run(args: DatasetArgs) -> CliResult {
    match args.command {
        DatasetCommand::Preview { n, size, split, out } => {
            let grid = preview_grid(split, n, size)?;
            grid.save(&out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!("wrote {} ({n} {} images at {size}px)", out.display(), split.name());
        }
        DatasetCommand::Export { n, size, split, out } => {
            let progress = bar(n, "exporting");
            let summary = export_dataset_with_progress(split, n, size, &out, &|done| progress.set_position(done))?;
            progress.finish_and_clear();
            println!("wrote {} images and {} to {}", summary.count, summary.csv.display(), summary.dir.display());
        }
    }
    Ok(())
}
