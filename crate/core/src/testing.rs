//! Helpers shared by the unit tests.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};

use crate::model::{BackboneConfig, LeDiFlowConfig, LeDiFlowModel};

pub fn cpu() -> Device {
    #[allow(deprecated)]
    Device::ndarray()
}

struct Perturb(f64);

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let std = self.0;
        param.map(|t| {
            let noise = t.random_like(Distribution::Normal(0.0, std));
            t + noise
        })
    }
}

/// A tiny model whose zero-initialised layers are perturbed, so every network computes
/// something non-trivial (a fresh model outputs v = 0).
pub fn perturbed_tiny(seed: u64) -> (LeDiFlowConfig, LeDiFlowModel) {
    let config = LeDiFlowConfig::tiny();
    let model = perturbed(&config, seed);
    (config, model)
}

/// A model of any configuration, perturbed as [`perturbed_tiny`] is.
pub fn perturbed(config: &LeDiFlowConfig, seed: u64) -> LeDiFlowModel {
    let device = cpu();
    device.seed(seed);
    LeDiFlowModel::new(config, &device).map(&mut Perturb(0.05))
}

/// `config` with every level and mapping network 32 wide (heads of 16, feed-forward 64): the
/// image size, patches, latent downsampling, levels, depths and attention kinds stay, so the
/// token grids and windows are the configuration's own, at a fraction of its arithmetic. For CPU
/// tests of training and evaluation at a shipped configuration's size, where the full widths
/// take a minute a test (`s128`: 62 s for one step of every stage, 49 s for `lediflow eval`).
pub fn narrow(config: &LeDiFlowConfig) -> LeDiFlowConfig {
    let narrow_backbone = |b: &BackboneConfig| {
        let mut b = b.clone();
        for level in &mut b.levels {
            (level.width, level.d_ff, level.d_head) = (32, 64, 16);
        }
        if let Some(m) = &mut b.mapping {
            (m.width, m.d_ff) = (32, 64);
        }
        b
    };
    LeDiFlowConfig {
        name: format!("{}-narrow", config.name),
        encoder: narrow_backbone(&config.encoder),
        decoder: narrow_backbone(&config.decoder),
        latent_sampler: narrow_backbone(&config.latent_sampler),
        flow: narrow_backbone(&config.flow),
        ..config.clone()
    }
}
