//! Per-image scene parameters, sampled once from `(seed, index)`.
//!
//! Changing anything here (including the ORDER of random draws) changes every rendered
//! image and therefore the golden hash in `landscape.rs`: do it only deliberately.

mod land;
mod sky;

use self::land::{Forest, RidgeLight, ridge_heights, sample_lake, sample_ridges};
use self::sky::{Celestial, Clouds, SkyColors, TimeOfDay, Weather, star_visibility};
use super::attributes::LandscapeAttributes;
use super::noise::{Rng, ValueNoise, hash2};
use super::palette::Rgb;

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

impl Scene {
    /// Samples the scene for image `index` of the stream `seed`.
    ///
    /// Each step draws from one random stream in turn, so the order of the
    /// steps is the order of the draws.
    pub fn sample(seed: u64, index: u64) -> Scene {
        let noise = ValueNoise::new();
        let mut rng = Rng::new(hash2(seed, index));
        let time = TimeOfDay::sample(&mut rng);
        let weather = Weather::sample(&mut rng);
        let colors = SkyColors::new(&time, &weather);
        let body = Celestial::sample(&mut rng, &time, weather.cover, colors.sun);
        let clouds = Clouds::sample(&mut rng, weather.cover);
        let lake = sample_lake(&mut rng, colors.water());
        let light = RidgeLight { light: colors.light, fog: weather.fog, elevation: time.elevation, cx: body.cx };
        let ridges = sample_ridges(&mut rng, lake.as_ref(), &light);
        let forest = Forest::sample(&mut rng);
        let attrs = attributes(&time, &weather, &body, &ridges, &noise, lake.as_ref(), &forest);
        Scene {
            attrs,
            zenith: colors.zenith,
            horizon: colors.horizon,
            haze: colors.haze,
            fog_color: colors.fog_color,
            sun: colors.sun,
            glow_near: body.glow_near,
            glow_wide: body.glow_wide,
            disc: body.disc,
            disc_color: body.disc_color,
            cx: body.cx,
            cy: body.cy,
            disc_r: body.disc_r,
            shadow: body.shadow,
            star_vis: star_visibility(&time, weather.cover),
            star_seed: hash2(seed ^ 0x5354_4152, index),
            cloud_th: clouds.th,
            cloud_sx: clouds.sx,
            cloud_sy: clouds.sy,
            cloud_ox: clouds.ox,
            cloud_oy: clouds.oy,
            cloud_bright: colors.cloud_bright,
            cloud_dark: colors.cloud_dark,
            cloud_opacity: 0.92,
            ridges,
            trees: forest.trees,
            lake,
            fog: weather.fog,
        }
    }
}

/// The scene's attributes, all independent of the image size.
fn attributes(
    time: &TimeOfDay,
    weather: &Weather,
    body: &Celestial,
    ridges: &[Ridge],
    noise: &ValueNoise,
    lake: Option<&Lake>,
    forest: &Forest,
) -> LandscapeAttributes {
    LandscapeAttributes {
        time_of_day: time.t,
        sun_elevation: time.elevation,
        is_night: if time.night { 1.0 } else { 0.0 },
        celestial_x: body.cx,
        celestial_y: body.cy,
        cloud_cover: weather.cover,
        ridge_count: ridges.len() as f32,
        ridge_heights: ridge_heights(noise, ridges),
        has_lake: if lake.is_some() { 1.0 } else { 0.0 },
        water_level: lake.map_or(0.0, |lake| 1.0 - lake.w),
        has_trees: if forest.has_trees { 1.0 } else { 0.0 },
        tree_density: if forest.has_trees { forest.density } else { 0.0 },
        fog: weather.fog,
        palette_hue: weather.palette_hue,
        moon_phase: body.moon_phase,
    }
}
