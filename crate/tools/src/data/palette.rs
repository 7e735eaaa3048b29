//! Colours: a tiny RGB helper type and the continuous time-of-day sky palette.

use super::noise::smoothstep;

/// Linear-ish display RGB in `[0, 1]` (values are treated as sRGB-encoded).
pub type Rgb = [f32; 3];

/// `a + (b - a) * t`, per channel.
#[inline]
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// `a * s`.
#[inline]
pub fn scale(a: Rgb, s: f32) -> Rgb {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// `a + b`.
#[inline]
pub fn add(a: Rgb, b: Rgb) -> Rgb {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Per-channel product.
#[inline]
pub fn mul(a: Rgb, b: Rgb) -> Rgb {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2]]
}

/// Quantises to 8 bits (clamped, round half up).
#[inline]
pub fn to_u8(c: f32) -> u8 {
    (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// The sky and lighting colours for one time of day.
#[derive(Debug, Clone, Copy)]
pub struct SkyPalette {
    /// Sky colour at the top of the image.
    pub zenith: Rgb,
    /// Sky colour at the horizon.
    pub horizon: Rgb,
    /// Colour of the sun (or moonlight) and its glow.
    pub sun: Rgb,
    /// Light falling on the land (multiplies albedos).
    pub light: Rgb,
    /// Lit side of clouds.
    pub cloud_bright: Rgb,
    /// Shadowed core of clouds.
    pub cloud_dark: Rgb,
}

/// Keyframes: (sun elevation, zenith, horizon, sun, light, cloud bright, cloud dark).
type Key = (f32, Rgb, Rgb, Rgb, Rgb, Rgb, Rgb);

const KEYS: [Key; 7] = [
    // deep night
    (
        -0.30,
        [0.020, 0.035, 0.090],
        [0.100, 0.130, 0.240],
        [0.60, 0.65, 0.80],
        [0.200, 0.220, 0.330],
        [0.22, 0.23, 0.30],
        [0.100, 0.110, 0.160],
    ),
    // blue hour
    (
        -0.12,
        [0.045, 0.065, 0.190],
        [0.220, 0.240, 0.420],
        [0.60, 0.45, 0.60],
        [0.22, 0.23, 0.36],
        [0.30, 0.28, 0.42],
        [0.12, 0.12, 0.22],
    ),
    // civil twilight
    (
        -0.03,
        [0.14, 0.20, 0.44],
        [0.88, 0.50, 0.40],
        [1.00, 0.45, 0.30],
        [0.35, 0.28, 0.40],
        [0.95, 0.55, 0.50],
        [0.35, 0.28, 0.40],
    ),
    // sunrise / sunset
    (
        0.05,
        [0.28, 0.42, 0.68],
        [1.00, 0.66, 0.40],
        [1.00, 0.55, 0.25],
        [0.75, 0.55, 0.45],
        [1.00, 0.78, 0.60],
        [0.52, 0.45, 0.52],
    ),
    // golden hour
    (
        0.18,
        [0.30, 0.52, 0.82],
        [0.98, 0.82, 0.58],
        [1.00, 0.80, 0.50],
        [0.95, 0.80, 0.62],
        [1.00, 0.93, 0.82],
        [0.62, 0.60, 0.64],
    ),
    // day
    (
        0.42,
        [0.20, 0.46, 0.86],
        [0.70, 0.84, 0.96],
        [1.00, 0.97, 0.90],
        [1.00, 1.00, 1.00],
        [1.00, 1.00, 1.00],
        [0.70, 0.73, 0.80],
    ),
    // noon
    (
        1.00,
        [0.14, 0.38, 0.82],
        [0.64, 0.80, 0.96],
        [1.00, 0.98, 0.94],
        [1.00, 1.00, 1.00],
        [1.00, 1.00, 1.00],
        [0.72, 0.75, 0.82],
    ),
];

/// The palette for a sun elevation in `[-1, 1]`; `morning` tints twilight pinker/cooler,
/// evening redder/warmer. Continuous in the elevation.
pub fn sky_palette(elevation: f32, morning: bool) -> SkyPalette {
    let e = elevation.clamp(KEYS[0].0, KEYS[KEYS.len() - 1].0);
    let mut i = 0;
    while i + 2 < KEYS.len() && e > KEYS[i + 1].0 {
        i += 1;
    }
    let (a, b) = (&KEYS[i], &KEYS[i + 1]);
    let t = ((e - a.0) / (b.0 - a.0)).clamp(0.0, 1.0);
    let mut p = SkyPalette {
        zenith: mix(a.1, b.1, t),
        horizon: mix(a.2, b.2, t),
        sun: mix(a.3, b.3, t),
        light: mix(a.4, b.4, t),
        cloud_bright: mix(a.5, b.5, t),
        cloud_dark: mix(a.6, b.6, t),
    };
    // Dawn and dusk differ slightly: weight peaks around sunrise/sunset.
    let w = 1.0 - smoothstep(0.0, 0.22, (e - 0.01).abs());
    let tint = if morning { [-0.07, -0.01, 0.10] } else { [0.05, -0.07, -0.09] };
    p.horizon = add(p.horizon, scale(tint, w));
    p.cloud_bright = add(p.cloud_bright, scale(tint, w));
    p
}

/// A hue rotation about the grey axis, as a 3×3 matrix.
#[derive(Debug, Clone, Copy)]
pub struct HueRotation {
    m: [[f32; 3]; 3],
}

impl HueRotation {
    /// Rotation by `angle` radians (uses `libm`, so bit-exact everywhere).
    pub fn new(angle: f32) -> Self {
        let c = libm::cosf(angle);
        let s = libm::sinf(angle) * 0.577_350_26;
        let k = (1.0 - c) / 3.0;
        Self { m: [[c + k, k - s, k + s], [k + s, c + k, k - s], [k - s, k + s, c + k]] }
    }

    /// Applies the rotation, clamping negative results to 0.
    pub fn apply(&self, v: Rgb) -> Rgb {
        let m = &self.m;
        let r = m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2];
        let g = m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2];
        let b = m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2];
        [r.max(0.0), g.max(0.0), b.max(0.0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_is_continuous() {
        let mut prev = sky_palette(-1.0, true);
        for i in 1..=2000 {
            let e = -1.0 + i as f32 * 0.001;
            let p = sky_palette(e, true);
            for (a, b) in [(prev.zenith, p.zenith), (prev.horizon, p.horizon)] {
                for c in 0..3 {
                    assert!((a[c] - b[c]).abs() < 0.02, "jump at e={e}");
                }
            }
            prev = p;
        }
    }

    #[test]
    fn day_is_brighter_than_night() {
        let day = sky_palette(0.8, true);
        let night = sky_palette(-0.8, false);
        let sum = |c: Rgb| c[0] + c[1] + c[2];
        assert!(sum(day.zenith) > 4.0 * sum(night.zenith));
        assert!(day.zenith[2] > day.zenith[0], "day sky should be blue");
    }

    #[test]
    fn zero_hue_rotation_is_identity() {
        let h = HueRotation::new(0.0);
        let v = h.apply([0.2, 0.5, 0.9]);
        for (a, b) in v.iter().zip([0.2, 0.5, 0.9]) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
