//! ODE solvers for flow matching, integrating dx/dt = v(x, t) along a time grid.
//!
//! In the manner of k-diffusion's `sampling.py`, every solver is a pure function with one
//! signature: `(velocity, x0, grid, on_step) -> Solution { x, nfe }`, built from a single-step
//! function (`*_step`). One loop runs them all: [`solve`], asynchronous, with an [`Observer`]
//! that may replace the state after every step and may await (the pipelines' inpainting and
//! previews); the synchronous functions drive it with a callback that never suspends.

mod grid;
mod solve;
mod state;

pub use grid::{power_grid, uniform_grid, validate_grid};
pub use solve::{Observer, solve};
pub use state::OdeState;

use solve::solve_now;

use serde::{Deserialize, Serialize};

/// A velocity field `v(x, t)`, as the solvers call it; a closure `(x, t) -> v` is one.
pub trait Field<S: OdeState> {
    /// `v(x, t)`.
    fn velocity(&mut self, x: &S, t: f64) -> S;

    /// `base + scale · v(x, t)`: the update of a step that adds one evaluation to a state. A field
    /// may compute it with the evaluation (a network whose last layer adds its output to `base`:
    /// no separate update in the browser, which is bound by dispatches); the same values.
    fn advance(&mut self, x: &S, t: f64, base: &S, scale: f64) -> S {
        base.clone().add_scaled(&self.velocity(x, t), scale)
    }
}

impl<S: OdeState, F: FnMut(&S, f64) -> S> Field<S> for F {
    fn velocity(&mut self, x: &S, t: f64) -> S {
        self(x, t)
    }
}

/// What every solver takes: a velocity field ([`Field`]).
pub type Velocity<'a, S> = dyn Field<S> + 'a;

/// Called after step `i` (0-based) has reached time `t` with the new state; returns the state to
/// continue from. The synchronous form of an [`Observer`].
pub type OnStep<'a, S> = dyn FnMut(usize, f64, S) -> S + 'a;

/// The end state and the exact number of velocity evaluations spent.
#[derive(Debug, Clone)]
pub struct Solution<S> {
    pub x: S,
    pub nfe: usize,
}

/// One explicit Euler step (1 NFE).
pub fn euler_step<S: OdeState>(v: &mut Velocity<S>, x: S, t0: f64, t1: f64) -> S {
    v.advance(&x, t0, &x, t1 - t0)
}

/// One explicit midpoint step (2 NFE).
pub fn midpoint_step<S: OdeState>(v: &mut Velocity<S>, x: S, t0: f64, t1: f64) -> S {
    let h = t1 - t0;
    let mid = v.advance(&x, t0, &x, h / 2.0);
    v.advance(&mid, t0 + h / 2.0, &x, h)
}

/// One Heun step, the explicit trapezoidal rule (2 NFE). Flow matching has no singularity at
/// t = 1, so the last step is a full Heun step too.
pub fn heun_step<S: OdeState>(v: &mut Velocity<S>, x: S, t0: f64, t1: f64) -> S {
    let h = t1 - t0;
    let k1 = v.velocity(&x, t0);
    let predictor = x.clone().add_scaled(&k1, h);
    let k2 = v.velocity(&predictor, t1);
    x.add_scaled_all(&[(&k1, h / 2.0), (&k2, h / 2.0)])
}

/// What a multistep solver keeps from its last step: that step's velocity and length.
pub type Previous<S> = Option<(S, f64)>;

/// One step of the second-order Adams–Bashforth method (1 NFE): the step's start velocity and
/// the last step's, extrapolated to the step's centre, `x + h·((1 + r/2)·v₀ − (r/2)·v₋₁)` with
/// `r = h / h₋₁` (a grid may be uneven). The first step has no history and is Euler's. Second
/// order for one evaluation a step, where midpoint pays two: k-diffusion's DPM-Solver++(2M) is
/// the same idea for a denoiser.
pub fn ab2_step<S: OdeState>(v: &mut Velocity<S>, x: S, t0: f64, t1: f64, previous: &mut Previous<S>) -> S {
    let h = t1 - t0;
    let velocity = v.velocity(&x, t0);
    let next = match previous.take() {
        None => x.add_scaled(&velocity, h),
        Some((last, last_h)) => {
            let r = h / last_h;
            x.add_scaled_all(&[(&velocity, h * (1.0 + r / 2.0)), (&last, -h * r / 2.0)])
        }
    };
    *previous = Some((velocity, h));
    next
}

/// One classical Runge–Kutta step (4 NFE).
pub fn rk4_step<S: OdeState>(v: &mut Velocity<S>, x: S, t0: f64, t1: f64) -> S {
    let h = t1 - t0;
    let k1 = v.velocity(&x, t0);
    let k2 = v.velocity(&x.clone().add_scaled(&k1, h / 2.0), t0 + h / 2.0);
    let k3 = v.velocity(&x.clone().add_scaled(&k2, h / 2.0), t0 + h / 2.0);
    let k4 = v.velocity(&x.clone().add_scaled(&k3, h), t1);
    x.add_scaled_all(&[(&k1, h / 6.0), (&k2, h / 3.0), (&k3, h / 3.0), (&k4, h / 6.0)])
}

pub fn euler<S: OdeState>(v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
    solve_now(Solver::Euler, v, x0, grid, on_step)
}

pub fn midpoint<S: OdeState>(v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
    solve_now(Solver::Midpoint, v, x0, grid, on_step)
}

pub fn heun<S: OdeState>(v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
    solve_now(Solver::Heun, v, x0, grid, on_step)
}

pub fn rk4<S: OdeState>(v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
    solve_now(Solver::Rk4, v, x0, grid, on_step)
}

pub fn ab2<S: OdeState>(v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
    solve_now(Solver::Ab2, v, x0, grid, on_step)
}

/// A solver chosen at run time (CLI flags, web options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    Euler,
    Midpoint,
    Heun,
    Rk4,
    Ab2,
}

impl Solver {
    pub const ALL: [Solver; 5] = [Solver::Euler, Solver::Midpoint, Solver::Heun, Solver::Rk4, Solver::Ab2];

    pub fn name(self) -> &'static str {
        match self {
            Solver::Euler => "euler",
            Solver::Midpoint => "midpoint",
            Solver::Heun => "heun",
            Solver::Rk4 => "rk4",
            Solver::Ab2 => "ab2",
        }
    }

    pub fn nfe_per_step(self) -> usize {
        match self {
            Solver::Euler | Solver::Ab2 => 1,
            Solver::Midpoint | Solver::Heun => 2,
            Solver::Rk4 => 4,
        }
    }

    /// One step from `t0` to `t1`; `previous` carries what a multistep solver needs from the last
    /// step (start a solve with `None`; single-step solvers leave it alone).
    pub fn step<S: OdeState>(self, v: &mut Velocity<S>, x: S, t0: f64, t1: f64, previous: &mut Previous<S>) -> S {
        match self {
            Solver::Euler => euler_step(v, x, t0, t1),
            Solver::Midpoint => midpoint_step(v, x, t0, t1),
            Solver::Heun => heun_step(v, x, t0, t1),
            Solver::Rk4 => rk4_step(v, x, t0, t1),
            Solver::Ab2 => ab2_step(v, x, t0, t1, previous),
        }
    }

    pub fn solve<S: OdeState>(self, v: &mut Velocity<S>, x0: S, grid: &[f64], on_step: &mut OnStep<S>) -> Solution<S> {
        match self {
            Solver::Euler => euler(v, x0, grid, on_step),
            Solver::Midpoint => midpoint(v, x0, grid, on_step),
            Solver::Heun => heun(v, x0, grid, on_step),
            Solver::Rk4 => rk4(v, x0, grid, on_step),
            Solver::Ab2 => ab2(v, x0, grid, on_step),
        }
    }
}

impl core::fmt::Display for Solver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Solver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Solver::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown solver '{s}' (expected euler, midpoint, heun, rk4 or ab2)"))
    }
}

#[cfg(test)]
mod tests;
