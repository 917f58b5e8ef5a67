//! Scoring a correlation against truth. Truth labels of reports are used here only.
//!
//! - **purity**: of all pairs of local tracks put in one system track (counted at every
//!   epoch), the share that are one object; a false track in a pair makes it impure;
//! - **completeness**: of all pairs of live local tracks of one object from different
//!   sensors (at every epoch), the share put in one system track;
//! - **track switches**: per object, the number of times the system track holding it
//!   changes number (the holder at an epoch is the system track with most of the object's
//!   live local tracks, ties to the older number);
//! - **GOSPA**: at every epoch of the truth's span, the GOSPA distance between the truth
//!   positions and the system track positions (as Stone Soup's `GOSPAMetric`), averaged;
//! - **RMSE**: of each system track labelled with the majority truth of its members; the
//!   fused RMSE counts only system tracks made of two or more local tracks (young
//!   single-source tracks, kilometres off, dominate the whole);
//! - per object: coverage of its flight by each network alone and by the system tracks,
//!   the share of the covered time held by its main system track number, launch-point
//!   error (its first fused state flown back to the ground) and impact-point prediction
//!   error (fused states flown forward to the ground).

pub mod gospa;

use crate::correlate::{Correlation, Epoch, ReplayResult};
use crate::error::Result;
use crate::geo::{self, V3};
use crate::linalg::Vec6;
use crate::model::{SensorTable, TruthSample};
use crate::propagate::ballistic_state;
use gospa::GospaParams;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// GOSPA summary.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GospaSummary {
    pub p: f64,
    pub c: f64,
    pub alpha: f64,
    /// Mean over epochs of the GOSPA distance (m).
    pub mean: f64,
    /// Mean over epochs of the localisation, missed and false parts (before the 1/p power).
    pub localisation: f64,
    pub missed: f64,
    pub false_tracks: f64,
    pub epochs: usize,
}

/// Per-object scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectMetrics {
    pub replay: u32,
    pub object: u32,
    pub flight_s: f64,
    /// Share of the flight's epochs with a live local track of each network.
    pub coverage: BTreeMap<String, f64>,
    /// Share covered by any network.
    pub coverage_any: f64,
    /// Share during which a system track holds the object.
    pub coverage_fused: f64,
    /// The system track number holding the object longest, and the share of the covered
    /// epochs it holds it.
    pub main_track: Option<u32>,
    pub main_track_share: f64,
    pub track_switches: u32,
    /// One system track number holds one of the object's local tracks both at the first
    /// epoch any network tracks it and at the last: a track from launch to impact, across
    /// any hand-over gap.
    #[serde(default)]
    pub spanned: bool,
    /// Ground distance (m) between the launch point estimated from the first fused state
    /// and the true one.
    pub launch_error_m: Option<f64>,
    /// Impact-point prediction error (m) from the fused state nearest to mid-flight, and
    /// from the last one.
    pub impact_error_mid_m: Option<f64>,
    pub impact_error_final_m: Option<f64>,
    /// Impact-point prediction error against time, every 10 s of the main track.
    pub impact_error_series: Vec<(f64, f64)>,
}

/// All scores of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    pub purity: f64,
    pub completeness: f64,
    pub pairs_together: u64,
    pub pairs_same_object: u64,
    pub track_switches: u32,
    pub gospa: GospaSummary,
    pub position_rmse_m: f64,
    pub velocity_rmse_mps: f64,
    /// Position RMSE of the system tracks that fuse two or more local tracks: the error of
    /// fusion itself, which registration removes biases from (single-source tracks, most of
    /// them young and kilometres off, dominate `position_rmse_m`).
    pub fused_position_rmse_m: f64,
    /// Those system track states, over all epochs.
    pub fused_states: u64,
    /// Means over objects.
    pub mean_coverage_fused: f64,
    /// Share of the objects tracked by some network whose first and last local tracks
    /// share a system track number ([`ObjectMetrics::spanned`]).
    pub spanned_share: f64,
    /// Hand-overs made, and the share of them that join one object's tracks (either side's
    /// label is the majority truth of its local tracks; a false track makes it impure).
    pub stitches: u64,
    pub stitch_purity: f64,
    pub mean_launch_error_m: Option<f64>,
    pub mean_impact_error_mid_m: Option<f64>,
    pub objects: Vec<ObjectMetrics>,
}

/// The additive part of one replay's scores: counts and sums that [`Metrics::combine`] folds
/// over replays in replay order, so that a batch scored in shards (`--shard`, then `merge`)
/// gives the very same numbers as one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub pairs_in_system: u64,
    pub pairs_pure: u64,
    pub pairs_same: u64,
    pub pairs_same_together: u64,
    pub position_sq: f64,
    pub velocity_sq: f64,
    pub state_errors: u64,
    /// Sums over GOSPA epochs of the distance and its localisation, missed and false parts.
    pub gospa_sums: [f64; 4],
    pub gospa_epochs: usize,
    /// Hand-overs, and those that join one object.
    #[serde(default)]
    pub stitches: u64,
    #[serde(default)]
    pub stitches_pure: u64,
    /// Squared position errors and count of the system tracks with two or more sources.
    #[serde(default)]
    pub fused_position_sq: f64,
    #[serde(default)]
    pub fused_states: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.pairs_in_system += other.pairs_in_system;
        self.pairs_pure += other.pairs_pure;
        self.pairs_same += other.pairs_same;
        self.pairs_same_together += other.pairs_same_together;
        self.position_sq += other.position_sq;
        self.velocity_sq += other.velocity_sq;
        self.state_errors += other.state_errors;
        for (a, b) in self.gospa_sums.iter_mut().zip(&other.gospa_sums) {
            *a += b;
        }
        self.gospa_epochs += other.gospa_epochs;
        self.stitches += other.stitches;
        self.stitches_pure += other.stitches_pure;
        self.fused_position_sq += other.fused_position_sq;
        self.fused_states += other.fused_states;
    }
}

/// One replay's scores: its tally and its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayScore {
    pub replay: u32,
    pub tally: Tally,
    pub objects: Vec<ObjectMetrics>,
    /// GOSPA distance (m) at each scored epoch, for the picture (not in `summary.json`).
    pub gospa_series: Vec<(f64, f64)>,
}

impl Metrics {
    /// The scores of a batch from those of its replays, taken in replay order.
    pub fn combine(mut replays: Vec<ReplayScore>, params: &GospaParams) -> Metrics {
        replays.sort_by_key(|r| r.replay);
        let mut t = Tally::default();
        for r in &replays {
            t.add(&r.tally);
        }
        let objects: Vec<ObjectMetrics> = replays.into_iter().flat_map(|r| r.objects).collect();
        let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        let mean_opt =
            |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let rmse = |sq: f64| {
            if t.state_errors > 0 {
                (sq / t.state_errors as f64).sqrt()
            } else {
                0.0
            }
        };
        let n = t.gospa_epochs.max(1) as f64;
        Metrics {
            purity: ratio(t.pairs_pure, t.pairs_in_system),
            completeness: ratio(t.pairs_same_together, t.pairs_same),
            pairs_together: t.pairs_in_system,
            pairs_same_object: t.pairs_same,
            track_switches: objects.iter().map(|o| o.track_switches).sum(),
            gospa: GospaSummary {
                p: params.p,
                c: params.c,
                alpha: params.alpha,
                mean: t.gospa_sums[0] / n,
                localisation: t.gospa_sums[1] / n,
                missed: t.gospa_sums[2] / n,
                false_tracks: t.gospa_sums[3] / n,
                epochs: t.gospa_epochs,
            },
            position_rmse_m: rmse(t.position_sq),
            velocity_rmse_mps: rmse(t.velocity_sq),
            fused_position_rmse_m: if t.fused_states > 0 {
                (t.fused_position_sq / t.fused_states as f64).sqrt()
            } else {
                0.0
            },
            fused_states: t.fused_states,
            mean_coverage_fused: objects.iter().map(|o| o.coverage_fused).sum::<f64>()
                / objects.len().max(1) as f64,
            spanned_share: {
                let seen: Vec<&ObjectMetrics> =
                    objects.iter().filter(|o| o.coverage_any > 0.0).collect();
                ratio(
                    seen.iter().filter(|o| o.spanned).count() as u64,
                    seen.len() as u64,
                )
            },
            stitches: t.stitches,
            stitch_purity: ratio(t.stitches_pure, t.stitches),
            mean_launch_error_m: mean_opt(
                objects.iter().filter_map(|o| o.launch_error_m).collect(),
            ),
            mean_impact_error_mid_m: mean_opt(
                objects
                    .iter()
                    .filter_map(|o| o.impact_error_mid_m)
                    .collect(),
            ),
            objects,
        }
    }
}

/// Truth of one object of one replay, sorted by time.
struct ObjectTruth {
    object: u32,
    samples: Vec<(f64, Vec6)>,
}

impl ObjectTruth {
    fn span(&self) -> (f64, f64) {
        (self.samples[0].0, self.samples[self.samples.len() - 1].0)
    }

    /// State at `t` by linear interpolation between samples, inside the span.
    fn at(&self, t: f64) -> Option<Vec6> {
        let (a, b) = self.span();
        if t < a || t > b {
            return None;
        }
        let k = self.samples.partition_point(|s| s.0 <= t);
        let (t1, s1) = self.samples[k - 1];
        if k == self.samples.len() || t1 == t {
            return Some(s1);
        }
        let (t2, s2) = self.samples[k];
        let f = (t - t1) / (t2 - t1);
        Some(std::array::from_fn(|i| s1[i] + f * (s2[i] - s1[i])))
    }
}

fn group_truth(truth: &[TruthSample]) -> BTreeMap<u32, Vec<ObjectTruth>> {
    let mut map: BTreeMap<(u32, u32), Vec<(f64, Vec6)>> = BTreeMap::new();
    for s in truth {
        map.entry((s.replay, s.object))
            .or_default()
            .push((s.time, s.state));
    }
    let mut out: BTreeMap<u32, Vec<ObjectTruth>> = BTreeMap::new();
    for ((replay, object), mut samples) in map {
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        out.entry(replay)
            .or_default()
            .push(ObjectTruth { object, samples });
    }
    out
}

/// Where a ballistic state meets the ground, flying forward (`dir` = 1) or backward (−1),
/// within an hour; `None` when it does not.
pub fn ground_point(x: &Vec6, dir: f64) -> Option<V3> {
    let mut s = *x;
    let mut alt = geo::altitude(&[s[0], s[1], s[2]]);
    if alt <= 0.0 {
        return Some([s[0], s[1], s[2]]);
    }
    for _ in 0..3600 {
        let next = ballistic_state(&s, dir, 1.0);
        let alt2 = geo::altitude(&[next[0], next[1], next[2]]);
        if alt2 <= 0.0 {
            let f = alt / (alt - alt2);
            return Some(std::array::from_fn(|i| s[i] + f * (next[i] - s[i])));
        }
        s = next;
        alt = alt2;
    }
    None
}

fn pos(x: &Vec6) -> V3 {
    [x[0], x[1], x[2]]
}

/// Scores a correlation.
pub fn score(
    corr: &Correlation,
    sensors: &SensorTable,
    truth: &[TruthSample],
    params: &GospaParams,
) -> Result<Metrics> {
    Ok(Metrics::combine(
        score_replays(corr, sensors, truth, params)?,
        params,
    ))
}

/// Scores every replay of a correlation (and of the truth) on its own.
pub fn score_replays(
    corr: &Correlation,
    sensors: &SensorTable,
    truth: &[TruthSample],
    params: &GospaParams,
) -> Result<Vec<ReplayScore>> {
    let truth = group_truth(truth);
    let interval = corr.config.epoch_interval;
    let empty = Vec::new();
    let results: BTreeMap<u32, &ReplayResult> =
        corr.replays.iter().map(|r| (r.replay, r)).collect();
    let replay_ids: Vec<u32> = {
        let mut v: Vec<u32> = results.keys().chain(truth.keys()).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // Each replay on its own, in parallel; collected in replay order.
    let score_one = |replay: u32| -> Result<ReplayScore> {
        let mut tally = Tally::default();
        let mut objects = Vec::new();
        let mut gospa_series = Vec::new();
        let objs = truth.get(&replay).unwrap_or(&empty);
        let res = results.get(&replay);
        let epochs: &[Epoch] = res.map_or(&[], |r| &r.epochs);
        let network_of = |track: u32| -> usize {
            res.map_or(0, |r| {
                sensors.network_of[r.local[track as usize].sensor as usize]
            })
        };
        let sensor_of = |track: u32| -> u32 { res.map_or(0, |r| r.local[track as usize].sensor) };

        // Purity, completeness and state errors, epoch by epoch.
        for e in epochs {
            for (i, a) in e.live.iter().enumerate() {
                for b in &e.live[i + 1..] {
                    let same = a.truth >= 0 && a.truth == b.truth;
                    if a.system == b.system {
                        tally.pairs_in_system += 1;
                        tally.pairs_pure += u64::from(same);
                    }
                    if same && sensor_of(a.track) != sensor_of(b.track) {
                        tally.pairs_same += 1;
                        tally.pairs_same_together += u64::from(a.system == b.system);
                    }
                }
            }
            for st in &e.system {
                let mut votes: BTreeMap<i32, u32> = BTreeMap::new();
                for l in e.live.iter().filter(|l| l.system == st.number) {
                    *votes.entry(l.truth).or_default() += 1;
                }
                let label = votes
                    .iter()
                    .max_by_key(|&(t, n)| (*n, -*t))
                    .map(|(&t, _)| t);
                if let Some(obj) = label.filter(|&t| t >= 0)
                    && let Some(tr) = objs
                        .iter()
                        .find(|o| o.object == obj as u32)
                        .and_then(|o| o.at(e.time))
                {
                    let sq = (0..3).map(|k| (st.state[k] - tr[k]).powi(2)).sum::<f64>();
                    tally.position_sq += sq;
                    if st.sources >= 2 {
                        tally.fused_position_sq += sq;
                        tally.fused_states += 1;
                    }
                    tally.velocity_sq += (3..6).map(|k| (st.state[k] - tr[k]).powi(2)).sum::<f64>();
                    tally.state_errors += 1;
                }
            }
        }

        if let Some(r) = res {
            tally.stitches += r.stitches.len() as u64;
            tally.stitches_pure += r
                .stitches
                .iter()
                .filter(|s| s.truth_ended >= 0 && s.truth_ended == s.truth_started)
                .count() as u64;
        }

        // GOSPA on the grid covering both truth and system tracks.
        let mut t_lo = f64::INFINITY;
        let mut t_hi = f64::NEG_INFINITY;
        for o in objs {
            let (a, b) = o.span();
            t_lo = t_lo.min(a);
            t_hi = t_hi.max(b);
        }
        if let (Some(f), Some(l)) = (epochs.first(), epochs.last()) {
            t_lo = t_lo.min(f.time);
            t_hi = t_hi.max(l.time);
        }
        if t_lo.is_finite() {
            let mut cursor = 0;
            let k0 = (t_lo / interval).ceil() as i64;
            let k1 = (t_hi / interval).floor() as i64;
            for k in k0..=k1 {
                let t = k as f64 * interval;
                let truths: Vec<V3> = objs
                    .iter()
                    .filter_map(|o| o.at(t))
                    .map(|s| pos(&s))
                    .collect();
                while cursor < epochs.len() && epochs[cursor].time < t {
                    cursor += 1;
                }
                let tracks: Vec<V3> = match epochs.get(cursor) {
                    Some(e) if e.time == t => e.system.iter().map(|s| pos(&s.state)).collect(),
                    _ => Vec::new(),
                };
                if truths.is_empty() && tracks.is_empty() {
                    continue;
                }
                let g = gospa::gospa(&truths, &tracks, params)?;
                gospa_series.push((t, g.distance));
                tally.gospa_sums[0] += g.distance;
                tally.gospa_sums[1] += g.localisation;
                tally.gospa_sums[2] += g.missed;
                tally.gospa_sums[3] += g.false_tracks;
                tally.gospa_epochs += 1;
            }
        }

        // Per object.
        for o in objs {
            let (launch, impact) = o.span();
            let k0 = (launch / interval).ceil() as i64;
            let k1 = (impact / interval).floor() as i64;
            let flight_epochs = (k1 - k0 + 1).max(1) as f64;
            let mut per_network = vec![0u32; sensors.networks.len()];
            let mut any = 0u32;
            let mut holders: Vec<(f64, u32, usize)> = Vec::new();
            let mut held_count: BTreeMap<u32, u32> = BTreeMap::new();
            // The numbers holding the object's tracks at its first and its last live epoch.
            let mut first_numbers: Option<Vec<u32>> = None;
            let mut last_numbers: Vec<u32> = Vec::new();
            for (ei, e) in epochs.iter().enumerate() {
                if e.time < launch || e.time > impact {
                    continue;
                }
                let mine: Vec<_> = e
                    .live
                    .iter()
                    .filter(|l| l.truth == o.object as i32)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                any += 1;
                let mut seen = vec![false; sensors.networks.len()];
                let mut count: BTreeMap<u32, u32> = BTreeMap::new();
                for l in &mine {
                    seen[network_of(l.track)] = true;
                    *count.entry(l.system).or_default() += 1;
                }
                for (n, s) in seen.iter().enumerate() {
                    per_network[n] += u32::from(*s);
                }
                for &number in count.keys() {
                    *held_count.entry(number).or_default() += 1;
                }
                last_numbers = count.keys().copied().collect();
                if first_numbers.is_none() {
                    first_numbers = Some(last_numbers.clone());
                }
                let holder = count
                    .iter()
                    .max_by_key(|&(n, c)| (*c, std::cmp::Reverse(*n)))
                    .map(|(&n, _)| n);
                if let Some(h) = holder {
                    holders.push((e.time, h, ei));
                }
            }
            let switches = holders.windows(2).filter(|w| w[0].1 != w[1].1).count() as u32;
            let main = held_count
                .iter()
                .max_by_key(|&(n, c)| (*c, std::cmp::Reverse(*n)))
                .map(|(&n, _)| n);
            let main_share = match main {
                Some(m) if any > 0 => f64::from(held_count[&m]) / f64::from(any),
                _ => 0.0,
            };
            // States of the main system track, in time order.
            let main_states: Vec<(f64, Vec6)> = match main {
                Some(m) => epochs
                    .iter()
                    .filter(|e| e.time >= launch && e.time <= impact)
                    .filter(|e| {
                        e.live
                            .iter()
                            .any(|l| l.system == m && l.truth == o.object as i32)
                    })
                    .filter_map(|e| {
                        e.system
                            .iter()
                            .find(|s| s.number == m)
                            .map(|s| (e.time, s.state))
                    })
                    .collect(),
                None => Vec::new(),
            };
            let true_launch = pos(&o.samples[0].1);
            let true_impact = ground_point(&o.samples[o.samples.len() - 1].1, 1.0)
                .unwrap_or_else(|| pos(&o.samples[o.samples.len() - 1].1));
            let launch_error = main_states
                .first()
                .and_then(|(_, s)| ground_point(s, -1.0))
                .map(|p| geo::ground_distance(&p, &true_launch));
            let impact_error =
                |s: &Vec6| ground_point(s, 1.0).map(|p| geo::ground_distance(&p, &true_impact));
            let mid = 0.5 * (launch + impact);
            let impact_mid = main_states
                .iter()
                .min_by(|a, b| (a.0 - mid).abs().total_cmp(&(b.0 - mid).abs()))
                .and_then(|(_, s)| impact_error(s));
            let impact_final = main_states.last().and_then(|(_, s)| impact_error(s));
            let mut series = Vec::new();
            let mut next_t = f64::NEG_INFINITY;
            for (t, s) in &main_states {
                if *t >= next_t {
                    if let Some(err) = impact_error(s) {
                        series.push((*t, err));
                    }
                    next_t = t + 10.0;
                }
            }
            let coverage = sensors
                .networks
                .iter()
                .zip(&per_network)
                .map(|(n, &c)| (n.clone(), f64::from(c) / flight_epochs))
                .collect();
            objects.push(ObjectMetrics {
                replay,
                object: o.object,
                flight_s: impact - launch,
                coverage,
                coverage_any: f64::from(any) / flight_epochs,
                coverage_fused: holders.len() as f64 / flight_epochs,
                main_track: main,
                main_track_share: main_share,
                track_switches: switches,
                spanned: first_numbers.is_some_and(|f| f.iter().any(|n| last_numbers.contains(n))),
                launch_error_m: launch_error,
                impact_error_mid_m: impact_mid,
                impact_error_final_m: impact_final,
                impact_error_series: series,
            });
        }
        Ok(ReplayScore {
            replay,
            tally,
            objects,
            gospa_series,
        })
    };
    replay_ids.into_par_iter().map(score_one).collect()
}
