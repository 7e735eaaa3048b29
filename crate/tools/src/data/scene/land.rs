//! The land of a scene: the lake, the mountain ridges, the trees on the
//! nearest ridge, and the ridges' heights for the attributes.

use super::super::attributes::MAX_RIDGES;
use super::super::noise::{Rng, ValueNoise, smoothstep};
use super::super::palette::{Rgb, mix, mul, scale};
use super::{Lake, Ridge, Tree};

const LAND_ALBEDOS: [Rgb; 5] = [
    [0.16, 0.26, 0.13], // green forest
    [0.09, 0.17, 0.12], // dark pine
    [0.36, 0.24, 0.12], // autumn
    [0.46, 0.38, 0.24], // dry grass
    [0.30, 0.22, 0.28], // heather
];
const ROCK: Rgb = [0.40, 0.42, 0.48];

/// Number of samples used for the size-independent ridge-height attribute.
const HEIGHT_SAMPLES: u32 = 32;

/// The lake, if any. Its draws are made either way.
pub(super) fn sample_lake(rng: &mut Rng, water_color: Rgb) -> Option<Lake> {
    let has_lake = rng.chance(0.45);
    let w = rng.range(0.58, 0.82);
    let reflectivity = rng.range(0.75, 0.95);
    let ripple = rng.range(0.002, 0.008);
    let ripple_ox = rng.range(0.0, 256.0);
    has_lake.then_some(Lake { w, water_color, reflectivity, ripple, ripple_ox })
}

/// The light the ridges are seen in.
pub(super) struct RidgeLight {
    pub light: Rgb,
    pub fog: f32,
    pub elevation: f32,
    /// Horizontal position of the sun or moon (slopes facing it are lit).
    pub cx: f32,
}

/// What all ridges share: how many, the span from the farthest to the
/// nearest, their land cover, snow and light.
struct RidgeRange {
    n: usize,
    near_base: f32,
    far_base: f32,
    far_amp: f32,
    near_amp: f32,
    land: Rgb,
    snowy: bool,
    snow_depth: f32,
    snow_color: Rgb,
    shade_dir: f32,
    daylight: f32,
}

impl RidgeRange {
    /// The nearest ridge stands just above the lake's water line, if any.
    fn sample(rng: &mut Rng, lake: Option<&Lake>, light: &RidgeLight) -> RidgeRange {
        let n = 2 + rng.below(4) as usize;
        let near_base = match lake {
            Some(lake) => rng.range(lake.w - 0.10, lake.w - 0.03),
            None => rng.range(0.74, 0.88),
        };
        let far_base = rng.range(0.40, 0.54).min(near_base - 0.12);
        let far_amp = rng.range(0.09, 0.17);
        let near_amp = rng.range(0.025, 0.07);
        let land = LAND_ALBEDOS[rng.below(LAND_ALBEDOS.len() as u32) as usize];
        let snowy = rng.chance(0.35);
        let snow_depth = rng.range(0.3, 0.6);
        RidgeRange {
            n,
            near_base,
            far_base,
            far_amp,
            near_amp,
            land,
            snowy,
            snow_depth,
            snow_color: mul([0.93, 0.95, 1.0], light.light),
            shade_dir: if light.cx > 0.5 { 1.0 } else { -1.0 },
            daylight: smoothstep(-0.05, 0.25, light.elevation),
        }
    }

    /// Ridge `i` (0 = farthest).
    fn ridge(&self, rng: &mut Rng, i: usize, light: &RidgeLight) -> Ridge {
        let (far_base, near_base, far_amp, near_amp) = (self.far_base, self.near_base, self.far_amp, self.near_amp);
        let d = i as f32 / (self.n - 1) as f32; // 0 = far, 1 = near
        let base = far_base + (near_base - far_base) * libm::powf(d, 0.85) + rng.range(-0.015, 0.015) * (1.0 - d);
        let amp = (far_amp + (near_amp - far_amp) * d) * rng.range(0.8, 1.2);
        let ridged = d < 0.6;
        let freq = (2.2 + 1.3 * d) * rng.range(0.75, 1.3);
        let phase = rng.range(0.0, 200.0);
        let row = rng.below(256) as i32;
        let albedo = mix(ROCK, self.land, libm::powf(d, 0.7));
        let haze_amt = (1.0 - d) * (0.32 + 0.4 * light.fog) + 0.03;
        let snowline = if self.snowy && ridged && d < 0.5 { base - amp * 2.0 * self.snow_depth } else { -1.0 };
        Ridge {
            base,
            amp,
            freq,
            phase,
            row,
            octaves: if ridged { 5 } else { 4 },
            ridged,
            color: mul(albedo, light.light),
            tree_color: scale(mul(self.land, light.light), 0.55),
            snow_color: self.snow_color,
            haze: haze_amt.min(0.95),
            mist: light.fog * 0.85 * (1.0 - 0.5 * d),
            mist_top: base - amp * if ridged { 0.5 } else { 0.3 },
            mist_depth: 0.10 + 0.12 * (1.0 - d),
            snowline,
            texture: 0.18 + 0.12 * d,
            shade_k: 0.35 * self.daylight * self.shade_dir,
        }
    }
}

/// The ridges, farthest first.
pub(super) fn sample_ridges(rng: &mut Rng, lake: Option<&Lake>, light: &RidgeLight) -> Vec<Ridge> {
    let range = RidgeRange::sample(rng, lake, light);
    let mut ridges = Vec::with_capacity(range.n);
    for i in 0..range.n {
        ridges.push(range.ridge(rng, i, light));
    }
    ridges
}

/// The trees on the nearest ridge. Their draws (but the per-tree ones) are
/// made either way.
pub(super) struct Forest {
    pub has_trees: bool,
    pub density: f32,
    pub trees: Vec<Tree>,
}

impl Forest {
    pub fn sample(rng: &mut Rng) -> Forest {
        let has_trees = rng.chance(0.55);
        let density = rng.range(0.15, 1.0);
        let clustered = rng.chance(0.5);
        let cl_start = rng.range(0.0, 0.6);
        let cl_len = rng.range(0.3, 0.7);
        let mut trees = Vec::new();
        if has_trees {
            let count = (density * 90.0 + 0.5) as u32;
            trees.reserve(count as usize);
            for _ in 0..count {
                let mut c = rng.f32();
                if clustered {
                    c = (cl_start + cl_len * c).min(1.0);
                }
                let h = rng.range(0.022, 0.055) * (0.75 + 0.5 * density);
                let hw = h * rng.range(0.22, 0.32);
                trees.push(Tree { c, h, hw });
            }
        }
        Forest { has_trees, density, trees }
    }
}

/// Each ridge's mean height above the image bottom, independent of the image size.
pub(super) fn ridge_heights(noise: &ValueNoise, ridges: &[Ridge]) -> [f32; MAX_RIDGES] {
    let mut heights = [0.0f32; MAX_RIDGES];
    for (slot, ridge) in heights.iter_mut().zip(ridges) {
        let mut sum = 0.0;
        for k in 0..HEIGHT_SAMPLES {
            sum += ridge.ground(noise, (k as f32 + 0.5) / HEIGHT_SAMPLES as f32);
        }
        *slot = (1.0 - sum / HEIGHT_SAMPLES as f32).clamp(0.0, 1.0);
    }
    heights
}
