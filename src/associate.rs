//! Track-to-track association, in two steps:
//!
//! 1. [`associate_epoch`]: at one epoch, independently of every other epoch, sources are
//!    taken in sensor order and each one's tracks are assigned to the clusters formed so
//!    far (a global assignment on the chi-square statistic against the cluster's fused
//!    estimate, gated at the chi-square quantile; an unassigned track opens a cluster).
//!    This is the step the GPU runs for all epochs and replays at once. With
//!    [`Assignment::Sd`] all sensors are decided at once instead ([`associate_epoch_sd`]),
//!    so that no sensor's order matters.
//! 2. [`Hysteresis`]: a scan over the epochs of one replay that turns those per-epoch
//!    clusters into system tracks with stable numbers. Two system tracks whose live
//!    members share a cluster for `confirm` consecutive epochs (and have no sensor in
//!    common) merge under the older number; a member kept apart from the rest of its
//!    system track for `break_after` consecutive epochs leaves it under a new number.
//!    Two tracks of one sensor in two system tracks trade places when the evidence for the
//!    trade, summed over epochs, passes `swap_evidence` (see [`Hysteresis`]).

use crate::assign::sd::{SdParams, SdProblem, solve_sd};
use crate::assign::{self, Problem};
use crate::error::{Error, Result};
use crate::fuse::{self, FusionMethod};
use crate::gate::{self, Gate};
use crate::linalg::{self, Mat6, Vec6};
use crate::model::Report;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A local track's estimate at an epoch: the record the propagation stage writes and the
/// association stage reads, laid out as the GPU kernels see it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EpochTrack {
    pub state: Vec6,
    pub cov: Mat6,
    /// Index of the local track in its replay.
    pub track: u32,
    pub sensor: u32,
    /// 6 when the track carries a velocity covariance, else 3 (gate on position only).
    pub dim: u32,
    /// Truth label of the report it was propagated from (scoring only).
    pub truth: i32,
}

/// How the sensors of an epoch are associated (`--assignment`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Assignment {
    /// Each sensor's tracks in turn against the clusters formed so far: cheap, but an early
    /// pairing can block a better one, so the sensors' order matters.
    #[default]
    Sequential,
    /// S-D assignment over all sensors at once (Lagrangian relaxation, then branch and
    /// bound to the optimum): independent of the sensors' order.
    Sd,
}

impl EpochTrack {
    /// Local track `track`'s estimate `(state, cov)` at an epoch, propagated from `report`.
    pub fn from_report(track: usize, report: &Report, state: Vec6, cov: Mat6) -> Self {
        EpochTrack {
            state,
            cov,
            track: track as u32,
            sensor: report.sensor,
            dim: report.gate_dim(),
            truth: report.truth,
        }
    }
}

/// Parameters of the per-epoch association.
#[derive(Clone, Copy, Debug)]
pub struct EpochParams {
    pub gate: Gate,
    pub rho: f64,
    pub fusion: FusionMethod,
    pub solver: assign::Solver,
    pub assignment: Assignment,
    /// Options of the S-D solver ([`Assignment::Sd`]).
    pub sd: SdParams,
}

/// Most candidate tuples [`associate_epoch_sd`] accepts at one epoch: beyond it the gates
/// are too wide for the sensors' density, and the run stops with an error that says so
/// rather than exhausting memory.
pub const MAX_SD_TUPLES: usize = 200_000;

/// One stage of an epoch's association as [`associate_epoch_traced`] records it: a sensor's
/// tracks (rows) against the clusters made so far (columns).
#[derive(Clone, Debug, PartialEq)]
pub struct StageTrace {
    /// Index in the epoch of the stage's first track.
    pub first: usize,
    pub rows: usize,
    pub cols: usize,
    /// `d² / gate` of every pair, gated or not (row-major): the cost where it is ≤ 1.
    pub ratio: Vec<f64>,
    /// The column chosen for each row.
    pub assignment: Vec<Option<usize>>,
}

/// Clusters the tracks of one epoch (sorted by sensor); returns a cluster index per track.
pub fn associate_epoch(tracks: &[EpochTrack], params: &EpochParams) -> Result<Vec<u32>> {
    associate_epoch_counted(tracks, params).map(|(c, _)| c)
}

/// What the S-D solve of one epoch came to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SdEpochStats {
    /// Candidate tuples (gated, cheaper than their tracks alone).
    pub tuples: usize,
    /// Whether the solve proved its answer optimal (false: the node limit stopped it).
    pub optimal: bool,
    /// Its relative duality gap (0 when optimal).
    pub gap: f64,
}

/// The S-D solves of a replay or a run, summed (`summary.json` `counts.sd`).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct SdCounts {
    /// Epochs solved (with two or more sensors live).
    pub epochs: u64,
    /// Candidate tuples over those epochs.
    pub tuples: u64,
    /// Epochs whose solve stopped at the node limit short of a proven optimum.
    pub not_optimal: u64,
}

impl SdCounts {
    pub fn record(&mut self, s: &SdEpochStats) {
        self.epochs += 1;
        self.tuples += s.tuples as u64;
        self.not_optimal += u64::from(!s.optimal);
    }

    pub fn add(&mut self, o: &SdCounts) {
        self.epochs += o.epochs;
        self.tuples += o.tuples;
        self.not_optimal += o.not_optimal;
    }
}

/// [`associate_epoch`]'s clusters, with the S-D solve's statistics when it ran one (two or
/// more sensors live under [`Assignment::Sd`]).
pub fn associate_epoch_counted(
    tracks: &[EpochTrack],
    params: &EpochParams,
) -> Result<(Vec<u32>, Option<SdEpochStats>)> {
    match params.assignment {
        Assignment::Sequential => Ok((associate_epoch_traced(tracks, params, None)?, None)),
        Assignment::Sd => associate_epoch_sd(tracks, params),
    }
}

/// S-D association of one epoch's tracks (sorted by sensor): every sensor is a dimension,
/// its live tracks the items, a candidate tuple a set of tracks of distinct sensors.
///
/// A tuple costs, relative to all its tracks alone, what the sequential stages would charge
/// for building it with the sources taken most precise first: its tracks in order of their
/// position covariance's trace, each joined to the fusion of those before it at `d²/g`
/// against a miss cost of 1, each join within the gate. The order comes from the data, not
/// the sensors', so the result does not depend on how sensors or networks are listed; for
/// two tracks the cost is the sequential stage's own, and it uses the run's fusion method
/// and `rho` as the stages do. The tuples are the cliques of a pair gate [`SD_PAIR_GATE`]
/// times wider than the association gate (fused estimates are tighter than either
/// track, so the pair test only bounds the search). Clusters are numbered by their first
/// track in `tracks`' order; the statistics are `None` when fewer than two sensors are
/// live. Errors: a search beyond [`MAX_SD_TUPLES`] tuples; a covariance that is not
/// positive definite.
pub fn associate_epoch_sd(
    tracks: &[EpochTrack],
    params: &EpochParams,
) -> Result<(Vec<u32>, Option<SdEpochStats>)> {
    let n = tracks.len();
    // Dimensions: runs of one sensor; each track's dimension and item (1-based).
    let mut source = vec![0usize; n];
    let mut item = vec![0u32; n];
    let mut sizes: Vec<usize> = Vec::new();
    for k in 0..n {
        if k == 0 || tracks[k].sensor != tracks[k - 1].sensor {
            sizes.push(0);
        }
        let s = sizes.len() - 1;
        sizes[s] += 1;
        source[k] = s;
        item[k] = sizes[s] as u32;
    }
    let mut cluster_of = vec![u32::MAX; n];
    if sizes.len() < 2 {
        for (k, c) in cluster_of.iter_mut().enumerate() {
            *c = k as u32;
        }
        return Ok((cluster_of, None));
    }

    // The tuples' order: most precise first (ties: sensor, then track).
    let mut order: Vec<usize> = (0..n).collect();
    let precision = |k: usize| linalg::trace(&tracks[k].cov, 3);
    order.sort_by(|&a, &b| {
        precision(a)
            .total_cmp(&precision(b))
            .then(tracks[a].sensor.cmp(&tracks[b].sensor))
            .then(tracks[a].track.cmp(&tracks[b].track))
    });
    // Pairs of tracks of different sensors within the pair gate, as positions in `order`:
    // each one's later neighbours.
    let mut later: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut near: HashSet<(usize, usize)> = HashSet::new();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (&tracks[order[i]], &tracks[order[j]]);
            if a.sensor == b.sensor {
                continue;
            }
            let dim = a.dim.min(b.dim) as usize;
            let d2 = gate::chi_square(&a.state, &a.cov, &b.state, &b.cov, params.rho, dim);
            if d2 <= SD_PAIR_GATE * params.gate.threshold(dim) {
                near.insert((i, j));
                later[i].push(j);
            }
        }
    }

    let mut tuples: Vec<(Vec<u32>, f64)> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut grower = Grower {
        tracks,
        order: &order,
        near: &near,
        params,
        clique: Vec::new(),
        met: 0,
    };
    for first in 0..n {
        let t = &tracks[order[first]];
        grower.clique.push(first);
        let cluster = (t.state, t.cov, t.dim as usize);
        grower.grow(
            &cluster,
            0.0,
            &later[first],
            &mut |clique: &[usize], cost: f64| {
                let mut index = vec![0u32; sizes.len()];
                for &m in clique {
                    index[source[order[m]]] = item[order[m]];
                }
                tuples.push((index, cost));
                members.push(clique.iter().map(|&m| order[m]).collect());
            },
        )?;
        grower.clique.clear();
    }
    let count = tuples.len();
    let solution = solve_sd(&SdProblem { sizes, tuples }, &params.sd)?;
    let stats = SdEpochStats {
        tuples: count,
        optimal: solution.optimal,
        gap: solution.gap,
    };

    // Clusters: chosen tuples and the tracks left alone, by first track.
    let mut tuple_of = vec![usize::MAX; n];
    for &t in &solution.chosen {
        for &m in &members[t] {
            tuple_of[m] = t;
        }
    }
    let mut next = 0u32;
    for k in 0..n {
        if cluster_of[k] != u32::MAX {
            continue;
        }
        match tuple_of[k] {
            usize::MAX => cluster_of[k] = next,
            t => {
                for &m in &members[t] {
                    cluster_of[m] = next;
                }
            }
        }
        next += 1;
    }
    Ok((cluster_of, Some(stats)))
}

/// How much wider than the association gate the pair gate is that bounds the S-D search.
/// A track may fall inside the gate of a fused estimate and outside that of one of its
/// tracks (the fused estimate lies between them). On salvo seeds 1 to 5 (rebuilt with
/// this constant changed), four or eight times the gate found 0.03 % more tuples than
/// twice, and the same purity and completeness; once the gate lost completeness on four
/// seeds of five.
pub const SD_PAIR_GATE: f64 = 2.0;

/// The tuple search of [`associate_epoch_sd`], over positions in `order`.
struct Grower<'a> {
    tracks: &'a [EpochTrack],
    order: &'a [usize],
    near: &'a HashSet<(usize, usize)>,
    params: &'a EpochParams,
    clique: Vec<usize>,
    /// Tuples met so far (each is emitted: every gated join lowers the cost).
    met: usize,
}

impl Grower<'_> {
    /// Joins each of `candidates` (later tracks near every member) in turn to the clique,
    /// whose fused estimate and gate dimension are `cluster` and whose cost is `cost`,
    /// where the join is within the gate; hands the tuple to `emit` and recurses.
    fn grow(
        &mut self,
        cluster: &(Vec6, Mat6, usize),
        cost: f64,
        candidates: &[usize],
        emit: &mut impl FnMut(&[usize], f64),
    ) -> Result<()> {
        for (c, &next) in candidates.iter().enumerate() {
            let t = &self.tracks[self.order[next]];
            let dim = (t.dim as usize).min(cluster.2);
            let d2 = gate::chi_square(
                &t.state,
                &t.cov,
                &cluster.0,
                &cluster.1,
                self.params.rho,
                dim,
            );
            let g = self.params.gate.threshold(dim);
            if d2 >= g {
                continue;
            }
            self.met += 1;
            if self.met > MAX_SD_TUPLES {
                return Err(Error::Numeric(format!(
                    "S-D assignment: more than {MAX_SD_TUPLES} candidate tuples at one epoch \
                     ({} tracks); narrow the gate (--gate) or use --assignment sequential",
                    self.tracks.len()
                )));
            }
            let cost = cost + d2 / g - 1.0;
            self.clique.push(next);
            emit(&self.clique, cost);
            // Pairs exist only between different sensors, so this also keeps one track
            // per sensor.
            let rest: Vec<usize> = candidates[c + 1..]
                .iter()
                .copied()
                .filter(|&j| self.near.contains(&(next, j)))
                .collect();
            if !rest.is_empty() {
                let (x, p) = fuse::fuse_pair(
                    (&cluster.0, &cluster.1),
                    (&t.state, &t.cov),
                    self.params.fusion,
                    self.params.rho,
                )?;
                self.grow(&(x, p, dim), cost, &rest, emit)?;
            }
            self.clique.pop();
        }
        Ok(())
    }
}

/// [`associate_epoch`] by sequential stages, also recording each stage's problem and
/// assignment when `trace` is given (for `verify`).
pub fn associate_epoch_traced(
    tracks: &[EpochTrack],
    params: &EpochParams,
    mut trace: Option<&mut Vec<StageTrace>>,
) -> Result<Vec<u32>> {
    let mut cluster_of = vec![u32::MAX; tracks.len()];
    // Each cluster's fused estimate and the gate dimension it supports.
    let mut clusters: Vec<(Vec6, Mat6, usize)> = Vec::new();
    let mut start = 0;
    while start < tracks.len() {
        let sensor = tracks[start].sensor;
        let end = start
            + tracks[start..]
                .iter()
                .take_while(|t| t.sensor == sensor)
                .count();
        let rows = &tracks[start..end];
        let assignment = if clusters.is_empty() {
            vec![None; rows.len()]
        } else {
            // Cost: d² over its gate, so that the cost of leaving a track unassigned is 1
            // whatever the dimension of the test.
            let cols = clusters.len();
            let mut cost = vec![f64::INFINITY; rows.len() * cols];
            let mut ratio = Vec::new();
            for (i, t) in rows.iter().enumerate() {
                for (j, c) in clusters.iter().enumerate() {
                    let dim = (t.dim as usize).min(c.2);
                    let d2 = gate::chi_square(&t.state, &t.cov, &c.0, &c.1, params.rho, dim);
                    let g = params.gate.threshold(dim);
                    if d2 <= g {
                        cost[i * cols + j] = d2 / g;
                    }
                    if trace.is_some() {
                        ratio.push(d2 / g);
                    }
                }
            }
            let problem = Problem {
                rows: rows.len(),
                cols,
                cost,
                miss: Some(1.0),
            };
            let assignment = assign::solve(&problem, params.solver)?.row_to_col;
            if let Some(trace) = trace.as_deref_mut() {
                trace.push(StageTrace {
                    first: start,
                    rows: rows.len(),
                    cols,
                    ratio,
                    assignment: assignment.clone(),
                });
            }
            assignment
        };
        let before = clusters.len();
        for (i, t) in rows.iter().enumerate() {
            match assignment[i] {
                Some(j) if j < before => {
                    let c = &mut clusters[j];
                    let (x, p) = fuse::fuse_pair(
                        (&c.0, &c.1),
                        (&t.state, &t.cov),
                        params.fusion,
                        params.rho,
                    )?;
                    *c = (x, p, c.2.min(t.dim as usize));
                    cluster_of[start + i] = j as u32;
                }
                _ => {
                    cluster_of[start + i] = clusters.len() as u32;
                    clusters.push((t.state, t.cov, t.dim as usize));
                }
            }
        }
        start = end;
    }
    Ok(cluster_of)
}

/// Hysteresis parameters.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct HysteresisParams {
    /// Consecutive epochs together before two system tracks merge.
    pub confirm: u32,
    /// Consecutive epochs apart before a member leaves its system track.
    pub break_after: u32,
    /// Summed chi-square evidence at which two tracks of one sensor trade system tracks
    /// (0: never).
    pub swap_evidence: f64,
}

impl Default for HysteresisParams {
    fn default() -> Self {
        HysteresisParams {
            confirm: 3,
            break_after: 5,
            swap_evidence: 25.0,
        }
    }
}

/// The state of the scan over one replay's epochs.
///
/// Besides merges and breaks it watches for swaps. A local tracker can swap its tracks of
/// two closely spaced objects; its tracks then sit in the wrong system tracks, and while the
/// objects stay closer than the other networks resolve, the per-epoch association fits
/// either pairing about as well, so that no member stays apart for `break_after`
/// consecutive epochs. So when a member is clustered with another system track that holds
/// a track of its sensor, that pair of tracks is watched: at every epoch the chi-square
/// statistics of the current pairing against the rest of each system track, minus those of
/// the traded pairing, add to a sum kept at or above zero (a CUSUM test). When the sum
/// reaches `swap_evidence` the two tracks trade places; when it falls back to zero the
/// watch ends.
#[derive(Debug)]
pub struct Hysteresis {
    params: HysteresisParams,
    rho: f64,
    fusion: FusionMethod,
    /// Evidence for trading each watched pair of local tracks (smaller index first).
    swaps: BTreeMap<(usize, usize), f64>,
    /// Trades made so far.
    pub trades: u64,
    next_number: u32,
    /// System track number of each local track seen so far.
    home: Vec<Option<u32>>,
    /// Epoch count at which each local track joined its current system track.
    joined: Vec<u64>,
    /// Consecutive epochs each local track spent apart from its system track.
    misses: Vec<u32>,
    /// Members of each system track (local track indices, in joining order).
    members: BTreeMap<u32, Vec<usize>>,
    /// Consecutive epochs each pair of system tracks (smaller number first) spent together.
    together: BTreeMap<(u32, u32), u32>,
    epochs: u64,
}

/// A system track at one epoch: its number and its live members (indices into the
/// epoch's track list).
#[derive(Clone, Debug, PartialEq)]
pub struct SystemGroup {
    pub number: u32,
    pub members: Vec<usize>,
}

impl Hysteresis {
    /// A scan over a replay with `local_tracks` local tracks; `rho` and `fusion` are those
    /// of the association, used to weigh swaps.
    pub fn new(
        params: HysteresisParams,
        local_tracks: usize,
        rho: f64,
        fusion: FusionMethod,
    ) -> Self {
        Hysteresis {
            params,
            rho,
            fusion,
            swaps: BTreeMap::new(),
            trades: 0,
            next_number: 1,
            home: vec![None; local_tracks],
            joined: vec![0; local_tracks],
            misses: vec![0; local_tracks],
            members: BTreeMap::new(),
            together: BTreeMap::new(),
            epochs: 0,
        }
    }

    /// Advances by one epoch, given its live tracks (with their estimates) and their
    /// clusters; returns the system tracks with live members, by number.
    pub fn step(&mut self, tracks: &[EpochTrack], cluster_of: &[u32]) -> Vec<SystemGroup> {
        self.step_with(tracks, cluster_of, |k| (tracks[k].state, tracks[k].cov))
    }

    /// [`Hysteresis::step`] where `estimate(k)` gives the estimate of `tracks[k]` (the GPU
    /// path computes the few that swap tests need on the host, in f64, as the CPU path does).
    pub fn step_with(
        &mut self,
        tracks: &[EpochTrack],
        cluster_of: &[u32],
        estimate: impl Fn(usize) -> (Vec6, Mat6),
    ) -> Vec<SystemGroup> {
        self.epochs += 1;
        // Position in this epoch's list of each live local track.
        let mut slot: BTreeMap<usize, usize> = BTreeMap::new();
        for (k, t) in tracks.iter().enumerate() {
            let track = t.track as usize;
            slot.insert(track, k);
            if self.home[track].is_none() {
                self.open(track);
            }
        }
        if self.params.swap_evidence > 0.0 {
            self.watch_swaps(tracks, cluster_of, &slot, &estimate);
        }

        // Breaks: a live member apart from every other live member of its system track.
        let numbers: Vec<u32> = self.members.keys().copied().collect();
        for number in numbers {
            let live = self.live(number, &slot);
            if live.len() < 2 {
                for &m in &live {
                    self.misses[m] = 0;
                }
                continue;
            }
            for &m in &live {
                let c = cluster_of[slot[&m]];
                let with_others = live.iter().any(|&o| o != m && cluster_of[slot[&o]] == c);
                self.misses[m] = if with_others { 0 } else { self.misses[m] + 1 };
            }
            // The most recent joiners leave first; the last live member keeps the number.
            let mut leavers: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&m| self.misses[m] >= self.params.break_after)
                .collect();
            leavers.sort_by_key(|&m| std::cmp::Reverse((self.joined[m], m)));
            let mut remaining = live.len();
            for m in leavers {
                if remaining < 2 {
                    break;
                }
                if let Some(v) = self.members.get_mut(&number) {
                    v.retain(|&x| x != m);
                }
                self.open(m);
                remaining -= 1;
            }
            if remaining < 2 {
                for &m in &live {
                    self.misses[m] = 0;
                }
            }
        }

        // Merges: pairs of system tracks whose live members share a cluster.
        let mut pairs: BTreeMap<(u32, u32), ()> = BTreeMap::new();
        let mut by_cluster: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for t in tracks {
            if let Some(h) = self.home[t.track as usize] {
                let v = by_cluster
                    .entry(cluster_of[slot[&(t.track as usize)]])
                    .or_default();
                if !v.contains(&h) {
                    v.push(h);
                }
            }
        }
        for homes in by_cluster.values() {
            for (i, &a) in homes.iter().enumerate() {
                for &b in &homes[i + 1..] {
                    pairs.insert((a.min(b), a.max(b)), ());
                }
            }
        }
        let mut together = BTreeMap::new();
        for &(a, b) in pairs.keys() {
            if !self.sensor_conflict(a, b, tracks, &slot) {
                let n = self.together.get(&(a, b)).copied().unwrap_or(0) + 1;
                together.insert((a, b), n);
            }
        }
        self.together = together;
        let ready: Vec<(u32, u32)> = self
            .together
            .iter()
            .filter(|&(_, &n)| n >= self.params.confirm)
            .map(|(&k, _)| k)
            .collect();
        for (a, b) in ready {
            if !self.members.contains_key(&a)
                || !self.members.contains_key(&b)
                || self.sensor_conflict(a, b, tracks, &slot)
            {
                continue;
            }
            let moved = self.members.remove(&b).unwrap_or_default();
            for &m in &moved {
                self.home[m] = Some(a);
                self.joined[m] = self.epochs;
                self.misses[m] = 0;
            }
            self.members.entry(a).or_default().extend(moved);
            self.together.retain(|&(x, y), _| x != b && y != b);
        }

        // Output: system tracks with live members.
        let mut out = Vec::new();
        for (&number, members) in &self.members {
            let live: Vec<usize> = members
                .iter()
                .filter_map(|m| slot.get(m).copied())
                .collect();
            if !live.is_empty() {
                let mut live = live;
                live.sort_unstable();
                out.push(SystemGroup {
                    number,
                    members: live,
                });
            }
        }
        out
    }

    /// Starts watching pairs that this epoch's clusters put the other way round, adds this
    /// epoch's evidence to every watched pair, and trades those whose sum reaches the
    /// threshold.
    fn watch_swaps(
        &mut self,
        tracks: &[EpochTrack],
        cluster_of: &[u32],
        slot: &BTreeMap<usize, usize>,
        estimate: &impl Fn(usize) -> (Vec6, Mat6),
    ) {
        // New watches: a member clustered apart from the rest of its system track, with a
        // member of another system track (in its cluster) that holds a track of its sensor.
        let mut watch = Vec::new();
        for &number in self.members.keys() {
            let live = self.live(number, slot);
            if live.len() < 2 {
                continue;
            }
            for &a in &live {
                let c = cluster_of[slot[&a]];
                if live.iter().any(|&o| o != a && cluster_of[slot[&o]] == c) {
                    continue;
                }
                let others: BTreeSet<u32> = tracks
                    .iter()
                    .zip(cluster_of)
                    .filter(|&(_, &k)| k == c)
                    .filter_map(|(t, _)| self.home[t.track as usize])
                    .filter(|&h| h != number)
                    .collect();
                let sensor = tracks[slot[&a]].sensor;
                for other in others {
                    let rivals = self.live(other, slot);
                    if rivals.len() < 2 {
                        continue;
                    }
                    watch.extend(
                        rivals
                            .into_iter()
                            .filter(|&b| tracks[slot[&b]].sensor == sensor)
                            .map(|b| (a.min(b), a.max(b))),
                    );
                }
            }
        }
        for pair in watch {
            self.swaps.entry(pair).or_insert(0.0);
        }

        // Evidence: d² of each track against the rest of its own system track, minus d²
        // against the rest of the other's.
        let pairs: Vec<(usize, usize)> = self.swaps.keys().copied().collect();
        for (a, b) in pairs {
            // A trade earlier in this loop ends the watches of its two tracks.
            let Some(&before) = self.swaps.get(&(a, b)) else {
                continue;
            };
            let (Some(&ka), Some(&kb), Some(ha), Some(hb)) =
                (slot.get(&a), slot.get(&b), self.home[a], self.home[b])
            else {
                self.swaps.remove(&(a, b));
                continue;
            };
            let rest_a: Vec<usize> = self
                .live(ha, slot)
                .into_iter()
                .filter(|&m| m != a)
                .collect();
            let rest_b: Vec<usize> = self
                .live(hb, slot)
                .into_iter()
                .filter(|&m| m != b)
                .collect();
            if ha == hb || rest_a.is_empty() || rest_b.is_empty() {
                self.swaps.remove(&(a, b));
                continue;
            }
            let fused = |rest: &[usize]| -> Option<(Vec6, Mat6, usize)> {
                let estimates: Vec<(Vec6, Mat6)> = rest.iter().map(|m| estimate(slot[m])).collect();
                let dim = rest.iter().map(|m| tracks[slot[m]].dim).min()? as usize;
                // A fusion that fails here fails again, with its error, in the fuse stage.
                let (x, p) = fuse::fuse_all(&estimates, self.fusion, self.rho).ok()?;
                Some((x, p, dim))
            };
            let (Some(fa), Some(fb)) = (fused(&rest_a), fused(&rest_b)) else {
                continue;
            };
            let (xa, pa) = estimate(ka);
            let (xb, pb) = estimate(kb);
            let da = tracks[ka].dim as usize;
            let db = tracks[kb].dim as usize;
            let d2 = |x: &Vec6, p: &Mat6, dim: usize, f: &(Vec6, Mat6, usize)| {
                gate::chi_square(x, p, &f.0, &f.1, self.rho, dim.min(f.2))
            };
            let kept = d2(&xa, &pa, da, &fa) + d2(&xb, &pb, db, &fb);
            let traded = d2(&xa, &pa, da, &fb) + d2(&xb, &pb, db, &fa);
            let evidence = kept - traded;
            if !evidence.is_finite() {
                continue;
            }
            let sum = (before + evidence).max(0.0);
            if sum >= self.params.swap_evidence {
                self.trade(a, b);
            } else if sum > 0.0 {
                self.swaps.insert((a, b), sum);
            } else {
                self.swaps.remove(&(a, b));
            }
        }
    }

    /// Puts each of two local tracks in the other's system track; the evidence gathered for
    /// either against the old pairing no longer applies.
    fn trade(&mut self, a: usize, b: usize) {
        let (Some(ha), Some(hb)) = (self.home[a], self.home[b]) else {
            return;
        };
        for (m, from, to) in [(a, ha, hb), (b, hb, ha)] {
            if let Some(v) = self.members.get_mut(&from) {
                v.retain(|&x| x != m);
            }
            self.members.entry(to).or_default().push(m);
            self.home[m] = Some(to);
            self.joined[m] = self.epochs;
            self.misses[m] = 0;
        }
        self.swaps
            .retain(|&(x, y), _| x != a && x != b && y != a && y != b);
        self.trades += 1;
    }

    /// The live members of a system track (local track indices, in joining order).
    fn live(&self, number: u32, slot: &BTreeMap<usize, usize>) -> Vec<usize> {
        self.members
            .get(&number)
            .map(|v| v.iter().copied().filter(|m| slot.contains_key(m)).collect())
            .unwrap_or_default()
    }

    /// Puts a local track alone in a new system track.
    fn open(&mut self, track: usize) {
        let number = self.next_number;
        self.next_number += 1;
        self.home[track] = Some(number);
        self.joined[track] = self.epochs;
        self.misses[track] = 0;
        self.members.insert(number, vec![track]);
    }

    /// True when the live members of two system tracks include two tracks of one sensor.
    fn sensor_conflict(
        &self,
        a: u32,
        b: u32,
        tracks: &[EpochTrack],
        slot: &BTreeMap<usize, usize>,
    ) -> bool {
        let sensors = |n: u32| -> Vec<u32> {
            self.members
                .get(&n)
                .map(|v| {
                    v.iter()
                        .filter_map(|m| slot.get(m))
                        .map(|&k| tracks[k].sensor)
                        .collect()
                })
                .unwrap_or_default()
        };
        let sa = sensors(a);
        sensors(b).iter().any(|s| sa.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(track: u32, sensor: u32, x: f64) -> EpochTrack {
        let mut cov = [[0.0; 6]; 6];
        for (i, row) in cov.iter_mut().enumerate() {
            row[i] = if i < 3 { 100.0 } else { 1.0 };
        }
        EpochTrack {
            track,
            sensor,
            state: [x, 0.0, 0.0, 0.0, 0.0, 0.0],
            cov,
            dim: 6,
            truth: 0,
        }
    }

    fn params() -> EpochParams {
        EpochParams {
            gate: Gate::new(0.99).unwrap(),
            rho: 0.0,
            fusion: FusionMethod::CovarianceIntersection,
            solver: assign::Solver::Exact,
            assignment: Assignment::Sequential,
            sd: SdParams::default(),
        }
    }

    /// Sequential stages let an early pairing block a better one: sensor 1's track at 40 m
    /// joins sensor 0's at 0 m first, and sensor 2's track at 80 m is then left out. S-D
    /// sees all three sensors at once and pairs 0 m with −10 m and 40 m with 80 m, at a
    /// lower total cost, whatever the order of the sensors.
    #[test]
    fn sd_finds_the_pairing_that_sequential_stages_block() {
        let tracks = [
            track(0, 0, 0.0),
            track(1, 1, 40.0),
            track(2, 2, 80.0),
            track(3, 2, -10.0),
        ];
        let seq = associate_epoch(&tracks, &params()).unwrap();
        assert_eq!(seq[0], seq[1], "{seq:?}");
        let sd_params = EpochParams {
            assignment: Assignment::Sd,
            ..params()
        };
        let (sd, stats) = associate_epoch_sd(&tracks, &sd_params).unwrap();
        assert_eq!(sd, vec![0, 1, 1, 0]);
        assert!(stats.unwrap().optimal);
        // The sensors relabelled in reverse (and re-sorted): the same pairs.
        let mut relabelled: Vec<EpochTrack> = tracks
            .iter()
            .map(|t| EpochTrack {
                sensor: 2 - t.sensor,
                ..*t
            })
            .collect();
        relabelled.sort_by_key(|t| t.sensor);
        let (c, _) = associate_epoch_sd(&relabelled, &sd_params).unwrap();
        let of = |track: u32| c[relabelled.iter().position(|t| t.track == track).unwrap()];
        assert_eq!(of(0), of(3));
        assert_eq!(of(1), of(2));
        assert_ne!(of(0), of(1));
    }

    #[test]
    fn epoch_association_pairs_nearby_tracks_one_to_one() {
        // Sensor 0 sees objects at 0 and 1000 m; sensor 1 at 10 and 990; sensor 2 only a
        // far one.
        let tracks = [
            track(0, 0, 0.0),
            track(1, 0, 1000.0),
            track(2, 1, 990.0),
            track(3, 1, 10.0),
            track(4, 2, 5000.0),
        ];
        let c = associate_epoch(&tracks, &params()).unwrap();
        assert_eq!(c[0], c[3]);
        assert_eq!(c[1], c[2]);
        assert_ne!(c[0], c[1]);
        assert!(c[4] != c[0] && c[4] != c[1]);
    }

    #[test]
    fn merge_after_confirm_and_break_after_misses() {
        let p = HysteresisParams {
            confirm: 3,
            break_after: 2,
            swap_evidence: 0.0,
        };
        let mut h = Hysteresis::new(p, 2, 0.0, FusionMethod::CovarianceIntersection);
        let tracks = [track(0, 0, 0.0), track(1, 1, 0.0)];
        // Together for two epochs: still two system tracks.
        for _ in 0..2 {
            let g = h.step(&tracks, &[0, 0]);
            assert_eq!(g.len(), 2);
        }
        // Third epoch together: merged under the older number.
        let g = h.step(&tracks, &[0, 0]);
        assert_eq!(
            g,
            vec![SystemGroup {
                number: 1,
                members: vec![0, 1]
            }]
        );
        // Apart for one epoch: still one system track.
        assert_eq!(h.step(&tracks, &[0, 1]).len(), 1);
        // Together again resets the count; then apart twice: the later joiner leaves.
        assert_eq!(h.step(&tracks, &[0, 0]).len(), 1);
        assert_eq!(h.step(&tracks, &[0, 1]).len(), 1);
        let g = h.step(&tracks, &[0, 1]);
        assert_eq!(
            g,
            vec![
                SystemGroup {
                    number: 1,
                    members: vec![0]
                },
                SystemGroup {
                    number: 3,
                    members: vec![1]
                }
            ]
        );
    }

    #[test]
    fn a_split_counts_each_epoch_once_and_the_first_member_keeps_the_number() {
        let mut h = Hysteresis::new(
            HysteresisParams {
                confirm: 1,
                break_after: 3,
                swap_evidence: 0.0,
            },
            3,
            0.0,
            FusionMethod::CovarianceIntersection,
        );
        let tracks = [track(0, 0, 0.0), track(1, 1, 0.0), track(2, 2, 0.0)];
        let g = h.step(&tracks, &[0, 0, 0]);
        assert_eq!(
            g,
            vec![SystemGroup {
                number: 1,
                members: vec![0, 1, 2]
            }]
        );
        // All three apart: still one system track after two epochs, three after the third.
        assert_eq!(h.step(&tracks, &[0, 1, 2]).len(), 1);
        assert_eq!(h.step(&tracks, &[0, 1, 2]).len(), 1);
        let g = h.step(&tracks, &[0, 1, 2]);
        assert_eq!(g.len(), 3);
        assert_eq!(
            g[0],
            SystemGroup {
                number: 1,
                members: vec![0]
            }
        );
    }

    #[test]
    fn tracks_of_one_sensor_never_merge() {
        let mut h = Hysteresis::new(
            HysteresisParams {
                confirm: 1,
                break_after: 1,
                swap_evidence: 0.0,
            },
            2,
            0.0,
            FusionMethod::CovarianceIntersection,
        );
        let tracks = [track(0, 0, 0.0), track(1, 0, 0.0)];
        for _ in 0..5 {
            assert_eq!(h.step(&tracks, &[0, 0]).len(), 2);
        }
    }

    #[test]
    fn swapped_tracks_trade_places_on_summed_evidence_only() {
        // Sensors 0 and 1 see objects at x = 0 and x = 20 m; sensor 1's tracks (2 and 3)
        // swap after the system tracks form. σ = 10 m per axis: each epoch of the swap
        // adds (2 + 2) − 0 = 4 to the evidence, so 25 is reached on the seventh epoch.
        let params = HysteresisParams {
            confirm: 1,
            break_after: 1000,
            swap_evidence: 25.0,
        };
        let run = |swapped: bool| {
            let mut h = Hysteresis::new(params, 4, 0.0, FusionMethod::CovarianceIntersection);
            let before = [
                track(0, 0, 0.0),
                track(1, 0, 20.0),
                track(2, 1, 0.0),
                track(3, 1, 20.0),
            ];
            h.step(&before, &[0, 1, 0, 1]);
            let after = if swapped {
                [
                    track(0, 0, 0.0),
                    track(1, 0, 20.0),
                    track(2, 1, 20.0),
                    track(3, 1, 0.0),
                ]
            } else {
                before
            };
            // One epoch whose clusters put sensor 1's tracks the other way round starts
            // the watch; the clusters then keep the old pairing.
            let mut groups = vec![h.step(&after, &[0, 1, 1, 0])];
            for _ in 0..9 {
                groups.push(h.step(&after, &[0, 1, 0, 1]));
            }
            (groups, h.trades)
        };
        let (groups, trades) = run(true);
        assert_eq!(trades, 1);
        let with_zero = |g: &Vec<SystemGroup>| g.iter().find(|s| s.members.contains(&0)).cloned();
        assert_eq!(with_zero(&groups[5]).unwrap().members, vec![0, 2]);
        assert_eq!(with_zero(&groups[6]).unwrap().members, vec![0, 3]);
        assert_eq!(with_zero(&groups[9]).unwrap().members, vec![0, 3]);
        // Tracks that did not swap: the one disagreeing epoch gives no evidence.
        let (groups, trades) = run(false);
        assert_eq!(trades, 0);
        assert_eq!(with_zero(&groups[9]).unwrap().members, vec![0, 2]);
    }
}
