//! Helpers shared by the unit tests.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Distribution, Tensor};

use crate::model::{LeDiFlowConfig, LeDiFlowModel};

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
    let device = cpu();
    device.seed(seed);
    let model = LeDiFlowModel::new(&config, &device).map(&mut Perturb(0.05));
    (config, model)
}
