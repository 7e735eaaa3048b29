//! Between burn modules and `.ldf` weight files: naming, layout and validation.
//!
//! Parameters are named by their module path, prefixed with the network (`flow.backbone.…`).
//! Linear weights, which burn stores `[in, out]`, are written `[out, in]` so that the format's
//! per-row int8 scales are per output channel; they are transposed back at load.

use std::collections::{BTreeSet, HashMap};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use thiserror::Error;

use crate::model::{LeDiFlowConfig, LeDiFlowModel};
use lediflow_format::{FormatError, Limits, ModelHeader, Network, ParsedTensor, Progress, StreamParser, TensorEntry};

mod dequantize;
pub use dequantize::{Dequantize, DequantizeCounts};

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the file's network configuration is invalid: {0}")]
    Config(String),
    /// The configuration in the header is outside what [`LeDiFlowConfig::validate`] accepts.
    #[error("the file's network configuration is refused: {0}")]
    InvalidConfig(#[from] crate::model::ConfigError),
    #[error("network '{network}' is missing {count} tensor(s), e.g. '{example}'")]
    Missing { network: String, count: usize, example: String },
    #[error("tensor '{name}' has shape {got:?}, the configuration needs {expected:?}")]
    Shape { name: String, expected: Vec<usize>, got: Vec<usize> },
    #[error("tensor '{name}' is not used by the configuration")]
    Unused { name: String },
    #[error("the model file holds no '{0}' network")]
    NetworkAbsent(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A model built from a weight file, with the networks the file actually held.
pub struct LoadedModel {
    pub config: LeDiFlowConfig,
    pub model: LeDiFlowModel,
    pub networks: BTreeSet<Network>,
    pub header: ModelHeader,
    /// Which path dequantized how many tensors.
    pub dequantized: DequantizeCounts,
}

impl LoadedModel {
    pub fn require(&self, network: Network) -> Result<(), LoadError> {
        if self.networks.contains(&network) {
            Ok(())
        } else {
            Err(LoadError::NetworkAbsent(network.as_str().to_string()))
        }
    }
}

fn is_linear_weight(path: &[String], rank: usize) -> bool {
    rank == 2 && path.last().is_some_and(|p| p == "weight")
}

fn logical_name(network: &str, path: &[String]) -> String {
    format!("{network}.{}", path.join("."))
}

/// Collects parameters as `TensorEntry`s in the file's layout.
struct Collect<'a> {
    network: &'a str,
    path: Vec<String>,
    out: Vec<TensorEntry>,
    error: Option<String>,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let mut tensor = param.val();
        let transpose = is_linear_weight(&self.path, D);
        if transpose {
            tensor = tensor.transpose();
        }
        let shape = tensor.dims().to_vec();
        match tensor.into_data().convert::<f32>().try_into_vec::<f32>() {
            Ok(values) => self.out.push(TensorEntry::new(logical_name(self.network, &self.path), shape, values)),
            Err(e) => self.error = Some(format!("{}: {e:?}", logical_name(self.network, &self.path))),
        }
    }
}

fn collect<M: Module>(module: &M, network: Network, out: &mut Vec<TensorEntry>) -> Result<(), String> {
    let mut c = Collect { network: network.as_str(), path: vec![], out: vec![], error: None };
    module.visit(&mut c);
    if let Some(e) = c.error {
        return Err(e);
    }
    out.append(&mut c.out);
    Ok(())
}

/// The tensors of the chosen networks, named and laid out for [`lediflow_format::write_model`].
pub fn model_tensors(model: &LeDiFlowModel, networks: &[Network]) -> Result<Vec<TensorEntry>, String> {
    let mut out = Vec::new();
    for &network in networks {
        match network {
            Network::Latent => collect(&model.latent, network, &mut out)?,
            Network::Decoder => collect(&model.decoder, network, &mut out)?,
            Network::Encoder => collect(&model.encoder, network, &mut out)?,
            Network::Flow => collect(&model.flow, network, &mut out)?,
            Network::Baseline => collect(&model.baseline, network, &mut out)?,
        }
    }
    Ok(out)
}

/// Replaces parameters by path from dequantized tensors, recording what did not fit.
struct Assign<'a, 'd> {
    network: &'a str,
    path: Vec<String>,
    tensors: &'a mut HashMap<String, ParsedTensor>,
    at: &'a mut Placement<'d>,
    missing: Vec<String>,
    error: Option<LoadError>,
}

impl Assign<'_, '_> {
    fn take<const D: usize>(&mut self, param_dims: [usize; D]) -> Option<Tensor<D>> {
        let name = logical_name(self.network, &self.path);
        let Some(parsed) = self.tensors.remove(&name) else {
            self.missing.push(name);
            return None;
        };
        let transpose = is_linear_weight(&self.path, D);
        let mut expected = param_dims.to_vec();
        if transpose {
            expected.reverse();
        }
        if parsed.shape != expected {
            self.error.get_or_insert(LoadError::Shape { name, expected, got: parsed.shape.clone() });
            return None;
        }
        let shape: [usize; D] = core::array::from_fn(|i| parsed.shape[i]);
        let tensor =
            match dequantize::to_device(&parsed, shape, self.at.dequantize, self.at.device, &mut self.at.counts) {
                Ok(t) => t,
                Err(e) => {
                    self.error.get_or_insert(e.into());
                    return None;
                }
            };
        Some(if transpose { tensor.transpose() } else { tensor })
    }
}

impl ModuleMapper for Assign<'_, '_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // The shape without initialising the parameter: a small file whose configuration claims a
        // large model must not allocate that model's parameters before its tensors are compared
        // (a 2.6 MB file claiming 60 M parameters cost 129 MB before `Shape` refused it).
        let shape = param.lazy_shape();
        let dims: [usize; D] = core::array::from_fn(|i| shape[i]);
        match self.take::<D>(dims) {
            Some(tensor) => {
                // Keeps the parameter's id, device and gradient requirement.
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            None => param,
        }
    }
}

/// Where a load puts its tensors, and how many each dequantization path produced.
struct Placement<'a> {
    device: &'a Device,
    dequantize: Dequantize,
    counts: DequantizeCounts,
}

fn assign<M: Module>(
    module: M,
    network: Network,
    tensors: &mut HashMap<String, ParsedTensor>,
    at: &mut Placement<'_>,
) -> Result<M, LoadError> {
    let mut mapper = Assign { network: network.as_str(), path: vec![], tensors, at, missing: vec![], error: None };
    let module = module.map(&mut mapper);
    if let Some(e) = mapper.error {
        return Err(e);
    }
    if let Some(example) = mapper.missing.first() {
        return Err(LoadError::Missing {
            network: network.as_str().into(),
            count: mapper.missing.len(),
            example: example.clone(),
        });
    }
    Ok(module)
}

/// Streams a weight file in chunks of any size, then builds the model.
///
/// Tensors are kept as they arrive (quantized, so memory stays at the file's size) and become
/// burn parameters only in [`ModelLoader::finish`], after the content hash has been verified.
pub struct ModelLoader {
    parser: StreamParser,
    tensors: HashMap<String, ParsedTensor>,
    dequantize: Dequantize,
    /// Whether the header's configuration has been validated (as soon as the header arrives,
    /// so that a refused file stops before its data is read).
    config_checked: bool,
}

impl Default for ModelLoader {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl ModelLoader {
    pub fn new(limits: Limits) -> Self {
        Self {
            parser: StreamParser::new(limits),
            tensors: HashMap::new(),
            dequantize: Dequantize::default(),
            config_checked: false,
        }
    }

    /// Chooses where quantized tensors become f32 (default: [`Dequantize::Host`]).
    pub fn with_dequantize(mut self, dequantize: Dequantize) -> Self {
        self.dequantize = dequantize;
        self
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<Progress, LoadError> {
        for tensor in self.parser.push(chunk)? {
            self.tensors.insert(tensor.name.clone(), tensor);
        }
        if !self.config_checked
            && let Some(header) = self.parser.header()
        {
            parse_config(&header.config)?;
            self.config_checked = true;
        }
        Ok(self.parser.progress())
    }

    pub fn progress(&self) -> Progress {
        self.parser.progress()
    }

    pub fn finish(mut self, device: &Device) -> Result<LoadedModel, LoadError> {
        let (config, header) = self.verified_header()?;
        let model = LeDiFlowModel::new(&config, device);
        self.apply(model, config, header, device)
    }

    /// Like [`ModelLoader::finish`], but writes the file's networks into an existing model of
    /// the same configuration, keeping its parameter ids (and so its optimiser state and EMA
    /// pairing). Networks the file lacks keep their current values.
    pub fn finish_into(
        mut self,
        model: LeDiFlowModel,
        expected: &LeDiFlowConfig,
        device: &Device,
    ) -> Result<LoadedModel, LoadError> {
        let (config, header) = self.verified_header()?;
        let networks: BTreeSet<Network> = header.networks().into_iter().collect();
        // Only the networks the file holds must match: the prior's temperature and the loss
        // settings shape no tensor (the flow stage's ablations change them), and a run may
        // train a new latent sampler on top of a file holding only the auxiliary networks.
        if let Some(network) = networks.iter().copied().find(|&n| !holds_same(&config, expected, n)) {
            return Err(LoadError::Config(format!(
                "the file's '{}' network (model '{}') differs from the one of '{}'",
                network, config.name, expected.name
            )));
        }
        // The merged model keeps the expected networks, and takes the file's name, loss and
        // temperature as before.
        let merged = LeDiFlowConfig {
            name: config.name,
            loss: config.loss,
            prior_std_scale: config.prior_std_scale,
            prior_std_floor: config.prior_std_floor,
            ..expected.clone()
        };
        self.apply(model, merged, header, device)
    }

    fn verified_header(&mut self) -> Result<(LeDiFlowConfig, ModelHeader), LoadError> {
        let parser = core::mem::replace(&mut self.parser, StreamParser::new(Limits::default()));
        let header = parser.finish()?;
        let config = parse_config(&header.config)?;
        Ok((config, header))
    }

    fn apply(
        self,
        mut model: LeDiFlowModel,
        config: LeDiFlowConfig,
        header: ModelHeader,
        device: &Device,
    ) -> Result<LoadedModel, LoadError> {
        let mut tensors = self.tensors;
        let networks: BTreeSet<Network> = header.networks().into_iter().collect();
        let mut at = Placement { device, dequantize: self.dequantize, counts: DequantizeCounts::default() };
        for &network in &networks {
            match network {
                Network::Latent => model.latent = assign(model.latent, network, &mut tensors, &mut at)?,
                Network::Decoder => model.decoder = assign(model.decoder, network, &mut tensors, &mut at)?,
                Network::Encoder => model.encoder = assign(model.encoder, network, &mut tensors, &mut at)?,
                Network::Flow => model.flow = assign(model.flow, network, &mut tensors, &mut at)?,
                Network::Baseline => model.baseline = assign(model.baseline, network, &mut tensors, &mut at)?,
            }
        }
        if let Some(name) = tensors.keys().min() {
            return Err(LoadError::Unused { name: name.clone() });
        }
        Ok(LoadedModel { config, model, networks, header, dequantized: at.counts })
    }
}

/// Whether `network` has the same shapes and architecture in both configurations.
fn holds_same(file: &LeDiFlowConfig, expected: &LeDiFlowConfig, network: Network) -> bool {
    let geometry = |c: &LeDiFlowConfig| {
        (c.image_size, c.image_channels, c.latent_channels, c.latent_downsample, c.decoder_z_upsample)
    };
    let backbone = |c: &LeDiFlowConfig| match network {
        Network::Latent => c.latent_sampler.clone(),
        Network::Decoder => c.decoder.clone(),
        Network::Encoder => c.encoder.clone(),
        Network::Flow | Network::Baseline => c.flow.clone(),
    };
    geometry(file) == geometry(expected) && backbone(file) == backbone(expected)
}

/// The dotted path and value of the first integer in `value` that a `usize` cannot hold.
fn oversized_integer(value: &serde_json::Value, path: String) -> Option<(String, String)> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            let fits = n.as_u64().is_some_and(|v| usize::try_from(v).is_ok()) || n.as_i64().is_some_and(|v| v < 0);
            (!fits).then(|| (path, n.to_string()))
        }
        // Integers past u64 arrive as floats with an integral value.
        Value::Number(n) => {
            n.as_f64().filter(|v| v.fract() == 0.0 && *v >= usize::MAX as f64).map(|_| (path, n.to_string()))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| oversized_integer(v, join(&i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(k, v)| oversized_integer(v, join(k))),
        _ => None,
    }
}

/// The configuration of a file's header, validated before anything is built from it.
fn parse_config(value: &serde_json::Value) -> Result<LeDiFlowConfig, LoadError> {
    let config: LeDiFlowConfig = serde_json::from_value(value.clone()).map_err(|e| {
        // serde's message names the value but not the field; on wasm32 a usize ends at 2^32.
        match oversized_integer(value, String::new()) {
            Some((path, n)) => LoadError::Config(format!("{path} = {n} does not fit this platform's integers ({e})")),
            None => LoadError::Config(e.to_string()),
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// Loads a whole in-memory file.
pub fn load_bytes(bytes: &[u8], device: &Device) -> Result<LoadedModel, LoadError> {
    let mut loader = ModelLoader::default();
    loader.push(bytes)?;
    loader.finish(device)
}

/// Streams a file from disk through the same parser as the browser.
#[cfg(not(target_family = "wasm"))]
fn stream_file(path: &std::path::Path) -> Result<ModelLoader, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut loader = ModelLoader::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            return Ok(loader);
        }
        loader.push(&buf[..n])?;
    }
}

/// Loads a model file from disk.
#[cfg(not(target_family = "wasm"))]
pub fn load_file(path: &std::path::Path, device: &Device) -> Result<LoadedModel, LoadError> {
    stream_file(path)?.finish(device)
}

/// Loads a model file from disk into an existing model (see [`ModelLoader::finish_into`]).
#[cfg(not(target_family = "wasm"))]
pub fn load_file_into(
    path: &std::path::Path,
    model: LeDiFlowModel,
    expected: &LeDiFlowConfig,
    device: &Device,
) -> Result<LoadedModel, LoadError> {
    stream_file(path)?.finish_into(model, expected, device)
}

/// Writes the chosen networks of `model` as an `.ldf` file's bytes.
pub fn model_file_bytes(
    model: &LeDiFlowModel,
    config: &LeDiFlowConfig,
    networks: &[Network],
    policy: lediflow_format::QuantPolicy,
) -> Result<Vec<u8>, String> {
    let tensors = model_tensors(model, networks)?;
    let config = serde_json::to_value(config).map_err(|e| e.to_string())?;
    lediflow_format::write_model(&config, &tensors, policy).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
