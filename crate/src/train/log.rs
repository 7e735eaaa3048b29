//! The training log: a CSV file and a PNG of the loss curves.

use std::io::Write;
use std::path::Path;

use image::{Rgb, RgbImage};

use super::run_dir::RunError;

#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub stage: String,
    pub step: u64,
    pub loss: f64,
    pub images_per_second: f64,
    pub lr: f64,
    pub seconds: f64,
}

pub const HEADER: &str = "stage,step,loss,images_per_second,lr,seconds";

pub fn append(path: &Path, rows: &[LogRow]) -> Result<(), RunError> {
    let io = |source| RunError::Io { path: path.to_path_buf(), source };
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    let mut text = String::new();
    if new {
        text.push_str(HEADER);
        text.push('\n');
    }
    for r in rows {
        text.push_str(&format!(
            "{},{},{:.6},{:.1},{:.3e},{:.1}\n",
            r.stage, r.step, r.loss, r.images_per_second, r.lr, r.seconds
        ));
    }
    file.write_all(text.as_bytes()).map_err(io)
}

/// Reads the log back; unparsable lines (a run killed mid-write) are skipped.
pub fn read(path: &Path) -> Vec<LogRow> {
    let Ok(text) = std::fs::read_to_string(path) else { return vec![] };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 6 {
                return None;
            }
            Some(LogRow {
                stage: f[0].to_string(),
                step: f[1].parse().ok()?,
                loss: f[2].parse().ok()?,
                images_per_second: f[3].parse().ok()?,
                lr: f[4].parse().ok()?,
                seconds: f[5].parse().ok()?,
            })
        })
        .collect()
}

const COLOURS: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

/// One panel per stage (aux, latent, flow, baseline, left to right): log₁₀ loss against step,
/// with faint horizontal lines at every power of ten. Written without text so it needs no
/// fonts; the CSV next to it has the numbers.
pub fn plot(rows: &[LogRow], stages: &[&str], path: &Path) -> Result<(), RunError> {
    let (panel_w, h, pad) = (320u32, 240u32, 10u32);
    let width = panel_w * stages.len().max(1) as u32;
    let mut img = RgbImage::from_pixel(width, h, Rgb([255, 255, 255]));
    for (p, stage) in stages.iter().enumerate() {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.stage == *stage && r.loss > 0.0)
            .map(|r| (r.step as f64, r.loss.log10()))
            .collect();
        let x0 = p as u32 * panel_w;
        for y in 0..h {
            img.put_pixel(x0, y, Rgb([200, 200, 200]));
        }
        if points.len() < 2 {
            continue;
        }
        let (smin, smax) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (s, _)| (a.min(*s), b.max(*s)));
        let (lmin, lmax) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, l)| (a.min(*l), b.max(*l)));
        let (lmin, lmax) = (lmin.floor(), lmax.ceil().max(lmin.floor() + 1.0));
        let to_px = |s: f64, l: f64| {
            let x = x0 as f64 + pad as f64 + (s - smin) / (smax - smin).max(1e-9) * (panel_w - 2 * pad) as f64;
            let y = (h - pad) as f64 - (l - lmin) / (lmax - lmin) * (h - 2 * pad) as f64;
            (x, y)
        };
        let mut decade = lmin;
        while decade <= lmax {
            let (_, y) = to_px(smin, decade);
            for x in x0 + pad..x0 + panel_w - pad {
                img.put_pixel(x, (y as u32).min(h - 1), Rgb([230, 230, 230]));
            }
            decade += 1.0;
        }
        let colour = Rgb(COLOURS[p % COLOURS.len()]);
        for pair in points.windows(2) {
            let (a, b) = (to_px(pair[0].0, pair[0].1), to_px(pair[1].0, pair[1].1));
            let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
            for i in 0..=n {
                let f = i as f64 / n as f64;
                let (x, y) = (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1));
                if x >= 0.0 && y >= 0.0 && (x as u32) < width && (y as u32) < h {
                    img.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
    img.save(path).map_err(|e| RunError::Invalid(format!("cannot write {}: {e}", path.display())))
}
