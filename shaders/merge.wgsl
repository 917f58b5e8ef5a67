// After the assignment of one stage (one sensor's tracks against the clusters of its epoch),
// fuses each assigned track into its cluster and opens a cluster for each unassigned one.
// One thread per (stage, epoch) problem, rows in order, as the CPU twin: the cluster update
// loop of `associate_epoch` (src/associate.rs). Host: src/gpu/associate.rs.

// Keep in sync with `FuseParams` in src/gpu/associate.rs.
struct Params {
    count: u32,
    // 0: covariance intersection, 1: independent, 2: Bar-Shalom–Campo.
    method: u32,
    rho: f32,
    _pad: u32,
}

// Keep in sync with `StageProblem` (as in gate.wgsl).
struct Problem {
    row_start: u32,
    rows: u32,
    cols: u32,
    cost_offset: u32,
    slot_base: u32,
    count_in: u32,
    count_out: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> problems: array<Problem>;
@group(0) @binding(2) var<storage, read> tracks: array<Track>;
@group(0) @binding(3) var<storage, read> track_dim: array<u32>;
@group(0) @binding(4) var<storage, read> assignment: array<i32>;
@group(0) @binding(5) var<storage, read_write> clusters: array<Track>;
@group(0) @binding(6) var<storage, read_write> cluster_dim: array<u32>;
@group(0) @binding(7) var<storage, read_write> counts: array<u32>;
@group(0) @binding(8) var<storage, read_write> cluster_of: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let pi = flat_index(wid, nwg, lid);
    if (pi >= params.count) {
        return;
    }
    let p = problems[pi];
    let before = counts[p.count_in];
    var next = before;
    for (var i = 0u; i < p.rows; i++) {
        let t = p.row_start + i;
        let a = assignment[t];
        if (a >= 0 && u32(a) < before) {
            let slot = p.slot_base + u32(a);
            clusters[slot] = fuse_pair(clusters[slot], tracks[t], params.method, params.rho);
            cluster_dim[slot] = min(cluster_dim[slot], track_dim[t]);
            cluster_of[t] = u32(a);
        } else {
            let slot = p.slot_base + next;
            clusters[slot] = tracks[t];
            cluster_dim[slot] = track_dim[t];
            cluster_of[t] = next;
            next += 1u;
        }
    }
    counts[p.count_out] = next;
}

