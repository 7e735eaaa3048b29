// A solver's state update in one dispatch: out = (x + s1·k1) + s2·k2, or x + s1·k1 with one term.
// Dispatched by crate/core/src/kernels/solver_update.rs (host reference: `solver_update_reference`
// there) for `OdeState::add_scaled_all` (crate/core/src/solvers/state.rs). burn spells each term
// as two kernels (the product, the sum), and the browser build is bound by the number of
// dispatches: a Heun step's update `x + h/2·k1 + h/2·k2` was four. The same f32 products and sums
// in the same order as those kernels.
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> k1: array<f32>;
// k1 again where there is one term: read-only bindings may alias.
@group(0) @binding(2) var<storage, read> k2: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// [0] length, terms (1 or 2), s1 and s2 as f32 bits.
@group(0) @binding(4) var<uniform> info: array<vec4<u32>, 1>;

@compute @workgroup_size(256, 1, 1)
fn solver_update(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    // Large states take a second grid axis (at most 65,535 workgroups per axis).
    let i = (group.y * groups.x + group.x) * 256u + local;
    if (i >= info[0].x) {
        return;
    }
    var y = x[i] + k1[i] * bitcast<f32>(info[0].z);
    if (info[0].y > 1u) {
        y = y + k2[i] * bitcast<f32>(info[0].w);
    }
    out[i] = y;
}
