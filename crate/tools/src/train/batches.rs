//! Training batches, prepared on a background thread while the device computes.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use super::draws::{DrawSpec, Draws};
use super::settings::DataSpec;
use crate::data::{DataError, FolderOptions, ImageFolder, ImageSource, Procedural, Split, rgb8_to_chw_f32};

/// Opens the image source a run trains on.
pub fn open_source(spec: &DataSpec, size: u32, seed: u64) -> Result<Arc<dyn ImageSource>, DataError> {
    Ok(match spec {
        DataSpec::Procedural { .. } => Arc::new(Procedural::new(Split::Train, size, 0)?),
        DataSpec::Folder { path, hflip } => {
            let options = FolderOptions { hflip: *hflip, shuffle_seed: Some(seed), ..FolderOptions::default() };
            Arc::new(ImageFolder::open(std::path::Path::new(path), size, options)?)
        }
    })
}

/// The dataset indices of step `step`: consecutive, so that a resumed run sees exactly the
/// images an uninterrupted one would.
pub fn batch_indices(spec: &DataSpec, step: u64, batch: usize) -> Vec<u64> {
    let start = step * batch as u64;
    (start..start + batch as u64)
        .map(|i| match spec {
            DataSpec::Procedural { repeat: Some(n) } if *n > 0 => i % n,
            _ => i,
        })
        .collect()
}

/// One training step's input: the images and the stage's random draws.
pub struct StepBatch {
    /// `[B, 3, S, S]` values in [-1, 1].
    pub images: Vec<f32>,
    pub draws: Draws,
}

impl StepBatch {
    /// Shard `k` of `n` equal shards, for data-parallel training.
    pub fn shard(&self, k: usize, n: usize) -> StepBatch {
        let per = self.images.len() / self.draws.count.max(1);
        let count = self.draws.count / n;
        StepBatch {
            images: self.images[k * count * per..(k + 1) * count * per].to_vec(),
            draws: self.draws.shard(k, n),
        }
    }
}

/// The batches of steps `start..end`, in order, prepared on a background thread.
pub struct Prefetcher {
    receiver: Receiver<Result<StepBatch, DataError>>,
    worker: Option<JoinHandle<()>>,
}

impl Prefetcher {
    pub fn start(
        source: Arc<dyn ImageSource>,
        spec: DataSpec,
        draws: DrawSpec,
        batch: usize,
        start: u64,
        end: u64,
    ) -> Self {
        let (sender, receiver) = sync_channel(3);
        let worker = std::thread::spawn(move || {
            for step in start..end {
                let indices = batch_indices(&spec, step, batch);
                let item = source.batch(&indices).map(|images| StepBatch {
                    images: rgb8_to_chw_f32(&images, source.size()),
                    draws: draws.draw(step, 0, batch),
                });
                if sender.send(item).is_err() {
                    return;
                }
            }
        });
        Self { receiver, worker: Some(worker) }
    }

    pub fn next(&self) -> Result<StepBatch, DataError> {
        self.receiver.recv().unwrap_or_else(|_| Err(DataError::InvalidArgument("the data loader stopped".into())))
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Unblock the worker (its next send fails) before joining it.
        let (_, dummy) = sync_channel(0);
        drop(core::mem::replace(&mut self.receiver, dummy));
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
