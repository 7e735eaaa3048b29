//! SHA-256 helpers (hex encoding of the data-buffer digest).

use sha2::{Digest, Sha256};

/// Incremental SHA-256 of the data buffer.
#[derive(Clone, Default)]
pub(crate) struct DataHasher(Sha256);

impl DataHasher {
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// Lower-case hex digest.
    pub(crate) fn finish_hex(self) -> String {
        to_hex(&self.0.finalize())
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = DataHasher::new();
    h.update(bytes);
    h.finish_hex()
}

/// Incremental SHA-256 of a whole file, header included: what a manifest pins
/// (`models/manifest.json`'s `sha256`, `sha256sum`'s digest). The header's own `sha256` covers
/// only the data buffer, so a file whose header was edited (its configuration, the names of two
/// same-shaped tensors swapped, a free-form metadata key) keeps that one but not this one.
#[derive(Clone, Default)]
pub struct FileHasher(DataHasher);

impl FileHasher {
    pub fn new() -> Self {
        Self(DataHasher::new())
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// Lower-case hex digest of every byte given so far.
    pub fn finish_hex(self) -> String {
        self.0.finish_hex()
    }
}

/// Hex SHA-256 binding the `config` and `tensors` metadata strings
/// (`__metadata__.meta_sha256`): SHA-256 of
/// `u64le(len(config)) ‖ config ‖ u64le(len(tensors)) ‖ tensors`.
pub fn meta_sha256_hex(config: &str, tensors: &str) -> String {
    let mut h = DataHasher::new();
    h.update(&(config.len() as u64).to_le_bytes());
    h.update(config.as_bytes());
    h.update(&(tensors.len() as u64).to_le_bytes());
    h.update(tensors.as_bytes());
    h.finish_hex()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// True if `s` is exactly 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_sha256_hex(&sha256_hex(b"")));
        assert!(!is_sha256_hex("ABC"));
        assert!(!is_sha256_hex(&"A".repeat(64)));
    }

    #[test]
    fn the_file_hash_of_chunks_is_the_hash_of_the_whole() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for size in [1, 7, 64, 999, 1000] {
            let mut h = FileHasher::new();
            bytes.chunks(size).for_each(|c| h.update(c));
            assert_eq!(h.finish_hex(), sha256_hex(&bytes), "chunks of {size}");
        }
    }
}
