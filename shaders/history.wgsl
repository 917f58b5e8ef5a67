// The counting technique of `trackcorr history`: one thread per pair of tracks of two
// different sensors of one replay. CPU twin: src/history.rs (`count_pair`). Host:
// src/gpu/history.rs.
//
// Distances are f32, from positions relative to the replay's reference point, each given
// as the sum of two f32. A distance within rounding of the threshold is not decided here:
// the pair is handed back to the host (a recheck record) and counted again in f64, so both
// backends decide alike.

// Keep in sync with `CountParams` in src/gpu/history.rs.
struct Params {
    // threshold² divided by the measure's weight (hit: |Δ|² ≤ limit2).
    limit2: f32,
    confirm: u32,
    misses: u32,
    blocks: u32,
    pairs: u32,
    capacity: u32,
    _pad0: u32,
    _pad1: u32,
}

// A position relative to the replay's reference point as an unevaluated sum hi + lo of
// two f32 (hi = the f32 nearest to the f64 value, lo = the f32 nearest to the rest), so that
// the difference of two nearby positions keeps f64-like accuracy. Keep in sync with
// `GpuSample`.
struct Sample {
    hi: vec3<f32>,
    // Index into the replay's time table.
    time: u32,
    lo: vec3<f32>,
    _pad: u32,
}

// Keep in sync with `GpuHistory`.
struct History {
    first: u32,
    count: u32,
    t_first: u32,
    t_last: u32,
}

// Every track of one sensor against every track of a later sensor of the same replay; pair
// indices `pair_first ..` in row-major order. Keep in sync with `GpuBlock`.
struct Block {
    pair_first: u32,
    a_first: u32,
    b_first: u32,
    b_count: u32,
}

// One association time range of pair `pair`, or (flag 1) a pair to recount on the host.
// Keep in sync with `GpuRange`.
struct Range {
    pair: u32,
    start: u32,
    end: u32,
    flag: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> samples: array<Sample>;
@group(0) @binding(2) var<storage, read> histories: array<History>;
@group(0) @binding(3) var<storage, read> blocks: array<Block>;
@group(0) @binding(4) var<storage, read_write> counter: atomic<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<Range>;

// Half an ulp of 1 in f32.
const U: f32 = 5.9604645e-8;

fn emit(r: Range) {
    let k = atomicAdd(&counter, 1u);
    // Past the capacity only the count grows: the host reruns with room for all.
    if k < params.capacity {
        out[k] = r;
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pair = flat_index(wid, nwg, lid);
    if pair >= params.pairs {
        return;
    }
    // The block holding this pair: the last one starting at or before it.
    var lo = 0u;
    var hi = params.blocks;
    while hi - lo > 1u {
        let mid = (lo + hi) / 2u;
        if blocks[mid].pair_first <= pair {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let blk = blocks[lo];
    let local = pair - blk.pair_first;
    let ha = histories[blk.a_first + local / blk.b_count];
    let hb = histories[blk.b_first + local % blk.b_count];
    // Gate by time overlap first: most pairs of a long replay never coexist.
    if ha.t_last < hb.t_first || hb.t_last < ha.t_first {
        return;
    }

    var hits = 0u;
    var misses = 0u;
    var first = 0u;
    var start = 0u;
    var open = false;
    var end = 0u;
    var last = 0u;
    var i = ha.first;
    var j = hb.first;
    let i_end = ha.first + ha.count;
    let j_end = hb.first + hb.count;
    while i < i_end && j < j_end {
        let sa = samples[i];
        let sb = samples[j];
        if sa.time < sb.time {
            i++;
            continue;
        }
        if sb.time < sa.time {
            j++;
            continue;
        }
        // (hi_a − hi_b) is exact or nearly so for nearby positions; the lo parts add what
        // f32 lost of each.
        let d = (sa.hi - sb.hi) + (sa.lo - sb.lo);
        let d2 = dot(d, d);
        let dist = sqrt(d2);
        // Bound on the error of d2 against the exact value from the f64 positions: each
        // component of d is off by about 2U·|d| + 3U²·(|a| + |b|) (taken with a margin), the
        // sum of squares by a few U·d2, the limit by U·limit2.
        let delta = 4.0 * U * dist + 8.0 * U * U * (length(sa.hi) + length(sb.hi));
        let tol = 2.0 * dist * delta + 3.0 * delta * delta + 8.0 * U * (d2 + params.limit2);
        if abs(d2 - params.limit2) <= tol {
            emit(Range(pair, 0u, 0u, 1u));
            return;
        }
        let t = sa.time;
        last = t;
        if d2 <= params.limit2 {
            hits++;
            misses = 0u;
            if hits == 1u {
                first = t;
            }
            if hits == params.confirm {
                start = first;
                open = true;
            }
        } else {
            hits = 0u;
            misses++;
            if misses == 1u {
                end = t;
            }
            if misses >= params.misses && open {
                emit(Range(pair, start, end, 0u));
                open = false;
            }
        }
        i++;
        j++;
    }
    if open {
        emit(Range(pair, start, last, 0u));
    }
}
