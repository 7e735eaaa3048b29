//! Writing a split to disk (PNGs + attributes.csv) and preview grids. No printing.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::{ImageFormat, RgbImage};

use super::attributes::LandscapeAttributes;
use super::error::DataError;
use super::grid::make_grid;
use super::landscape::{check_size, render_landscape_into};
use super::par::par_map;
use super::source::{ImageSource, Procedural};
use super::split::Split;

/// What [`export_dataset`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// The output directory.
    pub dir: PathBuf,
    /// Number of images written (`00000.png`, `00001.png`, …).
    pub count: u64,
    /// Path of `attributes.csv`.
    pub csv: PathBuf,
}

/// Images rendered and written per parallel chunk.
const CHUNK: u64 = 256;

/// The most images one preview grid holds (it is rendered in memory).
pub const MAX_PREVIEW_IMAGES: u32 = 1024;

/// Renders images `0..n` of `split` at `size` into `out_dir` (created if missing) as
/// `00000.png`… (5 digits, more if needed) plus `attributes.csv` with the header
/// `file,seed,index,<LandscapeAttributes::names()>`. Uses all cores.
pub fn export_dataset(split: Split, n: u64, size: u32, out_dir: &Path) -> Result<ExportSummary, DataError> {
    export_dataset_with_progress(split, n, size, out_dir, &|_| {})
}

/// [`export_dataset`] that calls `progress(done)` after each chunk of images.
pub fn export_dataset_with_progress(
    split: Split,
    n: u64,
    size: u32,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ExportSummary, DataError> {
    check_size(size)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let csv_path = out_dir.join("attributes.csv");
    let mut csv = Vec::new();
    csv.extend_from_slice(b"file,seed,index");
    for name in LandscapeAttributes::names() {
        csv.push(b',');
        csv.extend_from_slice(name.as_bytes());
    }
    csv.push(b'\n');

    let seed = split.seed();
    let bytes = (size as usize) * (size as usize) * 3;
    let mut start = 0u64;
    while start < n {
        let len = CHUNK.min(n - start);
        let rows = par_map(len as usize, 0, |k| -> Result<String, DataError> {
            let index = start + k as u64;
            let mut buf = vec![0u8; bytes];
            let attrs = render_landscape_into(seed, index, size, &mut buf)?;
            let file = format!("{index:05}.png");
            let path = out_dir.join(&file);
            let img = RgbImage::from_raw(size, size, buf)
                .ok_or_else(|| DataError::InvalidArgument("rendered buffer has the wrong size".into()))?;
            img.save_with_format(&path, ImageFormat::Png)
                .map_err(|e| DataError::Encode { path: path.clone(), reason: e.to_string() })?;
            let mut row = format!("{file},{seed},{index}");
            for v in attrs.to_vec() {
                row.push(',');
                row.push_str(&v.to_string());
            }
            row.push('\n');
            Ok(row)
        });
        for row in rows {
            csv.extend_from_slice(row?.as_bytes());
        }
        start += len;
        progress(start);
    }
    let mut f = fs::File::create(&csv_path).map_err(io(&csv_path))?;
    f.write_all(&csv).map_err(io(&csv_path))?;
    Ok(ExportSummary { dir: out_dir.to_path_buf(), count: n, csv: csv_path })
}

/// A near-square grid (2 px padding) of images `0..n` of `split` at `size`.
pub fn preview_grid(split: Split, n: u32, size: u32) -> Result<RgbImage, DataError> {
    if !(1..=MAX_PREVIEW_IMAGES).contains(&n) {
        // The grid is rendered in memory: refused before anything is allocated for it.
        return Err(DataError::InvalidArgument(format!("a preview holds 1..={MAX_PREVIEW_IMAGES} images, got {n}")));
    }
    let src = Procedural::new(split, size, 0)?;
    let indices: Vec<u64> = (0..u64::from(n)).collect();
    let images = src.batch(&indices)?;
    let mut cols = 1u32;
    while cols * cols < n {
        cols += 1;
    }
    Ok(make_grid(&images, size, cols, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_of_no_or_too_many_images_is_refused_before_rendering() {
        // u32::MAX once aborted on a 34 GB allocation.
        for n in [0, MAX_PREVIEW_IMAGES + 1, u32::MAX] {
            assert!(matches!(preview_grid(Split::Train, n, 32), Err(DataError::InvalidArgument(_))), "{n}");
        }
    }

    #[test]
    fn export_writes_pngs_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/out");
        let s = export_dataset(Split::HeldOut, 5, 32, &out).unwrap();
        assert_eq!(s.count, 5);
        let csv = fs::read_to_string(&s.csv).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 6);
        assert!(lines[0].starts_with("file,seed,index,time_of_day,"));
        assert_eq!(lines[0].split(',').count(), 3 + LandscapeAttributes::names().len());
        assert!(lines[3].starts_with(&format!("00002.png,{},2,", Split::HeldOut.seed())));
        let img = image::open(out.join("00004.png")).unwrap().to_rgb8();
        assert_eq!(img.into_raw(), Split::HeldOut.render(4, 32).unwrap().rgb);
        // Attribute values round-trip through the CSV text.
        let first: Vec<f32> = lines[1].split(',').skip(3).map(|v| v.parse().unwrap()).collect();
        assert_eq!(first, Split::HeldOut.attributes(0).to_vec());
        assert!(export_dataset(Split::Train, 1, 7, &out).is_err());
    }

    #[test]
    fn preview_grid_dimensions() {
        let g = preview_grid(Split::Train, 10, 32).unwrap();
        assert_eq!(g.dimensions(), (4 * 32 + 5 * 2, 3 * 32 + 4 * 2));
    }
}
