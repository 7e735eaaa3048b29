// Row normalisation in one pass, for the norms of the networks (RMSNorm, AdaRMSNorm, the cosine
// norm of queries and keys):
//   out[r, c] = x[r, c] / sqrt(sum_c x[r, c]^2 / divisor + eps) * scale[c]? * (1 + modulation[r / group, offset + c])?
// (the modulation's rows `stride` wide: one network evaluation computes all its norms' modulations
// in one matmul, and each norm reads its columns of it)
// Dispatched by crate/core/src/kernels/row_norm.rs (host reference: `row_norm_reference` there).
// burn spells each of these as six to nine kernels (square, mean, add, sqrt, reciprocal, products,
// the modulation's add): in the browser build a sample is bound by the number of dispatches, not
// by arithmetic (BENCHMARKS.md).
// One invocation per row: rows are short (at most a few hundred values) and plentiful, and a
// workgroup-wide sum needs barriers, which SwiftShader (the CI's WebGPU) runs very slowly.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> modulation: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// [0] rows, width, rows per modulation row, flags (1: scale, 2: modulation, 4: multiply by the
// reciprocal of the norm, as burn's RMSNorm does, instead of dividing by it);
// [1] divisor and eps as f32 bits, the modulation's row stride and first column.
@group(0) @binding(4) var<uniform> info: array<vec4<u32>, 2>;

@compute @workgroup_size(64, 1, 1)
fn row_norm(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let width = info[0].y;
    if (row >= info[0].x) {
        return;
    }
    let base = row * width;
    var sum = 0.0;
    for (var c = 0u; c < width; c += 1u) {
        let v = x[base + c];
        sum = fma(v, v, sum);
    }
    let norm = sqrt(sum / bitcast<f32>(info[1].x) + bitcast<f32>(info[1].y));
    let flags = info[0].w;
    let inverse = 1.0 / norm;
    let modulation_base = (row / info[0].z) * info[1].z + info[1].w;
    for (var c = 0u; c < width; c += 1u) {
        var v = x[base + c];
        if ((flags & 4u) != 0u) {
            v = v * inverse;
        } else {
            v = v / norm;
        }
        if ((flags & 1u) != 0u) {
            v = v * scale[c];
        }
        if ((flags & 2u) != 0u) {
            v = v * (1.0 + modulation[modulation_base + c]);
        }
        out[base + c] = v;
    }
}
