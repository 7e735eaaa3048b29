//! The fixtures shared by the weight-format tests: deterministic tensors,
//! models written from them, and helpers that take a file apart and put it
//! back together with a planted defect.

use serde_json::{Value, json};

use super::super::*;

pub(super) fn lcg(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

pub(super) fn entry(name: &str, shape: &[usize], seed: u64) -> TensorEntry {
    let n = shape.iter().product();
    TensorEntry::new(name, shape.to_vec(), lcg(n, seed, 0.5 + seed as f32 * 0.1))
}

/// A model with every network, given out of file order.
pub(super) fn sample_tensors() -> Vec<TensorEntry> {
    vec![
        entry("flow.blocks.0.ff.w.weight", &[64, 48], 1), // int-quantized
        entry("flow.blocks.0.ff.w.bias", &[48], 2),
        entry("decoder.conv.weight", &[16, 8, 3, 3], 3), // cols 72: int4 row padding
        entry("latent.embed", &[33, 40], 4),
        entry("encoder.norm.weight", &[32], 5),
        entry("baseline.head.weight", &[40, 30], 6), // cols 30 < group
        entry("latent.scalar", &[], 7),
        entry("flow.empty", &[0, 5], 8),
        entry("flow.blocks.0.norm1.gamma", &[64, 64], 9), // exempt by name
        entry("decoder.out.bias", &[3], 10),
    ]
}

/// A small model for exhaustive truncation / bit flips.
pub(super) fn small_tensors() -> Vec<TensorEntry> {
    vec![
        entry("latent.a.weight", &[4, 300], 11), // 1200 elements → quantized
        entry("flow.b.bias", &[5], 12),
        entry("decoder.c", &[3], 13),
    ]
}

pub(super) fn config() -> Value {
    json!({"flow": {"dim": 64, "depth": 1}, "decoder": {"channels": [16, 8]}, "note": "ünïcødé"})
}

pub(super) fn model(policy: QuantPolicy) -> Vec<u8> {
    write_model(&config(), &sample_tensors(), policy).unwrap()
}

pub(super) fn small_model(policy: QuantPolicy) -> Vec<u8> {
    write_model(&config(), &small_tensors(), policy).unwrap()
}

pub(super) fn parse_chunked(bytes: &[u8], chunk: usize) -> Result<(ModelHeader, Vec<ParsedTensor>), FormatError> {
    let mut p = StreamParser::new(Limits::default());
    let mut out = Vec::new();
    let mut last = 0;
    for c in bytes.chunks(chunk.max(1)) {
        out.extend(p.push(c)?);
        let pr = p.progress();
        assert!(pr.bytes_received >= last);
        last = pr.bytes_received;
        assert_eq!(pr.tensors_ready, out.len());
    }
    let h = p.finish()?;
    Ok((h, out))
}

/// Max abs error bound for one element under a storage.
pub(super) fn bound(st: &Storage, shape: &[usize], i: usize) -> f32 {
    match st {
        Storage::F32(_) => 0.0,
        Storage::F16(v) => v[i].to_f32().abs() * 1e-3 + 6e-8,
        Storage::Int8 { scales, .. } => {
            let (_, cols) = quant_rows_cols(shape).unwrap();
            scales[i / cols].to_f32() * 0.5 * (1.0 + 1e-5)
        }
        Storage::Int4 { scales, group, .. } => {
            let (_, cols) = quant_rows_cols(shape).unwrap();
            let (ng, _) = int4_groups(cols, *group).unwrap();
            scales[(i / cols) * ng + (i % cols) / group].to_f32() * 0.5 * (1.0 + 1e-5)
        }
    }
}

pub(super) fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

/// Splits a file into (header JSON value, data).
pub(super) fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let ds = data_start(bytes);
    (serde_json::from_slice(&bytes[8..ds]).unwrap(), bytes[ds..].to_vec())
}

/// Reassembles a file; if `rehash`, recomputes both hashes so only the
/// intended defect remains.
pub(super) fn join(mut h: Value, data: &[u8], rehash: bool) -> Vec<u8> {
    if rehash {
        let m = h["__metadata__"].as_object_mut().unwrap();
        m.insert("sha256".into(), Value::String(sha256_hex(data)));
        let c = m.get("config").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let t = m.get("tensors").and_then(|v| v.as_str()).unwrap_or("").to_string();
        m.insert("meta_sha256".into(), Value::String(meta_sha256_hex(&c, &t)));
    }
    let js = serde_json::to_vec(&h).unwrap();
    let mut out = (js.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&js);
    out.extend_from_slice(data);
    out
}

pub(super) fn with_index(h: &mut Value, f: impl FnOnce(&mut Value)) {
    let s = h["__metadata__"]["tensors"].as_str().unwrap().to_string();
    let mut idx: Value = serde_json::from_str(&s).unwrap();
    f(&mut idx);
    h["__metadata__"]["tensors"] = Value::String(idx.to_string());
}
