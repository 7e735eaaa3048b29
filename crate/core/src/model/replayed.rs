//! A network's evaluations replayed from recordings ([`crate::kernels::Captured`]): one per time
//! and input shape, made at that time's first evaluation, so a sampler that asks for the same
//! grid in every call replays every evaluation from its second call on. Each replay costs the
//! host re-encoding the recorded dispatches instead of launching them, plus two copies (the input
//! in, the output out).
//!
//! Where nothing can be recorded (the CPU, a SPIR-V runtime, an f16 network) or a recording or a
//! replay fails, it evaluates as usual: the velocity is the same either way.

use std::sync::{Arc, Mutex};

use burn::tensor::Tensor;

use super::hourglass::Advance;

#[cfg(feature = "kernels")]
use crate::kernels::Captured;

/// A network's recordings, shared by its clones (a prepared [`super::hourglass::Backbone`] holds
/// one where replays are on).
#[derive(Clone, Default)]
pub struct Recordings(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    /// One entry per (time's bits, input shape) evaluated: its recording, or `None` where it
    /// could not be made or stopped replaying (evaluated as usual from then on).
    #[cfg(feature = "kernels")]
    entries: Vec<((u64, [usize; 4]), Option<Captured>)>,
    /// The first failure met, for diagnostics.
    failure: Option<String>,
    replays: u64,
}

impl std::fmt::Debug for Recordings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Recordings").field("replays", &state.replays).field("failure", &state.failure).finish()
    }
}

impl Recordings {
    /// Times and shapes kept: a bound on memory (each recording keeps its evaluation's
    /// intermediates), far above a page's few solver grids. Past it, new ones evaluate as usual.
    pub const CAPACITY: usize = 128;

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere, never mid-update of an entry.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `eval(x)`, the network at time `t`, added to a base where `advance` asks for it: a replay
    /// where this time and shape were recorded (its update reads the recorded output in place,
    /// without the copy a velocity needs); else a usual evaluation, recorded on the way where it
    /// can be.
    pub fn eval(
        &self,
        x: &Tensor<4>,
        t: f64,
        advance: Option<Advance>,
        mut eval: impl FnMut(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        #[cfg(feature = "kernels")]
        {
            let mut state = self.lock();
            let key = (t.to_bits(), x.dims());
            match state.entries.iter().position(|(k, _)| *k == key) {
                Some(i) => {
                    if let Some(captured) = &state.entries[i].1 {
                        let replayed = |()| match advance {
                            Some(a) => captured.replay_advanced(a.base, a.scale),
                            None => captured.replay(),
                        };
                        match captured.feed(x).and_then(replayed) {
                            Ok(v) => {
                                state.replays += 1;
                                return v;
                            }
                            Err(e) => {
                                state.failure.get_or_insert(e.0);
                                state.entries[i].1 = None;
                            }
                        }
                    }
                }
                None if state.entries.len() < Self::CAPACITY => {
                    match Captured::record(x, &mut eval) {
                        Some(Ok((captured, v))) => {
                            state.entries.push((key, Some(captured)));
                            return Advance::apply(advance, v);
                        }
                        Some(Err(e)) => {
                            state.failure.get_or_insert(e.0);
                        }
                        None => {}
                    }
                    state.entries.push((key, None));
                }
                None => {}
            }
        }
        let _ = t;
        Advance::apply(advance, eval(x.clone()))
    }

    /// Evaluations replayed so far.
    pub fn replays(&self) -> u64 {
        self.lock().replays
    }

    /// The first recording or replay that failed, if any (those evaluations ran as usual).
    pub fn failure(&self) -> Option<String> {
        self.lock().failure.clone()
    }
}

// Tested on burn's wgpu runtime in `crate/core/tests/replay.rs`.
