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
    /// The aux stage's parts of `loss = nll + β·kl`: the VGL negative log-likelihood and the
    /// KL term (before β). Empty in the CSV for the other stages.
    pub nll: Option<f64>,
    pub kl: Option<f64>,
    /// Aux stage diagnostics: the plain Gaussian negative log-likelihood per pixel, which falls
    /// as the prior improves (VGL's value need not), and the decoder's mean σ.
    pub gaussian_nll: Option<f64>,
    pub sigma: Option<f64>,
}

/// The columns; new ones are appended, so tools that read the first six keep working.
pub const HEADER: &str = "stage,step,loss,images_per_second,lr,seconds,nll,kl,gaussian_nll,sigma";
/// The header of logs written before the aux loss's parts were logged.
pub const HEADER_V1: &str = "stage,step,loss,images_per_second,lr,seconds";
/// The header of logs written before the aux diagnostics were logged.
pub const HEADER_V2: &str = "stage,step,loss,images_per_second,lr,seconds,nll,kl";
const COLUMNS: usize = 10;

fn optional(value: Option<f64>, precision: usize) -> String {
    value.map(|v| format!("{v:.precision$e}")).unwrap_or_default()
}

fn line(r: &LogRow) -> String {
    format!(
        "{},{},{:.6},{:.1},{:.3e},{:.1},{},{},{},{}\n",
        r.stage,
        r.step,
        r.loss,
        r.images_per_second,
        r.lr,
        r.seconds,
        optional(r.nll, 7),
        optional(r.kl, 7),
        optional(r.gaussian_nll, 7),
        optional(r.sigma, 7)
    )
}

/// Appends `rows`, writing the header first into a new file. A log with an older header (six or
/// eight columns) is first rewritten with the new header (its rows get empty new columns).
pub fn append(path: &Path, rows: &[LogRow]) -> Result<(), RunError> {
    let io = |source| RunError::Io { path: path.to_path_buf(), source };
    let mut text = String::new();
    match std::fs::read_to_string(path) {
        Ok(old) if old.lines().next().is_some_and(|h| [HEADER_V1, HEADER_V2].contains(&h.trim_end())) => {
            // Rewritten whole (atomically), so the file keeps one header and one width.
            let old_columns = old.lines().next().map_or(0, |h| h.split(',').count());
            let padding = ",".repeat(COLUMNS - old_columns);
            text.push_str(HEADER);
            text.push('\n');
            for l in old.lines().skip(1).filter(|l| !l.trim().is_empty()) {
                text.push_str(l.trim_end());
                text.push_str(&padding);
                text.push('\n');
            }
            text.extend(rows.iter().map(line));
            return super::run_dir::write_atomic(path, text.as_bytes());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            text.push_str(HEADER);
            text.push('\n');
        }
        Err(e) => return Err(io(e)),
    }
    text.extend(rows.iter().map(line));
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// Reads the log back; unparsable lines (a run killed mid-write) are skipped.
pub fn read(path: &Path) -> Vec<LogRow> {
    let Ok(text) = std::fs::read_to_string(path) else { return vec![] };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            if ![6, 8, COLUMNS].contains(&f.len()) {
                return None;
            }
            let part = |k: usize| -> Option<Option<f64>> {
                match f.get(k).map(|v| v.trim()) {
                    None | Some("") => Some(None),
                    Some(v) => v.parse().ok().map(Some),
                }
            };
            Some(LogRow {
                stage: f[0].to_string(),
                step: f[1].parse().ok()?,
                loss: f[2].parse().ok()?,
                images_per_second: f[3].parse().ok()?,
                lr: f[4].parse().ok()?,
                seconds: f[5].parse().ok()?,
                nll: part(6)?,
                kl: part(7)?,
                gaussian_nll: part(8)?,
                sigma: part(9)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stage: &str, step: u64, parts: Option<(f64, f64)>) -> LogRow {
        LogRow {
            stage: stage.into(),
            step,
            loss: 0.25,
            images_per_second: 10.0,
            lr: 1e-3,
            seconds: 1.5,
            nll: parts.map(|p| p.0),
            kl: parts.map(|p| p.1),
            gaussian_nll: parts.map(|p| p.0 * 4.0),
            sigma: parts.map(|_| 0.0625),
        }
    }

    #[test]
    fn the_aux_parts_are_appended_columns_and_old_logs_are_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.csv");
        // A log written before the parts were logged.
        std::fs::write(&path, format!("{HEADER_V1}\naux,0,0.500000,3.9,4.000e-7,16.2\n")).expect("write");
        assert_eq!(read(&path).len(), 1, "old logs still read");
        append(&path, &[row("aux", 1, Some((-0.125, 3.5e-4))), row("flow", 0, None)]).expect("append");
        append(&path, &[row("flow", 1, None)]).expect("append");

        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert!(lines[0].starts_with(HEADER_V1), "old columns keep their order");
        assert_eq!(lines[1], "aux,0,0.500000,3.9,4.000e-7,16.2,,,,");
        assert_eq!(lines[3], "flow,0,0.250000,10.0,1.000e-3,1.5,,,,");
        assert!(lines.iter().all(|l| l.split(',').count() == COLUMNS), "{text}");

        let rows = read(&path);
        assert_eq!(rows.len(), 4);
        assert_eq!((rows[0].nll, rows[0].kl, rows[0].sigma), (None, None, None));
        assert_eq!(rows[1], row("aux", 1, Some((-0.125, 3.5e-4))));
        assert_eq!(rows[2], row("flow", 0, None));
    }

    #[test]
    fn a_log_with_the_parts_but_not_the_diagnostics_is_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.csv");
        std::fs::write(&path, format!("{HEADER_V2}\naux,0,0.500000,3.9,4.000e-7,16.2,-1.25e-1,3.5e-4\n"))
            .expect("write");
        let before = read(&path);
        assert_eq!((before[0].nll, before[0].kl, before[0].gaussian_nll), (Some(-0.125), Some(3.5e-4), None));
        append(&path, &[row("aux", 1, Some((-0.25, 1e-3)))]).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().next(), Some(HEADER));
        assert_eq!(text.lines().nth(1), Some("aux,0,0.500000,3.9,4.000e-7,16.2,-1.25e-1,3.5e-4,,"));
        let rows = read(&path);
        assert_eq!(rows[0], before[0]);
        assert_eq!(rows[1], row("aux", 1, Some((-0.25, 1e-3))));
    }
}
