//! The common interface the trainer draws images from, and tensor-layout helpers.

use super::error::DataError;
use super::landscape::{check_size, render_landscape_into};
use super::par::par_map;
use super::split::Split;

/// A source of square RGB8 training images.
pub trait ImageSource: Send + Sync {
    /// Side of the square images it yields.
    fn size(&self) -> u32;
    /// Number of distinct images; None for the unbounded procedural source.
    fn len(&self) -> Option<u64>;
    /// True when the source holds no image (never for the provided sources).
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
    /// Decode/render the images at these indices (wrapping modulo len), in parallel, as
    /// RGB8 HWC (`size * size * 3` bytes each), in the order of `indices`.
    fn batch(&self, indices: &[u64]) -> Result<Vec<Vec<u8>>, DataError>;
}

/// The procedural landscape stream of a split, rendered on the fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedural {
    /// Which stream.
    pub split: Split,
    /// Image side (32..=256).
    pub size: u32,
    /// Worker threads for [`ImageSource::batch`]; 0 = all cores.
    pub threads: usize,
}

impl Procedural {
    /// A procedural source; fails on an unsupported size.
    pub fn new(split: Split, size: u32, threads: usize) -> Result<Self, DataError> {
        check_size(size)?;
        Ok(Self { split, size, threads })
    }
}

impl ImageSource for Procedural {
    fn size(&self) -> u32 {
        self.size
    }

    fn len(&self) -> Option<u64> {
        None
    }

    fn batch(&self, indices: &[u64]) -> Result<Vec<Vec<u8>>, DataError> {
        check_size(self.size)?;
        let n = (self.size as usize) * (self.size as usize) * 3;
        let seed = self.split.seed();
        par_map(indices.len(), self.threads, |i| {
            let mut buf = vec![0u8; n];
            render_landscape_into(seed, indices[i], self.size, &mut buf).map(|_| buf)
        })
        .into_iter()
        .collect()
    }
}

/// RGB8 HWC images → one NCHW `f32` buffer in `[-1, 1]` (`x / 127.5 - 1`).
///
/// # Panics
/// If an image does not hold exactly `size * size * 3` bytes (a programming error: every
/// [`ImageSource`] yields that).
pub fn rgb8_to_chw_f32(images: &[Vec<u8>], size: u32) -> Vec<f32> {
    let hw = (size as usize) * (size as usize);
    let mut out = vec![0.0f32; images.len() * 3 * hw];
    for (img, dst) in images.iter().zip(out.chunks_exact_mut(3 * hw)) {
        assert_eq!(img.len(), 3 * hw, "image is not {size}x{size} RGB8");
        let (r, rest) = dst.split_at_mut(hw);
        let (g, b) = rest.split_at_mut(hw);
        for (p, px) in img.chunks_exact(3).enumerate() {
            r[p] = f32::from(px[0]) / 127.5 - 1.0;
            g[p] = f32::from(px[1]) / 127.5 - 1.0;
            b[p] = f32::from(px[2]) / 127.5 - 1.0;
        }
    }
    out
}

/// NCHW `f32` in `[-1, 1]` → RGB8 HWC images (clamped, rounded; NaN maps to 0). A
/// trailing partial image is ignored.
pub fn chw_f32_to_rgb8(data: &[f32], size: u32) -> Vec<Vec<u8>> {
    let hw = (size as usize) * (size as usize);
    if hw == 0 {
        return Vec::new();
    }
    data.chunks_exact(3 * hw)
        .map(|chw| {
            let mut img = vec![0u8; 3 * hw];
            for c in 0..3 {
                for (p, &x) in chw[c * hw..(c + 1) * hw].iter().enumerate() {
                    img[p * 3 + c] = ((x.clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5) as u8;
                }
            }
            img
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedural_batch_matches_single_renders() {
        let src = Procedural::new(Split::Train, 32, 0).unwrap();
        assert_eq!(src.len(), None);
        assert_eq!(src.size(), 32);
        let idx = [5u64, 0, 5, 1_000_000_007];
        let batch = src.batch(&idx).unwrap();
        assert_eq!(batch.len(), 4);
        for (img, &i) in batch.iter().zip(&idx) {
            assert_eq!(img, &Split::Train.render(i, 32).unwrap().rgb);
        }
        assert_eq!(batch[0], batch[2]);
        assert!(Procedural::new(Split::Train, 8, 1).is_err());
        let bad = Procedural { split: Split::Train, size: 1000, threads: 1 };
        assert!(bad.batch(&[0]).is_err());
    }

    #[test]
    fn chw_roundtrip() {
        let imgs = Procedural::new(Split::HeldOut, 32, 2).unwrap().batch(&[0, 1, 2]).unwrap();
        let t = rgb8_to_chw_f32(&imgs, 32);
        assert_eq!(t.len(), 3 * 3 * 32 * 32);
        assert!(t.iter().all(|&x| (-1.0..=1.0).contains(&x)));
        // Channel-major layout: first plane is the red channel of image 0.
        assert_eq!(t[1], f32::from(imgs[0][3]) / 127.5 - 1.0);
        assert_eq!(t[32 * 32], f32::from(imgs[0][1]) / 127.5 - 1.0);
        assert_eq!(chw_f32_to_rgb8(&t, 32), imgs);
        let odd = chw_f32_to_rgb8(&[f32::NAN, 2.0, -3.0], 1);
        assert_eq!(odd, vec![vec![0, 255, 0]]);
    }
}
