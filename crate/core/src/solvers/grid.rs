//! Time grids: tiny helpers, as k-diffusion's schedules are.

/// `steps + 1` equally spaced times from 0 (prior) to 1 (data).
pub fn uniform_grid(steps: usize) -> Vec<f64> {
    (0..=steps).map(|i| i as f64 / steps as f64).collect()
}

/// `steps + 1` times `(i / steps)^power` from 0 to 1: above 1 the steps start short and grow
/// (the latent sampler's ODE bends most near its noise end; BENCHMARKS.md, "The latent sampler's
/// time grid"); 1 is [`uniform_grid`], to the bit.
pub fn power_grid(steps: usize, power: f64) -> Vec<f64> {
    if power == 1.0 {
        return uniform_grid(steps);
    }
    (0..=steps).map(|i| (i as f64 / steps as f64).powf(power)).collect()
}

/// A grid must start at 0, end at 1 and increase strictly.
pub fn validate_grid(grid: &[f64]) -> Result<(), String> {
    if grid.len() < 2 {
        return Err("a time grid needs at least two points".into());
    }
    if grid.windows(2).any(|p| !(p[1] > p[0])) || grid.iter().any(|t| !t.is_finite()) {
        return Err("a time grid must increase strictly".into());
    }
    Ok(())
}
