//! Sample grids a person can look at while a run trains.

use burn::tensor::{Device, Tensor, TensorData};

use super::stage::Stage;
use crate::data::{Split, make_grid};
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
use lediflow_core::pipeline::{Method, NoPreview, Pipeline, PipelineError, SampleOptions, SystemClock, to_rgb8};

pub const GRID_SEEDS: [u64; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

/// Rows of 8 images for a stage, from the EMA weights:
/// - aux: held-out images, then the decoder mean of their encoding;
/// - latent: decoder means of latent-sampler draws (the learned prior without the flow);
/// - flow and baseline: LeDiFlow at 2 Heun steps and the baseline at the same NFE (2 Heun
///   steps), each where its networks are trained.
pub fn stage_grid(
    stage: Stage,
    ema: &LeDiFlowModel,
    config: &LeDiFlowConfig,
    trained: &[Stage],
    device: &Device,
) -> Result<image::RgbImage, PipelineError> {
    let pipeline = Pipeline::new(ema, config, device.clone());
    let clock = SystemClock::default();
    let defaults = SampleOptions::default();
    let side = config.image_size;
    let mut rows: Vec<Tensor<4>> = Vec::new();
    match stage {
        Stage::Aux => {
            let mut values = Vec::new();
            for i in 0..GRID_SEEDS.len() as u64 {
                let image = Split::HeldOut.render(i, side as u32).map_err(|e| PipelineError::Options(e.to_string()))?;
                values.extend(crate::data::rgb8_to_chw_f32(&[image.rgb], side as u32));
            }
            let originals = Tensor::<4>::from_data(TensorData::new(values, [GRID_SEEDS.len(), 3, side, side]), device);
            let recon = pollster::block_on(pipeline.reconstruct(originals.clone(), &GRID_SEEDS, &defaults, &clock))?;
            rows.push(originals);
            rows.push(recon.mean);
        }
        Stage::Latent => rows.push(pollster::block_on(pipeline.prior_mean(&GRID_SEEDS, &defaults, &clock))?),
        Stage::Flow | Stage::Baseline => {
            if trained.contains(&Stage::Flow) && trained.contains(&Stage::Latent) {
                rows.push(pollster::block_on(pipeline.sample(&GRID_SEEDS, &defaults, &clock, &mut NoPreview))?.images);
            }
            if trained.contains(&Stage::Baseline) {
                let baseline = SampleOptions { method: Method::Baseline, ..defaults };
                rows.push(pollster::block_on(pipeline.sample(&GRID_SEEDS, &baseline, &clock, &mut NoPreview))?.images);
            }
        }
    }
    let mut images = Vec::new();
    for row in rows {
        images.extend(pollster::block_on(to_rgb8(row))?);
    }
    Ok(make_grid(&images, side as u32, GRID_SEEDS.len() as u32, 2))
}
