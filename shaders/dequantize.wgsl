// Quantized weights (docs/FORMAT.md) -> f32, once at load, so only the quantized bytes cross
// the bus. Dispatched by crate/core/src/kernels/dequantize.rs; host reference:
// crate::weights::Storage::dequantize (the same f32 product, so the results are bit-identical).
// Codes and f16 scales arrive as raw bytes viewed as u32 words (WGSL has no 8-bit or 16-bit
// storage without extensions); unpack2x16float reads the scales without the shader-f16 feature.
// Every storage buffer is read_write: cubecl may place several tensors in one wgpu buffer.
@group(0) @binding(0) var<storage, read_write> codes: array<u32>;
@group(0) @binding(1) var<storage, read_write> scales: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> info: vec4<u32>; // elements, cols, int4 group (0: int8), unused

fn byte_at(index: u32) -> u32 {
    return (codes[index / 4u] >> ((index % 4u) * 8u)) & 0xffu;
}

fn scale_at(index: u32) -> f32 {
    let pair = unpack2x16float(scales[index / 2u]);
    return select(pair.x, pair.y, index % 2u == 1u);
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = g.y * groups.x * 256u + g.x;
    if (i >= info.x) {
        return;
    }
    let cols = info.y;
    let group = info.z;
    let row = i / cols;
    if (group == 0u) {
        // int8: one signed byte per element, one scale per row.
        let code = f32(i32(byte_at(i) << 24u) >> 24u);
        out[i] = code * scale_at(row);
        return;
    }
    // int4: rows padded to whole groups, two codes per byte (even column in the low nibble),
    // each stored as q + 8; one scale per group.
    let col = i % cols;
    let groups_per_row = (cols + group - 1u) / group;
    let row_bytes = groups_per_row * group / 2u;
    let byte = byte_at(row * row_bytes + col / 2u);
    let nibble = select(byte & 0xfu, byte >> 4u, col % 2u == 1u);
    out[i] = f32(i32(nibble) - 8) * scale_at(row * groups_per_row + col / group);
}
