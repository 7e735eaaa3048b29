// out = x, element by element: how a captured network evaluation (crate/core/src/kernels/replay.rs)
// takes its input into the buffer its recording reads, and hands its output on in a buffer of its
// own before the next replay overwrites the recorded one.
// read_write though only read: the input and the copy may be slices of one buffer (a memory
// page), and WebGPU refuses a buffer bound read-only and writable in one dispatch.
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
// [0] length.
@group(0) @binding(2) var<uniform> info: array<vec4<u32>, 1>;

@compute @workgroup_size(256, 1, 1)
fn copy(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    // Large tensors take a second grid axis (at most 65,535 workgroups per axis).
    let i = (group.y * groups.x + group.x) * 256u + local;
    if (i >= info[0].x) {
        return;
    }
    out[i] = x[i];
}
