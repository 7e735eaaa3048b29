//! The inpainting probe: masks, the masked PSNR, and the completed held-out
//! images scored against the reference.

use burn::tensor::{Tensor, TensorData};

use super::super::EvalError;
use super::{EvalRequest, InpaintRow, Reference, chunks, heldout, log};
use crate::data::rgb8_to_chw_f32;
use lediflow_core::noise::splitmix64;
use lediflow_core::pipeline::{NoPreview, Pipeline, SampleOptions, SystemClock, to_rgb8};
use lediflow_core::solvers::Solver;

/// The two kinds of mask the probe uses.
const MASK_KINDS: [&str; 2] = ["box", "free-form"];

/// Mask of image `index` (1 = keep): a box covering a quarter of the image at a random place,
/// or free-form strokes (random walks of a thick brush) covering roughly a quarter.
pub fn mask(kind: &str, size: usize, index: u64) -> Vec<f32> {
    let mut rng = splitmix64(index ^ 0x4D41_534B);
    let mut next = move |n: usize| {
        rng = splitmix64(rng);
        (rng % n.max(1) as u64) as usize
    };
    let mut keep = vec![1f32; size * size];
    if kind == "box" {
        let side = size / 2;
        let (top, left) = (next(size - side + 1), next(size - side + 1));
        for y in top..top + side {
            keep[y * size + left..y * size + left + side].fill(0.0);
        }
        return keep;
    }
    let radius = (size / 16).max(1) as isize;
    let target = size * size / 4;
    let mut holes = 0;
    while holes < target {
        let (mut y, mut x) = (next(size) as isize, next(size) as isize);
        for _ in 0..size {
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    let (py, px) = (y + dy, x + dx);
                    if dy * dy + dx * dx <= radius * radius
                        && (0..size as isize).contains(&py)
                        && (0..size as isize).contains(&px)
                    {
                        let i = py as usize * size + px as usize;
                        holes += (keep[i] == 1.0) as usize;
                        keep[i] = 0.0;
                    }
                }
            }
            y += next(3) as isize - 1;
            x += next(3) as isize - 1;
        }
    }
    keep
}

fn masked_psnr(original: &[Vec<u8>], completed: &[Vec<u8>], masks: &[Vec<f32>]) -> f64 {
    let (mut se, mut count) = (0f64, 0usize);
    for ((a, b), m) in original.iter().zip(completed).zip(masks) {
        for (p, &keep) in m.iter().enumerate() {
            if keep < 0.5 {
                for c in 0..3 {
                    se += (a[p * 3 + c] as f64 - b[p * 3 + c] as f64).powi(2);
                    count += 1;
                }
            }
        }
    }
    10.0 * (255f64.powi(2) / (se / count.max(1) as f64).max(1e-12)).log10()
}

/// For each mask kind, method and probe step count: held-out images (fixed, far from the
/// reference's indices) with a mask's region regenerated, scored.
pub(super) fn inpainting_rows(
    pipeline: &Pipeline,
    reference: &Reference,
    request: &EvalRequest,
) -> Result<Vec<InpaintRow>, EvalError> {
    let mut rows = Vec::new();
    if request.inpaint_images == 0 {
        return Ok(rows);
    }
    let count = request.inpaint_images;
    let side = reference.size as usize;
    let originals = heldout(reference.size, 5_000_000, count)?;
    for kind in MASK_KINDS {
        let masks: Vec<Vec<f32>> = (0..count as u64).map(|i| mask(kind, side, i)).collect();
        for &method in &request.methods {
            for &steps in &request.probe_steps {
                log(request.progress, &format!("inpainting {kind} {method} {steps}"));
                let options = SampleOptions { method, solver: Solver::Heun, steps, ..SampleOptions::default() };
                let completed = inpaint_all(pipeline, reference.size, &originals, &masks, &options, request.batch)?;
                rows.push(InpaintRow {
                    method,
                    mask: kind.to_string(),
                    steps,
                    masked_psnr: masked_psnr(&originals, &completed, &masks),
                    scores: reference.score(&completed)?,
                });
            }
        }
    }
    Ok(rows)
}

/// `originals` with the hidden region of each mask regenerated (seed = the image's index),
/// `batch` images per call.
fn inpaint_all(
    pipeline: &Pipeline,
    size: u32,
    originals: &[Vec<u8>],
    masks: &[Vec<f32>],
    options: &SampleOptions,
    batch: usize,
) -> Result<Vec<Vec<u8>>, EvalError> {
    let side = size as usize;
    let clock = SystemClock::default();
    let mut completed = Vec::with_capacity(originals.len());
    for seeds in chunks(originals.len(), batch) {
        let range = seeds[0] as usize..seeds[0] as usize + seeds.len();
        let image = Tensor::<4>::from_data(
            TensorData::new(rgb8_to_chw_f32(&originals[range.clone()], size), [seeds.len(), 3, side, side]),
            &pipeline.device,
        );
        let keep: Vec<f32> = masks[range].concat();
        let keep = Tensor::<4>::from_data(TensorData::new(keep, [seeds.len(), 1, side, side]), &pipeline.device);
        let out = pollster::block_on(pipeline.inpaint(image, keep, &seeds, options, &clock, &mut NoPreview))?;
        completed.extend(pollster::block_on(to_rgb8(out.images))?);
    }
    Ok(completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_about_a_quarter_and_differ_per_image() {
        for kind in ["box", "free-form"] {
            let m = mask(kind, 64, 3);
            let hidden = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
            assert!((0.24..0.4).contains(&hidden), "{kind}: {hidden}");
            assert!(m.iter().all(|&v| v == 0.0 || v == 1.0));
            assert_eq!(m, mask(kind, 64, 3), "{kind}: deterministic");
            assert_ne!(m, mask(kind, 64, 4), "{kind}: per image");
        }
    }

    #[test]
    fn masked_psnr_only_sees_the_hole() {
        let original = vec![vec![100u8; 4 * 3]];
        let mut completed = original.clone();
        completed[0][0] = 110; // pixel 0, hidden
        completed[0][3] = 0; // pixel 1, kept: ignored
        let masks = vec![vec![0.0, 1.0, 1.0, 1.0]];
        let expected = 10.0 * (255f64.powi(2) / (100.0 / 3.0)).log10();
        assert!((masked_psnr(&original, &completed, &masks) - expected).abs() < 1e-9);
    }
}
