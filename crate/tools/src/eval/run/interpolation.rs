//! The interpolation probe: how evenly the frames between two seeds move through the
//! embedding.

use super::super::EvalError;
use super::super::features::embed;
use super::{EvalRequest, InterpolationRow, Reference, log};
use lediflow_core::pipeline::{Method, Pipeline, SampleOptions, SystemClock, to_rgb8};
use lediflow_core::solvers::Solver;

/// One row per method and probe step count.
pub(super) fn interpolation_rows(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
) -> Result<Vec<InterpolationRow>, EvalError> {
    let mut rows = Vec::new();
    if request.interpolation_pairs == 0 {
        return Ok(rows);
    }
    for &method in &request.methods {
        for &steps in &request.probe_steps {
            log(request.progress, &format!("interpolation {method} {steps}"));
            rows.push(interpolation_row(pipeline, reference, method, steps, request.interpolation_pairs)?);
        }
    }
    Ok(rows)
}

fn interpolation_row(
    pipeline: &Pipeline,
    reference: &Reference,
    method: Method,
    steps: usize,
    pairs: usize,
) -> Result<InterpolationRow, EvalError> {
    let clock = SystemClock::default();
    let alphas: Vec<f64> = (0..16).map(|i| i as f64 / 15.0).collect();
    let options = SampleOptions { method, solver: Solver::Heun, steps, ..SampleOptions::default() };
    let (mut length, mut ratio, mut jump) = (0.0, 0.0, 0.0);
    for pair in 0..pairs as u64 {
        let out = pollster::block_on(pipeline.interpolate(
            1_000_000 + 2 * pair,
            1_000_001 + 2 * pair,
            &alphas,
            &options,
            &clock,
        ))?;
        let frames = pollster::block_on(to_rgb8(out.images))?;
        let e = embed(reference.net, &frames, reference.size, &reference.device, reference.batch);
        let dist = |i: usize, j: usize| -> f64 {
            e.row(i).iter().zip(e.row(j)).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt()
        };
        let jumps: Vec<f64> = (0..frames.len() - 1).map(|i| dist(i, i + 1)).collect();
        let total: f64 = jumps.iter().sum();
        length += total;
        ratio += total / dist(0, frames.len() - 1).max(1e-9);
        jump += jumps.iter().cloned().fold(0.0, f64::max) / (total / jumps.len() as f64).max(1e-12);
    }
    let n = pairs.max(1) as f64;
    Ok(InterpolationRow { method, steps, path_length: length / n, path_ratio: ratio / n, max_jump_ratio: jump / n })
}
