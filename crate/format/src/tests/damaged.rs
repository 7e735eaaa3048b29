//! Damaged files: truncation at every byte and bit flips in the header and
//! the data.

use std::collections::BTreeMap;

use super::super::*;
use super::fixtures::*;

#[test]
fn truncation_at_every_byte() {
    let bytes = small_model(QuantPolicy::Int4G32);
    for k in 0..bytes.len() {
        match read_model(&bytes[..k]) {
            Err(FormatError::Truncated { expected, got }) => {
                assert_eq!(got, k as u64);
                assert!(expected > got);
            }
            other => panic!("prefix {k}: {other:?}"),
        }
    }
    assert!(read_model(&bytes).is_ok());
}

#[test]
fn bit_flips_in_data_are_caught() {
    for policy in [QuantPolicy::F32, QuantPolicy::F16, QuantPolicy::Int8, QuantPolicy::Int4G64] {
        let bytes = small_model(policy);
        let ds = data_start(&bytes);
        let mut kinds = BTreeMap::new();
        for pos in (ds..bytes.len()).step_by(3) {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[pos] ^= 1 << bit;
                let e = read_model(&b).expect_err("flipped data must not parse");
                let kind = match e {
                    FormatError::HashMismatch { .. } => "hash",
                    FormatError::NonFinite { .. } => "nonfinite",
                    FormatError::InvalidQuant { .. } => "quant",
                    FormatError::NonZeroPadding { .. } => "padding",
                    other => panic!("unexpected {other:?}"),
                };
                *kinds.entry(kind).or_insert(0) += 1;
            }
        }
        assert!(kinds["hash"] > 0);
    }
}

#[test]
fn bit_flips_in_header_never_change_meaning() {
    let bytes = small_model(QuantPolicy::Int8);
    let (h0, t0) = read_model(&bytes).unwrap();
    let ds = data_start(&bytes);
    let mut oks = 0;
    for pos in 0..ds {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            if let Ok((h, t)) = read_model(&b) {
                // only free-form metadata (created_by / policy) is not covered by a hash
                assert_eq!(h.config, h0.config);
                assert_eq!(h.tensors, h0.tensors);
                assert_eq!(t, t0);
                oks += 1;
            }
        }
    }
    // flips inside the free-form "created_by"/"policy" entries may survive; nothing else
    let free: usize = h0.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(oks <= free * 8, "{oks} > {}", free * 8);
}
