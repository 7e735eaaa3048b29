//! What data-parallel training relies on, checked on the CPU. burn's ndarray backend has no
//! collectives, so the all-reduce itself runs only on CUDA (BENCHMARKS.md has the two-GPU
//! run); here we check that averaging the gradients of equal shards, which is what the
//! all-reduce computes, gives the gradient of the whole batch for every stage: the draws of a
//! step do not depend on the split, and every loss is a mean over the batch.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
use lediflow_tools::data::{ImageSource, Procedural, Split, rgb8_to_chw_f32};
use lediflow_tools::train::batches::StepBatch;
use lediflow_tools::train::draws::DrawSpec;
use lediflow_tools::train::stage_loss::stage_loss;
use lediflow_tools::train::{Stage, TrainError, train};

struct Flatten<'a> {
    grads: &'a GradientsParams,
    values: Vec<f32>,
}

impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.values.extend(grad.into_data().try_to_vec::<f32>().expect("f32 gradients"));
        }
    }
}

fn gradient(model: &LeDiFlowModel, frozen: &LeDiFlowModel, config: &LeDiFlowConfig, batch: &StepBatch) -> Vec<f32> {
    let side = config.image_size;
    let device = common::cpu().autodiff();
    let y = Tensor::<4>::from_data(TensorData::new(batch.images.clone(), [batch.draws.count, 3, side, side]), &device);
    let loss = stage_loss(model, frozen, config, y, &batch.draws);
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut flatten = Flatten { grads: &grads, values: Vec::new() };
    model.visit(&mut flatten);
    flatten.values
}

#[test]
fn the_mean_of_shard_gradients_is_the_whole_batch_gradient() {
    let config = LeDiFlowConfig::tiny();
    let device = common::cpu().autodiff();
    device.seed(3);
    let model = LeDiFlowModel::new(&config, &device).materialize();
    let frozen = model.valid();
    let source = Procedural::new(Split::Train, config.image_size as u32, 0).expect("procedural source");
    let images = source.batch(&[0, 1, 2, 3]).expect("images");
    for stage in Stage::ORDER {
        let batch = StepBatch {
            images: rgb8_to_chw_f32(&images, source.size()),
            draws: DrawSpec::new(stage, 11, &config).draw(5, 0, 4),
        };
        let whole = gradient(&model, &frozen, &config, &batch);
        let halves = [
            gradient(&model, &frozen, &config, &batch.shard(0, 2)),
            gradient(&model, &frozen, &config, &batch.shard(1, 2)),
        ];
        assert!(!whole.is_empty() && whole.len() == halves[0].len(), "{stage}: gradients of the same parameters");
        let scale = whole.iter().fold(0f32, |m, g| m.max(g.abs())).max(1e-12);
        let worst = whole
            .iter()
            .zip(halves[0].iter().zip(&halves[1]))
            .map(|(w, (a, b))| (w - (a + b) / 2.0).abs())
            .fold(0f32, f32::max);
        // Only the order of float additions differs.
        assert!(worst <= 1e-4 * scale, "{stage}: shard mean differs from the whole batch by {worst} (max |g| {scale})");
        let other = gradient(&model, &frozen, &config, &batch.shard(0, 4));
        let moved = whole.iter().zip(&other).map(|(w, o)| (w - o).abs()).fold(0f32, f32::max);
        assert!(moved > 1e-3 * scale, "{stage}: one image's gradient should differ from the batch mean");
    }
}

#[test]
fn a_batch_that_does_not_split_evenly_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut request = common::request(dir.path(), vec![Stage::Aux], 2, false);
    request.settings.batch = 3;
    request.devices = vec![common::cpu(), common::cpu()];
    let err = train(request).err().expect("three images on two devices");
    assert!(matches!(err, TrainError::Invalid(ref m) if m.contains("split evenly")), "{err}");
}
