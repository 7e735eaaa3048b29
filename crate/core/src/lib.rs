//! The LeDiFlow core (arXiv 2505.20723), in burn: what every face of the product shares.
//!
//! Floors, each using only those below it (see ARCHITECTURE.md):
//! 1. foundations: [`model`], [`solvers`], [`noise`], the WGSL [`kernels`];
//! 2. core: [`losses`], [`pipeline`], [`model_io`] (models to and from the burn-free weight
//!    format, `lediflow-format`).
//!
//! The faces build on this crate: `lediflow-tools` (data, trainer, evaluation, CLI) and
//! `lediflow-wasm` (the JavaScript API).

// Under `fusion`, burn's cubecl tensors are lazy fusion handles, which our kernels do not launch on
// (they would need burn's backend-extension macros); the training build does not need them.
#[cfg(all(feature = "fusion", feature = "kernels"))]
compile_error!(
    "`fusion` cannot be combined with `kernels` (or `webgpu`): build the trainer with `cuda,fusion,autotune`"
);

pub mod kernels;
pub mod losses;
pub mod model;
pub mod model_io;
pub mod noise;
pub mod pipeline;
pub mod solvers;

/// Helpers for tests here and in the crates above: the CPU device and a tiny perturbed model.
#[cfg(any(test, feature = "cpu"))]
#[doc(hidden)]
pub mod testing;
