//! The probes that sample no configuration: the data's own noise floor, and each stage of
//! LeDiFlow's chain on its own.

use burn::tensor::{Tensor, TensorData};

use super::super::EvalError;
use super::{EvalRequest, ProbeRow, Reference, heldout, log, seed_chunks};
use crate::data::{ImageSource, Procedural, Split, rgb8_to_chw_f32};
use lediflow_core::pipeline::{Pipeline, SampleOptions, SystemClock, to_rgb8};
use lediflow_core::solvers::Solver;

/// Noise floor and data checks: fresh held-out images vs the reference, the training split
/// vs the reference.
pub(super) fn data_probes(reference: &Reference, request: &EvalRequest) -> Result<Vec<ProbeRow>, EvalError> {
    log(request.progress, "data: held-out vs reference, training split vs reference");
    let size = reference.size;
    let fresh = heldout(size, request.reference as u64, request.n)?;
    let train = Procedural::new(Split::Train, size, 0)?.batch(&(0..request.n as u64).collect::<Vec<_>>())?;
    Ok(vec![
        ProbeRow { name: "held-out (fresh) vs reference".into(), scores: reference.score(&fresh)? },
        ProbeRow { name: "training split vs reference".into(), scores: reference.score(&train)? },
    ])
}

/// The stages of LeDiFlow's chain, each scored on its own: the encoder → decoder round trip
/// of held-out images, the latent sampler's decoded mean, and the prior draw before any flow
/// step.
pub(super) fn stage_probes(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
) -> Result<Vec<ProbeRow>, EvalError> {
    log(request.progress, "per-stage probes");
    let size = reference.size;
    let side = size as usize;
    let clock = SystemClock::default();
    let options = SampleOptions {
        latent_solver: request.latent_solver,
        latent_steps: request.latent_steps,
        latent_time_power: request.latent_time_power,
        latent_temperature: request.latent_temperature,
        ..SampleOptions::default()
    };
    // `reconstruct` also runs the flow; only its μ is read here, so one Euler step.
    let reconstruct_options = SampleOptions { solver: Solver::Euler, steps: 1, ..options.clone() };
    let (mut recon, mut mean, mut prior) = (Vec::new(), Vec::new(), Vec::new());
    for seeds in seed_chunks(request.first_seed, request.n, request.batch) {
        let originals = heldout(size, request.reference as u64 + seeds[0], seeds.len())?;
        let x = Tensor::<4>::from_data(
            TensorData::new(rgb8_to_chw_f32(&originals, size), [seeds.len(), 3, side, side]),
            &pipeline.device,
        );
        let r = pollster::block_on(pipeline.reconstruct(x, &seeds, &reconstruct_options, &clock))?;
        recon.extend(pollster::block_on(to_rgb8(r.mean))?);
        mean.extend(pollster::block_on(to_rgb8(pollster::block_on(pipeline.prior_mean(&seeds, &options, &clock))?))?);
        prior
            .extend(pollster::block_on(to_rgb8(pollster::block_on(pipeline.prior_sample(&seeds, &options, &clock))?))?);
    }
    Ok(vec![
        ProbeRow {
            name: "encoder → decoder μ of held-out images (the prior's ceiling)".into(),
            scores: reference.score(&recon)?,
        },
        ProbeRow { name: "latent sampler → decoder μ".into(), scores: reference.score(&mean)? },
        ProbeRow { name: "prior draw x0 = μ + s·σ·ε (0 flow steps)".into(), scores: reference.score(&prior)? },
    ])
}
