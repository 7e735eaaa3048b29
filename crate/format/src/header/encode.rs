//! The writer side of the header: its JSON bytes and the `tensors` index.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::json::{Dims, IndexEntry, PartNames, PhysDecl};
use super::layout::pad_len;
use super::types::{PhysicalPart, TensorInfo};

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
