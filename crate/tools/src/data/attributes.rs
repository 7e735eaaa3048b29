//! Ground-truth attributes of a procedural landscape.

/// Number of ridge slots in [`LandscapeAttributes::ridge_heights`].
pub const MAX_RIDGES: usize = 5;

/// What was actually rendered in a procedural landscape; every value is the parameter
/// that drove the renderer (not an estimate), so an evaluation network can be trained
/// to predict them. All values are independent of the rendered size.
///
/// The order of [`LandscapeAttributes::to_vec`] is [`LandscapeAttributes::names`], and
/// the closed range of each entry is [`LandscapeAttributes::ranges`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LandscapeAttributes {
    /// Time of day in `[0, 1)`: 0 = midnight, 0.25 = sunrise, 0.5 = noon, 0.75 = sunset
    /// (it wraps around; use `sun_elevation` for a non-cyclic proxy).
    pub time_of_day: f32,
    /// Sun elevation `sin(2π(time_of_day - 0.25))` in `[-1, 1]`; it drives the palette.
    pub sun_elevation: f32,
    /// 1 when the moon and stars are shown (sun elevation below -0.1), else 0.
    pub is_night: f32,
    /// Horizontal image position of the shown celestial body's centre (sun by day, also
    /// its glow below the horizon in twilight; moon at night), in `[0, 1]` (0 = left).
    pub celestial_x: f32,
    /// Vertical image position of that centre in `[0, 1]` (0 = top). It may lie behind
    /// mountains or clouds.
    pub celestial_y: f32,
    /// Cloud cover in `[0, 1]` (0 = clear, 1 = overcast).
    pub cloud_cover: f32,
    /// Number of mountain ridges, an integer in `[2, 5]`.
    pub ridge_count: f32,
    /// Mean elevation of each ridge line (1 - mean image row / height, trees excluded) in
    /// `[0, 1]`, farthest ridge first; 0 for absent slots.
    pub ridge_heights: [f32; MAX_RIDGES],
    /// 1 when a lake (with a mirrored reflection) is present, else 0.
    pub has_lake: f32,
    /// Fraction of the image height covered by the lake, in `[0, 0.45]`; 0 without a lake.
    pub water_level: f32,
    /// 1 when tree silhouettes stand on the nearest ridge, else 0.
    pub has_trees: f32,
    /// Tree density in `[0, 1]` (proportional to the number of trees); 0 without trees.
    pub tree_density: f32,
    /// Fog / haze amount in `[0, 1]`.
    pub fog: f32,
    /// Hue rotation applied to the sky palette, in `[-1, 1]` (±0.5 radian).
    pub palette_hue: f32,
    /// Moon phase in `[0, 1]` (0 = thin crescent, 1 = full moon); 0 by day.
    pub moon_phase: f32,
}

const NAMES: [&str; 19] = [
    "time_of_day",
    "sun_elevation",
    "is_night",
    "celestial_x",
    "celestial_y",
    "cloud_cover",
    "ridge_count",
    "ridge_height_0",
    "ridge_height_1",
    "ridge_height_2",
    "ridge_height_3",
    "ridge_height_4",
    "has_lake",
    "water_level",
    "has_trees",
    "tree_density",
    "fog",
    "palette_hue",
    "moon_phase",
];

const RANGES: [(f32, f32); 19] = [
    (0.0, 1.0),
    (-1.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (2.0, 5.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 0.45),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (-1.0, 1.0),
    (0.0, 1.0),
];

impl LandscapeAttributes {
    /// Number of entries in [`Self::to_vec`].
    pub const LEN: usize = NAMES.len();

    /// Attribute names, in the order of [`Self::to_vec`].
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// Closed `(min, max)` range of each attribute, in the order of [`Self::to_vec`].
    pub fn ranges() -> &'static [(f32, f32)] {
        &RANGES
    }

    /// Flattens the attributes in the order of [`Self::names`].
    pub fn to_vec(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(Self::LEN);
        v.extend_from_slice(&[
            self.time_of_day,
            self.sun_elevation,
            self.is_night,
            self.celestial_x,
            self.celestial_y,
            self.cloud_cover,
            self.ridge_count,
        ]);
        v.extend_from_slice(&self.ridge_heights);
        v.extend_from_slice(&[
            self.has_lake,
            self.water_level,
            self.has_trees,
            self.tree_density,
            self.fog,
            self.palette_hue,
            self.moon_phase,
        ]);
        v
    }
}
