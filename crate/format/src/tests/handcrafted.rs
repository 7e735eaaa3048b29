//! Handcrafted bad files (wrong identity, absurd sizes, structural defects,
//! planted non-finite values and bad codes), and bad input the writer
//! refuses.

use half::f16;
use serde_json::{Value, json};

use super::super::*;
use super::fixtures::*;

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
