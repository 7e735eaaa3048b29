//! The single error type of the weight-file module.
//!
//! Every variant says *what* is wrong and *where*: a byte offset into the
//! file (`offset`, counted from the first byte of the file, i.e. including the
//! 8-byte length prefix and the JSON header) and/or the tensor name.

use thiserror::Error;

/// Errors produced while writing or reading a `.ldf` (LeDiFlow safetensors) file.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum FormatError {
    // ----- framing -------------------------------------------------------
    /// The input ended before the file was complete (`finish()` called early,
    /// or `read_model` given a prefix of a file).
    #[error("truncated file: expected {expected} bytes, got {got}")]
    Truncated { expected: u64, got: u64 },

    /// Bytes after the end of the data buffer.
    #[error("trailing bytes after the end of the model at file offset {offset}")]
    TrailingBytes { offset: u64 },

    /// The 8-byte header length is larger than [`Limits::max_header_bytes`](super::Limits).
    #[error("header length {len} exceeds the limit of {limit} bytes")]
    HeaderTooLarge { len: u64, limit: u64 },

    /// The JSON header is not valid JSON / not the expected structure.
    #[error("invalid JSON header near file offset {offset}: {message}")]
    HeaderJson { offset: u64, message: String },

    /// The JSON header parsed but is structurally wrong (outside any tensor).
    #[error("invalid header: {message}")]
    InvalidHeader { message: String },

    // ----- identity --------------------------------------------------------
    /// A valid safetensors file that is not a LeDiFlow model (missing or
    /// wrong `__metadata__.format`).
    #[error("not a LeDiFlow model file: {reason}")]
    NotLediflow { reason: String },

    /// `__metadata__.format_version` is not a version this code understands.
    #[error("unsupported format_version {found:?} (supported: {supported})")]
    UnsupportedVersion { found: String, supported: u32 },

    /// A required `__metadata__` key is absent.
    #[error("missing metadata key `{key}`")]
    MissingMetadata { key: String },

    /// A `__metadata__` value has the wrong form.
    #[error("invalid metadata `{key}`: {message}")]
    InvalidMetadata { key: String, message: String },

    // ----- tensor declarations ------------------------------------------
    /// Tensor name is not acceptable (empty, too long, control chars, reserved `::`).
    #[error("invalid tensor name {name:?}: {reason}")]
    InvalidTensorName { name: String, reason: String },

    /// Tensor name's first dotted component is not a known network.
    #[error("tensor {name:?}: unknown network prefix (expected latent, decoder, encoder, flow or baseline)")]
    UnknownNetwork { name: String },

    /// The same (logical or physical) name appears twice.
    #[error("duplicate tensor name {name:?}")]
    DuplicateTensor { name: String },

    /// A dtype string this format does not use.
    #[error("tensor {tensor:?}: unsupported dtype {dtype:?}")]
    UnknownDtype { tensor: String, dtype: String },

    /// Bad shape (too many dims, element count overflow, zero rows for a quantized tensor, ...).
    #[error("tensor {tensor:?}: invalid shape {shape:?}: {reason}")]
    InvalidShape { tensor: String, shape: Vec<u64>, reason: String },

    /// A size exceeds a [`Limits`](super::Limits) value (checked before allocating).
    #[error("{what} is too large: {size} bytes (limit {limit})")]
    TooLarge { what: String, size: u64, limit: u64 },

    /// `data_offsets` are not contiguous / in order / matching dtype x shape.
    #[error("tensor {tensor:?}: bad data_offsets [{start}, {end}]: {reason}")]
    BadOffsets { tensor: String, start: u64, end: u64, reason: String },

    /// The `tensors` index (logical tensors) disagrees with the physical safetensors entries.
    #[error("tensor {tensor:?}: inconsistent metadata: {reason}")]
    Inconsistent { tensor: String, reason: String },

    // ----- data ------------------------------------------------------------
    /// NaN or infinity in a value or a scale. `index` is the element index
    /// inside the physical part `tensor` (e.g. `flow.x::scale`).
    /// `offset` is the file offset when reading, `None` when writing.
    #[error("tensor {tensor:?}: non-finite value at element {index}{}", at_offset(*.offset))]
    NonFinite { tensor: String, index: u64, offset: Option<u64> },

    /// A quantized code / scale outside its allowed range
    /// (i8 == -128, int4 nibble 0, non-zero padding nibble, negative scale).
    #[error("tensor {tensor:?}: invalid quantized data at element {index} (file offset {offset}): {reason}")]
    InvalidQuant { tensor: String, index: u64, offset: u64, reason: String },

    /// Alignment padding bytes that are not zero.
    #[error("tensor {tensor:?}: non-zero padding byte at file offset {offset}")]
    NonZeroPadding { tensor: String, offset: u64 },

    /// SHA-256 of the data buffer differs from `__metadata__.sha256`.
    #[error("data hash mismatch: header says {expected}, data hashes to {actual}")]
    HashMismatch { expected: String, actual: String },

    /// `__metadata__.meta_sha256` does not match the `config` and `tensors`
    /// metadata strings (the header was altered).
    #[error("metadata hash mismatch: header says {expected}, config+tensors hash to {actual}")]
    MetadataHashMismatch { expected: String, actual: String },

    // ----- writer-side -----------------------------------------------------
    /// `values.len()` differs from the product of the shape.
    #[error("tensor {tensor:?}: shape {shape:?} needs {expected} values, got {got}")]
    ShapeMismatch { tensor: String, shape: Vec<usize>, expected: u64, got: u64 },

    /// A finite f32 that cannot be stored in the chosen 16-bit storage
    /// (|x| > 65504 for f16, or a quantization scale that overflows f16).
    #[error("tensor {tensor:?}: value {value} at element {index} is out of range for {scheme}")]
    ValueOutOfRange { tensor: String, index: u64, value: f32, scheme: String },

    /// A parser method was called after the parser already returned an error.
    #[error("the parser already failed; create a new one")]
    Poisoned,
}

fn at_offset(offset: Option<u64>) -> String {
    match offset {
        Some(o) => format!(" (file offset {o})"),
        None => String::new(),
    }
}
