//! What the wasm API returns: plain serde structs, written to JavaScript objects by
//! `bindings.rs` (serde-wasm-bindgen) and described to TypeScript by `typescript.rs`.
//!
//! The pipeline's and the loader's own types stay free of the browser's spelling: each is
//! converted here field by field, so that a field added there is a compile error here.

use serde::{Serialize, Serializer};

use super::WebError;
use lediflow_core::kernels::{Shader, to_rgba8_packed};
use lediflow_core::model_io::DequantizeCounts;
use lediflow_core::pipeline::{Clock, Generated};
use lediflow_format::Progress;

/// The backend a generator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Webgpu,
    Cpu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Webgpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }
}

/// `load(chunk)`'s answer: how far the weight file has streamed in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LoadProgress {
    pub bytes_received: u64,
    /// `null` until known (from the file's header).
    pub total_bytes: Option<u64>,
    pub tensors_ready: usize,
    pub tensors_total: Option<usize>,
}

impl From<Progress> for LoadProgress {
    fn from(p: Progress) -> Self {
        let Progress { bytes_received, total_bytes, tensors_ready, tensors_total } = p;
        Self { bytes_received, total_bytes, tensors_ready, tensors_total }
    }
}

/// How many tensors of a file became f32 where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Dequantized {
    /// By our WGSL kernel (`shaders/dequantize.wgsl`, WebGPU).
    pub gpu: usize,
    /// By burn's quantized tensors.
    pub burn: usize,
    /// In the wasm.
    pub host: usize,
    /// Stored as f16 or f32.
    pub unquantized: usize,
}

impl From<DequantizeCounts> for Dequantized {
    fn from(c: DequantizeCounts) -> Self {
        let DequantizeCounts { gpu, burn, host, unquantized } = c;
        Self { gpu, burn, host, unquantized }
    }
}

/// `finishLoad()`'s answer: the model after the file joined it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LoadedFile {
    pub name: String,
    pub image_size: usize,
    /// Every network loaded so far (all files).
    pub networks: Vec<String>,
    /// SHA-256 of the last weight file, every byte of it (header and configuration included), as
    /// the wasm computed it while the file streamed in: what a manifest's `sha256` pins, and what
    /// `sha256sum` prints for the file.
    pub sha256: String,
    /// SHA-256 of the last file's data buffer alone (the `.ldf` header's own `sha256`).
    pub data_sha256: String,
    /// Whether the baseline flow model is loaded (`method: 'baseline'`).
    pub baseline: bool,
    /// How many tensors of the last file became f32 where.
    pub dequantized: Dequantized,
}

/// Function evaluations spent per network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Nfe {
    pub latent: usize,
    pub decoder: usize,
    pub encoder: usize,
    pub flow: usize,
}

impl From<lediflow_core::pipeline::Nfe> for Nfe {
    fn from(n: lediflow_core::pipeline::Nfe) -> Self {
        let lediflow_core::pipeline::Nfe { latent, decoder, encoder, flow } = n;
        Self { latent, decoder, encoder, flow }
    }
}

/// Wall-clock milliseconds per stage, each measured up to a completed readback of its output;
/// `null` with `stageTimes: false`, which waits for nothing but the images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct StageTimes {
    pub latent_ms: Option<f64>,
    /// With inpainting, the encoder's time too: the runtime times them as one stage.
    pub decoder_ms: Option<f64>,
    pub flow_ms: Option<f64>,
    /// The stages' sum; with `stageTimes: false`, the whole call's time up to its images' readback
    /// (the RGBA8 conversion included).
    pub total_ms: f64,
}

impl StageTimes {
    fn of(times: Option<lediflow_core::pipeline::StageTimes>, whole_call_ms: f64) -> Self {
        match times {
            Some(t) => Self {
                latent_ms: Some(t.latent_ms),
                decoder_ms: Some(t.decoder_ms),
                flow_ms: Some(t.flow_ms),
                total_ms: t.total_ms(),
            },
            None => Self { latent_ms: None, decoder_ms: None, flow_ms: None, total_ms: whole_call_ms },
        }
    }
}

/// `sample()`, `inpaint()` and `interpolate()`'s answer: the images as one RGBA8 buffer, image
/// after image, with what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GenerateOutput {
    pub width: usize,
    pub height: usize,
    pub count: usize,
    #[serde(serialize_with = "as_bytes")]
    #[cfg_attr(test, ts(type = "Uint8Array"))]
    pub pixels: Vec<u8>,
    pub nfe: Nfe,
    pub times: StageTimes,
    pub backend: Backend,
    /// How many times our WGSL kernels (`shaders/`) were dispatched during the call, previews and
    /// the RGBA8 conversion included; 0 on the CPU.
    pub dispatches: u64,
}

/// Bytes as bytes (a `Uint8Array` in JavaScript), not as a sequence of numbers.
fn as_bytes<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Our WGSL kernels' dispatches so far, all kernels together.
pub fn dispatches_so_far() -> u64 {
    lediflow_core::kernels::dispatches().iter().map(|(_, n)| n).sum()
}

impl GenerateOutput {
    /// Converts the images to RGBA8 (`shaders/to_rgba8.wgsl` on WebGPU); `call` is when the call
    /// began: [`dispatches_so_far`] and the clock's time.
    pub async fn render(generated: Generated, backend: Backend, call: CallStart<'_>) -> Result<Self, WebError> {
        let Generated { images, nfe, times } = generated;
        let [count, _, side, _] = images.dims();
        let pixels = to_rgba8_packed(images).await.map_err(|e| WebError::from_backend(e.0))?;
        Ok(Self {
            width: side,
            height: side,
            count,
            pixels,
            nfe: nfe.into(),
            times: StageTimes::of(times, call.clock.now_ms() - call.ms),
            backend,
            dispatches: dispatches_so_far() - call.dispatches,
        })
    }
}

/// Where a call began, for its cost: our kernels' dispatches and the clock's time then.
pub struct CallStart<'a> {
    pub clock: &'a dyn Clock,
    pub ms: f64,
    pub dispatches: u64,
}

impl<'a> CallStart<'a> {
    pub fn now(clock: &'a dyn Clock) -> Self {
        Self { clock, ms: clock.now_ms(), dispatches: dispatches_so_far() }
    }
}

/// `checkKernels()`'s answer: the largest relative error of each of our WGSL kernels that the
/// networks run, against its host reference on this device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct KernelErrors {
    pub matmul: f64,
    pub row_norm: f64,
    pub dequantize: f64,
    pub attention: f64,
    pub fourier: f64,
    pub solver_update: f64,
    pub composite: f64,
    pub prior_draw: f64,
}

/// `kernelDispatches()`'s answer: how many times each of our WGSL kernels has been dispatched
/// by this wasm instance (all 0 on the CPU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct KernelDispatches {
    pub matmul: u64,
    pub row_norm: u64,
    pub dequantize: u64,
    pub to_rgba8: u64,
    pub composite: u64,
    pub attention: u64,
    pub fourier: u64,
    pub solver_update: u64,
    pub copy: u64,
    pub prior_draw: u64,
}

impl KernelDispatches {
    pub fn so_far() -> Self {
        let mut counts = Self::default();
        for (shader, n) in lediflow_core::kernels::dispatches() {
            *match shader {
                Shader::Matmul => &mut counts.matmul,
                Shader::RowNorm => &mut counts.row_norm,
                Shader::Dequantize => &mut counts.dequantize,
                Shader::ToRgba8 => &mut counts.to_rgba8,
                Shader::Composite => &mut counts.composite,
                Shader::Attention => &mut counts.attention,
                Shader::Fourier => &mut counts.fourier,
                Shader::SolverUpdate => &mut counts.solver_update,
                Shader::Copy => &mut counts.copy,
                Shader::PriorDraw => &mut counts.prior_draw,
            } = n;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};
    use serde_json::{Value, json};

    use super::*;

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        keys
    }

    #[test]
    fn a_rendered_result_is_rgba8_with_camel_case_metadata() {
        let images = Tensor::<4>::from_data(TensorData::new(vec![1.0f32; 2 * 3 * 2 * 2], [2, 3, 2, 2]), &cpu());
        let generated = |staged: bool| Generated {
            images: images.clone(),
            nfe: lediflow_core::pipeline::Nfe { latent: 16, decoder: 1, encoder: 0, flow: 4 },
            times: staged.then_some(lediflow_core::pipeline::StageTimes {
                latent_ms: 1.0,
                decoder_ms: 2.0,
                flow_ms: 4.0,
            }),
        };
        let clock = TickingClock::default();
        let render = |staged| {
            pollster::block_on(GenerateOutput::render(generated(staged), Backend::Cpu, CallStart::now(&clock)))
        };
        let output = render(true).unwrap();
        assert_eq!((output.width, output.height, output.count, output.pixels.len()), (2, 2, 2, 2 * 2 * 2 * 4));
        assert!(output.pixels.iter().all(|&p| p == 255));
        let value = serde_json::to_value(&output).unwrap();
        assert_eq!(keys(&value), ["backend", "count", "dispatches", "height", "nfe", "pixels", "times", "width"]);
        assert_eq!(value["times"], json!({"latentMs": 1.0, "decoderMs": 2.0, "flowMs": 4.0, "totalMs": 7.0}));
        assert_eq!(value["nfe"], json!({"latent": 16, "decoder": 1, "encoder": 0, "flow": 4}));
        assert_eq!(value["backend"], "cpu");
        // Stages not timed (`stageTimes: false`): unknown, and the total is the whole call's.
        let value = serde_json::to_value(render(false).unwrap()).unwrap();
        assert_eq!(value["times"], json!({"latentMs": null, "decoderMs": null, "flowMs": null, "totalMs": 10.0}));
    }

    /// 10 ms later at every reading.
    #[derive(Default)]
    struct TickingClock(std::cell::Cell<f64>);

    impl Clock for TickingClock {
        fn now_ms(&self) -> f64 {
            let now = self.0.get();
            self.0.set(now + 10.0);
            now
        }
    }

    #[test]
    fn kernel_dispatches_are_named_as_the_kernels_name_themselves() {
        let value = serde_json::to_value(KernelDispatches::so_far()).unwrap();
        let mut names: Vec<&str> = Shader::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        assert_eq!(keys(&value), names);
    }

    #[test]
    fn unknown_totals_are_null() {
        let progress = LoadProgress::from(Progress {
            bytes_received: 8,
            total_bytes: None,
            tensors_ready: 0,
            tensors_total: None,
        });
        let value = serde_json::to_value(progress).unwrap();
        assert_eq!(value, json!({"bytesReceived": 8, "totalBytes": null, "tensorsReady": 0, "tensorsTotal": null}));
    }

    fn cpu() -> burn::tensor::Device {
        lediflow_core::testing::cpu()
    }
}
