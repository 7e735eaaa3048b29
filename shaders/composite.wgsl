// Inpainting composite: out = keep ? known : generated, with keep [N, 1, H, W] broadcast over
// the channels of known/generated [N, C, H, W]. A select, not a blend, so kept pixels are
// copied bit for bit. Dispatched by crate/core/src/kernels/composite.rs.
@group(0) @binding(0) var<storage, read_write> known: array<f32>;
@group(0) @binding(1) var<storage, read_write> generated: array<f32>;
@group(0) @binding(2) var<storage, read_write> keep: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> info: vec4<u32>; // elements, pixels per plane, channels, unused

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = g.y * groups.x * 256u + g.x;
    if (i >= info.x) {
        return;
    }
    let image = i / (info.z * info.y);
    let k = keep[image * info.y + i % info.y];
    out[i] = select(generated[i], known[i], k > 0.5);
}
