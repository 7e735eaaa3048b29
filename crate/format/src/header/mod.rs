//! The JSON header: networks, dtypes, physical/logical tensor descriptions,
//! header encoding (writer side) and strict header parsing + validation
//! (reader side). See `docs/FORMAT.md`.

mod encode;
mod json;
mod layout;
mod limits;
mod names;
mod parse;
mod types;

pub(crate) use encode::{encode_header, index_json};
pub use layout::DATA_ALIGN;
pub(crate) use layout::{pad_len, part_specs};
pub use limits::Limits;
pub use names::validate_tensor_name;
pub(crate) use parse::parse_header;
pub use types::{
    DType, FORMAT_NAME, FORMAT_VERSION, ModelHeader, Network, PartRole, PhysicalPart, RESERVED_METADATA_KEYS,
    TensorInfo,
};
