//! Inpainting's known pixels: what the encoder sees in place of the unknown ones, and the path
//! the known ones follow during the flow.

use burn::tensor::Tensor;

use crate::kernels::composite;
use crate::model::hourglass::TokenLayout;

/// What the encoder sees where pixels are unknown: the mean of the known pixels of the same
/// row (of the whole image where a row has none). A flat global mean made the decoder's prior,
/// and so the few-step result, a flat patch; row means continue horizontal structure (horizon,
/// sky and ground bands) into the hole, which the prior and the flow then refine.
pub(super) fn row_fill(image: &Tensor<4>, keep: &Tensor<4>) -> Tensor<4> {
    let shape = image.dims();
    let known = image.clone() * keep.clone();
    let row_count = keep.clone().sum_dim(3);
    let row_mean = known.clone().sum_dim(3) / row_count.clone().clamp_min(1.0);
    let image_mean = known.sum_dims(&[2, 3]) / keep.clone().sum_dims(&[2, 3]).clamp_min(1.0);
    let empty_row = row_count.lower_elem(0.5).expand([shape[0], shape[1], shape[2], 1]);
    row_mean.mask_where(empty_row, image_mean.expand([shape[0], shape[1], shape[2], 1])).expand(shape)
}

/// The pixels of `image` where `mask` is 1, kept RePaint-style: during the flow they follow the
/// straight path `(1 − t)·x0 + t·image` from the flow's start `x0`, so at t = 1 they are the image.
pub(super) struct KnownPixels {
    pub x0: Tensor<4>,
    pub image: Tensor<4>,
    pub mask: Tensor<4>,
}

impl KnownPixels {
    /// `x` with the known pixels put on their path at time `t`.
    pub fn at(&self, x: Tensor<4>, t: f64) -> Tensor<4> {
        let on_path = self.x0.clone().mul_scalar(1.0 - t) + self.image.clone().mul_scalar(t);
        composite(on_path, x, self.mask.clone())
    }

    /// The same pixels as patch tokens, for a solve that keeps its state as tokens; the mask
    /// spread over every channel first, as the composite broadcasts it.
    pub fn as_tokens(&self, layout: &TokenLayout) -> KnownPixels {
        let mask = self.mask.clone().expand(self.image.dims());
        KnownPixels {
            x0: layout.tokens(self.x0.clone()),
            image: layout.tokens(self.image.clone()),
            mask: layout.tokens(mask),
        }
    }

    /// The flow's result with the known pixels bit-exact, whatever rounding the path took.
    pub fn finish(self, x: Tensor<4>) -> Tensor<4> {
        composite(self.image, x, self.mask)
    }
}
