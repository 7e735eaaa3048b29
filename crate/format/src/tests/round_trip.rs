//! Round trips under every policy, safetensors compatibility, chunked
//! parsing and progress.

use std::collections::BTreeMap;

use half::f16;
use serde_json::{Value, json};

use super::super::*;
use super::fixtures::*;

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
