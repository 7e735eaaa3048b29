//! Scores between two sets of image embeddings: Fréchet distance, a CMMD-style MMD, and
//! improved precision / recall.
//!
//! One number cannot tell a blurry model from one that drops modes, so we report three views:
//! - the Fréchet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
//!   Converge to a Local Nash Equilibrium", the "FID" formula) compares Gaussians fitted to the
//!   two sets. It is the number everyone quotes, but it is biased in the sample size (Chong &
//!   Forsyth 2020, "Effectively Unbiased FID and Inception Score"): compare FDs at equal n only.
//! - MMD with an RBF kernel, as in CMMD (Jayasumana et al. 2024, "Rethinking FID: Towards a
//!   Better Evaluation Metric for Image Generation"), assumes no distribution shape, and its
//!   unbiased estimator centres on 0 for equal distributions at any sample size.
//! - Precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
//!   Assessing Generative Models") split fidelity (are fakes on the real manifold?) from
//!   coverage (is every part of the real manifold produced?).
//!
//! Everything runs on the host in f64: embeddings are small (thousands × ~100), the
//! eigendecompositions need the precision, and the scores must not depend on the backend.
//! The O(n²) kernels are split over rows with [`par_map`].

use nalgebra::{DMatrix, DMatrixView, DVector, SymmetricEigen};
use thiserror::Error;

use crate::data::par::par_map;

/// k of the k-nearest-neighbour radii in [`precision_recall`]; Kynkäänniemi et al. found k = 3
/// a good trade-off between noise (small k) and overestimated manifolds (large k).
pub const DEFAULT_K: usize = 3;

/// At most this many rows enter [`median_bandwidth`]: the median of ~2M pairwise distances is
/// already stable to well under a percent, and the cost grows with the square of the rows.
pub const MEDIAN_ROWS: usize = 2_000;

/// Why a score could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScoreError {
    #[error("embedding dimension must be positive")]
    ZeroDim,
    #[error("{len} values do not split into rows of dimension {dim}")]
    Ragged { len: usize, dim: usize },
    #[error("embedding row {row} holds a NaN or an infinity")]
    NonFinite { row: usize },
    #[error("embedding dimensions differ: {a} vs {b}")]
    DimMismatch { a: usize, b: usize },
    #[error("{what} needs at least {need} samples per set, got {got}")]
    TooFewSamples { what: &'static str, need: usize, got: usize },
    #[error("image {index} holds {len} bytes, expected {expected} ({size}x{size} RGB8)")]
    ImageSize { index: usize, len: usize, expected: usize, size: u32 },
    #[error("the symmetric eigendecomposition did not converge")]
    NoConvergence,
    #[error("{0}")]
    InvalidArgument(String),
}

/// A set of embeddings: `len()` rows of `dim` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub dim: usize,
    pub values: Vec<f32>,
}

impl Embeddings {
    /// Checks the shape and that every value is finite (a NaN would silently poison every score).
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, ScoreError> {
        let embeddings = Self { dim, values };
        embeddings.validate()?;
        Ok(embeddings)
    }

    /// Number of rows (0 for a zero `dim`).
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// The fields are public, so every score re-checks what [`Embeddings::new`] checks.
    fn validate(&self) -> Result<(), ScoreError> {
        if self.dim == 0 {
            return Err(ScoreError::ZeroDim);
        }
        if !self.values.len().is_multiple_of(self.dim) {
            return Err(ScoreError::Ragged { len: self.values.len(), dim: self.dim });
        }
        if let Some(i) = self.values.iter().position(|v| !v.is_finite()) {
            return Err(ScoreError::NonFinite { row: i / self.dim });
        }
        Ok(())
    }

    /// The values widened to f64 once, so the O(n²) loops do not convert on every use.
    fn to_rows(&self) -> Rows {
        Rows { dim: self.dim, values: self.values.iter().map(|&v| f64::from(v)).collect() }
    }
}

/// Row-major f64 copy of an [`Embeddings`].
struct Rows {
    dim: usize,
    values: Vec<f64>,
}

impl Rows {
    fn len(&self) -> usize {
        self.values.len() / self.dim
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

/// Both sets valid, of one dimension, and with at least `need` rows each.
fn check_pair(a: &Embeddings, b: &Embeddings, need: usize, what: &'static str) -> Result<(), ScoreError> {
    a.validate()?;
    b.validate()?;
    if a.dim != b.dim {
        return Err(ScoreError::DimMismatch { a: a.dim, b: b.dim });
    }
    let got = a.len().min(b.len());
    if got < need {
        return Err(ScoreError::TooFewSamples { what, need, got });
    }
    Ok(())
}

/// ||x − y||². Four running sums instead of one break the floating-point add chain, which
/// lets the CPU (and LLVM's vectoriser) overlap them: this loop is all that MMD and
/// precision / recall spend their time in.
fn squared_distance(x: &[f64], y: &[f64]) -> f64 {
    let mut sums = [0.0f64; 4];
    let (xs, ys) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xs.remainder().iter().zip(ys.remainder()).map(|(a, b)| (a - b) * (a - b)).sum();
    for (a, b) in xs.zip(ys) {
        for lane in 0..4 {
            let d = a[lane] - b[lane];
            sums[lane] += d * d;
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

// ---------------------------------------------------------------------------------------------
// Fréchet distance
// ---------------------------------------------------------------------------------------------

/// Fréchet (2-Wasserstein) distance between Gaussians fitted to the two sets:
/// ||μa − μb||² + tr(Σa + Σb − 2 (Σa Σb)^½).
///
/// Σa Σb is not symmetric, and a general matrix square root (scipy's `sqrtm`, as in
/// pytorch-fid) can return complex parts and lose accuracy on nearly singular covariances,
/// which embeddings with fewer samples than dimensions always give. (Σa Σb)^½ has the same
/// eigenvalues as the symmetric PSD matrix Σa^½ Σb Σa^½, so its trace is the sum of the square
/// roots of that matrix's eigenvalues, found by two symmetric eigendecompositions; rounding
/// makes a few tiny eigenvalues negative, which are taken as 0.
///
/// Covariances are unbiased (divided by n − 1). The result is not clamped: for equal sets it
/// is 0 up to rounding and may come out as −1e-13.
pub fn frechet_distance(a: &Embeddings, b: &Embeddings) -> Result<f64, ScoreError> {
    check_pair(a, b, 2, "the Fréchet distance")?;
    let (mean_a, cov_a) = mean_and_covariance(a);
    let (mean_b, cov_b) = mean_and_covariance(b);

    let sqrt_a = psd_sqrt(&cov_a)?;
    let middle = &sqrt_a * &cov_b * &sqrt_a;
    // Exactly symmetric, so rounding cannot make the eigen solver see a non-symmetric input.
    let middle = (&middle + middle.transpose()) * 0.5;
    let eigenvalues = symmetric_eigen(middle)?.eigenvalues;
    let trace_sqrt: f64 = eigenvalues.iter().map(|&l| l.max(0.0).sqrt()).sum();

    Ok((mean_a - mean_b).norm_squared() + cov_a.trace() + cov_b.trace() - 2.0 * trace_sqrt)
}

/// Sample mean and unbiased covariance; needs at least 2 rows.
fn mean_and_covariance(e: &Embeddings) -> (DVector<f64>, DMatrix<f64>) {
    let (n, dim) = (e.len(), e.dim);
    let mut mean = vec![0.0f64; dim];
    for i in 0..n {
        for (m, &x) in mean.iter_mut().zip(e.row(i)) {
            *m += f64::from(x);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }

    // Centre first (two passes), then one GEMM: Σ = Xcᵀ Xc / (n − 1). nalgebra is
    // column-major, so the row-major buffer read as a dim × n matrix is Xcᵀ, and read with
    // strides (dim, 1) as an n × dim matrix it is Xc; no copy, and the product goes to
    // matrixmultiply's blocked kernel.
    let centred: Vec<f64> =
        e.values.chunks_exact(dim).flat_map(|row| row.iter().zip(&mean).map(|(&x, &m)| f64::from(x) - m)).collect();
    let xt = DMatrixView::from_slice(&centred, dim, n);
    let x = DMatrixView::from_slice_with_strides(&centred, n, dim, dim, 1);
    let covariance = (xt * x) / (n - 1) as f64;
    (DVector::from_vec(mean), covariance)
}

/// The symmetric PSD square root V diag(√max(λ, 0)) Vᵀ of a symmetric PSD matrix.
fn psd_sqrt(m: &DMatrix<f64>) -> Result<DMatrix<f64>, ScoreError> {
    let eigen = symmetric_eigen(m.clone())?;
    let mut scaled = eigen.eigenvectors.clone();
    for (mut column, &l) in scaled.column_iter_mut().zip(eigen.eigenvalues.iter()) {
        column *= l.max(0.0).sqrt();
    }
    Ok(scaled * eigen.eigenvectors.transpose())
}

/// nalgebra's `SymmetricEigen::new` iterates without bound; cap it, so that a pathological
/// input reports an error instead of hanging an evaluation run.
fn symmetric_eigen(m: DMatrix<f64>) -> Result<SymmetricEigen<f64, nalgebra::Dyn>, ScoreError> {
    let max_iterations = 1_000 + 100 * m.nrows();
    SymmetricEigen::try_new(m, f64::EPSILON, max_iterations).ok_or(ScoreError::NoConvergence)
}

// ---------------------------------------------------------------------------------------------
// MMD
// ---------------------------------------------------------------------------------------------

/// Bandwidth σ for [`mmd`] by the median heuristic (Gretton et al. 2012, "A Kernel Two-Sample
/// Test"): the median pairwise Euclidean distance within the reference set.
///
/// The bandwidth must be fixed once from the reference and then shared by every comparison, or
/// MMDs of different models are on different scales; CMMD fixes σ = 10 for CLIP embeddings,
/// but our embedding has its own scale, hence the heuristic. Only the first [`MEDIAN_ROWS`]
/// rows are used, to bound the O(rows²) cost. For N(0, I_d) the result is close to √(2d).
///
/// Returns NaN for fewer than 2 rows or invalid embeddings (no distance to take a median
/// of); [`mmd`] rejects such a σ.
pub fn median_bandwidth(reference: &Embeddings) -> f64 {
    if reference.validate().is_err() || reference.len() < 2 {
        return f64::NAN;
    }
    let m = reference.len().min(MEDIAN_ROWS);
    let values = reference.values[..m * reference.dim].iter().map(|&v| f64::from(v)).collect();
    let rows = Rows { dim: reference.dim, values };
    let mut distances: Vec<f64> =
        par_map(m, 0, |i| (i + 1..m).map(|j| squared_distance(rows.row(i), rows.row(j)).sqrt()).collect::<Vec<_>>())
            .concat();
    median(&mut distances)
}

/// Median (the mean of the two middle values for an even count); NaN for no values. Reorders
/// `values` (a selection, not a sort: linear time for the millions of pairwise distances).
pub fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (lower, middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let middle = *middle;
    if n % 2 == 1 {
        return middle;
    }
    // Even count: the other middle value is the largest of the lower half.
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    0.5 * (below + middle)
}

/// Squared maximum mean discrepancy with the RBF kernel k(x, y) = exp(−||x − y||² / (2σ²)),
/// times 1000, as CMMD reports it.
///
/// The estimator is the unbiased one (Gretton et al. 2012, eq. 3): the within-set sums skip
/// i = j, so for two samples of one distribution it scatters around 0 (and can be slightly
/// negative) at every sample size, rather than sitting at a positive floor that shrinks with
/// n. The CMMD reference code averages over all pairs, diagonal included; values are
/// therefore not comparable with theirs for small sets. σ comes from the caller, normally
/// [`median_bandwidth`] of the reference set, and must be the same for every comparison.
///
/// O((na + nb)² · dim), spread over rows with [`par_map`].
pub fn mmd(a: &Embeddings, b: &Embeddings, sigma: f64) -> Result<f64, ScoreError> {
    check_pair(a, b, 2, "MMD")?;
    let gamma = mmd_gamma(sigma)?;
    let x = a.to_rows();
    mmd_against(&x, within_kernel_sum(&x, gamma), b, gamma)
}

fn mmd_gamma(sigma: f64) -> Result<f64, ScoreError> {
    let gamma = 1.0 / (2.0 * sigma * sigma);
    if !(sigma.is_finite() && sigma > 0.0 && gamma.is_finite()) {
        return Err(ScoreError::InvalidArgument(format!("MMD bandwidth must be positive and finite, got {sigma}")));
    }
    Ok(gamma)
}

/// MMD² ×1000 of `b` against rows `x` whose within-set kernel sum is `within_x`.
fn mmd_against(x: &Rows, within_x: f64, b: &Embeddings, gamma: f64) -> Result<f64, ScoreError> {
    let y = b.to_rows();
    let (n, m) = (x.len() as f64, y.len() as f64);
    let within_y = within_kernel_sum(&y, gamma);
    let cross = cross_kernel_sum(x, &y, gamma);
    let mmd2 = within_x / (n * (n - 1.0)) + within_y / (m * (m - 1.0)) - 2.0 * cross / (n * m);
    Ok(1000.0 * mmd2)
}

/// Σ over i ≠ j of k(x_i, x_j): the kernel is symmetric, so the upper triangle, doubled.
fn within_kernel_sum(x: &Rows, gamma: f64) -> f64 {
    let n = x.len();
    let per_row = par_map(n, 0, |i| {
        let xi = x.row(i);
        (i + 1..n).map(|j| (-gamma * squared_distance(xi, x.row(j))).exp()).sum::<f64>()
    });
    2.0 * per_row.iter().sum::<f64>()
}

/// Σ over all i, j of k(x_i, y_j).
fn cross_kernel_sum(x: &Rows, y: &Rows, gamma: f64) -> f64 {
    let per_row = par_map(x.len(), 0, |i| {
        let xi = x.row(i);
        (0..y.len()).map(|j| (-gamma * squared_distance(xi, y.row(j))).exp()).sum::<f64>()
    });
    per_row.iter().sum()
}

// ---------------------------------------------------------------------------------------------
// Precision and recall
// ---------------------------------------------------------------------------------------------

/// Improved precision and recall (Kynkäänniemi et al. 2019), returned as `(precision, recall)`.
///
/// Each set's manifold is approximated by the union of balls around its samples, each ball
/// reaching the sample's k-th nearest neighbour within its own set (itself excluded). Precision
/// is the fraction of fake samples inside the real manifold (fidelity); recall the fraction of
/// real samples inside the fake manifold (coverage). A ball's boundary counts as inside, as in
/// the authors' code. Brute force, O(n² · dim); needs more than k samples in each set.
pub fn precision_recall(real: &Embeddings, fake: &Embeddings, k: usize) -> Result<(f64, f64), ScoreError> {
    if k == 0 {
        return Err(ScoreError::InvalidArgument("precision and recall need k >= 1".into()));
    }
    check_pair(real, fake, k + 1, "precision and recall")?;
    let real = real.to_rows();
    let real_radii = squared_knn_radii(&real, k);
    Ok(precision_recall_against(&real, &real_radii, fake, k))
}

fn precision_recall_against(real: &Rows, real_radii: &[f64], fake: &Embeddings, k: usize) -> (f64, f64) {
    let fake = fake.to_rows();
    let fake_radii = squared_knn_radii(&fake, k);
    (fraction_covered(&fake, real, real_radii), fraction_covered(real, &fake, &fake_radii))
}

/// The reference side of [`mmd`] and [`precision_recall`], computed once: an evaluation
/// compares dozens of sample sets with the same 10,000 reference embeddings, and the
/// reference's own kernel sum and k-NN radii are most of the work of each comparison.
pub struct ReferenceSet {
    embeddings: Embeddings,
    rows: Rows,
    gamma: f64,
    within: f64,
    k: usize,
    radii: Vec<f64>,
}

impl ReferenceSet {
    pub fn new(reference: Embeddings, sigma: f64, k: usize) -> Result<Self, ScoreError> {
        if k == 0 {
            return Err(ScoreError::InvalidArgument("precision and recall need k >= 1".into()));
        }
        check_pair(&reference, &reference, (k + 1).max(2), "a reference set")?;
        let gamma = mmd_gamma(sigma)?;
        let rows = reference.to_rows();
        let within = within_kernel_sum(&rows, gamma);
        let radii = squared_knn_radii(&rows, k);
        Ok(Self { embeddings: reference, rows, gamma, within, k, radii })
    }

    pub fn embeddings(&self) -> &Embeddings {
        &self.embeddings
    }

    /// [`mmd`] of the reference against `fake`.
    pub fn mmd(&self, fake: &Embeddings) -> Result<f64, ScoreError> {
        check_pair(&self.embeddings, fake, 2, "MMD")?;
        mmd_against(&self.rows, self.within, fake, self.gamma)
    }

    /// [`precision_recall`] of `fake` against the reference.
    pub fn precision_recall(&self, fake: &Embeddings) -> Result<(f64, f64), ScoreError> {
        check_pair(&self.embeddings, fake, self.k + 1, "precision and recall")?;
        Ok(precision_recall_against(&self.rows, &self.radii, fake, self.k))
    }
}

/// Squared distance of each row to its k-th nearest other row.
fn squared_knn_radii(x: &Rows, k: usize) -> Vec<f64> {
    let n = x.len();
    par_map(n, 0, |i| {
        let xi = x.row(i);
        let mut distances: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| squared_distance(xi, x.row(j))).collect();
        *distances.select_nth_unstable_by(k - 1, f64::total_cmp).1
    })
}

/// Fraction of `queries` inside at least one ball (centre row j, squared radius `squared_radii[j]`).
fn fraction_covered(queries: &Rows, centres: &Rows, squared_radii: &[f64]) -> f64 {
    let inside = par_map(queries.len(), 0, |i| {
        let q = queries.row(i);
        (0..centres.len()).any(|j| squared_distance(q, centres.row(j)) <= squared_radii[j])
    });
    inside.iter().filter(|&&hit| hit).count() as f64 / queries.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use lediflow_core::noise::{Stream, gaussian};

    /// `n` draws of N(mean, diag(std²)).
    fn gaussian_set(seed: u64, n: usize, mean: &[f64], std: &[f64]) -> Embeddings {
        let dim = mean.len();
        let noise = gaussian(seed, Stream::Latent, n * dim);
        let values =
            noise.iter().enumerate().map(|(i, &z)| (mean[i % dim] + std[i % dim] * f64::from(z)) as f32).collect();
        Embeddings::new(dim, values).expect("valid")
    }

    /// 2·dim points mean ± c·A[:, i] whose sample mean is exactly `mean` and whose unbiased sample
    /// covariance is exactly A Aᵀ (A row-major): Σ over ±c e_i of v vᵀ is 2c² I, so c² = (n − 1) / 2.
    fn exact_moments(mean: &[f64], a: &[f64]) -> Embeddings {
        let dim = mean.len();
        let c = ((2 * dim - 1) as f64 / 2.0).sqrt();
        let mut values = Vec::new();
        for i in 0..dim {
            for sign in [1.0, -1.0] {
                values.extend((0..dim).map(|r| (mean[r] + sign * c * a[r * dim + i]) as f32));
            }
        }
        Embeddings::new(dim, values).expect("valid")
    }

    fn diagonal(entries: &[f64]) -> Vec<f64> {
        let d = entries.len();
        let mut m = vec![0.0; d * d];
        for (i, &e) in entries.iter().enumerate() {
            m[i * d + i] = e;
        }
        m
    }

    fn shifted(e: &Embeddings, by: f64) -> Embeddings {
        Embeddings::new(e.dim, e.values.iter().map(|&v| (f64::from(v) + by) as f32).collect()).expect("valid")
    }

    #[test]
    fn embeddings_check_their_shape() {
        let e = Embeddings::new(3, vec![0.0; 6]).expect("valid");
        assert_eq!((e.len(), e.is_empty(), e.row(1).len()), (2, false, 3));
        assert_eq!(Embeddings::new(0, vec![]), Err(ScoreError::ZeroDim));
        assert_eq!(Embeddings::new(3, vec![0.0; 7]), Err(ScoreError::Ragged { len: 7, dim: 3 }));
        assert_eq!(Embeddings::new(2, vec![0.0, 1.0, f32::NAN, 0.0]), Err(ScoreError::NonFinite { row: 1 }));
    }

    #[test]
    fn fd_of_a_set_with_itself_is_zero() {
        let a = gaussian_set(1, 300, &[0.5; 16], &[1.0; 16]);
        let fd = frechet_distance(&a, &a).expect("fd");
        assert!(fd.abs() < 1e-9, "{fd}");
    }

    #[test]
    fn fd_matches_the_closed_form_for_diagonal_covariances() {
        // Exact sample moments, so the only error is rounding.
        let (mean_a, mean_b) = ([0.0, 1.0, -2.0, 0.5], [1.0, 1.0, 0.0, -0.5]);
        let (std_a, std_b) = ([1.0, 2.0, 0.5, 1.5], [2.0, 1.0, 0.5, 0.1]);
        let a = exact_moments(&mean_a, &diagonal(&std_a));
        let b = exact_moments(&mean_b, &diagonal(&std_b));
        let expected: f64 = (0..4).map(|i| (mean_a[i] - mean_b[i]).powi(2) + (std_a[i] - std_b[i]).powi(2)).sum();
        let fd = frechet_distance(&a, &b).expect("fd");
        assert!((fd - expected).abs() < 1e-5 * expected, "{fd} vs {expected}");
    }

    #[test]
    fn fd_matches_the_closed_form_for_non_commuting_covariances() {
        // For 2×2 matrices with non-negative eigenvalues, tr √M = √(tr M + 2 √det M); Σa Σb is
        // similar to a PSD matrix, so tr (Σa Σb)^½ = √(tr(Σa Σb) + 2 √(det Σa det Σb)).
        let (a_map, b_map) = ([2.0, 0.5, 0.3, 1.0], [1.0, -0.4, 0.2, 1.5]);
        let covariance = |m: &[f64; 4]| {
            [m[0] * m[0] + m[1] * m[1], m[0] * m[2] + m[1] * m[3], m[0] * m[2] + m[1] * m[3], m[2] * m[2] + m[3] * m[3]]
        };
        let (sa, sb) = (covariance(&a_map), covariance(&b_map));
        let product_trace = sa[0] * sb[0] + sa[1] * sb[2] + sa[2] * sb[1] + sa[3] * sb[3];
        let det = |s: &[f64; 4]| s[0] * s[3] - s[1] * s[2];
        let trace_sqrt = (product_trace + 2.0 * (det(&sa) * det(&sb)).sqrt()).sqrt();
        let mean_term = 0.3f64.powi(2) + 0.4f64.powi(2);
        let expected = mean_term + sa[0] + sa[3] + sb[0] + sb[3] - 2.0 * trace_sqrt;

        let a = exact_moments(&[0.0, 0.0], &a_map);
        let b = exact_moments(&[0.3, -0.4], &b_map);
        let fd = frechet_distance(&a, &b).expect("fd");
        assert!((fd - expected).abs() < 1e-5 * expected, "{fd} vs {expected}");
    }

    #[test]
    fn fd_of_sampled_gaussians_is_near_the_closed_form() {
        let dim = 8;
        let std_b: Vec<f64> = (0..dim).map(|i| 0.5 + 0.1 * i as f64).collect();
        let a = gaussian_set(2, 600, &vec![0.0; dim], &vec![1.0; dim]);
        let b = gaussian_set(3, 600, &vec![0.3; dim], &std_b);
        let expected: f64 = dim as f64 * 0.09 + std_b.iter().map(|s| (1.0 - s).powi(2)).sum::<f64>();
        let fd = frechet_distance(&a, &b).expect("fd");
        assert!((fd - expected).abs() < 0.1 * expected, "{fd} vs {expected}");
    }

    #[test]
    fn fd_grows_with_a_mean_shift() {
        // Same covariance, so FD = dim · shift² exactly (up to f32 rounding of the shifted values).
        let a = gaussian_set(4, 200, &[0.0; 8], &[1.0; 8]);
        let mut previous = -1.0;
        for shift in [0.0, 0.1, 0.25, 0.5, 1.0, 2.0] {
            let fd = frechet_distance(&a, &shifted(&a, shift)).expect("fd");
            assert!(fd > previous, "shift {shift}: {fd} <= {previous}");
            assert!((fd - 8.0 * shift * shift).abs() < 1e-4, "shift {shift}: {fd}");
            previous = fd;
        }
    }

    #[test]
    fn median_bandwidth_of_a_standard_gaussian_is_near_sqrt_2d() {
        // ||x − y||² ~ 2 χ²_d, whose median is ≈ 2 (d − 2/3): a couple of percent under 2d.
        let dim = 16;
        let a = gaussian_set(5, 500, &vec![0.0; dim], &vec![1.0; dim]);
        let sigma = median_bandwidth(&a);
        let expected = (2.0 * dim as f64).sqrt();
        assert!((sigma - expected).abs() < 0.05 * expected, "{sigma} vs {expected}");
        assert!(median_bandwidth(&Embeddings::new(dim, vec![0.0; dim]).expect("valid")).is_nan());
    }

    #[test]
    fn median_takes_the_middle_of_even_and_odd_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
        assert!(median(&mut []).is_nan(), "no values have no median");
    }

    #[test]
    fn mmd_of_one_distribution_is_near_zero_and_grows_with_a_shift() {
        let dim = 8;
        let a = gaussian_set(6, 400, &vec![0.0; dim], &vec![1.0; dim]);
        let b = gaussian_set(7, 400, &vec![0.0; dim], &vec![1.0; dim]);
        let sigma = median_bandwidth(&a);
        let same = mmd(&a, &b, sigma).expect("mmd");
        let mut previous = same;
        for shift in [0.25, 0.5, 1.0] {
            let value = mmd(&a, &shifted(&b, shift), sigma).expect("mmd");
            assert!(value > previous, "shift {shift}: {value} <= {previous}");
            previous = value;
        }
        assert!(same.abs() < 0.1 * previous, "same distribution: {same}, shift 1: {previous}");
    }

    #[test]
    fn mmd_matches_a_direct_evaluation() {
        let a = gaussian_set(8, 5, &[0.0; 3], &[1.0; 3]);
        let b = gaussian_set(9, 4, &[0.5; 3], &[1.0; 3]);
        let sigma = 1.5;
        let k = |x: &[f32], y: &[f32]| {
            let d2: f64 = x.iter().zip(y).map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2)).sum();
            (-d2 / (2.0 * sigma * sigma)).exp()
        };
        let mean_within = |e: &Embeddings| {
            let n = e.len();
            let pairs = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)));
            pairs.map(|(i, j)| k(e.row(i), e.row(j))).sum::<f64>() / (n * (n - 1)) as f64
        };
        let cross =
            (0..5).flat_map(|i| (0..4).map(move |j| (i, j))).map(|(i, j)| k(a.row(i), b.row(j))).sum::<f64>() / 20.0;
        let expected = 1000.0 * (mean_within(&a) + mean_within(&b) - 2.0 * cross);
        let value = mmd(&a, &b, sigma).expect("mmd");
        assert!((value - expected).abs() < 1e-9, "{value} vs {expected}");
    }

    #[test]
    fn precision_and_recall_of_one_distribution_are_high() {
        let a = gaussian_set(10, 500, &[0.0; 8], &[1.0; 8]);
        let b = gaussian_set(11, 500, &[0.0; 8], &[1.0; 8]);
        let (precision, recall) = precision_recall(&a, &b, DEFAULT_K).expect("pr");
        assert!(precision > 0.8 && recall > 0.8, "{precision} {recall}");
    }

    #[test]
    fn precision_drops_for_a_shifted_fake_set() {
        let real = gaussian_set(12, 400, &[0.0; 8], &[1.0; 8]);
        let fake = gaussian_set(13, 400, &[0.0; 8], &[1.0; 8]);
        let mut previous = f64::INFINITY;
        for shift in [0.0, 0.5, 1.0, 2.0] {
            let (precision, _) = precision_recall(&real, &shifted(&fake, shift), DEFAULT_K).expect("pr");
            assert!(precision < previous, "shift {shift}: {precision} >= {previous}");
            previous = precision;
        }
        assert!(previous < 0.2, "{previous}");
    }

    #[test]
    fn recall_drops_when_the_fake_set_drops_a_mode() {
        // Real: two well-separated modes; fake: the same number of samples, all from one mode.
        let dim = 8;
        let two_modes = |seed: u64, modes: usize| {
            let mut e = gaussian_set(seed, 400, &vec![0.0; dim], &vec![1.0; dim]);
            for (i, row) in e.values.chunks_exact_mut(dim).enumerate() {
                row[0] += if i % modes == 0 { -5.0 } else { 5.0 };
            }
            e
        };
        let real = two_modes(14, 2);
        let fake = two_modes(15, 1);
        let (precision, recall) = precision_recall(&real, &fake, DEFAULT_K).expect("pr");
        assert!(precision > 0.8, "{precision}");
        assert!(recall < 0.6, "{recall}");
    }

    #[test]
    fn scores_reject_bad_inputs() {
        let a = gaussian_set(16, 10, &[0.0; 4], &[1.0; 4]);
        let b = gaussian_set(17, 10, &[0.0; 3], &[1.0; 3]);
        let one = gaussian_set(18, 1, &[0.0; 4], &[1.0; 4]);
        let mismatch = ScoreError::DimMismatch { a: 4, b: 3 };
        assert_eq!(frechet_distance(&a, &b), Err(mismatch.clone()));
        assert_eq!(mmd(&a, &b, 1.0), Err(mismatch.clone()));
        assert_eq!(precision_recall(&a, &b, 3), Err(mismatch));
        assert!(matches!(frechet_distance(&a, &one), Err(ScoreError::TooFewSamples { need: 2, got: 1, .. })));
        assert!(matches!(mmd(&one, &a, 1.0), Err(ScoreError::TooFewSamples { need: 2, got: 1, .. })));
        assert!(matches!(precision_recall(&a, &a, 10), Err(ScoreError::TooFewSamples { need: 11, got: 10, .. })));
        assert!(matches!(precision_recall(&a, &a, 0), Err(ScoreError::InvalidArgument(_))));
        for sigma in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(mmd(&a, &a, sigma), Err(ScoreError::InvalidArgument(_))), "{sigma}");
        }
        let broken = Embeddings { dim: 4, values: vec![f32::INFINITY; 8] };
        assert_eq!(frechet_distance(&a, &broken), Err(ScoreError::NonFinite { row: 0 }));
    }

    /// The size an evaluation run scores: ~5 s even at the test profile's opt-level 1 on 2 cores.
    /// `cargo test --lib eval::scores -- --ignored`.
    #[test]
    #[ignore = "timing check, seconds"]
    fn mmd_of_ten_thousand_by_five_thousand_takes_seconds() {
        let a = gaussian_set(19, 10_000, &[0.0; 128], &[1.0; 128]);
        let b = gaussian_set(20, 5_000, &[0.0; 128], &[1.0; 128]);
        let start = std::time::Instant::now();
        let value = mmd(&a, &b, 16.0).expect("mmd");
        let seconds = start.elapsed().as_secs_f64();
        eprintln!("mmd {value:.4} in {seconds:.2} s");
        assert!(seconds < 30.0);
    }

    #[test]
    fn a_reference_set_scores_like_the_free_functions() {
        let real = gaussian_set(1, 200, &[0.0; 8], &[1.0; 8]);
        let fake = gaussian_set(2, 150, &[0.3; 8], &[1.0; 8]);
        let reference = ReferenceSet::new(real.clone(), 2.0, DEFAULT_K).expect("reference");
        let direct = mmd(&real, &fake, 2.0).expect("mmd");
        assert!((reference.mmd(&fake).expect("mmd") - direct).abs() < 1e-9 * direct.abs().max(1.0));
        assert_eq!(reference.precision_recall(&fake), precision_recall(&real, &fake, DEFAULT_K));
        assert!(ReferenceSet::new(real.clone(), 0.0, DEFAULT_K).is_err(), "a zero bandwidth is an error");
        assert!(ReferenceSet::new(real, 2.0, 0).is_err(), "k = 0 is an error");
        let other = gaussian_set(3, 50, &[0.0; 4], &[1.0; 4]);
        assert!(reference.mmd(&other).is_err(), "dimension mismatch is an error");
    }
}
