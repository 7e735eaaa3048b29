//! The four training stages: what each trains and which it needs.

use serde::{Deserialize, Serialize};

use lediflow_format::Network;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Encoder and decoder, with VGL + β·KL.
    Aux,
    /// The latent sampler, on the frozen encoder.
    Latent,
    /// The flow model, from the learned prior with 1/σ weighting.
    Flow,
    /// The Gaussian-prior flow model with the same backbone and budget.
    Baseline,
}

impl Stage {
    pub const ORDER: [Stage; 4] = [Stage::Aux, Stage::Latent, Stage::Flow, Stage::Baseline];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Aux => "aux",
            Stage::Latent => "latent",
            Stage::Flow => "flow",
            Stage::Baseline => "baseline",
        }
    }

    /// The networks this stage trains.
    pub fn trains(self) -> &'static [Network] {
        match self {
            Stage::Aux => &[Network::Encoder, Network::Decoder],
            Stage::Latent => &[Network::Latent],
            Stage::Flow => &[Network::Flow],
            Stage::Baseline => &[Network::Baseline],
        }
    }

    /// Stages whose results this one needs.
    pub fn needs(self) -> &'static [Stage] {
        match self {
            Stage::Aux | Stage::Baseline => &[],
            Stage::Latent | Stage::Flow => &[Stage::Aux],
        }
    }
}

impl core::fmt::Display for Stage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
