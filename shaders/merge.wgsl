// After the assignment of one stage (one sensor's tracks against the clusters of its epoch),
// fuses each assigned track into its cluster and opens a cluster for each unassigned one.
// The same clusters as the CPU twin, the cluster update loop of `associate_epoch`
// (src/associate.rs), which takes the rows in order. Host: src/gpu/associate.rs.

// Keep in sync with `FuseParams` in src/gpu/associate.rs.
struct Params {
    count: u32,
    // 0: covariance intersection, 1: independent, 2: Bar-Shalom–Campo.
    method: u32,
    rho: f32,
    // fuse: which member this dispatch fuses in.
    step: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> problems: array<StageProblem>;
@group(0) @binding(2) var<storage, read> tracks: array<Track>;
@group(0) @binding(3) var<storage, read> track_dim: array<u32>;
@group(0) @binding(4) var<storage, read> assignment: array<i32>;
@group(0) @binding(5) var<storage, read_write> clusters: array<Track>;
@group(0) @binding(6) var<storage, read_write> cluster_dim: array<u32>;
@group(0) @binding(7) var<storage, read_write> counts: array<u32>;
@group(0) @binding(8) var<storage, read_write> cluster_of: array<u32>;
// For each thread: (problem, row within it).
@group(0) @binding(9) var<storage, read> rows: array<vec2<u32>>;

// One thread per row: an assigned row fuses into its own cluster (the assignment is
// one-to-one, so no two threads touch one cluster); an unassigned row opens the cluster
// after the epoch's clusters and the unassigned rows before it. Few fusions per thread also
// keep within llvmpipe's cap on loop iterations per invocation (65 535), beyond which it
// silently cuts loops short.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_index(wid, nwg, lid);
    if (idx >= params.count) {
        return;
    }
    let row = rows[idx];
    let p = problems[row.x];
    let i = row.y;
    let before = counts[p.count_in];
    let t = p.row_start + i;
    let a = assignment[t];
    var rank = 0u;
    for (var k = 0u; k < i; k++) {
        let b = assignment[p.row_start + k];
        if (!(b >= 0 && u32(b) < before)) {
            rank += 1u;
        }
    }
    let assigned = a >= 0 && u32(a) < before;
    if (assigned) {
        let slot = p.slot_base + u32(a);
        clusters[slot] = fuse_pair(clusters[slot], tracks[t], params.method, params.rho);
        cluster_dim[slot] = min(cluster_dim[slot], track_dim[t]);
        cluster_of[t] = u32(a);
    } else {
        let slot = p.slot_base + before + rank;
        clusters[slot] = tracks[t];
        cluster_dim[slot] = track_dim[t];
        cluster_of[t] = before + rank;
    }
    if (i + 1u == p.rows) {
        counts[p.count_out] = before + rank + select(1u, 0u, assigned);
    }
}
