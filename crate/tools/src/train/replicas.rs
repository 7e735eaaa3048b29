//! Data-parallel training: one model replica per device, each on its shard of the batch.
//!
//! The gradients are averaged by burn's distributed API (NCCL on CUDA), in one of two ways
//! ([`GradSync`]): every parameter marked distributed, so that burn's autodiff all-reduces each
//! gradient during the backward pass, or all gradients in one bucket ([`super::bucket`]) and
//! one `all_reduce` after it. Every replica then takes the same AdamW step, so they stay
//! identical and the first one stands for all (EMA, checkpoints). With one device this is plain
//! training.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::distributed::{DistributedConfig, DistributedContext, ReduceOperation, all_reduce};
use burn::tensor::{Device, Tensor, TensorData};

use super::batches::StepBatch;
use super::bucket::{flatten_gradients, unflatten_gradients};
use super::error::TrainError;
use super::stage_loss::{LossValue, StageLoss, stage_loss_parts};
use super::watchdog::{Watchdog, abort_hung_step};
use lediflow_core::model::precision::{Precision, autocast};
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};

/// Marks every parameter as distributed, so that autodiff syncs its gradient.
struct MarkDistributed;

impl ModuleMapper for MarkDistributed {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.set_distributed(id), mapper)
    }
}

/// How data-parallel replicas average their gradients.
///
/// The bucket is the default: on two H100s it scaled 1.92× against 1.72× per parameter
/// (BENCHMARKS.md, "Several GPUs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradSync {
    /// burn's autodiff all-reduces each parameter's gradient as soon as the backward pass has
    /// it (`Tensor::set_distributed`): one collective per parameter tensor, overlapped with the
    /// rest of the backward pass.
    PerParameter,
    /// All gradients flattened into one tensor and averaged by one `all_reduce` after the
    /// backward pass.
    #[default]
    Bucket,
}

impl core::str::FromStr for GradSync {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "per-parameter" => Ok(Self::PerParameter),
            "bucket" => Ok(Self::Bucket),
            other => Err(format!("unknown gradient sync '{other}' (per-parameter, bucket)")),
        }
    }
}

struct Replica {
    model: LeDiFlowModel,
    frozen: LeDiFlowModel,
    optim: ModuleOptimizer,
    device: Device,
    config: LeDiFlowConfig,
    sync: GradSync,
    /// Every replica's plain device, for [`GradSync::Bucket`]'s collective.
    peers: Vec<Device>,
    precision: Precision,
}

impl Replica {
    fn loss(&self, batch: &StepBatch) -> StageLoss {
        let side = self.config.image_size;
        let b = batch.draws.count;
        let y = Tensor::<4>::from_data(TensorData::new(batch.images.clone(), [b, 3, side, side]), &self.device);
        // The forward pass records the casts; the backward pass, later and outside this scope,
        // follows them.
        let _precision = autocast(self.precision);
        stage_loss_parts(&self.model, &self.frozen, &self.config, y, &batch.draws)
    }

    /// A forward and backward pass with the gradients thrown away, before the parameters are
    /// marked distributed. It compiles and loads every kernel of the step on this device while
    /// no collective is in flight: loading a CUDA module waits for the device, and a device
    /// spinning in an all-reduce that waits for a peer still loading its own modules never
    /// returns (seen on two H100s: one GPU at 100 %, the other idle, every thread blocked).
    /// The optimiser runs too, at learning rate 0 (AdamW then leaves every weight exactly as
    /// it was) and with its state put back afterwards, so training is unchanged.
    fn warm_up(&mut self, batch: &StepBatch) {
        let mut grads = GradientsParams::from_grads(self.loss(batch).total.backward(), &self.model);
        if self.sync == GradSync::Bucket {
            // The bucket's own kernels (concatenation, slices) load here too, without the collective.
            grads = self.through_bucket(grads, |bucket| bucket);
        }
        let saved = self.optim.clone();
        self.model = self.optim.step(0.0, self.model.clone(), grads);
        self.optim = saved;
        if self.sync == GradSync::PerParameter {
            self.model = self.model.clone().map(&mut MarkDistributed);
        }
    }

    /// One optimiser step on `batch`; the loss when `read_loss`.
    fn step(&mut self, batch: &StepBatch, lr: f64, read_loss: bool) -> Result<Option<LossValue>, String> {
        let loss = self.loss(batch);
        let value = if read_loss { Some(loss.read()?) } else { None };
        let mut grads = GradientsParams::from_grads(loss.total.backward(), &self.model);
        if self.sync == GradSync::Bucket && self.peers.len() > 1 {
            grads = self.through_bucket(grads, |bucket| {
                all_reduce(bucket, ReduceOperation::Mean, self.peers.clone()).resolve()
            });
        }
        self.model = self.optim.step(lr, self.model.clone(), grads);
        Ok(value)
    }

    /// `grads` flattened into one bucket, passed through `exchange`, and cut back out.
    fn through_bucket(
        &self,
        mut grads: GradientsParams,
        exchange: impl FnOnce(Tensor<1>) -> Tensor<1>,
    ) -> GradientsParams {
        match flatten_gradients(&self.model, &mut grads) {
            Some((bucket, layout)) => unflatten_gradients(&self.model, &exchange(bucket), &layout),
            None => grads,
        }
    }
}

struct Job {
    batch: StepBatch,
    lr: f64,
    read_loss: bool,
    warm_up: bool,
}

struct Worker {
    jobs: Option<Sender<Job>>,
    results: Receiver<Result<Option<LossValue>, String>>,
    handle: Option<JoinHandle<()>>,
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a training thread panicked".into())
}

impl Worker {
    fn start(mut replica: Replica) -> Self {
        let (jobs, job_receiver) = channel::<Job>();
        let (result_sender, results) = channel();
        let handle = std::thread::spawn(move || {
            while let Ok(job) = job_receiver.recv() {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    if job.warm_up {
                        replica.warm_up(&job.batch);
                        Ok(None)
                    } else {
                        replica.step(&job.batch, job.lr, job.read_loss)
                    }
                }))
                .map_err(panic_message)
                .and_then(|result| result);
                let failed = result.is_err();
                if result_sender.send(result).is_err() || failed {
                    return;
                }
            }
        });
        Self { jobs: Some(jobs), results, handle: Some(handle) }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop.
        self.jobs.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The model replicas of one training stage, the first in the caller's thread.
pub struct Replicas {
    main: Replica,
    workers: Vec<Worker>,
    warmed_up: bool,
    step_timeout: Option<std::time::Duration>,
    /// Started after the warm-up step (kernel compilation may take minutes).
    watchdog: Option<Watchdog>,
    // Dropped last: the workers' threads must end before the collectives' server closes.
    _context: Option<DistributedContext>,
}

impl Replicas {
    /// `devices` are the plain (non-autodiff) devices; `model` lives on the first one's
    /// autodiff device, `frozen` on the first plain device.
    pub fn new(
        model: LeDiFlowModel,
        frozen: LeDiFlowModel,
        optim: ModuleOptimizer,
        config: &LeDiFlowConfig,
        devices: &[Device],
        step_timeout: Option<std::time::Duration>,
        sync: GradSync,
        precision: Precision,
    ) -> Result<Self, TrainError> {
        let Some(first) = devices.first() else {
            return Err(TrainError::Invalid("training needs at least one device".into()));
        };
        if devices.len() == 1 {
            let main = Replica {
                model,
                frozen,
                optim,
                device: first.clone().autodiff(),
                config: config.clone(),
                sync,
                peers: devices.to_vec(),
                precision,
            };
            return Ok(Self {
                main,
                workers: Vec::new(),
                warmed_up: true,
                step_timeout: None,
                watchdog: None,
                _context: None,
            });
        }
        let autodiff: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
        let context =
            DistributedContext::init(autodiff.clone(), DistributedConfig { all_reduce_op: ReduceOperation::Mean });
        let mut replicas = devices.iter().zip(&autodiff).map(|(plain, device)| Replica {
            // Marked distributed after the warm-up step (`Replica::warm_up`).
            model: model.clone().fork(device),
            frozen: frozen.clone().to_device(plain),
            optim: optim.clone(),
            device: device.clone(),
            config: config.clone(),
            sync,
            peers: devices.to_vec(),
            precision,
        });
        let main = replicas.next().ok_or_else(|| TrainError::Invalid("no device".into()))?;
        let workers = replicas.map(Worker::start).collect();
        Ok(Self { main, workers, warmed_up: false, step_timeout, watchdog: None, _context: Some(context) })
    }

    pub fn devices(&self) -> usize {
        1 + self.workers.len()
    }

    /// The first replica's model: every replica holds the same weights.
    pub fn model(&self) -> &LeDiFlowModel {
        &self.main.model
    }

    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.main.optim
    }

    /// The trained model, once the stage is over (the worker threads end here).
    pub fn into_model(self) -> LeDiFlowModel {
        let Replicas { main, workers, watchdog, _context, .. } = self;
        drop(watchdog);
        drop(workers);
        main.model
    }

    /// Runs shard k of `batch` on replica k, the first here and the others in their threads.
    fn run_jobs(
        &mut self,
        batch: &StepBatch,
        lr: f64,
        read_loss: bool,
        warm_up: bool,
    ) -> Result<Vec<Option<LossValue>>, TrainError> {
        let n = self.devices();
        for (k, worker) in self.workers.iter().enumerate() {
            let job = Job { batch: batch.shard(k + 1, n), lr, read_loss, warm_up };
            let sent = worker.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
            if !sent {
                return Err(TrainError::Invalid(format!("the training thread of device {} stopped", k + 1)));
            }
        }
        let mine = batch.shard(0, n);
        let mut losses = vec![if warm_up {
            self.main.warm_up(&mine);
            None
        } else {
            self.main.step(&mine, lr, read_loss).map_err(TrainError::Device)?
        }];
        for (k, worker) in self.workers.iter().enumerate() {
            // A worker's step failed on its device (a kernel error or a panic), or its thread is gone.
            let result = worker.results.recv().map_err(|_| "its training thread stopped".to_string());
            losses.push(result.and_then(|r| r).map_err(|e| TrainError::Device(format!("device {}: {e}", k + 1)))?);
        }
        Ok(losses)
    }

    /// One step on the whole `batch`, split evenly across the devices; the mean loss when
    /// `read_loss`.
    pub fn step(&mut self, batch: StepBatch, lr: f64, read_loss: bool) -> Result<Option<LossValue>, TrainError> {
        let n = self.devices();
        if n == 1 {
            return self.main.step(&batch, lr, read_loss).map_err(TrainError::Device);
        }
        if batch.draws.count % n != 0 {
            return Err(TrainError::Invalid(format!(
                "the batch of {} images does not split evenly across {n} devices",
                batch.draws.count
            )));
        }
        if !self.warmed_up {
            self.run_jobs(&batch, lr, false, true)?;
            self.warmed_up = true;
            self.watchdog = self.step_timeout.map(|timeout| Watchdog::start(timeout, abort_hung_step(n)));
        }
        let losses = self.run_jobs(&batch, lr, read_loss, false)?;
        if let Some(watchdog) = &self.watchdog {
            watchdog.beat();
        }
        // Equal shards: the mean of their mean losses is the batch's mean loss.
        Ok(losses.into_iter().collect::<Option<Vec<_>>>().and_then(|values| LossValue::mean(&values)))
    }
}

#[cfg(test)]
mod tests {
    use super::GradSync;

    #[test]
    fn grad_sync_parses_its_two_names_and_refuses_others_by_name() {
        assert_eq!("bucket".parse(), Ok(GradSync::Bucket));
        assert_eq!("per-parameter".parse(), Ok(GradSync::PerParameter));
        assert_eq!(GradSync::default(), GradSync::Bucket);
        let err = "ring".parse::<GradSync>().expect_err("not a mode");
        assert!(err.contains("'ring'") && err.contains("per-parameter, bucket"), "{err}");
    }
}
