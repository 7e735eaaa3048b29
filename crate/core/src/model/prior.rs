//! The draw from the learned prior, x0 = μ + s·max(σ, σ_floor)·ε: one definition for the flow
//! model's training and for every pipeline that samples from it.

use burn::tensor::Tensor;

use super::LeDiFlowConfig;

/// The temperature of the prior draw: the scale s and the floor σ_floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorTemperature {
    pub scale: f64,
    pub floor: f64,
}

impl PriorTemperature {
    /// The model's own: `prior_std_scale` and `prior_std_floor` of its configuration.
    pub fn of(config: &LeDiFlowConfig) -> Self {
        Self { scale: config.prior_std_scale, floor: config.prior_std_floor }
    }
}

/// `mu + scale · max(sigma, floor) · eps`. A floor of 0 leaves σ untouched and a scale of 1
/// leaves ε so (bit for bit): no kernel for either, a dispatch fewer each in the browser.
pub fn prior_draw(mu: Tensor<4>, sigma: Tensor<4>, eps: Tensor<4>, temperature: PriorTemperature) -> Tensor<4> {
    let sigma = if temperature.floor > 0.0 { sigma.clamp_min(temperature.floor) } else { sigma };
    let eps = if temperature.scale == 1.0 { eps } else { eps.mul_scalar(temperature.scale) };
    mu + sigma * eps
}

/// [`prior_draw`] from the decoder's output tokens `decoded` (patch `decoded_patch`: each
/// pixel's means, then its log σ², clamped to `log_var`) with noise `eps` given as the flow's
/// tokens (patch `flow_patch`), to the flow's start as its tokens: one kernel where our WGSL
/// runs (`kernels::prior_draw_tokens`), the same operations in the same order; `None` elsewhere,
/// where the caller lays out (μ, σ) images and draws with [`prior_draw`].
pub fn prior_draw_tokens(
    decoded: &Tensor<4>,
    decoded_patch: usize,
    eps: &Tensor<4>,
    flow_patch: usize,
    log_var: (f64, f64),
    temperature: PriorTemperature,
) -> Option<Tensor<4>> {
    let parameters = crate::kernels::DrawParameters {
        log_var_min: log_var.0 as f32,
        log_var_max: log_var.1 as f32,
        scale: temperature.scale as f32,
        floor: temperature.floor as f32,
    };
    crate::kernels::prior_draw_tokens(decoded, eps, decoded_patch, flow_patch, parameters)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::{PriorTemperature, prior_draw};
    use crate::testing::cpu;

    fn t(values: &[f32]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values.to_vec(), [1, 1, 1, values.len()]), &cpu())
    }

    fn values(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().expect("f32")
    }

    #[test]
    fn a_floor_widens_only_the_pixels_below_it() {
        let (mu, sigma, eps) = (t(&[0.5, -0.5, 0.0]), t(&[0.01, 0.3, 0.05]), t(&[1.0, -2.0, 2.0]));
        let plain =
            values(prior_draw(mu.clone(), sigma.clone(), eps.clone(), PriorTemperature { scale: 1.0, floor: 0.0 }));
        let floored = values(prior_draw(mu, sigma, eps, PriorTemperature { scale: 2.0, floor: 0.1 }));
        assert_eq!(plain, vec![0.51, -1.1, 0.1]);
        // σ 0.01 and 0.05 are lifted to 0.1; 0.3 stays; then everything scales by s = 2.
        let expected = [0.5 + 2.0 * 0.1, -0.5 - 2.0 * 2.0 * 0.3, 2.0 * 0.1 * 2.0];
        for (got, want) in floored.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn a_floor_widens_the_spread_of_a_tight_prior() {
        let n = 4096;
        let eps: Vec<f32> = crate::noise::gaussian(3, crate::noise::Stream::Pixel, n);
        let (mu, sigma, eps) = (t(&vec![0.0; n]), t(&vec![0.02; n]), t(&eps));
        let std = |x: Vec<f32>| (x.iter().map(|v| (v * v) as f64).sum::<f64>() / x.len() as f64).sqrt();
        let tight = std(values(prior_draw(
            mu.clone(),
            sigma.clone(),
            eps.clone(),
            PriorTemperature { scale: 1.0, floor: 0.0 },
        )));
        let floored = std(values(prior_draw(mu, sigma, eps, PriorTemperature { scale: 1.0, floor: 0.2 })));
        assert!((tight - 0.02).abs() < 0.002, "{tight}");
        assert!((floored - 0.2).abs() < 0.02, "{floored}");
    }
}
