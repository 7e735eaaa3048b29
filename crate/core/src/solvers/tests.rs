//! Solver tests: convergence orders against a closed-form solution, NFE counts, callbacks, the
//! asynchronous observer, grids.

use core::pin::Pin;
use core::task::{Context, Poll};

use super::*;
use burn::tensor::Tensor;

/// dx/dt = cos(t)·(x − x²): a logistic equation with a time-varying rate, nonlinear and
/// non-autonomous, chosen because it has a closed form to measure the solvers against.
fn field(x: &f64, t: f64) -> f64 {
    t.cos() * (x - x * x)
}

const X0: f64 = 0.7;

/// With y = 1/x the equation becomes y' + cos(t)·y = cos(t), so y = 1 + (1/x0 − 1)·e^{−sin t}.
fn exact(t: f64) -> f64 {
    1.0 / (1.0 + (1.0 / X0 - 1.0) * (-t.sin()).exp())
}

fn solve(solver: Solver, steps: usize) -> Solution<f64> {
    let grid = uniform_grid(steps);
    solver.solve(&mut |x: &f64, t| field(x, t), X0, &grid, &mut |_, _, x| x)
}

#[test]
fn the_closed_form_solves_the_equation() {
    // Guards the reference itself: x(0) = x0, and its central difference quotient is the field.
    assert!((exact(0.0) - X0).abs() < 1e-15);
    let h = 1e-5;
    for t in [0.1, 0.5, 0.9] {
        let slope = (exact(t + h) - exact(t - h)) / (2.0 * h);
        assert!((slope - field(&exact(t), t)).abs() < 1e-9, "t = {t}");
    }
}

#[test]
fn every_solver_reaches_the_closed_form() {
    for (solver, bound) in [
        (Solver::Euler, 2e-3),
        (Solver::Midpoint, 1e-6),
        (Solver::Heun, 1e-6),
        (Solver::Rk4, 1e-12),
        (Solver::Ab2, 1e-5),
    ] {
        let error = (solve(solver, 256).x - exact(1.0)).abs();
        assert!(error < bound, "{solver}: error {error} at 256 steps");
    }
}

fn measured_order(solver: Solver) -> f64 {
    let exact = exact(1.0);
    let e1 = (solve(solver, 8).x - exact).abs();
    let e2 = (solve(solver, 16).x - exact).abs();
    (e1 / e2).log2()
}

#[test]
fn convergence_orders_match_theory() {
    let euler = measured_order(Solver::Euler);
    let midpoint = measured_order(Solver::Midpoint);
    let heun = measured_order(Solver::Heun);
    let rk4 = measured_order(Solver::Rk4);
    let ab2 = measured_order(Solver::Ab2);
    assert!((ab2 - 2.0).abs() < 0.2, "ab2 order {ab2}");
    assert!((euler - 1.0).abs() < 0.2, "euler order {euler}");
    assert!((midpoint - 2.0).abs() < 0.2, "midpoint order {midpoint}");
    assert!((heun - 2.0).abs() < 0.2, "heun order {heun}");
    assert!((rk4 - 4.0).abs() < 0.3, "rk4 order {rk4}");
}

#[test]
fn nfe_counts_are_exact() {
    for solver in Solver::ALL {
        for steps in [1, 2, 5] {
            let mut calls = 0;
            let grid = uniform_grid(steps);
            let sol = solver.solve(
                &mut |x: &f64, t| {
                    calls += 1;
                    field(x, t)
                },
                X0,
                &grid,
                &mut |_, _, x| x,
            );
            assert_eq!(sol.nfe, calls, "{solver} reported NFE");
            assert_eq!(sol.nfe, steps * solver.nfe_per_step(), "{solver} NFE per step");
        }
    }
}

#[test]
fn callback_sees_every_step_and_can_replace_the_state() {
    let grid = uniform_grid(4);
    let mut seen = Vec::new();
    let sol = Solver::Heun.solve(&mut |_: &f64, _| 1.0, 0.0, &grid, &mut |i, t, x| {
        seen.push((i, t));
        if i == 3 { 42.0 } else { x }
    });
    assert_eq!(seen, vec![(0, 0.25), (1, 0.5), (2, 0.75), (3, 1.0)]);
    assert_eq!(sol.x, 42.0);
}

#[test]
fn tensor_state_matches_scalar_state() {
    let device = crate::testing::cpu();
    let x0 = Tensor::<1>::from_floats([X0 as f32, X0 as f32], &device);
    for solver in Solver::ALL {
        let grid = uniform_grid(3);
        let sol = solver.solve(
            &mut |x: &Tensor<1>, t: f64| (x.clone() - x.clone().square()).mul_scalar(t.cos()),
            x0.clone(),
            &grid,
            &mut |_, _, x| x,
        );
        let got: Vec<f32> = sol.x.into_data().try_to_vec().expect("f32 data");
        let want = solve(solver, 3).x;
        assert!((got[0] as f64 - want).abs() < 1e-5, "{solver}: {} vs {want}", got[0]);
    }
}

#[test]
fn a_power_grid_runs_from_0_to_1_and_is_the_uniform_grid_at_power_1() {
    let grid = power_grid(4, 2.0);
    assert_eq!(grid, vec![0.0, 1.0 / 16.0, 0.25, 9.0 / 16.0, 1.0]);
    assert!(validate_grid(&grid).is_ok());
    assert!(validate_grid(&power_grid(7, 0.5)).is_ok());
    let bits = |g: Vec<f64>| g.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(power_grid(6, 1.0)), bits(uniform_grid(6)));
}

/// dx/dt = 1 / (t + 0.05): the field changes fastest at t = 0, as the latent sampler's does.
#[test]
fn a_power_grid_solves_a_field_that_bends_near_0_more_closely() {
    let field = |_: &f64, t: f64| 1.0 / (t + 0.05);
    let exact = (1.05f64 / 0.05).ln();
    let error = |grid: Vec<f64>| {
        (Solver::Midpoint.solve(&mut |x: &f64, t| field(x, t), 0.0, &grid, &mut |_, _, x| x).x - exact).abs()
    };
    let (uniform, power) = (error(uniform_grid(4)), error(power_grid(4, 2.0)));
    assert!(power < uniform / 2.0, "power 2: {power}, uniform: {uniform}");
}

#[test]
fn grids_are_validated() {
    assert!(validate_grid(&uniform_grid(3)).is_ok());
    assert!(validate_grid(&[0.0]).is_err());
    assert!(validate_grid(&[0.0, 0.5, 0.5, 1.0]).is_err());
    assert!("HEUN".parse::<Solver>().is_ok());
    assert!("dpm".parse::<Solver>().is_err());
}

/// Suspends once before completing, as a preview's readback does.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Pulls the state halfway towards the current time, a replacement that depends on the step.
fn pull(x: f64, t: f64) -> f64 {
    0.5 * (x + t)
}

/// Awaits, records the step, then replaces the state by [`pull`], or fails at step `fail_at`.
struct Pulling {
    seen: Vec<(usize, f64)>,
    fail_at: Option<usize>,
}

impl Observer<f64> for Pulling {
    type Error = String;
    async fn after_step(&mut self, step: usize, t: f64, x: f64) -> Result<f64, String> {
        YieldOnce(false).await;
        self.seen.push((step, t));
        if self.fail_at == Some(step) {
            return Err(format!("stopped at step {step}"));
        }
        Ok(pull(x, t))
    }
}

#[test]
fn async_solve_with_a_replacing_observer_matches_a_hand_rolled_loop() {
    let grid = uniform_grid(5);
    for solver in Solver::ALL {
        let (mut by_hand, mut previous) = (X0, None);
        for pair in grid.windows(2) {
            by_hand = solver.step(&mut |x: &f64, t| field(x, t), by_hand, pair[0], pair[1], &mut previous);
            by_hand = pull(by_hand, pair[1]);
        }
        let mut observer = Pulling { seen: vec![], fail_at: None };
        let solved = pollster::block_on(super::solve(solver, &mut |x: &f64, t| field(x, t), X0, &grid, &mut observer));
        let solved = solved.expect("the observer never fails here");
        assert_eq!(solved.x.to_bits(), by_hand.to_bits(), "{solver}: {} vs {by_hand}", solved.x);
        assert_eq!(solved.nfe, 5 * solver.nfe_per_step(), "{solver}");
        assert_eq!(observer.seen, vec![(0, 0.2), (1, 0.4), (2, 0.6), (3, 0.8), (4, 1.0)], "{solver}");
        let synchronous = solver.solve(&mut |x: &f64, t| field(x, t), X0, &grid, &mut |_, t, x| pull(x, t));
        assert_eq!(synchronous.x.to_bits(), by_hand.to_bits(), "{solver}: the synchronous form");
    }
}

#[test]
fn an_observer_error_stops_the_solve() {
    let mut calls = 0;
    let mut observer = Pulling { seen: vec![], fail_at: Some(1) };
    let mut counted = |x: &f64, t| {
        calls += 1;
        field(x, t)
    };
    let result = pollster::block_on(super::solve(Solver::Heun, &mut counted, X0, &uniform_grid(4), &mut observer));
    assert_eq!(result.err(), Some("stopped at step 1".to_string()));
    assert_eq!(observer.seen, vec![(0, 0.25), (1, 0.5)]);
    assert_eq!(calls, 2 * Solver::Heun.nfe_per_step(), "no step after the error");
}

/// A field that computes `base + scale · v` itself and counts how often it is asked to, where a
/// network would add its output to the state in its last layer.
struct Advancing {
    velocities: usize,
    advances: usize,
}

impl Field<f64> for Advancing {
    fn velocity(&mut self, x: &f64, t: f64) -> f64 {
        self.velocities += 1;
        field(x, t)
    }

    fn advance(&mut self, x: &f64, t: f64, base: &f64, scale: f64) -> f64 {
        self.advances += 1;
        base + scale * field(x, t)
    }
}

#[test]
fn each_update_that_adds_one_evaluation_is_asked_of_the_field() {
    // Euler's and midpoint's every update adds one evaluation to a state (1 and 2 per step);
    // Heun's, RK4's and Adams–Bashforth's updates add several, so they evaluate and update apart.
    let grid = uniform_grid(4);
    for (solver, advances) in
        [(Solver::Euler, 4), (Solver::Midpoint, 8), (Solver::Heun, 0), (Solver::Rk4, 0), (Solver::Ab2, 0)]
    {
        let mut fused = Advancing { velocities: 0, advances: 0 };
        let got = solver.solve(&mut fused, X0, &grid, &mut |_, _, x| x);
        let want = solver.solve(&mut |x: &f64, t| field(x, t), X0, &grid, &mut |_, _, x| x);
        assert_eq!(got.x.to_bits(), want.x.to_bits(), "{solver}: the same state");
        assert_eq!((fused.advances, fused.velocities + fused.advances), (advances, got.nfe), "{solver}");
    }
}

/// Adams–Bashforth's second step, written out: Euler first, then the extrapolated velocity with
/// the ratio of an uneven grid's step lengths.
#[test]
fn ab2_extrapolates_the_last_two_velocities_on_an_uneven_grid() {
    let grid = [0.0, 0.2, 0.5];
    let got = Solver::Ab2.solve(&mut |x: &f64, t| field(x, t), X0, &grid, &mut |_, _, x| x);
    let v0 = field(&X0, 0.0);
    let x1 = X0 + 0.2 * v0;
    let v1 = field(&x1, 0.2);
    let r = 0.3 / 0.2;
    let want = x1 + 0.3 * ((1.0 + r / 2.0) * v1 - r / 2.0 * v0);
    assert!((got.x - want).abs() < 1e-15, "{} vs {want}", got.x);
    assert_eq!(got.nfe, 2);
}
