// Local tracking (`trackcorr track`): one workgroup per tracker (a sensor of a replay), one
// dispatch per scan index; thread `l` of a workgroup owns track slot `l`. CPU twin:
// src/track.rs (`track_sensor`). Host: src/gpu/track.rs. The host prepends common.wgsl and
// ballistic.wgsl.
//
// Per scan (an antenna turn): skipped scans count as misses (every thread); IMM mixing and
// prediction to the scan's time, and the gate against the scan's detections, each at its own
// time (every thread, its slot); global nearest neighbour by
// shortest augmenting paths, confirmed tracks first (thread 0); IMM update (every thread);
// confirmation, deletion, two-point initiation and the reports (thread 0, in the order the
// CPU twin keeps its tracks: creation order). Positions are relative to the sensor's site.
// A tracker that outgrows its slots, the assignment's iteration budget or thread 0's budget
// for one scan (llvmpipe silently cuts loops past 65 535 iterations per invocation) is flagged
// and run again on the CPU by the host.

const SLOTS: u32 = 64u;
const LONE: u32 = 32u;
const MAX_DETS: u32 = 32u;
const WIDE: u32 = 96u; // SLOTS + MAX_DETS: assignment columns with one miss column per row
const BIG: f32 = 1e30;
const NO_TRUTH: i32 = -1;
const LABEL_WINDOW: u32 = 5u;
// Rows × columns² of the largest assignment thread 0 may solve (llvmpipe ends any invocation
// after 65 535 loop iterations).
const LAP_BUDGET: u32 = 30000u;
// Loop iterations thread 0 may spend on one scan (its slot's prediction and gate, the
// assignments and the bookkeeping, estimated); beyond it the scan's results are not trusted
// and the tracker is rerun on the CPU.
const WORK_BUDGET: u32 = 60000u;

// Thread 0's estimate of its loop iterations in this dispatch.
var<private> work: u32;

// Keep in sync with `TrackParams` in src/gpu/track.rs.
struct Params {
    gate: f32,
    confirm_hits: u32,
    confirm_window: u32,
    delete_misses: u32,
    init_scans: u32,
    max_speed: f32,
    trackers: u32,
    step: u32,
    capacity: u32,
    max_step: f32,
    q_boost: f32,
    q_coast: f32,
    // Mode transition probabilities [from][to].
    t00: f32,
    t01: f32,
    t10: f32,
    t11: f32,
    // 2, from the host, so that the compiler cannot unroll two-pass loops (over the modes;
    // confirmed then tentative tracks) into two inlined copies of their bodies: llvmpipe
    // compiles this kernel once per run, for minutes.
    two: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Keep in sync with `GpuTracker`.
struct Tracker {
    // Site (ECEF, m): gravity is evaluated at site + relative position.
    origin: vec4<f32>,
    east: vec4<f32>,
    north: vec4<f32>,
    up: vec4<f32>,
    // Range (m), azimuth and elevation (rad) noise, 1σ.
    sigma: vec4<f32>,
    scan_first: u32,
    scan_count: u32,
    _pad0: u32,
    _pad1: u32,
}

// Keep in sync with `GpuScan`.
struct Scan {
    det_first: u32,
    det_count: u32,
    // Scans without any detection since the previous one (counted as misses).
    skipped: u32,
    // Scan number (for the age of lone detections).
    index: u32,
    // Seconds since the tracker's first scan.
    time: f32,
    // 1 when some detection is stamped after the scan's time (a rotating antenna).
    spread: u32,
    _pad1: u32,
    _pad2: u32,
}

// Keep in sync with `GpuDetection`.
struct Det {
    rae: vec3<f32>,
    truth: i32,
    // Converted position (relative to the site) and its covariance (xx, xy, xz, yy, yz, zz),
    // for initiation.
    z: vec3<f32>,
    id: u32,
    r: array<f32, 6>,
    // Seconds since the tracker's first scan, and after its own scan's time.
    time: f32,
    dt: f32,
}

struct Mode {
    x: array<f32, 6>,
    p: array<f32, 36>,
}

// Keep in sync with `GpuSlot`.
struct Slot {
    m0: Mode,
    m1: Mode,
    prob0: f32,
    prob1: f32,
    time: f32,
    live: u32,
    confirmed: u32,
    number: u32,
    hits: u32,
    misses: u32,
    parent0: u32,
    parent1: u32,
    // Creation order (the CPU twin's order of its tracks).
    key: u32,
    nlabels: u32,
    truth: i32,
    labels: array<i32, 5>,
    // The detection whose time the slot is at, or -1 for its scan's time.
    det: i32,
}

// Keep in sync with `GpuLone`.
struct Lone {
    z: array<f32, 3>,
    time: f32,
    r: array<f32, 6>,
    scan: u32,
    truth: i32,
    id: u32,
    live: u32,
}

// Keep in sync with `GpuTrackerState`.
struct TrackerState {
    next_number: u32,
    next_key: u32,
    // 1: outgrew the GPU's limits; the host tracks this sensor on the CPU.
    overflow: u32,
    _pad: u32,
}

// Keep in sync with `GpuTrackReport`.
struct OutReport {
    tracker: u32,
    scan: u32,
    number: u32,
    truth: i32,
    det: i32,
    state: array<f32, 6>,
    cov: array<f32, 36>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> trackers: array<Tracker>;
@group(0) @binding(2) var<storage, read> scans: array<Scan>;
@group(0) @binding(3) var<storage, read> dets: array<Det>;
@group(0) @binding(4) var<storage, read_write> slots: array<Slot>;
@group(0) @binding(5) var<storage, read_write> lone: array<Lone>;
@group(0) @binding(6) var<storage, read_write> states: array<TrackerState>;
@group(0) @binding(7) var<storage, read_write> counter: atomic<u32>;
@group(0) @binding(8) var<storage, read_write> out: array<OutReport>;

var<workgroup> wg_go: u32;
var<workgroup> cost: array<f32, 2048>; // SLOTS × MAX_DETS
var<workgroup> assigned: array<i32, 64>;

// ---- measurement model (CPU twin: track::measure, innovation, update) ----

struct Innovation {
    nu: vec3<f32>,
    // S (symmetric 3×3, row-major) and H (position block, row-major).
    s: array<f32, 9>,
    h: array<f32, 9>,
    // Cholesky factor of S: l00, l10, l20, l11, l21, l22.
    l: array<f32, 6>,
    d2: f32,
    log_det: f32,
    ok: bool,
}

fn wrap(a: f32) -> f32 {
    let tau = 6.2831853;
    var w = a - tau * round(a / tau);
    if (w <= -3.14159265) {
        w += tau;
    }
    return w;
}

fn innovation(tk: Tracker, x: array<f32, 6>, p: array<f32, 36>, z: vec3<f32>) -> Innovation {
    var r: Innovation;
    let d = vec3<f32>(x[0], x[1], x[2]);
    let e = dot(tk.east.xyz, d);
    let n = dot(tk.north.xyz, d);
    let u = dot(tk.up.xyz, d);
    let rho2 = e * e + n * n;
    let rho = sqrt(rho2);
    let r2 = rho2 + u * u;
    let rng = sqrt(r2);
    if (rho <= 0.0) {
        r.ok = false;
        return r;
    }
    var j_enu: array<f32, 9>;
    j_enu[0] = e / rng;
    j_enu[1] = n / rng;
    j_enu[2] = u / rng;
    j_enu[3] = n / rho2;
    j_enu[4] = -e / rho2;
    j_enu[5] = 0.0;
    j_enu[6] = -e * u / (r2 * rho);
    j_enu[7] = -n * u / (r2 * rho);
    j_enu[8] = rho / r2;
    let basis = mat3x3<f32>(tk.east.xyz, tk.north.xyz, tk.up.xyz);
    for (var a = 0u; a < 3u; a++) {
        for (var c = 0u; c < 3u; c++) {
            r.h[a * 3u + c] = j_enu[a * 3u] * basis[0][c] + j_enu[a * 3u + 1u] * basis[1][c]
                + j_enu[a * 3u + 2u] * basis[2][c];
        }
    }
    r.nu = vec3<f32>(z.x - rng, wrap(z.y - atan2(e, n)), z.z - atan2(u, rho));
    for (var a = 0u; a < 3u; a++) {
        for (var b = 0u; b < 3u; b++) {
            var v = 0.0;
            for (var i = 0u; i < 3u; i++) {
                for (var k = 0u; k < 3u; k++) {
                    v += r.h[a * 3u + i] * p[i * 6u + k] * r.h[b * 3u + k];
                }
            }
            if (a == b) {
                v += tk.sigma[a] * tk.sigma[a];
            }
            r.s[a * 3u + b] = v;
        }
    }
    // Cholesky of S (3×3).
    let l00 = sqrt(max(r.s[0], 1e-30));
    let l10 = r.s[3] / l00;
    let l20 = r.s[6] / l00;
    let q11 = r.s[4] - l10 * l10;
    let q22 = r.s[8] - l20 * l20;
    if (q11 <= 0.0) {
        r.ok = false;
        return r;
    }
    let l11 = sqrt(q11);
    let l21 = (r.s[7] - l20 * l10) / l11;
    let q2 = q22 - l21 * l21;
    if (q2 <= 0.0) {
        r.ok = false;
        return r;
    }
    let l22 = sqrt(q2);
    let w0 = r.nu.x / l00;
    let w1 = (r.nu.y - l10 * w0) / l11;
    let w2 = (r.nu.z - l20 * w0 - l21 * w1) / l22;
    r.l = array<f32, 6>(l00, l10, l20, l11, l21, l22);
    r.d2 = w0 * w0 + w1 * w1 + w2 * w2;
    r.log_det = 2.0 * (log(l00) + log(l11) + log(l22));
    r.ok = true;
    return r;
}

// S⁻¹ b from the Cholesky factor l = (l00, l10, l20, l11, l21, l22) of S.
fn chol_solve3(l: array<f32, 6>, b: vec3<f32>) -> vec3<f32> {
    let y0 = b.x / l[0];
    let y1 = (b.y - l[1] * y0) / l[3];
    let y2 = (b.z - l[2] * y0 - l[4] * y1) / l[5];
    let x2 = y2 / l[5];
    let x1 = (y1 - l[4] * x2) / l[3];
    let x0 = (y0 - l[1] * x1 - l[2] * x2) / l[0];
    return vec3<f32>(x0, x1, x2);
}

// EKF update of one mode (Joseph form); returns the log-likelihood of the detection.
fn update_mode(m: ptr<function, Mode>, tk: Tracker, z: vec3<f32>) -> f32 {
    let inn = innovation(tk, (*m).x, (*m).p, z);
    if (!inn.ok) {
        return -1e30;
    }
    // P Hᵀ (6×3).
    var pht: array<f32, 18>;
    for (var i = 0u; i < 6u; i++) {
        for (var a = 0u; a < 3u; a++) {
            var v = 0.0;
            for (var k = 0u; k < 3u; k++) {
                v += (*m).p[i * 6u + k] * inn.h[a * 3u + k];
            }
            pht[i * 3u + a] = v;
        }
    }
    var k: array<f32, 18>;
    for (var i = 0u; i < 6u; i++) {
        let row = chol_solve3(inn.l, vec3<f32>(pht[i * 3u], pht[i * 3u + 1u], pht[i * 3u + 2u]));
        k[i * 3u] = row.x;
        k[i * 3u + 1u] = row.y;
        k[i * 3u + 2u] = row.z;
    }
    for (var i = 0u; i < 6u; i++) {
        (*m).x[i] += k[i * 3u] * inn.nu.x + k[i * 3u + 1u] * inn.nu.y + k[i * 3u + 2u] * inn.nu.z;
    }
    var ikh: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        ikh[i * 6u + i] = 1.0;
        for (var c = 0u; c < 3u; c++) {
            ikh[i * 6u + c] -= k[i * 3u] * inn.h[c] + k[i * 3u + 1u] * inn.h[3u + c]
                + k[i * 3u + 2u] * inn.h[6u + c];
        }
    }
    var p1 = congruence(ikh, (*m).p);
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j < 6u; j++) {
            var v = 0.0;
            for (var a = 0u; a < 3u; a++) {
                v += k[i * 3u + a] * tk.sigma[a] * tk.sigma[a] * k[j * 3u + a];
            }
            p1[i * 6u + j] += v;
        }
    }
    (*m).p = symmetrize(p1);
    return -0.5 * (inn.d2 + inn.log_det);
}

// Mean and covariance of the two-mode mixture with weights w0, w1.
fn moments(a: Mode, b: Mode, w0: f32, w1: f32) -> Mode {
    var r: Mode;
    for (var i = 0u; i < 6u; i++) {
        r.x[i] = w0 * a.x[i] + w1 * b.x[i];
    }
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j < 6u; j++) {
            let da = (a.x[i] - r.x[i]) * (a.x[j] - r.x[j]);
            let db = (b.x[i] - r.x[i]) * (b.x[j] - r.x[j]);
            r.p[i * 6u + j] = w0 * (a.p[i * 6u + j] + da) + w1 * (b.p[i * 6u + j] + db);
        }
    }
    r.p = symmetrize(r.p);
    return r;
}

// Process noise of mode k: powered, then free flight.
fn mode_q(k: u32) -> f32 {
    return select(params.q_coast, params.q_boost, k == 0u);
}

fn alive(s: Slot) -> bool {
    if (s.confirmed == 1u) {
        return s.misses < params.delete_misses;
    }
    return s.misses <= params.confirm_window - params.confirm_hits;
}

// ---- thread 0: assignment (CPU twin: assign::exact, Crouse's shortest augmenting path) ----

// Assigns `rows` (slot indices) to free detections (`taken[j] == 0`) with a miss costing the
// gate; writes `assigned`. Returns false when the problem exceeds the iteration budget.
fn assign_rows(rows: ptr<function, array<u32, 64>>, nr: u32, taken: ptr<function, array<u32, 32>>,
               ndet: u32) -> bool {
    if (nr == 0u) {
        return true;
    }
    var cols: array<u32, 32>;
    var nc = 0u;
    for (var j = 0u; j < ndet; j++) {
        if ((*taken)[j] == 0u) {
            cols[nc] = j;
            nc++;
        }
    }
    let wide = nc + nr;
    if (nr * wide * wide > LAP_BUDGET) {
        return false;
    }
    work += nr * wide * wide;
    var u: array<f32, 64>;
    var v: array<f32, 96>;
    var col4row: array<u32, 64>;
    var row4col: array<u32, 96>;
    var dist: array<f32, 96>;
    var path: array<u32, 96>;
    var scanned_row: array<u32, 64>;
    var scanned_col: array<u32, 96>;
    var unscanned: array<u32, 96>;
    let none = 0xffffffffu;
    for (var j = 0u; j < wide; j++) {
        row4col[j] = none;
    }
    for (var start = 0u; start < nr; start++) {
        for (var j = 0u; j < wide; j++) {
            dist[j] = BIG;
            scanned_col[j] = 0u;
            unscanned[j] = j;
        }
        for (var i = 0u; i < nr; i++) {
            scanned_row[i] = 0u;
        }
        var n_un = wide;
        var i = start;
        var min_val = 0.0;
        var sink = none;
        loop {
            scanned_row[i] = 1u;
            var lowest = BIG;
            var best = 0u;
            for (var k = 0u; k < n_un; k++) {
                let j = unscanned[k];
                var c = BIG;
                if (j < nc) {
                    c = cost[(*rows)[i] * MAX_DETS + cols[j]];
                } else if (j - nc == i) {
                    c = params.gate;
                }
                if (c < BIG) {
                    let reduced = min_val + c - u[i] - v[j];
                    if (reduced < dist[j]) {
                        dist[j] = reduced;
                        path[j] = i;
                    }
                }
                if (dist[j] < lowest || (dist[j] == lowest && row4col[j] == none)) {
                    lowest = dist[j];
                    best = k;
                }
            }
            if (lowest >= BIG) {
                // Cannot happen: every row has its miss column.
                return false;
            }
            min_val = lowest;
            let j = unscanned[best];
            n_un--;
            unscanned[best] = unscanned[n_un];
            scanned_col[j] = 1u;
            if (row4col[j] == none) {
                sink = j;
                break;
            }
            i = row4col[j];
        }
        u[start] += min_val;
        for (var r = 0u; r < nr; r++) {
            if (scanned_row[r] == 1u && r != start) {
                u[r] += min_val - dist[col4row[r]];
            }
        }
        for (var j = 0u; j < wide; j++) {
            if (scanned_col[j] == 1u) {
                v[j] -= min_val - dist[j];
            }
        }
        var j = sink;
        loop {
            let r = path[j];
            row4col[j] = r;
            let previous = col4row[r];
            col4row[r] = j;
            if (r == start) {
                break;
            }
            j = previous;
        }
    }
    for (var r = 0u; r < nr; r++) {
        let c = col4row[r];
        if (c < nc) {
            assigned[(*rows)[r]] = i32(cols[c]);
            (*taken)[cols[c]] = 1u;
        }
    }
    return true;
}

// The probability that confirmed slot `a`'s detection is its own rather than another
// confirmed slot's, against the swap of what the two got (a miss costing the gate). CPU twin:
// track::swap_weights.
fn swap_weight(t: u32, a: u32) -> f32 {
    let ja = u32(assigned[a]);
    let own = cost[a * MAX_DETS + ja];
    var rivals = 0.0;
    for (var b = 0u; b < SLOTS; b++) {
        if (b == a || slots[t * SLOTS + b].live == 0u || slots[t * SLOTS + b].confirmed == 0u) {
            continue;
        }
        var kept = own + params.gate;
        var swapped = cost[b * MAX_DETS + ja] + params.gate;
        let jb = assigned[b];
        if (jb >= 0) {
            kept = own + cost[b * MAX_DETS + u32(jb)];
            swapped = cost[b * MAX_DETS + ja] + cost[a * MAX_DETS + u32(jb)];
        }
        rivals += exp(-0.5 * (swapped - kept));
    }
    return 1.0 / (1.0 + rivals);
}

// Active slots of tracker `t` in creation order.
fn slots_by_key(t: u32, order: ptr<function, array<u32, 64>>) -> u32 {
    var n = 0u;
    for (var l = 0u; l < SLOTS; l++) {
        if (slots[t * SLOTS + l].live == 1u) {
            let key = slots[t * SLOTS + l].key;
            var k = n;
            while (k > 0u && slots[t * SLOTS + (*order)[k - 1u]].key > key) {
                (*order)[k] = (*order)[k - 1u];
                k--;
            }
            (*order)[k] = l;
            n++;
        }
    }
    return n;
}

fn trace3(r: array<f32, 6>) -> f32 {
    return r[0] + r[3] + r[5];
}

fn full3(r: array<f32, 6>, i: u32, j: u32) -> f32 {
    let a = min(i, j);
    let b = max(i, j);
    // Upper triangle (xx, xy, xz, yy, yz, zz).
    var idx = array<u32, 9>(0u, 1u, 2u, 1u, 3u, 4u, 2u, 4u, 5u);
    return r[idx[a * 3u + b]];
}

fn push_label(s: ptr<function, Slot>, label: i32) {
    if ((*s).nlabels == LABEL_WINDOW) {
        for (var k = 0u; k + 1u < LABEL_WINDOW; k++) {
            (*s).labels[k] = (*s).labels[k + 1u];
        }
        (*s).nlabels--;
    }
    (*s).labels[(*s).nlabels] = label;
    (*s).nlabels++;
    // The most frequent label; among equals the latest.
    var best_n = 0u;
    var best = NO_TRUTH;
    for (var k = i32((*s).nlabels) - 1; k >= 0; k--) {
        let l = (*s).labels[k];
        var n = 0u;
        for (var m = 0u; m < (*s).nlabels; m++) {
            if ((*s).labels[m] == l) {
                n++;
            }
        }
        if (n > best_n) {
            best_n = n;
            best = l;
        }
    }
    (*s).truth = best;
}

// Confirmation, deletion, initiation and the reports of tracker `t` after its scan.
fn manage(t: u32, tk: Tracker, sc: Scan) {
    var order: array<u32, 64>;
    var n = slots_by_key(t, &order);
    work += SLOTS * SLOTS;
    var retired: array<u32, 128>;
    var n_retired = 0u;
    for (var k = 0u; k < n; k++) {
        let b = t * SLOTS + order[k];
        var rival = false;
        for (var r = 0u; r < n_retired; r++) {
            if (slots[b].parent0 == retired[r] || slots[b].parent1 == retired[r]) {
                rival = true;
            }
        }
        // A rival of a track confirmed before it in this scan gives way too.
        if (slots[b].confirmed == 0u && slots[b].hits >= params.confirm_hits && !rival) {
            slots[b].confirmed = 1u;
            slots[b].misses = 0u;
            slots[b].number = states[t].next_number;
            states[t].next_number++;
            retired[n_retired] = slots[b].parent0;
            retired[n_retired + 1u] = slots[b].parent1;
            n_retired += 2u;
        }
    }
    for (var k = 0u; k < n; k++) {
        let b = t * SLOTS + order[k];
        var keep = alive(slots[b]);
        if (slots[b].confirmed == 0u) {
            for (var r = 0u; r < n_retired; r++) {
                if (slots[b].parent0 == retired[r] || slots[b].parent1 == retired[r]) {
                    keep = false;
                }
            }
        }
        if (!keep) {
            slots[b].live = 0u;
        }
    }

    // Lone detections: drop the old, order by id (the CPU twin's order).
    var lone_order: array<u32, 32>;
    var n_lone = 0u;
    for (var l = 0u; l < LONE; l++) {
        let b = t * LONE + l;
        if (lone[b].live == 1u) {
            if (sc.index - lone[b].scan > params.init_scans) {
                lone[b].live = 0u;
                continue;
            }
            let id = lone[b].id;
            var k = n_lone;
            while (k > 0u && lone[t * LONE + lone_order[k - 1u]].id > id) {
                lone_order[k] = lone_order[k - 1u];
                k--;
            }
            lone_order[k] = l;
            n_lone++;
        }
    }
    var taken: array<u32, 32>;
    for (var l = 0u; l < SLOTS; l++) {
        if (assigned[l] >= 0) {
            taken[u32(assigned[l])] = 1u;
        }
    }
    var used_fresh: array<u32, 32>;
    var next_free = 0u;
    for (var a = 0u; a < n_lone; a++) {
        let lb = t * LONE + lone_order[a];
        let lz = vec3<f32>(lone[lb].z[0], lone[lb].z[1], lone[lb].z[2]);
        for (var j = 0u; j < sc.det_count; j++) {
            if (taken[j] == 1u) {
                continue;
            }
            let d = dets[sc.det_first + j];
            let dt = d.time - lone[lb].time;
            work += 16u;
            if (dt <= 0.0) {
                continue;
            }
            let speed = length(d.z - lz) / dt;
            let slack = 3.0 * (sqrt(trace3(lone[lb].r)) + sqrt(trace3(d.r))) / dt;
            if (speed > params.max_speed + slack) {
                continue;
            }
            // A tentative track from the pair (two-point initialisation).
            while (next_free < SLOTS && slots[t * SLOTS + next_free].live == 1u) {
                next_free++;
            }
            if (next_free == SLOTS) {
                states[t].overflow = 1u;
                return;
            }
            work += SLOTS + 200u;
            var s: Slot;
            for (var i = 0u; i < 3u; i++) {
                s.m0.x[i] = d.z[i];
                s.m0.x[i + 3u] = (d.z[i] - lz[i]) / dt;
                for (var c = 0u; c < 3u; c++) {
                    let r2 = full3(d.r, i, c);
                    s.m0.p[i * 6u + c] = r2;
                    s.m0.p[i * 6u + c + 3u] = r2 / dt;
                    s.m0.p[(i + 3u) * 6u + c] = r2 / dt;
                    s.m0.p[(i + 3u) * 6u + c + 3u] = (full3(lone[lb].r, i, c) + r2) / (dt * dt);
                }
            }
            s.m0.p = symmetrize(s.m0.p);
            s.m1 = s.m0;
            s.prob0 = 0.5;
            s.prob1 = 0.5;
            s.time = d.time;
            s.det = i32(sc.det_first + j);
            s.live = 1u;
            s.hits = 2u;
            s.parent0 = lone[lb].id;
            s.parent1 = d.id;
            s.key = states[t].next_key;
            states[t].next_key++;
            s.labels[0] = lone[lb].truth;
            s.labels[1] = d.truth;
            s.nlabels = 2u;
            s.truth = d.truth;
            if (params.confirm_hits <= 2u) {
                s.confirmed = 1u;
                s.number = states[t].next_number;
                states[t].next_number++;
            }
            slots[t * SLOTS + next_free] = s;
            lone[lb].live = 2u; // used: dropped below
            used_fresh[j] = 1u;
        }
    }
    for (var a = 0u; a < n_lone; a++) {
        let lb = t * LONE + lone_order[a];
        if (lone[lb].live == 2u) {
            lone[lb].live = 0u;
        }
    }
    // Detections no track took and no pair used wait as lone ones.
    var free_lone = 0u;
    for (var j = 0u; j < sc.det_count; j++) {
        if (taken[j] == 1u || used_fresh[j] == 1u) {
            continue;
        }
        while (free_lone < LONE && lone[t * LONE + free_lone].live == 1u) {
            free_lone++;
        }
        if (free_lone == LONE) {
            states[t].overflow = 1u;
            return;
        }
        let d = dets[sc.det_first + j];
        var l: Lone;
        l.z = array<f32, 3>(d.z.x, d.z.y, d.z.z);
        l.time = d.time;
        l.r = d.r;
        l.scan = sc.index;
        l.truth = d.truth;
        l.id = d.id;
        l.live = 1u;
        lone[t * LONE + free_lone] = l;
    }

    // Reports of the confirmed tracks.
    n = slots_by_key(t, &order);
    work += SLOTS * SLOTS + n * 150u;
    if (work > WORK_BUDGET) {
        // Some loop of this invocation may have been cut short (llvmpipe): start over on
        // the CPU.
        states[t].overflow = 1u;
        return;
    }
    for (var k = 0u; k < n; k++) {
        let s = slots[t * SLOTS + order[k]];
        if (s.confirmed == 0u) {
            continue;
        }
        let est = moments(s.m0, s.m1, s.prob0, s.prob1);
        let at = atomicAdd(&counter, 1u);
        if (at < params.capacity) {
            out[at] = OutReport(t, params.step, s.number, s.truth, s.det, est.x, est.p);
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = wid.y * nwg.x + wid.x;
    if (t >= params.trackers) {
        return;
    }
    if (lid == 0u) {
        let tk0 = trackers[t];
        wg_go = select(0u, 1u, params.step < tk0.scan_count && states[t].overflow == 0u);
    }
    if (workgroupUniformLoad(&wg_go) == 0u) {
        return;
    }
    let tk = trackers[t];
    let sc = scans[tk.scan_first + params.step];
    let b = t * SLOTS + lid;
    var s = slots[b];

    // Skipped scans are misses; then IMM mixing and prediction, and the gate.
    if (s.live == 1u) {
        s.misses += sc.skipped;
        if (!alive(s)) {
            s.live = 0u;
        }
    }
    var est: Mode;
    if (s.live == 1u) {
        let c0 = params.t00 * s.prob0 + params.t10 * s.prob1;
        let c1 = params.t01 * s.prob0 + params.t11 * s.prob1;
        let mixed0 = moments(s.m0, s.m1, params.t00 * s.prob0 / c0, params.t10 * s.prob1 / c0);
        let mixed1 = moments(s.m0, s.m1, params.t01 * s.prob0 / c1, params.t11 * s.prob1 / c1);
        let dt = sc.time - s.time;
        // One mode per pass (see `two`): one inlined copy of RK4 with Φ.
        var modes = array<Mode, 2>(mixed0, mixed1);
        for (var k = 0u; k < params.two; k++) {
            let moved = propagate_track(tk.origin.xyz, modes[k].x, modes[k].p, dt, mode_q(k),
                                        params.max_step, 1u);
            modes[k] = Mode(moved.state, moved.cov);
        }
        s.m0 = modes[0];
        s.m1 = modes[1];
        s.prob0 = c0;
        s.prob1 = c1;
        s.time = sc.time;
        s.det = -1;
        est = moments(s.m0, s.m1, c0, c1);
    }
    for (var j = 0u; j < MAX_DETS; j++) {
        var c = BIG;
        if (s.live == 1u && j < sc.det_count) {
            let d = dets[sc.det_first + j];
            var g = est;
            if (d.dt != 0.0) {
                // Stamped later in the turn: gate against the estimate moved on to it.
                let q = s.prob0 * params.q_boost + s.prob1 * params.q_coast;
                let moved = shift_track(tk.origin.xyz, est.x, est.p, d.dt, q);
                g = Mode(moved.state, moved.cov);
            }
            let inn = innovation(tk, g.x, g.p, d.rae);
            if (inn.ok && inn.d2 <= params.gate) {
                c = inn.d2;
            }
        }
        cost[lid * MAX_DETS + j] = c;
    }
    assigned[lid] = -1;
    slots[b] = s;
    storageBarrier();
    workgroupBarrier();

    // Global nearest neighbour: confirmed tracks first, then tentative ones on the rest.
    if (lid == 0u) {
        // Its own slot's prediction (two RK4 propagations with Φ), gate and swap weight.
        work = 6000u + MAX_DETS * 120u + SLOTS;
        if (sc.spread == 1u) {
            // A shifted gate per detection, and the update's own.
            work += MAX_DETS * 600u + 1200u;
        }
        var order: array<u32, 64>;
        let n = slots_by_key(t, &order);
        var taken: array<u32, 32>;
        // First the confirmed tracks, then the tentative ones (one inlined solver).
        for (var which = 0u; which < params.two; which++) {
            var rows: array<u32, 64>;
            var nr = 0u;
            for (var k = 0u; k < n; k++) {
                if (slots[t * SLOTS + order[k]].confirmed == 1u - which) {
                    rows[nr] = order[k];
                    nr++;
                }
            }
            if (!assign_rows(&rows, nr, &taken, sc.det_count)) {
                states[t].overflow = 1u;
                break;
            }
        }
    }
    workgroupBarrier();

    // Update.
    s = slots[b];
    if (s.live == 1u) {
        let a = assigned[lid];
        if (a >= 0) {
            let d = dets[sc.det_first + u32(a)];
            s.time = d.time;
            s.det = a + i32(sc.det_first);
            // A confirmed track moves only as far as its detection is surely its own.
            var w = 1.0;
            if (s.confirmed == 1u) {
                w = swap_weight(t, lid);
            }
            // One mode per pass (see `two`).
            var modes = array<Mode, 2>(s.m0, s.m1);
            var log_l = array<f32, 2>(0.0, 0.0);
            for (var k = 0u; k < params.two; k++) {
                var prior = modes[k];
                if (d.dt != 0.0) {
                    // On to the detection's time (the turn's mixing is done).
                    let moved = shift_track(tk.origin.xyz, prior.x, prior.p, d.dt, mode_q(k));
                    prior = Mode(moved.state, moved.cov);
                }
                var m = prior;
                log_l[k] = update_mode(&m, tk, d.rae);
                if (w < 1.0) {
                    m = moments(m, prior, w, 1.0 - w);
                }
                modes[k] = m;
            }
            s.m0 = modes[0];
            s.m1 = modes[1];
            let l0 = log_l[0];
            let l1 = log_l[1];
            let top = max(l0, l1);
            let w0 = s.prob0 * exp(l0 - top);
            let w1 = s.prob1 * exp(l1 - top);
            let sum = w0 + w1;
            if (sum > 0.0) {
                s.prob0 = w0 / sum;
                s.prob1 = w1 / sum;
            }
            s.prob0 = clamp(s.prob0, 1e-6, 1.0 - 1e-6);
            s.prob1 = clamp(s.prob1, 1e-6, 1.0 - 1e-6);
            s.hits++;
            if (s.confirmed == 1u) {
                s.misses = 0u;
            }
            push_label(&s, d.truth);
        } else {
            s.misses++;
        }
        slots[b] = s;
    }
    storageBarrier();
    workgroupBarrier();

    if (lid == 0u && states[t].overflow == 0u) {
        manage(t, tk, sc);
    }
}
