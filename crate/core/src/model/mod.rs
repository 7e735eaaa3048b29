//! The networks: an HDiT-style hourglass transformer and the four LeDiFlow networks built on it.

pub mod attention;
pub mod config;
pub mod cost;
pub mod feedforward;
pub mod grow;
pub mod hourglass;
mod init;
pub mod mapping;
pub mod networks;
pub mod norm;
pub mod precision;
pub mod prior;
pub mod replayed;
pub mod rope;
pub mod validate;

pub use config::{AttentionKind, BackboneConfig, LeDiFlowConfig, LevelConfig, LossConfig, MappingConfig};
pub use networks::{Decoder, Encoder, LeDiFlowModel, VelocityNet};
pub use validate::ConfigError;

#[cfg(test)]
mod tests;
