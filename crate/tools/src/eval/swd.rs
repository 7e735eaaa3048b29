//! A network-free check: sliced Wasserstein distance between the multi-scale patch statistics
//! of two image sets (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
//! Stability, and Variation", Appendix D, and their `metrics/sliced_wasserstein.py`).
//!
//! The embedding scores in [`super::scores`] are only as good as the evaluation network; this
//! one looks at pixels alone, so it catches what a network might be blind to (noise, blur,
//! colour casts) and needs no training. Each Laplacian-pyramid level isolates one band of
//! spatial frequencies: SWD on the finest level reacts to noise and lost detail, on the coarsest
//! to colours and layout. We follow Karras's code: 7×7 neighbourhoods, 128 per image and level,
//! each set normalised per channel on its own, 4 × 128 random directions, reported × 10³.

use nalgebra::DMatrixView;

use super::scores::ScoreError;
use crate::data::par::par_map;
use lediflow_core::noise::{Stream, gaussian, splitmix64};

/// Side of the square neighbourhoods (descriptors) taken from each pyramid level.
pub const PATCH: usize = 7;
/// The pyramid stops before a level would be smaller than this (Karras: 16 px).
pub const MIN_LEVEL_SIZE: usize = 16;
/// Values per descriptor: a 7×7 patch of 3 channels.
const DESCRIPTOR_LEN: usize = 3 * PATCH * PATCH;

/// The normalised 5-tap binomial kernel of Burt & Adelson's pyramid, applied along each axis.
const BINOMIAL: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

/// Domain words for the two uses of the hash, so positions and directions never share draws.
const POSITIONS: u64 = 0x5357_4450_6F73_6974; // "SWDPosit"
const DIRECTIONS: u64 = 0x5357_4444_6972_6563; // "SWDDirec"

/// How many descriptors and directions to draw, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwdOptions {
    /// Random 7×7 neighbourhoods per image and pyramid level.
    pub descriptors_per_image: usize,
    /// Random projection directions per repeat.
    pub directions: usize,
    /// Independent sets of directions, averaged.
    pub repeats: usize,
    /// Seed of the neighbourhood positions and of the directions.
    pub seed: u64,
}

impl Default for SwdOptions {
    /// Karras et al.'s settings: 128 neighbourhoods per image, 4 repeats of 128 directions.
    fn default() -> Self {
        Self { descriptors_per_image: 128, directions: 128, repeats: 4, seed: 0 }
    }
}

/// SWD × 10³ per pyramid level (finest first, the Gaussian residual last) and their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct SwdScore {
    pub per_level: Vec<f64>,
    pub mean: f64,
}

/// Sliced Wasserstein distance between the RGB8 images `a` and `b` (each `size`×`size`,
/// row-major interleaved RGB).
///
/// The 1-D Wasserstein distance between two equal-size samples is the mean gap between their
/// sorted values, so projecting onto random directions turns a high-dimensional distance
/// between descriptor distributions into sorts. Both sets must give the same number of
/// descriptors, so the larger set is truncated to the smaller one's image count.
///
/// Deterministic: neighbourhood positions hash `(seed, level, image index, k)` and directions
/// come from [`gaussian`] keyed by `(seed, level, repeat)`. Image i of `a` and image i of `b`
/// share their positions (common random numbers), so SWD(A, A) is exactly 0 and differences
/// between two runs come from the images, not from the draw.
pub fn sliced_wasserstein(
    a: &[Vec<u8>],
    b: &[Vec<u8>],
    size: u32,
    options: &SwdOptions,
) -> Result<SwdScore, ScoreError> {
    if options.descriptors_per_image == 0 || options.directions == 0 || options.repeats == 0 {
        return Err(ScoreError::InvalidArgument(format!("SWD options must all be positive: {options:?}")));
    }
    if (size as usize) < MIN_LEVEL_SIZE {
        return Err(ScoreError::InvalidArgument(format!(
            "SWD needs images of at least {MIN_LEVEL_SIZE} px, got {size}"
        )));
    }
    check_images(a, size)?;
    check_images(b, size)?;
    let count = a.len().min(b.len());
    if count == 0 {
        return Err(ScoreError::TooFewSamples { what: "SWD", need: 1, got: 0 });
    }

    let levels = level_sizes(size as usize);
    let descriptors_a = descriptors(&a[..count], size as usize, levels.len(), options);
    let descriptors_b = descriptors(&b[..count], size as usize, levels.len(), options);
    let per_level: Vec<f64> = (0..levels.len())
        .map(|level| 1e3 * sliced_distance(&descriptors_a[level], &descriptors_b[level], level, options))
        .collect();
    let mean = per_level.iter().sum::<f64>() / per_level.len() as f64;
    Ok(SwdScore { per_level, mean })
}

fn check_images(images: &[Vec<u8>], size: u32) -> Result<(), ScoreError> {
    let expected = (size as usize) * (size as usize) * 3;
    match images.iter().position(|image| image.len() != expected) {
        Some(index) => Err(ScoreError::ImageSize { index, len: images[index].len(), expected, size }),
        None => Ok(()),
    }
}

/// Sides of the pyramid levels: halving (rounding up, as `[::2]` does) while at least 16 px.
/// 64 → [64, 32, 16]; 256 → [256, 128, 64, 32, 16].
fn level_sizes(size: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut side = size;
    while side >= MIN_LEVEL_SIZE {
        sizes.push(side);
        side = side.div_ceil(2);
    }
    sizes
}

fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0, |h, &w| splitmix64(h ^ w))
}

// ---------------------------------------------------------------------------------------------
// Laplacian pyramid
// ---------------------------------------------------------------------------------------------

/// Three square channel planes (CHW), f32 in the raw 0..255 range like Karras's.
#[derive(Debug, Clone, PartialEq)]
struct Planes {
    size: usize,
    data: Vec<f32>,
}

impl Planes {
    fn from_rgb8(rgb: &[u8], size: usize) -> Self {
        let area = size * size;
        let mut data = vec![0.0f32; 3 * area];
        for (p, pixel) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[c * area + p] = f32::from(pixel[c]);
            }
        }
        Self { size, data }
    }

    fn channel(&self, c: usize) -> &[f32] {
        let area = self.size * self.size;
        &self.data[c * area..(c + 1) * area]
    }
}

/// scipy.ndimage's "mirror" boundary, which Karras's `pyr_down` / `pyr_up` use: reflect about
/// the edge sample without repeating it (… 2 1 | 0 1 2 … n−1 | n−2 n−3 …). Valid for
/// overhangs shorter than `n`, and ours are at most 2.
fn mirror(i: isize, n: usize) -> usize {
    let last = n as isize - 1;
    let reflected = if i < 0 {
        -i
    } else if i > last {
        2 * last - i
    } else {
        i
    };
    reflected as usize
}

/// The 5-tap `taps` along every row of a `rows`×`width` plane, keeping every `step`-th output
/// column; returns the plane and its new width.
fn filter_rows(plane: &[f32], rows: usize, width: usize, taps: &[f32; 5], step: usize) -> (Vec<f32>, usize) {
    let out_width = width.div_ceil(step);
    let mut out = vec![0.0f32; rows * out_width];
    for y in 0..rows {
        let row = &plane[y * width..(y + 1) * width];
        for x in 0..out_width {
            let centre = (x * step) as isize;
            out[y * out_width + x] = (0..5).map(|t| taps[t] * row[mirror(centre + t as isize - 2, width)]).sum();
        }
    }
    (out, out_width)
}

fn transpose(plane: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; plane.len()];
    for y in 0..rows {
        for x in 0..cols {
            out[x * rows + y] = plane[y * cols + x];
        }
    }
    out
}

/// Separable filter of a square plane along both axes, keeping every `step`-th sample.
fn filter_2d(plane: &[f32], size: usize, taps: &[f32; 5], step: usize) -> (Vec<f32>, usize) {
    let (horizontal, width) = filter_rows(plane, size, size, taps, step);
    let (vertical_t, height) = filter_rows(&transpose(&horizontal, size, width), width, size, taps, step);
    (transpose(&vertical_t, width, height), width)
}

/// Blur and keep every other pixel (Karras's `pyr_down`, ≈ `cv2.pyrDown`).
fn pyr_down(image: &Planes) -> Planes {
    let mut data = Vec::new();
    let mut size = 0;
    for c in 0..3 {
        let (plane, side) = filter_2d(image.channel(c), image.size, &BINOMIAL, 2);
        data.extend(plane);
        size = side;
    }
    Planes { size, data }
}

/// Place each pixel at even coordinates of a `size`×`size` zero image and blur with the kernel
/// × 4 (× 2 per axis), which restores the mean (Karras's `pyr_up`, ≈ `cv2.pyrUp`). Cropping to
/// `size` covers odd parent sizes, which Karras's code does not support.
fn pyr_up(image: &Planes, size: usize) -> Planes {
    let taps = BINOMIAL.map(|t| 2.0 * t);
    let mut data = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        let source = image.channel(c);
        let mut sparse = vec![0.0f32; size * size];
        for y in (0..size).step_by(2) {
            for x in (0..size).step_by(2) {
                sparse[y * size + x] = source[(y / 2) * image.size + x / 2];
            }
        }
        data.extend(filter_2d(&sparse, size, &taps, 1).0);
    }
    Planes { size, data }
}

/// `levels` Laplacian levels, finest first; the last is the Gaussian residual. Same recurrence
/// as Karras's `generate_laplacian_pyramid`: G_{l+1} = down(G_l), L_l = G_l − up(G_{l+1}).
fn laplacian_pyramid(image: Planes, levels: usize) -> Vec<Planes> {
    let mut pyramid = vec![image];
    for _ in 1..levels {
        let (finer, coarser) = {
            let gaussian = pyramid.last().expect("the pyramid starts with the image");
            let coarser = pyr_down(gaussian);
            let up = pyr_up(&coarser, gaussian.size);
            let detail: Vec<f32> = gaussian.data.iter().zip(&up.data).map(|(g, u)| g - u).collect();
            (Planes { size: gaussian.size, data: detail }, coarser)
        };
        *pyramid.last_mut().expect("non-empty") = finer;
        pyramid.push(coarser);
    }
    pyramid
}

// ---------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------

/// Per level, the descriptors of all images (image after image, each [c][dy][dx]), normalised.
fn descriptors(images: &[Vec<u8>], size: usize, levels: usize, options: &SwdOptions) -> Vec<Vec<f32>> {
    let per_image: Vec<Vec<Vec<f32>>> = par_map(images.len(), 0, |i| {
        let pyramid = laplacian_pyramid(Planes::from_rgb8(&images[i], size), levels);
        pyramid.iter().enumerate().map(|(level, planes)| neighbourhoods(planes, level, i, options)).collect()
    });
    let mut out: Vec<Vec<f32>> = (0..levels)
        .map(|_| Vec::with_capacity(images.len() * options.descriptors_per_image * DESCRIPTOR_LEN))
        .collect();
    for image in per_image {
        for (level, descriptors) in image.into_iter().enumerate() {
            out[level].extend(descriptors);
        }
    }
    for level in &mut out {
        normalise_per_channel(level);
    }
    out
}

/// `descriptors_per_image` 7×7×3 neighbourhoods of one level of image `image`, at hashed centres
/// in [3, size − 4] (Karras: `randint(H, S − H)`), so they never cross the border.
fn neighbourhoods(planes: &Planes, level: usize, image: usize, options: &SwdOptions) -> Vec<f32> {
    let half = PATCH / 2;
    let side = planes.size;
    let span = (side - 2 * half) as u64;
    let mut out = Vec::with_capacity(options.descriptors_per_image * DESCRIPTOR_LEN);
    for k in 0..options.descriptors_per_image {
        let h = hash(&[POSITIONS, options.seed, level as u64, image as u64, k as u64]);
        let cx = half + (h % span) as usize;
        let cy = half + ((h >> 32) % span) as usize;
        for c in 0..3 {
            let channel = planes.channel(c);
            for y in cy - half..=cy + half {
                out.extend_from_slice(&channel[y * side + cx - half..=y * side + cx + half]);
            }
        }
    }
    out
}

/// Karras's `finalize_descriptors`: per channel, subtract the mean and divide by the standard
/// deviation over all descriptors of the set. Each set is normalised on its own, so the score
/// compares the shape of the patch distributions (texture, structure) more than global
/// contrast. A constant channel (std 0) is only centred, where Karras's code would divide by 0.
fn normalise_per_channel(descriptors: &mut [f32]) {
    const CHANNEL: usize = PATCH * PATCH;
    for c in 0..3 {
        let values = || descriptors.chunks_exact(DESCRIPTOR_LEN).flat_map(|d| &d[c * CHANNEL..(c + 1) * CHANNEL]);
        let count = (descriptors.len() / DESCRIPTOR_LEN * CHANNEL) as f64;
        let mean = values().map(|&v| f64::from(v)).sum::<f64>() / count;
        let variance = values().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / count;
        let std = variance.sqrt();
        let scale = if std > 1e-12 { 1.0 / std } else { 1.0 };
        for d in descriptors.chunks_exact_mut(DESCRIPTOR_LEN) {
            for v in &mut d[c * CHANNEL..(c + 1) * CHANNEL] {
                *v = ((f64::from(*v) - mean) * scale) as f32;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sliced Wasserstein distance
// ---------------------------------------------------------------------------------------------

/// Unit directions in descriptor space for one level, repeat after repeat.
fn directions(level: usize, options: &SwdOptions) -> Vec<f32> {
    let mut all = Vec::with_capacity(options.repeats * options.directions * DESCRIPTOR_LEN);
    for repeat in 0..options.repeats {
        let key = hash(&[DIRECTIONS, options.seed, level as u64, repeat as u64]);
        let mut draws = gaussian(key, Stream::Latent, options.directions * DESCRIPTOR_LEN);
        for direction in draws.chunks_exact_mut(DESCRIPTOR_LEN) {
            let norm = direction.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            // A Gaussian draw in 147-d is never near 0; guard anyway rather than divide by it.
            let scale = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
            direction.iter_mut().for_each(|v| *v *= scale);
        }
        all.extend(draws);
    }
    all
}

/// Mean over directions of the 1-D Wasserstein-1 distance between the projections of two
/// equal-size descriptor sets (the mean |gap| between sorted projections). Karras averages
/// per repeat and then over repeats, which is the same mean since repeats are equal-sized.
///
/// Projections are one GEMM per block of directions (matrixmultiply through nalgebra, with the
/// row-major descriptors read through strides); blocks run in parallel and are sized so a block's
/// projections stay around 16 MiB whatever the number of descriptors.
fn sliced_distance(a: &[f32], b: &[f32], level: usize, options: &SwdOptions) -> f64 {
    let n = a.len() / DESCRIPTOR_LEN;
    let dirs = directions(level, options);
    let total = options.repeats * options.directions;
    let block = ((1usize << 22) / n.max(1)).clamp(1, 32);
    let blocks = total.div_ceil(block);

    let xa = DMatrixView::from_slice_with_strides(a, n, DESCRIPTOR_LEN, DESCRIPTOR_LEN, 1);
    let xb = DMatrixView::from_slice_with_strides(b, n, DESCRIPTOR_LEN, DESCRIPTOR_LEN, 1);
    let sums = par_map(blocks, 0, |k| {
        let (first, last) = (k * block, ((k + 1) * block).min(total));
        let w =
            DMatrixView::from_slice(&dirs[first * DESCRIPTOR_LEN..last * DESCRIPTOR_LEN], DESCRIPTOR_LEN, last - first);
        // n × block, column-major: column j holds every descriptor's projection on direction j.
        let (pa, pb) = (xa * w, xb * w);
        pa.as_slice()
            .chunks_exact(n)
            .zip(pb.as_slice().chunks_exact(n))
            .map(|(column_a, column_b)| {
                let (mut sorted_a, mut sorted_b) = (column_a.to_vec(), column_b.to_vec());
                sorted_a.sort_unstable_by(f32::total_cmp);
                sorted_b.sort_unstable_by(f32::total_cmp);
                let gaps: f64 = sorted_a.iter().zip(&sorted_b).map(|(p, q)| f64::from((p - q).abs())).sum();
                gaps / n as f64
            })
            .sum::<f64>()
    });
    sums.iter().sum::<f64>() / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ImageSource, Procedural, Split};

    const SIZE: u32 = 64;

    fn heldout(first: u64, count: u64) -> Vec<Vec<u8>> {
        let source = Procedural::new(Split::HeldOut, SIZE, 0).expect("size");
        source.batch(&(first..first + count).collect::<Vec<_>>()).expect("render")
    }

    /// Adds N(0, σ²) per byte, clamped to 0..=255.
    fn with_noise(images: &[Vec<u8>], sigma: f64) -> Vec<Vec<u8>> {
        images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let noise = gaussian(1_000 + i as u64, Stream::Pixel, image.len());
                image
                    .iter()
                    .zip(noise)
                    .map(|(&v, z)| (f64::from(v) + sigma * f64::from(z)).round().clamp(0.0, 255.0) as u8)
                    .collect()
            })
            .collect()
    }

    /// Box blur of radius r ((2r + 1)² window, clamped at the border).
    fn box_blur(images: &[Vec<u8>], radius: usize) -> Vec<Vec<u8>> {
        let side = SIZE as usize;
        let r = radius as isize;
        images
            .iter()
            .map(|image| {
                let mut out = vec![0u8; image.len()];
                for y in 0..side as isize {
                    for x in 0..side as isize {
                        for c in 0..3 {
                            let (mut sum, mut count) = (0u32, 0u32);
                            for yy in (y - r).max(0)..=(y + r).min(side as isize - 1) {
                                for xx in (x - r).max(0)..=(x + r).min(side as isize - 1) {
                                    sum += u32::from(image[(yy as usize * side + xx as usize) * 3 + c]);
                                    count += 1;
                                }
                            }
                            out[(y as usize * side + x as usize) * 3 + c] = ((sum + count / 2) / count) as u8;
                        }
                    }
                }
                out
            })
            .collect()
    }

    /// A quarter of the default directions keeps each score well under a second at the test
    /// profile's opt-level 1; with 64 images, the image sample, not the directions, dominates
    /// the spread of the score.
    fn swd(a: &[Vec<u8>], b: &[Vec<u8>]) -> SwdScore {
        let options = SwdOptions { directions: 64, repeats: 2, ..SwdOptions::default() };
        sliced_wasserstein(a, b, SIZE, &options).expect("swd")
    }

    #[test]
    fn pyramid_levels_stop_at_16_px() {
        assert_eq!(level_sizes(64), vec![64, 32, 16]);
        assert_eq!(level_sizes(256), vec![256, 128, 64, 32, 16]);
        assert_eq!(level_sizes(33), vec![33, 17]);
    }

    #[test]
    fn mirror_reflects_without_repeating_the_edge() {
        let indices: Vec<usize> = (-2..7).map(|i| mirror(i, 5)).collect();
        assert_eq!(indices, vec![2, 1, 0, 1, 2, 3, 4, 3, 2]);
    }

    #[test]
    fn laplacian_pyramid_of_a_constant_image_is_flat() {
        // The binomial kernel sums to 1 and pyr_up's to 4 over the zero-inserted grid, so a
        // constant image has zero detail at every level and keeps its value in the residual.
        let image = Planes { size: 32, data: vec![100.0; 3 * 32 * 32] };
        let pyramid = laplacian_pyramid(image, 2);
        assert_eq!(pyramid.iter().map(|p| p.size).collect::<Vec<_>>(), vec![32, 16]);
        assert!(pyramid[0].data.iter().all(|v| v.abs() < 1e-4));
        assert!(pyramid[1].data.iter().all(|v| (v - 100.0).abs() < 1e-4));
    }

    #[test]
    fn swd_of_a_set_with_itself_is_zero() {
        let a = heldout(0, 8);
        let score = swd(&a, &a);
        assert_eq!(score.per_level, vec![0.0; 3]);
        assert_eq!(score.mean, 0.0);
    }

    #[test]
    fn swd_between_disjoint_heldout_sets_is_small() {
        let (a, b) = (heldout(0, 64), heldout(64, 64));
        let same = swd(&a, &b);
        let noisy = swd(&a, &with_noise(&b, 24.0));
        let blurred = swd(&a, &box_blur(&b, 2));
        assert_eq!(same.per_level.len(), 3);
        assert!(same.mean > 0.0);
        // With 64 images the coarse levels keep a floor from which landscapes were drawn
        // (colours, layout); the finest level, where noise and blur act, is far below theirs.
        for other in [&noisy, &blurred] {
            assert!(same.per_level[0] < 0.4 * other.per_level[0], "{same:?} vs {other:?}");
            assert!(same.mean < 0.75 * other.mean, "{same:?} vs {other:?}");
        }
    }

    #[test]
    fn swd_grows_with_pixel_noise() {
        let (a, b) = (heldout(0, 64), heldout(64, 64));
        let mut previous = swd(&a, &b).mean;
        for sigma in [8.0, 24.0, 64.0] {
            let value = swd(&a, &with_noise(&b, sigma)).mean;
            assert!(value > previous, "σ = {sigma}: {value} <= {previous}");
            previous = value;
        }
    }

    #[test]
    fn swd_grows_with_blur() {
        let (a, b) = (heldout(0, 64), heldout(64, 64));
        let mut previous = swd(&a, &b).mean;
        for radius in [1, 2, 4] {
            let value = swd(&a, &box_blur(&b, radius)).mean;
            assert!(value > previous, "radius {radius}: {value} <= {previous}");
            previous = value;
        }
    }

    #[test]
    fn swd_is_deterministic_and_truncates_the_larger_set() {
        let (a, b) = (heldout(0, 6), heldout(100, 9));
        let options = SwdOptions { descriptors_per_image: 16, directions: 8, repeats: 2, seed: 3 };
        let first = sliced_wasserstein(&a, &b, SIZE, &options).expect("swd");
        assert_eq!(first, sliced_wasserstein(&a, &b[..6], SIZE, &options).expect("swd"));
        let other_seed = SwdOptions { seed: 4, ..options };
        assert_ne!(first, sliced_wasserstein(&a, &b, SIZE, &other_seed).expect("swd"));
    }

    #[test]
    fn swd_rejects_bad_inputs() {
        let a = heldout(0, 2);
        let options = SwdOptions::default();
        let mut short = a.clone();
        short[1].pop();
        assert!(matches!(
            sliced_wasserstein(&a, &short, SIZE, &options),
            Err(ScoreError::ImageSize { index: 1, len: 12_287, expected: 12_288, size: 64 })
        ));
        assert!(matches!(sliced_wasserstein(&a, &a, 32, &options), Err(ScoreError::ImageSize { index: 0, .. })));
        assert!(matches!(sliced_wasserstein(&a, &[], SIZE, &options), Err(ScoreError::TooFewSamples { .. })));
        assert!(matches!(sliced_wasserstein(&a, &a, 8, &options), Err(ScoreError::InvalidArgument(_))));
        let no_directions = SwdOptions { directions: 0, ..options };
        assert!(matches!(sliced_wasserstein(&a, &a, SIZE, &no_directions), Err(ScoreError::InvalidArgument(_))));
    }
}
