// Fuses the live members of each system track, pairwise in order, one member per
// dispatch (so that no invocation runs into llvmpipe's cap of 65 535 loop iterations).
// CPU twin: `fuse::fuse_all` (src/fuse.rs). Host: src/gpu/associate.rs.

// Keep in sync with `FuseParams` in src/gpu/associate.rs.
struct Params {
    count: u32,
    // 0: covariance intersection, 1: independent, 2: Bar-Shalom–Campo.
    method: u32,
    rho: f32,
    // fuse: which member this dispatch fuses in.
    step: u32,
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

// Step 0 copies each group's first member; step m fuses member m into the groups that have
// one. One fusion per thread and dispatch: the host dispatches the steps in order.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let gi = flat_index(wid, nwg, lid);
    if (gi >= params.count) {
        return;
    }
    let g = groups[gi];
    let step = params.step;
    if (step == 0u) {
        fused[gi] = tracks[members[g.member_start]];
    } else if (step < g.members) {
        fused[gi] = fuse_pair(fused[gi], tracks[members[g.member_start + step]], params.method, params.rho);
    }
}
