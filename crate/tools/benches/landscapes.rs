//! Procedural landscape throughput (plain `std` timing; `harness = false`).
//!
//! Prints the median images/s over several repetitions, single-threaded and on all
//! cores, at 64×64 and 128×128. Run with `cargo bench --bench landscapes`.

use std::hint::black_box;
use std::time::Instant;

use lediflow_tools::data::{ImageSource, Procedural, Split, render_landscape_into};

const REPS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn single_thread(size: u32, n: u64) -> f64 {
    let mut buf = vec![0u8; (size * size * 3) as usize];
    let seed = Split::Train.seed();
    let mut rates = Vec::with_capacity(REPS);
    for rep in 0..REPS {
        let t = Instant::now();
        for i in 0..n {
            let a = render_landscape_into(seed, rep as u64 * n + i, size, &mut buf);
            black_box((&a, &buf));
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    median(rates)
}

fn all_cores(size: u32, n: u64) -> f64 {
    let src = Procedural::new(Split::Train, size, 0).expect("valid size");
    let mut rates = Vec::with_capacity(REPS);
    for rep in 0..REPS {
        let idx: Vec<u64> = (rep as u64 * n..(rep as u64 + 1) * n).collect();
        let t = Instant::now();
        let b = src.batch(&idx).expect("render");
        black_box(&b);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    median(rates)
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Warm-up (noise table, caches).
    single_thread(64, 50);
    println!("procedural landscapes, median of {REPS} repetitions ({cores} cores)");
    for (size, n) in [(64u32, 2000u64), (128, 500)] {
        let st = single_thread(size, n);
        let mt = all_cores(size, n * cores as u64);
        println!("{size:>4}x{size:<4} single thread: {st:>9.0} images/s   all cores: {mt:>9.0} images/s");
    }
}
