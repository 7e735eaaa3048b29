//! `shaders/prior_draw.wgsl`: the learned prior's draw from the decoder's output tokens to the
//! flow's input tokens in one dispatch, where burn's chain of layout copies and element-wise
//! kernels makes about ten (the browser build is bound by dispatches).

use burn::tensor::Tensor;

/// The two token layouts and the image they describe: the decoder's output tokens
/// `[B, H/pd, W/pd, pd²·2C]` (each pixel's C means, then its C log variances) and the flow's
/// `[B, H/pf, W/pf, pf²·C]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawShape {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub decoded_patch: usize,
    pub flow_patch: usize,
}

impl DrawShape {
    /// The shape both token tensors describe, `None` where they do not describe one image
    /// batch (a patch that does not divide the side, a channel count that is not `2C` against `C`).
    pub fn of(decoded: [usize; 4], eps: [usize; 4], decoded_patch: usize, flow_patch: usize) -> Option<Self> {
        let (pd, pf) = (decoded_patch, flow_patch);
        if pd == 0 || pf == 0 || decoded[0] != eps[0] {
            return None;
        }
        let channels = eps[3] / (pf * pf);
        let shape = Self {
            batch: eps[0],
            channels,
            height: eps[1] * pf,
            width: eps[2] * pf,
            decoded_patch: pd,
            flow_patch: pf,
        };
        let decoded_fits = decoded[1] * pd == shape.height && decoded[2] * pd == shape.width;
        (channels > 0 && eps[3] == pf * pf * channels && decoded_fits && decoded[3] == pd * pd * 2 * channels)
            .then_some(shape)
    }

    pub fn elements(&self) -> usize {
        self.batch * self.channels * self.height * self.width
    }

    /// Where pixel `(b, c, y, x)`'s mean is among the decoder's tokens (its log variance is
    /// `channels` further).
    fn decoded_index(&self, b: usize, c: usize, y: usize, x: usize) -> usize {
        let pd = self.decoded_patch;
        let token = (b * (self.height / pd) + y / pd) * (self.width / pd) + x / pd;
        token * pd * pd * 2 * self.channels + ((y % pd) * pd + x % pd) * 2 * self.channels + c
    }

    /// Where pixel `(b, c, y, x)` is among the flow's tokens.
    fn flow_index(&self, b: usize, c: usize, y: usize, x: usize) -> usize {
        let pf = self.flow_patch;
        let token = (b * (self.height / pf) + y / pf) * (self.width / pf) + x / pf;
        token * pf * pf * self.channels + ((y % pf) * pf + x % pf) * self.channels + c
    }
}

/// What the draw computes besides the layouts: log σ² is clamped to `[log_var_min,
/// log_var_max]`, σ = exp(log σ² / 2), floored at `floor` where it is above 0, and the noise
/// multiplied by `scale` where it is not 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrawParameters {
    pub log_var_min: f32,
    pub log_var_max: f32,
    pub scale: f32,
    pub floor: f32,
}

/// The host reference: burn's chain value by value, `mu + max(exp(clamp(log_var) · 0.5),
/// floor) · (eps · scale)`, written in the flow's token layout.
pub fn prior_draw_reference(decoded: &[f32], eps: &[f32], shape: DrawShape, p: DrawParameters) -> Vec<f32> {
    let mut out = vec![0f32; shape.elements()];
    for b in 0..shape.batch {
        for c in 0..shape.channels {
            for y in 0..shape.height {
                for x in 0..shape.width {
                    let at = shape.decoded_index(b, c, y, x);
                    let mut sigma = (decoded[at + shape.channels].clamp(p.log_var_min, p.log_var_max) * 0.5).exp();
                    if p.floor > 0.0 {
                        sigma = sigma.max(p.floor);
                    }
                    let i = shape.flow_index(b, c, y, x);
                    let noise = if p.scale == 1.0 { eps[i] } else { eps[i] * p.scale };
                    out[i] = decoded[at] + sigma * noise;
                }
            }
        }
    }
    out
}

/// The flow's start as its tokens, from the decoder's output tokens `decoded` (patch
/// `decoded_patch`) and the noise `eps` already in the flow's tokens (patch `flow_patch`): our
/// shader where the networks' kernels run ([`super::network_kernels_run`]); `None` elsewhere
/// or for tokens that do not describe one batch of images, so that the caller lays out the
/// images and draws with burn.
pub fn prior_draw_tokens(
    decoded: &Tensor<4>,
    eps: &Tensor<4>,
    decoded_patch: usize,
    flow_patch: usize,
    parameters: DrawParameters,
) -> Option<Tensor<4>> {
    let shape = DrawShape::of(decoded.dims(), eps.dims(), decoded_patch, flow_patch)?;
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&decoded.device()) {
        return gpu::draw(decoded, eps, shape, parameters, super::MAX_WORKGROUPS);
    }
    let _ = (shape, parameters);
    None
}

/// Our shader against [`prior_draw_reference`] on `device`: equal patches with a scale and a
/// floor; the decoder's patch coarser than the flow's (the tiny model's 4 against 2) without
/// either; the flow's coarser, over a second grid axis (the axis limit lowered to 2
/// workgroups). Log variances reach past both clamp bounds. Returns the largest error relative
/// to `1 + |reference|` (for the browser tests).
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let cases = [
        (2, 3, 8, 8, 4, 4, DrawParameters { log_var_min: -12.0, log_var_max: 2.0, scale: 4.0, floor: 0.3 }),
        (3, 3, 8, 12, 4, 2, DrawParameters { log_var_min: -1.0, log_var_max: 0.5, scale: 1.0, floor: 0.0 }),
        (1, 2, 12, 8, 2, 4, DrawParameters { log_var_min: -0.7, log_var_max: 1.0, scale: 0.5, floor: 0.0 }),
    ];
    let mut worst = 0f32;
    for (i, &(batch, channels, height, width, decoded_patch, flow_patch, parameters)) in cases.iter().enumerate() {
        let shape = DrawShape { batch, channels, height, width, decoded_patch, flow_patch };
        let n = shape.elements();
        // check_values lie in about [-1.5, 1.5]; log variances spread to ±4.5 to cross the bounds.
        let decoded: Vec<f32> = super::check_values(2 * n, 11 * i + 1).iter().map(|v| 3.0 * v).collect();
        let eps = super::check_values(n, 11 * i + 5);
        let grid = |p: usize, c: usize| [batch, height / p, width / p, p * p * c];
        let tensor = |v: &[f32], s: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), s), device);
        let (d, e) = (tensor(&decoded, grid(decoded_patch, 2 * channels)), tensor(&eps, grid(flow_patch, channels)));
        let missing = || super::KernelError("our WGSL prior draw does not run on this device".into());
        #[cfg(feature = "kernels")]
        let got = if i == 2 {
            gpu::draw(&d, &e, shape, parameters, 2)
        } else {
            prior_draw_tokens(&d, &e, decoded_patch, flow_patch, parameters)
        };
        #[cfg(not(feature = "kernels"))]
        let got = prior_draw_tokens(&d, &e, decoded_patch, flow_patch, parameters);
        let want = prior_draw_reference(&decoded, &eps, shape, parameters);
        worst = worst.max(super::worst_relative_error(got.ok_or_else(missing)?, &want).await?);
    }
    Ok(worst)
}

#[cfg(feature = "kernels")]
mod gpu {
    use burn::backend::Cube;
    use burn::backend::wgpu::CubeTensor;
    use burn::cubecl::CubeCount;
    use burn::cubecl::ir::settings::Dim3;
    use burn::cubecl::prelude::KernelId;
    use burn::tensor::{DType, Shape, Tensor};

    use super::super::wgsl::{WgslKernel, cube, launch_words};
    use super::{DrawParameters, DrawShape};

    enum PriorDraw {}

    const WORKGROUP: usize = 256;

    /// One dispatch; `max_per_axis` workgroups at most on each grid axis.
    pub fn draw(
        decoded: &Tensor<4>,
        eps: &Tensor<4>,
        shape: DrawShape,
        p: DrawParameters,
        max_per_axis: u32,
    ) -> Option<Tensor<4>> {
        let n = shape.elements();
        let (across, down) = super::super::rows_of_workgroups(n.div_ceil(WORKGROUP), max_per_axis)?;
        let word = |v: usize| u32::try_from(v).ok();
        let info = [
            word(n)?,
            word(shape.channels)?,
            word(shape.height)?,
            word(shape.width)?,
            word(shape.decoded_patch)?,
            word(shape.flow_patch)?,
            (p.scale != 1.0) as u32,
            (p.floor > 0.0) as u32,
            p.log_var_min.to_bits(),
            p.log_var_max.to_bits(),
            p.scale.to_bits(),
            p.floor.to_bits(),
        ];
        let (cd, ce) = (cube(decoded.clone())?, cube(eps.clone())?);
        let client = cd.client.clone();
        let handle = client.empty(n * 4);
        let out = CubeTensor::new_contiguous(client, cd.device.clone(), Shape::from(eps.dims()), handle, DType::F32);
        let kernel = WgslKernel {
            id: KernelId::new::<PriorDraw>(),
            shader: super::super::Shader::PriorDraw,
            source: include_str!("../../../../shaders/prior_draw.wgsl"),
            entry: "prior_draw",
            workgroup: Dim3::new_1d(WORKGROUP as u32),
        };
        launch_words(kernel, CubeCount::Static(across, down, 1), &[&cd, &ce, &out], &info);
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::model::hourglass::{TokenLayout, unpatchify};
    use crate::model::prior::{PriorTemperature, prior_draw};
    use crate::testing::cpu;

    /// The reference is what the pipeline computes with burn: the decoder's tokens laid out as
    /// images, split into μ and log σ², clamped, σ = exp(log σ² / 2), the draw, the flow's tokens.
    #[test]
    fn the_reference_is_burns_draw_between_the_two_layouts() {
        let device = cpu();
        for (pd, pf, scale, floor) in [(4, 4, 4.0f32, 0.0f32), (4, 2, 1.0, 0.4), (2, 4, 0.5, 0.2)] {
            let shape = DrawShape { batch: 2, channels: 3, height: 8, width: 12, decoded_patch: pd, flow_patch: pf };
            let n = shape.elements();
            let decoded: Vec<f32> = crate::kernels::check_values(2 * n, pd).iter().map(|v| 3.0 * v).collect();
            let eps = crate::kernels::check_values(n, 7 * pf);
            let parameters = DrawParameters { log_var_min: -1.0, log_var_max: 0.8, scale, floor };
            let out =
                Tensor::<4>::from_data(TensorData::new(decoded.clone(), [2, 8 / pd, 12 / pd, pd * pd * 6]), &device);
            let images = unpatchify(out, pd, 6);
            let mu = images.clone().narrow(1, 0, 3);
            let sigma = images.narrow(1, 3, 3).clamp(-1.0, 0.8).mul_scalar(0.5).exp();
            let flow = TokenLayout { patch: pf, channels: 3 };
            let eps_tokens =
                Tensor::<4>::from_data(TensorData::new(eps.clone(), [2, 8 / pf, 12 / pf, pf * pf * 3]), &device);
            let drawn = prior_draw(
                mu,
                sigma,
                flow.images(eps_tokens),
                PriorTemperature { scale: scale as f64, floor: floor as f64 },
            );
            let want = flow.tokens(drawn).into_data().try_to_vec::<f32>().expect("f32");
            let got = prior_draw_reference(&decoded, &eps, shape, parameters);
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / (1.0 + w.abs())).fold(0f32, f32::max);
            assert!(worst < 1e-6, "patches {pd}/{pf}: largest relative difference {worst}");
        }
    }

    #[test]
    fn a_shape_is_read_from_both_layouts_or_refused() {
        let shape = DrawShape::of([2, 4, 6, 96], [2, 4, 6, 48], 4, 4).expect("s64's decoder and flow");
        assert_eq!((shape.channels, shape.height, shape.width), (3, 16, 24));
        assert!(DrawShape::of([2, 4, 4, 96], [2, 8, 8, 12], 4, 2).is_some(), "the tiny model's patches");
        assert!(DrawShape::of([2, 4, 4, 96], [3, 4, 4, 48], 4, 4).is_none(), "batches differ");
        assert!(DrawShape::of([2, 4, 4, 90], [2, 4, 4, 48], 4, 4).is_none(), "not 2C per pixel");
        assert!(DrawShape::of([2, 4, 5, 96], [2, 4, 4, 48], 4, 4).is_none(), "other images");
        assert!(DrawShape::of([2, 4, 4, 96], [2, 4, 4, 48], 0, 4).is_none(), "no patch");
        let (d, e) = (Tensor::<4>::zeros([1, 2, 2, 96], &cpu()), Tensor::<4>::zeros([1, 2, 2, 48], &cpu()));
        let p = DrawParameters { log_var_min: -1.0, log_var_max: 1.0, scale: 1.0, floor: 0.0 };
        assert!(prior_draw_tokens(&d, &e, 4, 4, p).is_none(), "the CPU draws with burn");
    }
}
