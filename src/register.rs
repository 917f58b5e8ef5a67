//! Sensor registration: each radar's systematic range, azimuth and elevation bias,
//! estimated from the tracks it shares with other radars, and removed from its reports.
//!
//! A bias β = (Δr, Δaz, Δel) of radar s moves its reports of a target at x by about
//! J_s(x) β, where J_s is the Jacobian of the ECEF position with respect to the radar's
//! (range, azimuth, elevation). The local tracks of different radars that one system track
//! holds at an epoch all see its one true position x: y_i = x + J_i β_i + e_i, with e_i of
//! covariance P_i (position block). The biases of all radars of a replay are the weighted
//! least-squares solution of these equations over all system tracks and epochs, with x
//! eliminated per system track and epoch (for two tracks: their difference, weighted by
//! (P_a + P_b)⁻¹), and a zero-mean prior (`prior_range`, `prior_angle`) that keeps the
//! problem well posed where the geometry leaves a combination unobserved. Consecutive
//! epochs of one track share its errors, so each track counts with weight
//! `epoch interval / report interval` (about one sample per report). A track's position at
//! an epoch is interpolated between its reports on either side where it has both (the
//! estimate runs after the scan), so that a thrusting missile's acceleration, which the
//! ballistic prediction leaves out, does not enter the differences. Each hand-over of the
//! first pass adds one such equation across its gap (`across_gaps`).
//!
//! The run (`correlate --register`) has two passes on the chosen backend: the first
//! associates with each report's position covariance widened by the prior's J Σ Jᵀ, so that
//! biased tracks of one object still gate; the biases are estimated from its system tracks;
//! the second pass correlates the corrected reports, x − J β̂, with J P_β̂ Jᵀ added to their
//! covariance for what the estimate leaves uncertain. Velocities are left as reported (a
//! constant bias moves them by dJ/dt β, a few cm/s here).

use crate::correlate::{
    Config, Correlation, EpochPlan, ReplayInput, ReplayResult, epoch_plan, split_replays,
};
use crate::error::{Error, Result};
use crate::geo::{self, V3};
use crate::io::ReportSet;
use crate::model::{Report, SensorBias, SensorTable};
use crate::propagate::{Propagation, propagate};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// Options of registration.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegisterParams {
    pub enabled: bool,
    /// Standard deviation of the prior on each range bias (m).
    pub prior_range: f64,
    /// Standard deviation of the prior on each azimuth and elevation bias (rad).
    pub prior_angle: f64,
    /// The radars keep their biases over all replays: one estimate from them all.
    pub pool: bool,
    /// Seconds over which a local track's errors stay correlated: each track enters the
    /// estimate as one independent sample per this time (or per report interval, if longer).
    pub decorrelation: f64,
}

impl Default for RegisterParams {
    fn default() -> Self {
        RegisterParams {
            enabled: false,
            prior_range: 200.0,
            prior_angle: 0.05f64.to_radians(),
            pool: false,
            decorrelation: 40.0,
        }
    }
}

impl RegisterParams {
    pub fn validate(&self) -> Result<()> {
        if !(self.prior_range > 0.0
            && self.prior_range.is_finite()
            && self.prior_angle > 0.0
            && self.prior_angle.is_finite())
        {
            return Err(Error::Config(
                "--register-prior-range and --register-prior-angle-deg must be positive".into(),
            ));
        }
        if !(self.decorrelation >= 0.0 && self.decorrelation.is_finite()) {
            return Err(Error::Config(
                "--register-decorrelation must be zero or more seconds".into(),
            ));
        }
        Ok(())
    }

    fn prior(&self) -> [f64; 3] {
        [self.prior_range, self.prior_angle, self.prior_angle]
    }
}

/// One radar's estimated bias in one replay.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SensorEstimate {
    pub replay: u32,
    pub sensor: u32,
    /// Range (m), azimuth and elevation (rad) bias.
    pub bias: [f64; 3],
    /// Their standard deviations from the least-squares solution.
    pub sd: [f64; 3],
    /// Pairs of local tracks of this radar and another one in the equations (over the
    /// epochs, and across the gaps of hand-overs).
    pub pairs: u64,
    /// Covariance of the three (row-major), for the correction.
    #[serde(skip)]
    pub cov: [[f64; 3]; 3],
}

/// ∂(ECEF position)/∂(range, azimuth, elevation), as columns, of the radar at `site` (with
/// ENU `basis`) at `p`.
fn jacobian(site: &V3, basis: &[V3; 3], p: &V3) -> [[f64; 3]; 3] {
    let (r, az, el) = geo::range_az_el(site, basis, p);
    let steps = [1.0, 1e-6, 1e-6];
    let mut j = [[0.0; 3]; 3];
    for k in 0..3 {
        let mut plus = [r, az, el];
        let mut minus = [r, az, el];
        plus[k] += steps[k];
        minus[k] -= steps[k];
        let a = geo::from_range_az_el(basis, plus[0], plus[1], plus[2]);
        let b = geo::from_range_az_el(basis, minus[0], minus[1], minus[2]);
        for i in 0..3 {
            j[i][k] = (a[i] - b[i]) / (2.0 * steps[k]);
        }
    }
    j
}

/// A radar's site (ECEF) and its ENU basis.
type Site = (V3, [V3; 3]);

/// Each sensor's site and ENU basis; an error if a sensor that reports has no position.
fn sites(sensors: &SensorTable, reports: &[Report]) -> Result<Vec<Option<Site>>> {
    let sites: Vec<Option<Site>> = sensors
        .sensors
        .iter()
        .map(|s| s.radar.as_ref().map(|r| (r.position(), r.basis())))
        .collect();
    if let Some(r) = reports.iter().find(|r| sites[r.sensor as usize].is_none()) {
        return Err(Error::Config(format!(
            "--register needs each sensor's position (lat_deg, lon_deg, alt_m in sensors.csv); sensor {} has none",
            sensors.sensors[r.sensor as usize].name
        )));
    }
    Ok(sites)
}

fn pos(x: &[f64; 6]) -> V3 {
    [x[0], x[1], x[2]]
}

/// J A Jᵀ for 3×3 matrices.
fn sandwich(j: &[[f64; 3]; 3], a: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    mul3(&mul3(j, a), &transpose3(j))
}

/// The reports with `extra(report)` (a 3×3 covariance) added to their position covariance
/// and `shift(report)` subtracted from their position.
fn adjusted(
    set: &ReportSet,
    f: impl Fn(&Report) -> Option<(V3, [[f64; 3]; 3])> + Sync,
) -> ReportSet {
    let reports = set
        .reports
        .par_iter()
        .map(|r| {
            let mut r = *r;
            if let Some((shift, extra)) = f(&r) {
                for i in 0..3 {
                    r.state[i] -= shift[i];
                    for k in 0..3 {
                        r.cov[i][k] += extra[i][k];
                    }
                }
            }
            r
        })
        .collect();
    ReportSet {
        reports,
        sensors: set.sensors.clone(),
        full_covariance: set.full_covariance,
    }
}

/// The reports with the prior's J Σ Jᵀ added to their position covariance (first pass).
pub fn widened(set: &ReportSet, params: &RegisterParams) -> Result<ReportSet> {
    let sites = sites(&set.sensors, &set.reports)?;
    let prior = params.prior();
    let sigma: [[f64; 3]; 3] = std::array::from_fn(|i| {
        std::array::from_fn(|k| if i == k { prior[i] * prior[i] } else { 0.0 })
    });
    Ok(adjusted(set, |r| {
        let (site, basis) = sites[r.sensor as usize].as_ref()?;
        let j = jacobian(site, basis, &pos(&r.state));
        Some(([0.0; 3], sandwich(&j, &sigma)))
    }))
}

/// The reports corrected by the estimates (second pass).
pub fn corrected(set: &ReportSet, estimates: &[SensorEstimate]) -> Result<ReportSet> {
    let sites = sites(&set.sensors, &set.reports)?;
    let by_key: BTreeMap<(u32, u32), &SensorEstimate> = estimates
        .iter()
        .map(|e| ((e.replay, e.sensor), e))
        .collect();
    Ok(adjusted(set, |r| {
        let e = by_key.get(&(r.replay, r.sensor))?;
        let (site, basis) = sites[r.sensor as usize].as_ref()?;
        let j = jacobian(site, basis, &pos(&r.state));
        Some((apply3(&j, &e.bias), sandwich(&j, &e.cov)))
    }))
}

/// Cholesky solve of the n×n SPD system `a x = b` (row-major), and the inverse of `a`.
fn solve_spd(a: &[f64], b: &[f64], n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= l[j * n + k] * l[j * n + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let d = s.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let mut t = a[i * n + j];
            for k in 0..j {
                t -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = t / d;
        }
    }
    let solve = |rhs: &[f64]| -> Vec<f64> {
        let mut y = rhs.to_vec();
        for i in 0..n {
            for k in 0..i {
                y[i] -= l[i * n + k] * y[k];
            }
            y[i] /= l[i * n + i];
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                y[i] -= l[k * n + i] * y[k];
            }
            y[i] /= l[i * n + i];
        }
        y
    };
    let x = solve(b);
    let mut inv = vec![0.0; n * n];
    for c in 0..n {
        let mut e = vec![0.0; n];
        e[c] = 1.0;
        let col = solve(&e);
        for r in 0..n {
            inv[r * n + c] = col[r];
        }
    }
    Some((x, inv))
}

/// 3×3 inverse of an SPD matrix (a position covariance, or the sum of the weights).
fn inverse3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let flat: Vec<f64> = m.iter().flatten().copied().collect();
    let (_, inv) = solve_spd(&flat, &[0.0; 3], 3)?;
    Some(std::array::from_fn(|i| {
        std::array::from_fn(|k| inv[i * 3 + k])
    }))
}

/// One local track of a system track at an epoch, as registration sees it.
struct Member {
    sensor: usize,
    /// Position (ECEF, m).
    y: V3,
    /// Its weight times the inverse of its position covariance.
    info: [[f64; 3]; 3],
    /// ∂ position / ∂ (range, azimuth, elevation) of its radar.
    jac: [[f64; 3]; 3],
}

fn mul3(x: &[[f64; 3]; 3], y: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|a| std::array::from_fn(|b| (0..3).map(|k| x[a][k] * y[k][b]).sum()))
}

fn apply3(x: &[[f64; 3]; 3], v: &V3) -> V3 {
    std::array::from_fn(|a| (0..3).map(|k| x[a][k] * v[k]).sum())
}

fn transpose3(x: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|a| std::array::from_fn(|b| x[b][a]))
}

/// Local track `j`'s position and position covariance at epoch `t`, from its report `r`
/// (its latest at or before `t`). Registration runs after the scan, so where the track's
/// next report exists it interpolates between the two (cubic Hermite in positions and
/// velocities, exact under constant acceleration): predicting under the ballistic model
/// alone would leave up to ½ a Δt² of a thrusting missile's acceleration in the pair, the
/// same way in every missile of a salvo. Past a gap of two `max_age`s it predicts instead.
fn position_at(
    input: &ReplayInput,
    j: usize,
    r: usize,
    t: f64,
    cfg: &Config,
) -> (V3, [[f64; 3]; 3]) {
    let rep = &input.reports[r];
    let own = &input.local[j].reports;
    let next = own
        .binary_search(&r)
        .ok()
        .and_then(|at| own.get(at + 1))
        .map(|&n| &input.reports[n])
        // Across a dropout of more than a missed plot or two the cubic is no model: predict.
        .filter(|n| {
            n.time > t && n.time > rep.time && n.time - rep.time <= 2.0 * input.local[j].max_age
        });
    match next {
        Some(next) => {
            let h = next.time - rep.time;
            let s = (t - rep.time) / h;
            let (s2, s3) = (s * s, s * s * s);
            let (h00, h10, h01, h11) = (
                2.0 * s3 - 3.0 * s2 + 1.0,
                s3 - 2.0 * s2 + s,
                3.0 * s2 - 2.0 * s3,
                s3 - s2,
            );
            let y = std::array::from_fn(|i| {
                h00 * rep.state[i]
                    + h10 * h * rep.state[i + 3]
                    + h01 * next.state[i]
                    + h11 * h * next.state[i + 3]
            });
            // Consecutive reports' errors are nearly the same, so the positions' covariances
            // are blended rather than combined as independent; the velocities' terms are
            // added (they matter where a report gives no velocity covariance, 200 m/s).
            let (a, b) = (h10 * h, h11 * h);
            let cov = std::array::from_fn(|i| {
                std::array::from_fn(|m| {
                    (1.0 - s) * rep.cov[i][m]
                        + s * next.cov[i][m]
                        + a * a * rep.cov[i + 3][m + 3]
                        + b * b * next.cov[i + 3][m + 3]
                })
            });
            (y, cov)
        }
        None => {
            let (x, p) = propagate(&rep.state, &rep.cov, t - rep.time, &cfg.propagation);
            (
                pos(&x),
                std::array::from_fn(|i| std::array::from_fn(|m| p[i][m])),
            )
        }
    }
}

/// The hand-overs of the first pass as registration equations: the local tracks on either
/// side of each gap see one object, so each track's estimate predicted to the middle of the
/// gap (with the hand-over test's process noise) is y_i = x + J_i β_i + e_i as within an
/// epoch, one sample per hand-over. This is what ties a network that shares no coverage with
/// the others (the launch network of `handover`) to them. Each track is predicted from its
/// report, among those within `--stitch-gap` seconds of its report at the stitch's epoch,
/// whose prediction is the most precise (a young far track's velocity is poor, and a later
/// report predicts better).
fn across_gaps(
    input: &ReplayInput,
    plan: &EpochPlan,
    result: &ReplayResult,
    sites: &[Option<Site>],
    cfg: &Config,
) -> Vec<Vec<Member>> {
    let prediction = Propagation {
        q: cfg.stitch.q,
        ..cfg.propagation
    };
    let epoch_at = |t: f64| plan.binary_search_by(|e| e.0.total_cmp(&t)).ok();
    result
        .stitches
        .iter()
        .filter(|st| st.end_time < st.start_time)
        .filter_map(|st| {
            let (e_end, e_start) = (epoch_at(st.end_time)?, epoch_at(st.start_time)?);
            let at = 0.5 * (st.end_time + st.start_time);
            // Each side's local tracks under the stitch's number, each with its most precise
            // prediction to `at` from the reports of the `window` seconds next to the gap.
            let window = cfg.stitch.max_gap;
            let side = |e: usize, ended: bool| -> Vec<(usize, V3, [[f64; 3]; 3])> {
                result.epochs[e]
                    .live
                    .iter()
                    .zip(&plan[e].1)
                    .filter(|(l, _)| l.system == st.number)
                    .filter_map(|(_, &(j, r))| {
                        let own = &input.local[j].reports;
                        let edge = input.reports[r].time;
                        own.iter()
                            .copied()
                            .filter(|&q| {
                                let t = input.reports[q].time;
                                if ended {
                                    t <= edge && t >= edge - window
                                } else {
                                    t >= edge && t <= edge + window
                                }
                            })
                            .map(|q| {
                                let rep = &input.reports[q];
                                let (x, p) =
                                    propagate(&rep.state, &rep.cov, at - rep.time, &prediction);
                                let cov: [[f64; 3]; 3] =
                                    std::array::from_fn(|i| std::array::from_fn(|m| p[i][m]));
                                (q, pos(&x), cov)
                            })
                            .min_by(|x, y| {
                                let tr = |c: &[[f64; 3]; 3]| c[0][0] + c[1][1] + c[2][2];
                                tr(&x.2).total_cmp(&tr(&y.2))
                            })
                    })
                    .collect()
            };
            let group: Vec<Member> = side(e_end, true)
                .into_iter()
                .chain(side(e_start, false))
                .filter_map(|(r, y, cov)| {
                    let rep = &input.reports[r];
                    let (site, basis) = sites[rep.sensor as usize].as_ref()?;
                    Some(Member {
                        sensor: rep.sensor as usize,
                        y,
                        info: inverse3(&cov)?,
                        // The track's velocity carries the bias too (an angle bias turns the
                        // whole trajectory about the radar; a range bias shifts it along the
                        // line of sight, which turns as the target moves), so the prediction
                        // is moved by J β at the predicted position, not at the report: over
                        // the gap the lever arm changes by a hundred kilometres or more.
                        jac: jacobian(site, basis, &y),
                    })
                })
                .collect();
            Some(group)
        })
        .collect()
}

/// The mean of `positions` (one per member of `group`) weighted by the members'
/// information, and the inverse of the information's sum; `None` where that is singular.
fn weighted_mean(group: &[Member], positions: &[V3]) -> Option<(V3, [[f64; 3]; 3])> {
    let mut s = [[0.0; 3]; 3];
    let mut wy = [0.0; 3];
    for (m, y) in group.iter().zip(positions) {
        let w = apply3(&m.info, y);
        for a in 0..3 {
            for b in 0..3 {
                s[a][b] += m.info[a][b];
            }
            wy[a] += w[a];
        }
    }
    let s_inv = inverse3(&s)?;
    Some((apply3(&s_inv, &wy), s_inv))
}

/// Adds one system track at one epoch to the normal equations. Each member i sees the
/// common true position x as y_i = x + J_i β_i + e_i, e_i ~ N(0, P_i / w_i). Eliminating x
/// leaves, with W_i = w_i P_i⁻¹ and S = Σ W_i,
/// N[i, j] += J_iᵀ (δ_ij W_i − W_i S⁻¹ W_j) J_j and r[i] += J_iᵀ W_i (y_i − S⁻¹ Σ_j W_j y_j).
/// For two tracks this is their difference weighted by (P_a/w_a + P_b/w_b)⁻¹; with k tracks
/// it counts each once, where taking all pairs would count each k − 1 times and treat the
/// pairs' shared errors as independent.
/// Returns false, adding nothing, where the group holds tracks of one radar only (it says
/// nothing of any bias) or the weights' sum is singular.
fn accumulate(group: &[Member], normal: &mut [f64], rhs: &mut [f64], n: usize) -> bool {
    if group.iter().all(|m| m.sensor == group[0].sensor) {
        return false;
    }
    // Positions relative to the first member, for precision.
    let origin = group[0].y;
    let relative: Vec<V3> = group.iter().map(|m| geo::sub(&m.y, &origin)).collect();
    let Some((mean, s_inv)) = weighted_mean(group, &relative) else {
        return false;
    };
    for (mi, y) in group.iter().zip(&relative) {
        let jtw = mul3(&transpose3(&mi.jac), &mi.info);
        let r = apply3(&jtw, &geo::sub(y, &mean));
        let own = mul3(&jtw, &mi.jac);
        for c in 0..3 {
            rhs[3 * mi.sensor + c] += r[c];
            for e in 0..3 {
                normal[(3 * mi.sensor + c) * n + 3 * mi.sensor + e] += own[c][e];
            }
        }
        let jtw_s = mul3(&jtw, &s_inv);
        for mj in group {
            let cross = mul3(&mul3(&jtw_s, &mj.info), &mj.jac);
            for c in 0..3 {
                for e in 0..3 {
                    normal[(3 * mi.sensor + c) * n + 3 * mj.sensor + e] -= cross[c][e];
                }
            }
        }
    }
    true
}

/// Counts, per radar, the group's pairs of its tracks with other radars' tracks.
fn count_pairs(group: &[Member], pairs: &mut [u64]) {
    for m in group {
        pairs[m.sensor] += group.iter().filter(|o| o.sensor != m.sensor).count() as u64;
    }
}

/// What one replay's shared tracks say of the biases: the normal equations of the
/// weighted least squares (without the prior) over all radars' `3 × sensors` unknowns, and
/// the pairs each radar entered.
struct Information {
    normal: Vec<f64>,
    rhs: Vec<f64>,
    pairs: Vec<u64>,
}

impl Information {
    fn new(n_sensors: usize) -> Information {
        let n = 3 * n_sensors;
        Information {
            normal: vec![0.0; n * n],
            rhs: vec![0.0; n],
            pairs: vec![0; n_sensors],
        }
    }

    fn add(&mut self, other: &Information) {
        let sum = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        sum(&mut self.normal, &other.normal);
        sum(&mut self.rhs, &other.rhs);
        self.pairs
            .iter_mut()
            .zip(&other.pairs)
            .for_each(|(x, y)| *x += y);
    }
}

/// The normal equations of one replay from the system tracks of its first pass.
fn information(
    input: &ReplayInput,
    result: &ReplayResult,
    sites: &[Option<Site>],
    cfg: &Config,
    params: &RegisterParams,
) -> Result<Information> {
    let n_sensors = sites.len();
    let n = 3 * n_sensors;
    let mut info = Information::new(n_sensors);
    let plan = epoch_plan(input, cfg.epoch_interval);
    if plan.len() != result.epochs.len() || result.replay != input.replay {
        return Err(Error::Config(format!(
            "registration of replay {}: the correlation was not made of these reports with this configuration",
            input.replay
        )));
    }
    for ((t, live), epoch) in plan.iter().zip(&result.epochs) {
        let mut by_system: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (k, l) in epoch.live.iter().enumerate() {
            by_system.entry(l.system).or_default().push(k);
        }
        for members in by_system.values().filter(|m| m.len() > 1) {
            let group: Vec<Member> = members
                .iter()
                .filter_map(|&k| {
                    let (j, r) = live[k];
                    let rep = &input.reports[r];
                    let (site, basis) = sites[rep.sensor as usize].as_ref()?;
                    let (y, cov) = position_at(input, j, r, *t, cfg);
                    let inv = inverse3(&cov)?;
                    // Consecutive epochs share a track's error, and a filter's error lasts
                    // far longer than a report interval (a bias in its velocity, a lag):
                    // one sample per `decorrelation` seconds. Counting one per report
                    // made the estimate a few times too sure of itself, and let these
                    // correlated errors outweigh the hand-overs' independent ties.
                    let interval = (input.local[j].max_age / 1.5)
                        .max(params.decorrelation)
                        .max(cfg.epoch_interval);
                    let w = cfg.epoch_interval / interval;
                    Some(Member {
                        sensor: rep.sensor as usize,
                        y,
                        info: std::array::from_fn(|a| std::array::from_fn(|b| w * inv[a][b])),
                        jac: jacobian(site, basis, &y),
                    })
                })
                .collect();
            if accumulate(&group, &mut info.normal, &mut info.rhs, n) {
                count_pairs(&group, &mut info.pairs);
            }
        }
    }
    for group in across_gaps(input, &plan, result, sites, cfg) {
        if accumulate(&group, &mut info.normal, &mut info.rhs, n) {
            count_pairs(&group, &mut info.pairs);
        }
    }
    Ok(info)
}

/// The biases that `info` and the prior give, for the radars in `reporting`, as the
/// estimates of `replay`; `what` names the data in an error.
fn solve(
    mut info: Information,
    prior: [f64; 3],
    reporting: &[bool],
    replay: u32,
    what: &str,
) -> Result<Vec<SensorEstimate>> {
    let n_sensors = reporting.len();
    let n = 3 * n_sensors;
    for s in 0..n_sensors {
        for c in 0..3 {
            info.normal[(3 * s + c) * n + 3 * s + c] += 1.0 / (prior[c] * prior[c]);
        }
    }
    let (x, inv) = solve_spd(&info.normal, &info.rhs, n).ok_or_else(|| {
        Error::Numeric(format!(
            "registration of {what}: the normal equations are not positive definite"
        ))
    })?;
    Ok((0..n_sensors)
        .filter(|&s| reporting[s])
        .map(|s| SensorEstimate {
            replay,
            sensor: s as u32,
            bias: std::array::from_fn(|c| x[3 * s + c]),
            sd: std::array::from_fn(|c| inv[(3 * s + c) * n + 3 * s + c].sqrt()),
            pairs: info.pairs[s],
            cov: std::array::from_fn(|c| std::array::from_fn(|e| inv[(3 * s + c) * n + 3 * s + e])),
        })
        .collect())
}

/// Estimates every radar's bias in every replay of `set` from the system tracks of
/// `first` (a correlation of `set`, or of its widened copy, with `cfg`): per replay, or
/// with `params.pool` one estimate from all replays together, given to each.
pub fn estimate(
    set: &ReportSet,
    first: &Correlation,
    cfg: &Config,
    params: &RegisterParams,
) -> Result<Vec<SensorEstimate>> {
    let sites = sites(&set.sensors, &set.reports)?;
    let n_sensors = set.sensors.sensors.len();
    let inputs = split_replays(&set.reports, cfg);
    if inputs.len() != first.replays.len() {
        return Err(Error::Config(
            "registration: the correlation was not made of these reports".into(),
        ));
    }
    let reporting = |input: &ReplayInput| -> Vec<bool> {
        (0..n_sensors)
            .map(|s| input.reports.iter().any(|r| r.sensor as usize == s))
            .collect()
    };
    if !params.pool {
        // Each replay solved where it is built: one normal matrix per thread at a time.
        let per_replay: Vec<Vec<SensorEstimate>> = inputs
            .par_iter()
            .zip(&first.replays)
            .map(|(input, result)| {
                let info = information(input, result, &sites, cfg, params)?;
                let what = format!("replay {}", input.replay);
                solve(info, params.prior(), &reporting(input), input.replay, &what)
            })
            .collect::<Result<_>>()?;
        return Ok(per_replay.into_iter().flatten().collect());
    }
    // Summed in replay order, so that the sum does not depend on the threads.
    let infos: Vec<Information> = inputs
        .par_iter()
        .zip(&first.replays)
        .map(|(input, result)| information(input, result, &sites, cfg, params))
        .collect::<Result<_>>()?;
    let present: Vec<Vec<bool>> = inputs.iter().map(reporting).collect();
    let mut total = Information::new(n_sensors);
    let mut everywhere = vec![false; n_sensors];
    for (info, here) in infos.iter().zip(&present) {
        total.add(info);
        everywhere.iter_mut().zip(here).for_each(|(a, b)| *a |= b);
    }
    let pooled = solve(total, params.prior(), &everywhere, 0, "the pooled replays")?;
    // Each replay gets the pooled estimate of the radars it holds.
    Ok(inputs
        .iter()
        .zip(present)
        .flat_map(|(input, here)| {
            pooled
                .iter()
                .filter(move |e| here[e.sensor as usize])
                .map(move |e| SensorEstimate {
                    replay: input.replay,
                    ..*e
                })
        })
        .collect())
}

/// An estimate against the truth: the sizes, in metres at the radar's reports, of the true
/// bias and of the estimate's error (RMS over the radar's reports of |J β| and
/// |J (β̂ − β)|).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BiasError {
    pub replay: u32,
    pub sensor: u32,
    pub truth: [f64; 3],
    pub bias_m: f64,
    pub error_m: f64,
}

/// Scores estimates against the true biases.
pub fn errors(
    set: &ReportSet,
    estimates: &[SensorEstimate],
    truth: &[SensorBias],
) -> Result<Vec<BiasError>> {
    let sites = sites(&set.sensors, &set.reports)?;
    let truth: BTreeMap<(u32, u32), &SensorBias> =
        truth.iter().map(|b| ((b.replay, b.sensor), b)).collect();
    let mut sums: BTreeMap<(u32, u32), (f64, f64, u64)> = BTreeMap::new();
    let est: BTreeMap<(u32, u32), &SensorEstimate> = estimates
        .iter()
        .map(|e| ((e.replay, e.sensor), e))
        .collect();
    for r in &set.reports {
        let key = (r.replay, r.sensor);
        let (Some(t), Some(e), Some((site, basis))) = (
            truth.get(&key),
            est.get(&key),
            sites[r.sensor as usize].as_ref(),
        ) else {
            continue;
        };
        let j = jacobian(site, basis, &pos(&r.state));
        let tb = [t.range, t.azimuth, t.elevation];
        let apply = |v: [f64; 3]| -> f64 {
            let d = apply3(&j, &v);
            (0..3).map(|i| d[i].powi(2)).sum()
        };
        let s = sums.entry(key).or_default();
        s.0 += apply(tb);
        s.1 += apply(std::array::from_fn(|k| e.bias[k] - tb[k]));
        s.2 += 1;
    }
    Ok(sums
        .into_iter()
        .map(|((replay, sensor), (b, e, n))| {
            let t = truth[&(replay, sensor)];
            BiasError {
                replay,
                sensor,
                truth: [t.range, t.azimuth, t.elevation],
                bias_m: (b / n as f64).sqrt(),
                error_m: (e / n as f64).sqrt(),
            }
        })
        .collect())
}

/// Registration then correlation: the first pass on the widened reports, the estimate,
/// the second pass on the corrected reports; `run` is the backend's correlation.
pub fn register_and_correlate(
    set: &ReportSet,
    cfg: &Config,
    mut run: impl FnMut(&ReportSet, &Config) -> Result<Correlation>,
) -> Result<(Correlation, Vec<SensorEstimate>)> {
    cfg.register.validate()?;
    let first = run(&widened(set, &cfg.register)?, cfg)?;
    let estimates = estimate(set, &first, cfg, &cfg.register)?;
    let second = run(&corrected(set, &estimates)?, cfg)?;
    Ok((second, estimates))
}

/// One row of `registration.csv`: an estimate and, with the true biases, its error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegistrationRow {
    pub estimate: SensorEstimate,
    pub error: Option<BiasError>,
}

/// `registration.csv`: `replay,sensor,range_m,azimuth_rad,elevation_rad,sd_range_m,
/// sd_azimuth_rad,sd_elevation_rad,pairs`, and with the true biases
/// `true_range_m,true_azimuth_rad,true_elevation_rad,bias_m,error_m` (empty without).
/// Numbers are written in full (shortest round-trip), so that `merge` recomputes the
/// summary of sharded runs exactly from the merged file.
pub fn registration_csv(rows: &[RegistrationRow], sensors: &SensorTable) -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "replay,sensor,range_m,azimuth_rad,elevation_rad,sd_range_m,sd_azimuth_rad,sd_elevation_rad,pairs,true_range_m,true_azimuth_rad,true_elevation_rad,bias_m,error_m\n",
    );
    for r in rows {
        let e = &r.estimate;
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            e.replay,
            sensors.sensors[e.sensor as usize].name,
            e.bias[0],
            e.bias[1],
            e.bias[2],
            e.sd[0],
            e.sd[1],
            e.sd[2],
            e.pairs
        );
        match &r.error {
            Some(t) => {
                let _ = writeln!(
                    out,
                    ",{},{},{},{},{}",
                    t.truth[0], t.truth[1], t.truth[2], t.bias_m, t.error_m
                );
            }
            None => out.push_str(",,,,,\n"),
        }
    }
    out
}

/// One row of `registration.csv` as [`summarise_named`] needs it: the sensor's name, the
/// estimated bias and, with the truth, the sizes of the bias and of the estimate's error.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedEstimate {
    pub replay: u32,
    pub sensor: String,
    pub bias: [f64; 3],
    pub error: Option<(f64, f64)>,
}

/// Reads the rows of a `registration.csv` (for `merge`), through the project's CSV reader:
/// errors name the file, line and column.
pub fn read_registration_csv(path: &std::path::Path) -> Result<Vec<NamedEstimate>> {
    let mut table = crate::io::csv::Table::read(path)?;
    let c_replay = table.column("replay")?;
    let c_sensor = table.column("sensor")?;
    let names = ["range_m", "azimuth_rad", "elevation_rad"];
    let mut c_bias = [0usize; 3];
    for (c, name) in c_bias.iter_mut().zip(names) {
        *c = table.column(name)?;
    }
    let c_bias_m = table.column("bias_m")?;
    let c_error_m = table.column("error_m")?;
    let mut out = Vec::new();
    while let Some(row) = table.next_row() {
        let row = row?;
        out.push(NamedEstimate {
            replay: row.u32(c_replay, "replay")?,
            sensor: row.name(c_sensor, "sensor")?.to_string(),
            bias: [
                row.f64(c_bias[0], names[0])?,
                row.f64(c_bias[1], names[1])?,
                row.f64(c_bias[2], names[2])?,
            ],
            // Without the true biases these two are empty.
            error: if row.str(c_bias_m).is_empty() {
                None
            } else {
                Some((row.f64(c_bias_m, "bias_m")?, row.f64(c_error_m, "error_m")?))
            },
        });
    }
    Ok(out)
}

/// Per sensor, over replays: what `summary.json` says of the registration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SensorSummary {
    pub replays: u64,
    /// Mean estimated biases: range (m), azimuth and elevation (degrees).
    pub mean_range_m: f64,
    pub mean_azimuth_deg: f64,
    pub mean_elevation_deg: f64,
    /// With the true biases: mean size of the bias and of the estimate's error (m at the
    /// radar's reports), and the share of replays whose error is within a third of the bias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_bias_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_error_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_a_third: Option<f64>,
}

/// The summary of all rows, by sensor name.
pub fn summarise(
    rows: &[RegistrationRow],
    sensors: &SensorTable,
) -> BTreeMap<String, SensorSummary> {
    let named: Vec<NamedEstimate> = rows
        .iter()
        .map(|r| NamedEstimate {
            replay: r.estimate.replay,
            sensor: sensors.sensors[r.estimate.sensor as usize].name.clone(),
            bias: r.estimate.bias,
            error: r.error.map(|e| (e.bias_m, e.error_m)),
        })
        .collect();
    summarise_named(&named)
}

/// [`summarise`] of rows by sensor name (also what `merge` recomputes from the merged
/// `registration.csv`, in the same order, so the same bits).
pub fn summarise_named(rows: &[NamedEstimate]) -> BTreeMap<String, SensorSummary> {
    let mut out: BTreeMap<String, SensorSummary> = BTreeMap::new();
    let mut truth_n: BTreeMap<String, (f64, f64, u64, u64)> = BTreeMap::new();
    for r in rows {
        let s = out.entry(r.sensor.clone()).or_default();
        s.replays += 1;
        s.mean_range_m += r.bias[0];
        s.mean_azimuth_deg += r.bias[1].to_degrees();
        s.mean_elevation_deg += r.bias[2].to_degrees();
        if let Some((bias_m, error_m)) = r.error {
            let t = truth_n.entry(r.sensor.clone()).or_default();
            t.0 += bias_m;
            t.1 += error_m;
            t.2 += 1;
            t.3 += u64::from(error_m <= bias_m / 3.0);
        }
    }
    for (name, s) in out.iter_mut() {
        let n = s.replays.max(1) as f64;
        s.mean_range_m /= n;
        s.mean_azimuth_deg /= n;
        s.mean_elevation_deg /= n;
        if let Some(&(b, e, k, w)) = truth_n.get(name) {
            let k = k.max(1) as f64;
            s.mean_bias_m = Some(b / k);
            s.mean_error_m = Some(e / k);
            s.within_a_third = Some(w as f64 / k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::LocalTrack;

    fn diag(d: [f64; 3]) -> [[f64; 3]; 3] {
        std::array::from_fn(|i| std::array::from_fn(|k| if i == k { d[i] } else { 0.0 }))
    }

    /// A member of radar `sensor` at `y`, with a Jacobian that differs per radar (as the
    /// geometry does), so that every bias is observable.
    fn member(sensor: usize, y: V3, var: [f64; 3]) -> Member {
        let s = sensor as f64;
        let jac = [
            [1.0, 0.2 * s, 0.0],
            [0.1 * s, 1.0, 0.3],
            [0.0, -0.2, 1.0 + 0.1 * s],
        ];
        Member {
            sensor,
            y,
            info: inverse3(&diag(var)).unwrap(),
            jac,
        }
    }

    /// Each member's squared Mahalanobis distance from the group's common position, once the
    /// biases `beta` are taken out.
    fn distances(group: &[Member], beta: &[f64]) -> Vec<f64> {
        let origin = group[0].y;
        let shifted: Vec<V3> = group
            .iter()
            .map(|m| {
                let shift = apply3(&m.jac, &std::array::from_fn(|c| beta[3 * m.sensor + c]));
                geo::sub(&geo::sub(&m.y, &origin), &shift)
            })
            .collect();
        let (mean, _) = weighted_mean(group, &shifted).unwrap();
        group
            .iter()
            .zip(&shifted)
            .map(|(m, y)| {
                let r = geo::sub(y, &mean);
                geo::dot(&r, &apply3(&m.info, &r))
            })
            .collect()
    }

    /// Options that cannot weigh anything are refused with a configuration error.
    #[test]
    fn bad_options_are_refused() {
        let ok = RegisterParams::default();
        assert!(ok.validate().is_ok());
        for bad in [
            RegisterParams {
                decorrelation: -1.0,
                ..ok
            },
            RegisterParams {
                decorrelation: f64::NAN,
                ..ok
            },
            RegisterParams {
                prior_range: 0.0,
                ..ok
            },
            RegisterParams {
                prior_angle: f64::INFINITY,
                ..ok
            },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
        }
        // Zero is allowed: one sample per report interval.
        assert!(
            RegisterParams {
                decorrelation: 0.0,
                ..ok
            }
            .validate()
            .is_ok()
        );
    }

    /// Eliminating the common position gives the same biases as solving for the biases
    /// and one explicit position per group, by a system built independently.
    #[test]
    fn eliminating_the_common_position_matches_solving_for_it() {
        let groups: Vec<Vec<Member>> = (0..6)
            .map(|g| {
                let t = g as f64;
                let mut group = vec![
                    member(0, [1.0e6 + 3.0 * t, 2.0, -1.0 + t], [4.0, 9.0, 1.0]),
                    member(1, [1.0e6 + 1.0, -2.0 * t, 0.5], [1.0, 2.0, 3.0]),
                    member(2, [1.0e6 - t, 1.0, 2.0 * t], [2.0 + t, 1.0, 5.0]),
                ];
                // Two tracks of one radar in one system track (a duplicate track).
                if g % 2 == 0 {
                    group.push(member(1, [1.0e6 + 2.0, t, -t], [3.0, 1.0, 2.0]));
                }
                group
            })
            .collect();
        let n = 9;
        let prior = 1.0 / 100.0;
        let mut normal = vec![0.0; n * n];
        let mut rhs = vec![0.0; n];
        for g in &groups {
            accumulate(g, &mut normal, &mut rhs, n);
        }
        for i in 0..n {
            normal[i * n + i] += prior;
        }
        let (reduced, _) = solve_spd(&normal, &rhs, n).unwrap();

        // Unknowns: 9 biases, then 3 positions per group (relative to 1e6 in x).
        let m = n + 3 * groups.len();
        let mut a = vec![0.0; m * m];
        let mut b = vec![0.0; m];
        for (gi, g) in groups.iter().enumerate() {
            for mem in g {
                // Residual y − x − J β: H has −I at the position, −J at the bias.
                let mut h = vec![[0.0; 3]; m];
                for c in 0..3 {
                    for r in 0..3 {
                        h[3 * mem.sensor + c][r] = mem.jac[r][c];
                    }
                    h[n + 3 * gi + c][c] = 1.0;
                }
                let y = [mem.y[0] - 1.0e6, mem.y[1], mem.y[2]];
                for (p, hp) in h.iter().enumerate() {
                    let hw = apply3(&mem.info, hp);
                    b[p] += (0..3).map(|r| hw[r] * y[r]).sum::<f64>();
                    for (q, hq) in h.iter().enumerate() {
                        a[p * m + q] += (0..3).map(|r| hw[r] * hq[r]).sum::<f64>();
                    }
                }
            }
        }
        for i in 0..n {
            a[i * m + i] += prior;
        }
        let (full, _) = solve_spd(&a, &b, m).unwrap();
        for i in 0..n {
            assert!(
                (reduced[i] - full[i]).abs() < 1e-6 * (1.0 + full[i].abs()),
                "bias {i}: {} eliminated, {} solved for",
                reduced[i],
                full[i]
            );
        }
    }

    /// Each hand-over of a `handover` replay gives one group across its gap, holding the
    /// launch network's tracks and a far network's, and their predictions to the middle of
    /// the gap agree within their covariances once the true biases are taken out.
    #[test]
    fn hand_overs_tie_the_networks_across_the_gap() {
        use crate::scenario::{self, BiasScale, ScenarioName, ScenarioOptions};
        let sc = scenario::generate(&ScenarioOptions {
            name: ScenarioName::Handover,
            seed: 1,
            replays: 1,
            biases: Some(BiasScale {
                range: 150.0,
                angle: 0.03f64.to_radians(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let set = sc.report_set();
        let cfg = Config::default();
        let corr = crate::correlate::correlate(&set, &cfg).unwrap();
        let sites = sites(&set.sensors, &set.reports).unwrap();
        let inputs = split_replays(&set.reports, &cfg);
        let (input, result) = (&inputs[0], &corr.replays[0]);
        let plan = epoch_plan(input, cfg.epoch_interval);
        let groups = across_gaps(input, &plan, result, &sites, &cfg);
        let gaps = result
            .stitches
            .iter()
            .filter(|s| s.end_time < s.start_time)
            .count();
        assert!(gaps >= 6, "{gaps} hand-overs");
        assert_eq!(groups.len(), gaps);
        let network = |m: &Member| set.sensors.sensors[m.sensor].network.as_str();
        let truth: BTreeMap<u32, [f64; 3]> = sc
            .biases
            .iter()
            .map(|b| (b.sensor, [b.range, b.azimuth, b.elevation]))
            .collect();
        let mut d2 = Vec::new();
        for g in &groups {
            assert!(g.iter().any(|m| network(m) == "launch"));
            assert!(g.iter().any(|m| network(m) != "launch"));
            let mut beta = vec![0.0; 3 * set.sensors.sensors.len()];
            for (s, b) in &truth {
                beta[3 * *s as usize..3 * *s as usize + 3].copy_from_slice(b);
            }
            d2.extend(distances(g, &beta));
        }
        let mean = d2.iter().sum::<f64>() / d2.len() as f64;
        assert!(
            mean < 4.0,
            "mean squared distance {mean} over {} tracks",
            d2.len()
        );
    }

    /// Noise-free tracks of three radars with known biases: the estimate finds them.
    #[test]
    fn exact_offsets_give_the_biases() {
        let beta = [5.0, -3.0, 2.0, -4.0, 1.0, 6.0, 0.5, 2.5, -1.5];
        let groups: Vec<Vec<Member>> = (0..20)
            .map(|g| {
                let x = [1.0e6 + 100.0 * g as f64, -50.0 * g as f64, 7.0];
                (0..3)
                    .map(|s| {
                        let mut m = member(s, x, [1.0 + s as f64, 2.0, 1.5]);
                        // Vary the geometry per group, as a moving target does.
                        m.jac[0][2] += 0.05 * g as f64 * (s as f64 - 1.0);
                        m.jac[2][0] -= 0.03 * g as f64 * s as f64;
                        let shift = apply3(&m.jac, &std::array::from_fn(|c| beta[3 * s + c]));
                        m.y = geo::add(&x, &shift);
                        m
                    })
                    .collect()
            })
            .collect();
        let n = 9;
        let mut normal = vec![0.0; n * n];
        let mut rhs = vec![0.0; n];
        for g in &groups {
            accumulate(g, &mut normal, &mut rhs, n);
        }
        for i in 0..n {
            normal[i * n + i] += 1e-9;
        }
        let (est, _) = solve_spd(&normal, &rhs, n).unwrap();
        for i in 0..n {
            assert!(
                (est[i] - beta[i]).abs() < 1e-3,
                "bias {i}: {} for {}",
                est[i],
                beta[i]
            );
        }
    }

    /// Between two reports of a track, the position is interpolated exactly under constant
    /// acceleration (a thrusting missile), where the ballistic prediction misses by ½ a Δt².
    #[test]
    fn positions_between_reports_follow_the_acceleration() {
        let p0 = [6.4e6, 1.0e5, 2.0e5];
        let v0 = [1000.0, -500.0, 800.0];
        let acc = [30.0, 10.0, -20.0];
        let at = |t: f64| -> ([f64; 6], V3) {
            let p = std::array::from_fn(|i| p0[i] + v0[i] * t + 0.5 * acc[i] * t * t);
            let v: V3 = std::array::from_fn(|i| v0[i] + acc[i] * t);
            ([p[0], p[1], p[2], v[0], v[1], v[2]], p)
        };
        // Position variance 100 m² then 400 m², velocity variance 4 then 9 m²/s².
        let report = |t: f64, pv: f64, vv: f64| {
            let mut cov = [[0.0; 6]; 6];
            for (i, row) in cov.iter_mut().enumerate() {
                row[i] = if i < 3 { pv } else { vv };
            }
            Report {
                time: t,
                state: at(t).0,
                cov,
                replay: 0,
                sensor: 0,
                track: 1,
                truth: 0,
                flags: 0,
                line: 0,
            }
        };
        let reports = [report(10.0, 100.0, 4.0), report(14.0, 400.0, 9.0)];
        let track = |reports: Vec<usize>| LocalTrack {
            sensor: 0,
            track: 1,
            reports,
            max_age: 6.0,
        };
        let input = ReplayInput {
            replay: 0,
            reports: &reports,
            local: vec![track(vec![0, 1]), track(vec![0])],
        };
        let cfg = Config::default();
        let (y, c) = position_at(&input, 0, 0, 13.0, &cfg);
        let truth = at(13.0).1;
        // s = 3/4: h10 = 3/64, h11 = −9/64, h = 4 s.
        let (a, b) = (4.0 * 3.0 / 64.0, -4.0 * 9.0 / 64.0);
        let var = 0.25 * 100.0 + 0.75 * 400.0 + a * a * 4.0 + b * b * 9.0;
        for i in 0..3 {
            assert!(
                (y[i] - truth[i]).abs() < 1e-6,
                "axis {i}: {} for {}",
                y[i],
                truth[i]
            );
            assert!((c[i][i] - var).abs() < 1e-9, "{} for {var}", c[i][i]);
        }
        // At a report's own time, the report.
        let (own, c0) = position_at(&input, 0, 0, 10.0, &cfg);
        assert_eq!(own, at(10.0).1);
        assert_eq!(c0[0][0], 100.0);
        // Without a successor (the last report; a track of one report), or past a gap of
        // two `max_age`s, the ballistic prediction is used.
        let predicted = |r: usize, t: f64| {
            let (x, _) = propagate(
                &reports[r].state,
                &reports[r].cov,
                t - reports[r].time,
                &cfg.propagation,
            );
            pos(&x)
        };
        assert_eq!(position_at(&input, 0, 1, 15.0, &cfg).0, predicted(1, 15.0));
        assert_eq!(position_at(&input, 1, 0, 13.0, &cfg).0, predicted(0, 13.0));
        let mut far = input;
        far.local[0].max_age = 1.5;
        assert_eq!(position_at(&far, 0, 0, 13.0, &cfg).0, predicted(0, 13.0));
    }
}
