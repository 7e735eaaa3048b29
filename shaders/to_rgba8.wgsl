// [-1, 1] NCHW floats -> one packed RGBA8 u32 per pixel (R in the low byte), for a canvas.
// Dispatched by crate/core/src/kernels/to_rgba8.rs; host reference: crate::pipeline::quantize.
// Every storage buffer is read_write: cubecl may place several tensors in one wgpu buffer,
// and one buffer bound read-only and read-write in the same dispatch fails validation.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> info: vec4<u32>; // images, height, width, unused

fn to_byte(v: f32) -> u32 {
    // Same rounding as the host: round half away from zero of (v + 1) * 127.5.
    return u32(floor((clamp(v, -1.0, 1.0) + 1.0) * 127.5 + 0.5));
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    if (g.x >= info.z || g.y >= info.y || g.z >= info.x) {
        return;
    }
    let plane = info.y * info.z;
    let p = g.y * info.z + g.x;
    let base = g.z * 3u * plane + p;
    let r = to_byte(x[base]);
    let green = to_byte(x[base + plane]);
    let b = to_byte(x[base + 2u * plane]);
    out[g.z * plane + p] = r | (green << 8u) | (b << 16u) | (255u << 24u);
}
