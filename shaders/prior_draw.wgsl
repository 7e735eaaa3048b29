// The learned prior's draw, from the decoder's output tokens straight to the flow's input tokens:
//   out = mu + sigma * (eps * s),  sigma = max(exp(clamp(log_var, lo, hi) * 0.5), floor),
// (the multiply by s only where s != 1, the max only where floor > 0), the operation order of
// `model::prior::prior_draw` after `Decoder`'s (mu, clamped log_var) and the pipeline's exp.
// burn spells that chain as about ten dispatches at batch 1 (the decoder's tokens laid out as
// images, two slices, the clamp, the half, the exp, the scaled noise, the product, the sum, the
// flow's tokens laid out again); the browser is bound by dispatches.
//
// Layouts: `decoded` is the decoder's patch tokens [B, H/pd, W/pd, pd * pd * 2C] (each token's
// pixels row by row, each pixel's C means then its C log variances); `eps` and `out` are the
// flow's [B, H/pf, W/pf, pf * pf * C]. Dispatched by crate/core/src/kernels/prior_draw.rs (host
// reference: `prior_draw_reference` there).
@group(0) @binding(0) var<storage, read> decoded: array<f32>;
@group(0) @binding(1) var<storage, read> eps: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// [0] elements of out, C, H, W;  [1] pd, pf, s != 1, floor > 0;  [2] lo, hi, s, floor (f32 bits).
@group(0) @binding(3) var<uniform> info: array<vec4<u32>, 3>;

@compute @workgroup_size(256, 1, 1)
fn prior_draw(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = (group.y * groups.x + group.x) * 256u + local;
    let dims = info[0];
    if (i >= dims.x) {
        return;
    }
    let c_all = dims.y;
    let pd = info[1].x;
    let pf = info[1].y;
    // Where out[i] is: image b, pixel (y, x), channel c.
    let per_token = pf * pf * c_all;
    let e = i % per_token;
    let token = i / per_token;
    let columns = dims.w / pf;
    let rows = dims.z / pf;
    let c = e % c_all;
    let q = e / c_all;
    let y = (token / columns) % rows * pf + q / pf;
    let x = token % columns * pf + q % pf;
    let b = token / (columns * rows);
    // The same pixel in the decoder's tokens.
    let decoded_token = (b * (dims.z / pd) + y / pd) * (dims.w / pd) + x / pd;
    let at = decoded_token * pd * pd * 2u * c_all + ((y % pd) * pd + x % pd) * 2u * c_all + c;
    let mu = decoded[at];
    let bounds = info[2];
    var sigma = exp(clamp(decoded[at + c_all], bitcast<f32>(bounds.x), bitcast<f32>(bounds.y)) * 0.5);
    if (info[1].w != 0u) {
        sigma = max(sigma, bitcast<f32>(bounds.w));
    }
    var noise = eps[i];
    if (info[1].z != 0u) {
        noise = noise * bitcast<f32>(bounds.z);
    }
    out[i] = mu + sigma * noise;
}
