//! wasm-bindgen glue: JavaScript values in, [`super`]'s Rust types through, `Promise`s out.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::options::{BackendChoice, CreateRequest, GenerateRequest, InterpolateRequest, LIMITS, inpaint_inputs, read};
use super::results::{Backend, CallStart, GenerateOutput, KernelDispatches, KernelErrors, LoadProgress, LoadedFile};
use super::{WebError, check_file_hash};
use lediflow_core::kernels::to_rgba8_packed;
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
use lediflow_core::model_io::ModelLoader;
use lediflow_core::pipeline::{Clock, Method, NoPreview, Pipeline, PipelineError, StepObserver, StepState, from_rgb8};
use lediflow_format::{FileHasher, Network};

// The types the attributes below name: generated from the Rust types (`typescript.rs`).
#[wasm_bindgen(typescript_custom_section)]
const CONTRACT: &str = include_str!("../../../web/src/contract.ts");

#[wasm_bindgen(typescript_custom_section)]
const CALLS: &str = r#"
/** Called after every solver step with the current images as RGBA8, image after image; throwing stops the call. */
export type OnStep = (step: number, steps: number, pixels: Uint8Array) => void;
export type SampleCall = Partial<GenerateRequest> & { onStep?: OnStep };
export type InpaintCall = SampleCall & { image: Uint8Array | Uint8ClampedArray; mask: Uint8Array | Uint8ClampedArray };
export type InterpolateCall = Partial<InterpolateRequest>;
"#;

#[wasm_bindgen]
extern "C" {
    // `performance` exists in windows and workers alike.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

struct PerformanceClock;

impl Clock for PerformanceClock {
    fn now_ms(&self) -> f64 {
        performance_now()
    }
}

fn thrown(e: WebError) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(&format!("LeDiFlow{}Error", e.kind()));
    let _ = Reflect::set(&error, &"kind".into(), &e.kind().into());
    error.into()
}

/// A result as a plain object (`null` for `None`, a `Uint8Array` for bytes).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, WebError> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
    value.serialize(&serializer).map_err(|e| WebError::Backend(format!("cannot build the result: {e}")))
}

/// The options object as serde reads it: `undefined` and `null` are `{}`, and an entry whose value
/// is `undefined` is left out (JavaScript's way of leaving an option unset).
fn options_object(value: &JsValue) -> Result<JsValue, WebError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Object::new().into());
    }
    if !value.is_object() {
        return Err(WebError::Options("options must be an object".into()));
    }
    let defined = Object::new();
    for entry in Object::entries(value.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let value = entry.get(1);
        if !value.is_undefined() {
            let _ = Reflect::set(&defined, &entry.get(0), &value);
        }
    }
    Ok(defined.into())
}

fn deserializer(object: &JsValue) -> serde_wasm_bindgen::Deserializer {
    object.clone().into()
}

fn bytes_field(options: &JsValue, key: &str) -> Result<Vec<u8>, WebError> {
    let value = Reflect::get(options, &key.into()).unwrap_or(JsValue::UNDEFINED);
    if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::Uint8ClampedArray>() {
        Ok(Uint8Array::new(&value).to_vec())
    } else {
        Err(WebError::Options(format!("'{key}' must be a Uint8Array or Uint8ClampedArray")))
    }
}

fn function_field(options: &JsValue, key: &str) -> Option<Function> {
    Reflect::get(options, &key.into()).ok().and_then(|v| v.dyn_into::<Function>().ok())
}

/// Calls `onStep(step, steps, pixels)` after every solver step with the current state as RGBA8.
struct JsPreview {
    callback: Function,
}

impl StepObserver for JsPreview {
    async fn on_step(&mut self, step: usize, steps: usize, x: &StepState<'_>) -> Result<(), PipelineError> {
        let pixels = to_rgba8_packed(x.images()).await.map_err(|e| PipelineError::Backend(e.0))?;
        let array = Uint8Array::from(pixels.as_slice());
        self.callback
            .call3(&JsValue::NULL, &((step + 1) as u32).into(), &(steps as u32).into(), &array)
            .map_err(|e| PipelineError::Options(format!("onStep threw: {e:?}")))?;
        Ok(())
    }
}

struct Loaded {
    config: LeDiFlowConfig,
    model: LeDiFlowModel,
    networks: std::collections::BTreeSet<Network>,
}

impl Loaded {
    fn require(&self, method: Method) -> Result<(), WebError> {
        if method == Method::Baseline && !self.networks.contains(&Network::Baseline) {
            return Err(WebError::State("the baseline network is not loaded: stream its weight file first".into()));
        }
        Ok(())
    }

    /// The pipeline under the browser's limits.
    fn pipeline(&self, device: &Device) -> Pipeline<'_> {
        let mut pipeline = Pipeline::new(&self.model, &self.config, device.clone());
        pipeline.limits = LIMITS;
        pipeline
    }
}

/// A weight file being streamed: the parser, and the SHA-256 of every byte it was given.
struct Streaming {
    loader: ModelLoader,
    file_hash: FileHasher,
}

struct Inner {
    device: Device,
    backend: Backend,
    adapter: String,
    fallback_reason: Option<String>,
    dequantize: lediflow_core::model_io::Dequantize,
    loader: RefCell<Option<Streaming>>,
    loaded: RefCell<Option<Rc<Loaded>>>,
    disposed: RefCell<bool>,
}

impl Inner {
    fn alive(&self) -> Result<(), WebError> {
        if *self.disposed.borrow() {
            return Err(WebError::State("the generator was disposed".into()));
        }
        Ok(())
    }

    fn model(&self) -> Result<Rc<Loaded>, WebError> {
        self.alive()?;
        self.loaded
            .borrow()
            .clone()
            .ok_or_else(|| WebError::State("no model: call load() and finishLoad() first".into()))
    }
}

/// One WebGPU device per wasm instance: burn registers its runtime once.
async fn webgpu_device() -> Result<(Device, String), WebError> {
    #[cfg(feature = "webgpu")]
    {
        thread_local! {
            static CACHED: RefCell<Option<(Device, String)>> = const { RefCell::new(None) };
        }
        if let Some(cached) = CACHED.with(|c| c.borrow().clone()) {
            return Ok(cached);
        }
        let (device, setup) =
            Device::wgpu_options().init_with_setup_async().await.map_err(|e| WebError::NoAdapter(e.to_string()))?;
        let info = setup.adapter.get_info();
        // SwiftShader and lavapipe run workgroups on CPU threads: our matmul tiles for that.
        lediflow_core::kernels::set_cpu_device(info.device_type == burn::cubecl::wgpu::wgpu::DeviceType::Cpu);
        let name = if info.name.is_empty() { format!("{:?}", info.backend) } else { info.name.clone() };
        CACHED.with(|c| *c.borrow_mut() = Some((device.clone(), name.clone())));
        Ok((device, name))
    }
    #[cfg(not(feature = "webgpu"))]
    Err(WebError::NoAdapter("this build has no WebGPU support".into()))
}

/// Runs `call` as a `Promise` whose rejection is a typed error.
fn promise(call: impl Future<Output = Result<JsValue, WebError>> + 'static) -> Promise {
    future_to_promise(async move { call.await.map_err(thrown) })
}

#[wasm_bindgen]
pub struct Generator {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Generator {
    /// `Generator.create({ backend?, dequantize? })`: `backend` `'auto'` (default) takes WebGPU
    /// when an adapter exists and the CPU otherwise; `dequantize` picks where int8 weights become
    /// f32 at load: the host (default, measured fastest), our WGSL kernel (WebGPU only) or burn's
    /// quantized tensors; all give the same bits.
    pub async fn create(
        #[wasm_bindgen(unchecked_param_type = "Partial<CreateRequest>")] options: JsValue,
    ) -> Result<Generator, JsValue> {
        console_error_panic_hook::set_once();
        let request: CreateRequest = options_object(&options).and_then(|o| read(deserializer(&o))).map_err(thrown)?;
        let (device, backend, adapter, fallback_reason) = match request.backend {
            BackendChoice::Cpu => (cpu_device().map_err(thrown)?, Backend::Cpu, String::new(), None),
            BackendChoice::Webgpu => {
                let (device, name) = webgpu_device().await.map_err(thrown)?;
                (device, Backend::Webgpu, name, None)
            }
            // A module with only one backend answers 'auto' with it, or with its error: the
            // worker then loads the other module (web/src/worker.ts).
            BackendChoice::Auto => match webgpu_device().await {
                Ok((device, name)) => (device, Backend::Webgpu, name, None),
                Err(e) if cfg!(feature = "cpu") => {
                    (cpu_device().map_err(thrown)?, Backend::Cpu, String::new(), Some(e.to_string()))
                }
                Err(e) => return Err(thrown(e)),
            },
        };
        let inner = Inner {
            device,
            backend,
            adapter,
            fallback_reason,
            dequantize: request.dequantize,
            loader: RefCell::new(None),
            loaded: RefCell::new(None),
            disposed: RefCell::new(false),
        };
        Ok(Generator { inner: Rc::new(inner) })
    }

    /// `'webgpu'` or `'cpu'`.
    #[wasm_bindgen(getter, unchecked_return_type = "Backend")]
    pub fn backend(&self) -> String {
        self.inner.backend.as_str().into()
    }

    /// The WebGPU adapter's name, empty on the CPU.
    #[wasm_bindgen(getter, js_name = adapterName)]
    pub fn adapter_name(&self) -> String {
        self.inner.adapter.clone()
    }

    /// Whether our WGSL kernels (`shaders/`) run on this device; `false` means their fallbacks
    /// (host conversion, burn tensor ops) do.
    #[wasm_bindgen(getter, js_name = wgslKernels)]
    pub fn wgsl_kernels(&self) -> bool {
        lediflow_core::kernels::wgsl_available(&self.inner.device)
    }

    /// Checks our WGSL kernels that the networks run (`shaders/matmul.wgsl`,
    /// `shaders/row_norm.wgsl`, `shaders/dequantize.wgsl`, `shaders/attention.wgsl`,
    /// `shaders/fourier.wgsl`, `shaders/solver_update.wgsl`, `shaders/composite.wgsl`,
    /// `shaders/prior_draw.wgsl`) against their host references on this generator's device: resolves to the largest relative error of each (for the browser tests).
    #[wasm_bindgen(js_name = checkKernels, unchecked_return_type = "Promise<KernelErrors>")]
    pub fn check_kernels(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let device = &inner.device;
            let fail = |e: lediflow_core::kernels::KernelError| WebError::from_backend(e.0);
            let errors = KernelErrors {
                matmul: lediflow_core::kernels::check_matmul(device).await.map_err(fail)? as f64,
                row_norm: lediflow_core::kernels::check_row_norm(device).await.map_err(fail)? as f64,
                dequantize: lediflow_core::kernels::check_dequantize(device).await.map_err(fail)? as f64,
                attention: lediflow_core::kernels::check_attention(device).await.map_err(fail)? as f64,
                fourier: lediflow_core::kernels::check_fourier(device).await.map_err(fail)? as f64,
                solver_update: lediflow_core::kernels::check_solver_update(device).await.map_err(fail)? as f64,
                composite: lediflow_core::kernels::check_composite(device).await.map_err(fail)? as f64,
                prior_draw: lediflow_core::kernels::check_prior_draw(device).await.map_err(fail)? as f64,
            };
            to_js(&errors)
        })
    }

    /// How many times each of our WGSL kernels has been dispatched by this wasm instance (all 0 on
    /// the CPU), the browser tests' proof that our WGSL ran, not a fallback.
    #[wasm_bindgen(js_name = kernelDispatches, unchecked_return_type = "KernelDispatches")]
    pub fn kernel_dispatches(&self) -> Result<JsValue, JsValue> {
        to_js(&KernelDispatches::so_far()).map_err(thrown)
    }

    /// From now on the loaded samplers' networks record each (time, shape) evaluation once and
    /// replay it after, re-encoding the recorded dispatches instead of launching them (cubecl's
    /// software graph, `lediflow_core::model::replayed`); `false` turns it off and drops the
    /// recordings. Off by default (the worker turns it on while calls ask for `replay`); nothing
    /// is recorded on the CPU. The images are the same.
    #[wasm_bindgen(js_name = recordEvaluations)]
    pub fn record_evaluations(&self, on: bool) -> Result<(), JsValue> {
        let current = self.inner.model().map_err(thrown)?;
        let mut model = current.model.clone();
        model.record_evaluations(on);
        let next = Loaded { config: current.config.clone(), model, networks: current.networks.clone() };
        *self.inner.loaded.borrow_mut() = Some(Rc::new(next));
        Ok(())
    }

    /// Why `'auto'` fell back to the CPU, if it did.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.inner.fallback_reason.clone()
    }

    /// Feeds the next chunk of a weight file (any size); returns how far the file has come (totals
    /// `null` until the header has arrived). A bad file throws `BadWeights` at the first byte that
    /// shows it. After `dispose()` it throws `InvalidState`.
    #[wasm_bindgen(unchecked_return_type = "LoadProgress")]
    pub fn load(&self, chunk: &[u8]) -> Result<JsValue, JsValue> {
        self.inner.alive().map_err(thrown)?;
        let mut slot = self.inner.loader.borrow_mut();
        let streaming = slot.get_or_insert_with(|| Streaming {
            loader: ModelLoader::default().with_dequantize(self.inner.dequantize),
            file_hash: FileHasher::new(),
        });
        let progress = match streaming.loader.push(chunk) {
            Ok(p) => p,
            Err(e) => {
                *slot = None;
                return Err(thrown(e.into()));
            }
        };
        streaming.file_hash.update(chunk);
        to_js(&LoadProgress::from(progress)).map_err(thrown)
    }

    /// Drops a half-streamed file (a download that broke off), so that the next `load()` starts a
    /// new one. The loaded model is untouched.
    #[wasm_bindgen(js_name = cancelLoad)]
    pub fn cancel_load(&self) {
        self.inner.loader.borrow_mut().take();
    }

    /// `finishLoad(expectedSha256?)`: checks the whole file's SHA-256 (every byte `load()` got)
    /// against `expectedSha256`, the manifest's, when given; then the data hash, the
    /// configuration and the tensors; only then builds the networks and makes them the model's.
    /// A file that fails any check throws `BadWeights` and leaves the model as it was. Resolves
    /// to the model as it is now (`LoadedFile`: its networks, the file's hashes, where its
    /// tensors were dequantized). After `dispose()` it throws `InvalidState` and installs nothing.
    #[wasm_bindgen(js_name = finishLoad, unchecked_return_type = "Promise<LoadedFile>")]
    pub fn finish_load(&self, expected_sha256: Option<String>) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let streaming = inner.loader.borrow_mut().take();
            inner.alive()?;
            let Streaming { loader, file_hash } =
                streaming.ok_or_else(|| WebError::State("no weights were streamed: call load(chunk) first".into()))?;
            let file_sha256 = file_hash.finish_hex();
            check_file_hash(expected_sha256.as_deref(), &file_sha256)?;
            let previous = inner.loaded.borrow().clone();
            let loaded = match &previous {
                // A second file (e.g. the baseline, fetched only when the comparison is
                // opened) adds its networks to the loaded model of the same configuration.
                Some(base) => loader.finish_into(base.model.clone(), &base.config, &inner.device),
                None => loader.finish(&inner.device),
            }?;
            let mut networks = loaded.networks.clone();
            if let Some(base) = &previous {
                networks.extend(base.networks.iter().copied());
            }
            for network in [Network::Latent, Network::Decoder, Network::Flow] {
                if !networks.contains(&network) {
                    let absent = lediflow_core::model_io::LoadError::NetworkAbsent(network.as_str().into());
                    return Err(WebError::Weights(absent));
                }
            }
            let info = LoadedFile {
                name: loaded.config.name.clone(),
                image_size: loaded.config.image_size,
                networks: networks.iter().map(|n| n.as_str().to_string()).collect(),
                sha256: file_sha256,
                data_sha256: loaded.header.sha256.clone(),
                baseline: networks.contains(&Network::Baseline),
                dequantized: loaded.dequantized.into(),
            };
            let mut model = loaded.model;
            // Once per load: the norms' modulation weights side by side (issue 22's dispatches).
            model.prepare_for_inference();
            let model = Loaded { config: loaded.config, model, networks };
            // Nothing awaits between the checks above and here, but a disposed generator must
            // never hold a model, whatever runs in between one day.
            inner.alive()?;
            *inner.loaded.borrow_mut() = Some(Rc::new(model));
            to_js(&info)
        })
    }

    /// `sample({ seed, count, solver, steps, method, latentSteps, latentSolver, priorStdScale,
    /// onStep })`: image `k` uses seed `seed + k`.
    #[wasm_bindgen(unchecked_return_type = "Promise<GenerateOutput>")]
    pub fn sample(&self, #[wasm_bindgen(unchecked_param_type = "SampleCall")] options: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let object = options_object(&options)?;
            let request = GenerateRequest::read(|| deserializer(&object))?;
            let seeds = request.seeds()?;
            let loaded = inner.model()?;
            loaded.require(request.options.method)?;
            let pipeline = loaded.pipeline(&inner.device);
            let call = CallStart::now(&PerformanceClock);
            let generated = match function_field(&object, "onStep") {
                Some(callback) => {
                    pipeline.sample(&seeds, &request.options, &PerformanceClock, &mut JsPreview { callback }).await?
                }
                None => pipeline.sample(&seeds, &request.options, &PerformanceClock, &mut NoPreview).await?,
            };
            to_js(&GenerateOutput::render(generated, inner.backend, call).await?)
        })
    }

    /// `inpaint({ image, mask, seed, count, ...sample's options })`: `image` is RGBA8 at the
    /// model's size, `mask` one byte per pixel, non-zero where pixels are regenerated. Known
    /// pixels come back exactly.
    #[wasm_bindgen(unchecked_return_type = "Promise<GenerateOutput>")]
    pub fn inpaint(&self, #[wasm_bindgen(unchecked_param_type = "InpaintCall")] options: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let object = options_object(&options)?;
            let request = GenerateRequest::read(|| deserializer(&object))?;
            let seeds = request.seeds()?;
            let options = &request.options;
            let loaded = inner.model()?;
            loaded.require(options.method)?;
            if options.method == Method::LeDiFlow && !loaded.networks.contains(&Network::Encoder) {
                return Err(WebError::State("inpainting with LeDiFlow needs the encoder, which is not loaded".into()));
            }
            let side = loaded.config.image_size;
            let image = bytes_field(&object, "image")?;
            let mask = bytes_field(&object, "mask")?;
            let keep = inpaint_inputs(&image, &mask, side)?;
            let n = seeds.len();
            let images: Vec<&[u8]> = vec![image.as_slice(); n];
            let image = from_rgb8(&images, side, 4, &inner.device)?;
            let keep: Vec<f32> = (0..n).flat_map(|_| keep.iter().copied()).collect();
            let mask = Tensor::<4>::from_data(TensorData::new(keep, [n, 1, side, side]), &inner.device);
            let pipeline = loaded.pipeline(&inner.device);
            let call = CallStart::now(&PerformanceClock);
            let generated = match function_field(&object, "onStep") {
                Some(callback) => {
                    let mut preview = JsPreview { callback };
                    pipeline.inpaint(image, mask, &seeds, options, &PerformanceClock, &mut preview).await?
                }
                None => pipeline.inpaint(image, mask, &seeds, options, &PerformanceClock, &mut NoPreview).await?,
            };
            to_js(&GenerateOutput::render(generated, inner.backend, call).await?)
        })
    }

    /// `interpolate({ seedA, seedB, alphas, ...sample's options })`: one image per α along the
    /// spherical path between the two seeds' noise.
    #[wasm_bindgen(unchecked_return_type = "Promise<GenerateOutput>")]
    pub fn interpolate(&self, #[wasm_bindgen(unchecked_param_type = "InterpolateCall")] options: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let object = options_object(&options)?;
            let request = InterpolateRequest::read(|| deserializer(&object))?;
            request.check()?;
            let loaded = inner.model()?;
            loaded.require(request.options.method)?;
            let pipeline = loaded.pipeline(&inner.device);
            let call = CallStart::now(&PerformanceClock);
            let path = &request.path;
            let generated = pipeline
                .interpolate(path.seed_a, path.seed_b, &path.alphas, &request.options, &PerformanceClock)
                .await?;
            to_js(&GenerateOutput::render(generated, inner.backend, call).await?)
        })
    }

    /// Frees the model. Later calls throw `InvalidState`.
    pub fn dispose(&self) {
        *self.inner.disposed.borrow_mut() = true;
        self.inner.loaded.borrow_mut().take();
        self.inner.loader.borrow_mut().take();
    }
}

/// burn's ndarray backend, run against the native CLI's images by the browser tests
/// (tests/web/cpu.spec.ts); `Device::flex()` is its successor, not yet tried in wasm.
#[cfg(feature = "cpu")]
#[allow(deprecated)]
fn cpu_device() -> Result<Device, WebError> {
    Ok(Device::ndarray())
}

/// The WebGPU module leaves the CPU backend to the CPU module (web/build-wasm.sh).
#[cfg(not(feature = "cpu"))]
fn cpu_device() -> Result<Device, WebError> {
    Err(WebError::State("this module has no CPU backend: the CPU fallback is the other module (web/pkg/cpu)".into()))
}
