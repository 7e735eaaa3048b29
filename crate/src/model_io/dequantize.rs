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
use crate::weights::{FormatError, ParsedTensor, Storage};

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
    use crate::weights::{Network, QuantPolicy, TensorEntry, read_model, write_model};

    #[test]
    fn burn_blocks_tile_rows() {
        assert_eq!(burn_block(64), Some(64));
        assert_eq!(burn_block(256), Some(128));
        assert_eq!(burn_block(1024), Some(128));
        assert_eq!(burn_block(192), Some(192));
        assert_eq!(burn_block(27), None);
    }

    /// Every path gives the host's values bit for bit on the CPU backend (the WGSL path falls
    /// back to the host there; the browser tests cover the kernel itself).
    #[test]
    fn every_path_matches_the_host() {
        let device = crate::testing::cpu();
        let values = |n: usize, k: f32| (0..n).map(|i| (i as f32 * k).sin() * 3.0).collect::<Vec<f32>>();
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
                let host = tensor.dequantize().unwrap();
                for path in [Dequantize::Gpu, Dequantize::Burn, Dequantize::Host] {
                    let mut counts = DequantizeCounts::default();
                    let out = if tensor.shape.len() == 2 {
                        let shape = [tensor.shape[0], tensor.shape[1]];
                        to_device::<2>(tensor, shape, path, &device, &mut counts).unwrap().into_data()
                    } else {
                        to_device::<1>(tensor, [tensor.shape[0]], path, &device, &mut counts).unwrap().into_data()
                    };
                    let out = out.try_into_vec::<f32>().unwrap();
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&out), bits(&host), "{} by {path:?} ({policy:?})", tensor.name);
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
