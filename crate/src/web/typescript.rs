//! The wasm API's TypeScript (`web/src/contract.ts`), generated from the Rust types it describes
//! (ts-rs), so that the two cannot drift: the test below fails when the committed file is not
//! what the types generate, and `LEDIFLOW_WRITE_TS=1` rewrites it. `bindings.rs` includes the
//! same file in the wasm module's own `.d.ts`.

use ts_rs::{Config, TS};

use super::options::{BackendChoice, Batch, CreateRequest, GenerateRequest, InterpolateRequest, Path};
use super::results::{
    Backend, Dequantized, GenerateOutput, KernelDispatches, KernelErrors, LoadProgress, LoadedFile, Nfe, StageTimes,
};
use crate::model_io::Dequantize;
use crate::pipeline::{Method, SampleOptions};
use crate::solvers::Solver;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/src/contract.ts");

const HEADER: &str = "\
// The values the wasm API (crate/src/web/bindings.rs) takes and returns, generated from their Rust
// types by crate/src/web/typescript.rs: do not edit. After changing those types, run
//   LEDIFLOW_WRITE_TS=1 cargo test -p lediflow --features lediflow/web --lib web::typescript
";

/// Where int8 weights become f32 at load (`model_io` keeps no TypeScript of its own).
impl TS for Dequantize {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn docs() -> Option<String> {
        Some("/**\n * Where int8 weights become f32 at load (BENCHMARKS.md, \"Dequantization at load\").\n */".into())
    }
    fn name(_: &Config) -> String {
        "DequantizeChoice".into()
    }
    fn inline(_: &Config) -> String {
        [Dequantize::Host, Dequantize::Gpu, Dequantize::Burn].map(|d| format!("\"{}\"", dequantize_name(d))).join(" | ")
    }
    fn decl(cfg: &Config) -> String {
        format!("type DequantizeChoice = {};", Self::inline(cfg))
    }
}

/// Exhaustive, so that a new path is a compile error here; `names_are_what_serde_reads` checks
/// the spelling.
fn dequantize_name(d: Dequantize) -> &'static str {
    match d {
        Dequantize::Host => "host",
        Dequantize::Gpu => "gpu",
        Dequantize::Burn => "burn",
    }
}

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
         LEDIFLOW_WRITE_TS=1 cargo test -p lediflow --features lediflow/web --lib web::typescript\n\
         and commit it. Generated:\n{generated}"
    );
}

#[test]
fn names_are_what_serde_reads() {
    for d in [Dequantize::Host, Dequantize::Gpu, Dequantize::Burn] {
        assert_eq!(serde_json::from_value::<Dequantize>(dequantize_name(d).into()).unwrap(), d);
    }
    for s in Solver::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.name());
    }
}
