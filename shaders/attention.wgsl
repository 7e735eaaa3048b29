// The cosine attention of a block in one dispatch, from the fused q/k/v projection to the heads'
// weighted sums, global or in (shifted) windows:
//   q, k = rope(unit(x) * sqrt(scale[head])),  y = softmax(q·kᵀ + bias) · v
// Dispatched by crate/core/src/kernels/attention.rs (host reference: `attention_reference` there).
// burn spells this as about twenty kernels (a slice, the norm, the scale, four for the rotation,
// two matmuls, the bias, five for the softmax, a copy).
// One workgroup per (image, head, window, 64 of the window's queries); one invocation per query,
// with an online softmax over the window's keys. The keys are normalised and rotated once per
// workgroup, a tile of 32 at a time, into workgroup memory beside their values, where every query
// reads them: at batch 1 the GPU runs few workgroups, and when each query rebuilt every key itself
// (the first form of this kernel) attention took 70 % of a sample's GPU time (BENCHMARKS.md).
//
// Positions p run in window order (windows one after another, `n` tokens each). Where `rows` is
// flagged, position p is row rows[p] of qkv and of out (the shifted windows' gather and scatter,
// which would otherwise be two more dispatches per block); else row p.
// qkv: [B, L, 3·H, D]; cos and sin: [L, 2·H, D] by position (queries' heads, then keys'); bias:
// [L / n, n, n] (window, query, key) when flagged; rows: [L]; out: [B, L, H, D].
// Rows are read and written as vec4s (d_head is a multiple of 4, so every row starts on one).
@group(0) @binding(0) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> cos_table: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> sin_table: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> rows: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;
// [0] B, L, H, D; [1] tokens per window n, flags (1: a bias, 2: rows), rotated pairs P
// (dimensions below 2·P rotate: d < P pairs with d + P), eps as f32 bits; [2] workgroups along
// x, unused x3.
@group(0) @binding(7) var<uniform> info: array<vec4<u32>, 3>;

// d_head ≤ 64 (the host checks it), as vec4s.
const MAX_QUADS: u32 = 16u;

// The partner of dimension d in the rotation (itself where nothing rotates).
fn partner(d: u32, pairs: u32) -> u32 {
    if (d < pairs) {
        return d + pairs;
    }
    if (d < 2u * pairs) {
        return d - pairs;
    }
    return d;
}

// The partners of a row's dimensions 4c..4c+3 (quad c of the row at quad `base`): one quad when
// the rotated pairs fill whole quads (d_head a multiple of 16, every shipped network), else
// gathered value by value.
fn partner_quad(base: u32, c: u32, pairs: u32) -> vec4<f32> {
    if (pairs % 4u == 0u) {
        return qkv[base + partner(4u * c, pairs) / 4u];
    }
    var y = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e += 1u) {
        let p = partner(4u * c + e, pairs);
        y[e] = qkv[base + p / 4u][p % 4u];
    }
    return y;
}

// A row's quads, normalised, scaled by `root` and rotated (quad c of the row at quad `base`, its
// rotation tables' at quad `table`): the loops run to the constant MAX_QUADS, so that a compiler
// may unroll them and keep `row` in registers, with the row's loads all in flight at once.
fn rotated_row(base: u32, table: u32, quads: u32, pairs: u32, root: f32, eps: f32) -> array<vec4<f32>, MAX_QUADS> {
    var row: array<vec4<f32>, MAX_QUADS>;
    var squares = vec4<f32>(0.0);
    for (var c = 0u; c < MAX_QUADS; c += 1u) {
        if (c < quads) {
            row[c] = qkv[base + c];
            squares = fma(row[c], row[c], squares);
        }
    }
    let norm = sqrt((squares.x + squares.y) + (squares.z + squares.w) + eps);
    for (var c = 0u; c < MAX_QUADS; c += 1u) {
        if (c < quads) {
            let x = row[c] / norm * root;
            let y = partner_quad(base, c, pairs) / norm * root;
            row[c] = x * cos_table[table + c] + y * sin_table[table + c];
        }
    }
    return row;
}

// The row of qkv and out that holds position p.
fn row_of(p: u32, has_rows: bool) -> u32 {
    if (has_rows) {
        return rows[p];
    }
    return p;
}

// Queries per workgroup, and keys (with their values) per tile of workgroup memory: 2 × 32 × 64
// floats, the 16 KiB every WebGPU device offers. Rows are read and summed four dimensions at a
// time (d_head is a multiple of 4): a query's dot products and sums are a chain of dependent
// operations, which sets the kernel's time at batch 1, and vec4s make that chain 4× shorter.
const QUERIES: u32 = 64u;
const TILE: u32 = 32u;
var<workgroup> keys: array<vec4<f32>, 512>;
var<workgroup> values: array<vec4<f32>, 512>;

@compute @workgroup_size(64, 1, 1)
fn attention(@builtin(workgroup_id) group_id: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let batch = info[0].x;
    let len = info[0].y;
    let heads = info[0].z;
    let dim = info[0].w;
    let quads = dim / 4u;
    let n = info[1].x;
    let has_bias = (info[1].y & 1u) != 0u;
    let has_rows = (info[1].y & 2u) != 0u;
    let pairs = info[1].z;
    let eps = bitcast<f32>(info[1].w);
    let chunks = (n + QUERIES - 1u) / QUERIES;
    let windows = len / n;
    let group = group_id.x + group_id.y * info[2].x;
    if (group >= batch * heads * windows * chunks) {
        return;
    }
    let chunk = group % chunks;
    let window = (group / chunks) % windows;
    let head = (group / (chunks * windows)) % heads;
    let image = group / (chunks * windows * heads);
    let first = window * n;
    let root = sqrt(scale[head]);
    // Lanes past the window's last query still load keys and meet the barriers; they write nothing.
    let in_window = chunk * QUERIES + lane < n;
    let token = first + min(chunk * QUERIES + lane, n - 1u);

    // The query: unit length, scaled, rotated.
    let q_base = ((image * len + row_of(token, has_rows)) * 3u * heads + head) * quads;
    let q = rotated_row(q_base, (token * 2u * heads + head) * quads, quads, pairs, root, eps);

    // Online softmax over the window's keys, a tile at a time.
    var best = -3.0e38;
    var total = 0.0;
    var acc: array<vec4<f32>, MAX_QUADS>;
    for (var c = 0u; c < MAX_QUADS; c += 1u) {
        acc[c] = vec4<f32>(0.0);
    }
    for (var start = 0u; start < n; start += TILE) {
        let count = min(TILE, n - start);
        // The previous tile's readers are done before it is overwritten.
        workgroupBarrier();
        // Lanes 0..31 each build one key (norm, scale, rotation), lanes 32..63 copy its value.
        let j = lane % TILE;
        if (j < count) {
            let key = first + start + j;
            let key_row = image * len + row_of(key, has_rows);
            if (lane < TILE) {
                let k_base = (key_row * 3u * heads + heads + head) * quads;
                let key_quads = rotated_row(k_base, (key * 2u * heads + heads + head) * quads, quads, pairs, root, eps);
                for (var c = 0u; c < MAX_QUADS; c += 1u) {
                    if (c < quads) {
                        keys[j * quads + c] = key_quads[c];
                    }
                }
            } else {
                let v_base = (key_row * 3u * heads + 2u * heads + head) * quads;
                for (var c = 0u; c < MAX_QUADS; c += 1u) {
                    if (c < quads) {
                        values[j * quads + c] = qkv[v_base + c];
                    }
                }
            }
        }
        workgroupBarrier();
        if (in_window) {
            for (var i = 0u; i < count; i += 1u) {
                var partial = vec4<f32>(0.0);
                for (var c = 0u; c < MAX_QUADS; c += 1u) {
                    if (c < quads) {
                        partial = fma(q[c], keys[i * quads + c], partial);
                    }
                }
                var score = (partial.x + partial.y) + (partial.z + partial.w);
                if (has_bias) {
                    score += bias[token * n + start + i];
                }
                if (score > best) {
                    let shrink = exp(best - score);
                    total *= shrink;
                    for (var c = 0u; c < MAX_QUADS; c += 1u) {
                        acc[c] *= shrink;
                    }
                    best = score;
                }
                let weight = exp(score - best);
                total += weight;
                for (var c = 0u; c < MAX_QUADS; c += 1u) {
                    if (c < quads) {
                        acc[c] = fma(vec4<f32>(weight), values[i * quads + c], acc[c]);
                    }
                }
            }
        }
    }
    if (in_window) {
        let o_base = ((image * len + row_of(token, has_rows)) * heads + head) * quads;
        for (var c = 0u; c < MAX_QUADS; c += 1u) {
            if (c < quads) {
                out[o_base + c] = acc[c] / total;
            }
        }
    }
}
