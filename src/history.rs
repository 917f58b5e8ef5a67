//! Whole-history track-to-track association by the counting technique, with the semantics
//! of Stone Soup's `TrackToTrackCounting` (1.9):
//!
//! * two tracks of different sensors are compared only at the timestamps they both have,
//!   in time order ("consecutive" means consecutive common timestamps, whatever the gap);
//! * a common timestamp is a hit when the position distance is at most the threshold;
//! * an association starts after `confirm` consecutive hits, at the first of them, and ends
//!   after `misses` consecutive misses, at the first of them, or at the last common
//!   timestamp when the tracks stop overlapping while it is open;
//! * while one is open, a new run of `confirm` hits after a shorter run of misses moves its
//!   start to that run (Stone Soup does this too: the earlier part is dropped);
//! * the associations of one pair of tracks form one association over several time ranges;
//! * `one_to_one` removes conflicts (one track with two others at once) as Stone Soup's
//!   `multidimensional_deconfliction` does: a 2-D assignment maximising the associated time,
//!   the losers trimmed to the times their winners leave free.
//!
//! One thing differs on purpose: where Stone Soup raises `ValueError` (an association
//! confirmed at the very last common timestamp, possible with `confirm` 1), trackcorr keeps it
//! as a one-instant association.
//!
//! Sensors are the sources: every sensor's tracks are compared with every other sensor's, in
//! sensor-table order. The GPU twin of [`count_pair`] is `shaders/history.wgsl`.

use crate::assign::{self, Problem};
use crate::correlate::{Config, epoch_plan, split_replays};
use crate::error::{Error, Result};
use crate::model::{NO_TRUTH, Report};
use crate::propagate::{Propagation, propagate};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// The distance the threshold applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// `sqrt(dx² + dy² + dz²)`: Stone Soup's `Euclidean(mapping=(0, 1, 2))`.
    Euclidean,
    /// `sqrt((dx² + dy² + dz²) / 3)`: Stone Soup's default when no measure is given
    /// (`EuclideanWeighted` with weight 1/3 on each position component).
    Weighted,
}

impl Measure {
    /// Factor on the squared position distance.
    pub fn weight(self) -> f64 {
        match self {
            Measure::Euclidean => 1.0,
            Measure::Weighted => 1.0 / 3.0,
        }
    }
}

/// Parameters of the counting technique (Stone Soup's names in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HistoryParams {
    /// Largest distance of a hit, m (`association_threshold`).
    pub threshold: f64,
    /// Consecutive hits that start an association (`consec_pairs_confirm`).
    pub confirm: u32,
    /// Consecutive misses that end one (`consec_misses_end`).
    pub misses: u32,
    /// At most one association per track at any time (`one_to_one`).
    pub one_to_one: bool,
    pub measure: Measure,
}

impl Default for HistoryParams {
    /// Stone Soup's defaults for `confirm` and `misses`; a threshold for ballistic tracks
    /// reported every few seconds by radars a few hundred kilometres away.
    fn default() -> Self {
        HistoryParams {
            threshold: 1000.0,
            confirm: 3,
            misses: 2,
            one_to_one: false,
            measure: Measure::Euclidean,
        }
    }
}

impl HistoryParams {
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return Err(Error::Config(
                "--threshold must be a non-negative distance".into(),
            ));
        }
        if self.confirm == 0 || self.misses == 0 {
            return Err(Error::Config(
                "--confirm and --misses must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// One local track's history: its positions at indices into its replay's time table.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackHistory {
    pub sensor: u32,
    pub track: u32,
    /// Most frequent truth label of its reports (scoring only), or [`NO_TRUTH`].
    pub truth: i32,
    /// Strictly increasing indices into [`ReplayHistory::times`].
    pub times: Vec<u32>,
    /// ECEF positions (m), one per time.
    pub pos: Vec<[f64; 3]>,
}

/// All track histories of one replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayHistory {
    pub replay: u32,
    /// Every distinct time of the replay, increasing.
    pub times: Vec<f64>,
    /// Sorted by sensor, then track number.
    pub tracks: Vec<TrackHistory>,
}

/// The association of two tracks of one replay (`a`'s sensor before `b`'s), over one or
/// more disjoint time ranges given as indices into the replay's time table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairAssociation {
    /// Indices into [`ReplayHistory::tracks`].
    pub a: u32,
    pub b: u32,
    /// `(start, end)`, closed, increasing and disjoint.
    pub ranges: Vec<(u32, u32)>,
}

/// A sample of a track: time, sensor, track number, truth label, position.
pub type Sample = (f64, u32, u32, i32, [f64; 3]);

impl ReplayHistory {
    /// Builds a replay's histories from samples in any order. Two samples of one track at
    /// the same time are an error (`what` names them).
    pub fn from_samples(
        replay: u32,
        samples: &[Sample],
        what: impl Fn(&Sample) -> Error,
    ) -> Result<ReplayHistory> {
        let mut times: Vec<f64> = samples.iter().map(|s| s.0).collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let mut by_track: BTreeMap<(u32, u32), Vec<&Sample>> = BTreeMap::new();
        for s in samples {
            by_track.entry((s.1, s.2)).or_default().push(s);
        }
        let mut tracks = Vec::with_capacity(by_track.len());
        for ((sensor, track), mut ss) in by_track {
            ss.sort_by(|x, y| x.0.total_cmp(&y.0));
            if let Some(w) = ss.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(what(w[1]));
            }
            let mut votes: BTreeMap<i32, usize> = BTreeMap::new();
            for s in &ss {
                *votes.entry(s.3).or_default() += 1;
            }
            // Most votes; among equals the smallest label (BTreeMap order), for determinism.
            let truth = votes
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map_or(NO_TRUTH, |(t, _)| *t);
            tracks.push(TrackHistory {
                sensor,
                track,
                truth,
                times: ss
                    .iter()
                    .map(|s| times.partition_point(|&t| t < s.0) as u32)
                    .collect(),
                pos: ss.iter().map(|s| s.4).collect(),
            });
        }
        Ok(ReplayHistory {
            replay,
            times,
            tracks,
        })
    }

    /// Pairs of tracks of different sensors whose time spans overlap, as [`Block`]s: one per
    /// pair of sensors, every track of the first against every track of the second.
    pub fn blocks(&self) -> Vec<Block> {
        let mut runs: Vec<(u32, usize, usize)> = Vec::new(); // (sensor, first, count)
        for (i, t) in self.tracks.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if r.0 == t.sensor => r.2 += 1,
                _ => runs.push((t.sensor, i, 1)),
            }
        }
        let mut out = Vec::new();
        for (x, ra) in runs.iter().enumerate() {
            for rb in &runs[x + 1..] {
                out.push(Block {
                    a_first: ra.1 as u32,
                    a_count: ra.2 as u32,
                    b_first: rb.1 as u32,
                    b_count: rb.2 as u32,
                });
            }
        }
        out
    }

    /// Every pair `(a, b)` of tracks of different sensors (`a`'s sensor first) whose time
    /// spans overlap: the pairs the counting technique looks at.
    pub fn overlapping_pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.blocks().into_iter().flat_map(move |blk| {
            (blk.a_first..blk.a_first + blk.a_count).flat_map(move |a| {
                (blk.b_first..blk.b_first + blk.b_count)
                    .filter(move |&b| overlap(&self.tracks[a as usize], &self.tracks[b as usize]))
                    .map(move |b| (a, b))
            })
        })
    }

    /// Microseconds covered by `ranges`: whole microseconds, as Stone Soup's timestamps
    /// (Python datetimes) count, so that equal durations compare equal.
    pub fn duration_us(&self, ranges: &[(u32, u32)]) -> i64 {
        let us = |t: f64| (t * 1e6).round() as i64;
        ranges
            .iter()
            .map(|&(s, e)| us(self.times[e as usize]) - us(self.times[s as usize]))
            .sum()
    }
}

/// Every track of sensor run `a` against every track of sensor run `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub a_first: u32,
    pub a_count: u32,
    pub b_first: u32,
    pub b_count: u32,
}

/// Histories from the reports themselves: each track's positions at its report times.
/// Tracks of different sensors meet only at the times they both report.
pub fn from_reports(reports: &[Report], file: &std::path::Path) -> Result<Vec<ReplayHistory>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < reports.len() {
        let replay = reports[start].replay;
        let n = reports[start..]
            .iter()
            .take_while(|r| r.replay == replay)
            .count();
        let slice = &reports[start..start + n];
        let samples: Vec<Sample> = slice
            .iter()
            .map(|r| {
                (
                    r.time,
                    r.sensor,
                    r.track,
                    r.truth,
                    [r.state[0], r.state[1], r.state[2]],
                )
            })
            .collect();
        out.push(ReplayHistory::from_samples(replay, &samples, |s| {
            let line = slice
                .iter()
                .filter(|r| r.time == s.0 && r.sensor == s.1 && r.track == s.2)
                .map(|r| r.line as usize)
                .max()
                .unwrap_or(0);
            Error::input(
                file,
                line,
                1,
                format!(
                    "track {} has two reports at time {}: expected one report per track and time",
                    s.2, s.0
                ),
            )
        })?);
        start += n;
    }
    Ok(out)
}

/// Histories sampled on a common grid of epochs (multiples of `interval`), every live
/// track propagated from its latest report as `correlate` does: for reports that are not
/// synchronised between sensors, which would otherwise share no timestamp.
pub fn resampled(
    reports: &[Report],
    interval: f64,
    propagation: &Propagation,
    max_age: Option<f64>,
) -> Result<Vec<ReplayHistory>> {
    let cfg = Config {
        epoch_interval: interval,
        propagation: *propagation,
        max_age,
        ..Config::default()
    };
    cfg.validate()?;
    split_replays(reports, &cfg)
        .par_iter()
        .map(|input| {
            let mut samples = Vec::new();
            for (t, live) in epoch_plan(input, interval) {
                for (j, r) in live {
                    let rep = &input.reports[r];
                    let (x, _) = propagate(&rep.state, &rep.cov, t - rep.time, propagation);
                    let lt = &input.local[j];
                    samples.push((t, lt.sensor, lt.track, rep.truth, [x[0], x[1], x[2]]));
                }
            }
            // epoch_plan gives each track at most one sample per epoch.
            ReplayHistory::from_samples(input.replay, &samples, |_| {
                Error::Numeric("two samples of a track at one epoch".into())
            })
        })
        .collect()
}

/// Whether two positions are a hit, in f64 as Stone Soup computes it (a correctly rounded
/// square root compared with the threshold, so that a distance exactly at the threshold is
/// a hit whichever way it is evaluated).
pub fn is_hit(p: &[f64; 3], q: &[f64; 3], params: &HistoryParams) -> bool {
    let d2: f64 = (0..3).map(|k| (p[k] - q[k]) * (p[k] - q[k])).sum();
    let d = match params.measure {
        Measure::Euclidean => d2.sqrt(),
        Measure::Weighted => (d2 / 3.0).sqrt(),
    };
    d <= params.threshold
}

/// The counting state machine over the common timestamps of one pair, fed hit or miss per
/// common timestamp; shared by the CPU path and the host's replay of the GPU's rechecks.
#[derive(Default)]
struct Counter {
    hits: u32,
    misses: u32,
    first: u32,
    start: Option<u32>,
    end: u32,
    last: u32,
    ranges: Vec<(u32, u32)>,
}

impl Counter {
    fn step(&mut self, t: u32, hit: bool, params: &HistoryParams) {
        self.last = t;
        if hit {
            self.hits += 1;
            self.misses = 0;
            if self.hits == 1 {
                self.first = t;
            }
            if self.hits == params.confirm {
                self.start = Some(self.first);
            }
        } else {
            self.hits = 0;
            self.misses += 1;
            if self.misses == 1 {
                self.end = t;
            }
            if self.misses >= params.misses
                && let Some(s) = self.start.take()
            {
                self.ranges.push((s, self.end));
            }
        }
    }

    fn finish(mut self) -> Vec<(u32, u32)> {
        if let Some(s) = self.start {
            self.ranges.push((s, self.last));
        }
        self.ranges
    }
}

/// The counting technique on one pair of tracks (CPU twin of `shaders/history.wgsl`):
/// the time ranges over which they are associated, before any one-to-one deconfliction.
pub fn count_pair(a: &TrackHistory, b: &TrackHistory, params: &HistoryParams) -> Vec<(u32, u32)> {
    let mut c = Counter::default();
    let (mut i, mut j) = (0, 0);
    while i < a.times.len() && j < b.times.len() {
        match a.times[i].cmp(&b.times[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                c.step(a.times[i], is_hit(&a.pos[i], &b.pos[j], params), params);
                i += 1;
                j += 1;
            }
        }
    }
    c.finish()
}

/// Share of a batch's distinct times at which two or more sensors have a sample: near 0
/// when sensors report unsynchronised, so that tracks of different sensors never meet.
pub fn shared_time_fraction(histories: &[ReplayHistory]) -> f64 {
    let (mut shared, mut all) = (0usize, 0usize);
    for h in histories {
        // Per time: the last sensor seen and how many distinct sensors (tracks are sorted
        // by sensor, so a sensor's samples come together).
        let mut sensors_at: Vec<(u32, u32)> = vec![(u32::MAX, 0); h.times.len()];
        for t in &h.tracks {
            for &k in &t.times {
                let e = &mut sensors_at[k as usize];
                if e.0 != t.sensor {
                    e.0 = t.sensor;
                    e.1 += 1;
                }
            }
        }
        all += h.times.len();
        shared += sensors_at.iter().filter(|e| e.1 >= 2).count();
    }
    if all == 0 {
        0.0
    } else {
        shared as f64 / all as f64
    }
}

/// Whether the two tracks' time spans overlap (the gate before counting).
pub fn overlap(a: &TrackHistory, b: &TrackHistory) -> bool {
    match (
        a.times.first(),
        a.times.last(),
        b.times.first(),
        b.times.last(),
    ) {
        (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 <= b1 && b0 <= a1,
        _ => false,
    }
}

/// Counts every overlapping pair of a replay on the CPU (before deconfliction).
pub fn count_replay(h: &ReplayHistory, params: &HistoryParams) -> Vec<PairAssociation> {
    h.overlapping_pairs()
        .filter_map(|(a, b)| {
            let ranges = count_pair(&h.tracks[a as usize], &h.tracks[b as usize], params);
            (!ranges.is_empty()).then_some(PairAssociation { a, b, ranges })
        })
        .collect()
}

/// The result of one replay: its associations, by sensor pair and track pair.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayAssociations {
    pub replay: u32,
    pub pairs: Vec<PairAssociation>,
}

/// What was counted, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct HistoryCounts {
    pub replays: usize,
    pub tracks: usize,
    /// Pairs of tracks of different sensors.
    pub pairs: u64,
    /// Of which the time spans overlap (the ones counted).
    pub overlapping_pairs: u64,
    /// Pairs the GPU handed back to the CPU: a distance within f32 rounding of the
    /// threshold, decided again in f64.
    pub rechecked_pairs: u64,
}

/// Sorts each replay's counted pairs and, with `one_to_one`, deconflicts them per pair of
/// sensors. Shared by both backends.
pub fn finish_replay(
    h: &ReplayHistory,
    mut pairs: Vec<PairAssociation>,
    params: &HistoryParams,
) -> Result<ReplayAssociations> {
    pairs.sort();
    if params.one_to_one {
        let mut by_sensors: BTreeMap<(u32, u32), Vec<PairAssociation>> = BTreeMap::new();
        for p in pairs {
            let key = (h.tracks[p.a as usize].sensor, h.tracks[p.b as usize].sensor);
            by_sensors.entry(key).or_default().push(p);
        }
        pairs = Vec::new();
        for (_, group) in by_sensors {
            pairs.extend(deconflict(h, group)?);
        }
        pairs.sort();
    }
    Ok(ReplayAssociations {
        replay: h.replay,
        pairs,
    })
}

/// The CPU backend: counts and deconflicts every replay.
pub fn associate_cpu(
    histories: &[ReplayHistory],
    params: &HistoryParams,
) -> Result<(Vec<ReplayAssociations>, HistoryCounts)> {
    params.validate()?;
    let out = histories
        .par_iter()
        .map(|h| finish_replay(h, count_replay(h, params), params))
        .collect::<Result<Vec<_>>>()?;
    Ok((out, counts(histories)))
}

/// Pair counts of a batch (rechecks left at 0).
pub fn counts(histories: &[ReplayHistory]) -> HistoryCounts {
    let mut c = HistoryCounts {
        replays: histories.len(),
        ..Default::default()
    };
    for h in histories {
        c.tracks += h.tracks.len();
        c.pairs += h
            .blocks()
            .iter()
            .map(|blk| u64::from(blk.a_count) * u64::from(blk.b_count))
            .sum::<u64>();
        c.overlapping_pairs += h.overlapping_pairs().count() as u64;
    }
    c
}

// --- One-to-one: Stone Soup's multidimensional_deconfliction, on time-index ranges ---

fn shares_track(x: &PairAssociation, y: &PairAssociation) -> bool {
    x.a == y.a || x.a == y.b || x.b == y.a || x.b == y.b
}

/// A positive-length overlap of two range lists (ranges that only touch do not conflict).
fn ranges_overlap(x: &[(u32, u32)], y: &[(u32, u32)]) -> bool {
    x.iter().any(|&(s1, e1)| {
        y.iter().any(|&(s2, e2)| {
            // Time indices increase with time: a positive length is s < e.
            s1.max(s2) < e1.min(e2)
        })
    })
}

fn conflicts(x: &PairAssociation, y: &PairAssociation) -> bool {
    shares_track(x, y) && ranges_overlap(&x.ranges, &y.ranges)
}

/// `ranges` less `cut` (closed ranges: the pieces keep the cut's end points).
fn subtract(ranges: &[(u32, u32)], cut: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = ranges.to_vec();
    for &(cs, ce) in cut {
        let mut next = Vec::with_capacity(out.len() + 1);
        for &(s, e) in &out {
            if s.max(cs) >= e.min(ce) {
                next.push((s, e));
                continue;
            }
            if s < cs {
                next.push((s, cs));
            }
            if e > ce {
                next.push((ce, e));
            }
        }
        out = next;
    }
    out.sort_unstable();
    out
}

/// Removes conflicts between the associations of one pair of sensors: a 2-D assignment
/// over all their tracks maximising whole seconds associated picks the winners; the others
/// are deconflicted among themselves (recursively) and keep what their winners leave free.
pub fn deconflict(h: &ReplayHistory, assocs: Vec<PairAssociation>) -> Result<Vec<PairAssociation>> {
    let any_conflict = assocs
        .iter()
        .enumerate()
        .any(|(i, x)| assocs[i + 1..].iter().any(|y| conflicts(x, y)));
    if !any_conflict {
        return Ok(assocs);
    }
    let mut objects: Vec<u32> = assocs.iter().flat_map(|p| [p.a, p.b]).collect();
    objects.sort_unstable();
    objects.dedup();
    let n = objects.len();
    let idx = |o: u32| objects.binary_search(&o).unwrap_or_default();
    let mut total = vec![0.0f64; n * n];
    for p in &assocs {
        let (i, j) = (idx(p.a), idx(p.b));
        // Whole seconds, rounded half to even (numpy's rint).
        let us = h.duration_us(&p.ranges);
        let (q, r) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
        let d = (q + i64::from(r > 500_000 || (r == 500_000 && q % 2 == 1))) as f64;
        total[i * n + j] = d;
        total[j * n + i] = d;
    }
    let problem = Problem {
        rows: n,
        cols: n,
        cost: total.iter().map(|&d| -d).collect(),
        miss: None,
    };
    let solution = assign::solve_exact(&problem)?;
    let mut cleaned: Vec<PairAssociation> = Vec::new();
    let mut reduced = assocs;
    for (i, j) in solution.row_to_col.iter().enumerate() {
        let Some(j) = *j else { continue };
        if i == j {
            continue;
        }
        let (oi, oj) = (objects[i], objects[j]);
        let Some(k) = reduced
            .iter()
            .position(|p| (p.a == oi && p.b == oj) || (p.a == oj && p.b == oi))
        else {
            continue;
        };
        let cand = &reduced[k];
        let dur = h.duration_us(&cand.ranges);
        if cleaned
            .iter()
            .all(|w| dur > h.duration_us(&w.ranges) || !conflicts(cand, w))
        {
            cleaned.push(reduced.remove(k));
        }
    }
    if cleaned.is_empty() {
        // Stone Soup raises here ("problem unsolvable": every conflicting association is
        // shorter than half a second, so the assignment sees only zeros). The longest wins.
        let k = (0..reduced.len())
            .max_by_key(|&k| (h.duration_us(&reduced[k].ranges), std::cmp::Reverse(k)))
            .unwrap_or(0);
        cleaned.push(reduced.remove(k));
    }
    if reduced.is_empty() {
        return Ok(cleaned);
    }
    let mut out = cleaned.clone();
    for r in deconflict(h, reduced)? {
        let mut rem = r.ranges.clone();
        for w in &cleaned {
            if conflicts(&r, w) {
                rem = subtract(&rem, &w.ranges);
            }
        }
        if !rem.is_empty() && h.duration_us(&rem) > 0 {
            out.push(PairAssociation { ranges: rem, ..r });
        }
    }
    Ok(out)
}

/// Association quality against the reports' truth labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct HistoryScore {
    /// Associated track pairs whose tracks both carry a truth label.
    pub labelled_pairs: usize,
    /// Of which both follow the same object.
    pub same_object_pairs: usize,
    /// `same_object_pairs / labelled_pairs`.
    pub purity: f64,
    /// Overlapping pairs of tracks of different sensors that follow the same object.
    pub same_object_overlapping: usize,
    /// `same_object_pairs / same_object_overlapping`.
    pub completeness: f64,
}

/// Scores associations against the tracks' truth labels (`None` without labels).
pub fn score(histories: &[ReplayHistory], result: &[ReplayAssociations]) -> Option<HistoryScore> {
    let mut s = HistoryScore::default();
    for (h, r) in histories.iter().zip(result) {
        for p in &r.pairs {
            let (ta, tb) = (h.tracks[p.a as usize].truth, h.tracks[p.b as usize].truth);
            if ta != NO_TRUTH && tb != NO_TRUTH {
                s.labelled_pairs += 1;
                s.same_object_pairs += usize::from(ta == tb);
            }
        }
    }
    for h in histories {
        s.same_object_overlapping += h
            .overlapping_pairs()
            .filter(|&(a, b)| {
                let (ta, tb) = (h.tracks[a as usize].truth, h.tracks[b as usize].truth);
                ta != NO_TRUTH && ta == tb
            })
            .count();
    }
    (s.labelled_pairs > 0).then(|| HistoryScore {
        purity: s.same_object_pairs as f64 / s.labelled_pairs as f64,
        completeness: s.same_object_pairs as f64 / s.same_object_overlapping.max(1) as f64,
        ..s
    })
}

/// `history_associations.csv`: `replay,sensor_a,track_a,sensor_b,track_b,start,end`, one
/// row per time range, by replay, sensors, tracks and start.
pub fn associations_csv(
    histories: &[ReplayHistory],
    result: &[ReplayAssociations],
    sensors: &crate::model::SensorTable,
) -> String {
    let mut out = String::from("replay,sensor_a,track_a,sensor_b,track_b,start,end\n");
    for (h, r) in histories.iter().zip(result) {
        for p in &r.pairs {
            let (ta, tb) = (&h.tracks[p.a as usize], &h.tracks[p.b as usize]);
            for &(s, e) in &p.ranges {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    h.replay,
                    sensors.sensors[ta.sensor as usize].name,
                    ta.track,
                    sensors.sensors[tb.sensor as usize].name,
                    tb.track,
                    h.times[s as usize],
                    h.times[e as usize]
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(sensor: u32, id: u32, pts: &[(u32, f64)]) -> TrackHistory {
        TrackHistory {
            sensor,
            track: id,
            truth: NO_TRUTH,
            times: pts.iter().map(|p| p.0).collect(),
            pos: pts.iter().map(|p| [p.1, 0.0, 0.0]).collect(),
        }
    }

    #[test]
    fn counter_starts_ends_and_restarts() {
        let p = HistoryParams {
            threshold: 10.0,
            confirm: 3,
            misses: 2,
            ..Default::default()
        };
        // hits at 0..3, misses at 3, 4 -> [0, 3]; hits 5..8 then tracks end -> [5, 7]
        let xs = [0.0, 1.0, 2.0, 50.0, 50.0, 0.0, 0.0, 0.0];
        let a = track(0, 1, &(0..8).map(|t| (t, 0.0)).collect::<Vec<_>>());
        let b = track(
            1,
            2,
            &(0..8).map(|t| (t, xs[t as usize])).collect::<Vec<_>>(),
        );
        assert_eq!(count_pair(&a, &b, &p), vec![(0, 3), (5, 7)]);
    }

    #[test]
    fn subtract_keeps_closed_end_points() {
        assert_eq!(subtract(&[(0, 12)], &[(8, 25)]), vec![(0, 8)]);
        assert_eq!(subtract(&[(0, 30)], &[(5, 10)]), vec![(0, 5), (10, 30)]);
        assert_eq!(subtract(&[(0, 5)], &[(5, 10)]), vec![(0, 5)]);
    }
}
