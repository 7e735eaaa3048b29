//! The reader's resource limits, all checked before allocating.

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
