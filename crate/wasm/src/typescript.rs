//! The wasm API's TypeScript (`web/src/contract.ts`), generated from the Rust types it describes
//! (ts-rs), so that the two cannot drift: the test below fails when the committed file is not
//! what the types generate, and `LEDIFLOW_WRITE_TS=1` rewrites it. `bindings.rs` includes the
//! same file in the wasm module's own `.d.ts`.

use ts_rs::{Config, TS};

use super::options::{BackendChoice, Batch, CreateRequest, GenerateRequest, InterpolateRequest, Path};
use super::results::{
    Backend, Dequantized, GenerateOutput, KernelDispatches, KernelErrors, LoadProgress, LoadedFile, Nfe, StageTimes,
};
use lediflow_core::model_io::Dequantize;
use lediflow_core::pipeline::{Method, SampleOptions};
use lediflow_core::solvers::Solver;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/src/contract.ts");

const HEADER: &str = "\
// The values the wasm API (crate/wasm/src/bindings.rs) takes and returns, generated from their Rust
// types by crate/wasm/src/typescript.rs: do not edit. After changing those types, run
//   LEDIFLOW_WRITE_TS=1 cargo test -p lediflow-wasm --lib typescript
";

/// `export type …`, after its doc comment (ts-rs gives it as a whole JSDoc block).
fn declaration<T: TS>(cfg: &Config) -> String {
    let docs = T::docs().map(|d| format!("{}\n", d.trim_end())).unwrap_or_default();
    format!("{docs}export {}\n", T::decl(cfg))
}

fn generated() -> String {
    // JavaScript numbers: seeds and byte counts stay below 2^53 (serde-wasm-bindgen refuses more).
    let cfg = Config::new().with_large_int("number");
    let declarations = [
        declaration::<Method>(&cfg),
        declaration::<Solver>(&cfg),
        declaration::<SampleOptions>(&cfg),
        declaration::<Batch>(&cfg),
        declaration::<GenerateRequest>(&cfg),
        declaration::<Path>(&cfg),
        declaration::<InterpolateRequest>(&cfg),
        declaration::<BackendChoice>(&cfg),
        declaration::<Dequantize>(&cfg),
        declaration::<CreateRequest>(&cfg),
        declaration::<Backend>(&cfg),
        declaration::<LoadProgress>(&cfg),
        declaration::<Dequantized>(&cfg),
        declaration::<LoadedFile>(&cfg),
        declaration::<Nfe>(&cfg),
        declaration::<StageTimes>(&cfg),
        declaration::<GenerateOutput>(&cfg),
        declaration::<KernelErrors>(&cfg),
        declaration::<KernelDispatches>(&cfg),
    ];
    indented(&format!("{HEADER}\n{}", declarations.join("\n")))
}

/// ts-rs writes a struct's fields on the lines of its braces, unindented; wasm-bindgen's `.d.ts`
/// re-indents by braces, so each closing brace gets a line of its own, and fields two spaces.
fn indented(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let split = text.lines().map(|line| match line.strip_suffix(", };") {
        Some(fields) if line.contains('{') => format!("{fields} }};"),
        Some(fields) => format!("{fields},\n}};"),
        None => line.to_string(),
    });
    for line in split.collect::<Vec<_>>().join("\n").lines().map(str::trim) {
        let comment = line.starts_with("/**") || line.starts_with('*') || line.starts_with("//");
        if line.starts_with('}') {
            depth = depth.saturating_sub(1);
        }
        let pad = "  ".repeat(depth) + if line.starts_with('*') { " " } else { "" };
        out += &if line.is_empty() { "\n".to_string() } else { format!("{pad}{line}\n") };
        if !comment {
            let opened = line.matches('{').count() as isize - line.matches('}').count() as isize;
            depth = (depth as isize + opened + if line.starts_with('}') { 1 } else { 0 }).max(0) as usize;
        }
    }
    out
}

#[test]
fn the_committed_typescript_is_what_the_rust_types_generate() {
    let generated = generated();
    if std::env::var_os("LEDIFLOW_WRITE_TS").is_some() {
        std::fs::write(FILE, &generated).expect("write web/src/contract.ts");
    }
    let committed = std::fs::read_to_string(FILE).unwrap_or_default();
    assert!(
        committed == generated,
        "web/src/contract.ts is not what the Rust types generate: run\n  \
         LEDIFLOW_WRITE_TS=1 cargo test -p lediflow-wasm --lib typescript\n\
         and commit it. Generated:\n{generated}"
    );
}

#[test]
fn names_are_what_serde_reads() {
    for d in Dequantize::ALL {
        assert_eq!(serde_json::from_value::<Dequantize>(d.name().into()).unwrap(), d);
    }
    for s in Solver::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.name());
    }
}
