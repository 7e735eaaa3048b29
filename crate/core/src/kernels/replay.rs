//! One network evaluation recorded once and replayed: cubecl-wgpu's software graph
//! (`cubecl-wgpu` 0.11.3 `src/compute/graph.rs`), through cubecl's client (`start_capture`,
//! `stop_capture`, `Graph::replay`, `write`), on burn's wgpu tensors.
//!
//! A recording resolves every dispatch's pipeline, bindings, info uniform and bind group once; a
//! replay only re-encodes them. It reads and writes the very buffers the recorded evaluation
//! used, so an evaluation's input is copied into the recorded input buffer before each replay
//! ([`Captured::feed`], one dispatch of `shaders/copy.wgsl`, or [`Captured::write`] from the
//! host), and its output is copied out of the recorded one after it ([`Captured::replay`]), since
//! the next replay overwrites it and solvers keep earlier velocities.
//!
//! What the window allows (cubecl's rules): launches only. A host write inside it (an upload,
//! such as a first evaluation at a new time computing its condition) dooms the recording and
//! [`Captured::record`] returns the error; a read or sync is refused; an allocation must be served
//! from pages the warm-up run left, which is why [`Captured::record`] runs `f` once before the
//! window. Pages the recording touched are guarded for the graph's life: nothing else is ever
//! placed on them, so intermediates the recorded evaluation dropped stay the replay's own.

use burn::backend::Cube;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::CubeCount;
use burn::cubecl::bytes::Bytes;
use burn::cubecl::client::Graph;
use burn::cubecl::ir::settings::Dim3;
use burn::cubecl::prelude::KernelId;
use burn::tensor::{DType, Shape, Tensor};

use super::KernelError;
use super::wgsl::{WgslKernel, cube, launch};

/// A recorded evaluation `f(input) -> output` of `[B, C, H, W]` tensors, and the buffers it reads
/// and writes.
pub struct Captured {
    graph: Graph,
    /// The buffer the recording reads its input from.
    input: CubeTensor,
    /// The buffer the recording writes its output to.
    output: CubeTensor,
    /// The input's (and output's) shape.
    dims: [usize; 4],
    /// Our kernels' dispatches the recording holds, per shader ([`super::dispatches`]'s order):
    /// a replay counts them again, as it runs them again.
    dispatches: [u64; super::Shader::ALL.len()],
}

fn error(what: &str) -> impl Fn(burn::cubecl::server::ServerError) -> KernelError + '_ {
    move |e| KernelError(format!("{what}: {e}"))
}

impl Captured {
    /// Evaluates `f(x)` as usual (the warm-up, whose result is returned) and once more, then
    /// records `f` on a buffer of its own holding a copy of `x`. `None` where `x` is not an f32 tensor
    /// of burn's wgpu runtime; an error where cubecl refuses the recording (`f` uploads or reads
    /// inside it, or needs memory the warm-up did not leave).
    pub fn record(
        x: &Tensor<4>,
        mut f: impl FnMut(Tensor<4>) -> Tensor<4>,
    ) -> Option<Result<(Self, Tensor<4>), KernelError>> {
        let cx = cube(x.clone())?;
        if !super::wgsl_available(&x.device()) {
            return None;
        }
        let client = cx.client.clone();
        Some((|| {
            // Before the warm-up: it routes the allocations the recording will reuse.
            client.graph_prepare().map_err(error("graph_prepare"))?;
            let warm = f(x.clone());
            let dims = x.dims();
            let input = copy(&cx, dims).ok_or_else(|| KernelError("copy of the input refused".into()))?;
            // Once more, dropped: with the first output held, as it is in the window, this
            // leaves every allocation the recording makes free on the pages it may use.
            drop(f(Tensor::from_primitive::<Cube>(input.clone())));
            let before = super::dispatches();
            if let Err(e) = client.start_capture() {
                // A prepared capture that never opened holds the stream until closed.
                let _ = client.stop_capture();
                return Err(error("start_capture")(e));
            }
            let recorded = cube(f(Tensor::from_primitive::<Cube>(input.clone())));
            let graph = client.stop_capture().map_err(error("stop_capture"))?;
            let output = recorded.ok_or_else(|| KernelError("the recorded output is not an f32 wgpu tensor".into()))?;
            if output.meta.shape().num_elements() != dims.iter().product::<usize>() {
                return Err(KernelError("the recorded output's shape is not the input's".into()));
            }
            // Recorded launches were counted as they were made but did not run: a replay counts them.
            let after = super::dispatches();
            let dispatches: [u64; super::Shader::ALL.len()] = std::array::from_fn(|i| after[i].1 - before[i].1);
            for (counter, n) in super::DISPATCHES.iter().zip(dispatches) {
                counter.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
            }
            Ok((Self { graph, input, output, dims, dispatches }, warm))
        })())
    }

    /// The input's shape, which [`Captured::feed`] and [`Captured::write`] require.
    pub fn dims(&self) -> [usize; 4] {
        self.dims
    }

    /// Copies `x` into the recorded input buffer (one dispatch).
    pub fn feed(&self, x: &Tensor<4>) -> Result<(), KernelError> {
        if x.dims() != self.dims() {
            return Err(KernelError(format!("input {:?} fed to a recording of {:?}", x.dims(), self.dims())));
        }
        let cx = cube(x.clone()).ok_or_else(|| KernelError("the input is not an f32 wgpu tensor".into()))?;
        copy_into(&cx, &self.input).ok_or_else(|| KernelError("copy of the input refused".into()))
    }

    /// Writes `values` from the host into the recorded input buffer.
    pub fn write(&self, values: &[f32]) -> Result<(), KernelError> {
        let n: usize = self.dims().iter().product();
        if values.len() != n {
            return Err(KernelError(format!("{} values written to an input of {n}", values.len())));
        }
        self.input.client.write(&self.input.handle, Bytes::from_elems(values.to_vec()));
        Ok(())
    }

    /// Replays the recording on what was fed last, and returns a copy of its output.
    pub fn replay(&self) -> Result<Tensor<4>, KernelError> {
        self.replay_graph()?;
        let out = copy(&self.output, self.dims).ok_or_else(|| KernelError("copy of the output refused".into()))?;
        Ok(Tensor::from_primitive::<Cube>(out))
    }

    /// Replays the recording on what was fed last, and returns `base + scale · output`: the
    /// solver's update reads the recorded output in place (`shaders/solver_update.wgsl`), where
    /// [`Captured::replay`] and then the update would copy it first.
    pub fn replay_advanced(&self, base: &Tensor<4>, scale: f64) -> Result<Tensor<4>, KernelError> {
        if base.dims() != self.dims {
            return Err(KernelError(format!("a base of {:?} for a recording of {:?}", base.dims(), self.dims)));
        }
        self.replay_graph()?;
        // Read before the next replay overwrites it: launches on this thread's one stream are ordered.
        let output = Tensor::<4>::from_primitive::<Cube>(self.output.clone()).reshape(self.dims);
        super::solver_update(base, &[(&output, scale)])
            .ok_or_else(|| KernelError("the solver update does not run on this device".into()))
    }

    /// Replays the recorded dispatches and counts them.
    fn replay_graph(&self) -> Result<(), KernelError> {
        // Safety (cubecl's `Graph::replay` contract): every buffer the recording used is alive —
        // the input and output are held here, the weights and conditions by the network, and
        // the pages of the intermediates it dropped are guarded by the graph, which never hands
        // them out again; everything runs on this thread's one stream, so the feed, the replay
        // and the copy below are ordered.
        unsafe { self.graph.replay() }.map_err(error("replay"))?;
        let counters = &super::DISPATCHES;
        for (counter, n) in counters.iter().zip(self.dispatches) {
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// Our kernels' dispatches the recording holds.
    pub fn recorded_dispatches(&self) -> u64 {
        self.dispatches.iter().sum()
    }
}

enum CopyKernel {}

const WORKGROUP: usize = 256;

/// A new tensor of shape `dims` holding `x` (one dispatch).
fn copy(x: &CubeTensor, dims: [usize; 4]) -> Option<CubeTensor> {
    let n = dims.iter().product::<usize>();
    let handle = x.client.empty(n * 4);
    let out = CubeTensor::new_contiguous(x.client.clone(), x.device.clone(), Shape::new(dims), handle, DType::F32);
    copy_into(x, &out)?;
    Some(out)
}

/// `out = x`, both contiguous f32 of one length (one dispatch).
fn copy_into(x: &CubeTensor, out: &CubeTensor) -> Option<()> {
    let n = x.meta.shape().num_elements();
    if out.meta.shape().num_elements() != n {
        return None;
    }
    let (across, down) = super::rows_of_workgroups(n.div_ceil(WORKGROUP), super::MAX_WORKGROUPS)?;
    let kernel = WgslKernel {
        id: KernelId::new::<CopyKernel>(),
        shader: super::Shader::Copy,
        source: include_str!("../../../../shaders/copy.wgsl"),
        entry: "copy",
        workgroup: Dim3::new_1d(WORKGROUP as u32),
    };
    launch(kernel, CubeCount::Static(across, down, 1), &[x, out], [u32::try_from(n).ok()?, 0, 0, 0]);
    Some(())
}
