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

use crate::solvers::OdeState;

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

    /// `eval(x)`, the network at time `t`: a replay where this time and shape were recorded;
    /// else a usual evaluation, recorded on the way where it can be.
    pub fn eval(&self, x: &Tensor<4>, t: f64, eval: impl FnMut(Tensor<4>) -> Tensor<4>) -> Tensor<4> {
        #[cfg(feature = "kernels")]
        let replayed = |captured: &Captured| captured.replay();
        #[cfg(not(feature = "kernels"))]
        let replayed = ();
        self.eval_then(x, t, eval, replayed, |v| v)
    }

    /// `base + scale · eval(x)`, a solver's update of [`Recordings::eval`]: a replay's update
    /// reads the recorded output in place, without the copy [`Recordings::eval`] makes of it.
    pub fn eval_advanced(
        &self,
        x: &Tensor<4>,
        t: f64,
        base: &Tensor<4>,
        scale: f64,
        eval: impl FnMut(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        #[cfg(feature = "kernels")]
        let replayed = |captured: &Captured| captured.replay_advanced(base, scale);
        #[cfg(not(feature = "kernels"))]
        let replayed = ();
        self.eval_then(x, t, eval, replayed, |v| base.clone().add_scaled(&v, scale))
    }

    /// `usual(eval(x))`, or `replayed(recording)` where this time and shape were recorded.
    fn eval_then(
        &self,
        x: &Tensor<4>,
        t: f64,
        mut eval: impl FnMut(Tensor<4>) -> Tensor<4>,
        #[cfg(feature = "kernels")] replayed: impl FnOnce(&Captured) -> Result<Tensor<4>, crate::kernels::KernelError>,
        #[cfg(not(feature = "kernels"))] _replayed: (),
        usual: impl FnOnce(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        #[cfg(feature = "kernels")]
        {
            let mut state = self.lock();
            let key = (t.to_bits(), x.dims());
            match state.entries.iter().position(|(k, _)| *k == key) {
                Some(i) => {
                    if let Some(captured) = &state.entries[i].1 {
                        match captured.feed(x).and_then(|()| replayed(captured)) {
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
                            return usual(v);
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
        usual(eval(x.clone()))
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
