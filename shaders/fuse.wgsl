// Fuses the live members of each system track, pairwise in order; one thread per system
// track. CPU twin: `fuse::fuse_all` (src/fuse.rs). Host: src/gpu/associate.rs.

// Keep in sync with `FuseParams` in src/gpu/associate.rs.
struct Params {
    count: u32,
    // 0: covariance intersection, 1: independent, 2: Bar-Shalom–Campo.
    method: u32,
    rho: f32,
    _pad: u32,
}

// Keep in sync with `GpuGroup`.
struct Group {
    member_start: u32,
    members: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> groups: array<Group>;
@group(0) @binding(2) var<storage, read> members: array<u32>;
@group(0) @binding(3) var<storage, read> tracks: array<Track>;
@group(0) @binding(4) var<storage, read_write> fused: array<Track>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let gi = flat_index(wid, nwg, lid);
    if (gi >= params.count) {
        return;
    }
    let g = groups[gi];
    var acc = tracks[members[g.member_start]];
    for (var m = 1u; m < g.members; m++) {
        acc = fuse_pair(acc, tracks[members[g.member_start + m]], params.method, params.rho);
    }
    fused[gi] = acc;
}
