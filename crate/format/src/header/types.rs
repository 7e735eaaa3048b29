//! The header's types: the format's identity, networks, dtypes, and the
//! physical/logical tensor descriptions a validated header holds.

use std::collections::BTreeMap;
use std::fmt;

use super::super::quant::Scheme;

/// Value of `__metadata__.format`.
pub const FORMAT_NAME: &str = "lediflow";
/// Value of `__metadata__.format_version` understood by this code.
pub const FORMAT_VERSION: u32 = 1;

/// Metadata keys owned by the format (the writer refuses them as extras).
pub const RESERVED_METADATA_KEYS: [&str; 6] =
    ["format", "format_version", "config", "tensors", "sha256", "meta_sha256"];

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
