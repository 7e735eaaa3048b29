//! wasm-bindgen glue: JavaScript values in, [`super`]'s Rust types through, `Promise`s out.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use js_sys::{Function, JSON, Object, Promise, Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::options::{BackendChoice, CreateRequest, InpaintRequest, InterpolateRequest, SampleRequest, inpaint_inputs};
use super::{Rendered, WebError, check_file_hash, rgba8};
use crate::model::{LeDiFlowConfig, LeDiFlowModel};
use crate::model_io::ModelLoader;
use crate::pipeline::{Clock, Method, NoPreview, Pipeline, PipelineError, StepObserver, from_rgb8};
use crate::weights::{FileHasher, Network};

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

fn to_js(e: WebError) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(&format!("LeDiFlow{}Error", e.kind()));
    let _ = Reflect::set(&error, &"kind".into(), &e.kind().into());
    error.into()
}

/// Parses a plain options object through JSON, ignoring functions and typed arrays.
fn parse<T: DeserializeOwned + Default>(value: &JsValue, skip: &[&str]) -> Result<T, WebError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    if !value.is_object() {
        return Err(WebError::Options("options must be an object".into()));
    }
    let copy = Object::assign(&Object::new(), value.unchecked_ref());
    for key in skip {
        let _ = Reflect::delete_property(&copy, &(*key).into());
    }
    let text = JSON::stringify(&copy).map_err(|_| WebError::Options("options are not serialisable".into()))?;
    let text: String = text.into();
    serde_json::from_str(&text).map_err(|e| WebError::Options(e.to_string()))
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

fn rendered_to_js(rendered: Rendered, backend: &str) -> Result<JsValue, WebError> {
    let meta = rendered.metadata(backend).to_string();
    let object = JSON::parse(&meta).map_err(|_| WebError::Backend("cannot build the result".into()))?;
    let pixels = Uint8Array::from(rendered.pixels.as_slice());
    let _ = Reflect::set(&object, &"pixels".into(), &pixels);
    Ok(object)
}

/// Calls `onStep(step, steps, pixels)` after every solver step with the current state as RGBA8.
struct JsPreview {
    callback: Function,
}

impl StepObserver for JsPreview {
    async fn on_step(&mut self, step: usize, steps: usize, x: &Tensor<4>) -> Result<(), PipelineError> {
        let pixels = rgba8(x.clone()).await?;
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
}

/// A weight file being streamed: the parser, and the SHA-256 of every byte it was given.
struct Streaming {
    loader: ModelLoader,
    file_hash: FileHasher,
}

struct Inner {
    device: Device,
    backend: &'static str,
    adapter: String,
    fallback_reason: Option<String>,
    dequantize: crate::model_io::Dequantize,
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
        let name = if info.name.is_empty() { format!("{:?}", info.backend) } else { info.name.clone() };
        CACHED.with(|c| *c.borrow_mut() = Some((device.clone(), name.clone())));
        Ok((device, name))
    }
    #[cfg(not(feature = "webgpu"))]
    Err(WebError::NoAdapter("this build has no WebGPU support".into()))
}

#[wasm_bindgen]
pub struct Generator {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Generator {
    /// `Generator.create({ backend: 'auto' | 'webgpu' | 'cpu', dequantize?: 'gpu' | 'burn' | 'host' })`:
    /// `dequantize` picks where int8 weights become f32 at load: the host (default, measured
    /// fastest), our WGSL kernel (WebGPU only) or burn's quantized tensors; all give the same bits.
    pub async fn create(options: JsValue) -> Result<Generator, JsValue> {
        console_error_panic_hook::set_once();
        let request: CreateRequest = parse(&options, &[]).map_err(to_js)?;
        let (device, backend, adapter, fallback_reason) = match request.backend {
            BackendChoice::Cpu => (cpu_device().map_err(to_js)?, "cpu", String::new(), None),
            BackendChoice::Webgpu => {
                let (device, name) = webgpu_device().await.map_err(to_js)?;
                (device, "webgpu", name, None)
            }
            // A module with only one backend answers 'auto' with it, or with its error: the
            // worker then loads the other module (web/src/worker.ts).
            BackendChoice::Auto => match webgpu_device().await {
                Ok((device, name)) => (device, "webgpu", name, None),
                Err(e) if cfg!(feature = "cpu") => {
                    (cpu_device().map_err(to_js)?, "cpu", String::new(), Some(e.to_string()))
                }
                Err(e) => return Err(to_js(e)),
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
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend.into()
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
        crate::kernels::wgsl_available(&self.inner.device)
    }

    /// Checks our WGSL kernels that the networks run (`shaders/matmul.wgsl`,
    /// `shaders/row_norm.wgsl`) against their host references on this generator's device:
    /// resolves to `{ matmul, rowNorm }`, the largest relative error of each (for the browser tests).
    #[wasm_bindgen(js_name = checkKernels)]
    pub async fn check_kernels(&self) -> Result<JsValue, JsValue> {
        let device = &self.inner.device;
        let fail = |e: crate::kernels::KernelError| to_js(WebError::from_backend(e.0));
        let matmul = crate::kernels::check_matmul(device).await.map_err(fail)?;
        let row_norm = crate::kernels::check_row_norm(device).await.map_err(fail)?;
        let dequantize = crate::kernels::check_dequantize(device).await.map_err(fail)?;
        let out = Object::new();
        for (key, value) in [("matmul", matmul as f64), ("rowNorm", row_norm as f64), ("dequantize", dequantize as f64)]
        {
            Reflect::set(&out, &key.into(), &JsValue::from_f64(value))?;
        }
        Ok(out.into())
    }

    /// How many times each of our WGSL kernels has been dispatched by this wasm instance:
    /// `{ matmul, rowNorm, dequantize, toRgba8, composite }` (all 0 on the CPU), the browser
    /// tests' proof that our WGSL ran, not a fallback.
    #[wasm_bindgen(js_name = kernelDispatches)]
    pub fn kernel_dispatches(&self) -> Result<JsValue, JsValue> {
        let out = Object::new();
        for (shader, count) in crate::kernels::dispatches() {
            Reflect::set(&out, &shader.name().into(), &JsValue::from_f64(count as f64))?;
        }
        Ok(out.into())
    }

    /// Why `'auto'` fell back to the CPU, if it did.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.inner.fallback_reason.clone()
    }

    /// Feeds the next chunk of a weight file (any size); returns
    /// `{ bytesReceived, totalBytes, tensorsReady, tensorsTotal }` (totals `null` until the
    /// header has arrived). A bad file throws `BadWeights` at the first byte that shows it.
    /// After `dispose()` it throws `InvalidState`.
    pub fn load(&self, chunk: &[u8]) -> Result<JsValue, JsValue> {
        self.inner.alive().map_err(to_js)?;
        let mut slot = self.inner.loader.borrow_mut();
        let streaming = slot.get_or_insert_with(|| Streaming {
            loader: ModelLoader::default().with_dequantize(self.inner.dequantize),
            file_hash: FileHasher::new(),
        });
        let progress = match streaming.loader.push(chunk) {
            Ok(p) => p,
            Err(e) => {
                *slot = None;
                return Err(to_js(e.into()));
            }
        };
        streaming.file_hash.update(chunk);
        let json = serde_json::json!({
            "bytesReceived": progress.bytes_received,
            "totalBytes": progress.total_bytes,
            "tensorsReady": progress.tensors_ready,
            "tensorsTotal": progress.tensors_total,
        });
        JSON::parse(&json.to_string())
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
    /// to `{ name, imageSize, networks, sha256, dataSha256, baseline, dequantized }`, `sha256`
    /// being the whole file's. After `dispose()` it throws `InvalidState` and installs nothing.
    #[wasm_bindgen(js_name = finishLoad)]
    pub fn finish_load(&self, expected_sha256: Option<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let streaming = inner.loader.borrow_mut().take();
            inner.alive().map_err(to_js)?;
            let Streaming { loader, file_hash } = streaming
                .ok_or_else(|| to_js(WebError::State("no weights were streamed: call load(chunk) first".into())))?;
            let file_sha256 = file_hash.finish_hex();
            check_file_hash(expected_sha256.as_deref(), &file_sha256).map_err(to_js)?;
            let previous = inner.loaded.borrow().clone();
            let loaded = match &previous {
                // A second file (e.g. the baseline, fetched only when the comparison is
                // opened) adds its networks to the loaded model of the same configuration.
                Some(base) => loader.finish_into(base.model.clone(), &base.config, &inner.device),
                None => loader.finish(&inner.device),
            }
            .map_err(|e| to_js(e.into()))?;
            let mut networks = loaded.networks.clone();
            if let Some(base) = &previous {
                networks.extend(base.networks.iter().copied());
            }
            for network in [Network::Latent, Network::Decoder, Network::Flow] {
                if !networks.contains(&network) {
                    return Err(to_js(WebError::Weights(crate::model_io::LoadError::NetworkAbsent(
                        network.as_str().into(),
                    ))));
                }
            }
            let names: Vec<&str> = networks.iter().map(|n| n.as_str()).collect();
            let info = serde_json::json!({
                "name": loaded.config.name,
                "imageSize": loaded.config.image_size,
                "networks": names,
                "sha256": file_sha256,
                "dataSha256": loaded.header.sha256,
                "baseline": networks.contains(&Network::Baseline),
                "dequantized": loaded.dequantized,
            });
            let model = Loaded { config: loaded.config, model: loaded.model, networks };
            // Nothing awaits between the checks above and here, but a disposed generator must
            // never hold a model, whatever runs in between one day.
            inner.alive().map_err(to_js)?;
            *inner.loaded.borrow_mut() = Some(Rc::new(model));
            JSON::parse(&info.to_string())
        })
    }

    /// `sample({ seed, count, solver, steps, method, latentSteps, onStep })`: image `k` uses
    /// seed `seed + k`. Resolves to `{ width, height, count, pixels, nfe, times, backend }`.
    pub fn sample(&self, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let request: SampleRequest = parse(&options, &["onStep"])?;
                let seeds = request.seeds()?;
                let sample_options = request.solve.options()?;
                let loaded = inner.model()?;
                loaded.require(sample_options.method)?;
                let pipeline = Pipeline::new(&loaded.model, &loaded.config, inner.device.clone());
                let generated = match function_field(&options, "onStep") {
                    Some(callback) => {
                        pipeline.sample(&seeds, &sample_options, &PerformanceClock, &mut JsPreview { callback }).await?
                    }
                    None => pipeline.sample(&seeds, &sample_options, &PerformanceClock, &mut NoPreview).await?,
                };
                rendered_to_js(Rendered::from_generated(generated).await?, inner.backend)
            };
            run.await.map_err(to_js)
        })
    }

    /// `inpaint({ image, mask, seed, count, solver, steps, method })`: `image` is RGBA8 at the
    /// model's size, `mask` one byte per pixel, non-zero where pixels are regenerated. Known
    /// pixels come back exactly.
    pub fn inpaint(&self, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let request: InpaintRequest = parse(&options, &["image", "mask", "onStep"])?;
                let seeds = request.seeds()?;
                let sample_options = request.solve.options()?;
                let loaded = inner.model()?;
                loaded.require(sample_options.method)?;
                if sample_options.method == Method::LeDiFlow && !loaded.networks.contains(&Network::Encoder) {
                    return Err(WebError::State(
                        "inpainting with LeDiFlow needs the encoder, which is not loaded".into(),
                    ));
                }
                let side = loaded.config.image_size;
                let image = bytes_field(&options, "image")?;
                let mask = bytes_field(&options, "mask")?;
                let keep = inpaint_inputs(&image, &mask, side)?;
                let n = seeds.len();
                let images: Vec<&[u8]> = vec![image.as_slice(); n];
                let image = from_rgb8(&images, side, 4, &inner.device)?;
                let keep: Vec<f32> = (0..n).flat_map(|_| keep.iter().copied()).collect();
                let mask = Tensor::<4>::from_data(TensorData::new(keep, [n, 1, side, side]), &inner.device);
                let pipeline = Pipeline::new(&loaded.model, &loaded.config, inner.device.clone());
                let generated = match function_field(&options, "onStep") {
                    Some(callback) => {
                        let mut preview = JsPreview { callback };
                        pipeline.inpaint(image, mask, &seeds, &sample_options, &PerformanceClock, &mut preview).await?
                    }
                    None => {
                        pipeline
                            .inpaint(image, mask, &seeds, &sample_options, &PerformanceClock, &mut NoPreview)
                            .await?
                    }
                };
                rendered_to_js(Rendered::from_generated(generated).await?, inner.backend)
            };
            run.await.map_err(to_js)
        })
    }

    /// `interpolate({ seedA, seedB, alphas, solver, steps, method })`: one image per α along
    /// the spherical path between the two seeds' noise.
    pub fn interpolate(&self, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let run = async {
                let request: InterpolateRequest = parse(&options, &[])?;
                let (seed_a, seed_b, alphas) = request.checked()?;
                let sample_options = request.solve.options()?;
                let loaded = inner.model()?;
                loaded.require(sample_options.method)?;
                let pipeline = Pipeline::new(&loaded.model, &loaded.config, inner.device.clone());
                let generated =
                    pipeline.interpolate(seed_a, seed_b, alphas, &sample_options, &PerformanceClock).await?;
                rendered_to_js(Rendered::from_generated(generated).await?, inner.backend)
            };
            run.await.map_err(to_js)
        })
    }

    /// Frees the model. Later calls throw `InvalidState`.
    pub fn dispose(&self) {
        *self.inner.disposed.borrow_mut() = true;
        self.inner.loaded.borrow_mut().take();
        self.inner.loader.borrow_mut().take();
    }
}

/// burn's ndarray backend: tested in wasm here (BROWSER.md); `Device::flex()` is its successor.
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
