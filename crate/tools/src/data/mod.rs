//! Training data for LeDiFlow.
//!
//! * [`landscape`]: deterministic procedural landscapes (our LHQ stand-in) with
//!   ground-truth [`LandscapeAttributes`], split into disjoint [`Split::Train`] /
//!   [`Split::HeldOut`] streams: `Split::Train.render(index, size)`.
//! * [`folder`]: users' own PNG / JPEG / WebP folders ([`ImageFolder`]).
//! * [`source`]: the [`ImageSource`] trait the trainer draws batches from, implemented by
//!   [`Procedural`] and [`ImageFolder`], plus NCHW `f32` conversions.
//! * [`grid`] / [`export`]: contact sheets, dataset export (PNGs + `attributes.csv`).
//!
//! Depends only on `std`, `image`, `libm` and `thiserror` (no burn), and refers to its
//! own items through `super::`/`self::` only, so it can be mounted anywhere.

pub mod attributes;
pub mod error;
pub mod export;
pub mod folder;
pub mod grid;
pub mod landscape;
pub mod noise;
pub mod palette;
pub mod par;
mod render;
mod scene;
pub mod source;
pub mod split;

pub use self::attributes::{LandscapeAttributes, MAX_RIDGES};
pub use self::error::DataError;
pub use self::export::{ExportSummary, MAX_PREVIEW_IMAGES, export_dataset, export_dataset_with_progress, preview_grid};
pub use self::folder::{FolderOptions, FolderReport, ImageFolder};
pub use self::grid::make_grid;
pub use self::landscape::{
    Landscape, MAX_SIZE, MIN_SIZE, check_size, landscape_attributes, render_landscape, render_landscape_into,
};
pub use self::source::{ImageSource, Procedural, chw_f32_to_rgb8, rgb8_to_chw_f32};
pub use self::split::{HELDOUT_SEED, Split, TRAIN_SEED};
