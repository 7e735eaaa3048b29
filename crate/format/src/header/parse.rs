//! The reader side of the header: strict parsing and validation, step by
//! step, of everything the data buffer will later be read against.

use std::collections::{BTreeMap, BTreeSet};

use super::super::error::FormatError;
use super::super::hash::{is_sha256_hex, meta_sha256_hex};
use super::super::quant::Scheme;
use super::json::{IndexEntry, PhysDecl, parse_index, parse_top};
use super::layout::{PartSpec, checked_numel, pad_len, part_specs};
use super::limits::Limits;
use super::names::validate_tensor_name;
use super::types::{DType, FORMAT_NAME, FORMAT_VERSION, ModelHeader, Network, PartRole, PhysicalPart, TensorInfo};

/// Parses and fully validates the JSON header (`json` = the N header bytes).
/// Nothing is allocated based on sizes claimed by the header.
///
/// The steps run in a fixed order (the JSON, the reserved metadata, each
/// physical entry on its own, then the logical tensors in data order), so a
/// file with several defects always reports the same one.
pub(crate) fn parse_header(json: &[u8], limits: &Limits) -> Result<ModelHeader, FormatError> {
    let header_len = json.len() as u64;
    let max_physical = limits.max_tensors.saturating_mul(3);
    let top = parse_top(json, max_physical).map_err(|e| json_error(json, &e))?;
    let mut metadata = top.metadata.ok_or_else(|| FormatError::NotLediflow { reason: "no __metadata__".into() })?;
    let reserved = take_reserved_metadata(&mut metadata, limits)?;
    let physical = check_physical_entries(&top.tensors, limits)?;
    let (tensors, data_len) = lay_out_tensors(&reserved.index, &physical, limits)?;
    let data_start = 8 + header_len;
    Ok(ModelHeader {
        format_version: FORMAT_VERSION,
        config: reserved.config,
        tensors,
        sha256: reserved.sha256,
        metadata,
        header_len,
        data_start,
        data_len,
        total_bytes: data_start + data_len,
    })
}

fn json_error(json: &[u8], e: &serde_json::Error) -> FormatError {
    // Convert serde's (line, column) into a file offset.
    let line = e.line().max(1);
    let mut line_start = 0usize;
    if line > 1 {
        let mut seen = 1;
        for (i, &b) in json.iter().enumerate() {
            if b == b'\n' {
                seen += 1;
                if seen == line {
                    line_start = i + 1;
                    break;
                }
            }
        }
    }
    let col = e.column().saturating_sub(1);
    FormatError::HeaderJson { offset: 8 + (line_start + col).min(json.len()) as u64, message: e.to_string() }
}

fn to_usize_shape(tensor: &str, shape: &[u64]) -> Result<Vec<usize>, FormatError> {
    shape.iter().map(|&d| usize::try_from(d)).collect::<Result<Vec<usize>, _>>().map_err(|_| {
        FormatError::InvalidShape {
            tensor: tensor.to_string(),
            shape: shape.to_vec(),
            reason: "dimension does not fit usize".into(),
        }
    })
}

// --------------------------------------------------------------------------
// The reserved `__metadata__` entries

/// The format's own `__metadata__` entries, checked and parsed.
struct ReservedMetadata {
    /// Lower-case hex SHA-256 of the data buffer, as claimed by the header.
    sha256: String,
    config: serde_json::Value,
    /// The `tensors` index: the logical tensors in data order.
    index: Vec<IndexEntry>,
}

/// Removes the reserved keys from `meta`, leaving its free entries: checks
/// the format's identity, the hashes' form and the metadata hash, then
/// parses `config` and the `tensors` index.
fn take_reserved_metadata(
    meta: &mut BTreeMap<String, String>,
    limits: &Limits,
) -> Result<ReservedMetadata, FormatError> {
    check_identity(meta)?;
    let sha256 = take_sha256_hex(meta, "sha256")?;
    let meta_sha256 = take_sha256_hex(meta, "meta_sha256")?;
    let config = take_required(meta, "config")?;
    let index = take_required(meta, "tensors")?;
    let actual = meta_sha256_hex(&config, &index);
    if actual != meta_sha256 {
        return Err(FormatError::MetadataHashMismatch { expected: meta_sha256, actual });
    }
    let config = parse_config(config, limits)?;
    let index = parse_tensor_index(index, limits)?;
    Ok(ReservedMetadata { sha256, config, index })
}

/// `format` and `format_version`: this is a LeDiFlow file this code reads.
fn check_identity(meta: &mut BTreeMap<String, String>) -> Result<(), FormatError> {
    match meta.remove("format") {
        None => return Err(FormatError::NotLediflow { reason: "__metadata__ has no `format` key".into() }),
        Some(f) if f != FORMAT_NAME => {
            return Err(FormatError::NotLediflow { reason: format!("format is {f:?}, expected {FORMAT_NAME:?}") });
        }
        Some(_) => {}
    }
    let version = take_required(meta, "format_version")?;
    if version != FORMAT_VERSION.to_string() {
        return Err(FormatError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    Ok(())
}

fn take_required(meta: &mut BTreeMap<String, String>, key: &str) -> Result<String, FormatError> {
    meta.remove(key).ok_or_else(|| FormatError::MissingMetadata { key: key.to_string() })
}

fn take_sha256_hex(meta: &mut BTreeMap<String, String>, key: &str) -> Result<String, FormatError> {
    let v = take_required(meta, key)?;
    if !is_sha256_hex(&v) {
        return Err(FormatError::InvalidMetadata {
            key: key.into(),
            message: "expected 64 lower-case hex digits".into(),
        });
    }
    Ok(v)
}

/// Takes the string by value so that it is freed once parsed.
fn parse_config(config: String, limits: &Limits) -> Result<serde_json::Value, FormatError> {
    if config.len() > limits.max_config_bytes {
        return Err(FormatError::TooLarge {
            what: "metadata `config`".into(),
            size: config.len() as u64,
            limit: limits.max_config_bytes as u64,
        });
    }
    serde_json::from_str(&config)
        .map_err(|e| FormatError::InvalidMetadata { key: "config".into(), message: e.to_string() })
}

/// Takes the string by value so that it is freed once parsed.
fn parse_tensor_index(index: String, limits: &Limits) -> Result<Vec<IndexEntry>, FormatError> {
    parse_index(&index, limits.max_tensors)
        .map_err(|e| FormatError::InvalidMetadata { key: "tensors".into(), message: e.to_string() })
}

// --------------------------------------------------------------------------
// The physical entries, each one checked on its own

/// The physical entries by name, with their dtype.
type PhysicalEntries<'a> = BTreeMap<&'a str, (&'a PhysDecl, DType)>;

fn check_physical_entries<'a>(
    entries: &'a [(String, PhysDecl)],
    limits: &Limits,
) -> Result<PhysicalEntries<'a>, FormatError> {
    let mut physical = BTreeMap::new();
    for (name, decl) in entries {
        let dtype = check_physical_entry(name, decl, limits)?;
        if physical.insert(name.as_str(), (decl, dtype)).is_some() {
            return Err(FormatError::DuplicateTensor { name: name.clone() });
        }
    }
    Ok(physical)
}

/// A known dtype, a rank and byte size within the limits, and offsets that
/// span exactly those bytes inside the data-buffer limit.
fn check_physical_entry(name: &str, d: &PhysDecl, limits: &Limits) -> Result<DType, FormatError> {
    let [start, end] = d.data_offsets;
    let dtype = DType::parse(&d.dtype)
        .ok_or_else(|| FormatError::UnknownDtype { tensor: name.to_string(), dtype: d.dtype.clone() })?;
    check_rank(name, &d.shape.0, limits)?;
    let bytes = checked_numel(&d.shape.0).and_then(|n| n.checked_mul(dtype.size())).ok_or_else(|| {
        FormatError::InvalidShape {
            tensor: name.to_string(),
            shape: d.shape.0.clone(),
            reason: "byte size overflows u64".into(),
        }
    })?;
    if bytes > limits.max_data_bytes {
        return Err(FormatError::TooLarge {
            what: format!("tensor {name:?}"),
            size: bytes,
            limit: limits.max_data_bytes,
        });
    }
    if end < start || end - start != bytes {
        return Err(FormatError::BadOffsets {
            tensor: name.to_string(),
            start,
            end,
            reason: format!("length must be {bytes} ({} x {:?})", dtype.as_str(), d.shape.0),
        });
    }
    if end > limits.max_data_bytes {
        return Err(FormatError::TooLarge { what: "data buffer".into(), size: end, limit: limits.max_data_bytes });
    }
    Ok(dtype)
}

fn check_rank(tensor: &str, shape: &[u64], limits: &Limits) -> Result<(), FormatError> {
    if shape.len() > limits.max_rank {
        return Err(FormatError::InvalidShape {
            tensor: tensor.to_string(),
            shape: shape.to_vec(),
            reason: format!("rank {} exceeds the limit {}", shape.len(), limits.max_rank),
        });
    }
    Ok(())
}

// --------------------------------------------------------------------------
// The logical tensors, in data order, each claiming its parts

/// Walks the `tensors` index; returns the logical tensors and the length of
/// the data buffer they cover.
fn lay_out_tensors<'a>(
    index: &'a [IndexEntry],
    physical: &'a PhysicalEntries<'a>,
    limits: &'a Limits,
) -> Result<(Vec<TensorInfo>, u64), FormatError> {
    let mut layout =
        Layout { physical, limits, claimed: BTreeSet::new(), seen: BTreeSet::new(), cursor: 0, last_network: None };
    let mut tensors = Vec::new();
    for entry in index {
        tensors.push(layout.tensor(entry)?);
    }
    layout.check_all_claimed()?;
    Ok((tensors, layout.cursor))
}

/// The state of the walk: the parts of each logical tensor must start where
/// the previous part ended, from offset 0 on.
struct Layout<'a> {
    physical: &'a PhysicalEntries<'a>,
    limits: &'a Limits,
    /// Physical entries claimed by a logical tensor so far.
    claimed: BTreeSet<&'a str>,
    /// Logical tensor names seen so far.
    seen: BTreeSet<&'a str>,
    /// Where the next part must start in the data buffer.
    cursor: u64,
    last_network: Option<Network>,
}

impl<'a> Layout<'a> {
    /// One logical tensor: its name and network order, shape and scheme, the
    /// part names they imply, then each part.
    fn tensor(&mut self, e: &'a IndexEntry) -> Result<TensorInfo, FormatError> {
        let network = self.check_name_and_order(e)?;
        check_rank(&e.name, &e.shape.0, self.limits)?;
        let scheme = Scheme::from_index(&e.scheme, e.group).map_err(|reason| inconsistent(&e.name, reason))?;
        let specs = self.expected_parts(e, scheme)?;
        let start = self.cursor;
        let mut parts = Vec::with_capacity(specs.len());
        for (spec, part_name) in specs.iter().zip(&e.parts.0) {
            parts.push(self.claim_part(&e.name, spec, part_name)?);
        }
        Ok(TensorInfo {
            name: e.name.clone(),
            network,
            shape: to_usize_shape(&e.name, &e.shape.0)?,
            scheme,
            parts,
            data_range: (start, self.cursor),
        })
    }

    /// A valid, new name, its network not before the previous tensor's.
    fn check_name_and_order(&mut self, e: &'a IndexEntry) -> Result<Network, FormatError> {
        let network = validate_tensor_name(&e.name, self.limits.max_name_len)?;
        if !self.seen.insert(&e.name) {
            return Err(FormatError::DuplicateTensor { name: e.name.clone() });
        }
        if let Some(prev) = self.last_network
            && network < prev
        {
            return Err(inconsistent(
                &e.name,
                format!("network {network} stored after {prev} (order: latent, decoder, encoder, flow, baseline)"),
            ));
        }
        self.last_network = Some(network);
        Ok(network)
    }

    /// The parts `e` must store under `scheme`, padding included, checked
    /// against the part names it lists.
    fn expected_parts(&self, e: &IndexEntry, scheme: Scheme) -> Result<Vec<PartSpec>, FormatError> {
        let mut specs = part_specs(scheme, &e.shape.0).map_err(|reason| FormatError::InvalidShape {
            tensor: e.name.clone(),
            shape: e.shape.0.clone(),
            reason,
        })?;
        let base: u64 = specs.iter().try_fold(0u64, |a, s| a.checked_add(s.bytes)).unwrap_or(u64::MAX);
        let base_end = self.cursor.saturating_add(base);
        if base_end > self.limits.max_data_bytes {
            return Err(FormatError::TooLarge {
                what: "data buffer".into(),
                size: base_end,
                limit: self.limits.max_data_bytes,
            });
        }
        let pad = pad_len(base_end);
        if pad > 0 {
            specs.push(PartSpec { role: PartRole::Pad, dtype: DType::U8, shape: vec![pad], bytes: pad });
        }
        let expected: Vec<String> = specs.iter().map(|s| format!("{}{}", e.name, s.role.suffix())).collect();
        if e.parts.0 != expected {
            return Err(inconsistent(&e.name, format!("parts {:?}, expected {:?}", e.parts.0, expected)));
        }
        Ok(specs)
    }

    /// Claims the physical entry `part_name` of `tensor`: it must exist, be
    /// what `spec` expects, and start at the cursor.
    fn claim_part(&mut self, tensor: &str, spec: &PartSpec, part_name: &'a str) -> Result<PhysicalPart, FormatError> {
        let (d, dtype) = *self
            .physical
            .get(part_name)
            .ok_or_else(|| inconsistent(tensor, format!("physical tensor {part_name:?} is missing from the header")))?;
        if dtype != spec.dtype || d.shape.0 != spec.shape {
            return Err(inconsistent(
                tensor,
                format!(
                    "physical tensor {part_name:?} is {} {:?}, expected {} {:?}",
                    dtype.as_str(),
                    d.shape.0,
                    spec.dtype.as_str(),
                    spec.shape
                ),
            ));
        }
        let [start, end] = d.data_offsets;
        let cursor = self.cursor;
        if start != cursor {
            return Err(FormatError::BadOffsets {
                tensor: part_name.to_string(),
                start,
                end,
                reason: format!("expected to start at {cursor} (tensors must be contiguous, in index order)"),
            });
        }
        self.cursor = end;
        self.claimed.insert(part_name);
        Ok(PhysicalPart {
            name: part_name.to_string(),
            role: spec.role,
            dtype,
            shape: to_usize_shape(part_name, &d.shape.0)?,
            data_offsets: (start, end),
        })
    }

    /// Every physical entry belongs to a logical tensor.
    fn check_all_claimed(&self) -> Result<(), FormatError> {
        if self.claimed.len() != self.physical.len() {
            let orphan = self.physical.keys().find(|k| !self.claimed.contains(*k)).copied().unwrap_or_default();
            return Err(FormatError::Inconsistent {
                tensor: orphan.to_string(),
                reason: "physical tensor not listed in the `tensors` metadata".into(),
            });
        }
        Ok(())
    }
}

fn inconsistent(tensor: &str, reason: String) -> FormatError {
    FormatError::Inconsistent { tensor: tensor.to_string(), reason }
}
