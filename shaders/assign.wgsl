// Batched forward auction with ε-scaling: one workgroup per assignment problem.
// CPU twin: `solve_auction` in src/assign/auction.rs, mirrored bid for bid in f32 (same
// padding, ε schedule, bidding rule, FIFO of unassigned persons, lowest-index ties).
// Host: src/gpu/assign.rs.
//
// Bids are sequential (Gauss–Seidel, as the twin): each bid sees the prices the previous
// one left. The workgroup's threads share the scan of one bidder's candidates: each keeps
// the best and second-best value of a strided slice, and a tree of exact min/max merges
// (ties to the lowest object) gives what one sequential scan gives.
//
// A dispatch is one round: it runs actions (bids, phase resets) until the problem is
// solved or the round's work budget is spent, then saves its state in scratch; the host
// dispatches rounds until every problem is done. Rounds keep every dispatch short, and
// llvmpipe (lavapipe) silently ends every loop of an invocation once 65 535 loop
// iterations have run in it, so the budget counts loop iterations: an action costs its
// strided loop plus 3 (the main loop, the body's other loop, which llvmpipe enters even
// when the branch is not taken, and one more that measurements show).

// Forbidden pairs cost at least this (keep in sync with `FORBIDDEN` in src/gpu/assign.rs).
const FORBIDDEN: f32 = 1e30;
// "No value" for best/second-best: finite, as WGSL may assume there are no infinities.
const NO_VALUE: f32 = 3e38;
const NONE: u32 = 0xffffffffu;
// Threads per problem, set by the host (`AuctionKernel::with_workgroup` in
// src/gpu/assign.rs): a power of two up to MAX_WG.
override AUCTION_WG: u32 = 32u;
const MAX_WG: u32 = 64u;

// ε schedule; keep in sync with src/gpu/assign.rs. ε_final = max(RELATIVE_BOUND / n,
// MIN_RELATIVE_EPSILON) × scale; the floor keeps ε several f32 ulps above the prices (which
// stay below PRICE_LIMIT × scale) so that every bid raises a price.
const SCALING: f32 = 4.0;
const RELATIVE_BOUND: f32 = 1e-3;
const MIN_RELATIVE_EPSILON: f32 = 1e-5;
const PRICE_LIMIT: f32 = 50.0;

// Outcome codes; keep in sync with src/gpu/assign.rs. 0: no round has reached the problem.
const STATUS_OK: u32 = 1u;
const STATUS_RUNNING: u32 = 2u;
const STATUS_BID_CAP: u32 = 3u;
const STATUS_NO_COLUMN: u32 = 4u;
const STATUS_PRICE_LIMIT: u32 = 5u;

// Stage of a problem, the first scratch word (zero: not started).
const STAGE_FRESH: u32 = 0u;
const STAGE_RUNNING: u32 = 1u;
const STAGE_DONE: u32 = 2u;

// Actions thread 0 hands the workgroup; below them, a bidder.
const ACT_STOP: u32 = 0xffffffffu;
const ACT_FINISH: u32 = 0xfffffffeu;
const ACT_FAIL: u32 = 0xfffffffdu;
const ACT_RESET: u32 = 0xfffffffcu;

// Scratch of one problem: STATE_WORDS words of state (see load_state), then prices (f32
// bits), owners and the FIFO of unassigned persons, n words each. Keep in sync with
// `GpuProblem::scratch_words`.
const STATE_WORDS: u32 = 12u;

// Keep in sync with `AuctionParams` in src/gpu/assign.rs.
struct Params {
    count: u32,
    // Bid cap per person of the padded problem (the cap is this × n, saturating).
    bids_per_person: u32,
    // Loop iterations a round may run (see the top of this file).
    work_per_round: u32,
    _pad: u32,
}

// Keep in sync with `GpuProblem` in src/gpu/assign.rs.
struct Problem {
    rows: u32,
    cols: u32,
    // Row-major rows × cols costs start at costs[cost_offset].
    cost_offset: u32,
    // Row i's column (or -1) goes to assigned[row_offset + i].
    row_offset: u32,
    // STATE_WORDS + 3n words of scratch (n: padded size), zero before the first round.
    scratch_offset: u32,
    // 0: every row (or column) must be assigned, as scipy; 1: rows may stay unassigned
    // at cost `miss`.
    has_miss: u32,
    miss: f32,
    _pad: u32,
}

// Keep in sync with `GpuOutcome` in src/gpu/assign.rs.
struct Outcome {
    status: u32,
    bids: u32,
    phases: u32,
    epsilon: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> problems: array<Problem>;
@group(0) @binding(2) var<storage, read> costs: array<f32>;
@group(0) @binding(3) var<storage, read_write> assigned: array<i32>;
@group(0) @binding(4) var<storage, read_write> outcomes: array<Outcome>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;

var<workgroup> red_w1: array<f32, MAX_WG>;
var<workgroup> red_w2: array<f32, MAX_WG>;
var<workgroup> red_best: array<u32, MAX_WG>;
// Thread 0's decision, read by all through workgroupUniformLoad.
var<workgroup> action: u32;

// The sequential state, kept by thread 0 (and in scratch between rounds).
struct State {
    bids: u32,
    phases: u32,
    head: u32,
    len: u32,
    eps: f32,
    eps_final: f32,
    lone_bid: f32,
    scale: f32,
    // Loop iterations of this round so far (not saved).
    work: u32,
    status: u32,
}

// Everything a function needs about the workgroup's problem.
struct Ctx {
    p: Problem,
    index: u32,
    n: u32,
    // Scratch offsets of the state, prices, owners and FIFO.
    state: u32,
    prices: u32,
    owners: u32,
    queue: u32,
}

fn load_state(c: Ctx) -> State {
    var s: State;
    s.bids = scratch[c.state + 1u];
    s.phases = scratch[c.state + 2u];
    s.head = scratch[c.state + 3u];
    s.len = scratch[c.state + 4u];
    s.eps = bitcast<f32>(scratch[c.state + 5u]);
    s.eps_final = bitcast<f32>(scratch[c.state + 6u]);
    s.lone_bid = bitcast<f32>(scratch[c.state + 7u]);
    s.scale = bitcast<f32>(scratch[c.state + 8u]);
    s.status = STATUS_RUNNING;
    return s;
}

fn save_state(c: Ctx, s: State) {
    scratch[c.state] = STAGE_RUNNING;
    scratch[c.state + 1u] = s.bids;
    scratch[c.state + 2u] = s.phases;
    scratch[c.state + 3u] = s.head;
    scratch[c.state + 4u] = s.len;
    scratch[c.state + 5u] = bitcast<u32>(s.eps);
    scratch[c.state + 6u] = bitcast<u32>(s.eps_final);
    scratch[c.state + 7u] = bitcast<u32>(s.lone_bid);
    scratch[c.state + 8u] = bitcast<u32>(s.scale);
}

fn report(c: Ctx, s: State) {
    outcomes[c.index] = Outcome(s.status, s.bids, s.phases, s.eps);
}

fn price(c: Ctx, j: u32) -> f32 {
    return bitcast<f32>(scratch[c.prices + j]);
}

// Cost of person i for object j of the padded square problem (`pad` in the twin), or
// FORBIDDEN. Computed from the unpadded costs, so no n × n matrix is stored.
fn padded_cost(p: Problem, i: u32, j: u32) -> f32 {
    if (p.has_miss != 0u) {
        if (i < p.rows) {
            if (j < p.cols) {
                return costs[p.cost_offset + i * p.cols + j];
            }
            if (j == p.cols + i) {
                return p.miss;
            }
            return FORBIDDEN;
        }
        // Dummy person for column k: column k itself, or the unassigned object of a row
        // that column k may be paired with.
        let k = i - p.rows;
        if (j == k) {
            return 0.0;
        }
        if (j >= p.cols && costs[p.cost_offset + (j - p.cols) * p.cols + k] < FORBIDDEN) {
            return 0.0;
        }
        return FORBIDDEN;
    }
    if (i < p.rows && j < p.cols) {
        return costs[p.cost_offset + i * p.cols + j];
    }
    return 0.0;
}

// Candidates of person i: the objects that can be allowed, in increasing order. With
// `miss`, a real row's are its columns then its own unassigned object, a dummy's its
// column then the rows' unassigned objects; otherwise all n objects.
fn candidates(c: Ctx, i: u32) -> u32 {
    if (c.p.has_miss == 0u) {
        return c.n;
    }
    if (i < c.p.rows) {
        return c.p.cols + 1u;
    }
    return c.p.rows + 1u;
}

fn candidate(p: Problem, i: u32, k: u32) -> u32 {
    if (p.has_miss == 0u) {
        return k;
    }
    if (i < p.rows) {
        return select(k, p.cols + i, k == p.cols);
    }
    return select(p.cols + k - 1u, i - p.rows, k == 0u);
}

// Loop iterations of an action over `items` strided across the workgroup.
fn strided(items: u32) -> u32 {
    return (items + AUCTION_WG - 1u) / AUCTION_WG;
}

// Merges thread lid's (w1, best, w2) with thread other's: the smallest value (lowest
// object on ties) and the second smallest of the four. Exact, so any merge order gives
// what one sequential scan gives.
fn merge(lid: u32, other: u32) {
    let a1 = red_w1[lid];
    let b1 = red_w1[other];
    if (b1 < a1 || (b1 == a1 && red_best[other] < red_best[lid])) {
        red_w1[lid] = b1;
        red_best[lid] = red_best[other];
    }
    red_w2[lid] = min(max(a1, b1), min(red_w2[lid], red_w2[other]));
}

// Thread 0: the next action, advancing the FIFO and the phases as `run_phase` and
// `solve_auction` do, or pausing when the round's budget would be exceeded (the first
// action of a round always runs, so every round makes progress).
fn decide(c: Ctx, s: ptr<function, State>) -> u32 {
    if ((*s).status != STATUS_RUNNING) {
        scratch[c.state] = STAGE_DONE;
        report(c, *s);
        return ACT_FAIL;
    }
    var act = ACT_RESET;
    var work = 3u + strided(c.n);
    if ((*s).len > 0u) {
        act = scratch[c.queue + (*s).head];
        work = 3u + strided(candidates(c, act));
    } else if ((*s).eps <= (*s).eps_final) {
        // Every person holds an object in the last phase: done.
        act = ACT_FINISH;
    }
    if (act != ACT_FINISH && (*s).work > 0u && (*s).work + work > params.work_per_round) {
        save_state(c, *s);
        report(c, *s);
        return ACT_STOP;
    }
    (*s).work += work;
    if (act == ACT_FINISH) {
        (*s).status = STATUS_OK;
        scratch[c.state] = STAGE_DONE;
        report(c, *s);
    } else if (act == ACT_RESET) {
        // Next phase: smaller ε, same prices, nobody assigned, everybody queued.
        (*s).eps = max((*s).eps / SCALING, (*s).eps_final);
        (*s).phases += 1u;
        (*s).head = 0u;
        (*s).len = c.n;
    } else {
        (*s).head = ((*s).head + 1u) % c.n;
        (*s).len -= 1u;
    }
    return act;
}

// Thread 0: the bid of person i, given the merged best object and values.
fn bid(c: Ctx, s: ptr<function, State>, i: u32, w1: f32, best: u32, w2: f32) {
    (*s).bids += 1u;
    var cap = NONE;
    if (params.bids_per_person <= NONE / c.n) {
        cap = params.bids_per_person * c.n;
    }
    if ((*s).bids > cap) {
        (*s).status = STATUS_BID_CAP;
        return;
    }
    if (best == NONE) {
        // Cannot happen after the host's feasibility check; reported, not hidden.
        (*s).status = STATUS_NO_COLUMN;
        return;
    }
    var rise = (*s).lone_bid + (*s).eps;
    if (w2 < NO_VALUE) {
        rise = w2 - w1 + (*s).eps;
    }
    let raised = price(c, best) + rise;
    scratch[c.prices + best] = bitcast<u32>(raised);
    if (raised > PRICE_LIMIT * (*s).scale) {
        (*s).status = STATUS_PRICE_LIMIT;
        return;
    }
    let previous = scratch[c.owners + best];
    scratch[c.owners + best] = i;
    if (previous != NONE) {
        scratch[c.queue + ((*s).head + (*s).len) % c.n] = previous;
        (*s).len += 1u;
    }
}

// Trees over the workgroup's partial results, one level per halving of AUCTION_WG. They
// are written out, not looped, as llvmpipe counts loop iterations (see the top).
fn range_step(lid: u32, h: u32) {
    if (AUCTION_WG > h) {
        if (lid < h) {
            red_w1[lid] = min(red_w1[lid], red_w1[lid + h]);
            red_w2[lid] = max(red_w2[lid], red_w2[lid + h]);
        }
        workgroupBarrier();
    }
}

// red_w1 (min) and red_w2 (max) over the workgroup, into element 0.
fn range_tree(lid: u32) {
    range_step(lid, 32u);
    range_step(lid, 16u);
    range_step(lid, 8u);
    range_step(lid, 4u);
    range_step(lid, 2u);
    range_step(lid, 1u);
}

fn merge_step(lid: u32, h: u32) {
    if (AUCTION_WG > h) {
        if (lid < h) {
            merge(lid, lid + h);
        }
        workgroupBarrier();
    }
}

// The bidder's best object and values over the workgroup, into element 0.
fn merge_tree(lid: u32) {
    merge_step(lid, 32u);
    merge_step(lid, 16u);
    merge_step(lid, 8u);
    merge_step(lid, 4u);
    merge_step(lid, 2u);
    merge_step(lid, 1u);
}

@compute @workgroup_size(AUCTION_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let pi = wid.y * nwg.x + wid.x;
    if (pi >= params.count) {
        return;
    }
    var c: Ctx;
    c.p = problems[pi];
    c.index = pi;
    c.n = max(c.p.rows, c.p.cols);
    if (c.p.has_miss != 0u) {
        c.n = c.p.rows + c.p.cols;
    }
    let n = c.n;
    if (n == 0u) {
        if (lid == 0u) {
            outcomes[pi] = Outcome(STATUS_OK, 0u, 0u, 0.0);
        }
        return;
    }
    c.state = c.p.scratch_offset;
    c.prices = c.state + STATE_WORDS;
    c.owners = c.prices + n;
    c.queue = c.owners + n;

    if (lid == 0u) {
        action = scratch[c.state];
    }
    let stage = workgroupUniformLoad(&action);
    if (stage == STAGE_DONE) {
        return;
    }

    var s: State;
    if (stage == STAGE_FRESH) {
        // Cost range over the allowed costs and `miss`, as the twin (min/max: exact in
        // any order).
        var lo = 0.0;
        var hi = 0.0;
        for (var k = lid; k < c.p.rows * c.p.cols; k += AUCTION_WG) {
            let v = costs[c.p.cost_offset + k];
            if (v < FORBIDDEN) {
                lo = min(lo, v);
                hi = max(hi, v);
            }
        }
        red_w1[lid] = lo;
        red_w2[lid] = hi;
        workgroupBarrier();
        range_tree(lid);
        // First phase: zero prices, nobody assigned, everybody queued in order.
        for (var j = lid; j < n; j += AUCTION_WG) {
            scratch[c.prices + j] = bitcast<u32>(0.0);
            scratch[c.owners + j] = NONE;
            scratch[c.queue + j] = j;
        }
        if (lid == 0u) {
            lo = red_w1[0];
            hi = red_w2[0];
            if (c.p.has_miss != 0u) {
                lo = min(lo, c.p.miss);
                hi = max(hi, c.p.miss);
            }
            s.scale = max(hi, -lo);
            if (s.scale == 0.0) {
                s.scale = 1.0;
            }
            // Price rise for a person's only allowed object: as if a second one existed
            // at the worst possible value.
            s.lone_bid = hi - lo;
            s.eps_final = max(RELATIVE_BOUND * s.scale / f32(n),
                              MIN_RELATIVE_EPSILON * s.scale);
            s.eps = max(s.scale / 2.0, s.eps_final);
            s.phases = 1u;
            s.len = n;
            s.status = STATUS_RUNNING;
            s.work = strided(c.p.rows * c.p.cols) + strided(n);
        }
        storageBarrier();
    } else if (lid == 0u) {
        s = load_state(c);
    }

    if (lid == 0u) {
        action = decide(c, &s);
    }
    // Thread 0's writes (prices, FIFO) must be visible to all before the next action.
    storageBarrier();
    // Actions that end the round leave the loop: llvmpipe runs every loop of the loop's
    // body at least once per iteration, taken or not, so the body holds only two.
    var last = ACT_STOP;
    loop {
        let act = workgroupUniformLoad(&action);
        if (act >= ACT_FAIL) {
            last = act;
            break;
        }
        if (act == ACT_RESET) {
            for (var j = lid; j < n; j += AUCTION_WG) {
                scratch[c.owners + j] = NONE;
                scratch[c.queue + j] = j;
            }
            storageBarrier();
        } else {
            // Bidder `act`: this thread's slice of its candidates, in increasing object
            // order; strict `<` keeps the lowest object on ties.
            var w1 = NO_VALUE;
            var w2 = NO_VALUE;
            var best = NONE;
            let m = candidates(c, act);
            for (var k = lid; k < m; k += AUCTION_WG) {
                let j = candidate(c.p, act, k);
                let cost = padded_cost(c.p, act, j);
                if (cost < FORBIDDEN) {
                    let value = cost + price(c, j);
                    if (value < w1) {
                        w2 = w1;
                        w1 = value;
                        best = j;
                    } else if (value < w2) {
                        w2 = value;
                    }
                }
            }
            red_w1[lid] = w1;
            red_w2[lid] = w2;
            red_best[lid] = best;
            workgroupBarrier();
            merge_tree(lid);
            if (lid == 0u) {
                bid(c, &s, act, red_w1[0], red_best[0], red_w2[0]);
            }
        }
        if (lid == 0u) {
            action = decide(c, &s);
        }
        storageBarrier();
    }
    if (last == ACT_FINISH) {
        // Read the rows' columns off the owners.
        for (var j = lid; j < n; j += AUCTION_WG) {
            let owner = scratch[c.owners + j];
            if (owner < c.p.rows) {
                assigned[c.p.row_offset + owner] = select(-1, i32(j), j < c.p.cols);
            }
        }
    } else if (last == ACT_FAIL) {
        for (var r = lid; r < c.p.rows; r += AUCTION_WG) {
            assigned[c.p.row_offset + r] = -1;
        }
    }
}
