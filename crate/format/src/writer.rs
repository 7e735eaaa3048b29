//! Writer: `TensorEntry`s (f32) → `.ldf` bytes, quantizing per policy.

use std::collections::{BTreeMap, BTreeSet};

use half::f16;

use super::error::FormatError;
use super::hash::{meta_sha256_hex, sha256_hex};
use super::header::{
    DType, FORMAT_NAME, FORMAT_VERSION, Limits, PartRole, PhysicalPart, RESERVED_METADATA_KEYS, TensorInfo,
    encode_header, index_json, pad_len, part_specs, validate_tensor_name,
};
use super::quant::{
    QuantPolicy, Scheme, Storage, choose_scheme, quant_rows_cols, quantize_int4, quantize_int8, valid_int4_group,
};

/// One f32 tensor to write. `values.len()` must equal the product of `shape`
/// (row-major), and every value must be finite.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl TensorEntry {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) -> Self {
        TensorEntry { name: name.into(), shape, values }
    }
}

/// Per-tensor line of a [`WriteReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    pub name: String,
    pub scheme: Scheme,
    /// Bytes in the data buffer, alignment padding included.
    pub bytes: u64,
    /// max |x - dequantize(stored)| over the tensor (0 for f32).
    pub max_abs_error: f32,
}

/// What [`write_model_with_report`] wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteReport {
    /// Data-buffer bytes per network (`"flow"` → bytes), padding included.
    pub per_network_bytes: BTreeMap<String, u64>,
    /// Max over all tensors of [`TensorReport::max_abs_error`].
    pub max_abs_error: f32,
    /// In file (data) order.
    pub per_tensor: Vec<TensorReport>,
    /// N, the JSON header length (padding included).
    pub header_bytes: u64,
    /// Data-buffer length.
    pub data_bytes: u64,
    /// Whole file length (`8 + header_bytes + data_bytes`).
    pub total_bytes: u64,
    /// 4 x the number of values: the size the data would have in f32.
    pub f32_data_bytes: u64,
}

/// Full control over writing.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub policy: QuantPolicy,
    /// `__metadata__.created_by`; default `"lediflow <version>"`.
    pub created_by: Option<String>,
    /// Extra free-form `__metadata__` entries (must not use reserved keys).
    pub metadata: BTreeMap<String, String>,
    /// Per-tensor scheme overriding [`choose_scheme`] (by logical name).
    pub overrides: BTreeMap<String, Scheme>,
    /// The writer refuses to produce a file a reader with these limits would reject.
    pub limits: Limits,
}

impl WriteOptions {
    pub fn new(policy: QuantPolicy) -> Self {
        WriteOptions { policy, ..Default::default() }
    }
}

/// Write a model file. See [`write_model_with_options`].
pub fn write_model(
    config: &serde_json::Value,
    tensors: &[TensorEntry],
    policy: QuantPolicy,
) -> Result<Vec<u8>, FormatError> {
    write_model_with_options(config, tensors, &WriteOptions::new(policy)).map(|(b, _)| b)
}

/// Write a model file and report sizes and quantization errors.
pub fn write_model_with_report(
    config: &serde_json::Value,
    tensors: &[TensorEntry],
    policy: QuantPolicy,
) -> Result<(Vec<u8>, WriteReport), FormatError> {
    write_model_with_options(config, tensors, &WriteOptions::new(policy))
}

/// Quantize/convert one tensor to `scheme` (the payload the reader would return).
pub fn quantize_tensor(name: &str, shape: &[usize], values: &[f32], scheme: Scheme) -> Result<Storage, FormatError> {
    let out_of_range = |index: usize, value: f32| FormatError::ValueOutOfRange {
        tensor: name.to_string(),
        index: index as u64,
        value,
        scheme: scheme.to_string(),
    };
    let bad_shape = |reason: &str| FormatError::InvalidShape {
        tensor: name.to_string(),
        shape: shape.iter().map(|&d| d as u64).collect(),
        reason: reason.to_string(),
    };
    let numel =
        shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad_shape("element count overflows"))?;
    if numel != values.len() {
        return Err(FormatError::ShapeMismatch {
            tensor: name.to_string(),
            shape: shape.to_vec(),
            expected: numel as u64,
            got: values.len() as u64,
        });
    }
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(FormatError::NonFinite { tensor: name.to_string(), index: i as u64, offset: None });
    }
    let quant_geom = || match quant_rows_cols(shape) {
        Some((r, c)) if r > 0 && c > 0 => Ok((r, c)),
        _ => Err(bad_shape("quantized tensors need rank >= 2 and no zero dimension")),
    };
    Ok(match scheme {
        Scheme::F32 => Storage::F32(values.to_vec()),
        Scheme::F16 => {
            let mut v = Vec::with_capacity(numel);
            for (i, &x) in values.iter().enumerate() {
                let h = f16::from_f32(x);
                if !h.is_finite() {
                    return Err(out_of_range(i, x));
                }
                v.push(h);
            }
            Storage::F16(v)
        }
        Scheme::Int8 => {
            let (rows, cols) = quant_geom()?;
            let (q, scales) = quantize_int8(values, rows, cols).map_err(|e| out_of_range(e.index, e.value))?;
            Storage::Int8 { q, scales }
        }
        Scheme::Int4 { group } => {
            if !valid_int4_group(group as u64) {
                return Err(bad_shape("invalid int4 group size"));
            }
            let (rows, cols) = quant_geom()?;
            let (packed, scales) =
                quantize_int4(values, rows, cols, group).map_err(|e| out_of_range(e.index, e.value))?;
            Storage::Int4 { packed, group, scales }
        }
    })
}

fn push_f16s(out: &mut Vec<u8>, v: &[f16]) {
    for h in v {
        out.extend_from_slice(&h.to_bits().to_le_bytes());
    }
}

/// Bytes of each physical part, in [`part_specs`] order (scale first).
fn storage_part_bytes(s: &Storage, out: &mut Vec<u8>) {
    match s {
        Storage::F32(v) => {
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        Storage::F16(v) => push_f16s(out, v),
        Storage::Int8 { q, scales } => {
            push_f16s(out, scales);
            out.extend(q.iter().map(|&b| b as u8));
        }
        Storage::Int4 { packed, scales, .. } => {
            push_f16s(out, scales);
            out.extend_from_slice(packed);
        }
    }
}

/// The writer. Tensors are stored grouped by network in the order latent,
/// decoder, encoder, flow, baseline; within a network in the caller's order.
pub fn write_model_with_options(
    config: &serde_json::Value,
    tensors: &[TensorEntry],
    opts: &WriteOptions,
) -> Result<(Vec<u8>, WriteReport), FormatError> {
    let limits = &opts.limits;
    // Validate names first (cheap), remember networks.
    let mut seen = BTreeSet::new();
    let mut order = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        let net = validate_tensor_name(&t.name, limits.max_name_len)?;
        if !seen.insert(t.name.as_str()) {
            return Err(FormatError::DuplicateTensor { name: t.name.clone() });
        }
        if t.shape.len() > limits.max_rank {
            return Err(FormatError::InvalidShape {
                tensor: t.name.clone(),
                shape: t.shape.iter().map(|&d| d as u64).collect(),
                reason: format!("rank {} exceeds the limit {}", t.shape.len(), limits.max_rank),
            });
        }
        order.push((net, i));
    }
    if tensors.len() > limits.max_tensors {
        return Err(FormatError::TooLarge {
            what: "tensor count".into(),
            size: tensors.len() as u64,
            limit: limits.max_tensors as u64,
        });
    }
    if let Some(name) = opts.overrides.keys().find(|k| !seen.contains(k.as_str())) {
        return Err(FormatError::Inconsistent {
            tensor: name.clone(),
            reason: "scheme override for an unknown tensor".into(),
        });
    }
    order.sort_by_key(|&(net, i)| (net, i)); // stable: caller order within a network

    let mut data: Vec<u8> = Vec::new();
    let mut infos: Vec<TensorInfo> = Vec::with_capacity(tensors.len());
    let mut report = WriteReport::default();
    for &(network, i) in &order {
        let t = &tensors[i];
        let scheme =
            opts.overrides.get(&t.name).copied().unwrap_or_else(|| choose_scheme(&t.name, &t.shape, opts.policy));
        let storage = quantize_tensor(&t.name, &t.shape, &t.values, scheme)?;
        let shape64: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
        let specs = part_specs(scheme, &shape64).map_err(|reason| FormatError::InvalidShape {
            tensor: t.name.clone(),
            shape: shape64.clone(),
            reason,
        })?;
        // error
        let deq = storage.dequantize(&t.shape)?;
        let err = t.values.iter().zip(&deq).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        drop(deq);

        let start = data.len() as u64;
        storage_part_bytes(&storage, &mut data);
        drop(storage);
        let mut parts = Vec::with_capacity(3);
        let mut off = start;
        for s in &specs {
            parts.push(PhysicalPart {
                name: format!("{}{}", t.name, s.role.suffix()),
                role: s.role,
                dtype: s.dtype,
                shape: s.shape.iter().map(|&d| d as usize).collect(),
                data_offsets: (off, off + s.bytes),
            });
            off += s.bytes;
        }
        debug_assert_eq!(off, data.len() as u64);
        let pad = pad_len(off);
        if pad > 0 {
            data.extend(std::iter::repeat_n(0u8, pad as usize));
            parts.push(PhysicalPart {
                name: format!("{}{}", t.name, PartRole::Pad.suffix()),
                role: PartRole::Pad,
                dtype: DType::U8,
                shape: vec![pad as usize],
                data_offsets: (off, off + pad),
            });
        }
        let end = data.len() as u64;
        if end > limits.max_data_bytes {
            return Err(FormatError::TooLarge { what: "data buffer".into(), size: end, limit: limits.max_data_bytes });
        }
        *report.per_network_bytes.entry(network.as_str().to_string()).or_insert(0) += end - start;
        report.max_abs_error = report.max_abs_error.max(err);
        report.f32_data_bytes += 4 * t.values.len() as u64;
        report.per_tensor.push(TensorReport { name: t.name.clone(), scheme, bytes: end - start, max_abs_error: err });
        infos.push(TensorInfo {
            name: t.name.clone(),
            network,
            shape: t.shape.clone(),
            scheme,
            parts,
            data_range: (start, end),
        });
    }

    // Metadata.
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    meta.insert(
        "created_by".into(),
        opts.created_by.clone().unwrap_or_else(|| format!("lediflow {}", env!("CARGO_PKG_VERSION"))),
    );
    meta.insert("policy".into(), opts.policy.to_string());
    for (k, v) in &opts.metadata {
        if RESERVED_METADATA_KEYS.contains(&k.as_str()) {
            return Err(FormatError::InvalidMetadata { key: k.clone(), message: "reserved key".into() });
        }
        meta.insert(k.clone(), v.clone());
    }
    let config_s = config.to_string();
    if config_s.len() > limits.max_config_bytes {
        return Err(FormatError::TooLarge {
            what: "metadata `config`".into(),
            size: config_s.len() as u64,
            limit: limits.max_config_bytes as u64,
        });
    }
    meta.insert("format".into(), FORMAT_NAME.into());
    meta.insert("format_version".into(), FORMAT_VERSION.to_string());
    let index_s = index_json(&infos);
    meta.insert("meta_sha256".into(), meta_sha256_hex(&config_s, &index_s));
    meta.insert("config".into(), config_s);
    meta.insert("tensors".into(), index_s);
    meta.insert("sha256".into(), sha256_hex(&data));

    let all_parts: Vec<PhysicalPart> = infos.into_iter().flat_map(|t| t.parts).collect();
    let header = encode_header(&meta, &all_parts);
    if header.len() as u64 > limits.max_header_bytes {
        return Err(FormatError::TooLarge {
            what: "JSON header".into(),
            size: header.len() as u64,
            limit: limits.max_header_bytes,
        });
    }
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    report.header_bytes = header.len() as u64;
    report.data_bytes = data.len() as u64;
    report.total_bytes = out.len() as u64;
    Ok((out, report))
}
