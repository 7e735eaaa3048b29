//! `shaders/matmul.wgsl`: batched f32 matmul (with an optional bias row) for the browser, where
//! the WebGPU engine's own bounds checks make burn's matmul kernels many times slower (the shader's
//! header says why; BENCHMARKS.md, "Matmuls under Dawn's robustness", has the numbers).
//!
//! The shader reads its operands through strides, so transposed and sliced views (attention's
//! `kᵀ`, heads split off a fused projection) need no copy, and a batch axis of size 1 broadcasts.
//! Two epilogues save the element-wise dispatches after a linear layer: the residual add of the
//! pre-norm blocks ([`linear_residual`]) and the GEGLU gate ([`linear_geglu`]).

use burn::tensor::Tensor;

use super::{MAX_WORKGROUPS, RowNorm};

/// One operand as the shader reads it: `[batch1, batch2, rows, cols]` sizes and element strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operand {
    pub dims: [usize; 4],
    pub strides: [usize; 4],
}

impl Operand {
    /// A tensor's shape and strides (rank 2 to 4), its missing leading axes of size 1.
    pub fn new(shape: &[usize], strides: &[usize]) -> Option<Operand> {
        let rank = shape.len();
        if !(2..=4).contains(&rank) || strides.len() != rank {
            return None;
        }
        let mut dims = [1; 4];
        let mut padded = [0; 4];
        dims[4 - rank..].copy_from_slice(shape);
        padded[4 - rank..].copy_from_slice(strides);
        Some(Operand { dims, strides: padded })
    }

    /// The contiguous row-major layout of `shape`.
    pub fn contiguous(shape: &[usize]) -> Option<Operand> {
        let mut strides = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        Operand::new(shape, &strides)
    }
}

/// The shader as written: its embedding branches compiled out (`EMBEDDING` false).
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
const SOURCE: &str = include_str!("../../../../shaders/matmul.wgsl");
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
const EMBEDDING_OFF: &str = "const EMBEDDING: bool = false;";

/// The shader with its embedding branches compiled in, for the products that read an
/// [`Embedded`]: built once.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn embedded_source() -> &'static str {
    static EMBEDDED_SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EMBEDDED_SOURCE.get_or_init(|| SOURCE.replace(EMBEDDING_OFF, "const EMBEDDING: bool = true;"))
}

/// One launch of the shader: `out[z, m, n] = Σₖ a[z, m, k] · b[z, k, n]`, `out` contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub batch: [u32; 2],
    /// Strides of `a` along batch1, batch2, m, k (0 where it broadcasts).
    pub a: [u32; 4],
    /// Strides of `b` along batch1, batch2, k, n (0 where it broadcasts).
    pub b: [u32; 4],
    /// 0, or `a` read as the hourglass's 2 × 2 token merge ([`Plan::merged`]): the width of the
    /// merged (coarser) token grid.
    pub merge: u32,
    /// 0, or an embedding read in place of `a` or of the residual ([`Plan::embedded`]).
    pub embedding: u32,
}

/// The block of `out` one workgroup of [`Tile::Wide`] computes (64 × 64).
pub const BLOCK: usize = 64;

/// How the shader's workgroups cover `out`: its two entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// `matmul`: 64 × 64 blocks, each walking k 16 values at a time.
    Wide,
    /// `matmul_narrow`: 32 × 32 blocks, each in four k-groups that walk k 64 values at a time
    /// and add up at the end: four times the workgroups and a quarter of the serial steps, for
    /// grids that leave the GPU idle (a batch-1 sample's layers are 1 to 48 wide blocks).
    Narrow,
}

impl Tile {
    /// Below this many wide blocks a product takes [`Tile::Narrow`]. Measured through Dawn on an
    /// H100 (BENCHMARKS.md, "Narrow matmul tiles"): at batch 1, where every grid is 1 to 48 wide
    /// blocks, the matmuls' GPU time halved; at batch 16, with this bound at 128 (grids of 64
    /// to 127 blocks narrow too), a sample ran 8 % slower. A grid of many blocks fills the GPU
    /// anyway and narrow blocks reload each operand twice as often.
    pub const NARROW_BELOW: u32 = 64;

    /// The side of its block of `out`.
    pub fn block(self) -> u32 {
        match self {
            Tile::Wide => BLOCK as u32,
            Tile::Narrow => BLOCK as u32 / 2,
        }
    }

    pub fn entry(self) -> &'static str {
        match self {
            Tile::Wide => "matmul",
            Tile::Narrow => "matmul_narrow",
        }
    }
}

/// One dispatch of a plan: its workgroup counts, and the grid's workgroup it starts at (the
/// shader adds it to its `workgroup_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launch {
    pub offset: [u32; 3],
    pub count: [u32; 3],
}

impl Plan {
    /// The launch for `a @ b`, or `None` where the shader does not apply: inner sizes that differ,
    /// batch axes that neither match nor broadcast, an empty output, or an element index past u32
    /// (a buffer of more than 16 GiB, which no WebGPU device binds). A grid of any size is taken:
    /// [`Plan::launches`] splits it into dispatches. `k` may be 0 (the output is the bias).
    pub fn new(a: Operand, b: Operand) -> Option<Plan> {
        let [.., m, k] = a.dims;
        let [.., k_b, n] = b.dims;
        if k != k_b || m == 0 || n == 0 {
            return None;
        }
        let mut batch = [0usize; 2];
        let mut a_strides = [0usize; 4];
        let mut b_strides = [0usize; 4];
        for axis in 0..2 {
            let (da, db) = (a.dims[axis], b.dims[axis]);
            batch[axis] = match (da, db) {
                _ if da == db => da,
                (1, _) => db,
                (_, 1) => da,
                _ => return None,
            };
            a_strides[axis] = if da == 1 { 0 } else { a.strides[axis] };
            b_strides[axis] = if db == 1 { 0 } else { b.strides[axis] };
        }
        a_strides[2..].copy_from_slice(&a.strides[2..]);
        b_strides[2..].copy_from_slice(&b.strides[2..]);
        let fits = |v: usize| u32::try_from(v).ok();
        // Every index the shader forms, with the workgroups' padding past the edges: the output's
        // (batch entries × m × n, below the elements), and each operand's largest.
        let largest = |o: &Operand| {
            (0..4).try_fold(0usize, |sum, i| sum.checked_add(o.strides[i].checked_mul(o.dims[i].saturating_sub(1))?))
        };
        let elements = batch[0].checked_mul(batch[1])?.checked_mul(m)?.checked_mul(n)?;
        fits(elements)?;
        fits(largest(&a)?)?;
        fits(largest(&b)?)?;
        // The padded grid's rows and columns (the shader's `row0`, its columns) stay in u32 too.
        fits(m.div_ceil(BLOCK).checked_mul(BLOCK)?)?;
        fits(n.div_ceil(BLOCK).checked_mul(BLOCK)?)?;
        if elements == 0 {
            return None;
        }
        let to_u32 = |v: [usize; 4]| v.map(|x| x as u32);
        Some(Plan {
            m: fits(m)?,
            n: fits(n)?,
            k: fits(k)?,
            batch: [fits(batch[0])?, fits(batch[1])?],
            a: to_u32(a_strides),
            b: to_u32(b_strides),
            merge: 0,
            embedding: 0,
        })
    }

    /// This plan with `a` read through the hourglass's 2 × 2 token merge: `a`'s buffer holds a
    /// contiguous `[B, 2H, 2W, C]` grid, and the product's row `r`, column `q·C + c` (`q = 2dy +
    /// dx`) reads its token `(2(r / width) + dy, 2(r % width) + dx)`, channel `c`, where `width =
    /// W` (the merged grid's width) and `m = B·H·W`, `k = 4C` ([`merge_reference`]). `None` where
    /// the plan is not one contiguous matrix of whole merged rows.
    pub fn merged(self, width: u32) -> Option<Plan> {
        let contiguous = self.batch == [1, 1] && self.a[2] == self.k && self.a[3] == 1;
        if !contiguous || width == 0 || self.m % width != 0 || self.k == 0 || self.k % 4 != 0 {
            return None;
        }
        Some(Plan { merge: width, ..self })
    }

    /// This plan with an embedding `x = tokens @ W + w_bias` of `rank` tokens' columns read as
    /// `target` (a patch_in layer's output, never stored: [`Embedded`]). `None` for a rank past
    /// [`Embedded::MAX_RANK`], or where the target cannot take it: `a` must be one contiguous
    /// matrix of `k` columns (the embedding's width), the residual one of `n`.
    pub fn embedded(self, rank: usize, target: EmbeddedAs) -> Option<Plan> {
        let rank = u32::try_from(rank).ok().filter(|r| (1..=Embedded::MAX_RANK as u32).contains(r))?;
        let matrix = self.batch == [1, 1];
        let a_fits = self.a[2] == self.k && self.a[3] == 1 && self.merge == 0;
        match target {
            EmbeddedAs::A if !(matrix && a_fits && self.k > 0) => None,
            EmbeddedAs::Residual if !matrix => None,
            EmbeddedAs::A => Some(Plan { embedding: rank | 1 << 16, ..self }),
            EmbeddedAs::Residual => Some(Plan { embedding: rank | 2 << 16, ..self }),
        }
    }

    /// The 28 words of the shader's `info` uniform for the dispatch that starts at `offset`.
    pub fn info(&self, has_bias: bool, epilogue: Epilogue, norm: Option<&Prologue>, offset: [u32; 3]) -> [u32; 28] {
        let [a, b] = [self.a, self.b];
        let (eps, added, mode, [group, stride, first]) = match norm {
            None => (0.0, 0.0, 0, [0; 3]),
            Some(p) => match p.factor {
                None => (p.eps, 0.0, 1, [1, 0, 0]),
                Some(f) => (p.eps, f.added, 3, [f.group, f.stride, f.offset]),
            },
        };
        [
            self.m,
            self.n,
            self.k,
            self.batch[1],
            a[0],
            a[1],
            a[2],
            a[3],
            b[0],
            b[1],
            b[2],
            b[3],
            has_bias as u32,
            match epilogue {
                Epilogue::Residual => 1,
                Epilogue::Split { .. } => 2,
                Epilogue::Update { .. } => 3,
                _ => 0,
            },
            if epilogue == Epilogue::Geglu { self.n / 2 } else { 0 },
            f32::to_bits(added),
            offset[0],
            offset[1],
            offset[2],
            f32::to_bits(eps),
            mode,
            group,
            stride,
            first,
            if let Epilogue::Split { width } = epilogue { width } else { 0 },
            self.merge,
            if let Epilogue::Update { scale_bits } = epilogue { scale_bits } else { 0 },
            self.embedding,
        ]
    }

    /// The whole grid of `tile`'s blocks: blocks of n (of `n / 2` output columns, half a block's
    /// width, for GEGLU), blocks of m, batch entries.
    pub fn workgroups(&self, epilogue: Epilogue, tile: Tile) -> [u32; 3] {
        let block = tile.block();
        let x = match epilogue {
            Epilogue::Geglu => (self.n / 2).div_ceil(block / 2),
            _ => self.n.div_ceil(block),
        };
        [x, self.m.div_ceil(block), self.batch[0] * self.batch[1]]
    }

    /// The tiling for this product: [`Tile::Narrow`] where the wide grid has fewer than
    /// [`Tile::NARROW_BELOW`] blocks on a GPU; always [`Tile::Wide`] on a device that runs
    /// workgroups on CPU threads (SwiftShader, lavapipe: [`set_cpu_device`]), where there are no
    /// idle units to fill and the narrow blocks' extra loads and barriers made a sample 3.4×
    /// slower. The check forces each tiling in turn ([`check_against_reference`]).
    pub fn tile(&self, epilogue: Epilogue, cpu_device: bool) -> Tile {
        let wide = self.workgroups(epilogue, Tile::Wide).iter().try_fold(1u32, |p, &x| p.checked_mul(x));
        match wide {
            Some(blocks) if blocks < Tile::NARROW_BELOW && !cpu_device => Tile::Narrow,
            _ => Tile::Wide,
        }
    }

    /// The grid in dispatches of at most `limit` workgroups per axis: one where it fits (every
    /// shape the networks meet at the shipped sizes), else the grid cut into boxes, each
    /// workgroup in exactly one. Each output element is computed as in one dispatch, so the split
    /// changes no value.
    pub fn launches(&self, epilogue: Epilogue, tile: Tile, limit: u32) -> Vec<Launch> {
        let grid = self.workgroups(epilogue, tile);
        let limit = limit.max(1);
        let cuts = |total: u32| (0..total.div_ceil(limit)).map(move |i| (i * limit, (total - i * limit).min(limit)));
        let mut out = Vec::new();
        for (oz, cz) in cuts(grid[2]) {
            for (oy, cy) in cuts(grid[1]) {
                for (ox, cx) in cuts(grid[0]) {
                    out.push(Launch { offset: [ox, oy, oz], count: [cx, cy, cz] });
                }
            }
        }
        out
    }
}

/// What the shader does with `a @ b + bias` before it stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Epilogue {
    /// Stores it.
    #[default]
    Plain,
    /// Adds a residual of the output's shape (`residual + y`, as the blocks spell it).
    Residual,
    /// `y = [a | g]` (an even number of columns): stores `a · gelu(g)`, half as many columns.
    Geglu,
    /// The hourglass's token split: `y`'s rows are the tokens of a grid `width` wide, each of its
    /// `4C` columns one of four finer tokens' channels (the 2 × 2 patch, rows first), stored in the
    /// grid twice as fine and lerped with the skip there: `skip + (y − skip) · fac`
    /// ([`split_lerp_reference`]).
    Split { width: u32 },
    /// An ODE solver's state update: `base + scale · y` (`base` of the output's shape, in the
    /// residual binding; `scale` as f32 bits, [`Epilogue::update`]), as
    /// `shaders/solver_update.wgsl` computes it from a stored `y`: the update costs no dispatch.
    Update { scale_bits: u32 },
}

impl Epilogue {
    /// [`Epilogue::Update`] by `scale`.
    pub fn update(scale: f32) -> Epilogue {
        Epilogue::Update { scale_bits: scale.to_bits() }
    }

    /// Whether it reads a tensor of the output's shape (the residual binding).
    pub fn reads_residual(self) -> bool {
        matches!(self, Epilogue::Residual | Epilogue::Split { .. } | Epilogue::Update { .. })
    }
}

/// A patch_in layer's output `x = tokens @ weight + bias`, given to a matmul in place of `x`
/// (its `a`, or its residual) and recomputed where the matmul reads it: one dispatch fewer per
/// network evaluation (the patch_in product's), and the same values to the bit (the shader
/// computes each element as its own product would have: [`embedded_reference`]). For the few
/// channels a latent token has; `packed` is `[weight; bias]`, `[rank + 1, width]`
/// ([`Embedded::pack`], built once at load).
#[derive(Clone, Debug)]
pub struct Embedded {
    /// `[rows, rank]`, the layer's input flattened to rows.
    pub tokens: Tensor<2>,
    pub packed: Tensor<2>,
}

/// Where a matmul reads an [`Embedded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddedAs {
    /// As `a` (the product's rows; with or without the norm prologue).
    A,
    /// As the residual epilogue's residual.
    Residual,
}

impl Embedded {
    /// The most input channels an embedding takes: each element read costs `rank` products, on
    /// a CPU adapter too (SwiftShader in CI). At 12 (the tiny model's flow, 256 rows) the tiny
    /// sample took 8 % longer on SwiftShader; at 4 (latents) no measurable time.
    pub const MAX_RANK: usize = 8;

    /// `[weight; bias]` (`weight` `[rank, width]`, burn's `Linear` layout) as the shader reads an
    /// embedding's layer; `None` past [`Embedded::MAX_RANK`].
    pub fn pack(weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Option<Tensor<2>> {
        let [rank, width] = weight.dims();
        if rank == 0 || rank > Self::MAX_RANK {
            return None;
        }
        let bias = match bias {
            Some(b) => b.clone().unsqueeze::<2>(),
            None => Tensor::zeros([1, width], &weight.device()),
        };
        Some(Tensor::cat(vec![weight.clone(), bias], 0))
    }

    pub fn rank(&self) -> usize {
        self.tokens.dims()[1]
    }

    pub fn width(&self) -> usize {
        self.packed.dims()[1]
    }
}

/// The host reference of an embedding's values: `x[m, k] = (Σ_c tokens[m, c] · packed[c, k]) +
/// packed[rank, k]`, the sum a chain of fused multiply-adds from 0 in the order of c, as the
/// shader computes both the embedding and a product whose k fits one of its tiles.
pub fn embedded_reference(tokens: &[f32], packed: &[f32], rank: usize, width: usize) -> Vec<f32> {
    let rows = tokens.len() / rank.max(1);
    let mut x = Vec::with_capacity(rows * width);
    for row in 0..rows {
        for k in 0..width {
            let sum = (0..rank).fold(0f32, |acc, c| tokens[row * rank + c].mul_add(packed[c * width + k], acc));
            x.push(sum + packed[rank * width + k]);
        }
    }
    x
}

/// An RMS norm of `a`'s rows folded into the matmul (the pre-norm before a linear layer, so that
/// the norm costs no dispatch of its own): `out[m, n] = (1 / rms_m) · Σₖ a[m, k] · f[m, k] ·
/// b[k, n]`, then the bias and the epilogue, with `rms_m = sqrt(Σₖ a[m, k]² / K + eps)` as
/// `model::norm::rms_norm` computes it and `f` the [`Factor`] (1 without one). Two-dimensional
/// products only (a linear layer's rows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prologue {
    pub eps: f32,
    pub factor: Option<Factor>,
}

/// `f[m, k] = added + factor[(m / group) · stride + offset + k]`: an AdaRMSNorm's `1 +
/// modulation` (`added` 1, one row of modulations per image's `group` rows, the norm's columns of
/// all the norms' modulations side by side), or an RmsNorm's scale (`added` 0, stride 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factor {
    pub added: f32,
    pub group: u32,
    pub stride: u32,
    pub offset: u32,
}

impl Factor {
    /// The layout for `rows` rows of `a` and factors `[factor_rows, stride]` whose columns
    /// `offset..offset + k` apply; `None` where the rows do not split evenly into the factor's
    /// rows, the columns run past its width, or an index leaves u32.
    pub fn new(added: f32, rows: usize, k: usize, factor_rows: usize, stride: usize, offset: usize) -> Option<Factor> {
        if factor_rows == 0 || !rows.is_multiple_of(factor_rows) || offset.checked_add(k)? > stride {
            return None;
        }
        let fits = |v: usize| u32::try_from(v).ok();
        fits(factor_rows.checked_mul(stride)?)?;
        Some(Factor { added, group: fits(rows / factor_rows)?, stride: fits(stride)?, offset: fits(offset)? })
    }

    fn at(&self, factor: &[f32], row: usize, col: usize) -> f32 {
        self.added + factor[(row / self.group as usize) * self.stride as usize + self.offset as usize + col]
    }
}

/// Where column `col` of merged row `row` lives in the finer `[B, 2H, 2W, C]` grid (`width = W`):
/// the index of token `(2(row / width) + dy, 2(row % width) + dx)`, channel `c`, for `col = (2dy +
/// dx)·C + c`. The one map of the token merge and split (`merge_2x2`, `split_2x2`), both ways.
fn finer_index(row: usize, col: usize, width: usize, channels: usize) -> usize {
    let q = col / channels;
    let token = (2 * (row / width) + q / 2) * 2 * width + 2 * (row % width) + q % 2;
    token * channels + col % channels
}

/// The split epilogue's host reference: `y` `[B·H·W, 4C]` (rows = tokens of a `width`-wide grid),
/// split into the `[B, 2H, 2W, C]` grid as the hourglass's `split_2x2` lays it out, and lerped with
/// `skip` (laid out as the output) by `fac`.
pub fn split_lerp_reference(y: &[f32], channels: usize, width: usize, skip: &[f32], fac: f32) -> Vec<f32> {
    let mut out = vec![0.0; y.len()];
    for (j, up) in y.iter().enumerate() {
        let i = finer_index(j / (4 * channels), j % (4 * channels), width, channels);
        out[i] = skip[i] + (up - skip[i]) * fac;
    }
    out
}

/// The merge prologue's host reference: `x` a `[B, 2H, 2W, C]` grid (`width = W`), gathered into
/// the `[B·H·W, 4C]` matrix the hourglass's `merge_2x2` makes of it ([`Plan::merged`]).
pub fn merge_reference(x: &[f32], channels: usize, width: usize) -> Vec<f32> {
    (0..x.len()).map(|j| x[finer_index(j / (4 * channels), j % (4 * channels), width, channels)]).collect()
}

/// [`Epilogue::Update`]'s host reference: `base + scale · y`, as the solver's separate update
/// (`solver_update_reference`) adds a stored product.
pub fn update_reference(base: &[f32], y: &[f32], scale: f32) -> Vec<f32> {
    super::solver_update_reference(base, &[(y, scale)])
}

/// burn's `gelu` as its wgpu backend computes it, step by step: `x · (erf(x / √2) + 1) / 2`, with
/// cubecl's erf polyfill (Abramowitz & Stegun 7.1.26, error below 1.5·10⁻⁷); the GEGLU epilogue's
/// host reference.
pub fn gelu_reference(x: f32) -> f32 {
    let erf = |x: f32| {
        let ax = x.abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * ax);
        let tmp = ((((1.061_405_4 * t + -1.453_152) * t) + 1.421_413_7) * t + -0.284_496_74) * t + 0.254_829_6;
        let pos = 1.0 - (tmp * t * (-ax * ax).exp());
        if x < 0.0 { -pos } else { pos }
    };
    x * (erf(x / std::f32::consts::SQRT_2) + 1.0) / 2.0
}

/// The GEGLU epilogue's host reference: rows of `2 · half` values `[a | g]` to rows of `a · gelu(g)`.
pub fn geglu_reference(y: &[f32], half: usize) -> Vec<f32> {
    y.chunks(2 * half).flat_map(|row| (0..half).map(|j| row[j] * gelu_reference(row[half + j]))).collect()
}

/// The host reference: what the shader computes for `plan` on flat buffers `a` and `b` (read
/// through the plan's strides) and an optional bias of `n` values; `out` contiguous.
pub fn matmul_reference(plan: &Plan, a: &[f32], b: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (m, n, k) = (plan.m as usize, plan.n as usize, plan.k as usize);
    let [b1, b2] = plan.batch.map(|v| v as usize);
    let [sa, sb] = [plan.a, plan.b].map(|s| s.map(|v| v as usize));
    let mut out = vec![0.0; b1 * b2 * m * n];
    for z1 in 0..b1 {
        for z2 in 0..b2 {
            let a_base = z1 * sa[0] + z2 * sa[1];
            let b_base = z1 * sb[0] + z2 * sb[1];
            let out_base = (z1 * b2 + z2) * m * n;
            for row in 0..m {
                for col in 0..n {
                    let mut acc = 0.0f32;
                    for i in 0..k {
                        acc = a[a_base + row * sa[2] + i * sa[3]].mul_add(b[b_base + i * sb[2] + col * sb[3]], acc);
                    }
                    out[out_base + row * n + col] = acc + bias.map_or(0.0, |bias| bias[col]);
                }
            }
        }
    }
    out
}

/// [`matmul_reference`] with the norm `prologue` folded in (two-dimensional `plan`), `factor`
/// the values its [`Factor`] indexes (empty without one): the shader's host reference, summed in
/// its order per row (the sum of squares in one pass, the products in another).
pub fn normed_matmul_reference(
    plan: &Plan,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    prologue: &Prologue,
    factor: &[f32],
) -> Vec<f32> {
    let (m, n, k) = (plan.m as usize, plan.n as usize, plan.k as usize);
    let [sa, sb] = [plan.a, plan.b].map(|s| s.map(|v| v as usize));
    let mut out = vec![0.0; m * n];
    for row in 0..m {
        let x = |i: usize| a[row * sa[2] + i * sa[3]];
        let squares = (0..k).fold(0.0f32, |acc, i| x(i).mul_add(x(i), acc));
        let inverse = 1.0 / (squares / k as f32 + prologue.eps).sqrt();
        let scaled: Vec<f32> = (0..k).map(|i| x(i) * prologue.factor.map_or(1.0, |f| f.at(factor, row, i))).collect();
        for col in 0..n {
            let acc = (0..k).fold(0.0f32, |acc, i| scaled[i].mul_add(b[i * sb[2] + col * sb[3]], acc));
            out[row * n + col] = acc * inverse + bias.map_or(0.0, |bias| bias[col]);
        }
    }
    out
}

/// `a @ b` with burn's broadcasting of the batch axes: our shader where it runs and applies,
/// burn's matmul everywhere else. The browser's WebGPU module (`cfg(wgsl_only)`, set by
/// `build.rs`) links no burn matmul: there the shader takes every shape, and what it cannot take
/// is recorded for the pipeline to report ([`super::take_refusal`]).
pub fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    #[cfg(wgsl_only)]
    return gpu::matmul_or_refuse(a, b, None, None, Epilogue::Plain);
    #[cfg(not(wgsl_only))]
    {
        #[cfg(feature = "kernels")]
        if super::network_kernels_run(&a.device()) {
            return gpu::matmul(a.clone(), b.clone(), None, None, Epilogue::Plain).unwrap_or_else(|| a.matmul(b));
        }
        a.matmul(b)
    }
}

/// `x @ weight + bias` (burn's `Linear`: `weight` is `[d_in, d_out]`), with the bias added in the
/// same kernel where the shader runs.
pub fn linear<const D: usize>(x: Tensor<D>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<D> {
    #[cfg(wgsl_only)]
    return gpu::linear_or_refuse(x, weight, bias, None, Epilogue::Plain);
    #[cfg(not(wgsl_only))]
    {
        #[cfg(feature = "kernels")]
        if super::network_kernels_run(&x.device()) {
            return gpu::linear(x.clone(), weight.clone(), bias.clone(), None, Epilogue::Plain, None)
                .unwrap_or_else(|| gpu::burn_linear(x, weight, bias));
        }
        burn::tensor::module::linear(x, weight, bias)
    }
}

/// `residual + linear(x, weight, bias)`: the pre-norm blocks' skip connection, added in the
/// matmul's epilogue where the shader runs (one dispatch fewer per block).
pub fn linear_residual<const D: usize>(
    residual: Tensor<D>,
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device())
        && let Some(y) =
            gpu::linear(x.clone(), weight.clone(), bias.clone(), Some(residual.clone()), Epilogue::Residual, None)
    {
        return y;
    }
    residual + linear(x, weight, bias)
}

/// GEGLU's `a · gelu(g)` for `[a | g] = linear(x, weight, bias)` (an even number of columns), in
/// the matmul's epilogue where the shader runs; `None` elsewhere, so that the caller spells it in
/// burn (`model::feedforward::Geglu`).
pub fn linear_geglu<const D: usize>(x: &Tensor<D>, weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) && weight.dims()[1] % 2 == 0 {
        return gpu::linear(x.clone(), weight.clone(), bias.cloned(), None, Epilogue::Geglu, None);
    }
    let _ = (x, weight, bias);
    None
}

/// The hourglass's up-path token split, `skip + (split_2x2(linear(x)) − skip) · fac`, in one
/// dispatch of our WGSL where it runs ([`Epilogue::Split`]): `x` `[B, H, W, D]`, `weight` `[D,
/// 4C]`, `skip` `[B, 2H, 2W, C]`, `fac` `[1]`. `None` elsewhere, so that the caller spells it in burn.
pub fn linear_split_lerp(
    x: &Tensor<4>,
    weight: &Tensor<2>,
    bias: Option<&Tensor<1>>,
    skip: &Tensor<4>,
    fac: &Tensor<1>,
) -> Option<Tensor<4>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) {
        return gpu::linear_split(x.clone(), weight.clone(), bias.cloned(), skip.clone(), fac.clone());
    }
    let _ = (x, weight, bias, skip, fac);
    None
}

/// The hourglass's down-path token merge and its Linear, `linear(merge_2x2(x))`, in one dispatch of
/// our WGSL where it runs ([`Plan::merged`]): `x` `[B, 2H, 2W, C]`, `weight` `[4C, D]`; the result
/// `[B, H, W, D]`. `None` elsewhere, so that the caller spells it in burn.
pub fn linear_merged(x: &Tensor<4>, weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Option<Tensor<4>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) {
        return gpu::linear_merged(x.clone(), weight.clone(), bias.cloned());
    }
    let _ = (x, weight, bias);
    None
}

/// `residual + linear(x, weight, bias)` ([`linear_residual`]) where the residual is an
/// [`Embedded`], read in place: our shader where it runs; `None` elsewhere, for the caller to
/// compute the embedding's layer and add it. `x` `[rows, d_in]`, the embedding `rows` × `d_out`.
pub fn linear_residual_embedded(
    residual: &Embedded,
    x: &Tensor<2>,
    weight: &Tensor<2>,
    bias: Option<&Tensor<1>>,
) -> Option<Tensor<2>> {
    #[cfg(feature = "kernels")]
    if super::network_kernels_run(&x.device()) {
        return gpu::linear_embedded(residual, EmbeddedAs::Residual, Some(x.clone()), weight, bias, None);
    }
    let _ = (residual, x, weight, bias);
    None
}

impl RowNorm {
    /// [`RowNorm::linear`] of an [`Embedded`] (a patch_in layer's output, read in place), the
    /// plain epilogue: `linear(norm(x) · f, weight, bias)` in one dispatch of our WGSL where it
    /// runs; `None` elsewhere, for the caller to compute the embedding's layer first.
    pub fn linear_embedded(
        self,
        x: &Embedded,
        factor: Option<(&Tensor<2>, usize, f32)>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
    ) -> Option<Tensor<2>> {
        #[cfg(feature = "kernels")]
        if let RowNorm::Rms { eps } = self
            && super::network_kernels_run(&x.tokens.device())
        {
            let norm = gpu::Norm { eps, factor: factor.map(|(f, offset, added)| (f.clone(), offset, added)) };
            return gpu::linear_embedded(x, EmbeddedAs::A, None, weight, bias, Some(norm));
        }
        let _ = (self, x, factor, weight, bias);
        None
    }

    /// `linear(norm(x) · f, weight, bias)` and its epilogue in one dispatch of our WGSL, the norm
    /// folded into the matmul ([`Prologue`]), where it runs; `None` elsewhere (and for the unit
    /// norm, or a shape it does not take), so that the caller runs the norm, then the layer.
    /// `factor`: `f` as rows `[G, ≥ offset + C]`, each for `rows / G` consecutive rows of `x`,
    /// read from column `offset`, plus `added`: `(modulations, column, 1.0)` for an AdaRMSNorm,
    /// `(scale as [1, C], 0, 0.0)` for an RmsNorm. `residual` with [`Epilogue::Residual`] only.
    pub fn linear<const D: usize>(
        self,
        x: &Tensor<D>,
        factor: Option<(&Tensor<2>, usize, f32)>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
        epilogue: Epilogue,
        residual: Option<&Tensor<D>>,
    ) -> Option<Tensor<D>> {
        #[cfg(feature = "kernels")]
        if let RowNorm::Rms { eps } = self
            && super::network_kernels_run(&x.device())
        {
            let norm = gpu::Norm { eps, factor: factor.map(|(f, offset, added)| (f.clone(), offset, added)) };
            return gpu::linear(x.clone(), weight.clone(), bias.cloned(), residual.cloned(), epilogue, Some(norm));
        }
        let _ = (self, x, factor, weight, bias, epilogue, residual);
        None
    }
}

/// Our shader against [`matmul_reference`] on `device`, over shapes that reach its edges: sizes
/// off the 64 block, a broadcast batch axis, a transposed view read through its strides, a fused
/// bias, both epilogues, and grids split into several dispatches. Returns the largest error
/// relative to `1 + |reference|`. For the browser tests (`Generator.checkMatmul`); an error where
/// the shader does not run on `device`.
pub async fn check_against_reference(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    if !super::network_kernels_run(device) {
        return Err(super::KernelError("our WGSL matmul does not run on this device".into()));
    }
    let mut worst = 0f32;
    for tile in [Tile::Wide, Tile::Narrow] {
        let _forced = ForcedTile::new(tile);
        worst = worst.max(check_cases(device, tile).await?);
    }
    Ok(worst.max(check_past_the_limit(device).await?))
}

thread_local! {
    /// The tiling every product on this thread takes while a [`ForcedTile`] lives, in place of
    /// [`Plan::tile`]'s choice: so that the check runs each of its cases through both entry points.
    static FORCED_TILE: std::cell::Cell<Option<Tile>> = const { std::cell::Cell::new(None) };
}

struct ForcedTile(Option<Tile>);

impl ForcedTile {
    fn new(tile: Tile) -> ForcedTile {
        ForcedTile(FORCED_TILE.with(|f| f.replace(Some(tile))))
    }
}

impl Drop for ForcedTile {
    fn drop(&mut self) {
        FORCED_TILE.with(|f| f.set(self.0));
    }
}

static CPU_DEVICE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records whether the WGSL device runs its workgroups on CPU threads (a WebGPU adapter of type
/// CPU: SwiftShader, lavapipe), for [`Plan::tile`]. Set by whoever opens the device (the wasm
/// API, once per module instance: it holds one device); unset means a GPU.
pub fn set_cpu_device(cpu: bool) {
    CPU_DEVICE.store(cpu, std::sync::atomic::Ordering::Relaxed);
}

/// The tiling `plan` takes here: the forced one while a check runs, else [`Plan::tile`]'s.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn tile_for(plan: &Plan, epilogue: Epilogue) -> Tile {
    let cpu_device = CPU_DEVICE.load(std::sync::atomic::Ordering::Relaxed);
    FORCED_TILE.with(|f| f.get()).unwrap_or_else(|| plan.tile(epilogue, cpu_device))
}

/// [`check_against_reference`]'s cases, every product through `tile`.
async fn check_cases(device: &burn::tensor::Device, tile: Tile) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let data = super::check_values;
    let tensor = |v: &[f32], shape: Vec<usize>| Tensor::<4>::from_data(TensorData::new(v.to_vec(), shape), device);
    let error = super::worst_relative_error::<4>;
    let refuse = || super::KernelError("a check case has no plan".into());
    let mut worst = 0f32;
    // Plain, sizes off the block; and a broadcast batch axis.
    for (sa, sb) in [([1, 1, 67, 19], [1, 1, 19, 70]), ([2, 3, 5, 8], [1, 3, 8, 3])] {
        let (a, b) = (data(sa.iter().product(), 1), data(sb.iter().product(), 2));
        let plan =
            Plan::new(Operand::contiguous(&sa).ok_or_else(refuse)?, Operand::contiguous(&sb).ok_or_else(refuse)?)
                .ok_or_else(refuse)?;
        let got = matmul(tensor(&a, sa.to_vec()), tensor(&b, sb.to_vec()));
        worst = worst.max(error(got, &matmul_reference(&plan, &a, &b, None)).await?);
    }
    // kᵀ as attention reads it: a swapped view, no copy.
    let (batch, n, d) = (3, 70, 4);
    let (q, keys) = (data(batch * n * d, 3), data(batch * n * d, 4));
    let plan = Plan::new(
        Operand::contiguous(&[1, batch, n, d]).ok_or_else(refuse)?,
        Operand::new(&[1, batch, d, n], &[0, n * d, 1, d]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let keys_t = tensor(&keys, vec![1, batch, n, d]).swap_dims(2, 3);
    let got = matmul(tensor(&q, vec![1, batch, n, d]), keys_t);
    worst = worst.max(error(got, &matmul_reference(&plan, &q, &keys, None)).await?);
    // A linear layer with its bias.
    let (rows, d_in, d_out) = (10, 33, 17);
    let (x, w, bias) = (data(rows * d_in, 5), data(d_in * d_out, 6), data(d_out, 7));
    let plan = Plan::new(
        Operand::contiguous(&[rows, d_in]).ok_or_else(refuse)?,
        Operand::contiguous(&[d_in, d_out]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let weight = Tensor::<2>::from_data(TensorData::new(w.clone(), [d_in, d_out]), device);
    let bias_t = Tensor::<1>::from_data(TensorData::new(bias.clone(), [d_out]), device);
    let y = linear(tensor(&x, vec![1, 2, 5, d_in]), weight, Some(bias_t));
    worst = worst.max(error(y, &matmul_reference(&plan, &x, &w, Some(&bias))).await?);
    // The epilogues, on sizes off their blocks: a residual added after the bias; GEGLU on 37
    // output columns (two blocks of 32) with a bias on both halves.
    let (rows, d_in, d_out) = (67, 19, 74);
    let (x, w, bias, skip) = (data(rows * d_in, 8), data(d_in * d_out, 9), data(d_out, 10), data(rows * d_out, 11));
    let plan = Plan::new(
        Operand::contiguous(&[rows, d_in]).ok_or_else(refuse)?,
        Operand::contiguous(&[d_in, d_out]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let product = matmul_reference(&plan, &x, &w, Some(&bias));
    let weight = || Tensor::<2>::from_data(TensorData::new(w.clone(), [d_in, d_out]), device);
    let bias_t = || Some(Tensor::<1>::from_data(TensorData::new(bias.clone(), [d_out]), device));
    let skip_t = tensor(&skip, vec![1, 1, rows, d_out]);
    let y = linear_residual(skip_t, tensor(&x, vec![1, 1, rows, d_in]), weight(), bias_t());
    let want: Vec<f32> = skip.iter().zip(&product).map(|(r, y)| r + y).collect();
    worst = worst.max(error(y, &want).await?);
    let y = linear_geglu(&tensor(&x, vec![1, 1, rows, d_in]), &weight(), bias_t().as_ref())
        .ok_or_else(|| super::KernelError("the GEGLU epilogue does not run on this device".into()))?;
    worst = worst.max(error(y, &geglu_reference(&product, d_out / 2)).await?);
    // A grid split into dispatches: at most 2 workgroups per axis, so that small sizes split on
    // every axis (3 × 2 × 6 workgroups in 6 dispatches; GEGLU's 65 columns in 3 blocks of 32),
    // with a bias, a broadcast batch axis and each epilogue.
    let (sa, sb) = ([2, 3, 67, 19], [1, 3, 19, 130]);
    let (a, b, bias) = (data(sa.iter().product(), 12), data(sb.iter().product(), 13), data(130, 14));
    let skip = data(2 * 3 * 67 * 130, 15);
    let plan = Plan::new(Operand::contiguous(&sa).ok_or_else(refuse)?, Operand::contiguous(&sb).ok_or_else(refuse)?)
        .ok_or_else(refuse)?;
    let product = matmul_reference(&plan, &a, &b, Some(&bias));
    let bias_t = || Some(Tensor::<1>::from_data(TensorData::new(bias.clone(), [130]), device));
    for epilogue in [Epilogue::Plain, Epilogue::Residual, Epilogue::Geglu, Epilogue::update(0.75)] {
        let residual = epilogue.reads_residual().then(|| tensor(&skip, vec![2, 3, 67, 130]));
        let launches = plan.launches(epilogue, tile, 2).len() as u64;
        let before = super::dispatches()[super::Shader::Matmul as usize].1;
        let y = split(tensor(&a, sa.to_vec()), tensor(&b, sb.to_vec()), bias_t(), residual, epilogue, None, 2)
            .ok_or_else(refuse)?;
        let took = super::dispatches()[super::Shader::Matmul as usize].1 - before;
        if took != launches || launches < 6 {
            return Err(super::KernelError(format!("the split grid took {took} dispatches, {launches} planned")));
        }
        let want = match epilogue {
            Epilogue::Plain => product.clone(),
            Epilogue::Residual => skip.iter().zip(&product).map(|(r, y)| r + y).collect(),
            Epilogue::Geglu => geglu_reference(&product, 65),
            Epilogue::Update { scale_bits } => update_reference(&skip, &product, f32::from_bits(scale_bits)),
            Epilogue::Split { .. } => return Err(refuse()),
        };
        worst = worst.max(error(y, &want).await?);
    }
    // The norm folded in (the pre-norm blocks): 3 images of 23 tokens (69 rows, so that a block of
    // 64 rows spans images), rows of 150 values (9 tiles of k and a partial one); an AdaRMSNorm's
    // modulation in columns 7..157 of modulations 170 wide, an RmsNorm's scale, no factor; each
    // epilogue; and a grid split into one workgroup per dispatch.
    let (images, tokens, d_in, d_out) = (3, 23, 150, 74);
    let rows = images * tokens;
    // The weights at a linear layer's scale (~1/√150; 1/8 keeps them exact): values ~1.5 would
    // give sums ~40, whose f32 rounding in any order is ~10⁻⁵ of 1 + |sum|.
    let w: Vec<f32> = data(d_in * d_out, 19).iter().map(|v| v / 8.0).collect();
    let (x, bias) = (data(rows * d_in, 18), data(d_out, 20));
    let (modulations, scale, skip) = (data(images * 170, 21), data(d_in, 22), data(rows * d_out, 23));
    let plan = Plan::new(
        Operand::contiguous(&[rows, d_in]).ok_or_else(refuse)?,
        Operand::contiguous(&[d_in, d_out]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let eps = 1e-6;
    let modulated = Factor::new(1.0, rows, d_in, images, 170, 7).ok_or_else(refuse)?;
    let scaled = Factor::new(0.0, rows, d_in, 1, d_in, 0).ok_or_else(refuse)?;
    let weight = Tensor::<2>::from_data(TensorData::new(w.clone(), [d_in, d_out]), device);
    let bias_t = Tensor::<1>::from_data(TensorData::new(bias.clone(), [d_out]), device);
    let modulations_t = Tensor::<2>::from_data(TensorData::new(modulations.clone(), [images, 170]), device);
    let scale_t = Tensor::<2>::from_data(TensorData::new(scale.clone(), [1, d_in]), device);
    let x_t = tensor(&x, vec![images, 1, tokens, d_in]);
    let skip_t = tensor(&skip, vec![images, 1, tokens, d_out]);
    let cases = [
        (Some((&modulations_t, 7, 1.0)), Some(modulated), &modulations, Epilogue::Plain),
        (Some((&modulations_t, 7, 1.0)), Some(modulated), &modulations, Epilogue::Geglu),
        (Some((&scale_t, 0, 0.0)), Some(scaled), &scale, Epilogue::Residual),
        (None, None, &scale, Epilogue::Plain),
        // A velocity network's last layer with the solver's update (`Backbone`'s `patch_out`).
        (Some((&scale_t, 0, 0.0)), Some(scaled), &scale, Epilogue::update(-0.3125)),
    ];
    let rms = RowNorm::Rms { eps };
    let no_norm = || super::KernelError("the folded norm does not run on this device".into());
    for (factor_t, factor, values, epilogue) in cases {
        let residual = epilogue.reads_residual().then_some(&skip_t);
        let y = rms.linear(&x_t, factor_t, &weight, Some(&bias_t), epilogue, residual).ok_or_else(no_norm)?;
        let product = normed_matmul_reference(&plan, &x, &w, Some(&bias), &Prologue { eps, factor }, values);
        let want = match epilogue {
            Epilogue::Plain => product,
            Epilogue::Residual => skip.iter().zip(&product).map(|(r, y)| r + y).collect(),
            Epilogue::Geglu => geglu_reference(&product, d_out / 2),
            Epilogue::Update { scale_bits } => update_reference(&skip, &product, f32::from_bits(scale_bits)),
            Epilogue::Split { .. } => return Err(refuse()),
        };
        worst = worst.max(error(y, &want).await?);
    }
    let product =
        normed_matmul_reference(&plan, &x, &w, Some(&bias), &Prologue { eps, factor: Some(modulated) }, &modulations);
    for epilogue in [Epilogue::Plain, Epilogue::Geglu] {
        let launches = plan.launches(epilogue, tile, 1).len() as u64;
        let before = super::dispatches()[super::Shader::Matmul as usize].1;
        let x_2d = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, d_in]), device);
        let norm = Some((eps, modulations_t.clone(), 7, 1.0));
        let y = split(x_2d, weight.clone(), Some(bias_t.clone()), None, epilogue, norm, 1).ok_or_else(refuse)?;
        let took = super::dispatches()[super::Shader::Matmul as usize].1 - before;
        if took != launches || launches < 4 {
            return Err(super::KernelError(format!("the normed split took {took} dispatches, {launches} planned")));
        }
        let want = if epilogue == Epilogue::Geglu { geglu_reference(&product, d_out / 2) } else { product.clone() };
        let got = y.reshape([1, 1, rows, want.len() / rows]);
        worst = worst.max(error(got, &want).await?);
    }
    // The hourglass's token split: 2 images of a 3 × 5 grid (30 rows: a block of 64 rows spans
    // both), 9 channels per finer token (36 columns: an invocation's four columns straddle two
    // finer tokens), a bias, the skip lerped in by 0.375.
    let (images, grid_h, grid_w, d_in, channels, fac) = (2, 3, 5, 19, 9, 0.375f32);
    let rows = images * grid_h * grid_w;
    let (x, w, bias) = (data(rows * d_in, 24), data(d_in * 4 * channels, 25), data(4 * channels, 26));
    let skip = data(rows * 4 * channels, 27);
    let plan = Plan::new(
        Operand::contiguous(&[rows, d_in]).ok_or_else(refuse)?,
        Operand::contiguous(&[d_in, 4 * channels]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let want = split_lerp_reference(&matmul_reference(&plan, &x, &w, Some(&bias)), channels, grid_w, &skip, fac);
    let before = super::dispatches()[super::Shader::Matmul as usize].1;
    let y = linear_split_lerp(
        &tensor(&x, vec![images, grid_h, grid_w, d_in]),
        &Tensor::<2>::from_data(TensorData::new(w, [d_in, 4 * channels]), device),
        Some(&Tensor::<1>::from_data(TensorData::new(bias, [4 * channels]), device)),
        &tensor(&skip, vec![images, 2 * grid_h, 2 * grid_w, channels]),
        &Tensor::<1>::from_data(TensorData::new(vec![fac], [1]), device),
    )
    .ok_or_else(|| super::KernelError("the split epilogue does not run on this device".into()))?;
    if super::dispatches()[super::Shader::Matmul as usize].1 - before != 1 {
        return Err(super::KernelError("the split epilogue took more than one dispatch".into()));
    }
    worst = worst.max(error(y, &want).await?);
    // The hourglass's token merge, read in place: 2 images of a 6 × 10 grid merged to 3 × 5 (30
    // rows), 9 channels per finer token (k = 36: a step of 16 values of k straddles tokens), a bias.
    let (images, grid_h, grid_w, channels, d_out) = (2, 3, 5, 9, 13);
    let rows = images * grid_h * grid_w;
    let (x, w, bias) = (data(rows * 4 * channels, 28), data(4 * channels * d_out, 29), data(d_out, 30));
    let plan = Plan::new(
        Operand::contiguous(&[rows, 4 * channels]).ok_or_else(refuse)?,
        Operand::contiguous(&[4 * channels, d_out]).ok_or_else(refuse)?,
    )
    .ok_or_else(refuse)?;
    let want = matmul_reference(&plan, &merge_reference(&x, channels, grid_w), &w, Some(&bias));
    let before = super::dispatches()[super::Shader::Matmul as usize].1;
    let y = linear_merged(
        &tensor(&x, vec![images, 2 * grid_h, 2 * grid_w, channels]),
        &Tensor::<2>::from_data(TensorData::new(w, [4 * channels, d_out]), device),
        Some(&Tensor::<1>::from_data(TensorData::new(bias, [d_out]), device)),
    )
    .ok_or_else(|| super::KernelError("the merge prologue does not run on this device".into()))?;
    if super::dispatches()[super::Shader::Matmul as usize].1 - before != 1 {
        return Err(super::KernelError("the merged matmul took more than one dispatch".into()));
    }
    worst = worst.max(error(y, &want).await?);
    worst = worst.max(check_embedded(device).await?);
    super::take_refusal()?;
    Ok(worst)
}

/// An embedding (a patch_in layer's output, 4 latent channels to 24 columns, a bias) read in
/// place: as the norm prologue's rows with a modulation (37 rows: off both tiles' blocks), and as
/// the residual of another layer; each one dispatch, against the references of the stored
/// embedding ([`embedded_reference`]).
async fn check_embedded(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let data = super::check_values;
    let error = super::worst_relative_error::<2>;
    let refuse = || super::KernelError("a check case has no plan".into());
    let matrix = |rows: usize, columns: usize| Operand::contiguous(&[rows, columns]).ok_or_else(refuse);
    let t2 = |v: &[f32], shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), device);
    let t1 = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
    let matmul_dispatches = || super::dispatches()[super::Shader::Matmul as usize].1;
    let (rows, rank, width, n) = (37, 4, 24, 20);
    let (tokens, w_in, b_in) = (data(rows * rank, 31), data(rank * width, 32), data(width, 33));
    let packed = Embedded::pack(&t2(&w_in, [rank, width]), Some(&t1(&b_in))).ok_or_else(refuse)?;
    let embedded = Embedded { tokens: t2(&tokens, [rows, rank]), packed };
    let packed_values: Vec<f32> = w_in.iter().chain(&b_in).copied().collect();
    let x = embedded_reference(&tokens, &packed_values, rank, width);
    let mut worst = 0f32;

    // As the normed rows: an AdaRMSNorm's 1 + modulation, read from column 24 of 48.
    let (w, bias, modulation) = (data(width * n, 34), data(n, 35), data(2 * width, 36));
    let plan = Plan::new(matrix(rows, width)?, matrix(width, n)?).ok_or_else(refuse)?;
    let factor = Factor::new(1.0, rows, width, 1, 2 * width, width).ok_or_else(refuse)?;
    let prologue = Prologue { eps: 1e-6, factor: Some(factor) };
    let want = normed_matmul_reference(&plan, &x, &w, Some(&bias), &prologue, &modulation);
    let before = matmul_dispatches();
    let modulations = t2(&modulation, [1, 2 * width]);
    let y = RowNorm::Rms { eps: 1e-6 }
        .linear_embedded(&embedded, Some((&modulations, width, 1.0)), &t2(&w, [width, n]), Some(&t1(&bias)))
        .ok_or_else(|| super::KernelError("the embedded prologue does not run on this device".into()))?;
    if matmul_dispatches() - before != 1 {
        return Err(super::KernelError("the embedded prologue took more than one dispatch".into()));
    }
    worst = worst.max(error(y, &want).await?);

    // As the residual of h @ w2 + bias2, h [rows, 9].
    let (d_in, h, w2, bias2) = (9, data(rows * 9, 37), data(9 * width, 38), data(width, 39));
    let plan = Plan::new(matrix(rows, d_in)?, matrix(d_in, width)?).ok_or_else(refuse)?;
    let want: Vec<f32> = matmul_reference(&plan, &h, &w2, Some(&bias2)).iter().zip(&x).map(|(y, r)| r + y).collect();
    let before = matmul_dispatches();
    let y = linear_residual_embedded(&embedded, &t2(&h, [rows, d_in]), &t2(&w2, [d_in, width]), Some(&t1(&bias2)))
        .ok_or_else(|| super::KernelError("the embedded residual does not run on this device".into()))?;
    if matmul_dispatches() - before != 1 {
        return Err(super::KernelError("the embedded residual took more than one dispatch".into()));
    }
    worst = worst.max(error(y, &want).await?);
    Ok(worst)
}

/// Past the real limit: 65,537 batch entries of a 1 × 1 product, in two dispatches, in the tiling
/// the plan picks (both tilings' offsets are checked on small grids in [`check_cases`]: this one
/// costs a CPU adapter seconds).
async fn check_past_the_limit(device: &burn::tensor::Device) -> Result<f32, super::KernelError> {
    use burn::tensor::TensorData;
    let refuse = || super::KernelError("a check case has no plan".into());
    let entries = MAX_WORKGROUPS as usize + 2;
    let (a, b) = (super::check_values(entries, 16), super::check_values(entries, 17));
    let shape = [1, entries, 1, 1];
    let plan =
        Plan::new(Operand::contiguous(&shape).ok_or_else(refuse)?, Operand::contiguous(&shape).ok_or_else(refuse)?)
            .ok_or_else(refuse)?;
    let tensor = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), shape.to_vec()), device);
    let got = matmul(tensor(&a), tensor(&b));
    let worst = super::worst_relative_error::<4>(got, &matmul_reference(&plan, &a, &b, None)).await?;
    super::take_refusal()?;
    Ok(worst)
}

/// The shader's launch in dispatches of at most `limit` workgroups per axis, where it runs, with
/// an RMS norm folded in where given: `(eps, factor rows, first column, added)`.
fn split<const D: usize>(
    a: Tensor<D>,
    b: Tensor<D>,
    bias: Option<Tensor<1>>,
    residual: Option<Tensor<D>>,
    epilogue: Epilogue,
    norm: Option<(f32, Tensor<2>, usize, f32)>,
    limit: u32,
) -> Option<Tensor<D>> {
    #[cfg(feature = "kernels")]
    {
        let norm = norm.map(|(eps, values, offset, added)| gpu::Norm { eps, factor: Some((values, offset, added)) });
        gpu::matmul_split(a, b, bias, residual, epilogue, norm, None, 0, None, limit)
    }
    #[cfg(not(feature = "kernels"))]
    {
        let _ = (a, b, bias, residual, epilogue, norm, limit);
        None
    }
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
    use super::{Embedded, EmbeddedAs, Epilogue, Factor, Operand, Plan, Prologue, Tile};

    enum Matmul {}
    enum MatmulNarrow {}
    enum MatmulEmbedded {}
    enum MatmulNarrowEmbedded {}

    /// An RMS norm to fold into the matmul ([`Prologue`]): eps, and the factor as rows of values,
    /// the first column and the constant added.
    pub struct Norm {
        pub eps: f32,
        pub factor: Option<(Tensor<2>, usize, f32)>,
    }

    fn operand(t: &CubeTensor) -> Option<Operand> {
        Operand::new(t.meta.shape(), t.meta.strides())
    }

    /// [`matmul`] for a linear layer: `x` flattened to rows, `weight` `[d_in, d_out]`, with the
    /// norm of those rows folded in where given.
    pub fn linear<const D: usize>(
        x: Tensor<D>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
        residual: Option<Tensor<D>>,
        epilogue: Epilogue,
        norm: Option<Norm>,
    ) -> Option<Tensor<D>> {
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows = x.shape().num_elements() / d_in.max(1);
        let flat: Tensor<2> = x.reshape([rows, d_in]);
        let residual = residual.map(|r| {
            let d_out = r.dims()[D - 1];
            r.reshape([rows, d_out])
        });
        let y = matmul_split(flat, weight, bias, residual, epilogue, norm, None, 0, None, super::MAX_WORKGROUPS)?;
        let mut out = dims;
        out[D - 1] = y.dims()[1];
        Some(y.reshape(out))
    }

    /// The product of an [`Embedded`] read as `target`: as `a` (`x` `None`), with the norm where
    /// given; or as the residual of `x @ weight + bias`.
    pub fn linear_embedded(
        e: &Embedded,
        target: EmbeddedAs,
        x: Option<Tensor<2>>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
        norm: Option<Norm>,
    ) -> Option<Tensor<2>> {
        let (a, epilogue) = match (target, x) {
            (EmbeddedAs::A, None) => (e.tokens.clone(), Epilogue::Plain),
            (EmbeddedAs::Residual, Some(x)) => (x, Epilogue::Residual),
            _ => return None,
        };
        let embedded = Some((e, target));
        matmul_split(a, weight.clone(), bias.cloned(), None, epilogue, norm, None, 0, embedded, super::MAX_WORKGROUPS)
    }

    /// [`linear`] where burn's matmul is not linked: a zero tensor of the output's shape, and a
    /// refusal recorded, where the shader cannot take it.
    #[cfg(wgsl_only)]
    pub fn linear_or_refuse<const D: usize>(
        x: Tensor<D>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
        residual: Option<Tensor<D>>,
        epilogue: Epilogue,
    ) -> Tensor<D> {
        let (dims, device) = (x.dims(), x.device());
        let d_out = weight.dims()[1];
        let mut out = dims;
        out[D - 1] = if epilogue == Epilogue::Geglu { d_out / 2 } else { d_out };
        linear(x, weight, bias, residual, epilogue, None).unwrap_or_else(|| refused(out, &device, "linear", dims))
    }

    /// [`matmul`] where burn's matmul is not linked, as [`linear_or_refuse`].
    #[cfg(wgsl_only)]
    pub fn matmul_or_refuse<const D: usize>(
        a: Tensor<D>,
        b: Tensor<D>,
        bias: Option<Tensor<1>>,
        residual: Option<Tensor<D>>,
        epilogue: Epilogue,
    ) -> Tensor<D> {
        let (da, db, device) = (a.dims(), b.dims(), a.device());
        let mut out = da;
        for i in 0..D - 2 {
            out[i] = da[i].max(db[i]);
        }
        out[D - 1] = db[D - 1];
        matmul(a, b, bias, residual, epilogue).unwrap_or_else(|| refused(out, &device, "matmul", da))
    }

    /// The stand-in for a product the shader cannot take: zeros, and a typed error for the
    /// pipeline's next readback. An empty output is no refusal (its zero elements are the product).
    #[cfg(wgsl_only)]
    fn refused<const D: usize>(
        out: [usize; D],
        device: &burn::tensor::Device,
        what: &str,
        operand: [usize; D],
    ) -> Tensor<D> {
        if out.contains(&0) {
            return Tensor::zeros(out, device);
        }
        super::super::refuse(format!(
            "our WGSL {what} cannot take an operand of shape {operand:?} (output {out:?}): it reads plain f32 \
             tensors with u32 indices, and this build has no other matmul"
        ));
        Tensor::zeros(out, device)
    }

    /// What [`linear`] computes, in burn ops: where a weight is not plain f32 (burn's
    /// dequantization path), or a shape the shader does not take.
    #[cfg(not(wgsl_only))]
    pub fn burn_linear<const D: usize>(x: Tensor<D>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<D> {
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows = x.shape().num_elements() / d_in.max(1);
        let flat: Tensor<2> = x.reshape([rows, d_in]);
        let mut y = flat.matmul(weight);
        if let Some(bias) = bias {
            y = y + bias.unsqueeze();
        }
        let mut out = dims;
        out[D - 1] = y.dims()[1];
        y.reshape(out)
    }

    /// `a @ b (+ bias)` and its epilogue, `a` on a WGSL device (checked by the caller); `None`
    /// where the shader does not take it (a shape, an operand on another backend or of another
    /// type, a residual of another shape), for the caller to spell in burn.
    pub fn matmul<const D: usize>(
        a: Tensor<D>,
        b: Tensor<D>,
        bias: Option<Tensor<1>>,
        residual: Option<Tensor<D>>,
        epilogue: Epilogue,
    ) -> Option<Tensor<D>> {
        matmul_split(a, b, bias, residual, epilogue, None, None, 0, None, super::MAX_WORKGROUPS)
    }

    /// The hourglass's up-path token split in one dispatch ([`Epilogue::Split`]): `x` `[B, H, W,
    /// D]` through `weight` `[D, 4C]` (and `bias`), split into `[B, 2H, 2W, C]` and lerped with
    /// `skip` (that shape) by `fac` (`[1]`). `None` where the shapes do not fit that or the shader
    /// does not take them.
    pub fn linear_split(
        x: Tensor<4>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
        skip: Tensor<4>,
        fac: Tensor<1>,
    ) -> Option<Tensor<4>> {
        let [b, h, w, d_in] = x.dims();
        let [skip_b, skip_h, skip_w, c] = skip.dims();
        if [skip_b, skip_h, skip_w] != [b, 2 * h, 2 * w] || weight.dims() != [d_in, 4 * c] || fac.dims() != [1] {
            return None;
        }
        let rows = b * h * w;
        let epilogue = Epilogue::Split { width: u32::try_from(w).ok()? };
        let skip = skip.reshape([rows, 4 * c]);
        let y = matmul_split(
            x.reshape([rows, d_in]),
            weight,
            bias,
            Some(skip),
            epilogue,
            None,
            Some(fac),
            0,
            None,
            super::MAX_WORKGROUPS,
        )?;
        Some(y.reshape([b, 2 * h, 2 * w, c]))
    }

    /// The hourglass's down-path token merge and its Linear in one dispatch ([`Plan::merged`]):
    /// `x` `[B, 2H, 2W, C]` through `weight` `[4C, D]` (and `bias`) to `[B, H, W, D]`. `None` where
    /// the shapes do not fit that or the shader does not take them.
    pub fn linear_merged(x: Tensor<4>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Option<Tensor<4>> {
        let [b, h2, w2, c] = x.dims();
        let (h, w) = (h2 / 2, w2 / 2);
        let d_out = weight.dims()[1];
        if h2 % 2 != 0 || w2 % 2 != 0 || weight.dims()[0] != 4 * c {
            return None;
        }
        let rows = b * h * w;
        let width = u32::try_from(w).ok()?;
        let y = matmul_split(
            x.reshape([rows, 4 * c]),
            weight,
            bias,
            None,
            Epilogue::Plain,
            None,
            None,
            width,
            None,
            super::MAX_WORKGROUPS,
        )?;
        Some(y.reshape([b, h, w, d_out]))
    }

    /// [`matmul`] with the norm of `a`'s rows folded in where given (two-dimensional products
    /// only), in dispatches of at most `limit` workgroups per axis: the checks split small grids
    /// with a small limit, so that the split runs on every device. `lerp`: the split epilogue's
    /// factor (`[1]`), given with [`Epilogue::Split`] only. `merge`: 0, or `a` read through the
    /// token merge of a grid that wide ([`Plan::merged`]; no norm with it). `embedded`: an
    /// embedding read as `a` (then `a` is its tokens, `[rows, rank]`) or as the residual (then
    /// `residual` is `None`; no norm with it: its tokens take the factor's binding).
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_split<const D: usize>(
        a: Tensor<D>,
        b: Tensor<D>,
        bias: Option<Tensor<1>>,
        residual: Option<Tensor<D>>,
        epilogue: Epilogue,
        norm: Option<Norm>,
        lerp: Option<Tensor<1>>,
        merge: u32,
        embedded: Option<(&Embedded, EmbeddedAs)>,
        limit: u32,
    ) -> Option<Tensor<D>> {
        let embedded_as = embedded.map(|(_, target)| target);
        let mut da = a.dims();
        if let Some((e, EmbeddedAs::A)) = embedded {
            // `a` holds the tokens; the product reads the embedding's rows, `width` wide.
            if D != 2 || da[D - 1] != e.rank() {
                return None;
            }
            da[D - 1] = e.width();
        }
        let db = b.dims();
        let mut out_dims = da;
        for i in 0..D - 2 {
            out_dims[i] = da[i].max(db[i]);
        }
        out_dims[D - 1] = match epilogue {
            Epilogue::Geglu if db[D - 1] % 2 == 0 => db[D - 1] / 2,
            Epilogue::Geglu => return None,
            _ => db[D - 1],
        };
        let embedded_residual = embedded_as == Some(EmbeddedAs::Residual);
        if residual.is_some() && embedded_residual {
            return None;
        }
        if (residual.is_some() || embedded_residual) != epilogue.reads_residual()
            || (embedded_residual && (epilogue != Epilogue::Residual || norm.is_some() || D != 2))
            || (embedded_as == Some(EmbeddedAs::A) && epilogue.reads_residual())
            || residual.as_ref().is_some_and(|r| r.dims() != out_dims)
            || lerp.is_some() != matches!(epilogue, Epilogue::Split { .. })
        {
            return None;
        }
        let ca = a.try_into_primitive::<Cube>().ok()?;
        let cb = b.try_into_primitive::<Cube>().ok()?;
        let cbias = match bias {
            Some(bias) => Some(bias.try_into_primitive::<Cube>().ok()?),
            None => None,
        };
        // Plain f32 only: a quantized weight (burn's dequantization path) stays with burn.
        let plain = |t: &CubeTensor| t.dtype == DType::F32 && t.qparams.is_none();
        if !plain(&ca) || !plain(&cb) || !cbias.as_ref().is_none_or(plain) {
            return None;
        }
        let a_operand = match embedded_as {
            Some(EmbeddedAs::A) => Operand::contiguous(&da),
            _ => operand(&ca),
        };
        let mut plan = a_operand.zip(operand(&cb)).and_then(|(oa, ob)| Plan::new(oa, ob))?;
        let (cpacked, ctokens) = match embedded {
            Some((e, target)) => {
                if e.packed.dims() != [e.rank() + 1, e.width()]
                    || e.tokens.dims()[0] != plan.m as usize
                    || (target == EmbeddedAs::Residual && e.width() != plan.n as usize)
                {
                    return None;
                }
                plan = plan.embedded(e.rank(), target)?;
                (Some(cube(e.packed.clone())?), Some(cube(e.tokens.clone())?))
            }
            None => (None, None),
        };
        if merge != 0 {
            if D != 2 || norm.is_some() {
                return None;
            }
            plan = plan.merged(merge)?;
        }
        // The split: a matrix of whole grid rows, four finer tokens' channels in each row of the
        // product; its factor takes the norm's binding, so the two do not go together.
        if let Epilogue::Split { width } = epilogue
            && (D != 2 || norm.is_some() || width == 0 || plan.m % width != 0 || plan.n % 4 != 0)
        {
            return None;
        }
        // The norm: over all of a row's k values (k > 0), for one matrix of rows.
        let (prologue, cfactor) = match norm {
            None => (None, None),
            Some(_) if D != 2 || plan.k == 0 => return None,
            Some(Norm { eps, factor: None }) => (Some(Prologue { eps, factor: None }), None),
            Some(Norm { eps, factor: Some((values, offset, added)) }) => {
                let [rows, stride] = values.dims();
                let factor = Factor::new(added, plan.m as usize, plan.k as usize, rows, stride, offset)?;
                (Some(Prologue { eps, factor: Some(factor) }), Some(cube(values)?))
            }
        };
        let cresidual = match residual {
            Some(r) => Some(cube(r)?),
            None => None,
        };
        let cbias = cbias.map(burn::backend::wgpu::into_contiguous);
        let client = ca.client.clone();
        let handle = client.empty(out_dims.iter().product::<usize>() * 4);
        let out = CubeTensor::new_contiguous(client, ca.device.clone(), Shape::new(out_dims), handle, DType::F32);
        let tile = super::tile_for(&plan, epilogue);
        let embedding = plan.embedding != 0;
        let kernel = || WgslKernel {
            id: match (tile, embedding) {
                (Tile::Wide, false) => KernelId::new::<Matmul>(),
                (Tile::Narrow, false) => KernelId::new::<MatmulNarrow>(),
                (Tile::Wide, true) => KernelId::new::<MatmulEmbedded>(),
                (Tile::Narrow, true) => KernelId::new::<MatmulNarrowEmbedded>(),
            },
            shader: super::super::Shader::Matmul,
            source: if embedding { super::embedded_source() } else { super::SOURCE },
            entry: tile.entry(),
            workgroup: Dim3::new_2d(16, 16),
        };
        // Unused bindings still need a buffer: `a`'s, never read.
        let bias_buffer = cbias.as_ref().unwrap_or(&ca);
        let residual_buffer = cresidual.as_ref().or(cpacked.as_ref()).unwrap_or(&ca);
        let clerp = match lerp {
            Some(fac) => Some(cube(fac)?),
            None => None,
        };
        let embedded_tokens = ctokens.as_ref().filter(|_| embedded_residual);
        let factor_buffer = cfactor.as_ref().or(clerp.as_ref()).or(embedded_tokens).unwrap_or(&ca);
        for launch in plan.launches(epilogue, tile, limit) {
            let [x, y, z] = launch.count;
            launch_words(
                kernel(),
                CubeCount::Static(x, y, z),
                &[&ca, &cb, bias_buffer, residual_buffer, factor_buffer, &out],
                &plan.info(cbias.is_some(), epilogue, prologue.as_ref(), launch.offset),
            );
        }
        Some(Tensor::from_primitive::<Cube>(out))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::*;
    use crate::kernels::check_values as values;
    use crate::testing::cpu;

    fn burn_matmul<const D: usize>(a: &[f32], a_shape: [usize; D], b: &[f32], b_shape: [usize; D]) -> Vec<f32> {
        let ta = Tensor::<D>::from_data(TensorData::new(a.to_vec(), a_shape), &cpu());
        let tb = Tensor::<D>::from_data(TensorData::new(b.to_vec(), b_shape), &cpu());
        ta.matmul(tb).into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(x: &[f32], y: &[f32]) {
        assert_eq!(x.len(), y.len());
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "element {i}: {p} vs {q}");
        }
    }

    #[test]
    fn plain_sizes_that_are_not_multiples_of_the_block() {
        let (m, k, n) = (67, 19, 70);
        let (a, b) = (values(m * k, 1), values(k * n, 2));
        let plan = Plan::new(Operand::contiguous(&[m, k]).unwrap(), Operand::contiguous(&[k, n]).unwrap()).unwrap();
        assert_eq!(plan.workgroups(Epilogue::Plain, Tile::Wide), [2, 2, 1]);
        assert_eq!(plan.workgroups(Epilogue::Geglu, Tile::Wide), [2, 2, 1], "35 output columns, 32 to a block");
        assert_eq!(plan.workgroups(Epilogue::Plain, Tile::Narrow), [3, 3, 1]);
        assert_eq!(plan.workgroups(Epilogue::Geglu, Tile::Narrow), [3, 3, 1], "35 output columns, 16 to a block");
        close(&matmul_reference(&plan, &a, &b, None), &burn_matmul(&a, [m, k], &b, [k, n]));
    }

    #[test]
    fn batch_axes_broadcast_and_a_bias_is_added_per_column() {
        let (m, k, n) = (5, 8, 3);
        let a = values(2 * 3 * m * k, 3);
        let b = values(3 * k * n, 4);
        let plan = Plan::new(Operand::contiguous(&[2, 3, m, k]).unwrap(), Operand::contiguous(&[1, 3, k, n]).unwrap())
            .unwrap();
        assert_eq!((plan.batch, plan.b[0]), ([2, 3], 0));
        let expected = burn_matmul(&a, [2, 3, m, k], &b, [1, 3, k, n]);
        close(&matmul_reference(&plan, &a, &b, None), &expected);
        let bias = [0.5, -1.0, 2.0];
        let with_bias: Vec<f32> = expected.iter().enumerate().map(|(i, v)| v + bias[i % n]).collect();
        close(&matmul_reference(&plan, &a, &b, Some(&bias)), &with_bias);
    }

    #[test]
    fn a_transposed_view_is_read_through_its_strides() {
        // kᵀ of attention: k stored [batch, n, d], read as [batch, d, n] with swapped strides.
        let (batch, n, d) = (3, 6, 4);
        let q = values(batch * n * d, 5);
        let keys = values(batch * n * d, 6);
        let plan = Plan::new(
            Operand::contiguous(&[batch, n, d]).unwrap(),
            Operand::new(&[batch, d, n], &[n * d, 1, d]).unwrap(),
        )
        .unwrap();
        let transposed: Vec<f32> = (0..batch * d * n)
            .map(|i| {
                let (z, r, c) = (i / (d * n), i / n % d, i % n);
                keys[z * n * d + c * d + r]
            })
            .collect();
        close(&matmul_reference(&plan, &q, &keys, None), &burn_matmul(&q, [batch, n, d], &transposed, [batch, d, n]));
    }

    #[test]
    fn the_gelu_reference_is_burns_gelu() {
        // The CPU's gelu takes libm's erf; the polyfill's error (below 1.5·10⁻⁷) is all that differs.
        let x: Vec<f32> = (-60..=60).map(|i| i as f32 / 10.0).collect();
        let t = Tensor::<1>::from_data(TensorData::new(x.clone(), [x.len()]), &cpu());
        let want = burn::tensor::activation::gelu(t).into_data().try_to_vec::<f32>().unwrap();
        for (x, w) in x.iter().zip(&want) {
            assert!(
                (gelu_reference(*x) - w).abs() <= 1e-6 * (1.0 + w.abs()),
                "gelu({x}): {} vs {w}",
                gelu_reference(*x)
            );
        }
    }

    #[test]
    fn the_geglu_reference_is_the_models_feed_forward_gate() {
        let (rows, d_in, d_ff) = (5, 6, 7);
        let device = cpu();
        let up = crate::model::feedforward::Geglu::new(d_in, d_ff, &device);
        let x = values(rows * d_in, 12);
        let w = up.proj.weight.val().into_data().try_to_vec::<f32>().unwrap();
        let plan =
            Plan::new(Operand::contiguous(&[rows, d_in]).unwrap(), Operand::contiguous(&[d_in, 2 * d_ff]).unwrap())
                .unwrap();
        let tx = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, d_in]), &device);
        assert!(linear_geglu(&tx, &up.proj.weight.val(), None).is_none(), "the CPU spells it in burn");
        let model = up.forward(tx).into_data().try_to_vec::<f32>().unwrap();
        let reference = geglu_reference(&matmul_reference(&plan, &x, &w, None), d_ff);
        close(&reference, &model);
    }

    #[test]
    fn shapes_the_shader_does_not_take_are_refused() {
        let c = |s: &[usize]| Operand::contiguous(s).unwrap();
        assert_eq!(Plan::new(c(&[4, 5]), c(&[6, 3])), None, "inner sizes differ");
        assert_eq!(Plan::new(c(&[2, 4, 5]), c(&[3, 5, 3])), None, "batch sizes 2 and 3");
        assert_eq!(Plan::new(c(&[0, 5]), c(&[5, 3])), None, "an empty output");
        // a's last index: 2^32 − 1 fits; one more column does not.
        assert!(Plan::new(c(&[1 << 17, 1 << 15]), c(&[1 << 15, 2])).is_some());
        assert_eq!(Plan::new(c(&[1 << 17, (1 << 15) + 1]), c(&[(1 << 15) + 1, 2])), None, "a's last index past u32");
        assert_eq!(Plan::new(c(&[1 << 17, 2]), c(&[2, 1 << 15])), None, "out's last index past u32");
        assert_eq!(Operand::new(&[2, 3, 4, 5, 6], &[1, 1, 1, 1, 1]), None, "rank 5");
        assert!(Plan::new(c(&[4, 0]), c(&[0, 3])).is_some(), "k = 0: the output is the bias");
    }

    /// Every workgroup of the grid in exactly one launch, none past the limit.
    fn assert_tiles(plan: &Plan, epilogue: Epilogue, tile: Tile, limit: u32) -> usize {
        let grid = plan.workgroups(epilogue, tile);
        let launches = plan.launches(epilogue, tile, limit);
        let mut seen = std::collections::HashSet::new();
        for l in &launches {
            assert!(l.count.iter().all(|&c| (1..=limit).contains(&c)), "{l:?}");
            for z in 0..l.count[2] {
                for y in 0..l.count[1] {
                    for x in 0..l.count[0] {
                        let g = [l.offset[0] + x, l.offset[1] + y, l.offset[2] + z];
                        assert!((0..3).all(|i| g[i] < grid[i]), "{g:?} outside {grid:?}");
                        assert!(seen.insert(g), "{g:?} twice");
                    }
                }
            }
        }
        assert_eq!(seen.len(), grid.iter().map(|&g| g as usize).product::<usize>());
        launches.len()
    }

    #[test]
    fn a_grid_past_the_dispatch_limit_is_split_and_each_workgroup_launched_once() {
        let c = |s: &[usize]| Operand::contiguous(s).unwrap();
        let plan = Plan::new(c(&[2, 3, 67, 19]), c(&[1, 3, 19, 130])).unwrap();
        let wide = Tile::Wide;
        assert_eq!(plan.launches(Epilogue::Plain, wide, MAX_WORKGROUPS).len(), 1, "one dispatch where it fits");
        assert_eq!(plan.launches(Epilogue::Plain, wide, MAX_WORKGROUPS)[0].offset, [0, 0, 0]);
        assert_eq!(assert_tiles(&plan, Epilogue::Plain, wide, 2), 2 * 3, "3 × 2 × 6 workgroups");
        assert_eq!(assert_tiles(&plan, Epilogue::Geglu, wide, 2), 2 * 3, "65 output columns: 3 blocks");
        assert_eq!(assert_tiles(&plan, Epilogue::Plain, Tile::Narrow, 2), 3 * 2 * 3, "5 × 3 × 6 workgroups");
        for limit in [1, 3, 4, 100] {
            assert_tiles(&plan, Epilogue::Residual, wide, limit);
            assert_tiles(&plan, Epilogue::Geglu, Tile::Narrow, limit);
        }
        // The real limit, on each axis: 65,537 batch entries, 65,536 · 64 + 1 rows or columns.
        let big = (MAX_WORKGROUPS as usize + 1) * BLOCK + 1;
        let batch = Plan::new(c(&[1, 65_537, 1, 1]), c(&[1, 65_537, 1, 1])).unwrap();
        let launches = batch.launches(Epilogue::Plain, wide, MAX_WORKGROUPS);
        let counts: Vec<_> = launches.iter().map(|l| (l.offset, l.count)).collect();
        assert_eq!(counts, [([0, 0, 0], [1, 1, 65_535]), ([0, 0, 65_535], [1, 1, 2])]);
        let rows = Plan::new(c(&[big, 1]), c(&[1, 1])).unwrap();
        assert_eq!(rows.workgroups(Epilogue::Plain, wide), [1, 65_537, 1]);
        assert_eq!(rows.launches(Epilogue::Plain, wide, MAX_WORKGROUPS).len(), 2);
        assert_eq!(rows.workgroups(Epilogue::Plain, Tile::Narrow), [1, 131_073, 1]);
        assert_eq!(rows.launches(Epilogue::Plain, Tile::Narrow, MAX_WORKGROUPS).len(), 3);
        let cols = Plan::new(c(&[1, 1]), c(&[1, big])).unwrap();
        assert_eq!(cols.launches(Epilogue::Plain, wide, MAX_WORKGROUPS)[1].offset, [65_535, 0, 0]);
    }

    #[test]
    fn grids_too_small_to_fill_the_gpu_take_the_narrow_tiles() {
        let c = |s: &[usize]| Operand::contiguous(s).unwrap();
        let linear = |rows: usize, d_in: usize, d_out: usize| Plan::new(c(&[rows, d_in]), c(&[d_in, d_out])).unwrap();
        // Batch 1 of the shipped flow network: its level-1 feed-forward out (64 tokens, 768 → 256)
        // is 4 wide blocks; its level-0 GEGLU (256 tokens, 128 → 2 · 384) is 4 × 12.
        assert_eq!(linear(64, 768, 256).tile(Epilogue::Plain, false), Tile::Narrow);
        assert_eq!(linear(256, 128, 768).tile(Epilogue::Geglu, false), Tile::Narrow);
        // On a CPU adapter, wide always.
        assert_eq!(linear(64, 768, 256).tile(Epilogue::Plain, true), Tile::Wide);
        // Batch 16: 4,096 tokens by 384 columns is 64 × 6 = 384 wide blocks; the level-1 output
        // projection (1,024 tokens, 256 → 256) is 16 × 4 = 64.
        assert_eq!(linear(4096, 128, 384).tile(Epilogue::Plain, false), Tile::Wide);
        assert_eq!(linear(1024, 256, 256).tile(Epilogue::Plain, false), Tile::Wide);
        // The edge: 63 blocks narrow, 64 wide (GEGLU's blocks are 32 output columns wide).
        assert_eq!(linear(63 * 64, 8, 64).tile(Epilogue::Plain, false), Tile::Narrow);
        assert_eq!(linear(64 * 64, 8, 64).tile(Epilogue::Plain, false), Tile::Wide);
        assert_eq!(linear(31 * 64, 8, 128).tile(Epilogue::Geglu, false), Tile::Narrow);
        assert_eq!(linear(32 * 64, 8, 128).tile(Epilogue::Geglu, false), Tile::Wide);
    }

    /// The model's norms in burn (CPU), then the layer: what the folded norm's reference must give.
    #[test]
    fn the_normed_reference_is_the_models_norm_then_linear() {
        use crate::model::norm::{AdaRmsNorm, Conditioning, RmsNorm};
        let device = cpu();
        let (images, tokens, d_in, d_out, cond) = (3, 5, 40, 12, 6);
        let rows = images * tokens;
        let (x, w, bias) = (values(rows * d_in, 30), values(d_in * d_out, 31), values(d_out, 32));
        let tx = Tensor::<4>::from_data(TensorData::new(x.clone(), [images, 1, tokens, d_in]), &device);
        let weight = Tensor::<2>::from_data(TensorData::new(w.clone(), [d_in, d_out]), &device);
        let tbias = Tensor::<1>::from_data(TensorData::new(bias.clone(), [d_out]), &device);
        let layer = burn::nn::Linear { weight: burn::module::Param::from_tensor(weight), bias: None };
        let plan = Plan::new(Operand::contiguous(&[rows, d_in]).unwrap(), Operand::contiguous(&[d_in, d_out]).unwrap())
            .unwrap();
        let model = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let eps = 1e-6;

        // An AdaRMSNorm whose modulation is columns 3..43 of modulations 50 wide (prepared).
        let mut norm = AdaRmsNorm::new(d_in, Some(cond), &device);
        let all = values(images * 50, 33);
        let tall = Tensor::<2>::from_data(TensorData::new(all.clone(), [images, 50]), &device);
        norm.column = Some(3);
        let tcond = Tensor::<2>::zeros([images, cond], &device);
        let conditioning = Conditioning { cond: Some(&tcond), modulations: Some(&tall) };
        assert!(
            norm.linear(&tx, conditioning, &layer, Epilogue::Plain).is_none(),
            "the CPU runs the norm, then the layer"
        );
        assert!(
            RowNorm::Rms { eps }
                .linear(&tx, Some((&tall, 3, 1.0)), &layer.weight.val(), None, Epilogue::Plain, None)
                .is_none()
        );
        let modulation = Tensor::<2>::from_data(
            TensorData::new(all.chunks(50).flat_map(|r| r[3..43].to_vec()).collect::<Vec<_>>(), [images, d_in]),
            &device,
        );
        let normed = crate::model::norm::rms_norm(tx.clone()) * modulation.add_scalar(1.0).unsqueeze_dims::<4>(&[1, 2]);
        let reference = |factor, values: &[f32]| {
            normed_matmul_reference(&plan, &x, &w, Some(&bias), &Prologue { eps, factor }, values)
        };
        let factor = Factor::new(1.0, rows, d_in, images, 50, 3).unwrap();
        assert_eq!((factor.group, factor.stride, factor.offset), (tokens as u32, 50, 3));
        let linear = |t: Tensor<4>| burn::tensor::module::linear(t, layer.weight.val(), Some(tbias.clone()));
        let want = model(linear(normed.clone()));
        close(&reference(Some(factor), &all), &want);
        // The same with the GEGLU gate, and with a residual added.
        close(&geglu_reference(&reference(Some(factor), &all), d_out / 2), &geglu_reference(&want, d_out / 2));
        let skip = values(rows * d_out, 34);
        let with_skip: Vec<f32> = skip.iter().zip(&reference(Some(factor), &all)).map(|(r, y)| r + y).collect();
        close(&with_skip, &skip.iter().zip(&want).map(|(r, y)| r + y).collect::<Vec<_>>());

        // An RmsNorm's scale, and the bare norm.
        let scale = values(d_in, 35);
        let rms = RmsNorm {
            scale: burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(scale.clone(), [d_in]), &device)),
        };
        assert!(rms.linear(&tx, &layer, Epilogue::Plain, None).is_none());
        let factor = Factor::new(0.0, rows, d_in, 1, d_in, 0).unwrap();
        close(&reference(Some(factor), &scale), &model(linear(rms.forward(tx.clone()))));
        close(&reference(None, &[]), &model(linear(crate::model::norm::rms_norm(tx))));
    }

    #[test]
    fn the_merge_takes_one_contiguous_matrix_of_whole_merged_rows_and_is_spelt_in_the_uniform() {
        let operand = |shape: &[usize]| Operand::contiguous(shape).expect("operand");
        let plan = Plan::new(operand(&[30, 36]), operand(&[36, 13])).expect("plan");
        let merged = plan.merged(5).expect("a 3 × 5 merged grid of 2 images");
        assert_eq!(merged.info(false, Epilogue::Plain, None, [0; 3])[25], 5);
        assert_eq!(plan.info(false, Epilogue::Plain, None, [0; 3])[25], 0, "off");
        assert!(plan.merged(0).is_none(), "no width");
        assert!(plan.merged(7).is_none(), "30 rows are not whole rows of 7");
        let odd_k = Plan::new(operand(&[30, 34]), operand(&[34, 13])).expect("plan");
        assert!(odd_k.merged(5).is_none(), "k is not four tokens' channels");
        let transposed = Operand::new(&[30, 36], &[1, 30]).expect("operand");
        assert!(Plan::new(transposed, operand(&[36, 13])).expect("plan").merged(5).is_none(), "a strided view");
        let batched = Plan::new(operand(&[2, 30, 36]), operand(&[36, 13])).expect("plan");
        assert!(batched.merged(5).is_none(), "a batch of matrices");
    }

    #[test]
    fn the_prologue_is_refused_where_its_factor_does_not_fit_and_spelt_in_the_uniform() {
        assert_eq!(Factor::new(1.0, 10, 4, 3, 8, 0), None, "10 rows in 3 images");
        assert_eq!(Factor::new(1.0, 10, 4, 0, 8, 0), None, "no factor rows");
        assert_eq!(Factor::new(1.0, 10, 4, 2, 8, 5), None, "columns 5..9 of 8");
        assert!(Factor::new(1.0, 10, 4, 2, 8, 4).is_some(), "columns 4..8 of 8");
        let plan = Plan::new(Operand::contiguous(&[10, 4]).unwrap(), Operand::contiguous(&[4, 6]).unwrap()).unwrap();
        let factor = Factor::new(1.0, 10, 4, 2, 8, 4).unwrap();
        let words = plan.info(true, Epilogue::Geglu, Some(&Prologue { eps: 1e-6, factor: Some(factor) }), [0, 1, 0]);
        assert_eq!(words[12..16], [1, 0, 3, 1f32.to_bits()]);
        assert_eq!(words[16..20], [0, 1, 0, 1e-6f32.to_bits()]);
        assert_eq!(words[20..24], [3, 5, 8, 4]);
        let bare = plan.info(false, Epilogue::Plain, Some(&Prologue { eps: 1e-6, factor: None }), [0; 3]);
        assert_eq!(bare[20], 1);
        assert_eq!(plan.info(false, Epilogue::Plain, None, [0; 3])[19..24], [0; 5], "off");
    }

    /// An embedding's values are those of the patch_in layer's own product to the bit (the
    /// shader's chain from 0, then the bias), which is what lets the first block read it in place.
    #[test]
    fn an_embedding_is_its_layers_product_to_the_bit() {
        let (rows, rank, width) = (7, 4, 10);
        let (tokens, w, bias) = (values(rows * rank, 1), values(rank * width, 2), values(width, 3));
        let plan = Plan::new(Operand::contiguous(&[rows, rank]).unwrap(), Operand::contiguous(&[rank, width]).unwrap())
            .unwrap();
        let packed: Vec<f32> = w.iter().chain(&bias).copied().collect();
        assert_eq!(
            embedded_reference(&tokens, &packed, rank, width),
            matmul_reference(&plan, &tokens, &w, Some(&bias))
        );
        let t = |v: &[f32], shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), &cpu());
        let bias_t = Tensor::<1>::from_data(TensorData::new(bias.clone(), [width]), &cpu());
        let got = Embedded::pack(&t(&w, [rank, width]), Some(&bias_t)).unwrap();
        assert_eq!(got.into_data().try_to_vec::<f32>().unwrap(), packed, "[weight; bias]");
        let unbiased = Embedded::pack(&t(&w, [rank, width]), None).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(unbiased[rank * width..], vec![0.0; width], "no bias: a row of zeros");
        assert!(Embedded::pack(&t(&values(9 * 2, 4), [9, 2]), None).is_none(), "past MAX_RANK");
    }

    #[test]
    fn the_embedded_variant_turns_the_shaders_one_switch() {
        assert_eq!(SOURCE.matches(EMBEDDING_OFF).count(), 1, "the switch, once");
        assert_eq!(SOURCE.matches("EMBEDDING &&").count(), 2, "gating both reads");
        let on = embedded_source();
        assert_eq!(on.matches(EMBEDDING_OFF).count(), 0);
        assert_eq!(on.matches("const EMBEDDING: bool = true;").count(), 1);
        assert_eq!(on.len(), SOURCE.len() - 1, "nothing else changed");
    }

    #[test]
    fn an_embedding_is_spelt_in_the_uniform_where_its_target_takes_it() {
        let plan = Plan::new(Operand::contiguous(&[10, 24]).unwrap(), Operand::contiguous(&[24, 6]).unwrap()).unwrap();
        let as_a = plan.embedded(4, EmbeddedAs::A).unwrap();
        assert_eq!(as_a.info(false, Epilogue::Plain, None, [0; 3])[27], 4 | 1 << 16);
        assert_eq!(
            plan.embedded(3, EmbeddedAs::Residual).unwrap().info(false, Epilogue::Residual, None, [0; 3])[27],
            3 | 2 << 16
        );
        assert_eq!(plan.info(false, Epilogue::Plain, None, [0; 3])[27], 0, "off");
        assert_eq!(plan.embedded(0, EmbeddedAs::A), None, "no tokens");
        assert_eq!(plan.embedded(Embedded::MAX_RANK + 1, EmbeddedAs::A), None);
        let batched =
            Plan::new(Operand::contiguous(&[2, 10, 24]).unwrap(), Operand::contiguous(&[2, 24, 6]).unwrap()).unwrap();
        assert_eq!(batched.embedded(4, EmbeddedAs::A), None, "one matrix of rows only");
        let strided =
            Plan::new(Operand::new(&[10, 24], &[1, 10]).unwrap(), Operand::contiguous(&[24, 6]).unwrap()).unwrap();
        assert_eq!(strided.embedded(4, EmbeddedAs::A), None, "a is read as contiguous rows");
        assert!(strided.embedded(4, EmbeddedAs::Residual).is_some(), "the residual does not care how a is laid out");
        assert_eq!(plan.merged(2).unwrap().embedded(4, EmbeddedAs::A), None, "not with the merge");
    }

    /// `a @ b (+ bias)` by three loops in f64: a reference shared with none of the code under test.
    fn naive(a: &[f32], b: &[f32], [batch, m, k, n]: [usize; 4], bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = Vec::with_capacity(batch * m * n);
        for z in 0..batch {
            for i in 0..m {
                for j in 0..n {
                    let dot: f64 = (0..k).map(|l| a[(z * m + i) * k + l] as f64 * b[(z * k + l) * n + j] as f64).sum();
                    out.push((dot + bias.map_or(0.0, |bias| bias[j] as f64)) as f32);
                }
            }
        }
        out
    }

    #[test]
    fn the_cpu_path_computes_the_product() {
        let (batch, m, k, n) = (2, 3, 4, 5);
        let (a, b) = (values(batch * m * k, 7), values(batch * k * n, 8));
        let ta = Tensor::<3>::from_data(TensorData::new(a.clone(), [batch, m, k]), &cpu());
        let tb = Tensor::<3>::from_data(TensorData::new(b.clone(), [batch, k, n]), &cpu());
        assert!(!crate::kernels::network_kernels_run(&cpu()));
        let ours = matmul(ta, tb).into_data().try_to_vec::<f32>().unwrap();
        close(&ours, &naive(&a, &b, [batch, m, k, n], None));
        // `linear`: every row of x through one weight, plus the bias per column.
        let bias = values(n, 9);
        let x = Tensor::<3>::from_data(TensorData::new(a.clone(), [batch, m, k]), &cpu());
        let weight = Tensor::<2>::from_data(TensorData::new(b[..k * n].to_vec(), [k, n]), &cpu());
        let bias_tensor = Tensor::<1>::from_data(TensorData::new(bias.clone(), [n]), &cpu());
        let ours =
            linear(x.clone(), weight.clone(), Some(bias_tensor.clone())).into_data().try_to_vec::<f32>().unwrap();
        let want = naive(&a, &b[..k * n], [1, batch * m, k, n], Some(&bias));
        close(&ours, &want);
        // `linear_residual`: the same plus a residual.
        let skip = values(batch * m * n, 10);
        let skip_tensor = Tensor::<3>::from_data(TensorData::new(skip.clone(), [batch, m, n]), &cpu());
        let ours = linear_residual(skip_tensor, x, weight, Some(bias_tensor)).into_data().try_to_vec::<f32>().unwrap();
        close(&ours, &want.iter().zip(&skip).map(|(y, r)| y + r).collect::<Vec<_>>());
    }
}
