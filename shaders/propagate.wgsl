// Propagation of local-track reports to fusion epochs: one thread per (track, epoch) job.
// CPU twin: src/propagate.rs (`propagate`). Host: src/gpu/propagate.rs.

// Keep in sync with `PropagateParams` in src/gpu/propagate.rs.
struct Params {
    // Batch reference point (ECEF, m); states are relative to it.
    origin: vec4<f32>,
    q: f32,
    max_step: f32,
    // 0: constant velocity, 1: ballistic.
    model: u32,
    count: u32,
}

// Keep in sync with `PropagateJob`.
struct Job {
    report: u32,
    dt: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> reports: array<Track>;
@group(0) @binding(2) var<storage, read> jobs: array<Job>;
@group(0) @binding(3) var<storage, read_write> out: array<Track>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_index(wid, nwg, lid);
    if (idx >= params.count) {
        return;
    }
    let job = jobs[idx];
    out[idx] = propagate_track(params.origin.xyz, reports[job.report].state,
                               reports[job.report].cov, job.dt, params.q, params.max_step,
                               params.model);
}
