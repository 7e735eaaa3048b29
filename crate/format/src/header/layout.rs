//! The physical layout of a logical tensor: its parts under a scheme, their
//! byte sizes, and the padding that keeps every tensor 8-aligned.

use super::super::quant::{Scheme, int4_groups};
use super::types::{DType, PartRole};

/// Every logical tensor starts (and ends) at a multiple of this many bytes of
/// the data buffer; the data buffer itself starts 8-aligned in the file.
pub const DATA_ALIGN: u64 = 8;

/// Expected physical part of a logical tensor (u64 arithmetic, checked).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartSpec {
    pub role: PartRole,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub bytes: u64,
}

pub(super) fn checked_numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
}

/// The physical parts (without padding) that store `shape` under `scheme`.
/// Errors (as a reason string) on overflow or an impossible combination.
pub(crate) fn part_specs(scheme: Scheme, shape: &[u64]) -> Result<Vec<PartSpec>, String> {
    let numel = checked_numel(shape).ok_or("element count overflows u64")?;
    let spec = |role, dtype: DType, shape: Vec<u64>| -> Result<PartSpec, String> {
        let n = checked_numel(&shape).ok_or("element count overflows u64")?;
        let bytes = n.checked_mul(dtype.size()).ok_or("byte size overflows u64")?;
        Ok(PartSpec { role, dtype, shape, bytes })
    };
    let rows_cols = || -> Result<(u64, u64), String> {
        if shape.len() < 2 {
            return Err("quantized tensors need rank >= 2".into());
        }
        if numel == 0 {
            return Err("quantized tensors must not be empty".into());
        }
        Ok((shape[0], numel / shape[0]))
    };
    match scheme {
        Scheme::F32 => Ok(vec![spec(PartRole::Values, DType::F32, shape.to_vec())?]),
        Scheme::F16 => Ok(vec![spec(PartRole::Values, DType::F16, shape.to_vec())?]),
        Scheme::Int8 => {
            let (rows, _) = rows_cols()?;
            Ok(vec![spec(PartRole::Scale, DType::F16, vec![rows])?, spec(PartRole::Q, DType::I8, shape.to_vec())?])
        }
        Scheme::Int4 { group } => {
            let (rows, cols) = rows_cols()?;
            let cols = usize::try_from(cols).map_err(|_| "row too long".to_string())?;
            let (ng, padded) = int4_groups(cols, group).ok_or("int4 row length overflows")?;
            Ok(vec![
                spec(PartRole::Scale, DType::F16, vec![rows, ng as u64])?,
                spec(PartRole::Q, DType::U8, vec![rows, padded as u64 / 2])?,
            ])
        }
    }
}

/// Zero bytes needed after `offset` to reach the next multiple of [`DATA_ALIGN`].
pub(crate) fn pad_len(offset: u64) -> u64 {
    (DATA_ALIGN - offset % DATA_ALIGN) % DATA_ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = part_specs(Scheme::Int4 { group: 32 }, &[3, 5, 10]).unwrap();
        assert_eq!(s[0].shape, vec![3, 2]);
        assert_eq!(s[1].shape, vec![3, 32]);
        assert_eq!(s[1].bytes, 96);
        assert!(part_specs(Scheme::Int8, &[5]).is_err());
        assert!(part_specs(Scheme::Int8, &[5, 0]).is_err());
        assert!(part_specs(Scheme::F32, &[u64::MAX, 2]).is_err());
        assert!(part_specs(Scheme::F32, &[1 << 62]).is_err()); // bytes overflow
        assert_eq!(part_specs(Scheme::F32, &[]).unwrap()[0].bytes, 4);
        assert_eq!(pad_len(0), 0);
        assert_eq!(pad_len(13), 3);
    }
}
