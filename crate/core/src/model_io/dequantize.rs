//! Where quantized weights become f32 at load: on the host, by our WGSL kernel, or by burn's
//! quantized tensors. All three give the same bits. `BENCHMARKS.md` ("Dequantization at load")
//! has the measurements behind the default: natively the three are within noise of each other
//! (parsing dominates), and in the browser build on Dawn the host is fastest, because every
//! dispatch from wasm costs more than dequantizing its tensor in wasm.

use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, ScaleDtype};
use burn::tensor::{Device, Tensor, TensorData};
use half::f16;
use serde::{Deserialize, Serialize};

use crate::kernels::{Codes, dequantize_on_device};
use lediflow_format::{FormatError, ParsedTensor, Storage};

/// The dequantization path a load asks for. Each falls back to the host where it cannot run.
/// Spelled `host`, `gpu`, `burn` on the command line and in the JavaScript API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dequantize {
    /// On the host, then the f32 values are uploaded, one tensor at a time.
    #[default]
    Host,
    /// `shaders/dequantize.wgsl` where the device runs WGSL (the browser's WebGPU, native
    /// `wgpu`): only the quantized bytes are uploaded (a quarter of f32), one dispatch per tensor.
    Gpu,
    /// burn's own quantized tensors (`TensorData::quantized`, then `dequantize` on the device),
    /// for int8 matrices whose rows burn's u32 packing takes (a multiple of 4 columns).
    Burn,
}

impl Dequantize {
    pub const ALL: [Dequantize; 3] = [Dequantize::Host, Dequantize::Gpu, Dequantize::Burn];

    /// Its name on the command line and in the JavaScript API. Exhaustive, so that a new path
    /// is a compile error here; the wasm API's tests check that serde reads these names.
    pub fn name(self) -> &'static str {
        match self {
            Dequantize::Host => "host",
            Dequantize::Gpu => "gpu",
            Dequantize::Burn => "burn",
        }
    }
}

/// The paths' TypeScript type, from their names (for the wasm API's generated contract).
#[cfg(feature = "typescript")]
impl ts_rs::TS for Dequantize {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn docs() -> Option<String> {
        Some("/**\n * Where int8 weights become f32 at load (BENCHMARKS.md, \"Dequantization at load\").\n */".into())
    }
    fn name(_: &ts_rs::Config) -> String {
        "DequantizeChoice".into()
    }
    fn inline(_: &ts_rs::Config) -> String {
        Dequantize::ALL.map(|d| format!("\"{}\"", d.name())).join(" | ")
    }
    fn decl(cfg: &ts_rs::Config) -> String {
        format!("type DequantizeChoice = {};", Self::inline(cfg))
    }
}

impl core::str::FromStr for Dequantize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gpu" => Ok(Self::Gpu),
            "burn" => Ok(Self::Burn),
            "host" => Ok(Self::Host),
            other => Err(format!("unknown dequantization path '{other}' (gpu, burn, host)")),
        }
    }
}

/// How many tensors each path produced during one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DequantizeCounts {
    /// By our WGSL kernel.
    pub gpu: usize,
    /// By burn's quantized tensors.
    pub burn: usize,
    /// Quantized, dequantized on the host.
    pub host: usize,
    /// Stored as f16 or f32.
    pub unquantized: usize,
}

impl core::ops::Add for DequantizeCounts {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            gpu: self.gpu + o.gpu,
            burn: self.burn + o.burn,
            host: self.host + o.host,
            unquantized: self.unquantized + o.unquantized,
        }
    }
}

/// The tensor `parsed` holds, as `shape`, on `device`, by the path `wanted` where it applies.
pub fn to_device<const D: usize>(
    parsed: &ParsedTensor,
    shape: [usize; D],
    wanted: Dequantize,
    device: &Device,
    counts: &mut DequantizeCounts,
) -> Result<Tensor<D>, FormatError> {
    let on_device = match (&parsed.storage, wanted) {
        (Storage::Int8 { q, scales }, Dequantize::Gpu) => {
            parsed.check_payload()?;
            dequantize_on_device(Codes::Int8(q), scales, shape, device).map(|t| (t, &mut counts.gpu))
        }
        (Storage::Int4 { packed, group, scales }, Dequantize::Gpu) => {
            parsed.check_payload()?;
            dequantize_on_device(Codes::Int4 { packed, group: *group }, scales, shape, device)
                .map(|t| (t, &mut counts.gpu))
        }
        (Storage::Int8 { q, scales }, Dequantize::Burn) => {
            parsed.check_payload()?;
            burn_int8(q, scales, shape, device).map(|t| (t, &mut counts.burn))
        }
        _ => None,
    };
    if let Some((tensor, count)) = on_device {
        *count += 1;
        return Ok(tensor);
    }
    let values = parsed.dequantize()?;
    if parsed.scheme().is_quantized() {
        counts.host += 1;
    } else {
        counts.unquantized += 1;
    }
    Ok(Tensor::<D>::from_data(TensorData::new(values, shape), device))
}

/// The widest block along a row that burn's block size (at most 255, whole u32 words) allows
/// and that tiles `cols`: each block repeats its row's scale.
fn burn_block(cols: usize) -> Option<usize> {
    if cols % 4 != 0 {
        return None;
    }
    (4..=cols.min(252)).rev().find(|b| b % 4 == 0 && cols % b == 0)
}

fn burn_int8<const D: usize>(q: &[i8], scales: &[f16], shape: [usize; D], device: &Device) -> Option<Tensor<D>> {
    let rows = *shape.first()?;
    let cols = shape.get(1..)?.iter().product::<usize>();
    let block = burn_block(cols)?;
    let scheme = QuantScheme::default()
        .with_value(QuantValue::Q8S)
        .with_store(QuantStore::PackedU32(0))
        .per_block([1, block as u8], ScaleDtype::F16);
    let per_row = cols / block;
    let block_scales: Vec<f32> = scales.iter().flat_map(|s| core::iter::repeat_n(s.to_f32(), per_row)).collect();
    debug_assert_eq!(block_scales.len(), rows * per_row);
    let data = TensorData::quantized(q.to_vec(), [rows, cols], scheme, &block_scales, None);
    Some(Tensor::<2>::from_data(data, device).dequantize().reshape(shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lediflow_format::{Network, QuantPolicy, TensorEntry, read_model, write_model};

    #[test]
    fn burn_blocks_tile_rows() {
        assert_eq!(burn_block(64), Some(64));
        assert_eq!(burn_block(256), Some(128));
        assert_eq!(burn_block(1024), Some(128));
        assert_eq!(burn_block(192), Some(192));
        assert_eq!(burn_block(27), None);
    }

    /// The largest error quantization may leave on each element of `original` (`shape`,
    /// row-major) under `storage`'s scheme, from the format's definition (FORMAT.md) and the
    /// original values alone: half a step, a step being the largest |value| of the row (int8)
    /// or group (int4) over the largest code, with 1 % for the f16 rounding of the scale.
    fn error_bounds(original: &[f32], shape: &[usize], storage: &Storage) -> Vec<f32> {
        let cols: usize = shape[1..].iter().product::<usize>().max(1);
        let span_max = |row: usize, from: usize, to: usize| {
            original[row * cols + from..row * cols + to.min(cols)].iter().fold(0f32, |m, v| m.max(v.abs()))
        };
        (0..original.len())
            .map(|i| {
                let (row, col) = (i / cols, i % cols);
                match storage {
                    Storage::F32(_) => 0.0,
                    Storage::F16(_) => original[i].abs() / 1024.0,
                    Storage::Int8 { .. } => span_max(row, 0, cols) / 127.0 * 0.505,
                    Storage::Int4 { group, .. } => {
                        let from = col / group * group;
                        span_max(row, from, from + group) / 7.0 * 0.505
                    }
                }
            })
            .collect()
    }

    /// Every path gives values within the quantization error of the original ones (a reference
    /// independent of every decoder), and the same bits as each other. On the CPU backend the
    /// WGSL path falls back to the host; the browser tests run the kernel itself.
    #[test]
    fn every_path_reproduces_the_original_values_within_the_quantization_error() {
        let device = crate::testing::cpu();
        let values = |n: usize, k: f32| {
            (0..n).map(|i| (i as f32 * k).sin() * 3.0 * (1.0 + (i / 97) as f32)).collect::<Vec<f32>>()
        };
        let entries = vec![
            TensorEntry::new("flow.a.weight", vec![48, 256], values(48 * 256, 0.37)),
            TensorEntry::new("flow.b.weight", vec![40, 27], values(40 * 27, 0.11)),
            TensorEntry::new("flow.c.bias", vec![48], values(48, 0.5)),
        ];
        for policy in [QuantPolicy::Int8, QuantPolicy::Int4G32] {
            let bytes = write_model(&serde_json::json!({}), &entries, policy).unwrap();
            let (_, parsed) = read_model(&bytes).unwrap();
            for tensor in &parsed {
                assert_eq!(tensor.network, Network::Flow);
                let original = &entries.iter().find(|e| e.name == tensor.name).expect("written entry").values;
                let bounds = error_bounds(original, &tensor.shape, &tensor.storage);
                let mut first: Option<Vec<u32>> = None;
                for path in [Dequantize::Gpu, Dequantize::Burn, Dequantize::Host] {
                    let mut counts = DequantizeCounts::default();
                    let out = if tensor.shape.len() == 2 {
                        let shape = [tensor.shape[0], tensor.shape[1]];
                        to_device::<2>(tensor, shape, path, &device, &mut counts).unwrap().into_data()
                    } else {
                        to_device::<1>(tensor, [tensor.shape[0]], path, &device, &mut counts).unwrap().into_data()
                    };
                    let out = out.try_into_vec::<f32>().unwrap();
                    assert_eq!(out.len(), original.len());
                    for (i, ((got, want), bound)) in out.iter().zip(original).zip(&bounds).enumerate() {
                        assert!(
                            (got - want).abs() <= *bound,
                            "{} by {path:?} ({policy:?}), element {i}: {got} vs {want} (bound {bound})",
                            tensor.name
                        );
                    }
                    let bits: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                    match &first {
                        Some(first) => assert_eq!(&bits, first, "{} by {path:?} ({policy:?})", tensor.name),
                        None => first = Some(bits),
                    }
                    let burn_ran = path == Dequantize::Burn
                        && matches!(tensor.storage, Storage::Int8 { .. })
                        && tensor.shape[1] % 4 == 0;
                    assert_eq!(counts.burn, burn_ran as usize, "{} by {path:?}: {counts:?}", tensor.name);
                    assert_eq!(counts.gpu, 0, "no WGSL on the CPU");
                }
            }
        }
    }
}
