//! The LeDiFlow weight file format (`.ldf`), byte level only (no burn).
//!
//! An `.ldf` file is a valid **safetensors** file holding up to five
//! networks (`latent`, `decoder`, `encoder`, `flow`, `baseline`), with
//! optional int8 / int4 quantization, a SHA-256 of the data buffer, and a
//! streaming parser usable in the browser. The full specification is in
//! `docs/FORMAT.md`.
//!
//! * write: [`write_model`], [`write_model_with_report`], [`write_model_with_options`]
//! * read: [`StreamParser`] (chunks of any size) or [`read_model`]
//! * tensors are emitted before the final hash check: treat the model as
//!   untrusted until [`StreamParser::finish`] returns `Ok`.
//!
//! This module depends on nothing else in the crate.

mod error;
mod hash;
mod header;
mod quant;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use error::FormatError;
pub use hash::{FileHasher, is_sha256_hex, meta_sha256_hex, sha256_hex};
pub use header::{
    DATA_ALIGN, DType, FORMAT_NAME, FORMAT_VERSION, Limits, ModelHeader, Network, PartRole, PhysicalPart,
    RESERVED_METADATA_KEYS, TensorInfo, validate_tensor_name,
};
pub use quant::{
    MAX_INT4_GROUP, ParsePolicyError, QUANT_MIN_ELEMENTS, QuantPolicy, Scheme, Storage, choose_scheme, int4_groups,
    is_exempt_name, quant_rows_cols,
};
pub use reader::{ParsedTensor, Progress, StreamParser, read_model, read_model_with_limits};
pub use writer::{
    TensorEntry, TensorReport, WriteOptions, WriteReport, quantize_tensor, write_model, write_model_with_options,
    write_model_with_report,
};
