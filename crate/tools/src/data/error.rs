//! The data module's error type.

use std::path::PathBuf;

/// Everything that can go wrong while rendering, loading or exporting images.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The requested image side is outside the supported range.
    #[error("image size {size} is out of range (supported: {min}..={max} pixels)")]
    InvalidSize {
        /// The side that was asked for.
        size: u32,
        /// Smallest supported side.
        min: u32,
        /// Largest supported side.
        max: u32,
    },
    /// The image folder root does not exist or is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// The folder holds no image that could be used.
    #[error(
        "no usable image under {root}: {found} candidate file(s) with a png/jpg/jpeg/webp \
         extension, {skipped} skipped as unreadable{examples}"
    )]
    NoImages {
        /// The folder that was searched.
        root: PathBuf,
        /// Files found with an image extension.
        found: usize,
        /// How many of them were skipped.
        skipped: usize,
        /// The first few skipped files with the reason, one per line (empty when none), so that
        /// the message says what is wrong with them.
        examples: String,
    },
    /// A file system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be decoded (and no substitute could be found).
    #[error("cannot decode {path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An image could not be encoded or written.
    #[error("cannot write {path}: {reason}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What the encoder said.
        reason: String,
    },
    /// A caller-supplied argument is invalid (e.g. an empty index list where one is required).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
