//! The landscape rasteriser: resolution-independent scene → RGB8 pixels.
//!
//! All coordinates are in `[0, 1]` (`u` to the right, `v` down), so one scene renders
//! the same at every size. Ridge edges are anti-aliased with exact box-filter coverage
//! of piecewise-linear profiles sampled twice per pixel column; discs use analytic
//! coverage; everything else is smooth.

use super::noise::{ValueNoise, floor_i32, hash2, smoothstep, splitmix64, unit_f32};
use super::palette::{Rgb, add, mix, scale, to_u8};
use super::scene::{HORIZON_V, Scene};

/// `∫ clamp(t, 0, 1) dt`.
#[inline]
fn ramp_integral(t: f32) -> f32 {
    if t <= 0.0 {
        0.0
    } else if t < 1.0 {
        0.5 * t * t
    } else {
        t - 0.5
    }
}

/// Average of `clamp(t, 0, 1)` for `t` linear from `a` to `b`.
#[inline]
fn seg_coverage(a: f32, b: f32) -> f32 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if lo >= 1.0 {
        return 1.0;
    }
    if hi <= 0.0 {
        return 0.0;
    }
    let d = hi - lo;
    if d < 1e-3 {
        return (0.5 * (a + b)).clamp(0.0, 1.0);
    }
    (ramp_integral(hi) - ramp_integral(lo)) / d
}

/// Per-ridge, per-column precomputed geometry (in pixel units where noted).
struct RidgeCols {
    /// Top of the silhouette (ground minus trees) at the 2·size+1 half-column edges, in
    /// pixel rows.
    top: Vec<f32>,
    /// Ground line `v` at column centres.
    ground: Vec<f32>,
    /// Slope shading factor per column.
    shade: Vec<f32>,
    /// Min / max of `top` over each column's three samples (pixel rows).
    tmin: Vec<f32>,
    tmax: Vec<f32>,
}

/// Renders `scene` into `out` (`size * size * 3` bytes, row-major HWC).
pub fn render(scene: &Scene, size: u32, out: &mut [u8]) {
    let s = size as usize;
    let sf = size as f32;
    let px = 1.0 / sf;
    let noise = ValueNoise::new();
    let nr = scene.ridges.len();

    // ---- 1-D ridge profiles, once per half-column ----
    let samples = 2 * s + 1;
    let mut cols: Vec<RidgeCols> = Vec::with_capacity(nr);
    let mut tree_lift = vec![0.0f32; samples];
    for tree in &scene.trees {
        let k0 = (((tree.c - tree.hw) * 2.0 * sf).ceil().max(0.0)) as usize;
        let k1 = (((tree.c + tree.hw) * 2.0 * sf).floor().max(0.0)) as usize;
        for (k, lift) in tree_lift.iter_mut().enumerate().take(k1.min(samples - 1) + 1).skip(k0) {
            let u = k as f32 / (2.0 * sf);
            let h = tree.h * (1.0 - (u - tree.c).abs() / tree.hw);
            if h > *lift {
                *lift = h;
            }
        }
    }
    for (i, ridge) in scene.ridges.iter().enumerate() {
        let with_trees = i + 1 == nr && !scene.trees.is_empty();
        let mut ground_s = Vec::with_capacity(samples);
        let mut top = Vec::with_capacity(samples);
        for (k, lift) in tree_lift.iter().enumerate() {
            let u = k as f32 / (2.0 * sf);
            let g = ridge.ground(&noise, u);
            ground_s.push(g);
            let t = if with_trees { g - lift } else { g };
            top.push(t * sf);
        }
        let mut ground = Vec::with_capacity(s);
        let mut shade = Vec::with_capacity(s);
        let mut tmin = Vec::with_capacity(s);
        let mut tmax = Vec::with_capacity(s);
        // Slope over a fixed ±0.04 window (in image units) so shading is smooth and
        // resolution independent.
        let half = ((0.04 * 2.0 * sf) as usize).max(1);
        for x in 0..s {
            ground.push(ground_s[2 * x + 1]);
            let k0 = (2 * x + 1).saturating_sub(half);
            let k1 = (2 * x + 1 + half).min(samples - 1);
            let slope = (ground_s[k1] - ground_s[k0]) * (2.0 * sf) / (k1 - k0) as f32;
            shade.push(1.0 + ridge.shade_k * (0.5 * slope).clamp(-1.0, 1.0));
            let (a, b, c) = (top[2 * x], top[2 * x + 1], top[2 * x + 2]);
            tmin.push(a.min(b).min(c));
            tmax.push(a.max(b).max(c));
        }
        cols.push(RidgeCols { top, ground, shade, tmin, tmax });
    }

    // ---- per-row precomputation ----
    let mut sky_row: Vec<Rgb> = Vec::with_capacity(s);
    let mut fog_row: Vec<f32> = Vec::with_capacity(s);
    for y in 0..s {
        let v = (y as f32 + 0.5) * px;
        let g = libm::powf((v / HORIZON_V).clamp(0.0, 1.0), 1.6);
        sky_row.push(mix(scene.zenith, scene.horizon, g));
        fog_row.push(scene.fog * (0.10 + 0.45 * smoothstep(0.35, 1.0, v)));
    }

    // Rows fully below the water line are filled by the lake pass.
    let (water_row, lake) = match scene.lake {
        Some(l) => (((l.w * sf) as usize).min(s), Some(l)),
        None => (s, None),
    };
    let last_row = if lake.is_some() { (water_row + 1).min(s) } else { s };

    let inv_k1 = 1.0 / 0.045;
    let inv_k2 = 1.0 / 0.16;
    let star_cells = 40.0f32;
    let star_r = (0.7 * px).max(0.0035);

    for y in 0..last_row {
        let v = (y as f32 + 0.5) * px;
        let yb = (y + 1) as f32; // pixel-row bottom edge, in rows
        let yt = y as f32;
        let row = &mut out[y * s * 3..(y + 1) * s * 3];
        for x in 0..s {
            let u = (x as f32 + 0.5) * px;
            let mut acc = [0.0f32; 3];
            let mut trans = 1.0f32;
            for r in (0..nr).rev() {
                let rc = &cols[r];
                let cov = if yb <= rc.tmin[x] {
                    0.0
                } else if yt >= rc.tmax[x] {
                    1.0
                } else {
                    let a = yb - rc.top[2 * x];
                    let b = yb - rc.top[2 * x + 1];
                    let c = yb - rc.top[2 * x + 2];
                    0.5 * (seg_coverage(a, b) + seg_coverage(b, c))
                };
                if cov <= 0.0 {
                    continue;
                }
                let ridge = &scene.ridges[r];
                let below = v - rc.ground[x];
                let mut col = if below < 0.0 && r + 1 == nr && !scene.trees.is_empty() {
                    ridge.tree_color
                } else {
                    // Slope shading fades out below the crest (no vertical streaks).
                    let crest = smoothstep(0.12, 0.0, below);
                    scale(ridge.color, 1.0 + (rc.shade[x] - 1.0) * crest)
                };
                // Cheap surface texture (rock strata / vegetation patches).
                let tex = noise.noise2(u * 16.0 + ridge.phase, v * 34.0 + r as f32 * 37.0);
                col = scale(col, 1.0 + ridge.texture * (tex - 0.5));
                if ridge.snowline > 0.0 && v < ridge.snowline + 0.01 {
                    let sn = smoothstep(ridge.snowline + 0.01, ridge.snowline - 0.03, v);
                    col = mix(col, ridge.snow_color, 0.9 * sn);
                }
                let mist = ridge.mist * smoothstep(ridge.mist_top, ridge.mist_top + ridge.mist_depth, v);
                let h = ridge.haze + (1.0 - ridge.haze) * mist;
                col = mix(col, scene.haze, h);
                let w = trans * cov;
                acc = add(acc, scale(col, w));
                trans -= w;
                if trans < 0.002 {
                    break;
                }
            }
            if trans >= 0.002 {
                let sky = sky_pixel(scene, &noise, u, v, sky_row[y], inv_k1, inv_k2, star_cells, star_r, sf);
                acc = add(acc, scale(sky, trans));
            }
            let c = mix(acc, scene.fog_color, fog_row[y]);
            let o = &mut row[x * 3..x * 3 + 3];
            o[0] = to_u8(c[0]);
            o[1] = to_u8(c[1]);
            o[2] = to_u8(c[2]);
        }
    }

    if let Some(lake) = lake {
        lake_pass(scene, &noise, &lake, size, water_row, &fog_row, out);
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn sky_pixel(
    scene: &Scene,
    noise: &ValueNoise,
    u: f32,
    v: f32,
    base: Rgb,
    inv_k1: f32,
    inv_k2: f32,
    star_cells: f32,
    star_r: f32,
    sf: f32,
) -> Rgb {
    let mut c = base;
    let dx = u - scene.cx;
    let dy = v - scene.cy;
    let d = (dx * dx + dy * dy).sqrt();
    // Glow: a tight exponential halo plus a wide one flattened along the horizon.
    let dw2 = (dx * dx + 5.0 * dy * dy) * inv_k2 * inv_k2;
    let near = d * inv_k1;
    // exp(-9) < 1.3e-4: skip the call where it cannot change an 8-bit value.
    let near = if near < 9.0 { libm::expf(-near) } else { 0.0 };
    let glow = scene.glow_near * near + scene.glow_wide / (1.0 + dw2);
    c = add(c, scale(scene.sun, glow));
    if scene.star_vis > 0.0 {
        let gx = u * star_cells;
        let gy = v * star_cells;
        let cxi = floor_i32(gx) as f32;
        let cyi = floor_i32(gy) as f32;
        let h = hash2(scene.star_seed, ((cxi as i64 as u64) << 32) ^ (cyi as i64 as u64));
        if unit_f32(h) < 0.35 {
            let h2 = splitmix64(h);
            let sx = (cxi + 0.2 + 0.6 * unit_f32(h2)) / star_cells;
            let sy = (cyi + 0.2 + 0.6 * unit_f32(h2 << 24)) / star_cells;
            let b = unit_f32(splitmix64(h2));
            let dd = ((u - sx) * (u - sx) + (v - sy) * (v - sy)).sqrt();
            let k = (1.0 - dd / star_r).max(0.0);
            let fade = smoothstep(0.7, 0.3, v);
            let i = scene.star_vis * fade * k * (0.25 + 0.75 * b * b);
            c = add(c, [i * 0.95, i * 0.95, i]);
        }
    }
    if scene.disc {
        let cov = ((scene.disc_r - d) * sf + 0.5).clamp(0.0, 1.0);
        if cov > 0.0 {
            let lit = match scene.shadow {
                Some((ox, oy)) => {
                    let ex = dx - ox;
                    let ey = dy - oy;
                    let d2 = (ex * ex + ey * ey).sqrt();
                    cov * (1.0 - ((scene.disc_r - d2) * sf + 0.5).clamp(0.0, 1.0))
                }
                None => cov,
            };
            c = mix(c, scene.disc_color, lit);
        }
    }
    // Clouds (cheap value-noise fBm); they cover the disc and the stars.
    if let Some(n) =
        noise.fbm2_4_above(u * scene.cloud_sx + scene.cloud_ox, v * scene.cloud_sy + scene.cloud_oy, scene.cloud_th)
    {
        let fade = 1.0 - 0.5 * smoothstep(0.3, 0.7, v);
        let dens = smoothstep(scene.cloud_th, scene.cloud_th + 0.14, n) * fade;
        let core = smoothstep(scene.cloud_th + 0.06, scene.cloud_th + 0.3, n);
        let mut cc = mix(scene.cloud_bright, scene.cloud_dark, 0.85 * core);
        cc = add(cc, scale(scene.sun, 1.2 * glow * (1.0 - core)));
        c = mix(c, cc, dens * scene.cloud_opacity);
    }
    c
}

/// Water rows: a rippled mirror image of the rows above the water line.
fn lake_pass(
    scene: &Scene,
    noise: &ValueNoise,
    lake: &super::scene::Lake,
    size: u32,
    water_row: usize,
    fog_row: &[f32],
    out: &mut [u8],
) {
    let s = size as usize;
    let sf = size as f32;
    let px = 1.0 / sf;
    if water_row >= s {
        return;
    }
    // The boundary row is read (above-water part) while being written: keep a copy.
    let boundary: Vec<u8> = out[water_row * s * 3..(water_row + 1) * s * 3].to_vec();
    let span = (1.0 - lake.w).max(1e-3);
    for y in (water_row..s).rev() {
        let row_bottom = (y + 1) as f32 * px;
        let frac = ((row_bottom - lake.w) * sf).clamp(0.0, 1.0);
        if frac <= 0.0 {
            continue;
        }
        let v_mid = row_bottom - 0.5 * frac * px; // centre of the water part
        let dv = (v_mid - lake.w).max(0.0);
        let depth = dv / span;
        let ry = 1.1 / (dv + 0.012);
        let amp = lake.ripple * (1.0 + 6.0 * depth);
        let xscale = 7.0 / (0.25 + depth);
        let mirror_v = lake.w - dv;
        let ym = ((mirror_v * sf) as usize).min(water_row);
        let mixw = 0.08 + 0.35 * depth;
        let shore = 1.0 - 0.3 * smoothstep(0.012, 0.0, dv);
        for x in 0..s {
            let u = (x as f32 + 0.5) * px;
            let du = amp * (2.0 * noise.noise2(u * xscale + lake.ripple_ox, ry) - 1.0);
            let sxp = ((u + du) * sf - 0.5).clamp(0.0, sf - 1.0);
            let x0 = sxp as usize;
            let x1 = (x0 + 1).min(s - 1);
            let f = sxp - x0 as f32;
            let src: &[u8] = if ym == water_row { &boundary } else { &out[ym * s * 3..(ym + 1) * s * 3] };
            let mut refl = [0.0f32; 3];
            for (ch, r) in refl.iter_mut().enumerate() {
                let a = f32::from(src[x0 * 3 + ch]);
                let b = f32::from(src[x1 * 3 + ch]);
                *r = (a + (b - a) * f) * (1.0 / 255.0);
            }
            let mut c = mix(scale(refl, lake.reflectivity), lake.water_color, mixw);
            c = scale(c, shore);
            c = mix(c, scene.fog_color, fog_row[y]);
            let o = y * s * 3 + x * 3;
            for (ch, &val) in c.iter().enumerate() {
                out[o + ch] = if frac >= 1.0 {
                    to_u8(val)
                } else {
                    let above = f32::from(out[o + ch]) * (1.0 / 255.0);
                    to_u8(above + (val - above) * frac)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_exact_for_simple_cases() {
        assert_eq!(seg_coverage(2.0, 3.0), 1.0);
        assert_eq!(seg_coverage(-1.0, 0.0), 0.0);
        assert!((seg_coverage(0.5, 0.5) - 0.5).abs() < 1e-6);
        // Diagonal across the pixel: half covered.
        assert!((seg_coverage(0.0, 1.0) - 0.5).abs() < 1e-6);
        assert!((seg_coverage(-1.0, 2.0) - 0.5).abs() < 1e-6);
    }
}
