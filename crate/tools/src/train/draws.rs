//! The random numbers of one training step, drawn on the host image by image.
//!
//! Image `i` of step `s` draws from its own seed, a hash of (run seed, stage, s, i). A step's
//! draws therefore do not depend on how its batch is split across devices: data-parallel
//! training on N devices sees exactly the inputs of one device with the whole batch, and a
//! resumed run those of an uninterrupted one, on any backend.

use burn::tensor::{Device, Tensor, TensorData};

use super::stage::Stage;
use crate::data::par::par_map;
use lediflow_core::model::LeDiFlowConfig;
use lediflow_core::model::config::TimeSampling;
use lediflow_core::noise::{Stream, gaussian, splitmix64};

/// What a stage draws per image, and how many values each draw has.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawSpec {
    pub stage: Stage,
    pub seed: u64,
    /// Values per image of a latent draw (C·r·r) and of a pixel draw (3·S·S).
    pub latent_len: usize,
    pub pixel_len: usize,
    pub latent_dims: [usize; 3],
    pub pixel_dims: [usize; 3],
    pub time_sampling: TimeSampling,
}

impl DrawSpec {
    pub fn new(stage: Stage, seed: u64, config: &LeDiFlowConfig) -> Self {
        let side = config.image_size;
        let r = config.latent_side(side);
        let latent_dims = [config.latent_channels, r, r];
        let pixel_dims = [config.image_channels, side, side];
        Self {
            stage,
            seed,
            latent_len: latent_dims.iter().product(),
            pixel_len: pixel_dims.iter().product(),
            latent_dims,
            pixel_dims,
            time_sampling: config.loss.time_sampling,
        }
    }

    fn image_seed(&self, step: u64, index: u64) -> u64 {
        let stage_key = splitmix64(self.seed ^ splitmix64(0x5EED_0000 + self.stage as u64));
        splitmix64(splitmix64(stage_key ^ step) ^ index)
    }

    /// The draws of image `index` of step `step`, one vector per draw of the stage.
    fn image(&self, step: u64, index: u64) -> Vec<Vec<f32>> {
        let seed = self.image_seed(step, index);
        let t = || vec![time_from_normal(gaussian(seed, Stream::Time, 1)[0], self.time_sampling)];
        match self.stage {
            Stage::Aux => vec![gaussian(seed, Stream::Encoder, self.latent_len)],
            Stage::Latent => vec![
                t(),
                gaussian(seed, Stream::Latent, self.latent_len),
                gaussian(seed, Stream::Encoder, self.latent_len),
            ],
            Stage::Flow => {
                vec![
                    t(),
                    gaussian(seed, Stream::Encoder, self.latent_len),
                    gaussian(seed, Stream::Pixel, self.pixel_len),
                ]
            }
            Stage::Baseline => vec![t(), gaussian(seed, Stream::Pixel, self.pixel_len)],
        }
    }

    /// The draws of images `first..first + count` of step `step`, on all cores.
    pub fn draw(&self, step: u64, first: u64, count: usize) -> Draws {
        let images = par_map(count, 0, |i| self.image(step, first + i as u64));
        let draws = images.first().map_or(0, Vec::len);
        let values = (0..draws).map(|d| images.iter().flat_map(|image| image[d].iter().copied()).collect()).collect();
        Draws { stage: self.stage, count, latent_dims: self.latent_dims, pixel_dims: self.pixel_dims, values }
    }
}

/// t from a standard normal draw: Φ(n) is uniform on (0, 1); sigmoid(m + s·n) is logit-normal.
fn time_from_normal(n: f32, sampling: TimeSampling) -> f32 {
    let n = n as f64;
    let t = match sampling {
        TimeSampling::Uniform => 0.5 * libm::erfc(-n / core::f64::consts::SQRT_2),
        TimeSampling::LogitNormal { mean, std } => 1.0 / (1.0 + libm::exp(-(mean + std * n))),
        TimeSampling::Power { exponent } => libm::pow(0.5 * libm::erfc(-n / core::f64::consts::SQRT_2), exponent),
    };
    t as f32
}

/// One step's draws for `count` images, image after image in each of the stage's draws:
/// aux `[ε_z]`, latent `[t, ε, ε_q]`, flow `[t, ε_z, ε]`, baseline `[t, ε]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    pub stage: Stage,
    pub count: usize,
    latent_dims: [usize; 3],
    pixel_dims: [usize; 3],
    values: Vec<Vec<f32>>,
}

/// A step's draws as tensors on one device, named as the stage losses name them.
pub enum DrawTensors {
    Aux { eps_z: Tensor<4> },
    Latent { t: Tensor<1>, eps: Tensor<4>, eps_q: Tensor<4> },
    Flow { t: Tensor<1>, eps_z: Tensor<4>, eps: Tensor<4> },
    Baseline { t: Tensor<1>, eps: Tensor<4> },
}

impl Draws {
    /// Images `k·count/n ..` of `n` equal shards (the caller checks that `n` divides the count).
    pub fn shard(&self, k: usize, n: usize) -> Draws {
        let count = self.count / n;
        let values = self
            .values
            .iter()
            .map(|v| {
                let per = v.len() / self.count.max(1);
                v[k * count * per..(k + 1) * count * per].to_vec()
            })
            .collect();
        Draws { values, count, ..self.clone() }
    }

    pub fn tensors(&self, device: &Device) -> DrawTensors {
        let b = self.count;
        let [c, r, _] = self.latent_dims;
        let [pc, side, _] = self.pixel_dims;
        let latent = |v: &Vec<f32>| Tensor::<4>::from_data(TensorData::new(v.clone(), [b, c, r, r]), device);
        let pixel = |v: &Vec<f32>| Tensor::<4>::from_data(TensorData::new(v.clone(), [b, pc, side, side]), device);
        let time = |v: &Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [b]), device);
        let v = &self.values;
        match self.stage {
            Stage::Aux => DrawTensors::Aux { eps_z: latent(&v[0]) },
            Stage::Latent => DrawTensors::Latent { t: time(&v[0]), eps: latent(&v[1]), eps_q: latent(&v[2]) },
            Stage::Flow => DrawTensors::Flow { t: time(&v[0]), eps_z: latent(&v[1]), eps: pixel(&v[2]) },
            Stage::Baseline => DrawTensors::Baseline { t: time(&v[0]), eps: pixel(&v[1]) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stage: Stage) -> DrawSpec {
        DrawSpec::new(stage, 7, &LeDiFlowConfig::tiny())
    }

    #[test]
    fn shards_are_the_whole_batch_split() {
        for stage in Stage::ORDER {
            let whole = spec(stage).draw(3, 0, 4);
            let halves = [spec(stage).draw(3, 0, 2), spec(stage).draw(3, 2, 2)];
            assert_eq!(whole.shard(0, 2), halves[0], "{stage}");
            assert_eq!(whole.shard(1, 2), halves[1], "{stage}");
        }
    }

    #[test]
    fn steps_stages_and_images_draw_differently() {
        let a = spec(Stage::Flow).draw(3, 0, 2);
        assert_ne!(a, spec(Stage::Flow).draw(4, 0, 2));
        assert_ne!(a.values[2], spec(Stage::Baseline).draw(3, 0, 2).values[1]);
        assert_ne!(a.shard(0, 2).values[2], a.shard(1, 2).values[2]);
    }

    #[test]
    fn times_follow_their_distribution() {
        let mut s = spec(Stage::Baseline);
        s.time_sampling = TimeSampling::Uniform;
        let t = s.draw(0, 0, 4000).values[0].clone();
        assert!(t.iter().all(|&v| v > 0.0 && v < 1.0));
        let mean = t.iter().map(|&v| v as f64).sum::<f64>() / t.len() as f64;
        let below = t.iter().filter(|&&v| v < 0.25).count() as f64 / t.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        assert!((below - 0.25).abs() < 0.03, "P(t < 1/4) = {below}");
        s.time_sampling = TimeSampling::LogitNormal { mean: 0.0, std: 1.0 };
        let t = s.draw(0, 0, 4000).values[0].clone();
        let median = {
            let mut v = t.clone();
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        assert!((median - 0.5).abs() < 0.03, "logit-normal median {median}");
    }

    #[test]
    fn a_power_above_one_moves_times_towards_the_prior() {
        let mut s = spec(Stage::Flow);
        s.time_sampling = TimeSampling::Power { exponent: 2.0 };
        let t = s.draw(0, 0, 4000).values[0].clone();
        assert!(t.iter().all(|&v| v > 0.0 && v < 1.0));
        // P(u² < 1/4) = P(u < 1/2) = 1/2, against 1/4 for uniform t.
        let below = t.iter().filter(|&&v| v < 0.25).count() as f64 / t.len() as f64;
        assert!((below - 0.5).abs() < 0.03, "P(t < 1/4) = {below}");
        let mean = t.iter().map(|&v| v as f64).sum::<f64>() / t.len() as f64;
        assert!((mean - 1.0 / 3.0).abs() < 0.02, "E[u²] = {mean}");
    }
}
