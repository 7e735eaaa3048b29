//! The sky of a scene: time of day, weather, the sky's colours, the sun or
//! moon, and the clouds.

use super::super::noise::{Rng, smoothstep};
use super::super::palette::{HueRotation, Rgb, SkyPalette, add, mix, scale, sky_palette};
use super::HORIZON_V;

/// When the image is taken.
pub(super) struct TimeOfDay {
    /// Fraction of the day, `[0, 1)` (0.25 = sunrise, 0.75 = sunset).
    pub t: f32,
    pub elevation: f32,
    pub morning: bool,
    pub night: bool,
}

impl TimeOfDay {
    /// A mixture of phases, so that every phase is well represented.
    pub fn sample(rng: &mut Rng) -> TimeOfDay {
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
        TimeOfDay { t, elevation, morning: t < 0.5, night: elevation < -0.1 }
    }
}

/// Weather and the palette's hue shift.
pub(super) struct Weather {
    pub cover: f32,
    pub fog: f32,
    pub palette_hue: f32,
}

impl Weather {
    pub fn sample(rng: &mut Rng) -> Weather {
        let cover = if rng.chance(0.25) { rng.range(0.0, 0.15) } else { rng.f32() };
        let fog = libm::powf(rng.f32(), 1.6);
        let hue_r = 2.0 * rng.f32() - 1.0;
        Weather { cover, fog, palette_hue: hue_r * hue_r * hue_r }
    }
}

/// The colours of the sky, its light and its clouds, greyed by the cloud
/// cover and hue-shifted by the palette.
pub(super) struct SkyColors {
    pub light: Rgb,
    pub zenith: Rgb,
    pub horizon: Rgb,
    pub haze: Rgb,
    pub fog_color: Rgb,
    pub sun: Rgb,
    pub cloud_bright: Rgb,
    pub cloud_dark: Rgb,
}

impl SkyColors {
    pub fn new(time: &TimeOfDay, weather: &Weather) -> SkyColors {
        let cover = weather.cover;
        let hue = HueRotation::new(0.5 * weather.palette_hue);
        let pal: SkyPalette = sky_palette(time.elevation, time.morning);
        let overcast = 1.0 - 0.35 * cover * cover;
        let light = scale(pal.light, overcast);
        let grey_sky = scale([0.55, 0.57, 0.62], (pal.light[0] + pal.light[1]) * 0.5);
        let zenith = hue.apply(mix(pal.zenith, grey_sky, 0.55 * cover * cover));
        let horizon = hue.apply(mix(pal.horizon, grey_sky, 0.45 * cover * cover));
        let haze = mix(horizon, zenith, 0.15);
        SkyColors {
            light,
            zenith,
            horizon,
            haze,
            fog_color: mix(haze, scale(light, 0.8), 0.25),
            sun: hue.apply(pal.sun),
            cloud_bright: hue.apply(mix(pal.cloud_bright, grey_sky, 0.5 * cover)),
            cloud_dark: hue.apply(mix(pal.cloud_dark, scale(grey_sky, 0.7), 0.4 * cover)),
        }
    }

    /// The lake's colour: the sky it mirrors, darkened.
    pub fn water(&self) -> Rgb {
        scale(add(scale(self.zenith, 0.5), scale(self.horizon, 0.5)), 0.45)
    }
}

/// The sun by day, the moon by night: where, how large, how bright.
pub(super) struct Celestial {
    pub cx: f32,
    pub cy: f32,
    pub disc_r: f32,
    pub moon_phase: f32,
    pub shadow: Option<(f32, f32)>,
    pub disc: bool,
    pub disc_color: Rgb,
    pub glow_near: f32,
    pub glow_wide: f32,
}

/// The draws of the sun or moon, all made whichever of them shows.
struct CelestialDraws {
    /// The sun's offset from its track.
    jitter: f32,
    /// The moon's position.
    mx: f32,
    my: f32,
    /// The moon's phase, the angle and the side of its shadow.
    phase_r: f32,
    phase_a: f32,
    phase_side: f32,
}

impl CelestialDraws {
    fn sample(rng: &mut Rng) -> CelestialDraws {
        let jitter = rng.range(-0.12, 0.12);
        let (mx, my) = (rng.range(0.1, 0.9), rng.range(0.08, 0.38));
        let phase_r = rng.f32();
        let phase_a = rng.range(-0.6, 0.6);
        let phase_side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        CelestialDraws { jitter, mx, my, phase_r, phase_a, phase_side }
    }
}

impl Celestial {
    pub fn sample(rng: &mut Rng, time: &TimeOfDay, cover: f32, sun_color: Rgb) -> Celestial {
        let draws = CelestialDraws::sample(rng);
        if time.night { Celestial::moon(&draws, cover) } else { Celestial::sun(&draws, time, cover, sun_color) }
    }

    fn moon(draws: &CelestialDraws, cover: f32) -> Celestial {
        let disc_r = 0.026;
        let moon_phase = if draws.phase_r < 0.35 { 1.0 } else { (draws.phase_r - 0.35) / 0.65 * 0.9 + 0.1 };
        let shadow = if moon_phase >= 1.0 {
            None
        } else {
            let off = disc_r * (0.3 + 1.7 * moon_phase);
            Some((draws.phase_side * off * libm::cosf(draws.phase_a), off * libm::sinf(draws.phase_a)))
        };
        Celestial {
            cx: draws.mx,
            cy: draws.my,
            disc_r,
            moon_phase,
            shadow,
            disc: true,
            disc_color: [0.93, 0.93, 0.86],
            glow_near: 0.16 * (1.0 - 0.6 * cover),
            glow_wide: 0.06 * (1.0 - 0.6 * cover),
        }
    }

    fn sun(draws: &CelestialDraws, time: &TimeOfDay, cover: f32, sun_color: Rgb) -> Celestial {
        let elevation = time.elevation;
        let low = 1.0 - smoothstep(0.05, 0.45, elevation);
        let vis = smoothstep(-0.18, 0.0, elevation) * (1.0 - 0.75 * cover);
        Celestial {
            cx: (0.5 + (time.t - 0.5) * 1.7 + draws.jitter).clamp(0.06, 0.94),
            cy: (HORIZON_V - 0.58 * elevation).clamp(0.0, 1.0),
            disc_r: 0.032,
            moon_phase: 0.0,
            shadow: None,
            disc: elevation > -0.02,
            disc_color: mix([1.0, 0.99, 0.94], sun_color, 0.3 + 0.6 * low),
            glow_near: vis * (0.35 + 0.25 * low),
            glow_wide: vis * (0.12 + 0.45 * low),
        }
    }
}

/// How visible the stars are.
pub(super) fn star_visibility(time: &TimeOfDay, cover: f32) -> f32 {
    smoothstep(-0.06, -0.22, time.elevation) * (1.0 - cover)
}

/// The cloud field: threshold, scales and offsets of its noise.
pub(super) struct Clouds {
    pub th: f32,
    pub sx: f32,
    pub sy: f32,
    pub ox: f32,
    pub oy: f32,
}

impl Clouds {
    pub fn sample(rng: &mut Rng, cover: f32) -> Clouds {
        let cloud_scale = rng.range(2.5, 5.0);
        let cloud_stretch = rng.range(1.8, 3.2);
        let ox = rng.range(0.0, 256.0);
        let oy = rng.range(0.0, 256.0);
        Clouds { th: 0.70 - 0.42 * cover, sx: cloud_scale, sy: cloud_scale * cloud_stretch, ox, oy }
    }
}
