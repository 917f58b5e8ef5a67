// Gating: the chi-square statistic between each track of one sensor and each cluster formed
// so far at its epoch, d² = Δᵀ (P₁ + P₂ − P₁₂ − P₂₁)⁻¹ Δ, as a normalised assignment cost
// d²/gate (forbidden beyond the gate). One workgroup per (stage, epoch) problem.
// CPU twin: the cost loop of `associate_epoch` (src/associate.rs) over `gate::chi_square`.
// Host: src/gpu/associate.rs.

// Keep in sync with `GateParams` in src/gpu/associate.rs.
struct Params {
    problems: u32,
    rho: f32,
    threshold3: f32,
    threshold6: f32,
}

const FORBIDDEN: f32 = 1e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> problems: array<StageProblem>;
@group(0) @binding(2) var<storage, read> tracks: array<Track>;
@group(0) @binding(3) var<storage, read> track_dim: array<u32>;
@group(0) @binding(4) var<storage, read> clusters: array<Track>;
@group(0) @binding(5) var<storage, read> cluster_dim: array<u32>;
@group(0) @binding(6) var<storage, read> counts: array<u32>;
@group(0) @binding(7) var<storage, read_write> costs: array<f32>;

fn chi_square(a: Track, b: Track, dim: u32) -> f32 {
    var s: array<f32, 36>;
    for (var i = 0u; i < 36u; i++) {
        s[i] = a.cov[i] + b.cov[i];
    }
    if (params.rho != 0.0) {
        let la = lower_factor(a.cov);
        let lb = lower_factor(b.cov);
        for (var i = 0u; i < 6u; i++) {
            for (var j = 0u; j < 6u; j++) {
                var ab = 0.0;
                var ba = 0.0;
                for (var k = 0u; k < 6u; k++) {
                    ab += la[i * 6u + k] * lb[j * 6u + k];
                    ba += lb[i * 6u + k] * la[j * 6u + k];
                }
                s[i * 6u + j] -= params.rho * (ab + ba);
            }
        }
    }
    var d: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        d[i] = a.state[i] - b.state[i];
    }
    let c = cholesky_scaled(s, dim);
    if (!c.ok) {
        return FORBIDDEN;
    }
    return mahalanobis(c, d, dim);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pi = wid.y * nwg.x + wid.x;
    if (pi >= params.problems) {
        return;
    }
    let p = problems[pi];
    let live = counts[p.count_in];
    for (var k = lid; k < p.rows * p.cols; k += WORKGROUP) {
        let i = k / p.cols;
        let j = k % p.cols;
        var cost = FORBIDDEN;
        if (j < live) {
            let t = p.row_start + i;
            let c = p.slot_base + j;
            let dim = min(track_dim[t], cluster_dim[c]);
            let d2 = chi_square(tracks[t], clusters[c], dim);
            var g = params.threshold6;
            if (dim == 3u) {
                g = params.threshold3;
            }
            if (d2 <= g) {
                cost = d2 / g;
            }
        }
        costs[p.cost_offset + k] = cost;
    }
}
