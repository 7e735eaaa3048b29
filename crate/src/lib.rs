//! LeDiFlow: flow matching from a learned prior (arXiv 2505.20723), in burn.
//!
//! Floors, each using only those below it (see ARCHITECTURE.md):
//! 1. foundations: [`model`], [`solvers`], [`noise`], `data`, the WGSL [`kernels`];
//! 2. core: [`losses`], [`pipeline`], [`weights`], [`model_io`];
//! 3. faces: the CLI (`cli`), the trainer (`train`), the evaluation and the wasm API (`web`).

// Under `fusion`, burn's cubecl tensors are lazy fusion handles, which our kernels do not launch on
// (they would need burn's backend-extension macros); the training build does not need them.
#[cfg(all(feature = "fusion", feature = "kernels"))]
compile_error!(
    "`fusion` cannot be combined with `kernels` (or `webgpu`): build the trainer with `cuda,fusion,autotune`"
);

#[cfg(feature = "native")]
pub mod data;
pub mod kernels;
pub mod losses;
pub mod model;
pub mod model_io;
pub mod noise;
pub mod pipeline;
pub mod solvers;
pub mod weights;

#[cfg(feature = "native")]
pub mod cli;
#[cfg(feature = "native")]
pub mod eval;
#[cfg(feature = "native")]
pub mod progress;
#[cfg(feature = "native")]
pub mod train;
#[cfg(feature = "web")]
pub mod web;

#[cfg(test)]
pub(crate) mod testing;
