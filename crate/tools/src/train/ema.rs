//! An exponential moving average of the weights, used for sampling and export.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use super::stage::Stage;
use lediflow_core::model::LeDiFlowModel;

struct Snapshot(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Snapshot {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().without_autodiff();
        let n = t.shape().num_elements();
        self.0.insert(param.id, t.reshape([n]));
    }
}

struct Blend {
    online: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(online) = self.online.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|ema| {
            let dims = ema.dims();
            ema.mul_scalar(decay) + online.reshape(dims).mul_scalar(1.0 - decay)
        })
    }
}

/// `ema ← decay·ema + (1 − decay)·online` for every parameter of `online` that `ema` shares
/// (by parameter id; the EMA starts as a plain copy of the model).
pub fn update_ema<M: Module>(ema: M, online: &M, decay: f64) -> M {
    let mut snapshot = Snapshot(HashMap::new());
    online.visit(&mut snapshot);
    ema.map(&mut Blend { online: snapshot.0, decay })
}

/// [`update_ema`] of the networks `stage` trains.
pub fn update_stage_ema(stage: Stage, mut ema: LeDiFlowModel, online: &LeDiFlowModel, decay: f64) -> LeDiFlowModel {
    match stage {
        Stage::Aux => {
            ema.encoder = update_ema(ema.encoder, &online.encoder, decay);
            ema.decoder = update_ema(ema.decoder, &online.decoder, decay);
        }
        Stage::Latent => ema.latent = update_ema(ema.latent, &online.latent, decay),
        Stage::Flow => ema.flow = update_ema(ema.flow, &online.flow, decay),
        Stage::Baseline => ema.baseline = update_ema(ema.baseline, &online.baseline, decay),
    }
    ema
}

/// Bias-corrected decay: short runs average over the steps they have, not over zeros.
pub fn ema_decay(target: f64, step: u64) -> f64 {
    target.min((1.0 + step as f64) / (10.0 + step as f64))
}

/// A plain (non-autodiff) copy that shares parameter ids with `model`.
pub fn ema_of(model: &LeDiFlowModel) -> LeDiFlowModel {
    model.valid()
}
