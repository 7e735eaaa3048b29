//! The JavaScript API (floor 3): a `Generator` that streams a weight file, then samples,
//! inpaints and interpolates on WebGPU or, without an adapter, on the CPU.
//!
//! Every method that touches the device returns a `Promise`: on wasm a synchronous readback
//! panics (burn issue #4487), so all readbacks go through the async pipeline. Options arrive as
//! plain objects read by serde (serde-wasm-bindgen), so a mistyped value is an `InvalidOptions`
//! error naming its field, not a silent default; results leave the same way. Their TypeScript
//! (`web/src/contract.ts`) is generated from these Rust types (`typescript.rs`). Errors are
//! `Error`s with a `kind` property (see [`WebError::kind`]).
//!
//! A wasm instance initialises WebGPU once (burn registers one runtime per instance); after a
//! lost device the page creates a new worker, which is what the TypeScript wrapper does.

#[cfg(target_family = "wasm")]
mod bindings;
#[cfg(target_family = "wasm")]
mod constructors;
pub mod error;
pub mod options;
pub mod results;
#[cfg(test)]
mod typescript;

#[cfg(target_family = "wasm")]
pub use bindings::Generator;
pub use error::WebError;

/// Checks the SHA-256 of a whole weight file (every byte `load()` received) against the one a
/// manifest pins, if one does: `finishLoad()` calls it before it builds anything.
pub fn check_file_hash(expected: Option<&str>, actual: &str) -> Result<(), WebError> {
    match expected {
        None => Ok(()),
        Some(pin) if !lediflow_format::is_sha256_hex(pin) => {
            Err(WebError::Options(format!("the expected SHA-256 must be 64 lower-case hex digits, not '{pin}'")))
        }
        Some(pin) if pin != actual => Err(WebError::FileHash { expected: pin.into(), actual: actual.into() }),
        Some(_) => Ok(()),
    }
}
