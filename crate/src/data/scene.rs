//! Per-image scene parameters, sampled once from `(seed, index)`.
//!
//! Changing anything here (including the ORDER of random draws) changes every rendered
//! image and therefore the golden hash in `landscape.rs`: do it only deliberately.

use super::attributes::{LandscapeAttributes, MAX_RIDGES};
use super::noise::{Rng, ValueNoise, hash2, smoothstep};
use super::palette::{HueRotation, Rgb, SkyPalette, add, mix, mul, scale, sky_palette};

/// Eye-level line used by the sky gradient and the sun's track (image `v`, 0 = top).
pub const HORIZON_V: f32 = 0.62;

/// One mountain ridge layer (index 0 = farthest).
#[derive(Debug, Clone)]
pub struct Ridge {
    pub base: f32,
    pub amp: f32,
    pub freq: f32,
    pub phase: f32,
    pub row: i32,
    pub octaves: u32,
    pub ridged: bool,
    /// Albedo × light.
    pub color: Rgb,
    /// Tree silhouette colour (× light).
    pub tree_color: Rgb,
    /// Snow colour (× light).
    pub snow_color: Rgb,
    /// Atmospheric perspective: blend towards the haze colour, `[0, 1]`.
    pub haze: f32,
    /// Valley mist strength below the ridge line.
    pub mist: f32,
    /// Image `v` where the valley mist starts (a smooth line below the peaks).
    pub mist_top: f32,
    /// Vertical distance over which the mist builds up.
    pub mist_depth: f32,
    /// Image `v` above which (smaller `v`) the ridge is snowy; negative = no snow.
    pub snowline: f32,
    /// Strength of the surface texture (relative brightness swing).
    pub texture: f32,
    /// Strength of slope shading.
    pub shade_k: f32,
}

impl Ridge {
    /// Image `v` of the ground line at horizontal position `u` (trees excluded).
    #[inline]
    pub fn ground(&self, noise: &ValueNoise, u: f32) -> f32 {
        let n = noise.fbm1(u * self.freq + self.phase, self.row, self.octaves, self.ridged);
        let lift = if self.ridged { 2.0 * n } else { 1.5 * (2.0 * n - 1.0) };
        (self.base - self.amp * lift).clamp(0.04, 0.995)
    }
}

/// A conifer silhouette: centre `u`, height and half-width (image units).
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub c: f32,
    pub h: f32,
    pub hw: f32,
}

/// Lake parameters.
#[derive(Debug, Clone, Copy)]
pub struct Lake {
    /// Image `v` of the water line.
    pub w: f32,
    pub water_color: Rgb,
    pub reflectivity: f32,
    pub ripple: f32,
    pub ripple_ox: f32,
}

/// Everything the renderer needs, precomputed once per image.
#[derive(Debug, Clone)]
pub struct Scene {
    pub attrs: LandscapeAttributes,
    pub zenith: Rgb,
    pub horizon: Rgb,
    pub haze: Rgb,
    pub fog_color: Rgb,
    pub sun: Rgb,
    /// Glow strengths (near, wide) of the sun or moon.
    pub glow_near: f32,
    pub glow_wide: f32,
    pub disc: bool,
    pub disc_color: Rgb,
    pub cx: f32,
    pub cy: f32,
    pub disc_r: f32,
    /// Moon shadow disc offset; `None` for a full moon or the sun.
    pub shadow: Option<(f32, f32)>,
    pub star_vis: f32,
    pub star_seed: u64,
    pub cloud_th: f32,
    pub cloud_sx: f32,
    pub cloud_sy: f32,
    pub cloud_ox: f32,
    pub cloud_oy: f32,
    pub cloud_bright: Rgb,
    pub cloud_dark: Rgb,
    pub cloud_opacity: f32,
    pub ridges: Vec<Ridge>,
    pub trees: Vec<Tree>,
    pub lake: Option<Lake>,
    pub fog: f32,
}

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

impl Scene {
    /// Samples the scene for image `index` of the stream `seed`.
    pub fn sample(seed: u64, index: u64) -> Scene {
        let noise = ValueNoise::new();
        let mut rng = Rng::new(hash2(seed, index));

        // --- time of day (mixture so that every phase is well represented) ---
        let phase = rng.f32();
        let r = rng.f32();
        let t = if phase < 0.22 {
            (0.80 + 0.40 * r).fract() // night
        } else if phase < 0.38 {
            0.20 + 0.10 * r // dawn
        } else if phase < 0.70 {
            0.30 + 0.38 * r // day
        } else if phase < 0.85 {
            0.68 + 0.055 * r // golden hour
        } else {
            0.735 + 0.065 * r // dusk
        };
        let elevation = libm::sinf(2.0 * core::f32::consts::PI * (t - 0.25));
        let morning = t < 0.5;
        let night = elevation < -0.1;

        // --- weather & palette controls ---
        let cover = if rng.chance(0.25) { rng.range(0.0, 0.15) } else { rng.f32() };
        let fog = libm::powf(rng.f32(), 1.6);
        let hue_r = 2.0 * rng.f32() - 1.0;
        let palette_hue = hue_r * hue_r * hue_r;
        let hue = HueRotation::new(0.5 * palette_hue);

        let pal: SkyPalette = sky_palette(elevation, morning);
        let overcast = 1.0 - 0.35 * cover * cover;
        let light = scale(pal.light, overcast);
        let grey_sky = scale([0.55, 0.57, 0.62], (pal.light[0] + pal.light[1]) * 0.5);
        let zenith = hue.apply(mix(pal.zenith, grey_sky, 0.55 * cover * cover));
        let horizon = hue.apply(mix(pal.horizon, grey_sky, 0.45 * cover * cover));
        let haze = mix(horizon, zenith, 0.15);
        let fog_color = mix(haze, scale(light, 0.8), 0.25);
        let sun = hue.apply(pal.sun);

        // --- sun or moon ---
        let jitter = rng.range(-0.12, 0.12);
        let (mx, my) = (rng.range(0.1, 0.9), rng.range(0.08, 0.38));
        let phase_r = rng.f32();
        let phase_a = rng.range(-0.6, 0.6);
        let phase_side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let (cx, cy, disc_r, moon_phase, shadow, disc, disc_color, glow_near, glow_wide);
        if night {
            cx = mx;
            cy = my;
            disc_r = 0.026;
            moon_phase = if phase_r < 0.35 { 1.0 } else { (phase_r - 0.35) / 0.65 * 0.9 + 0.1 };
            shadow = if moon_phase >= 1.0 {
                None
            } else {
                let off = disc_r * (0.3 + 1.7 * moon_phase);
                Some((phase_side * off * libm::cosf(phase_a), off * libm::sinf(phase_a)))
            };
            disc = true;
            disc_color = [0.93, 0.93, 0.86];
            glow_near = 0.16 * (1.0 - 0.6 * cover);
            glow_wide = 0.06 * (1.0 - 0.6 * cover);
        } else {
            cx = (0.5 + (t - 0.5) * 1.7 + jitter).clamp(0.06, 0.94);
            cy = (HORIZON_V - 0.58 * elevation).clamp(0.0, 1.0);
            disc_r = 0.032;
            moon_phase = 0.0;
            shadow = None;
            disc = elevation > -0.02;
            let low = 1.0 - smoothstep(0.05, 0.45, elevation);
            disc_color = mix([1.0, 0.99, 0.94], sun, 0.3 + 0.6 * low);
            let vis = smoothstep(-0.18, 0.0, elevation) * (1.0 - 0.75 * cover);
            glow_near = vis * (0.35 + 0.25 * low);
            glow_wide = vis * (0.12 + 0.45 * low);
        }
        let star_vis = smoothstep(-0.06, -0.22, elevation) * (1.0 - cover);

        // --- clouds ---
        let cloud_scale = rng.range(2.5, 5.0);
        let cloud_stretch = rng.range(1.8, 3.2);
        let cloud_ox = rng.range(0.0, 256.0);
        let cloud_oy = rng.range(0.0, 256.0);
        let cloud_th = 0.70 - 0.42 * cover;
        let cloud_bright = hue.apply(mix(pal.cloud_bright, grey_sky, 0.5 * cover));
        let cloud_dark = hue.apply(mix(pal.cloud_dark, scale(grey_sky, 0.7), 0.4 * cover));

        // --- lake ---
        let has_lake = rng.chance(0.45);
        let w = rng.range(0.58, 0.82);
        let reflectivity = rng.range(0.75, 0.95);
        let ripple = rng.range(0.002, 0.008);
        let ripple_ox = rng.range(0.0, 256.0);

        // --- ridges ---
        let n = 2 + rng.below(4) as usize;
        let near_base = if has_lake { rng.range(w - 0.10, w - 0.03) } else { rng.range(0.74, 0.88) };
        let far_base = rng.range(0.40, 0.54).min(near_base - 0.12);
        let far_amp = rng.range(0.09, 0.17);
        let near_amp = rng.range(0.025, 0.07);
        let land = LAND_ALBEDOS[rng.below(LAND_ALBEDOS.len() as u32) as usize];
        let snowy = rng.chance(0.35);
        let snow_depth = rng.range(0.3, 0.6);
        let shade_dir = if cx > 0.5 { 1.0 } else { -1.0 };
        let daylight = smoothstep(-0.05, 0.25, elevation);
        let snow_color = mul([0.93, 0.95, 1.0], light);
        let mut ridges = Vec::with_capacity(n);
        for i in 0..n {
            let d = i as f32 / (n - 1) as f32; // 0 = far, 1 = near
            let base = far_base + (near_base - far_base) * libm::powf(d, 0.85) + rng.range(-0.015, 0.015) * (1.0 - d);
            let amp = (far_amp + (near_amp - far_amp) * d) * rng.range(0.8, 1.2);
            let ridged = d < 0.6;
            let freq = (2.2 + 1.3 * d) * rng.range(0.75, 1.3);
            let phase = rng.range(0.0, 200.0);
            let row = rng.below(256) as i32;
            let albedo = mix(ROCK, land, libm::powf(d, 0.7));
            let color = mul(albedo, light);
            let tree_color = scale(mul(land, light), 0.55);
            let haze_amt = (1.0 - d) * (0.32 + 0.4 * fog) + 0.03;
            let snowline = if snowy && ridged && d < 0.5 { base - amp * 2.0 * snow_depth } else { -1.0 };
            ridges.push(Ridge {
                base,
                amp,
                freq,
                phase,
                row,
                octaves: if ridged { 5 } else { 4 },
                ridged,
                color,
                tree_color,
                snow_color,
                haze: haze_amt.min(0.95),
                mist: fog * 0.85 * (1.0 - 0.5 * d),
                mist_top: base - amp * if ridged { 0.5 } else { 0.3 },
                mist_depth: 0.10 + 0.12 * (1.0 - d),
                snowline,
                texture: 0.18 + 0.12 * d,
                shade_k: 0.35 * daylight * shade_dir,
            });
        }

        // --- trees on the nearest ridge ---
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

        // --- attributes (size independent) ---
        let mut heights = [0.0f32; MAX_RIDGES];
        for (slot, ridge) in heights.iter_mut().zip(&ridges) {
            let mut sum = 0.0;
            for k in 0..HEIGHT_SAMPLES {
                sum += ridge.ground(&noise, (k as f32 + 0.5) / HEIGHT_SAMPLES as f32);
            }
            *slot = (1.0 - sum / HEIGHT_SAMPLES as f32).clamp(0.0, 1.0);
        }
        let attrs = LandscapeAttributes {
            time_of_day: t,
            sun_elevation: elevation,
            is_night: if night { 1.0 } else { 0.0 },
            celestial_x: cx,
            celestial_y: cy,
            cloud_cover: cover,
            ridge_count: n as f32,
            ridge_heights: heights,
            has_lake: if has_lake { 1.0 } else { 0.0 },
            water_level: if has_lake { 1.0 - w } else { 0.0 },
            has_trees: if has_trees { 1.0 } else { 0.0 },
            tree_density: if has_trees { density } else { 0.0 },
            fog,
            palette_hue,
            moon_phase,
        };

        let water_color = scale(add(scale(zenith, 0.5), scale(horizon, 0.5)), 0.45);
        Scene {
            attrs,
            zenith,
            horizon,
            haze,
            fog_color,
            sun,
            glow_near,
            glow_wide,
            disc,
            disc_color,
            cx,
            cy,
            disc_r,
            shadow,
            star_vis,
            star_seed: hash2(seed ^ 0x5354_4152, index),
            cloud_th,
            cloud_sx: cloud_scale,
            cloud_sy: cloud_scale * cloud_stretch,
            cloud_ox,
            cloud_oy,
            cloud_bright,
            cloud_dark,
            cloud_opacity: 0.92,
            ridges,
            trees,
            lake: has_lake.then_some(Lake { w, water_color, reflectivity, ripple, ripple_ox }),
            fog,
        }
    }
}
