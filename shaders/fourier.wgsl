// The mapping network's time features in one dispatch:
//   out[b, j] = cos(t[b] * freqs[j]) for j < half,  sin(t[b] * freqs[j - half]) for half <= j < 2 * half.
// Dispatched by crate/core/src/kernels/fourier.rs (host reference: `fourier_reference` there).
// burn spells it as five kernels per network evaluation (the product, cos, sin, the two halves
// of the concatenation), and the browser build is bound by the number of dispatches. The same
// f32 product and the same `cos`/`sin` builtins as burn's kernels: the same values on a device.
@group(0) @binding(0) var<storage, read> t: array<f32>;
@group(0) @binding(1) var<storage, read> freqs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// [0] batch, half, unused x2.
@group(0) @binding(3) var<uniform> info: array<vec4<u32>, 1>;

@compute @workgroup_size(64, 1, 1)
fn fourier(@builtin(global_invocation_id) id: vec3<u32>) {
    let half = info[0].y;
    let width = 2u * half;
    let i = id.x;
    if (i >= info[0].x * width) {
        return;
    }
    let b = i / width;
    let j = i % width;
    if (j < half) {
        out[i] = cos(t[b] * freqs[j]);
    } else {
        out[i] = sin(t[b] * freqs[j - half]);
    }
}
