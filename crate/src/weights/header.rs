//! The JSON header: networks, dtypes, physical/logical tensor descriptions,
//! header encoding (writer side) and strict header parsing + validation
//! (reader side). See `docs/FORMAT.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::FormatError;
use super::hash::{is_sha256_hex, meta_sha256_hex};
use super::quant::{Scheme, int4_groups};

/// Value of `__metadata__.format`.
pub const FORMAT_NAME: &str = "lediflow";
/// Value of `__metadata__.format_version` understood by this code.
pub const FORMAT_VERSION: u32 = 1;
/// Every logical tensor starts (and ends) at a multiple of this many bytes of
/// the data buffer; the data buffer itself starts 8-aligned in the file.
pub const DATA_ALIGN: u64 = 8;
/// Hard cap on the rank the JSON parser accepts at all (before `Limits`).
const HARD_MAX_RANK: usize = 32;
/// Hard cap on the number of `__metadata__` entries.
const MAX_METADATA_ENTRIES: usize = 1024;

/// Metadata keys owned by the format (the writer refuses them as extras).
pub const RESERVED_METADATA_KEYS: [&str; 6] =
    ["format", "format_version", "config", "tensors", "sha256", "meta_sha256"];

/// Resource limits of the reader, all checked before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Max JSON header length N (default 16 MiB).
    pub max_header_bytes: u64,
    /// Max data-buffer length, i.e. total tensor bytes (default 2 GiB).
    pub max_data_bytes: u64,
    /// Max number of logical tensors (default 65 536); physical entries may be 3x that.
    pub max_tensors: usize,
    /// Max rank of any tensor (default 8).
    pub max_rank: usize,
    /// Max tensor name length in bytes (default 1024).
    pub max_name_len: usize,
    /// Max length of the `config` JSON string (default 4 MiB).
    pub max_config_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 << 20,
            max_data_bytes: 2 << 30,
            max_tensors: 65_536,
            max_rank: 8,
            max_name_len: 1024,
            max_config_bytes: 4 << 20,
        }
    }
}

/// The five networks a model file may contain, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Network {
    Latent,
    Decoder,
    Encoder,
    Flow,
    Baseline,
}

impl Network {
    /// File order: the latent sampler and the decoder come first.
    pub const ORDER: [Network; 5] =
        [Network::Latent, Network::Decoder, Network::Encoder, Network::Flow, Network::Baseline];

    pub fn as_str(&self) -> &'static str {
        match self {
            Network::Latent => "latent",
            Network::Decoder => "decoder",
            Network::Encoder => "encoder",
            Network::Flow => "flow",
            Network::Baseline => "baseline",
        }
    }

    pub fn from_prefix(s: &str) -> Option<Network> {
        Network::ORDER.into_iter().find(|n| n.as_str() == s)
    }

    /// The network of a tensor name (its first dotted component).
    pub fn of_tensor(name: &str) -> Option<Network> {
        name.split_once('.').and_then(|(p, _)| Network::from_prefix(p))
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// safetensors dtypes used by this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    I8,
    U8,
}

impl DType {
    pub fn as_str(&self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::I8 => "I8",
            DType::U8 => "U8",
        }
    }
    pub fn size(&self) -> u64 {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
            DType::I8 | DType::U8 => 1,
        }
    }
    pub fn parse(s: &str) -> Option<DType> {
        [DType::F32, DType::F16, DType::I8, DType::U8].into_iter().find(|d| d.as_str() == s)
    }
}

/// What a physical safetensors tensor holds for its logical tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartRole {
    /// `<name>`: the values of an f32/f16 tensor.
    Values,
    /// `<name>::scale`: f16 quantization scales.
    Scale,
    /// `<name>::q`: quantized codes (I8 for int8, U8 nibble pairs for int4).
    Q,
    /// `<name>::pad`: 1..=7 zero bytes aligning the next tensor to 8 bytes.
    Pad,
}

impl PartRole {
    pub fn suffix(&self) -> &'static str {
        match self {
            PartRole::Values => "",
            PartRole::Scale => "::scale",
            PartRole::Q => "::q",
            PartRole::Pad => "::pad",
        }
    }
}

/// One physical safetensors entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PhysicalPart {
    pub name: String,
    pub role: PartRole,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// `[start, end)` relative to the start of the data buffer (as in safetensors).
    pub data_offsets: (u64, u64),
}

/// One logical tensor as described by the header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub network: Network,
    pub shape: Vec<usize>,
    pub scheme: Scheme,
    /// Physical parts in data order (`scale`, `q` / `values`, optional `pad`).
    pub parts: Vec<PhysicalPart>,
    /// `[start, end)` of all parts (padding included) in the data buffer.
    pub data_range: (u64, u64),
}

impl TensorInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Bytes in the file, padding included.
    pub fn stored_bytes(&self) -> u64 {
        self.data_range.1 - self.data_range.0
    }
}

/// Everything in the header, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelHeader {
    pub format_version: u32,
    /// The networks' configurations (opaque to this module).
    pub config: serde_json::Value,
    /// Logical tensors in data order.
    pub tensors: Vec<TensorInfo>,
    /// Lower-case hex SHA-256 of the data buffer, as claimed by the header.
    pub sha256: String,
    /// The other `__metadata__` entries (`created_by`, `policy`, ...), i.e.
    /// everything except the reserved keys.
    pub metadata: BTreeMap<String, String>,
    /// N, the JSON header length.
    pub header_len: u64,
    /// File offset of the data buffer (`8 + N`).
    pub data_start: u64,
    /// Length of the data buffer.
    pub data_len: u64,
    /// Total file length (`8 + N + data_len`).
    pub total_bytes: u64,
}

impl ModelHeader {
    /// Networks present, in file order.
    pub fn networks(&self) -> Vec<Network> {
        let mut v: Vec<Network> = self.tensors.iter().map(|t| t.network).collect();
        v.dedup();
        v
    }
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
    /// Stored bytes per network (padding included).
    pub fn network_bytes(&self) -> BTreeMap<Network, u64> {
        let mut m = BTreeMap::new();
        for t in &self.tensors {
            *m.entry(t.network).or_insert(0) += t.stored_bytes();
        }
        m
    }
}

/// Expected physical part of a logical tensor (u64 arithmetic, checked).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartSpec {
    pub role: PartRole,
    pub dtype: DType,
    pub shape: Vec<u64>,
    pub bytes: u64,
}

fn checked_numel(shape: &[u64]) -> Option<u64> {
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

/// Checks a logical tensor name; returns its network.
///
/// Rules: `<network>.<rest>` with a known network, `rest` non-empty, at most
/// `max_len` bytes, no control characters, no `::` (reserved for physical
/// part suffixes).
pub fn validate_tensor_name(name: &str, max_len: usize) -> Result<Network, FormatError> {
    let bad = |reason: &str| FormatError::InvalidTensorName { name: name.to_string(), reason: reason.to_string() };
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    if name.len() > max_len {
        return Err(FormatError::InvalidTensorName {
            name: name.chars().take(64).collect::<String>() + "...",
            reason: format!("longer than {max_len} bytes"),
        });
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(bad("contains control characters"));
    }
    if name.contains("::") {
        return Err(bad("`::` is reserved for physical part suffixes"));
    }
    match name.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => {}
        _ => return Err(bad("must look like `<network>.<path>`")),
    }
    Network::of_tensor(name).ok_or_else(|| FormatError::UnknownNetwork { name: name.to_string() })
}

// --------------------------------------------------------------------------
// JSON shapes of the header

/// A physical entry as in the safetensors header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhysDecl {
    pub dtype: String,
    pub shape: Dims,
    pub data_offsets: [u64; 2],
}

/// One entry of the `tensors` metadata index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexEntry {
    pub name: String,
    pub shape: Dims,
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u64>,
    pub parts: PartNames,
}

/// A shape, capped at [`HARD_MAX_RANK`] dims while parsing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct Dims(pub Vec<u64>);

/// Part names, capped at 4 while parsing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct PartNames(pub Vec<String>);

struct CappedSeq<T> {
    cap: usize,
    what: &'static str,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for CappedSeq<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of at most {} {}", self.cap, self.what)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            if v.len() >= self.cap {
                return Err(de::Error::custom(format!("more than {} {}", self.cap, self.what)));
            }
            v.push(x);
        }
        Ok(v)
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for CappedSeq<T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Deserialize<'de> for Dims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CappedSeq { cap: HARD_MAX_RANK, what: "dimensions", _t: PhantomData }.deserialize(d).map(Dims)
    }
}

impl<'de> Deserialize<'de> for PartNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CappedSeq { cap: 4, what: "parts", _t: PhantomData }.deserialize(d).map(PartNames)
    }
}

/// `__metadata__`: string → string, duplicates and > 1024 entries rejected.
struct MetaMap(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for MetaMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetaMap, A::Error> {
                let mut m = BTreeMap::new();
                while let Some(k) = map.next_key::<String>()? {
                    let v = map.next_value::<String>()?;
                    if m.len() >= MAX_METADATA_ENTRIES {
                        return Err(de::Error::custom("too many __metadata__ entries"));
                    }
                    if m.contains_key(&k) {
                        return Err(de::Error::custom(format!("duplicate __metadata__ key {k:?}")));
                    }
                    m.insert(k, v);
                }
                Ok(MetaMap(m))
            }
        }
        d.deserialize_map(V)
    }
}

/// The top-level header object.
struct Top {
    metadata: Option<BTreeMap<String, String>>,
    tensors: Vec<(String, PhysDecl)>,
}

struct TopSeed {
    max_physical: usize,
}

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Top;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a safetensors header object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top { metadata: None, tensors: Vec::new() };
        while let Some(k) = map.next_key::<String>()? {
            if k == "__metadata__" {
                if top.metadata.is_some() {
                    return Err(de::Error::custom("duplicate __metadata__"));
                }
                top.metadata = Some(map.next_value::<MetaMap>()?.0);
            } else {
                if top.tensors.len() >= self.max_physical {
                    return Err(de::Error::custom(format!("more than {} tensors", self.max_physical)));
                }
                let v = map.next_value::<PhysDecl>()?;
                top.tensors.push((k, v));
            }
        }
        Ok(top)
    }
}

// --------------------------------------------------------------------------
// Writer side

struct HeaderOut<'a> {
    metadata: &'a BTreeMap<String, String>,
    parts: &'a [PhysicalPart],
}

impl Serialize for HeaderOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.parts.len() + 1))?;
        m.serialize_entry("__metadata__", self.metadata)?;
        for p in self.parts {
            let decl = PhysDecl {
                dtype: p.dtype.as_str().to_string(),
                shape: Dims(p.shape.iter().map(|&d| d as u64).collect()),
                data_offsets: [p.data_offsets.0, p.data_offsets.1],
            };
            m.serialize_entry(&p.name, &decl)?;
        }
        m.end()
    }
}

/// The JSON header bytes, padded with spaces so the data buffer starts at a
/// multiple of 8 in the file (`(8 + N) % 8 == 0`).
pub(crate) fn encode_header(metadata: &BTreeMap<String, String>, parts: &[PhysicalPart]) -> Vec<u8> {
    // Serializing string maps and integers cannot fail.
    let mut json = serde_json::to_vec(&HeaderOut { metadata, parts }).unwrap_or_default();
    let pad = pad_len(8 + json.len() as u64) as usize;
    json.extend(std::iter::repeat_n(b' ', pad));
    json
}

pub(crate) fn index_json(tensors: &[TensorInfo]) -> String {
    let entries: Vec<IndexEntry> = tensors
        .iter()
        .map(|t| IndexEntry {
            name: t.name.clone(),
            shape: Dims(t.shape.iter().map(|&d| d as u64).collect()),
            scheme: t.scheme.name().to_string(),
            group: t.scheme.group().map(|g| g as u64),
            parts: PartNames(t.parts.iter().map(|p| p.name.clone()).collect()),
        })
        .collect();
    serde_json::to_string(&entries).unwrap_or_default()
}

// --------------------------------------------------------------------------
// Reader side

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

/// Parses and fully validates the JSON header (`json` = the N header bytes).
/// Nothing is allocated based on sizes claimed by the header.
pub(crate) fn parse_header(json: &[u8], limits: &Limits) -> Result<ModelHeader, FormatError> {
    let header_len = json.len() as u64;
    let mut de = serde_json::Deserializer::from_slice(json);
    let max_physical = limits.max_tensors.saturating_mul(3);
    let top = TopSeed { max_physical }.deserialize(&mut de).map_err(|e| json_error(json, &e))?;
    de.end().map_err(|e| json_error(json, &e))?;

    // --- identity & metadata
    let mut meta = top.metadata.ok_or_else(|| FormatError::NotLediflow { reason: "no __metadata__".into() })?;
    match meta.remove("format") {
        None => return Err(FormatError::NotLediflow { reason: "__metadata__ has no `format` key".into() }),
        Some(f) if f != FORMAT_NAME => {
            return Err(FormatError::NotLediflow { reason: format!("format is {f:?}, expected {FORMAT_NAME:?}") });
        }
        Some(_) => {}
    }
    let missing = |key: &str| FormatError::MissingMetadata { key: key.to_string() };
    let version = meta.remove("format_version").ok_or_else(|| missing("format_version"))?;
    if version != FORMAT_VERSION.to_string() {
        return Err(FormatError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    let mut hex_key = |key: &str| -> Result<String, FormatError> {
        let v = meta.remove(key).ok_or_else(|| missing(key))?;
        if !is_sha256_hex(&v) {
            return Err(FormatError::InvalidMetadata {
                key: key.into(),
                message: "expected 64 lower-case hex digits".into(),
            });
        }
        Ok(v)
    };
    let sha256 = hex_key("sha256")?;
    let meta_sha256 = hex_key("meta_sha256")?;
    let config_s = meta.remove("config").ok_or_else(|| missing("config"))?;
    let index_s = meta.remove("tensors").ok_or_else(|| missing("tensors"))?;
    let actual = meta_sha256_hex(&config_s, &index_s);
    if actual != meta_sha256 {
        return Err(FormatError::MetadataHashMismatch { expected: meta_sha256, actual });
    }
    if config_s.len() > limits.max_config_bytes {
        return Err(FormatError::TooLarge {
            what: "metadata `config`".into(),
            size: config_s.len() as u64,
            limit: limits.max_config_bytes as u64,
        });
    }
    let config: serde_json::Value = serde_json::from_str(&config_s)
        .map_err(|e| FormatError::InvalidMetadata { key: "config".into(), message: e.to_string() })?;
    drop(config_s);
    let index: Vec<IndexEntry> = {
        let mut d = serde_json::Deserializer::from_str(&index_s);
        let seed = CappedSeq::<IndexEntry> { cap: limits.max_tensors, what: "tensors", _t: PhantomData };
        seed.deserialize(&mut d)
            .and_then(|v| d.end().map(|_| v))
            .map_err(|e| FormatError::InvalidMetadata { key: "tensors".into(), message: e.to_string() })?
    };
    drop(index_s);

    // --- physical entries: each one checked on its own
    let mut phys: BTreeMap<&str, (&PhysDecl, DType)> = BTreeMap::new();
    for (name, d) in &top.tensors {
        let [start, end] = d.data_offsets;
        let dtype = DType::parse(&d.dtype)
            .ok_or_else(|| FormatError::UnknownDtype { tensor: name.clone(), dtype: d.dtype.clone() })?;
        if d.shape.0.len() > limits.max_rank {
            return Err(FormatError::InvalidShape {
                tensor: name.clone(),
                shape: d.shape.0.clone(),
                reason: format!("rank {} exceeds the limit {}", d.shape.0.len(), limits.max_rank),
            });
        }
        let bytes = checked_numel(&d.shape.0).and_then(|n| n.checked_mul(dtype.size())).ok_or_else(|| {
            FormatError::InvalidShape {
                tensor: name.clone(),
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
                tensor: name.clone(),
                start,
                end,
                reason: format!("length must be {bytes} ({} x {:?})", dtype.as_str(), d.shape.0),
            });
        }
        if end > limits.max_data_bytes {
            return Err(FormatError::TooLarge { what: "data buffer".into(), size: end, limit: limits.max_data_bytes });
        }
        if phys.insert(name.as_str(), (d, dtype)).is_some() {
            return Err(FormatError::DuplicateTensor { name: name.clone() });
        }
    }

    // --- logical tensors, in data order, each claiming its parts
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut infos = Vec::new();
    let mut cursor = 0u64;
    let mut last_net: Option<Network> = None;
    for e in &index {
        let tname = e.name.as_str();
        let inconsistent = |reason: String| FormatError::Inconsistent { tensor: tname.to_string(), reason };
        let network = validate_tensor_name(tname, limits.max_name_len)?;
        if !seen.insert(tname) {
            return Err(FormatError::DuplicateTensor { name: e.name.clone() });
        }
        if let Some(prev) = last_net
            && network < prev
        {
            return Err(inconsistent(format!(
                "network {network} stored after {prev} (order: latent, decoder, encoder, flow, baseline)"
            )));
        }
        last_net = Some(network);
        if e.shape.0.len() > limits.max_rank {
            return Err(FormatError::InvalidShape {
                tensor: e.name.clone(),
                shape: e.shape.0.clone(),
                reason: format!("rank {} exceeds the limit {}", e.shape.0.len(), limits.max_rank),
            });
        }
        let scheme = Scheme::from_index(&e.scheme, e.group).map_err(inconsistent)?;
        let mut specs = part_specs(scheme, &e.shape.0).map_err(|reason| FormatError::InvalidShape {
            tensor: e.name.clone(),
            shape: e.shape.0.clone(),
            reason,
        })?;
        let base: u64 = specs.iter().try_fold(0u64, |a, s| a.checked_add(s.bytes)).unwrap_or(u64::MAX);
        let base_end = cursor.saturating_add(base);
        if base_end > limits.max_data_bytes {
            return Err(FormatError::TooLarge {
                what: "data buffer".into(),
                size: base_end,
                limit: limits.max_data_bytes,
            });
        }
        let pad = pad_len(base_end);
        if pad > 0 {
            specs.push(PartSpec { role: PartRole::Pad, dtype: DType::U8, shape: vec![pad], bytes: pad });
        }
        let expected: Vec<String> = specs.iter().map(|s| format!("{}{}", e.name, s.role.suffix())).collect();
        if e.parts.0 != expected {
            return Err(inconsistent(format!("parts {:?}, expected {:?}", e.parts.0, expected)));
        }
        let start = cursor;
        let mut parts = Vec::with_capacity(specs.len());
        for (spec, pname) in specs.iter().zip(&e.parts.0) {
            let (d, dtype) = *phys
                .get(pname.as_str())
                .ok_or_else(|| inconsistent(format!("physical tensor {pname:?} is missing from the header")))?;
            if dtype != spec.dtype || d.shape.0 != spec.shape {
                return Err(inconsistent(format!(
                    "physical tensor {pname:?} is {} {:?}, expected {} {:?}",
                    dtype.as_str(),
                    d.shape.0,
                    spec.dtype.as_str(),
                    spec.shape
                )));
            }
            let [s, end] = d.data_offsets;
            if s != cursor {
                return Err(FormatError::BadOffsets {
                    tensor: pname.clone(),
                    start: s,
                    end,
                    reason: format!("expected to start at {cursor} (tensors must be contiguous, in index order)"),
                });
            }
            cursor = end;
            claimed.insert(pname.as_str());
            parts.push(PhysicalPart {
                name: pname.clone(),
                role: spec.role,
                dtype,
                shape: to_usize_shape(pname, &d.shape.0)?,
                data_offsets: (s, end),
            });
        }
        infos.push(TensorInfo {
            name: e.name.clone(),
            network,
            shape: to_usize_shape(tname, &e.shape.0)?,
            scheme,
            parts,
            data_range: (start, cursor),
        });
    }
    if claimed.len() != phys.len() {
        let orphan = phys.keys().find(|k| !claimed.contains(*k)).copied().unwrap_or_default();
        return Err(FormatError::Inconsistent {
            tensor: orphan.to_string(),
            reason: "physical tensor not listed in the `tensors` metadata".into(),
        });
    }
    let data_start = 8 + header_len;
    Ok(ModelHeader {
        format_version: FORMAT_VERSION,
        config,
        tensors: infos,
        sha256,
        metadata: meta,
        header_len,
        data_start,
        data_len: cursor,
        total_bytes: data_start + cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let l = 1024;
        assert_eq!(validate_tensor_name("flow.a.weight", l).unwrap(), Network::Flow);
        assert_eq!(validate_tensor_name("latent.x", l).unwrap(), Network::Latent);
        assert!(matches!(validate_tensor_name("flows.a", l), Err(FormatError::UnknownNetwork { .. })));
        assert!(matches!(validate_tensor_name("flow", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.a::q", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.a\n", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(
            validate_tensor_name(&format!("flow.{}", "a".repeat(2000)), l),
            Err(FormatError::InvalidTensorName { .. })
        ));
    }

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

    #[test]
    fn caps_in_json() {
        let r: Result<Dims, _> = serde_json::from_str(&format!("[{}1]", "1,".repeat(40)));
        assert!(r.is_err());
        let r: Result<Dims, _> = serde_json::from_str("[1, 2]");
        assert_eq!(r.unwrap().0, vec![1, 2]);
        let r: Result<MetaMap, _> = serde_json::from_str(r#"{"a":"1","a":"2"}"#);
        assert!(r.is_err());
    }
}
