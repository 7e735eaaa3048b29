//! Static constructors, run once per wasm instance instead of once per call into it.
//!
//! cubecl's IR registers its dialects through `inventory`, whose registrations are static
//! constructors (`.init_array`) on wasm. A module that never calls `__wasm_call_ctors` itself is
//! a "command" to wasm-ld, which then wraps *every* export in a call to all constructors
//! (lld/wasm/Writer.cpp). wasm-bindgen's glue calls exports for every JavaScript value it keeps
//! (`__externref_table_alloc`, `__externref_table_dealloc`), so each WebGPU object burn created
//! re-ran them: 45 % of the worker's time in a profile of one sample (BENCHMARKS.md, "Browser
//! build: static constructors"). Calling them once at start-up makes wasm-ld drop the wrappers.

use core::sync::atomic::{AtomicU32, Ordering};

use wasm_bindgen::prelude::*;

unsafe extern "C" {
    /// Synthesised by wasm-ld: every `.init_array` entry of the module, in order.
    fn __wasm_call_ctors();
}

static CONSTRUCTOR_RUNS: AtomicU32 = AtomicU32::new(0);

extern "C" fn count_constructor_run() {
    CONSTRUCTOR_RUNS.fetch_add(1, Ordering::Relaxed);
}

/// A constructor of our own, so that a test can see how often they all ran.
#[used]
#[unsafe(link_section = ".init_array")]
static COUNT_CONSTRUCTOR_RUN: extern "C" fn() = count_constructor_run;

/// Runs when the module is instantiated (wasm-bindgen's `__wbindgen_start`).
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once, before any other code of this instance runs; the constructors only
    // fill `inventory`'s registries and our counter.
    unsafe { __wasm_call_ctors() }
}

/// How many times this instance's static constructors have run: 1 after instantiation, and 1
/// forever after. More means wasm-ld wrapped the exports again and every call pays for them.
#[wasm_bindgen(js_name = staticConstructorRuns)]
pub fn static_constructor_runs() -> u32 {
    CONSTRUCTOR_RUNS.load(Ordering::Relaxed)
}
