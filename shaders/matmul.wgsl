// Batched f32 matmul with strided operands and an optional bias row:
//   out[z, m, n] = sum_k a[z, m, k] * b[z, k, n] (+ bias[n]),   z = (z1, z2) in [0, batch1) x [0, batch2)
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
// four vec4 rows; k advances 16 at a time through workgroup memory.
// The operands are read-only, as in cubecl's own kernels: two of them may be views of one
// allocation (attention's q and k are slices of one tensor), and WebGPU refuses overlapping
// ranges only where one of them is writable. `out` is always a fresh allocation.
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// [0] m, n, k, batch2;  [1] a's strides: batch1, batch2, row (m), column (k);
// [2] b's strides: batch1, batch2, row (k), column (n);  [3] has_bias, unused x3.
// A stride of 0 broadcasts that operand over the batch axis.
@group(0) @binding(4) var<uniform> info: array<vec4<u32>, 4>;

const TILE_K: u32 = 16u;
// tile_a[k * 16 + i]: rows 4i..4i+3 of the block, column k. tile_b[k * 16 + j]: row k, columns 4j..4j+3.
var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

fn load_a(base: u32, row: u32, col: u32) -> f32 {
    let dims = info[0];
    let s = info[1];
    if (row < dims.x && col < dims.z) {
        return a[base + row * s.z + col * s.w];
    }
    return 0.0;
}

fn load_b(base: u32, row: u32, col: u32) -> f32 {
    let dims = info[0];
    let s = info[2];
    if (row < dims.z && col < dims.y) {
        return b[base + row * s.z + col * s.w];
    }
    return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn matmul(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let dims = info[0];
    let m = dims.x;
    let n = dims.y;
    let k = dims.z;
    let z1 = group.z / dims.w;
    let z2 = group.z % dims.w;
    let a_base = z1 * info[1].x + z2 * info[1].y;
    let b_base = z1 * info[2].x + z2 * info[2].y;
    let row0 = group.y * 64u;
    let col0 = group.x * 64u;

    // What this invocation loads: one vec4 of each tile. For a, 4 rows of column `a_k` (adjacent
    // invocations read adjacent k: coalesced for a row-major a); for b, 4 columns of row `b_k`.
    let a_k = flat % 16u;
    let a_i = flat / 16u;
    let b_k = flat / 16u;
    let b_j = flat % 16u;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < k; k0 += TILE_K) {
        let ar = row0 + 4u * a_i;
        let ac = k0 + a_k;
        tile_a[a_k * 16u + a_i] = vec4<f32>(load_a(a_base, ar, ac), load_a(a_base, ar + 1u, ac),
                                            load_a(a_base, ar + 2u, ac), load_a(a_base, ar + 3u, ac));
        let br = k0 + b_k;
        let bc = col0 + 4u * b_j;
        tile_b[b_k * 16u + b_j] = vec4<f32>(load_b(b_base, br, bc), load_b(b_base, br, bc + 1u),
                                            load_b(b_base, br, bc + 2u), load_b(b_base, br, bc + 3u));
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

    let col = col0 + 4u * local.x;
    var bias_row = vec4<f32>(0.0);
    if (info[3].x != 0u) {
        bias_row = vec4<f32>(bias_at(col), bias_at(col + 1u), bias_at(col + 2u), bias_at(col + 3u));
    }
    let row = row0 + 4u * local.y;
    let out_base = group.z * m * n;
    store(out_base, row, col, acc0 + bias_row);
    store(out_base, row + 1u, col, acc1 + bias_row);
    store(out_base, row + 2u, col, acc2 + bias_row);
    store(out_base, row + 3u, col, acc3 + bias_row);
}

fn bias_at(col: u32) -> f32 {
    if (col < info[0].y) {
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
    store_one(base, row, col, v.x);
    store_one(base, row, col + 1u, v.y);
    store_one(base, row, col + 2u, v.z);
    store_one(base, row, col + 3u, v.w);
}

fn store_one(base: u32, row: u32, col: u32, v: f32) {
    let n = info[0].y;
    if (col < n) {
        out[base + row * n + col] = v;
    }
}
