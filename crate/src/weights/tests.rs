//! Cross-cutting tests of the weight format: round trips, safetensors
//! compatibility, chunking, truncation, bit flips, handcrafted bad files,
//! and a proptest mutation fuzzer.
//!
//! Long fuzz run (about an hour on one core):
//! `PROPTEST_CASES=100000000 cargo test --release -j1 weights::tests::fuzz_long -- --ignored --nocapture`
//! (about 35 000 cases/s on one core in release).

use std::collections::BTreeMap;

use half::f16;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn lcg(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

fn entry(name: &str, shape: &[usize], seed: u64) -> TensorEntry {
    let n = shape.iter().product();
    TensorEntry::new(name, shape.to_vec(), lcg(n, seed, 0.5 + seed as f32 * 0.1))
}

/// A model with every network, given out of file order.
fn sample_tensors() -> Vec<TensorEntry> {
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
fn small_tensors() -> Vec<TensorEntry> {
    vec![
        entry("latent.a.weight", &[4, 300], 11), // 1200 elements → quantized
        entry("flow.b.bias", &[5], 12),
        entry("decoder.c", &[3], 13),
    ]
}

fn config() -> Value {
    json!({"flow": {"dim": 64, "depth": 1}, "decoder": {"channels": [16, 8]}, "note": "ünïcødé"})
}

fn model(policy: QuantPolicy) -> Vec<u8> {
    write_model(&config(), &sample_tensors(), policy).unwrap()
}

fn small_model(policy: QuantPolicy) -> Vec<u8> {
    write_model(&config(), &small_tensors(), policy).unwrap()
}

fn parse_chunked(bytes: &[u8], chunk: usize) -> Result<(ModelHeader, Vec<ParsedTensor>), FormatError> {
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
fn bound(st: &Storage, shape: &[usize], i: usize) -> f32 {
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

#[test]
fn round_trip_every_policy() {
    let src = sample_tensors();
    for policy in QuantPolicy::ALL {
        let (bytes, report) = write_model_with_report(&config(), &src, policy).unwrap();
        assert_eq!(bytes.len() as u64, report.total_bytes);
        assert_eq!((8 + report.header_bytes) % 8, 0, "data buffer 8-aligned");
        let (h, ts) = read_model(&bytes).unwrap();
        assert_eq!(h.config, config());
        assert_eq!(h.format_version, 1);
        assert_eq!(h.total_bytes, bytes.len() as u64);
        assert_eq!(h.metadata.get("policy").map(String::as_str), Some(policy.as_str()));
        assert!(h.metadata.contains_key("created_by"));
        assert_eq!(ts.len(), src.len());
        // file order: by network, caller order within a network
        let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "latent.embed",
                "latent.scalar",
                "decoder.conv.weight",
                "decoder.out.bias",
                "encoder.norm.weight",
                "flow.blocks.0.ff.w.weight",
                "flow.blocks.0.ff.w.bias",
                "flow.empty",
                "flow.blocks.0.norm1.gamma",
                "baseline.head.weight",
            ]
        );
        assert_eq!(h.networks(), Network::ORDER.to_vec());
        let mut max_err = 0.0f32;
        for t in &ts {
            let e = src.iter().find(|e| e.name == t.name).unwrap();
            assert_eq!(t.shape, e.shape);
            assert_eq!(t.scheme(), choose_scheme(&e.name, &e.shape, policy), "{}", t.name);
            let info = h.tensor(&t.name).unwrap();
            assert_eq!(info.scheme, t.scheme());
            assert_eq!(info.data_range.0 % 8, 0);
            assert_eq!(info.data_range.1 % 8, 0);
            let d = t.dequantize().unwrap();
            assert_eq!(d.len(), e.values.len());
            for (i, (&a, &b)) in e.values.iter().zip(&d).enumerate() {
                let err = (a - b).abs();
                assert!(err <= bound(&t.storage, &t.shape, i), "{} [{i}] {a} vs {b} ({policy})", t.name);
                max_err = max_err.max(err);
            }
            let rep = report.per_tensor.iter().find(|r| r.name == t.name).unwrap();
            assert_eq!(rep.scheme, t.scheme());
            assert_eq!(rep.bytes, info.stored_bytes());
        }
        assert_eq!(max_err, report.max_abs_error);
        let nb: BTreeMap<String, u64> = h.network_bytes().into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        assert_eq!(nb, report.per_network_bytes);
        assert_eq!(nb.values().sum::<u64>(), report.data_bytes);
        if policy == QuantPolicy::F32 {
            assert_eq!(report.max_abs_error, 0.0);
        }
    }
}

#[test]
fn quantized_sizes_shrink() {
    let t = vec![entry("flow.w.weight", &[256, 256], 1)];
    let size = |p| write_model_with_report(&json!({}), &t, p).unwrap().1.data_bytes as f64;
    let f32s = size(QuantPolicy::F32);
    assert_eq!(f32s, 256.0 * 256.0 * 4.0);
    assert!((size(QuantPolicy::F16) / f32s - 0.5).abs() < 1e-9);
    assert!(size(QuantPolicy::Int8) / f32s < 0.26);
    assert!(size(QuantPolicy::Int4G32) / f32s < 0.16);
    assert!(size(QuantPolicy::Int4G64) / f32s < 0.14);
}

#[test]
fn scheme_overrides() {
    let mut o = WriteOptions::new(QuantPolicy::Int8);
    o.overrides.insert("flow.b.bias".into(), Scheme::F32);
    o.overrides.insert("decoder.c".into(), Scheme::Int4 { group: 2 }); // rank 1: refused
    assert!(matches!(write_model_with_options(&config(), &small_tensors(), &o), Err(FormatError::InvalidShape { .. })));
    o.overrides.remove("decoder.c");
    o.overrides.insert("latent.a.weight".into(), Scheme::Int4 { group: 128 });
    let (bytes, _) = write_model_with_options(&config(), &small_tensors(), &o).unwrap();
    let (_, ts) = read_model(&bytes).unwrap();
    assert_eq!(ts[0].scheme(), Scheme::Int4 { group: 128 });
    assert_eq!(ts[2].scheme(), Scheme::F32);
    o.overrides.insert("flow.nope".into(), Scheme::F32);
    assert!(write_model_with_options(&config(), &small_tensors(), &o).is_err());
    // reserved metadata
    let mut o = WriteOptions::new(QuantPolicy::F16);
    o.metadata.insert("sha256".into(), "x".into());
    assert!(matches!(
        write_model_with_options(&config(), &small_tensors(), &o),
        Err(FormatError::InvalidMetadata { .. })
    ));
    let mut o = WriteOptions::new(QuantPolicy::F16);
    o.metadata.insert("license".into(), "MIT".into());
    o.created_by = Some("me".into());
    let (bytes, _) = write_model_with_options(&config(), &small_tensors(), &o).unwrap();
    let (h, _) = read_model(&bytes).unwrap();
    assert_eq!(h.metadata["license"], "MIT");
    assert_eq!(h.metadata["created_by"], "me");
}

#[test]
fn readable_by_safetensors_crate() {
    use safetensors::{Dtype, SafeTensors};
    for policy in QuantPolicy::ALL {
        let bytes = model(policy);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (n, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let md = meta.metadata().as_ref().unwrap();
        assert_eq!(md["format"], "lediflow");
        assert_eq!(md["format_version"], "1");
        let (h, ts) = read_model(&bytes).unwrap();
        assert_eq!(n as u64, h.header_len);
        let mut count = 0;
        for (info, t) in h.tensors.iter().zip(&ts) {
            for p in &info.parts {
                count += 1;
                let v = st.tensor(&p.name).unwrap();
                assert_eq!(v.shape(), p.shape.as_slice(), "{}", p.name);
                let dt = match p.dtype {
                    DType::F32 => Dtype::F32,
                    DType::F16 => Dtype::F16,
                    DType::I8 => Dtype::I8,
                    DType::U8 => Dtype::U8,
                };
                assert_eq!(v.dtype(), dt);
                let data = v.data();
                match (p.role, &t.storage) {
                    (PartRole::Values, Storage::F32(x)) => {
                        let y: Vec<f32> = data.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
                        assert_eq!(&y, x);
                    }
                    (PartRole::Values, Storage::F16(x)) | (PartRole::Scale, Storage::Int8 { scales: x, .. }) => {
                        let y: Vec<f16> =
                            data.chunks(2).map(|c| f16::from_bits(u16::from_le_bytes(c.try_into().unwrap()))).collect();
                        assert_eq!(&y, x);
                    }
                    (PartRole::Scale, Storage::Int4 { scales: x, .. }) => {
                        let y: Vec<f16> =
                            data.chunks(2).map(|c| f16::from_bits(u16::from_le_bytes(c.try_into().unwrap()))).collect();
                        assert_eq!(&y, x);
                    }
                    (PartRole::Q, Storage::Int8 { q, .. }) => {
                        assert_eq!(data, q.iter().map(|&b| b as u8).collect::<Vec<_>>().as_slice())
                    }
                    (PartRole::Q, Storage::Int4 { packed, .. }) => assert_eq!(data, packed.as_slice()),
                    (PartRole::Pad, _) => assert!(data.iter().all(|&b| b == 0)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(st.len(), count);
    }
}

#[test]
fn safetensors_serialized_file_is_not_ours() {
    // A plain safetensors file (written by the safetensors crate) is refused with NotLediflow.
    use safetensors::tensor::{Dtype, TensorView};
    let data = vec![0u8; 16];
    let v = TensorView::new(Dtype::F32, vec![2, 2], &data).unwrap();
    let bytes = safetensors::serialize(vec![("flow.x", v)], None).unwrap();
    assert!(matches!(read_model(&bytes), Err(FormatError::NotLediflow { .. })));
    let mut md = std::collections::HashMap::new();
    md.insert("format".to_string(), "pt".to_string());
    let v = TensorView::new(Dtype::F32, vec![2, 2], &data).unwrap();
    let bytes = safetensors::serialize(vec![("flow.x", v)], Some(md)).unwrap();
    assert!(matches!(read_model(&bytes), Err(FormatError::NotLediflow { .. })));
}

#[test]
fn chunking_gives_same_result() {
    for policy in [QuantPolicy::F32, QuantPolicy::Int8, QuantPolicy::Int4G32] {
        let bytes = model(policy);
        let whole = read_model(&bytes).unwrap();
        for chunk in [1, 7, 4096, bytes.len()] {
            let r = parse_chunked(&bytes, chunk).unwrap();
            assert_eq!(r, whole, "chunk {chunk}");
        }
    }
}

#[test]
fn header_available_early_and_progress() {
    let bytes = model(QuantPolicy::Int8);
    let (h, _) = read_model(&bytes).unwrap();
    let mut p = StreamParser::new(Limits::default());
    let ds = h.data_start as usize;
    assert!(p.push(&bytes[..ds - 1]).unwrap().is_empty());
    assert!(p.header().is_none());
    assert_eq!(p.progress().total_bytes, None);
    let first = p.push(&bytes[ds - 1..ds]).unwrap();
    assert!(first.is_empty());
    assert_eq!(p.header(), Some(&h));
    let pr = p.progress();
    assert_eq!(
        (pr.bytes_received, pr.total_bytes, pr.tensors_ready, pr.tensors_total),
        (ds as u64, Some(bytes.len() as u64), 0, Some(10))
    );
    // the first tensor (latent) arrives as soon as its bytes do
    let end0 = (h.data_start + h.tensors[0].data_range.1) as usize;
    let got = p.push(&bytes[ds..end0]).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "latent.embed");
    assert!(!p.is_complete());
    let rest = p.push(&bytes[end0..]).unwrap();
    assert_eq!(rest.len(), 9);
    assert!(p.is_complete());
    p.push(&[]).unwrap();
    assert_eq!(p.finish().unwrap(), h);
}

#[test]
fn empty_model() {
    let bytes = write_model(&json!(null), &[], QuantPolicy::F16).unwrap();
    let (h, ts) = read_model(&bytes).unwrap();
    assert!(ts.is_empty());
    assert_eq!(h.data_len, 0);
    assert_eq!(h.config, Value::Null);
    safetensors::SafeTensors::deserialize(&bytes).unwrap();
}

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

fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
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

// ---- handcrafted files -------------------------------------------------

/// Splits a file into (header JSON value, data).
fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let ds = data_start(bytes);
    (serde_json::from_slice(&bytes[8..ds]).unwrap(), bytes[ds..].to_vec())
}

/// Reassembles a file; if `rehash`, recomputes both hashes so only the
/// intended defect remains.
fn join(mut h: Value, data: &[u8], rehash: bool) -> Vec<u8> {
    if rehash {
        let m = h["__metadata__"].as_object_mut().unwrap();
        m.insert("sha256".into(), Value::String(sha256_hex(data)));
        let c = m.get("config").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let t = m.get("tensors").and_then(|v| v.as_str()).unwrap_or("").to_string();
        m.insert("meta_sha256".into(), Value::String(super::hash::meta_sha256_hex(&c, &t)));
    }
    let js = serde_json::to_vec(&h).unwrap();
    let mut out = (js.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&js);
    out.extend_from_slice(data);
    out
}

fn with_index(h: &mut Value, f: impl FnOnce(&mut Value)) {
    let s = h["__metadata__"]["tensors"].as_str().unwrap().to_string();
    let mut idx: Value = serde_json::from_str(&s).unwrap();
    f(&mut idx);
    h["__metadata__"]["tensors"] = Value::String(idx.to_string());
}

#[test]
fn join_split_identity() {
    let bytes = small_model(QuantPolicy::Int8);
    let (h, d) = split(&bytes);
    let b2 = join(h, &d, true);
    let (m1, t1) = read_model(&bytes).unwrap();
    let (m2, t2) = read_model(&b2).unwrap();
    assert_eq!(t1, t2);
    assert_eq!(m1.config, m2.config);
}

#[test]
fn wrong_magic_version_metadata() {
    let bytes = small_model(QuantPolicy::F16);
    let (h, d) = split(&bytes);
    let mut x = h.clone();
    x["__metadata__"]["format"] = json!("safetensors");
    assert!(matches!(read_model(&join(x, &d, true)), Err(FormatError::NotLediflow { .. })));
    let mut x = h.clone();
    x["__metadata__"].as_object_mut().unwrap().remove("format");
    assert!(matches!(read_model(&join(x, &d, true)), Err(FormatError::NotLediflow { .. })));
    let mut x = h.clone();
    x.as_object_mut().unwrap().remove("__metadata__");
    assert!(matches!(read_model(&join(x, &d, false)), Err(FormatError::NotLediflow { .. })));
    let mut x = h.clone();
    x["__metadata__"]["format_version"] = json!("2");
    assert!(matches!(
        read_model(&join(x, &d, true)),
        Err(FormatError::UnsupportedVersion { found, supported: 1 }) if found == "2"
    ));
    for key in ["format_version", "config", "tensors", "sha256", "meta_sha256"] {
        let mut x = h.clone();
        x["__metadata__"].as_object_mut().unwrap().remove(key);
        let e = read_model(&join(x, &d, false)).unwrap_err();
        assert!(matches!(&e, FormatError::MissingMetadata { key: k } if k == key), "{key}: {e:?}");
    }
    let mut x = h.clone();
    x["__metadata__"]["sha256"] = json!("abc");
    assert!(matches!(read_model(&join(x, &d, false)), Err(FormatError::InvalidMetadata { .. })));
    // config altered without re-hashing the metadata → caught at header time
    let mut x = h.clone();
    x["__metadata__"]["config"] = json!("{\"flow\":{\"dim\":65}}");
    assert!(matches!(read_model(&join(x.clone(), &d, false)), Err(FormatError::MetadataHashMismatch { .. })));
    // with a consistent hash but invalid JSON config
    x["__metadata__"]["config"] = json!("{not json");
    assert!(matches!(read_model(&join(x, &d, true)), Err(FormatError::InvalidMetadata { .. })));
    // metadata value not a string
    let mut x = h.clone();
    x["__metadata__"]["created_by"] = json!(5);
    assert!(matches!(read_model(&join(x, &d, false)), Err(FormatError::HeaderJson { .. })));
    // data hash wrong
    let mut x = h.clone();
    x["__metadata__"]["sha256"] = json!("0".repeat(64));
    assert!(matches!(read_model(&join(x, &d, false)), Err(FormatError::HashMismatch { .. })));
}

#[test]
fn trailing_garbage() {
    let bytes = small_model(QuantPolicy::Int8);
    let mut b = bytes.clone();
    b.push(0);
    assert_eq!(read_model(&b).unwrap_err(), FormatError::TrailingBytes { offset: bytes.len() as u64 });
    let mut p = StreamParser::new(Limits::default());
    p.push(&bytes).unwrap();
    assert!(p.is_complete());
    assert!(matches!(p.push(b"x"), Err(FormatError::TrailingBytes { .. })));
    assert_eq!(p.push(b"x").unwrap_err(), FormatError::Poisoned);
    assert_eq!(p.finish().unwrap_err(), FormatError::Poisoned);
}

#[test]
fn absurd_sizes_fail_fast() {
    // header length 2^60
    let mut b = (1u64 << 60).to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    assert!(matches!(read_model(&b), Err(FormatError::HeaderTooLarge { .. })));
    let mut p = StreamParser::new(Limits::default());
    assert!(matches!(p.push(&u64::MAX.to_le_bytes()), Err(FormatError::HeaderTooLarge { .. })));

    let bytes = small_model(QuantPolicy::F32);
    let (h, d) = split(&bytes);
    // a tensor claiming 10^12 elements, consistently in index and header
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["shape"] = json!([1_000_000, 1_000_000]));
    x["latent.a.weight"]["shape"] = json!([1_000_000, 1_000_000]);
    x["latent.a.weight"]["data_offsets"] = json!([0, 4_000_000_000_000u64]);
    let e = read_model(&join(x, &d, true)).unwrap_err();
    assert!(matches!(e, FormatError::TooLarge { .. }), "{e:?}");
    // product overflowing u64
    let mut x = h.clone();
    x["latent.a.weight"]["shape"] = json!([1u64 << 40, 1u64 << 40]);
    let e = read_model(&join(x, &d, true)).unwrap_err();
    assert!(matches!(e, FormatError::InvalidShape { .. }), "{e:?}");
    // ...only in the index
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["shape"] = json!([u64::MAX, 3]));
    let e = read_model(&join(x, &d, true)).unwrap_err();
    assert!(matches!(e, FormatError::InvalidShape { .. }), "{e:?}");
    // rank beyond the limit / beyond the hard cap
    let mut x = h.clone();
    x["latent.a.weight"]["shape"] = json!([1, 1, 1, 1, 1, 1, 1, 1, 1, 1200]);
    assert!(matches!(read_model(&join(x, &d, true)), Err(FormatError::InvalidShape { .. })));
    let mut x = h.clone();
    x["latent.a.weight"]["shape"] = Value::Array(vec![json!(1); 1000]);
    assert!(matches!(read_model(&join(x, &d, true)), Err(FormatError::HeaderJson { .. })));
    // small limits apply
    let lim = Limits { max_data_bytes: 64, ..Limits::default() };
    assert!(matches!(read_model_with_limits(&bytes, lim), Err(FormatError::TooLarge { .. })));
    let lim = Limits { max_header_bytes: 64, ..Limits::default() };
    assert!(matches!(read_model_with_limits(&bytes, lim), Err(FormatError::HeaderTooLarge { .. })));
    // a huge claimed tensor within the limits: the parser does not allocate it
    // up front; it waits for bytes and reports truncation.
    let mut x = h.clone();
    let n = 200_000_000u64; // 800 MB claimed
    with_index(&mut x, |i| {
        let arr = i.as_array_mut().unwrap();
        arr.truncate(1);
        arr[0]["shape"] = json!([n]);
        arr[0]["name"] = json!("latent.big");
        arr[0]["scheme"] = json!("f32");
        arr[0]["parts"] = json!(["latent.big"]);
    });
    let o = x.as_object_mut().unwrap();
    o.retain(|k, _| k == "__metadata__");
    o.insert("latent.big".into(), json!({"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}));
    let f = join(x, &d[..64], true);
    let e = read_model(&f).unwrap_err();
    assert!(matches!(e, FormatError::Truncated { expected, .. } if expected > 4 * n), "{e:?}");
}

#[test]
fn structural_defects() {
    let bytes = small_model(QuantPolicy::Int8);
    let (h, d) = split(&bytes);
    let check = |x: Value, pred: fn(&FormatError) -> bool| {
        let e = read_model(&join(x, &d, true)).unwrap_err();
        assert!(pred(&e), "{e:?}");
        assert!(!e.to_string().is_empty());
    };
    // unknown dtype
    let mut x = h.clone();
    x["flow.b.bias"]["dtype"] = json!("BF16");
    check(x, |e| matches!(e, FormatError::UnknownDtype { dtype, .. } if dtype == "BF16"));
    // offsets not matching dtype x shape
    let mut x = h.clone();
    x["flow.b.bias"]["data_offsets"][1] = json!(x["flow.b.bias"]["data_offsets"][1].as_u64().unwrap() + 2);
    check(x, |e| matches!(e, FormatError::BadOffsets { .. }));
    // overlapping / out of order: swap two tensors' offsets
    let mut x = h.clone();
    let a = x["flow.b.bias"]["data_offsets"].clone();
    let b = x["decoder.c"]["data_offsets"].clone();
    x["flow.b.bias"]["data_offsets"] = b;
    x["decoder.c"]["data_offsets"] = a;
    check(x, |e| matches!(e, FormatError::BadOffsets { .. }));
    // end before start
    let mut x = h.clone();
    x["decoder.c"]["data_offsets"] = json!([10, 4]);
    check(x, |e| matches!(e, FormatError::BadOffsets { .. }));
    // physical part missing
    let mut x = h.clone();
    x.as_object_mut().unwrap().remove("latent.a.weight::scale");
    check(x, |e| matches!(e, FormatError::Inconsistent { .. }));
    // orphan physical tensor
    let mut x = h.clone();
    x["flow.zzz"] = json!({"dtype": "U8", "shape": [0], "data_offsets": [0, 0]});
    check(x, |e| matches!(e, FormatError::Inconsistent { tensor, .. } if tensor == "flow.zzz"));
    // wrong physical shape for the scheme
    let mut x = h.clone();
    x["latent.a.weight::scale"]["shape"] = json!([2, 2]);
    check(x, |e| matches!(e, FormatError::Inconsistent { .. }));
    // index: wrong scheme / group / parts / order / duplicates / unknown network
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["scheme"] = json!("int3"));
    check(x, |e| matches!(e, FormatError::Inconsistent { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["group"] = json!(32));
    check(x, |e| matches!(e, FormatError::Inconsistent { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["parts"] = json!(["latent.a.weight::q", "latent.a.weight::scale"]));
    check(x, |e| matches!(e, FormatError::Inconsistent { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| i.as_array_mut().unwrap().swap(1, 2));
    check(x, |e| matches!(e, FormatError::Inconsistent { .. } | FormatError::BadOffsets { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| {
        let e0 = i[0].clone();
        i.as_array_mut().unwrap().push(e0)
    });
    check(x, |e| matches!(e, FormatError::DuplicateTensor { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| i[1]["name"] = json!("vae.b.bias"));
    check(x, |e| matches!(e, FormatError::UnknownNetwork { .. }));
    let mut x = h.clone();
    with_index(&mut x, |i| i[0]["extra"] = json!(1));
    check(x, |e| matches!(e, FormatError::InvalidMetadata { .. }));
    // unknown field in a physical entry / not JSON at all
    let mut x = h.clone();
    x["decoder.c"]["foo"] = json!(1);
    check(x, |e| matches!(e, FormatError::HeaderJson { .. }));
    let mut b = 4u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"nope");
    let e = read_model(&b).unwrap_err();
    assert!(matches!(e, FormatError::HeaderJson { offset: 8..=12, .. }), "{e:?}");
    // duplicate physical key in raw JSON
    let js = String::from_utf8(bytes[8..data_start(&bytes)].to_vec()).unwrap();
    let dup = js.replacen(
        "\"decoder.c\":",
        "\"decoder.c\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},\"decoder.c\":",
        1,
    );
    let mut b = (dup.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(dup.as_bytes());
    b.extend_from_slice(&d);
    assert!(matches!(read_model(&b), Err(FormatError::DuplicateTensor { .. })));
}

/// Rewrites the bytes of one physical part (and rehashes) to plant a defect.
fn plant(
    policy: QuantPolicy,
    part: &str,
    f: impl FnOnce(&mut [u8]),
) -> Result<(ModelHeader, Vec<ParsedTensor>), FormatError> {
    let bytes = small_model(policy);
    let (h, mut d) = split(&bytes);
    let o = &h[part]["data_offsets"];
    let (s, e) = (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize);
    f(&mut d[s..e]);
    read_model(&join(h, &d, true))
}

#[test]
fn non_finite_and_bad_codes_in_files() {
    let e = plant(QuantPolicy::F32, "flow.b.bias", |b| b[8..12].copy_from_slice(&f32::NAN.to_le_bytes())).unwrap_err();
    assert!(
        matches!(e, FormatError::NonFinite { ref tensor, index: 2, offset: Some(_) } if tensor == "flow.b.bias"),
        "{e:?}"
    );
    let e = plant(QuantPolicy::F16, "flow.b.bias", |b| b[0..2].copy_from_slice(&f16::INFINITY.to_bits().to_le_bytes()))
        .unwrap_err();
    assert!(matches!(e, FormatError::NonFinite { index: 0, .. }), "{e:?}");
    let e = plant(QuantPolicy::Int8, "latent.a.weight::scale", |b| {
        b[2..4].copy_from_slice(&f16::NAN.to_bits().to_le_bytes())
    })
    .unwrap_err();
    assert!(
        matches!(e, FormatError::NonFinite { ref tensor, index: 1, .. } if tensor == "latent.a.weight::scale"),
        "{e:?}"
    );
    let e = plant(QuantPolicy::Int8, "latent.a.weight::scale", |b| {
        b[0..2].copy_from_slice(&f16::from_f32(-1.0).to_bits().to_le_bytes())
    })
    .unwrap_err();
    assert!(matches!(e, FormatError::InvalidQuant { .. }), "{e:?}");
    let e = plant(QuantPolicy::Int8, "latent.a.weight::q", |b| b[5] = 0x80).unwrap_err();
    assert!(matches!(e, FormatError::InvalidQuant { index: 5, .. }), "{e:?}");
    let e = plant(QuantPolicy::Int4G32, "latent.a.weight::q", |b| b[0] &= 0xf0).unwrap_err();
    assert!(matches!(e, FormatError::InvalidQuant { index: 0, .. }), "{e:?}");
    // 300 cols, group 32 → padded to 320: the last byte of row 0 is padding
    let e = plant(QuantPolicy::Int4G32, "latent.a.weight::q", |b| b[159] = 0x11).unwrap_err();
    assert!(matches!(e, FormatError::InvalidQuant { index: 318, .. }), "{e:?}");
    let e = plant(QuantPolicy::F32, "flow.b.bias::pad", |b| b[0] = 1).unwrap_err();
    assert!(matches!(e, FormatError::NonZeroPadding { .. }), "{e:?}");
    // control: planting nothing is fine
    assert!(plant(QuantPolicy::Int4G32, "latent.a.weight::q", |_| ()).is_ok());
}

#[test]
fn writer_rejects_bad_input() {
    let c = config();
    let w = |t: Vec<TensorEntry>| write_model(&c, &t, QuantPolicy::Int8).unwrap_err();
    let mut v = lcg(1200, 1, 1.0);
    v[7] = f32::NAN;
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![4, 300], v.clone())]),
        FormatError::NonFinite { index: 7, offset: None, .. }
    ));
    v[7] = f32::NEG_INFINITY;
    assert!(matches!(w(vec![TensorEntry::new("flow.a", vec![4, 300], v)]), FormatError::NonFinite { index: 7, .. }));
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![2, 3], vec![0.0; 5])]),
        FormatError::ShapeMismatch { expected: 6, got: 5, .. }
    ));
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![usize::MAX, 3], vec![])]),
        FormatError::InvalidShape { .. }
    ));
    assert!(matches!(w(vec![TensorEntry::new("vae.a", vec![1], vec![0.0])]), FormatError::UnknownNetwork { .. }));
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a::q", vec![1], vec![0.0])]),
        FormatError::InvalidTensorName { .. }
    ));
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![1], vec![0.0]), TensorEntry::new("flow.a", vec![1], vec![0.0])]),
        FormatError::DuplicateTensor { .. }
    ));
    // out of f16 range
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![1], vec![1e6])]),
        FormatError::ValueOutOfRange { index: 0, .. }
    ));
    let mut v = vec![0.0; 1200];
    v[3] = 3e9;
    assert!(matches!(
        w(vec![TensorEntry::new("flow.a", vec![4, 300], v.clone())]),
        FormatError::ValueOutOfRange { index: 3, .. }
    ));
    // ...but fine in f32
    assert!(write_model(&c, &[TensorEntry::new("flow.a", vec![4, 300], v)], QuantPolicy::F32).is_ok());
}

// ---- fuzzing ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Append(u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => any::<u8>().prop_map(Mutation::Append),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation, header_bias: bool) {
    let n = b.len().max(1);
    // bias half the positions into the first 64 bytes + header, where structure lives
    let pos = |p: usize| if header_bias && p.is_multiple_of(2) { (p / 2) % n.min(600) } else { p % n };
    match *m {
        Mutation::Flip(p, bit) if !b.is_empty() => {
            let i = pos(p);
            b[i] ^= 1 << bit
        }
        Mutation::Set(p, v) if !b.is_empty() => {
            let i = pos(p);
            b[i] = v
        }
        Mutation::Insert(p, v) => {
            let i = pos(p).min(b.len());
            b.insert(i, v)
        }
        Mutation::Delete(p) if !b.is_empty() => {
            let i = pos(p);
            b.remove(i);
        }
        Mutation::Truncate(p) => b.truncate(p % (b.len() + 1)),
        Mutation::Append(v) => b.push(v),
        _ => {}
    }
}

/// Feeds `b` in the given chunk sizes; must not panic. Returns the outcome.
fn feed(b: &[u8], sizes: &[usize]) -> Result<usize, FormatError> {
    let mut p = StreamParser::new(Limits::default());
    let mut i = 0;
    let mut k = 0;
    let mut n = 0;
    while i < b.len() {
        let s = sizes.get(k % sizes.len().max(1)).copied().unwrap_or(1).max(1);
        let end = (i + s).min(b.len());
        n += p.push(&b[i..end])?.len();
        let _ = p.progress();
        i = end;
        k += 1;
    }
    p.finish()?;
    Ok(n)
}

fn fuzz_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn fuzz_base() -> Vec<Vec<u8>> {
    vec![small_model(QuantPolicy::Int8), small_model(QuantPolicy::Int4G32), small_model(QuantPolicy::F32)]
}

fn fuzz_strategy() -> impl Strategy<Value = (usize, Vec<Mutation>, Vec<usize>, bool)> {
    (
        0usize..3,
        prop::collection::vec(mutation(), 1..6),
        prop::collection::vec(prop_oneof![1usize..16, 1usize..5000], 1..8),
        any::<bool>(),
    )
}

fn fuzz_one(bases: &[Vec<u8>], (which, muts, sizes, bias): &(usize, Vec<Mutation>, Vec<usize>, bool)) {
    let mut b = bases[*which].clone();
    for m in muts {
        apply(&mut b, m, *bias);
    }
    let r = feed(&b, sizes);
    if b == bases[*which] {
        assert!(r.is_ok());
    }
    // also the one-shot reader agrees on success/failure
    assert_eq!(read_model(&b).is_ok(), r.is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(2000), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn fuzz_mutations(case in fuzz_strategy()) {
        thread_local!(static BASES: Vec<Vec<u8>> = fuzz_base());
        BASES.with(|b| fuzz_one(b, &case));
    }
}

/// The long run: `FUZZ_SECONDS=3600 cargo test --release -j1 fuzz_long -- --ignored --nocapture`
/// runs batches of 100,000 cases (fresh random seeds each) until the time is up, printing
/// progress; without `FUZZ_SECONDS`, `PROPTEST_CASES` cases (default 200,000).
#[test]
#[ignore]
fn fuzz_long() {
    let bases = fuzz_base();
    let seconds: Option<f64> = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let batch = if seconds.is_some() { 100_000 } else { fuzz_cases(200_000) };
    let t = std::time::Instant::now();
    let mut total = 0u64;
    loop {
        let cfg = ProptestConfig { cases: batch, failure_persistence: None, ..ProptestConfig::default() };
        let mut runner = proptest::test_runner::TestRunner::new(cfg);
        runner
            .run(&fuzz_strategy(), |case| {
                fuzz_one(&bases, &case);
                Ok(())
            })
            .unwrap();
        total += batch as u64;
        eprintln!("fuzz_long: {total} cases in {:.1?}", t.elapsed());
        if seconds.is_none_or(|s| t.elapsed().as_secs_f64() >= s) {
            break;
        }
    }
}

/// Throughput and sizes: `cargo test --release -j1 bench_numbers -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_numbers() {
    use std::time::Instant;
    // ~10 MB in f32: 40 matrices 256x256 + biases
    let mut ts = Vec::new();
    for i in 0..40 {
        ts.push(entry(&format!("flow.blocks.{i}.w.weight"), &[256, 256], i));
        ts.push(entry(&format!("flow.blocks.{i}.w.bias"), &[256], 100 + i));
    }
    for policy in QuantPolicy::ALL {
        let t = Instant::now();
        let (bytes, rep) = write_model_with_report(&config(), &ts, policy).unwrap();
        let wt = t.elapsed();
        let mb = bytes.len() as f64 / 1e6;
        let mut best = f64::MAX;
        let mut best_1 = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let r = parse_chunked(&bytes, 65536).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(r.1.len(), ts.len());
            let t = Instant::now();
            let mut dq = 0;
            for x in &r.1 {
                dq += x.dequantize().unwrap().len();
            }
            best_1 = best_1.min(t.elapsed().as_secs_f64());
            assert!(dq > 0);
        }
        eprintln!(
            "{policy:>8}: file {mb:7.3} MB ({:.3} of f32 data), max_abs_err {:.2e}, write {:.0} ms, parse {:.0} MB/s (64 KiB chunks), dequantize {:.0} Melem/s",
            rep.data_bytes as f64 / rep.f32_data_bytes as f64,
            rep.max_abs_error,
            wt.as_secs_f64() * 1e3,
            mb / best,
            rep.f32_data_bytes as f64 / 4e6 / best_1,
        );
    }
}
