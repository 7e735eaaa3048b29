// Batched f32 matmul with strided operands and an optional bias row:
//   out[z, m, n] = sum_k a[z, m, k] * b[z, k, n] (+ bias[n]),   z = (z1, z2) in [0, batch1) x [0, batch2)
// and four epilogues, each saving the browser a dispatch or more (it is bound by dispatches):
//   residual: out = residual[z, m, n] + (a . b + bias), the pre-norm blocks' skip connection;
//   GEGLU:    b holds [A | G] (n = 2 * half columns), out[z, m, j] = A_j * gelu(G_j), j < half,
//             with burn's gelu step by step (x * (erf(x / sqrt 2) + 1) / 2, cubecl's erf);
//   split:    the hourglass's token split (a two-dimensional product, rows = tokens of a grid
//             `width` wide, n = 4C): row r's output columns q * C + c (q = 2 dy + dx) go to token
//             (2 * (r / width) + dy, 2 * (r % width) + dx), channel c, of the grid twice as fine,
//             lerped with the skip there: out = skip + (y - skip) * fac, fac = factor[0];
//   update:   out = residual[z, m, n] + (a . b + bias) * s, an ODE solver's state update
//             (shaders/solver_update.wgsl's `x + s1 * k1` with k1 the product), s = info[6].z;
// and two prologues, each costing no dispatch of its own:
//   merge:    `a` read as the hourglass's 2 x 2 token merge of a contiguous [B, 2H, 2W, C] grid:
//             a[r, q * C + c] = grid token (2 * (r / width) + q / 2, 2 * (r % width) + q % 2), channel c;
//   embedding: a[m, k] = sum_c tokens[m, c] * W[c, k] + w_bias[k] (c < rank <= 8), a patch_in layer's
//             output recomputed where it is read instead of stored by a dispatch of its own; as `a`
//             (the tokens in a's binding, [W; w_bias] in the residual's) or as the residual
//             epilogue's residual (the tokens in the factor's binding, [W; w_bias] in the residual's);
//   RMS norm: out = (1 / rms_m) * sum_k a[m, k] * f[m, k] * b[k, n] (+ bias, then the epilogue),
//             rms_m = sqrt(sum_k a[m, k]^2 / K + eps), f[m, k] = added + factor[(m / group) * stride
//             + offset + k] (an AdaRMSNorm's 1 + modulation of row m's image, or an RmsNorm's
//             scale) or 1. The factor scales a as it is loaded; the sum of squares is of a itself.
// Dispatched by crate/core/src/kernels/matmul.rs (host reference: `matmul_reference` there).
//
// Why our own: browsers run WGSL with bounds checks they add themselves (Dawn's robustness pass in
// Chrome, naga's in Firefox). cubecl's matmul keeps its register tiles in function-scope arrays
// indexed by loop counters; with a clamp on every such index the NVIDIA compiler moved them to
// local memory and the matmuls took 18x longer on Dawn (BENCHMARKS.md, "Matmuls under Dawn's
// robustness"). Here the accumulators are plain vec4 variables and every array index is either a
// constant or a workgroup-array index whose clamp costs one min: nothing for the checks to spill.
//
// Tiles: a 16x16 workgroup computes a 64x64 block of `out`, each invocation a 4x4 piece held in
// four vec4 rows; k advances 16 at a time through workgroup memory. `matmul_narrow` (below)
// covers a 32x32 block with the k range split four ways, for grids too small to fill the GPU.
// The operands are read-only, as in cubecl's own kernels: two of them may be views of one
// allocation (attention's q and k are slices of one tensor), and WebGPU refuses overlapping
// ranges only where one of them is writable. `out` is always a fresh allocation.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
// Read only with the residual, split and update epilogues (else bound to `a`'s buffer), contiguous
// like `out` (the split's skip: in the finer grid's layout, as `out` is written); with an
// embedding, its [W; w_bias] ([rank + 1, width] rows).
@group(0) @binding(3) var<storage, read> residual: array<f32>;
// Read only by the norm prologue with a factor, by the split epilogue (its lerp factor) and by an
// embedded residual (its tokens) (else bound to `a`'s buffer).
@group(0) @binding(4) var<storage, read> factor: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// [0] m, n, k, batch2;  [1] a's strides: batch1, batch2, row (m), column (k);
// [2] b's strides: batch1, batch2, row (k), column (n);  [3] has_bias, the residual epilogue (1),
// the split (2) or the update (3) (0: none of them), half (GEGLU with `half` output columns; 0: off), the factor's
// `added` (f32 bits); [4] this dispatch's first workgroup (x, y, z), the norm's eps (f32 bits);
// [5] the norm prologue (1: on, 3: on with a factor; 0: off), the factor's group, stride and
// offset; [6] the split's token grid width (0 without the split), the merge's (0 without it: `a`
// read through its strides), the update's s (f32 bits), the embedding (0: none; else its rank,
// plus 1 << 16 where it is `a`, 2 << 16 where it is the residual).
// A stride of 0 broadcasts that operand over the batch axis.
// A grid past the 65,535 workgroups a dispatch may have on an axis is split into several
// dispatches (`Plan::launches`), each offset by [4]; one dispatch has offset 0.
@group(0) @binding(6) var<uniform> info: array<vec4<u32>, 7>;

const TILE_K: u32 = 16u;
// Whether the embedding is compiled in: true only in the variant the host builds for the products
// that read one (crate/core/src/kernels/matmul.rs, `embedded_source`). Every other product runs
// without its branches: on a CPU adapter (SwiftShader, CI's WebGPU) they made every matmul slower
// (the tiny sample 14 % slower) though never taken.
const EMBEDDING: bool = false;
// tile_a[k * 16 + i]: rows 4i..4i+3 of the block, column k. tile_b[k * 16 + j]: row k, columns 4j..4j+3.
var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

fn load_a(base: u32, row: u32, col: u32) -> f32 {
    let dims = info[0];
    let s = info[1];
    if (row < dims.x && col < dims.z) {
        let width = info[6].y;
        if (width != 0u) {
            // The token merge: `a` is the finer grid, row `row`'s four tokens side by side.
            return a[base + finer_index(row, col, width, dims.z / 4u)];
        }
        if (EMBEDDING && (info[6].w >> 16u) == 1u) {
            return embedded_a(row, col, info[6].w & 0xffffu, dims.z);
        }
        return a[base + row * s.z + col * s.w];
    }
    return 0.0;
}

// The norm's factor for a's element (row, col); 0 outside a, where the element is 0 too.
fn factor_at(row: u32, col: u32) -> f32 {
    let p = info[5];
    if (row < info[0].x && col < info[0].z) {
        return bitcast<f32>(info[3].w) + factor[(row / p.y) * p.z + p.w + col];
    }
    return 0.0;
}

// `col` is a column of b that exists (the caller checks it: GEGLU maps columns).
fn load_b(base: u32, row: u32, col: u32, exists: bool) -> f32 {
    let s = info[2];
    if (row < info[0].z && exists) {
        return b[base + row * s.z + col * s.w];
    }
    return 0.0;
}

// The four columns of b (and of the bias) behind an invocation's four accumulator columns, `j`
// the invocation's column index in its block. Plain: 4j..4j+3 of the block. GEGLU: the block
// covers 32 output columns, and an invocation holds A's and G's columns of two of them
// (c, c + 1, half + c, half + c + 1), so its epilogue needs nothing from another invocation.
// `block`: the block's width in columns of b (64 for `matmul`, 32 for `matmul_narrow`).
fn b_columns(group_x: u32, j: u32, block: u32) -> vec4<u32> {
    let half = info[3].z;
    if (half == 0u) {
        let c = group_x * block + 4u * j;
        return vec4<u32>(c, c + 1u, c + 2u, c + 3u);
    }
    let c = group_x * (block / 2u) + 2u * j;
    return vec4<u32>(c, c + 1u, half + c, half + c + 1u);
}

// Whether each of those columns exists.
fn b_exists(cols: vec4<u32>) -> vec4<bool> {
    let half = info[3].z;
    if (half == 0u) {
        return cols < vec4<u32>(info[0].y);
    }
    let lo = vec2<u32>(cols.x, cols.y) < vec2<u32>(half);
    return vec4<bool>(lo, lo);
}

// A workgroup's block in the whole grid (its dispatch's offset added) and where its batch
// entry starts in a and b.
struct Place {
    group: vec3<u32>,
    a_base: u32,
    b_base: u32,
}

fn place_of(launched: vec3<u32>) -> Place {
    let group = launched + info[4].xyz;
    let z1 = group.z / info[0].w;
    let z2 = group.z % info[0].w;
    return Place(group, z1 * info[1].x + z2 * info[1].y, z1 * info[2].x + z2 * info[2].y);
}

@compute @workgroup_size(16, 16, 1)
fn matmul(
    @builtin(workgroup_id) launched: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let place = place_of(launched);
    let group = place.group;
    let m = info[0].x;
    let n = info[0].y;
    let k = info[0].z;
    let a_base = place.a_base;
    let b_base = place.b_base;
    let row0 = group.y * 64u;

    // What this invocation loads: one vec4 of each tile. For a, 4 rows of column `a_k` (adjacent
    // invocations read adjacent k: coalesced for a row-major a); for b, 4 columns of row `b_k`.
    let a_k = flat % 16u;
    let a_i = flat / 16u;
    let b_k = flat / 16u;
    let b_j = flat % 16u;
    let bc = b_columns(group.x, b_j, 64u);
    let b_ok = b_exists(bc);

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // The norm prologue: this invocation's share of the sums of squares of its four rows of a
    // (the rows it accumulates too: a_i is local.y), over the columns it loads (a_k = local.x).
    let norm = info[5].x;
    var squares = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < k; k0 += TILE_K) {
        let ar = row0 + 4u * a_i;
        let ac = k0 + a_k;
        var av = vec4<f32>(load_a(a_base, ar, ac), load_a(a_base, ar + 1u, ac),
                           load_a(a_base, ar + 2u, ac), load_a(a_base, ar + 3u, ac));
        if (norm != 0u) {
            squares = fma(av, av, squares);
            if (norm == 3u) {
                av = av * vec4<f32>(factor_at(ar, ac), factor_at(ar + 1u, ac), factor_at(ar + 2u, ac), factor_at(ar + 3u, ac));
            }
        }
        tile_a[a_k * 16u + a_i] = av;
        let br = k0 + b_k;
        tile_b[b_k * 16u + b_j] = vec4<f32>(load_b(b_base, br, bc.x, b_ok.x), load_b(b_base, br, bc.y, b_ok.y),
                                            load_b(b_base, br, bc.z, b_ok.z), load_b(b_base, br, bc.w, b_ok.w));
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk += 1u) {
            let av = tile_a[kk * 16u + local.y];
            let bv = tile_b[kk * 16u + local.x];
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    // 1 / rms of the four rows: the sixteen invocations of a tile row hold a column residue each
    // of its sums of squares; tile_a is free after the loop's last barrier. `norm` is uniform, so
    // the barrier stays in uniform control flow.
    var inverse = vec4<f32>(1.0);
    if (norm != 0u) {
        tile_a[local.x * 16u + local.y] = squares;
        workgroupBarrier();
        var sum = vec4<f32>(0.0);
        for (var j = 0u; j < 16u; j += 1u) {
            sum += tile_a[j * 16u + local.y];
        }
        inverse = 1.0 / sqrt(sum / f32(k) + bitcast<f32>(info[4].w));
    }
    acc0 *= inverse.x;
    acc1 *= inverse.y;
    acc2 *= inverse.z;
    acc3 *= inverse.w;

    let cols = b_columns(group.x, local.x, 64u);
    let ok = b_exists(cols);
    var bias_row = vec4<f32>(0.0);
    if (info[3].x != 0u) {
        bias_row = vec4<f32>(bias_at(cols.x, ok.x), bias_at(cols.y, ok.y), bias_at(cols.z, ok.z), bias_at(cols.w, ok.w));
    }
    let row = row0 + 4u * local.y;
    let half = info[3].z;
    if (half != 0u) {
        let out_base = group.z * m * half;
        store_geglu(out_base, row, cols.x, acc0 + bias_row);
        store_geglu(out_base, row + 1u, cols.x, acc1 + bias_row);
        store_geglu(out_base, row + 2u, cols.x, acc2 + bias_row);
        store_geglu(out_base, row + 3u, cols.x, acc3 + bias_row);
        return;
    }
    let out_base = group.z * m * n;
    store(out_base, row, cols.x, acc0 + bias_row);
    store(out_base, row + 1u, cols.x, acc1 + bias_row);
    store(out_base, row + 2u, cols.x, acc2 + bias_row);
    store(out_base, row + 3u, cols.x, acc3 + bias_row);
}

// The narrow tiling, for products whose grid of 64 x 64 blocks leaves most of the GPU idle (at
// batch 1 the networks' m is 16 to 256 tokens, so a layer is 1 to 24 such blocks, each walking
// all of k alone): 32 x 32 blocks, four times the workgroups, and in each the 256 invocations
// in four k-groups of 64. Group g takes values 16g..16g+15 of every 64 of k into its own tiles,
// each invocation a 4 x 4 piece as in `matmul`, and the four partial blocks are added up at the
// end through workgroup memory: a quarter of the serial steps, each with four times the loads in
// flight. The prologue and epilogues are `matmul`'s.
//
// narrow[g * 256 + kk * 8 + i]: group g's a tile, rows 4i..4i+3 of the block at column kk (kk <
// 16, i < 8); narrow[g * 256 + 128 + kk * 8 + j]: its b tile, row kk, columns 4j..4j+3. After
// the k loop the same memory holds the norm's sums of squares, then the partial blocks:
// narrow[g * 256 + r * 8 + j], row r < 32, columns 4j..4j+3. 1,024 vec4s: 16 KiB, WebGPU's
// default limit on a workgroup's memory.
var<workgroup> narrow: array<vec4<f32>, 1024>;

@compute @workgroup_size(16, 16, 1)
fn matmul_narrow(
    @builtin(workgroup_id) launched: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let place = place_of(launched);
    let group = place.group;
    let m = info[0].x;
    let n = info[0].y;
    let k = info[0].z;
    let a_base = place.a_base;
    let b_base = place.b_base;
    let row0 = group.y * 32u;

    let g = flat / 64u;
    let t = flat % 64u;
    let tile = g * 256u;
    // What this invocation accumulates: rows 4ti..4ti+3, columns 4tj..4tj+3 of the block.
    let ti = t / 8u;
    let tj = t % 8u;
    // What it loads: for a, row quads a_i and a_i + 4 of column a_k; for b, rows b_k and b_k + 8
    // of column quad b_j.
    let a_k = t % 16u;
    let a_i = t / 16u;
    let b_k = t / 8u;
    let b_j = t % 8u;
    let bc = b_columns(group.x, b_j, 32u);
    let b_ok = b_exists(bc);

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let norm = info[5].x;
    var squares0 = vec4<f32>(0.0);
    var squares1 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < k; k0 += 64u) {
        let ac = k0 + 16u * g + a_k;
        let ar0 = row0 + 4u * a_i;
        let ar1 = ar0 + 16u;
        var av0 = vec4<f32>(load_a(a_base, ar0, ac), load_a(a_base, ar0 + 1u, ac),
                            load_a(a_base, ar0 + 2u, ac), load_a(a_base, ar0 + 3u, ac));
        var av1 = vec4<f32>(load_a(a_base, ar1, ac), load_a(a_base, ar1 + 1u, ac),
                            load_a(a_base, ar1 + 2u, ac), load_a(a_base, ar1 + 3u, ac));
        if (norm != 0u) {
            squares0 = fma(av0, av0, squares0);
            squares1 = fma(av1, av1, squares1);
            if (norm == 3u) {
                av0 = av0 * vec4<f32>(factor_at(ar0, ac), factor_at(ar0 + 1u, ac), factor_at(ar0 + 2u, ac), factor_at(ar0 + 3u, ac));
                av1 = av1 * vec4<f32>(factor_at(ar1, ac), factor_at(ar1 + 1u, ac), factor_at(ar1 + 2u, ac), factor_at(ar1 + 3u, ac));
            }
        }
        narrow[tile + a_k * 8u + a_i] = av0;
        narrow[tile + a_k * 8u + a_i + 4u] = av1;
        let br = k0 + 16u * g + b_k;
        narrow[tile + 128u + b_k * 8u + b_j] = vec4<f32>(load_b(b_base, br, bc.x, b_ok.x), load_b(b_base, br, bc.y, b_ok.y),
                                                         load_b(b_base, br, bc.z, b_ok.z), load_b(b_base, br, bc.w, b_ok.w));
        let br8 = br + 8u;
        narrow[tile + 128u + (b_k + 8u) * 8u + b_j] = vec4<f32>(load_b(b_base, br8, bc.x, b_ok.x), load_b(b_base, br8, bc.y, b_ok.y),
                                                                load_b(b_base, br8, bc.z, b_ok.z), load_b(b_base, br8, bc.w, b_ok.w));
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk += 1u) {
            let av = narrow[tile + kk * 8u + ti];
            let bv = narrow[tile + 128u + kk * 8u + tj];
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    // From here each invocation finishes one row of the block, r, and its columns 4c..4c+3.
    let r = flat / 8u;
    let c = flat % 8u;
    // 1 / rms of row r: the squares sit where the a tiles did, so row quad r / 4 of every column
    // and group is one component (r % 4) of 64 vec4s. `norm` is uniform: the barriers stay in
    // uniform control flow.
    var inverse = 1.0;
    if (norm != 0u) {
        narrow[tile + a_k * 8u + a_i] = squares0;
        narrow[tile + a_k * 8u + a_i + 4u] = squares1;
        workgroupBarrier();
        var sum = vec4<f32>(0.0);
        for (var j = 0u; j < 64u; j += 1u) {
            sum += narrow[(j / 16u) * 256u + (j % 16u) * 8u + r / 4u];
        }
        let picked = select(select(select(sum.x, sum.y, r % 4u == 1u), sum.z, r % 4u == 2u), sum.w, r % 4u == 3u);
        inverse = 1.0 / sqrt(picked / f32(k) + bitcast<f32>(info[4].w));
        workgroupBarrier();
    }
    narrow[tile + (4u * ti) * 8u + tj] = acc0;
    narrow[tile + (4u * ti + 1u) * 8u + tj] = acc1;
    narrow[tile + (4u * ti + 2u) * 8u + tj] = acc2;
    narrow[tile + (4u * ti + 3u) * 8u + tj] = acc3;
    workgroupBarrier();
    let at = r * 8u + c;
    let sum = narrow[at] + narrow[256u + at] + narrow[512u + at] + narrow[768u + at];

    let cols = b_columns(group.x, c, 32u);
    let ok = b_exists(cols);
    var bias_row = vec4<f32>(0.0);
    if (info[3].x != 0u) {
        bias_row = vec4<f32>(bias_at(cols.x, ok.x), bias_at(cols.y, ok.y), bias_at(cols.z, ok.z), bias_at(cols.w, ok.w));
    }
    let row = row0 + r;
    if (info[3].z != 0u) {
        store_geglu(group.z * m * info[3].z, row, cols.x, sum * inverse + bias_row);
        return;
    }
    store(group.z * m * n, row, cols.x, sum * inverse + bias_row);
}

// x[row, col] of an embedding (`width` columns) whose tokens are `a` ([m, rank]), [W; w_bias] the
// residual binding: the product's fma chain from 0 over the tokens, then the bias, as this shader
// computes the patch_in layer's own product (its k fits one tile, the other k-groups add zeros),
// so that x is the same to the bit.
fn embedded_a(row: u32, col: u32, rank: u32, width: u32) -> f32 {
    var acc = 0.0;
    for (var c = 0u; c < rank; c += 1u) {
        acc = fma(a[row * rank + c], residual[c * width + col], acc);
    }
    return acc + residual[rank * width + col];
}

// The same where the tokens are the factor binding (an embedded residual).
fn embedded_residual(row: u32, col: u32, rank: u32, width: u32) -> f32 {
    var acc = 0.0;
    for (var c = 0u; c < rank; c += 1u) {
        acc = fma(factor[row * rank + c], residual[c * width + col], acc);
    }
    return acc + residual[rank * width + col];
}

fn bias_at(col: u32, exists: bool) -> f32 {
    if (exists) {
        return bias[col];
    }
    return 0.0;
}

// Components by name, not by a loop counter: a dynamically indexed vector is what the bounds
// checks turn into memory traffic.
fn store(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= info[0].x) {
        return;
    }
    let n = info[0].y;
    if (info[3].y == 2u) {
        store_split(row, col, n, v.x);
        store_split(row, col + 1u, n, v.y);
        store_split(row, col + 2u, n, v.z);
        store_split(row, col + 3u, n, v.w);
        return;
    }
    store_one(base, row, col, n, v.x);
    store_one(base, row, col + 1u, n, v.y);
    store_one(base, row, col + 2u, n, v.z);
    store_one(base, row, col + 3u, n, v.w);
}

// `v` = (A_c, A_c+1, G_c, G_c+1) of one row: output columns c and c + 1.
fn store_geglu(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= info[0].x) {
        return;
    }
    let half = info[3].z;
    store_one(base, row, col, half, v.x * gelu(v.z));
    store_one(base, row, col + 1u, half, v.y * gelu(v.w));
}

fn store_one(base: u32, row: u32, col: u32, n: u32, v: f32) {
    if (col < n) {
        let i = base + row * n + col;
        if (info[3].y == 1u) {
            var r: f32;
            if (EMBEDDING && (info[6].w >> 16u) == 2u) {
                r = embedded_residual(row, col, info[6].w & 0xffffu, n);
            } else {
                r = residual[i];
            }
            out[i] = r + v;
        } else if (info[3].y == 3u) {
            out[i] = residual[i] + v * bitcast<f32>(info[6].z);
        } else {
            out[i] = v;
        }
    }
}

// Element (row, col) of the product, split into the finer grid and lerped with the skip there, in
// the order the model spells it: skip + (up - skip) * fac.
fn store_split(row: u32, col: u32, n: u32, v: f32) {
    if (col < n) {
        let i = finer_index(row, col, info[6].x, n / 4u);
        let skip = residual[i];
        out[i] = skip + (v - skip) * factor[0];
    }
}

// Where column `col` of merged row `row` lives in the finer grid `2 * width` tokens wide: token
// (2 * (row / width) + dy, 2 * (row % width) + dx), channel c, for col = (2 dy + dx) * channels + c.
// The one map of the token merge (read) and split (written).
fn finer_index(row: u32, col: u32, width: u32, channels: u32) -> u32 {
    let q = col / channels;
    let token = (2u * (row / width) + q / 2u) * 2u * width + 2u * (row % width) + q % 2u;
    return token * channels + col % channels;
}

// burn's gelu (burn-backend's default: four element-wise kernels) with cubecl's erf polyfill,
// operation by operation, so the fused epilogue computes what the separate kernels did.
fn gelu(x: f32) -> f32 {
    let e = erf(x / 1.4142135);
    return x * (e + 1.0) / 2.0;
}

// cubecl-core's `polyfills::erf` (Abramowitz & Stegun 7.1.26, max error 1.5e-7).
fn erf(x: f32) -> f32 {
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * ax);
    let tmp = ((((1.0614054 * t + -1.453152) * t) + 1.4214137) * t + -0.28449674) * t + 0.2548296;
    let pos = 1.0 - (tmp * t * exp(-ax * ax));
    return select(pos, -pos, x < 0.0);
}
