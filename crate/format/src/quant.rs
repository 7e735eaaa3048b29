//! Storage schemes, the quantization policy, and the CPU reference
//! quantizer / dequantizer.
//!
//! Layouts (see `docs/FORMAT.md`), with `rows = shape[0]`,
//! `cols = product(shape[1..])` (quantized tensors have rank >= 2):
//!
//! * `int8`: `q: [rows * cols] i8` row-major (same order as the logical
//!   tensor), `scales: [rows] f16`; `x ≈ q[r*cols + c] * scales[r]`,
//!   `q ∈ [-127, 127]`.
//! * `int4` with group `g`: `G = ceil(cols / g)` groups per row, each row
//!   padded to `P = G * g` elements with code 0; `scales: [rows * G] f16`
//!   (row-major `[rows, G]`); `packed: [rows * P / 2] u8` (row-major
//!   `[rows, P/2]`), element `j` of a row lives in byte `j / 2`: **even `j`
//!   in the low nibble, odd `j` in the high nibble**; the nibble stores
//!   `q + 8` (offset binary, `q ∈ [-7, 7]`, so nibbles are 1..=15; padding
//!   elements are nibble 8). `x ≈ (nibble - 8) * scales[r*G + j/g]`.

use core::fmt;
use core::str::FromStr;

use half::f16;

use super::error::FormatError;

/// Tensors with fewer elements than this are never quantized (stay f16 / f32).
pub const QUANT_MIN_ELEMENTS: usize = 1024;

/// Largest int4 group size the reader accepts (the writer uses 32 or 64).
pub const MAX_INT4_GROUP: usize = 1024;

/// How one logical tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    F32,
    F16,
    /// Symmetric per-row (dim 0) int8, f16 scales.
    Int8,
    /// Symmetric group-wise int4 along the flattened row, f16 scales.
    Int4 {
        group: usize,
    },
}

impl Scheme {
    /// The name written in the `scheme` field of the `tensors` index.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::F32 => "f32",
            Scheme::F16 => "f16",
            Scheme::Int8 => "int8",
            Scheme::Int4 { .. } => "int4",
        }
    }

    /// The int4 group size, if any.
    pub fn group(&self) -> Option<usize> {
        match self {
            Scheme::Int4 { group } => Some(*group),
            _ => None,
        }
    }

    pub fn is_quantized(&self) -> bool {
        matches!(self, Scheme::Int8 | Scheme::Int4 { .. })
    }

    /// Parse from the index fields `scheme` and `group`.
    pub(crate) fn from_index(scheme: &str, group: Option<u64>) -> Result<Scheme, String> {
        match (scheme, group) {
            ("f32", None) => Ok(Scheme::F32),
            ("f16", None) => Ok(Scheme::F16),
            ("int8", None) => Ok(Scheme::Int8),
            ("int4", Some(g)) => {
                if valid_int4_group(g) {
                    Ok(Scheme::Int4 { group: g as usize })
                } else {
                    Err(format!("int4 group {g} must be even and in 2..={MAX_INT4_GROUP}"))
                }
            }
            ("int4", None) => Err("int4 scheme needs a `group`".into()),
            ("f32" | "f16" | "int8", Some(_)) => Err(format!("scheme {scheme} takes no `group`")),
            (other, _) => Err(format!("unknown scheme {other:?}")),
        }
    }
}

pub(crate) fn valid_int4_group(g: u64) -> bool {
    g >= 2 && g.is_multiple_of(2) && g <= MAX_INT4_GROUP as u64
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Int4 { group } => write!(f, "int4-g{group}"),
            s => f.write_str(s.name()),
        }
    }
}

/// Model-wide quantization policy. Parsed from `f32`, `f16`, `int8`,
/// `int4-g32`, `int4-g64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuantPolicy {
    /// Everything f32 (lossless).
    F32,
    /// Everything f16.
    #[default]
    F16,
    /// Weight matrices int8, the rest f16.
    Int8,
    /// Weight matrices int4 (group 32), the rest f16.
    Int4G32,
    /// Weight matrices int4 (group 64), the rest f16.
    Int4G64,
}

impl QuantPolicy {
    pub const ALL: [QuantPolicy; 5] =
        [QuantPolicy::F32, QuantPolicy::F16, QuantPolicy::Int8, QuantPolicy::Int4G32, QuantPolicy::Int4G64];

    pub fn as_str(&self) -> &'static str {
        match self {
            QuantPolicy::F32 => "f32",
            QuantPolicy::F16 => "f16",
            QuantPolicy::Int8 => "int8",
            QuantPolicy::Int4G32 => "int4-g32",
            QuantPolicy::Int4G64 => "int4-g64",
        }
    }

    /// The scheme applied to tensors eligible for quantization.
    pub fn matrix_scheme(&self) -> Scheme {
        match self {
            QuantPolicy::F32 => Scheme::F32,
            QuantPolicy::F16 => Scheme::F16,
            QuantPolicy::Int8 => Scheme::Int8,
            QuantPolicy::Int4G32 => Scheme::Int4 { group: 32 },
            QuantPolicy::Int4G64 => Scheme::Int4 { group: 64 },
        }
    }
}

impl fmt::Display for QuantPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`QuantPolicy::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePolicyError(pub String);

impl fmt::Display for ParsePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown quantization policy {:?} (expected f32, f16, int8, int4-g32 or int4-g64)", self.0)
    }
}

impl std::error::Error for ParsePolicyError {}

impl FromStr for QuantPolicy {
    type Err = ParsePolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuantPolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParsePolicyError(s.to_string()))
    }
}

/// Whether a tensor name designates a bias, a scale or a normalisation gain (never
/// quantized, whatever its shape). Weight matrices inside normalisation modules (the
/// conditioning projection of an AdaRMSNorm, say) are ordinary matrices and are quantized;
/// plain norm gains are 1-D and stay f16 by the rank rule.
pub fn is_exempt_name(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    matches!(last.as_str(), "bias" | "scale" | "scales" | "gamma" | "beta" | "fac")
}

/// The storage scheme for one tensor under `policy`. The rule:
///
/// 1. policy `f32` → `f32` for every tensor;
/// 2. otherwise, a tensor gets the policy's scheme (`f16`, `int8`, `int4-gN`)
///    iff it has **rank >= 2**, at least [`QUANT_MIN_ELEMENTS`] (1024)
///    elements, and its name is not exempt ([`is_exempt_name`]: a last
///    component `bias`, `scale`, `scales`, `gamma`, `beta` or `fac`);
/// 3. everything else (norms, biases, scales, 1-D, small tensors) → `f16`.
pub fn choose_scheme(name: &str, shape: &[usize], policy: QuantPolicy) -> Scheme {
    if policy == QuantPolicy::F32 {
        return Scheme::F32;
    }
    let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(usize::MAX);
    if shape.len() >= 2 && numel >= QUANT_MIN_ELEMENTS && !is_exempt_name(name) {
        policy.matrix_scheme()
    } else {
        Scheme::F16
    }
}

/// A logical tensor's payload, exactly as stored (little-endian decoded).
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// `q` row-major like the logical tensor; `scales[r]` for row `r = index / cols`.
    Int8 {
        q: Vec<i8>,
        scales: Vec<f16>,
    },
    /// `packed` is `[rows, P/2]`, `scales` is `[rows, G]`; see module docs.
    Int4 {
        packed: Vec<u8>,
        group: usize,
        scales: Vec<f16>,
    },
}

/// `(rows, cols)` of a quantized tensor: rank >= 2, dim 0 = rows.
pub fn quant_rows_cols(shape: &[usize]) -> Option<(usize, usize)> {
    if shape.len() < 2 {
        return None;
    }
    let rows = shape[0];
    let cols = shape[1..].iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    rows.checked_mul(cols)?;
    Some((rows, cols))
}

/// Number of int4 groups per row and the padded row length.
pub fn int4_groups(cols: usize, group: usize) -> Option<(usize, usize)> {
    if group == 0 {
        return None;
    }
    let g = cols.div_ceil(group);
    Some((g, g.checked_mul(group)?))
}

impl Storage {
    pub fn scheme(&self) -> Scheme {
        match self {
            Storage::F32(_) => Scheme::F32,
            Storage::F16(_) => Scheme::F16,
            Storage::Int8 { .. } => Scheme::Int8,
            Storage::Int4 { group, .. } => Scheme::Int4 { group: *group },
        }
    }

    /// Payload size in bytes (as stored in the file, without alignment padding).
    pub fn payload_bytes(&self) -> usize {
        match self {
            Storage::F32(v) => v.len() * 4,
            Storage::F16(v) => v.len() * 2,
            Storage::Int8 { q, scales } => q.len() + scales.len() * 2,
            Storage::Int4 { packed, scales, .. } => packed.len() + scales.len() * 2,
        }
    }

    /// Checks that the payload fits `shape`: what the GPU paths rely on before they read it.
    pub fn check(&self, shape: &[usize]) -> Result<(), FormatError> {
        let bad = |reason: &str| FormatError::InvalidShape {
            tensor: String::new(),
            shape: shape.iter().map(|&d| d as u64).collect(),
            reason: reason.to_string(),
        };
        let numel =
            shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad("element count overflows"))?;
        match self {
            Storage::F32(v) if v.len() != numel => Err(bad("payload length does not match shape")),
            Storage::F16(v) if v.len() != numel => Err(bad("payload length does not match shape")),
            Storage::F32(_) | Storage::F16(_) => Ok(()),
            Storage::Int8 { q, scales } => {
                let (rows, _) = quant_rows_cols(shape).ok_or_else(|| bad("int8 needs rank >= 2"))?;
                if q.len() != numel || scales.len() != rows {
                    return Err(bad("int8 payload does not match shape"));
                }
                Ok(())
            }
            Storage::Int4 { packed, group, scales } => {
                let (rows, cols) = quant_rows_cols(shape).ok_or_else(|| bad("int4 needs rank >= 2"))?;
                if !valid_int4_group(*group as u64) {
                    return Err(bad("invalid int4 group"));
                }
                let (ng, padded) = int4_groups(cols, *group).ok_or_else(|| bad("int4 overflow"))?;
                if rows.checked_mul(padded / 2) != Some(packed.len()) || rows.checked_mul(ng) != Some(scales.len()) {
                    return Err(bad("int4 payload does not match shape"));
                }
                Ok(())
            }
        }
    }

    /// CPU reference dequantization to f32 (row-major, `product(shape)`
    /// values). Errors if the payload does not fit `shape`.
    pub fn dequantize(&self, shape: &[usize]) -> Result<Vec<f32>, FormatError> {
        self.check(shape)?;
        match self {
            Storage::F32(v) => Ok(v.clone()),
            Storage::F16(v) => Ok(v.iter().map(|h| h.to_f32()).collect()),
            Storage::Int8 { q, scales } => {
                let cols = q.len() / scales.len().max(1);
                let mut out = Vec::with_capacity(q.len());
                for (r, s) in scales.iter().enumerate() {
                    let s = s.to_f32();
                    out.extend(q[r * cols..(r + 1) * cols].iter().map(|&v| v as f32 * s));
                }
                Ok(out)
            }
            Storage::Int4 { packed, group, scales } => {
                let (rows, cols) = quant_rows_cols(shape).unwrap_or((0, 0));
                let (ng, padded) = int4_groups(cols, *group).unwrap_or((0, 0));
                let row_bytes = padded / 2;
                let mut out = Vec::with_capacity(rows * cols);
                for r in 0..rows {
                    let row = &packed[r * row_bytes..(r + 1) * row_bytes];
                    let sc = &scales[r * ng..(r + 1) * ng];
                    for j in 0..cols {
                        let b = row[j / 2];
                        let nib = if j % 2 == 0 { b & 0x0f } else { b >> 4 };
                        out.push((nib as i32 - 8) as f32 * sc[j / group].to_f32());
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Smallest f16 `>= x` (x >= 0, finite); `None` if that overflows f16.
fn f16_round_up(x: f32) -> Option<f16> {
    let mut h = f16::from_f32(x);
    if h.to_f32() < x {
        h = f16::from_bits(h.to_bits() + 1);
    }
    if h.is_finite() { Some(h) } else { None }
}

/// Scale for symmetric quantization of values with max |x| = `max_abs` to
/// `[-qmax, qmax]`, rounded **up** to f16 so `|x / scale| <= qmax` and the
/// error bound `|x - q*scale| <= scale/2` holds. `None` if it overflows f16.
pub(crate) fn symmetric_scale(max_abs: f32, qmax: f32) -> Option<f16> {
    if max_abs == 0.0 {
        return Some(f16::ZERO);
    }
    f16_round_up(max_abs / qmax)
}

#[inline]
fn quant_code(x: f32, scale: f32, qmax: f32) -> i32 {
    if scale == 0.0 {
        return 0;
    }
    (x / scale).round().clamp(-qmax, qmax) as i32
}

/// Index of the element responsible for a scale overflow.
pub(crate) struct ScaleOverflow {
    pub index: usize,
    pub value: f32,
}

fn argmax_abs(v: &[f32]) -> (usize, f32) {
    let mut best = (0, 0.0f32);
    for (i, &x) in v.iter().enumerate() {
        if x.abs() > best.1 {
            best = (i, x.abs());
        }
    }
    best
}

/// Per-row symmetric int8. `values.len() == rows * cols`.
pub(crate) fn quantize_int8(values: &[f32], rows: usize, cols: usize) -> Result<(Vec<i8>, Vec<f16>), ScaleOverflow> {
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &values[r * cols..(r + 1) * cols];
        let (am, max_abs) = argmax_abs(row);
        let s = symmetric_scale(max_abs, 127.0).ok_or(ScaleOverflow { index: r * cols + am, value: row[am] })?;
        let sf = s.to_f32();
        q.extend(row.iter().map(|&x| quant_code(x, sf, 127.0) as i8));
        scales.push(s);
    }
    Ok((q, scales))
}

/// Group-wise symmetric int4 (see module docs for the layout).
pub(crate) fn quantize_int4(
    values: &[f32],
    rows: usize,
    cols: usize,
    group: usize,
) -> Result<(Vec<u8>, Vec<f16>), ScaleOverflow> {
    let (ng, padded) = int4_groups(cols, group).unwrap_or((0, 0));
    let row_bytes = padded / 2;
    let mut packed = vec![0x88u8; rows * row_bytes];
    let mut scales = Vec::with_capacity(rows * ng);
    for r in 0..rows {
        let row = &values[r * cols..(r + 1) * cols];
        let prow = &mut packed[r * row_bytes..(r + 1) * row_bytes];
        for g in 0..ng {
            let lo = g * group;
            let hi = (lo + group).min(cols);
            let (am, max_abs) = argmax_abs(&row[lo..hi]);
            let s = symmetric_scale(max_abs, 7.0)
                .ok_or(ScaleOverflow { index: r * cols + lo + am, value: row[lo + am] })?;
            let sf = s.to_f32();
            for (j, &x) in row[lo..hi].iter().enumerate().map(|(k, x)| (lo + k, x)) {
                let nib = (quant_code(x, sf, 7.0) + 8) as u8;
                let b = &mut prow[j / 2];
                if j % 2 == 0 {
                    *b = (*b & 0xf0) | nib;
                } else {
                    *b = (*b & 0x0f) | (nib << 4);
                }
            }
            scales.push(s);
        }
    }
    Ok((packed, scales))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_values(n: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    #[test]
    fn policy_parse_roundtrip() {
        for p in QuantPolicy::ALL {
            assert_eq!(p.as_str().parse::<QuantPolicy>().unwrap(), p);
            assert_eq!(p.to_string().parse::<QuantPolicy>().unwrap(), p);
        }
        assert_eq!("INT4-G32".parse::<QuantPolicy>().unwrap(), QuantPolicy::Int4G32);
        assert!("int4".parse::<QuantPolicy>().is_err());
        assert!("int4-g16".parse::<QuantPolicy>().is_err());
        assert!("".parse::<QuantPolicy>().is_err());
    }

    #[test]
    fn choose_scheme_rule() {
        let p = QuantPolicy::Int8;
        assert_eq!(choose_scheme("flow.blocks.0.ff.w.weight", &[64, 64], p), Scheme::Int8);
        assert_eq!(choose_scheme("flow.conv.weight", &[16, 8, 3, 3], p), Scheme::Int8);
        // small
        assert_eq!(choose_scheme("flow.w.weight", &[16, 16], p), Scheme::F16);
        // 1-D
        assert_eq!(choose_scheme("flow.w.bias", &[4096], p), Scheme::F16);
        // norm names
        assert_eq!(choose_scheme("flow.blocks.0.norm1.weight", &[64, 64], p), p.matrix_scheme());
        assert_eq!(choose_scheme("flow.blocks.0.norm1.scale", &[64, 64], p), Scheme::F16);
        assert_eq!(choose_scheme("flow.x.layernorm.gamma", &[64, 64], p), Scheme::F16);
        assert_eq!(choose_scheme("flow.x.bias", &[64, 64], p), Scheme::F16);
        // f32 policy keeps everything f32
        assert_eq!(choose_scheme("flow.w.bias", &[4], QuantPolicy::F32), Scheme::F32);
        assert_eq!(choose_scheme("flow.w.weight", &[64, 64], QuantPolicy::F32), Scheme::F32);
        assert_eq!(choose_scheme("flow.w.weight", &[64, 64], QuantPolicy::F16), Scheme::F16);
        assert_eq!(choose_scheme("flow.w.weight", &[64, 64], QuantPolicy::Int4G64), Scheme::Int4 { group: 64 });
        // overflowing shape doesn't panic
        assert_eq!(choose_scheme("flow.w.weight", &[usize::MAX, 3], p), Scheme::Int8);
    }

    #[test]
    fn int8_error_bound() {
        let (rows, cols) = (7, 129);
        let mut v = lcg_values(rows * cols, 1, 3.0);
        v[5] = 1e-30; // tiny
        for x in &mut v[cols * 2..cols * 3] {
            *x = 0.0; // all-zero row
        }
        let (q, s) = quantize_int8(&v, rows, cols).ok().unwrap();
        assert!(q.iter().all(|&x| x != -128));
        let st = Storage::Int8 { q, scales: s.clone() };
        let d = st.dequantize(&[rows, cols]).unwrap();
        for (i, (&a, &b)) in v.iter().zip(&d).enumerate() {
            let sc = s[i / cols].to_f32();
            assert!((a - b).abs() <= sc * 0.5 * (1.0 + 1e-5) + 1e-30, "i={i} {a} {b} {sc}");
        }
        assert_eq!(s[2].to_f32(), 0.0);
    }

    #[test]
    fn int4_error_bound_and_padding() {
        for group in [32usize, 64] {
            let (rows, cols) = (5, 100); // not a multiple of the group
            let v = lcg_values(rows * cols, group as u64, 0.7);
            let (p, s) = quantize_int4(&v, rows, cols, group).ok().unwrap();
            let (ng, padded) = int4_groups(cols, group).unwrap();
            assert_eq!(p.len(), rows * padded / 2);
            assert_eq!(s.len(), rows * ng);
            // padding nibbles are 8, used nibbles 1..=15
            for r in 0..rows {
                for j in 0..padded {
                    let b = p[r * padded / 2 + j / 2];
                    let n = if j % 2 == 0 { b & 15 } else { b >> 4 };
                    if j >= cols {
                        assert_eq!(n, 8);
                    } else {
                        assert!((1..=15).contains(&n));
                    }
                }
            }
            let st = Storage::Int4 { packed: p, group, scales: s.clone() };
            assert_eq!(st.scheme(), Scheme::Int4 { group });
            let d = st.dequantize(&[rows, 10, 10]).unwrap();
            for (i, (&a, &b)) in v.iter().zip(&d).enumerate() {
                let sc = s[(i / cols) * ng + (i % cols) / group].to_f32();
                assert!((a - b).abs() <= sc * 0.5 * (1.0 + 1e-5), "i={i} {a} {b} {sc}");
            }
        }
    }

    #[test]
    fn nibble_order_documented() {
        // row [1*s, -2*s] with s chosen so codes are exact: max 7 → scale 1
        let v = [7.0f32, -2.0, 0.0, 0.0];
        let (p, s) = quantize_int4(&v, 1, 4, 4).ok().unwrap();
        assert_eq!(s[0].to_f32(), 1.0);
        // element 0 (code 7 → nibble 15) low, element 1 (code -2 → nibble 6) high
        assert_eq!(p, vec![0x6f, 0x88]);
    }

    #[test]
    fn scale_overflow_detected() {
        let v = [1e9f32, 1.0];
        assert!(quantize_int8(&v, 1, 2).is_err());
        assert!(quantize_int4(&v, 1, 2, 2).is_err());
        // the largest representable scale still works
        let big = 65504.0f32 * 127.0;
        assert!(quantize_int8(&[big, 0.0], 1, 2).is_ok());
    }

    #[test]
    fn dequantize_rejects_bad_shape() {
        let st = Storage::Int8 { q: vec![1; 6], scales: vec![f16::ONE; 2] };
        assert!(st.dequantize(&[2, 3]).is_ok());
        assert!(st.dequantize(&[3, 2]).is_err());
        assert!(st.dequantize(&[6]).is_err());
        assert!(Storage::F32(vec![1.0]).dequantize(&[usize::MAX, 2]).is_err());
    }
}
