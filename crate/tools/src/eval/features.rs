//! The evaluation network's training, its files, and embedding images with it.
//!
//! The network learns the procedural attributes of the training split (never the held-out
//! split, which the scores use as reference), so its features know what a landscape is made of:
//! sky, sun or moon, ridges, lake, trees, fog. A model that gets those wrong moves the
//! embedding, which is what a quality score should see.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::EvalError;
use super::scores::Embeddings;
use crate::data::{ImageSource, LandscapeAttributes, Procedural, Split, rgb8_to_chw_f32};
use crate::eval::evalnet::{EvalNet, EvalNetConfig};

/// Targets per image: every attribute scaled to [0, 1] by its range, except the cyclic time of
/// day, which becomes (sin, cos) so that midnight is near midnight.
pub const TARGETS: usize = LandscapeAttributes::LEN + 1;

pub fn targets(attributes: &LandscapeAttributes) -> Vec<f32> {
    let values = attributes.to_vec();
    let ranges = LandscapeAttributes::ranges();
    let angle = 2.0 * core::f32::consts::PI * values[0];
    let mut out = vec![0.5 + 0.5 * angle.sin(), 0.5 + 0.5 * angle.cos()];
    out.extend(values.iter().zip(ranges).skip(1).map(|(v, (lo, hi))| (v - lo) / (hi - lo)));
    out
}

pub fn target_names() -> Vec<String> {
    let mut names = vec!["time_of_day_sin".to_string(), "time_of_day_cos".to_string()];
    names.extend(LandscapeAttributes::names().iter().skip(1).map(|s| s.to_string()));
    names
}

/// What `models/eval/manifest.json` records next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalManifest {
    pub format: u32,
    pub config: EvalNetConfig,
    pub image_size: usize,
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    /// Training images: indices `0..images` of the training split.
    pub images: u64,
    pub seconds: f64,
    /// Mean training loss (MSE of the scaled targets) over the first and the last tenth of
    /// the steps.
    pub loss_first: f64,
    pub loss_last: f64,
    /// Held-out R² per target (1 = perfect), on `validation_images` held-out images.
    #[serde(deserialize_with = "r2_values")]
    pub heldout_r2: Vec<(String, f64)>,
    pub validation_images: usize,
    /// The RBF bandwidth σ of the MMD, fixed once by the median heuristic on the reference
    /// set's embeddings (held-out indices `0..reference_images`).
    pub mmd_bandwidth: f64,
    pub reference_images: usize,
    /// The command that made it.
    pub command: String,
}

/// A target that is constant over the validation images has no R² (NaN), which JSON writes as
/// null: read it back as NaN, or a manifest `eval-net` wrote could not be loaded.
fn r2_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
    let pairs = Vec::<(String, Option<f64>)>::deserialize(d)?;
    Ok(pairs.into_iter().map(|(name, r2)| (name, r2.unwrap_or(f64::NAN))).collect())
}

impl EvalManifest {
    pub const FORMAT: u32 = 1;

    /// Fails with [`EvalError::ImageSize`] unless this network was trained at `model_side`.
    pub fn check_image_size(&self, model_side: usize) -> Result<(), EvalError> {
        if self.image_size == model_side {
            Ok(())
        } else {
            Err(EvalError::ImageSize { eval_net: self.image_size, model: model_side })
        }
    }
}

pub fn weights_path(dir: &Path) -> PathBuf {
    dir.join("evalnet.bpk")
}

pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}

/// The shipped evaluation network and its manifest, from a directory.
pub fn load(dir: &Path, device: &Device) -> Result<(EvalNet, EvalManifest), EvalError> {
    let path = manifest_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|e| EvalError::io(&path, e))?;
    let manifest: EvalManifest =
        serde_json::from_str(&text).map_err(|e| EvalError::Invalid(format!("{}: {e}", path.display())))?;
    if manifest.format != EvalManifest::FORMAT {
        return Err(EvalError::Invalid(format!("{}: unknown format {}", path.display(), manifest.format)));
    }
    let net = EvalNet::new(&manifest.config, device)
        .try_load_file(weights_path(dir))
        .map_err(|e| EvalError::Invalid(format!("{}: {e}", weights_path(dir).display())))?;
    Ok((net, manifest))
}

/// L2-normalised embeddings of RGB8 images, `batch` at a time.
pub fn embed(net: &EvalNet, images: &[Vec<u8>], size: u32, device: &Device, batch: usize) -> Embeddings {
    let mut values = Vec::with_capacity(images.len() * 128);
    let mut dim = 0;
    for chunk in images.chunks(batch.max(1)) {
        let x = Tensor::<4>::from_data(
            TensorData::new(rgb8_to_chw_f32(chunk, size), [chunk.len(), 3, size as usize, size as usize]),
            device,
        );
        let e = net.embed(x);
        dim = e.dims()[1];
        values.extend(e.into_data().iter::<f32>());
    }
    Embeddings { dim, values }
}

/// How to train the evaluation network.
#[derive(Debug, Clone)]
pub struct EvalTrainRequest {
    pub out: PathBuf,
    pub image_size: u32,
    pub steps: u64,
    pub batch: usize,
    pub lr: f64,
    pub validation_images: usize,
    pub reference_images: usize,
    pub device: Device,
    pub command: String,
    pub progress: bool,
}

fn batch_tensors(
    split: Split,
    source: &Procedural,
    indices: &[u64],
    device: &Device,
) -> Result<(Tensor<4>, Tensor<2>), EvalError> {
    let size = source.size() as usize;
    let images = source.batch(indices)?;
    let x = Tensor::<4>::from_data(
        TensorData::new(rgb8_to_chw_f32(&images, source.size()), [indices.len(), 3, size, size]),
        device,
    );
    let y: Vec<f32> = indices.iter().flat_map(|&i| targets(&split.attributes(i))).collect();
    let y = Tensor::<2>::from_data(TensorData::new(y, [indices.len(), TARGETS]), device);
    Ok((x, y))
}

/// Held-out R² per target.
fn heldout_r2(net: &EvalNet, size: u32, count: usize, device: &Device) -> Result<Vec<(String, f64)>, EvalError> {
    let source = Procedural::new(Split::HeldOut, size, 0)?;
    let (mut predicted, mut truth) = (Vec::new(), Vec::new());
    let indices: Vec<u64> = (0..count as u64).collect();
    for chunk in indices.chunks(256) {
        let (x, y) = batch_tensors(Split::HeldOut, &source, chunk, device)?;
        predicted.extend(net.forward(x).into_data().iter::<f32>());
        truth.extend(y.into_data().iter::<f32>());
    }
    Ok(target_names()
        .into_iter()
        .enumerate()
        .map(|(j, name)| {
            let column = |v: &[f32]| v.iter().skip(j).step_by(TARGETS).map(|&x| x as f64).collect::<Vec<_>>();
            let (p, t) = (column(&predicted), column(&truth));
            let mean = t.iter().sum::<f64>() / t.len().max(1) as f64;
            let total: f64 = t.iter().map(|v| (v - mean).powi(2)).sum();
            let residual: f64 = p.iter().zip(&t).map(|(a, b)| (a - b).powi(2)).sum();
            (name, if total > 0.0 { 1.0 - residual / total } else { f64::NAN })
        })
        .collect())
}

/// Trains the evaluation network on the training split and writes it, with its manifest, to
/// `request.out`. The MMD bandwidth is fixed here, once, on the reference set.
pub fn train_eval_net(request: &EvalTrainRequest) -> Result<EvalManifest, EvalError> {
    // Four stride-2 stages: a side the network halves evenly four times.
    if request.image_size % 16 != 0 {
        return Err(EvalError::Invalid(format!(
            "the evaluation network needs an image side that is a multiple of 16, got {}",
            request.image_size
        )));
    }
    if request.steps == 0 || request.batch == 0 || request.reference_images < 2 || request.validation_images == 0 {
        return Err(EvalError::Invalid("eval-net needs steps, batch and validation ≥ 1 and reference ≥ 2".into()));
    }
    let started = Instant::now();
    let device = request.device.clone().autodiff();
    device.seed(0);
    let config = EvalNetConfig::new(TARGETS);
    let mut net = EvalNet::new(&config, &device);
    let mut optim = AdamWConfig::new().with_weight_decay(1e-4).init();
    let source = Procedural::new(Split::Train, request.image_size, 0)?;
    let bar = request.progress.then(|| crate::progress::bar(request.steps, "eval-net"));
    let tenth = (request.steps / 10).max(1);
    let (mut first_sum, mut last_sum) = (0.0, 0.0);
    for step in 0..request.steps {
        let first = step * request.batch as u64;
        let indices: Vec<u64> = (first..first + request.batch as u64).collect();
        let (x, y) = batch_tensors(Split::Train, &source, &indices, &device)?;
        let loss = (net.forward(x) - y).powi_scalar(2).mean();
        // Cosine decay to 10 % after a short warm-up.
        let progress = step as f64 / request.steps.max(1) as f64;
        let lr = request.lr
            * ((step + 1) as f64 / 100.0).min(1.0)
            * (0.1 + 0.45 * (1.0 + (core::f64::consts::PI * progress).cos()));
        let first_tenth = step < tenth;
        let last_tenth = step >= request.steps.saturating_sub(tenth);
        if first_tenth || last_tenth || step % 50 == 0 {
            let value = loss.clone().into_scalar::<f32>() as f64;
            first_sum += if first_tenth { value } else { 0.0 };
            last_sum += if last_tenth { value } else { 0.0 };
            if let Some(bar) = &bar {
                bar.set_message(format!("loss {value:.5}"));
            }
        }
        if let Some(bar) = &bar {
            bar.set_position(step + 1);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(lr, net, grads);
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    let net = net.valid();
    let plain = request.device.clone();
    let r2 = heldout_r2(&net, request.image_size, request.validation_images, &plain)?;
    let reference = Procedural::new(Split::HeldOut, request.image_size, 0)?;
    let images = reference.batch(&(0..request.reference_images as u64).collect::<Vec<_>>())?;
    let embeddings = embed(&net, &images, request.image_size, &plain, 256);
    let manifest = EvalManifest {
        format: EvalManifest::FORMAT,
        config,
        image_size: request.image_size as usize,
        steps: request.steps,
        batch: request.batch,
        lr: request.lr,
        images: request.steps * request.batch as u64,
        seconds: started.elapsed().as_secs_f64(),
        loss_first: first_sum / tenth.min(request.steps).max(1) as f64,
        loss_last: last_sum / tenth.min(request.steps).max(1) as f64,
        heldout_r2: r2,
        validation_images: request.validation_images,
        mmd_bandwidth: super::scores::median_bandwidth(&embeddings),
        reference_images: request.reference_images,
        command: request.command.clone(),
    };
    std::fs::create_dir_all(&request.out).map_err(|e| EvalError::io(&request.out, e))?;
    net.save_file(weights_path(&request.out)).map_err(|e| EvalError::Invalid(e.to_string()))?;
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| EvalError::Invalid(e.to_string()))?;
    let path = manifest_path(&request.out);
    std::fs::write(&path, json + "\n").map_err(|e| EvalError::io(&path, e))?;
    Ok(manifest)
}
