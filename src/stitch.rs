//! Hand-over (track stitching): joining system tracks that never, or only briefly, coexist.
//!
//! The network near the launch area loses a missile before the far networks pick it up, so
//! the epoch-by-epoch association never sees their tracks together: the scan over epochs
//! gives them two system track numbers. After that scan, each system track that *ended*
//! (all its local tracks died) is tested against each one that *started* later (or up to
//! [`StitchParams::max_overlap`] earlier) within [`StitchParams::max_gap`]: the ended
//! track's last fused estimate is predicted forward and the started track's estimate a
//! little after its start (once its velocity has settled) backward, under the motion model
//! with the coasting flight's process noise, to the middle of the gap, where the
//! chi-square statistic of the two is gated as in the association. A global assignment
//! over all ended and started system tracks of a replay (exact solver; leaving a track
//! unstitched costs as much as a pair at the gate) picks the pairs, and each started
//! track takes the number of the track it continues, so that one number runs from launch
//! to impact. Where the two coexist, their groups become one from then on.
//!
//! The estimates come from the local tracks' reports, propagated and fused in f64 on the
//! host by both backends; the costs, the bulk of the arithmetic (two RK4 predictions with
//! their transition matrices per candidate), are computed by [`cost`] on the CPU and by
//! `shaders/stitch.wgsl` on the GPU.

use crate::assign::{self, Problem, Solver};
use crate::associate::SystemGroup;
use crate::correlate::{Config, EpochPlan, ReplayInput};
use crate::error::{Error, Result};
use crate::fuse;
use crate::gate::{self, Gate};
use crate::linalg::{Mat6, Vec6};
use crate::propagate::{Propagation, propagate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Options of the hand-over stage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StitchParams {
    pub enabled: bool,
    /// Longest gap (s) from the end of one system track to the start of the next.
    pub max_gap: f64,
    /// Longest time (s) the two may coexist.
    pub max_overlap: f64,
    /// The started track's estimate is taken this long (s) after its start, or at its end
    /// if sooner: a new local track's velocity is poor until a few updates have settled it.
    pub settle: f64,
    /// Process noise (m²/s³) of the prediction across the gap: the flight coasts above the
    /// atmosphere, where the ballistic model leaves little unmodelled.
    pub q: f64,
}

impl Default for StitchParams {
    fn default() -> Self {
        StitchParams {
            enabled: true,
            max_gap: 120.0,
            max_overlap: 20.0,
            settle: 20.0,
            q: 0.1,
        }
    }
}

impl StitchParams {
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f64| v >= 0.0 && v.is_finite();
        if !(ok(self.max_gap) && ok(self.max_overlap) && ok(self.settle) && ok(self.q)) {
            return Err(Error::Config(
                "--stitch-gap, --stitch-overlap, --stitch-settle and --stitch-q must be non-negative"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A fused estimate of a system track at one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub time: f64,
    pub state: Vec6,
    pub cov: Mat6,
    /// 6 when every member carries a velocity covariance, else 3.
    pub dim: u32,
}

/// An ended and a started system track of one replay, to be tested at `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Index of the replay in its chunk.
    pub replay: usize,
    pub ended: u32,
    pub started: u32,
    pub end: Estimate,
    pub start: Estimate,
    /// The common time of the test: the middle of the gap (or of the overlap).
    pub at: f64,
}

impl Candidate {
    /// Dimension of the test.
    pub fn dim(&self) -> usize {
        self.end.dim.min(self.start.dim) as usize
    }
}

/// A stitch made: `started` continues `ended` under `number` (the number `ended` carried,
/// or the one it took from an earlier stitch).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stitch {
    pub number: u32,
    pub ended: u32,
    pub started: u32,
    /// Last epoch of the ended track and first of the started one.
    pub end_time: f64,
    pub start_time: f64,
    pub d2: f64,
    /// Majority truth of each side's local tracks (scoring only; -1: none or a false track).
    pub truth_ended: i32,
    pub truth_started: i32,
}

/// The chi-square statistic of a candidate: both estimates predicted to `at`, with the
/// stitch's process noise. CPU twin of `shaders/stitch.wgsl`.
pub fn cost(c: &Candidate, params: &StitchParams, propagation: &Propagation) -> f64 {
    let p = Propagation {
        q: params.q,
        ..*propagation
    };
    let (xa, pa) = propagate(&c.end.state, &c.end.cov, c.at - c.end.time, &p);
    let (xb, pb) = propagate(&c.start.state, &c.start.cov, c.at - c.start.time, &p);
    gate::chi_square(&xa, &pa, &xb, &pb, 0.0, c.dim())
}

/// Where each system track of a replay is: its epochs (indices into the plan) in order.
fn epochs_of(groups: &[Vec<SystemGroup>]) -> BTreeMap<u32, Vec<usize>> {
    let mut out: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (e, gs) in groups.iter().enumerate() {
        for g in gs {
            out.entry(g.number).or_default().push(e);
        }
    }
    out
}

fn group(groups: &[Vec<SystemGroup>], e: usize, number: u32) -> Option<&SystemGroup> {
    groups[e].iter().find(|g| g.number == number)
}

/// The fused estimate of a system track's live members at epoch `e`, each member's report
/// propagated in f64 (as the CPU backend's propagation stage does).
fn fused_estimate(
    input: &ReplayInput,
    plan: &EpochPlan,
    e: usize,
    members: &[usize],
    cfg: &Config,
) -> Result<Estimate> {
    let (t, live) = &plan[e];
    let mut estimates = Vec::with_capacity(members.len());
    let mut dim = 6;
    for &k in members {
        let rep = &input.reports[live[k].1];
        estimates.push(propagate(
            &rep.state,
            &rep.cov,
            t - rep.time,
            &cfg.propagation,
        ));
        dim = dim.min(rep.gate_dim());
    }
    let (state, cov) = fuse::fuse_all(&estimates, cfg.fusion, cfg.rho).map_err(|e| {
        Error::Numeric(format!(
            "fusing a system track at time {t} for hand-over: {e}"
        ))
    })?;
    Ok(Estimate {
        time: *t,
        state,
        cov,
        dim,
    })
}

/// The majority truth label of a system track's members at epoch `e` (ties to the
/// smaller label).
fn truth_label(input: &ReplayInput, plan: &EpochPlan, e: usize, members: &[usize]) -> i32 {
    let mut votes: BTreeMap<i32, u32> = BTreeMap::new();
    for &k in members {
        *votes
            .entry(input.reports[plan[e].1[k].1].truth)
            .or_default() += 1;
    }
    votes
        .iter()
        .max_by_key(|&(t, n)| (*n, -*t))
        .map_or(-1, |(&t, _)| t)
}

/// The candidate pairs of one replay (index `replay` in its chunk).
pub(crate) fn candidates(
    replay: usize,
    input: &ReplayInput,
    plan: &EpochPlan,
    groups: &[Vec<SystemGroup>],
    cfg: &Config,
) -> Result<Vec<Candidate>> {
    let sp = &cfg.stitch;
    if !sp.enabled || plan.is_empty() {
        return Ok(Vec::new());
    }
    // The last epoch at which each local track is live.
    let mut last_live = vec![0usize; input.local.len()];
    for (e, (_, live)) in plan.iter().enumerate() {
        for &(j, _) in live {
            last_live[j] = e;
        }
    }
    let spans = epochs_of(groups);
    let sensors_at = |e: usize, number: u32| -> BTreeSet<u32> {
        group(groups, e, number).map_or_else(BTreeSet::new, |g| {
            g.members
                .iter()
                .map(|&k| input.local[plan[e].1[k].0].sensor)
                .collect()
        })
    };
    let time = |e: usize| plan[e].0;
    // Ended: every local track live in its last epoch dies there, before the replay ends.
    let ended: Vec<(u32, usize)> = spans
        .iter()
        .filter_map(|(&n, es)| {
            let last = *es.last()?;
            let g = group(groups, last, n)?;
            let dies = g
                .members
                .iter()
                .all(|&k| last_live[plan[last].1[k].0] == last);
            (dies && last + 1 < plan.len()).then_some((n, last))
        })
        .collect();
    // Started: any system track that is not absorbed by another (a fragment whose tracks
    // merge into an older system track is represented by that one).
    let absorbed = |n: u32, es: &[usize]| -> bool {
        let last = es[es.len() - 1];
        group(groups, last, n).is_some_and(|g| {
            g.members
                .iter()
                .any(|&k| last_live[plan[last].1[k].0] > last)
        })
    };
    let mut end_estimates: BTreeMap<u32, Estimate> = BTreeMap::new();
    let mut start_estimates: BTreeMap<u32, Estimate> = BTreeMap::new();
    let mut out = Vec::new();
    for &(a, a_last) in &ended {
        let a_first = spans[&a][0];
        for (&b, b_epochs) in &spans {
            let (b_first, b_last) = (b_epochs[0], b_epochs[b_epochs.len() - 1]);
            if b_first <= a_first || b_last <= a_last || absorbed(b, b_epochs) {
                continue;
            }
            let gap = time(b_first) - time(a_last);
            if gap > sp.max_gap || -gap > sp.max_overlap {
                continue;
            }
            // Coexisting tracks of one sensor cannot be one object.
            if (b_first..=a_last).any(|e| !sensors_at(e, a).is_disjoint(&sensors_at(e, b))) {
                continue;
            }
            if let std::collections::btree_map::Entry::Vacant(v) = end_estimates.entry(a) {
                let g = group(groups, a_last, a).map_or(&[][..], |g| &g.members);
                v.insert(fused_estimate(input, plan, a_last, g, cfg)?);
            }
            if let std::collections::btree_map::Entry::Vacant(v) = start_estimates.entry(b) {
                let settled = time(b_first) + sp.settle;
                let e = b_epochs
                    .iter()
                    .copied()
                    .take_while(|&e| time(e) <= settled)
                    .last()
                    .unwrap_or(b_first);
                let g = group(groups, e, b).map_or(&[][..], |g| &g.members);
                v.insert(fused_estimate(input, plan, e, g, cfg)?);
            }
            out.push(Candidate {
                replay,
                ended: a,
                started: b,
                end: end_estimates[&a],
                start: start_estimates[&b],
                at: 0.5 * (time(a_last) + time(b_first)),
            });
        }
    }
    Ok(out)
}

/// Picks the stitches of one replay from its candidates and their costs: a global
/// assignment of ended to started system tracks on `d²/gate`, a pair beyond the gate
/// forbidden and leaving a track unstitched costing 1. Returns (ended, started, d²).
pub fn decide(
    cands: &[Candidate],
    costs: &[f64],
    gate: &Gate,
    solver: Solver,
) -> Result<Vec<(u32, u32, f64)>> {
    let rows: Vec<u32> = cands
        .iter()
        .map(|c| c.ended)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cols: Vec<u32> = cands
        .iter()
        .map(|c| c.started)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut cost = vec![f64::INFINITY; rows.len() * cols.len()];
    let mut d2 = vec![f64::INFINITY; rows.len() * cols.len()];
    let mut any = false;
    for (c, &d) in cands.iter().zip(costs) {
        let g = gate.threshold(c.dim());
        if d.is_finite() && d <= g {
            let i = rows.binary_search(&c.ended).unwrap_or_default();
            let j = cols.binary_search(&c.started).unwrap_or_default();
            cost[i * cols.len() + j] = d / g;
            d2[i * cols.len() + j] = d;
            any = true;
        }
    }
    if !any {
        return Ok(Vec::new());
    }
    let problem = Problem {
        rows: rows.len(),
        cols: cols.len(),
        cost,
        miss: Some(1.0),
    };
    let solution = assign::solve(&problem, solver)?;

    Ok(solution
        .row_to_col
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (rows[i], cols[j], d2[i * cols.len() + j])))
        .collect())
}

/// Gives each started track of `pairs` the number of the track it continues (following
/// chains), merging the two groups where they coexist; returns the stitches made.
pub(crate) fn apply(
    input: &ReplayInput,
    plan: &EpochPlan,
    groups: &mut [Vec<SystemGroup>],
    pairs: &[(u32, u32, f64)],
) -> Vec<Stitch> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let spans = epochs_of(groups);
    let continues: BTreeMap<u32, u32> = pairs.iter().map(|&(a, b, _)| (b, a)).collect();
    // A chain ends at a track that continues none; pairs go forward in time, so it is
    // shorter than the number of pairs.
    let root = |mut n: u32| {
        for _ in 0..=pairs.len() {
            match continues.get(&n) {
                Some(&a) => n = a,
                None => break,
            }
        }
        n
    };
    let mut stitches: Vec<Stitch> = pairs
        .iter()
        .map(|&(a, b, d2)| {
            let (a_last, b_first) = (spans[&a][spans[&a].len() - 1], spans[&b][0]);
            let label = |e: usize, n: u32| {
                group(groups, e, n).map_or(-1, |g| truth_label(input, plan, e, &g.members))
            };
            Stitch {
                number: root(a),
                ended: a,
                started: b,
                end_time: plan[a_last].0,
                start_time: plan[b_first].0,
                d2,
                truth_ended: label(a_last, a),
                truth_started: label(b_first, b),
            }
        })
        .collect();
    stitches.sort_by(|x, y| {
        x.start_time
            .total_cmp(&y.start_time)
            .then(x.started.cmp(&y.started))
    });
    for gs in groups.iter_mut() {
        let mut merged: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for g in gs.drain(..) {
            merged.entry(root(g.number)).or_default().extend(g.members);
        }
        *gs = merged
            .into_iter()
            .map(|(number, mut members)| {
                members.sort_unstable();
                members.dedup();
                SystemGroup { number, members }
            })
            .collect();
    }
    stitches
}

/// The hand-over stage for the replays of a chunk: candidates, their costs from
/// `costs_of` (the CPU's [`cost`] or the GPU kernel), the assignment per replay, and the
/// renumbering of `groups`. Returns each replay's stitches.
pub(crate) fn stitch_chunk(
    inputs: &[&ReplayInput],
    plans: &[&EpochPlan],
    groups: &mut [Vec<Vec<SystemGroup>>],
    cfg: &Config,
    costs_of: impl FnOnce(&[Candidate]) -> Result<Vec<f64>>,
) -> Result<Vec<Vec<Stitch>>> {
    if !cfg.stitch.enabled {
        return Ok(vec![Vec::new(); inputs.len()]);
    }
    use rayon::prelude::*;
    let per_replay: Vec<Vec<Candidate>> = (0..inputs.len())
        .into_par_iter()
        .map(|r| candidates(r, inputs[r], plans[r], &groups[r], cfg))
        .collect::<Result<_>>()?;
    let all: Vec<Candidate> = per_replay.into_iter().flatten().collect();
    let costs = if all.is_empty() {
        Vec::new()
    } else {
        costs_of(&all)?
    };
    let gate = Gate::new(cfg.gate_probability)?;
    let mut out = vec![Vec::new(); inputs.len()];
    let mut start = 0;
    while start < all.len() {
        let r = all[start].replay;
        let end = start + all[start..].iter().take_while(|c| c.replay == r).count();
        let pairs = decide(&all[start..end], &costs[start..end], &gate, cfg.solver)?;
        out[r] = apply(inputs[r], plans[r], &mut groups[r], &pairs);
        start = end;
    }
    Ok(out)
}

/// The CPU's costs of a batch of candidates, in parallel.
pub fn costs_cpu(cands: &[Candidate], cfg: &Config) -> Vec<f64> {
    use rayon::prelude::*;
    cands
        .par_iter()
        .map(|c| cost(c, &cfg.stitch, &cfg.propagation))
        .collect()
}
