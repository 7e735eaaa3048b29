//! Deterministic integer hashing, a tiny RNG and value noise.
//!
//! Everything here is bit-exact across platforms (including wasm32): randomness comes
//! only from integer hashing (SplitMix64), and the noise functions use only `+ - * /`,
//! `floor` and comparisons on `f32`, which IEEE 754 defines exactly.

use std::sync::OnceLock;

pub use lediflow_core::noise::splitmix64;

/// Side of the (periodic) value-noise lattice table.
const TABLE_SIDE: usize = 256;
const TABLE_MASK: i32 = (TABLE_SIDE as i32) - 1;

/// Hash of two 64-bit words.
#[inline]
pub const fn hash2(a: u64, b: u64) -> u64 {
    splitmix64(a ^ splitmix64(b ^ 0x6A09_E667_F3BC_C909))
}

/// Maps the top 24 bits of a hash to an `f32` in `[0, 1)` (exactly representable).
#[inline]
pub fn unit_f32(h: u64) -> f32 {
    (h >> 40) as f32 * (1.0 / 16_777_216.0)
}

/// A tiny counter-based RNG (SplitMix64 stream).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: splitmix64(seed) }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f32(&mut self) -> f32 {
        unit_f32(self.next_u64())
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f32) -> bool {
        self.f32() < p
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias worth mentioning.
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// Hermite smoothstep; works for `e0 > e1` too (reversed ramp).
#[inline]
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `floor` for `|x| < 2^31` as an integer, without a libm call (exact, branch-light).
#[inline]
pub fn floor_i32(x: f32) -> i32 {
    let i = x as i32;
    if (i as f32) > x { i - 1 } else { i }
}

/// Linear interpolation.
#[inline]
pub fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

fn table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..(TABLE_SIDE * TABLE_SIDE) as u64).map(|i| unit_f32(hash2(0x004C_6544_6946_6C6F, i))).collect()
    })
}

/// Value noise over a fixed periodic 256×256 lattice of hashed values in `[0, 1)`.
///
/// Cheap: one table fetch is hoisted out of the per-pixel loop by holding this handle.
#[derive(Clone, Copy)]
pub struct ValueNoise {
    t: &'static [f32],
}

impl Default for ValueNoise {
    fn default() -> Self {
        Self::new()
    }
}

impl ValueNoise {
    /// Handle to the shared lattice table (built once per process).
    pub fn new() -> Self {
        Self { t: table() }
    }

    #[inline]
    fn at(&self, ix: i32, iy: i32) -> f32 {
        let i = ((iy & TABLE_MASK) as usize) * TABLE_SIDE + (ix & TABLE_MASK) as usize;
        self.t[i]
    }

    /// 1-D value noise in `[0, 1)`; `row` selects an independent lattice row.
    #[inline]
    pub fn noise1(&self, x: f32, row: i32) -> f32 {
        let ix = floor_i32(x);
        let f = x - ix as f32;
        let s = f * f * (3.0 - 2.0 * f);
        lerp(self.at(ix, row), self.at(ix + 1, row), s)
    }

    /// 2-D value noise in `[0, 1)`.
    #[inline]
    pub fn noise2(&self, x: f32, y: f32) -> f32 {
        let ix = floor_i32(x);
        let iy = floor_i32(y);
        let fx = x - ix as f32;
        let fy = y - iy as f32;
        let sx = fx * fx * (3.0 - 2.0 * fx);
        let sy = fy * fy * (3.0 - 2.0 * fy);
        let a = lerp(self.at(ix, iy), self.at(ix + 1, iy), sx);
        let b = lerp(self.at(ix, iy + 1), self.at(ix + 1, iy + 1), sx);
        lerp(a, b, sy)
    }

    /// 2-D fBm (rotated octaves, lacunarity 2, gain 0.5), normalised to `[0, 1)`.
    #[inline]
    pub fn fbm2(&self, mut x: f32, mut y: f32, octaves: u32) -> f32 {
        let mut sum = 0.0;
        let mut amp = 0.5;
        let mut norm = 0.0;
        for _ in 0..octaves {
            sum += amp * self.noise2(x, y);
            norm += amp;
            // Rotate and scale by 2 to hide the lattice axes.
            let nx = 1.6 * x + 1.2 * y + 17.31;
            let ny = -1.2 * x + 1.6 * y + 5.77;
            x = nx;
            y = ny;
            amp *= 0.5;
        }
        sum / norm
    }

    /// `Some(fbm2(x, y, 4))` if that value exceeds `th`, else `None`; bit-identical to
    /// [`Self::fbm2`] but stops after two octaves when the rest cannot reach `th`.
    #[inline]
    pub fn fbm2_4_above(&self, mut x: f32, mut y: f32, th: f32) -> Option<f32> {
        let mut sum = 0.0;
        let mut amp = 0.5;
        let mut norm = 0.0;
        for o in 0..4 {
            if o == 2 && (sum + 0.1875) / 0.9375 <= th {
                return None;
            }
            sum += amp * self.noise2(x, y);
            norm += amp;
            let nx = 1.6 * x + 1.2 * y + 17.31;
            let ny = -1.2 * x + 1.6 * y + 5.77;
            x = nx;
            y = ny;
            amp *= 0.5;
        }
        let v = sum / norm;
        (v > th).then_some(v)
    }

    /// 1-D fBm in `[0, 1)`; `ridged` turns each octave into sharp peaks (`(1-|2n-1|)^2`).
    #[inline]
    pub fn fbm1(&self, x: f32, row: i32, octaves: u32, ridged: bool) -> f32 {
        let mut sum = 0.0;
        let mut amp = 0.5;
        let mut norm = 0.0;
        let mut f = 1.0;
        for o in 0..octaves {
            let n = self.noise1(x * f + 31.7 * o as f32, row + 7 * o as i32);
            let v = if ridged {
                let r = 1.0 - (2.0 * n - 1.0).abs();
                r * r
            } else {
                n
            };
            sum += amp * v;
            norm += amp;
            amp *= 0.5;
            f *= 2.0;
        }
        sum / norm
    }
}

/// 64-bit FNV-1a hash, used by the determinism (golden) tests.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_uniformish() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut sum = 0.0f64;
        for _ in 0..10_000 {
            let x = a.f32();
            assert_eq!(x.to_bits(), b.f32().to_bits());
            assert!((0.0..1.0).contains(&x));
            sum += f64::from(x);
        }
        assert!((sum / 10_000.0 - 0.5).abs() < 0.02);
        for _ in 0..1000 {
            assert!(a.below(5) < 5);
        }
    }

    #[test]
    fn golden_hash_values() {
        // SplitMix64 reference values; these must never change.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(fnv1a64(b"a"), 0xAF63_DC4C_8601_EC8C);
    }

    #[test]
    fn noise_ranges() {
        let n = ValueNoise::new();
        for i in 0..2000 {
            let x = i as f32 * 0.173 - 100.0;
            let y = i as f32 * 0.071 - 30.0;
            for v in [n.noise1(x, 3), n.noise2(x, y), n.fbm2(x, y, 4), n.fbm1(x, 9, 5, true), n.fbm1(x, 9, 5, false)] {
                assert!((0.0..=1.0).contains(&v), "{v}");
            }
        }
    }

    #[test]
    fn fast_floor_matches_floor() {
        for i in -4000..4000 {
            let x = i as f32 * 0.37 + 0.001 * (i % 7) as f32;
            assert_eq!(floor_i32(x), x.floor() as i32, "{x}");
        }
        assert_eq!(floor_i32(-1.0), -1);
        assert_eq!(floor_i32(-0.5), -1);
        assert_eq!(floor_i32(2.0), 2);
    }

    #[test]
    fn early_out_fbm_is_identical() {
        let n = ValueNoise::new();
        for i in 0..5000 {
            let (x, y) = (i as f32 * 0.0137, i as f32 * 0.0291 + 3.0);
            let full = n.fbm2(x, y, 4);
            for th in [0.3, 0.5, 0.6, 0.7] {
                let fast = n.fbm2_4_above(x, y, th);
                match fast {
                    Some(v) => assert_eq!(v.to_bits(), full.to_bits()),
                    None => assert!(full <= th),
                }
                assert_eq!(fast.is_some(), full > th);
            }
        }
    }

    #[test]
    fn smoothstep_reversed() {
        assert_eq!(smoothstep(1.0, 0.0, 0.0), 1.0);
        assert_eq!(smoothstep(0.0, 1.0, 2.0), 1.0);
        assert_eq!(smoothstep(0.0, 1.0, -1.0), 0.0);
    }
}
