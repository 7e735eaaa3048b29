//! Contact sheets: many square RGB8 images tiled into one picture.

use image::{Rgb, RgbImage};

/// Background colour of the grid (dark grey).
const BACKGROUND: Rgb<u8> = Rgb([24, 24, 24]);

/// Tiles square RGB8 HWC images (`size * size * 3` bytes each) into a grid with `cols`
/// columns (at least 1) and `pad` pixels of dark grey between and around them. An image
/// with the wrong byte count is drawn as a mid-grey tile instead of panicking.
pub fn make_grid(images: &[Vec<u8>], size: u32, cols: u32, pad: u32) -> RgbImage {
    let n = images.len() as u32;
    let cols = cols.max(1).min(n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let width = cols * size + (cols + 1) * pad;
    let height = rows * size + (rows + 1) * pad;
    let mut grid = RgbImage::from_pixel(width, height, BACKGROUND);
    let expected = (size as usize) * (size as usize) * 3;
    for (i, img) in images.iter().enumerate() {
        let i = i as u32;
        let x0 = pad + (i % cols) * (size + pad);
        let y0 = pad + (i / cols) * (size + pad);
        for y in 0..size {
            for x in 0..size {
                let p = ((y * size + x) * 3) as usize;
                let px =
                    if img.len() == expected { Rgb([img[p], img[p + 1], img[p + 2]]) } else { Rgb([128, 128, 128]) };
                grid.put_pixel(x0 + x, y0 + y, px);
            }
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_layout() {
        let a = vec![255u8; 2 * 2 * 3];
        let b = vec![0u8; 2 * 2 * 3];
        let g = make_grid(&[a.clone(), b.clone(), a, vec![1, 2, 3]], 2, 3, 1);
        assert_eq!(g.dimensions(), (3 * 2 + 4, 2 * 2 + 3));
        assert_eq!(g.get_pixel(0, 0), &BACKGROUND);
        assert_eq!(g.get_pixel(1, 1), &Rgb([255, 255, 255]));
        assert_eq!(g.get_pixel(4, 1), &Rgb([0, 0, 0]));
        assert_eq!(g.get_pixel(1, 4), &Rgb([128, 128, 128]));
        // Degenerate inputs do not panic.
        assert_eq!(make_grid(&[], 4, 0, 2).dimensions(), (8, 8));
    }
}
