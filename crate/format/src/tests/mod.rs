//! Cross-cutting tests of the weight format: round trips, safetensors
//! compatibility, chunking, truncation, bit flips, handcrafted bad files,
//! and a proptest mutation fuzzer (here, with the benchmark numbers).
//!
//! Long fuzz run (about an hour on one core):
//! `PROPTEST_CASES=100000000 cargo test -p lediflow-format --release -j1 tests::fuzz_long -- --ignored --nocapture`
//! (about 35 000 cases/s on one core in release).

mod damaged;
mod fixtures;
mod handcrafted;
mod round_trip;

use proptest::prelude::*;

use self::fixtures::*;
use super::*;

// ---- fuzzing ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Append(u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => any::<u8>().prop_map(Mutation::Append),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation, header_bias: bool) {
    let n = b.len().max(1);
    // bias half the positions into the first 64 bytes + header, where structure lives
    let pos = |p: usize| if header_bias && p.is_multiple_of(2) { (p / 2) % n.min(600) } else { p % n };
    match *m {
        Mutation::Flip(p, bit) if !b.is_empty() => {
            let i = pos(p);
            b[i] ^= 1 << bit
        }
        Mutation::Set(p, v) if !b.is_empty() => {
            let i = pos(p);
            b[i] = v
        }
        Mutation::Insert(p, v) => {
            let i = pos(p).min(b.len());
            b.insert(i, v)
        }
        Mutation::Delete(p) if !b.is_empty() => {
            let i = pos(p);
            b.remove(i);
        }
        Mutation::Truncate(p) => b.truncate(p % (b.len() + 1)),
        Mutation::Append(v) => b.push(v),
        _ => {}
    }
}

/// Feeds `b` in the given chunk sizes; must not panic. Returns the outcome.
fn feed(b: &[u8], sizes: &[usize]) -> Result<usize, FormatError> {
    let mut p = StreamParser::new(Limits::default());
    let mut i = 0;
    let mut k = 0;
    let mut n = 0;
    while i < b.len() {
        let s = sizes.get(k % sizes.len().max(1)).copied().unwrap_or(1).max(1);
        let end = (i + s).min(b.len());
        n += p.push(&b[i..end])?.len();
        let _ = p.progress();
        i = end;
        k += 1;
    }
    p.finish()?;
    Ok(n)
}

fn fuzz_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn fuzz_base() -> Vec<Vec<u8>> {
    vec![small_model(QuantPolicy::Int8), small_model(QuantPolicy::Int4G32), small_model(QuantPolicy::F32)]
}

fn fuzz_strategy() -> impl Strategy<Value = (usize, Vec<Mutation>, Vec<usize>, bool)> {
    (
        0usize..3,
        prop::collection::vec(mutation(), 1..6),
        prop::collection::vec(prop_oneof![1usize..16, 1usize..5000], 1..8),
        any::<bool>(),
    )
}

fn fuzz_one(bases: &[Vec<u8>], (which, muts, sizes, bias): &(usize, Vec<Mutation>, Vec<usize>, bool)) {
    let mut b = bases[*which].clone();
    for m in muts {
        apply(&mut b, m, *bias);
    }
    let r = feed(&b, sizes);
    if b == bases[*which] {
        assert!(r.is_ok());
    }
    // also the one-shot reader agrees on success/failure
    assert_eq!(read_model(&b).is_ok(), r.is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(2000), failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn fuzz_mutations(case in fuzz_strategy()) {
        thread_local!(static BASES: Vec<Vec<u8>> = fuzz_base());
        BASES.with(|b| fuzz_one(b, &case));
    }
}

/// The long run: `FUZZ_SECONDS=3600 cargo test --release -j1 fuzz_long -- --ignored --nocapture`
/// runs batches of 100,000 cases (fresh random seeds each) until the time is up, printing
/// progress; without `FUZZ_SECONDS`, `PROPTEST_CASES` cases (default 200,000).
#[test]
#[ignore]
fn fuzz_long() {
    let bases = fuzz_base();
    let seconds: Option<f64> = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let batch = if seconds.is_some() { 100_000 } else { fuzz_cases(200_000) };
    let t = std::time::Instant::now();
    let mut total = 0u64;
    loop {
        let cfg = ProptestConfig { cases: batch, failure_persistence: None, ..ProptestConfig::default() };
        let mut runner = proptest::test_runner::TestRunner::new(cfg);
        runner
            .run(&fuzz_strategy(), |case| {
                fuzz_one(&bases, &case);
                Ok(())
            })
            .unwrap();
        total += batch as u64;
        eprintln!("fuzz_long: {total} cases in {:.1?}", t.elapsed());
        if seconds.is_none_or(|s| t.elapsed().as_secs_f64() >= s) {
            break;
        }
    }
}

/// Throughput and sizes: `cargo test --release -j1 bench_numbers -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_numbers() {
    use std::time::Instant;
    // ~10 MB in f32: 40 matrices 256x256 + biases
    let mut ts = Vec::new();
    for i in 0..40 {
        ts.push(entry(&format!("flow.blocks.{i}.w.weight"), &[256, 256], i));
        ts.push(entry(&format!("flow.blocks.{i}.w.bias"), &[256], 100 + i));
    }
    for policy in QuantPolicy::ALL {
        let t = Instant::now();
        let (bytes, rep) = write_model_with_report(&config(), &ts, policy).unwrap();
        let wt = t.elapsed();
        let mb = bytes.len() as f64 / 1e6;
        let mut best = f64::MAX;
        let mut best_1 = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let r = parse_chunked(&bytes, 65536).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(r.1.len(), ts.len());
            let t = Instant::now();
            let mut dq = 0;
            for x in &r.1 {
                dq += x.dequantize().unwrap().len();
            }
            best_1 = best_1.min(t.elapsed().as_secs_f64());
            assert!(dq > 0);
        }
        eprintln!(
            "{policy:>8}: file {mb:7.3} MB ({:.3} of f32 data), max_abs_err {:.2e}, write {:.0} ms, parse {:.0} MB/s (64 KiB chunks), dequantize {:.0} Melem/s",
            rep.data_bytes as f64 / rep.f32_data_bytes as f64,
            rep.max_abs_error,
            wt.as_secs_f64() * 1e3,
            mb / best,
            rep.f32_data_bytes as f64 / 4e6 / best_1,
        );
    }
}
