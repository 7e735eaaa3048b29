//! One gradient bucket per step: every gradient of a replica flattened into a single tensor, so
//! that data-parallel training averages them with one collective instead of one per parameter.
//!
//! burn's per-parameter sync (`Tensor::set_distributed`) overlaps the all-reduces with the
//! backward pass but issues one small NCCL call, and one round trip through burn's sync server,
//! per parameter tensor (about 150 for `s64`). A bucket pays one large call after the backward
//! pass instead, and won on two H100s: 1.92× against 1.72× at 128 images per GPU
//! (BENCHMARKS.md, "Several GPUs"), since our step is bound by per-kernel overhead and the
//! per-parameter sync adds ~150 collectives and server round trips to it.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Where each parameter's gradient sits in the bucket, in the module's visiting order.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketLayout {
    /// `(parameter, offset, shape)` for every parameter that has a gradient.
    entries: Vec<(ParamId, usize, Vec<usize>)>,
    len: usize,
}

impl BucketLayout {
    /// The number of values in the bucket.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

struct Flatten<'a> {
    grads: &'a mut GradientsParams,
    parts: Vec<Tensor<1>>,
    layout: BucketLayout,
}

impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let shape = grad.dims().to_vec();
            let count: usize = shape.iter().product();
            self.layout.entries.push((param.id, self.layout.len, shape));
            self.layout.len += count;
            self.parts.push(grad.reshape([count]));
        }
    }
}

struct Unflatten<'a> {
    bucket: &'a Tensor<1>,
    layout: &'a BucketLayout,
    next: usize,
    grads: GradientsParams,
}

impl ModuleVisitor for Unflatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some((id, offset, shape)) = self.layout.entries.get(self.next) else { return };
        if *id != param.id {
            return;
        }
        self.next += 1;
        let count: usize = shape.iter().product();
        let mut dims = [0usize; D];
        dims.copy_from_slice(shape);
        self.grads.register::<D>(*id, self.bucket.clone().narrow(0, *offset, count).reshape(dims));
    }
}

/// Moves every gradient of `module` out of `grads` into one flat tensor. Gradients of other
/// modules stay in `grads`. `None` when `module` has no gradient there.
pub fn flatten_gradients<M: Module>(module: &M, grads: &mut GradientsParams) -> Option<(Tensor<1>, BucketLayout)> {
    let mut visitor = Flatten { grads, parts: Vec::new(), layout: BucketLayout { entries: Vec::new(), len: 0 } };
    module.visit(&mut visitor);
    let Flatten { parts, layout, .. } = visitor;
    (!parts.is_empty()).then(|| (Tensor::cat(parts, 0), layout))
}

/// The gradients of `module` again, cut out of `bucket` (the same module's flat gradients, as
/// [`flatten_gradients`] laid them out).
pub fn unflatten_gradients<M: Module>(module: &M, bucket: &Tensor<1>, layout: &BucketLayout) -> GradientsParams {
    let mut visitor = Unflatten { bucket, layout, next: 0, grads: GradientsParams::new() };
    module.visit(&mut visitor);
    visitor.grads
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};
    use lediflow_core::testing::cpu;

    /// Gradients of the tiny flow network: a plain loss on its parameters' squares.
    fn some_gradients(model: &LeDiFlowModel) -> GradientsParams {
        struct SumSquares(Option<Tensor<1>>);
        impl ModuleVisitor for SumSquares {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let term = (param.val() * param.val()).sum();
                self.0 = Some(match self.0.take() {
                    Some(total) => total + term,
                    None => term,
                });
            }
        }
        let mut visitor = SumSquares(None);
        model.flow.visit(&mut visitor);
        let loss = visitor.0.expect("the flow network has parameters");
        GradientsParams::from_grads(loss.backward(), &model.flow)
    }

    #[test]
    fn a_bucket_gives_back_every_gradient_bit_for_bit() {
        let device = cpu().autodiff();
        let config = LeDiFlowConfig::tiny();
        let model = LeDiFlowModel::new(&config, &device);
        let mut grads = some_gradients(&model);
        let count = grads.len();
        assert!(count > 10, "the tiny flow network has {count} parameter tensors");
        let reference = some_gradients(&model);

        let (bucket, layout) = flatten_gradients(&model.flow, &mut grads).expect("gradients");
        assert!(grads.is_empty(), "every gradient moved into the bucket");
        assert_eq!(bucket.dims(), [layout.len()]);

        // A visitor that compares each parameter's gradient with the reference.
        let back = unflatten_gradients(&model.flow, &bucket, &layout);
        assert_eq!(back.len(), count);
        struct Compare<'a>(&'a GradientsParams, &'a GradientsParams, usize);
        impl ModuleVisitor for Compare<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let a = self.0.get::<D>(param.id).expect("a gradient back");
                let b = self.1.get::<D>(param.id).expect("a reference gradient");
                assert_eq!(a.dims(), b.dims());
                assert_eq!(a.into_data(), b.into_data());
                self.2 += 1;
            }
        }
        let mut compare = Compare(&back, &reference, 0);
        model.flow.visit(&mut compare);
        assert_eq!(compare.2, count);
    }

    #[test]
    fn a_bucket_of_scaled_values_scales_every_gradient() {
        // What an all-reduce does to the bucket must land on the right parameters. Each value is
        // scaled by its own factor (0.5 + position / len), so a gradient cut from the wrong place,
        // or one that skipped the bucket, no longer matches.
        let device = cpu().autodiff();
        let model = LeDiFlowModel::new(&LeDiFlowConfig::tiny(), &device);
        let mut grads = some_gradients(&model);
        let reference = some_gradients(&model);
        let (bucket, layout) = flatten_gradients(&model.flow, &mut grads).expect("gradients");
        let len = layout.len();
        let factors: Vec<f32> = (0..len).map(|i| 0.5 + i as f32 / len as f32).collect();
        let factors = Tensor::<1>::from_data(TensorData::new(factors, [len]), &bucket.device());
        let back = unflatten_gradients(&model.flow, &(bucket * factors.clone()), &layout);
        // The expectation walks the parameters itself, in the module's visiting order, instead
        // of trusting the layout under test.
        struct Scaled<'a> {
            back: &'a GradientsParams,
            reference: &'a GradientsParams,
            factors: &'a Tensor<1>,
            offset: usize,
            checked: usize,
        }
        impl ModuleVisitor for Scaled<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let Some(reference) = self.reference.get::<D>(param.id) else { return };
                let dims = reference.dims();
                let count: usize = dims.iter().product();
                let expected =
                    (reference.reshape([count]) * self.factors.clone().narrow(0, self.offset, count)).reshape(dims);
                self.offset += count;
                let got: TensorData = self.back.get::<D>(param.id).expect("back").into_data();
                got.assert_approx_eq::<f32>(&expected.into_data(), burn::tensor::Tolerance::absolute(1e-5));
                self.checked += 1;
            }
        }
        let mut scaled = Scaled { back: &back, reference: &reference, factors: &factors, offset: 0, checked: 0 };
        model.flow.visit(&mut scaled);
        assert_eq!(scaled.offset, len, "every value of the bucket was checked");
        assert_eq!(scaled.checked, back.len());
    }
}
