//! The one integration loop of every solver: step along the grid and let an observer replace the
//! state after every step. It is asynchronous so that an observer may await (a preview's readback
//! on the web); the synchronous solvers drive it with a callback that never suspends.

use core::convert::Infallible;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use super::{OdeState, OnStep, Solution, Solver, Velocity};

/// Sees the state after every step and returns the state to continue from: inpainting replaces
/// the known pixels here, previews look at the state and pass it through.
pub trait Observer<S> {
    type Error;
    /// Step `step` (0-based) has reached time `t` with state `x`; an error stops the solve.
    fn after_step(&mut self, step: usize, t: f64, x: S) -> impl Future<Output = Result<S, Self::Error>>;
}

/// Integrates `v` from `x0` along `grid` with `solver`, awaiting `observer` after every step.
pub async fn solve<S: OdeState, O: Observer<S>>(
    solver: Solver,
    v: &mut Velocity<'_, S>,
    x0: S,
    grid: &[f64],
    observer: &mut O,
) -> Result<Solution<S>, O::Error> {
    let mut x = x0;
    let mut previous = None;
    for (i, pair) in grid.windows(2).enumerate() {
        x = solver.step(v, x, pair[0], pair[1], &mut previous);
        x = observer.after_step(i, pair[1], x).await?;
    }
    Ok(Solution { x, nfe: solver.nfe_per_step() * grid.len().saturating_sub(1) })
}

/// A synchronous callback as an observer that neither suspends nor fails.
struct Immediate<'c, 'a, S>(&'c mut OnStep<'a, S>);

impl<S> Observer<S> for Immediate<'_, '_, S> {
    type Error = Infallible;
    async fn after_step(&mut self, step: usize, t: f64, x: S) -> Result<S, Infallible> {
        Ok((self.0)(step, t, x))
    }
}

/// [`solve`] with a synchronous callback, which completes in a single poll.
pub(super) fn solve_now<S: OdeState>(
    solver: Solver,
    v: &mut Velocity<S>,
    x0: S,
    grid: &[f64],
    on_step: &mut OnStep<S>,
) -> Solution<S> {
    let mut observer = Immediate(on_step);
    let solving = pin!(solve(solver, v, x0, grid, &mut observer));
    match solving.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(solution)) => solution,
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => unreachable!("nothing awaited by a synchronous solve can be pending"),
    }
}
