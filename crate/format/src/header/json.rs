//! The JSON shapes of the header, parsed with caps on every list and map so
//! that a hostile header cannot make the parser allocate without bound.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Hard cap on the rank the JSON parser accepts at all (before `Limits`).
const HARD_MAX_RANK: usize = 32;
/// Hard cap on the number of `__metadata__` entries.
const MAX_METADATA_ENTRIES: usize = 1024;

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
pub(super) struct Top {
    pub metadata: Option<BTreeMap<String, String>>,
    pub tensors: Vec<(String, PhysDecl)>,
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

/// The whole header object (`json` = the N header bytes), with at most
/// `max_physical` tensor entries and nothing after it.
pub(super) fn parse_top(json: &[u8], max_physical: usize) -> Result<Top, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let top = TopSeed { max_physical }.deserialize(&mut de)?;
    de.end()?;
    Ok(top)
}

/// The `tensors` metadata string: a list of at most `max_tensors` entries.
pub(super) fn parse_index(index: &str, max_tensors: usize) -> Result<Vec<IndexEntry>, serde_json::Error> {
    let mut d = serde_json::Deserializer::from_str(index);
    let seed = CappedSeq::<IndexEntry> { cap: max_tensors, what: "tensors", _t: PhantomData };
    seed.deserialize(&mut d).and_then(|v| d.end().map(|_| v))
}

#[cfg(test)]
mod tests {
    use super::*;

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
