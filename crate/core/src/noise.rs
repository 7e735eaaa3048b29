//! Seeded Gaussian noise that is bit-identical on every platform (native, wasm, any backend).
//!
//! Noise is drawn on the host from a counter-based generator and uploaded, so the same seed
//! gives the same image on the CPU, on WebGPU and on CUDA. Each image draws from its own seed,
//! so image `k` of a batch does not depend on the batch size.

/// Independent noise streams of one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// ε_L, the latent sampler's starting point.
    Latent = 1,
    /// ε of the prior draw x0 = μ + s·σ·ε (or x0 itself for the baseline).
    Pixel = 2,
    /// Training: ε of the encoder's reparameterised draw z ~ q(z|y).
    Encoder = 3,
    /// Training: the flow time t.
    Time = 4,
}

/// The SplitMix64 finaliser, a high-quality 64-bit mixing function: the one integer hash of the
/// noise, the training draws, the evaluation and the procedural data.
#[inline]
pub const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` standard normal samples for `(seed, stream)`, by Box–Muller over a hashed counter.
pub fn gaussian(seed: u64, stream: Stream, n: usize) -> Vec<f32> {
    let key = splitmix64(seed ^ splitmix64(stream as u64));
    let mut out = Vec::with_capacity(n + 1);
    let mut counter = 0u64;
    while out.len() < n {
        let bits = splitmix64(key.wrapping_add(counter));
        counter += 1;
        // Two 26-bit uniforms in (0, 1]; exact in f64.
        let u1 = ((bits >> 38) + 1) as f64 / (1u64 << 26) as f64;
        let u2 = ((bits >> 12) & ((1 << 26) - 1)) as f64 / (1u64 << 26) as f64;
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let theta = 2.0 * core::f64::consts::PI * u2;
        out.push((r * libm::cos(theta)) as f32);
        out.push((r * libm::sin(theta)) as f32);
    }
    out.truncate(n);
    out
}

/// Noise for a batch: image `k` uses seed `seeds[k]`; laid out image after image.
pub fn gaussian_batch(seeds: &[u64], stream: Stream, per_image: usize) -> Vec<f32> {
    seeds.iter().flat_map(|&s| gaussian(s, stream, per_image)).collect()
}

/// Spherical interpolation between two noise vectors, which keeps the interpolant's norm
/// typical of a Gaussian draw (a straight line would pass through low-norm, unlikely points).
pub fn slerp(a: &[f32], b: &[f32], alpha: f64) -> Vec<f32> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na = libm::sqrt(a.iter().map(|x| (*x as f64).powi(2)).sum());
    let nb = libm::sqrt(b.iter().map(|x| (*x as f64).powi(2)).sum());
    let cos = (dot / (na * nb).max(f64::MIN_POSITIVE)).clamp(-1.0, 1.0);
    let omega = libm::acos(cos);
    if omega.abs() < 1e-6 {
        return a.iter().zip(b).map(|(x, y)| ((1.0 - alpha) * *x as f64 + alpha * *y as f64) as f32).collect();
    }
    let s = libm::sin(omega);
    let (wa, wb) = (libm::sin((1.0 - alpha) * omega) / s, libm::sin(alpha * omega) / s);
    a.iter().zip(b).map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_stream_separated() {
        assert_eq!(gaussian(7, Stream::Latent, 100), gaussian(7, Stream::Latent, 100));
        assert_ne!(gaussian(7, Stream::Latent, 100), gaussian(7, Stream::Pixel, 100));
        assert_ne!(gaussian(7, Stream::Latent, 100), gaussian(8, Stream::Latent, 100));
        // A prefix does not depend on how many samples were asked for.
        assert_eq!(gaussian(3, Stream::Pixel, 5)[..], gaussian(3, Stream::Pixel, 6)[..5]);
    }

    #[test]
    fn moments_are_standard_normal() {
        let x = gaussian(1, Stream::Pixel, 200_000);
        let mean = x.iter().map(|v| *v as f64).sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / x.len() as f64;
        let kurt = x.iter().map(|v| (*v as f64 - mean).powi(4)).sum::<f64>() / x.len() as f64 / (var * var);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
    }

    #[test]
    fn golden_values_guard_cross_platform_determinism() {
        // Must only change deliberately: shipped demos and tests rely on seed → image.
        let x = gaussian(0, Stream::Latent, 2);
        assert_eq!(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), GOLDEN.to_vec(), "{x:?}");
    }
    const GOLDEN: [u32; 2] = [1_052_277_591, 3_209_078_437];

    #[test]
    fn slerp_hits_endpoints_and_keeps_norm() {
        let a = gaussian(1, Stream::Latent, 256);
        let b = gaussian(2, Stream::Latent, 256);
        assert_eq!(slerp(&a, &b, 0.0), a);
        let end = slerp(&a, &b, 1.0);
        assert!(end.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mid = slerp(&a, &b, 0.5);
        assert!(norm(&mid) > 0.9 * norm(&a).min(norm(&b)));
    }
}
