//! Train / held-out splits of the procedural landscape stream.
//!
//! Each split is an independent, unbounded stream of images: image `i` of a split is
//! `render_landscape(split.seed(), i, size)`. Scene parameters are drawn from a
//! SplitMix64 stream keyed by `hash(seed, index)`, so the two splits never share an image
//! (the first 1M keys of each are checked disjoint in the tests). Indices start at 0.

use std::fmt;
use std::str::FromStr;

use super::attributes::LandscapeAttributes;
use super::error::DataError;
use super::landscape::{Landscape, landscape_attributes, render_landscape};
use super::noise::hash2;

/// Seed of the training stream (ASCII "LeDiFlow").
pub const TRAIN_SEED: u64 = 0x4C65_4469_466C_6F77;
/// Seed of the held-out (evaluation) stream (ASCII "HeldOut!").
pub const HELDOUT_SEED: u64 = 0x4865_6C64_4F75_7421;

/// Which procedural stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training images (seed [`TRAIN_SEED`]).
    Train,
    /// Held-out images for evaluation (seed [`HELDOUT_SEED`]); never used in training.
    HeldOut,
}

impl Split {
    /// The stream seed of this split.
    pub fn seed(self) -> u64 {
        match self {
            Split::Train => TRAIN_SEED,
            Split::HeldOut => HELDOUT_SEED,
        }
    }

    /// Short name: `train` or `heldout`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::HeldOut => "heldout",
        }
    }

    /// Image `index` of this split at `size`×`size` (32..=256).
    pub fn render(self, index: u64, size: u32) -> Result<Landscape, DataError> {
        render_landscape(self.seed(), index, size)
    }

    /// Attributes of image `index` without rendering it.
    pub fn attributes(self, index: u64) -> LandscapeAttributes {
        landscape_attributes(self.seed(), index)
    }

    /// The 64-bit key from which image `index`'s scene is sampled.
    pub fn scene_key(self, index: u64) -> u64 {
        hash2(self.seed(), index)
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = DataError;

    /// Accepts `train`, `heldout`, `held-out`, `held_out`, `test`, `eval` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "heldout" | "held-out" | "held_out" | "test" | "eval" => Ok(Split::HeldOut),
            other => Err(DataError::InvalidArgument(format!("unknown split {other:?} (expected train or heldout)"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn splits_are_disjoint() {
        assert_ne!(Split::Train.seed(), Split::HeldOut.seed());
        let n = 1_000_000u64;
        let train: HashSet<u64> = (0..n).map(|i| Split::Train.scene_key(i)).collect();
        assert_eq!(train.len() as u64, n, "train keys collide");
        assert!((0..n).all(|i| !train.contains(&Split::HeldOut.scene_key(i))));
        for i in 0..8 {
            let a = Split::Train.render(i, 32).unwrap();
            let b = Split::HeldOut.render(i, 32).unwrap();
            assert_ne!(a.rgb, b.rgb);
        }
    }

    #[test]
    fn parse_and_display() {
        for s in [Split::Train, Split::HeldOut] {
            assert_eq!(s.to_string().parse::<Split>().unwrap(), s);
        }
        assert_eq!("Held-Out".parse::<Split>().unwrap(), Split::HeldOut);
        assert!("nope".parse::<Split>().is_err());
    }
}
