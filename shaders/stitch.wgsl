// Hand-over test: an ended system track's last estimate predicted forward and a started
// one's estimate predicted backward to a common time, under the motion model with the
// stitch's process noise; their chi-square statistic d² = Δᵀ (P₁ + P₂)⁻¹ Δ. One thread per
// candidate pair. CPU twin: `stitch::cost` (src/stitch.rs). Host: src/gpu/stitch.rs.

// Keep in sync with `StitchParams` in src/gpu/stitch.rs.
struct Params {
    // Batch reference point (ECEF, m); states are relative to it.
    origin: vec4<f32>,
    q: f32,
    max_step: f32,
    // 0: constant velocity, 1: ballistic.
    model: u32,
    count: u32,
    // 2, from the host, so that the compiler cannot unroll the loop over the two sides into
    // two inlined copies of the RK4 prediction: llvmpipe compiles the kernel for half as long.
    sides: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Keep in sync with `GpuCandidate`.
struct Candidate {
    // Seconds to predict the ended track by (forward) and the started one by (backward).
    dt_end: f32,
    dt_start: f32,
    // Dimension of the test: 6, or 3 (position only).
    dim: u32,
    _pad: u32,
}

const FORBIDDEN: f32 = 1e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ends: array<Track>;
@group(0) @binding(2) var<storage, read> starts: array<Track>;
@group(0) @binding(3) var<storage, read> candidates: array<Candidate>;
@group(0) @binding(4) var<storage, read_write> d2: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_index(wid, nwg, lid);
    if (idx >= params.count) {
        return;
    }
    let c = candidates[idx];
    let o = params.origin.xyz;
    // Side 0: the ended track, forward; side 1: the started one, backward. d = a − b and
    // S = Pa + Pb are summed as the sides come.
    var s: array<f32, 36>;
    var d: array<f32, 6>;
    for (var side = 0u; side < params.sides; side++) {
        var t = ends[idx];
        var dt = c.dt_end;
        var sign = 1.0;
        if (side == 1u) {
            t = starts[idx];
            dt = c.dt_start;
            sign = -1.0;
        }
        let p = propagate_track(o, t.state, t.cov, dt, params.q, params.max_step, params.model);
        for (var i = 0u; i < 36u; i++) {
            s[i] += p.cov[i];
        }
        for (var i = 0u; i < 6u; i++) {
            d[i] += sign * p.state[i];
        }
    }
    let f = cholesky_scaled(s, c.dim);
    if (!f.ok) {
        d2[idx] = FORBIDDEN;
        return;
    }
    d2[idx] = mahalanobis(f, d, c.dim);
}
