//! Local tracking from raw detections (`trackcorr track`): for every sensor of every replay,
//! independently, scan by scan, a scan being one antenna turn ([`turns`]: a rotating radar
//! stamps each plot with its own time):
//!
//! 1. **predict** every track to the turn's time: an interacting multiple model ([`Imm`]) of
//!    two ballistic filters, one with the high process noise of powered flight (thrust is not
//!    in the model), one with the low noise of free flight;
//! 2. **gate** every track against every detection, at the detection's own time, with an
//!    extended Kalman filter in range, azimuth and elevation (the sensor's noise from
//!    `sensors.csv`): the squared Mahalanobis distance of the innovation, kept below the
//!    chi-square quantile on 3 degrees of freedom;
//! 3. **assign** detections to tracks by global nearest neighbour (the exact solver, cost the
//!    distance, a miss costing the gate);
//! 4. **update** the assigned tracks (EKF, Joseph form). A confirmed track's update is
//!    weighted by the probability that its detection is its own rather than another
//!    confirmed track's ([`swap_weights`]): with closely spaced objects, a detection that fits
//!    two tracks equally well moves each only halfway, so that one wrong choice does not pull
//!    a track onto its neighbour (track coalescence);
//! 5. **initiate** from what is left: a detection that no track took waits one or two scans
//!    for a second one within reach (two-point initiation, a tentative track), which becomes
//!    confirmed after `confirm_hits` hits with at most `confirm_window − confirm_hits` misses;
//! 6. **delete** a confirmed track after `delete_misses` consecutive missed scans.
//!
//! Confirmed tracks are reported at every scan of their sensor. No truth is used: the
//! detections' truth labels only travel with the tracks, for scoring.

use crate::assign::{self, Problem};
use crate::error::{Error, Result};
use crate::gate::chi_square_quantile;
use crate::geo::{self, V3};
use crate::linalg::{self, Mat6, Vec6};
use crate::model::{Detection, HAS_VELOCITY_COV, Report, SensorTable};
use crate::propagate;
use crate::scenario::tracker::{self, Filter, Measurement, Q_BOOST, Q_COAST};
use serde::Serialize;

/// Options of the local tracker.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrackerParams {
    /// Gate probability of the chi-square test on the 3-D innovation.
    pub gate_probability: f64,
    /// M of M-of-N confirmation (the two initiating detections count).
    pub confirm_hits: u32,
    /// N of M-of-N.
    pub confirm_window: u32,
    /// Consecutive missed scans that delete a confirmed track.
    pub delete_misses: u32,
    /// Largest speed (m/s) two detections of one initiation may imply.
    pub max_speed: f64,
    /// Scans a lone detection waits for its second.
    pub init_scans: u32,
}

impl Default for TrackerParams {
    fn default() -> Self {
        TrackerParams {
            gate_probability: 0.999,
            confirm_hits: 3,
            confirm_window: 4,
            delete_misses: 3,
            max_speed: 5000.0,
            init_scans: 2,
        }
    }
}

impl TrackerParams {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if !(self.gate_probability > 0.0 && self.gate_probability < 1.0) {
            return bad("--track-gate must be in (0, 1)");
        }
        if self.confirm_hits < 2 || self.confirm_window < self.confirm_hits {
            return bad("M-of-N confirmation needs 2 ≤ M ≤ N");
        }
        if self.delete_misses == 0 || self.init_scans == 0 {
            return bad("--delete-misses and the initiation window must be at least 1");
        }
        if !(self.max_speed > 0.0 && self.max_speed.is_finite()) {
            return bad("the initiation speed limit must be positive");
        }
        Ok(())
    }
}

/// The measurement function of a radar: range, azimuth (from north, clockwise) and elevation
/// of ECEF position `p`, and its Jacobian with respect to `p`.
pub fn measure(site: &V3, basis: &[V3; 3], p: &V3) -> ([f64; 3], [[f64; 3]; 3]) {
    let d = geo::sub(p, site);
    let (e, n, u) = (
        geo::dot(&basis[0], &d),
        geo::dot(&basis[1], &d),
        geo::dot(&basis[2], &d),
    );
    let rho2 = e * e + n * n;
    let rho = rho2.sqrt();
    let r2 = rho2 + u * u;
    let r = r2.sqrt();
    // Rows: ∂(r, az, el)/∂(e, n, u).
    let j_enu = [
        [e / r, n / r, u / r],
        [n / rho2, -e / rho2, 0.0],
        [-e * u / (r2 * rho), -n * u / (r2 * rho), rho / r2],
    ];
    // Chain with (e, n, u) = basis · (p − site).
    let mut j = [[0.0; 3]; 3];
    for a in 0..3 {
        for c in 0..3 {
            j[a][c] = (0..3).map(|k| j_enu[a][k] * basis[k][c]).sum();
        }
    }
    ([r, e.atan2(n), u.atan2(rho)], j)
}

/// An angle difference in (−π, π].
fn wrap(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let w = a - t * (a / t).round();
    if w <= -std::f64::consts::PI { w + t } else { w }
}

/// A radar as the tracker needs it.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub position: V3,
    pub basis: [V3; 3],
    /// Range (m), azimuth and elevation (rad) noise, 1σ.
    pub sigma: [f64; 3],
    pub revisit: f64,
}

/// What the EKF needs of one track–detection pair: the innovation, its covariance and the
/// measurement Jacobian (position block), and the squared Mahalanobis distance.
pub struct Innovation {
    pub nu: [f64; 3],
    pub s: [[f64; 3]; 3],
    pub h: [[f64; 3]; 3],
    pub d2: f64,
}

/// The innovation of detection `z` (range, azimuth, elevation) against a predicted track.
pub fn innovation(site: &Site, x: &Vec6, p: &Mat6, z: &[f64; 3]) -> Result<Innovation> {
    let (zp, h) = measure(&site.position, &site.basis, &[x[0], x[1], x[2]]);
    if !h.iter().flatten().all(|v| v.is_finite()) {
        return Err(Error::Numeric(
            "a track at the radar's zenith has no azimuth".into(),
        ));
    }
    let nu = [z[0] - zp[0], wrap(z[1] - zp[1]), z[2] - zp[2]];
    let mut s = [[0.0; 6]; 6];
    for a in 0..3 {
        for b in 0..3 {
            let mut v = 0.0;
            for i in 0..3 {
                for k in 0..3 {
                    v += h[a][i] * p[i][k] * h[b][k];
                }
            }
            s[a][b] = v + if a == b {
                site.sigma[a] * site.sigma[a]
            } else {
                0.0
            };
        }
    }
    let l = linalg::cholesky(&s, 3)?;
    let w = linalg::solve_chol(&l, &[nu[0], nu[1], nu[2], 0.0, 0.0, 0.0], 3);
    let d2 = nu[0] * w[0] + nu[1] * w[1] + nu[2] * w[2];
    Ok(Innovation {
        nu,
        s: [
            [s[0][0], s[0][1], s[0][2]],
            [s[1][0], s[1][1], s[1][2]],
            [s[2][0], s[2][1], s[2][2]],
        ],
        h,
        d2,
    })
}

/// EKF update of `(x, p)` with an innovation (Joseph form).
pub fn update(x: &mut Vec6, p: &mut Mat6, inn: &Innovation, sigma: &[f64; 3]) -> Result<()> {
    let mut s6 = [[0.0; 6]; 6];
    for a in 0..3 {
        for b in 0..3 {
            s6[a][b] = inn.s[a][b];
        }
    }
    let l = linalg::cholesky(&s6, 3)?;
    // P Hᵀ (6×3), H acting on the position block only.
    let mut pht = [[0.0; 3]; 6];
    for i in 0..6 {
        for a in 0..3 {
            pht[i][a] = (0..3).map(|k| p[i][k] * inn.h[a][k]).sum();
        }
    }
    // K = P Hᵀ S⁻¹: row i solves S kᵢ = (P Hᵀ)ᵢ.
    let mut k = [[0.0; 3]; 6];
    for i in 0..6 {
        let sol = linalg::solve_chol(&l, &[pht[i][0], pht[i][1], pht[i][2], 0.0, 0.0, 0.0], 3);
        k[i] = [sol[0], sol[1], sol[2]];
    }
    for i in 0..6 {
        x[i] += (0..3).map(|a| k[i][a] * inn.nu[a]).sum::<f64>();
    }
    // (I − K H) P (I − K H)ᵀ + K R Kᵀ, with H = [Hp 0].
    let mut ikh = linalg::identity6();
    for i in 0..6 {
        for c in 0..3 {
            ikh[i][c] -= (0..3).map(|a| k[i][a] * inn.h[a][c]).sum::<f64>();
        }
    }
    let mut krk = [[0.0; 6]; 6];
    for i in 0..6 {
        for j in 0..6 {
            krk[i][j] = (0..3)
                .map(|a| k[i][a] * sigma[a] * sigma[a] * k[j][a])
                .sum();
        }
    }
    *p = linalg::symmetrize(&linalg::add(&linalg::congruence(&ikh, p), &krk));
    Ok(())
}

/// Process noise of the two motion modes: powered (thrust the ballistic model lacks) and
/// free flight.
pub const MODE_Q: [f64; 2] = [Q_BOOST, Q_COAST];
/// Per-scan mode transition probabilities `[from][to]`: a motor burns out once; free flight
/// rarely turns powered again.
pub const MODE_TRANSITION: [[f64; 2]; 2] = [[0.95, 0.05], [0.002, 0.998]];

/// An interacting multiple model (IMM) estimate over [`MODE_Q`]: one ballistic Kalman filter
/// per mode and the probability of each mode.
#[derive(Clone, Copy, Debug)]
pub struct Imm {
    pub modes: [Filter; 2],
    pub prob: [f64; 2],
}

impl Imm {
    /// Both modes from one initial estimate, equally likely.
    pub fn new(f: Filter) -> Imm {
        Imm {
            modes: [f, f],
            prob: [0.5, 0.5],
        }
    }

    /// Mixes the modes and predicts each to `t`; returns the predicted mode probabilities.
    pub fn predict(&mut self, t: f64) -> [f64; 2] {
        let c: [f64; 2] = std::array::from_fn(|j| {
            (0..2)
                .map(|i| MODE_TRANSITION[i][j] * self.prob[i])
                .sum::<f64>()
        });
        let mixed: [Filter; 2] = std::array::from_fn(|j| {
            let w: [f64; 2] = std::array::from_fn(|i| MODE_TRANSITION[i][j] * self.prob[i] / c[j]);
            let (x, p) = moments(&self.modes, &w);
            Filter {
                time: self.modes[j].time,
                x,
                p,
            }
        });
        self.modes = mixed;
        for (j, m) in self.modes.iter_mut().enumerate() {
            m.predict(t, MODE_Q[j]);
        }
        self.prob = c;
        c
    }

    /// The combined estimate (moment-matched mixture).
    pub fn estimate(&self) -> (Vec6, Mat6) {
        moments(&self.modes, &self.prob)
    }

    /// The combined estimate moved `dt` seconds on, to gate a detection stamped later in the
    /// turn ([`propagate::shift`], with the modes' mean process noise).
    pub fn gate_estimate(&self, dt: f64) -> (Vec6, Mat6) {
        let (x, p) = self.estimate();
        if dt == 0.0 {
            return (x, p);
        }
        let q = self.prob[0] * MODE_Q[0] + self.prob[1] * MODE_Q[1];
        propagate::shift(&x, &p, dt, q)
    }

    /// Moves every mode on to `t`, a detection's time later in the turn, without mixing
    /// again (the turn's mixing is done), by the short step of [`propagate::shift`]: over a
    /// fraction of a revisit it is within metres of the ballistic prediction, and it keeps
    /// the GPU kernel small.
    pub fn advance(&mut self, t: f64) {
        for (j, m) in self.modes.iter_mut().enumerate() {
            (m.x, m.p) = propagate::shift(&m.x, &m.p, t - m.time, MODE_Q[j]);
            m.time = t;
        }
    }

    /// Updates with detection `z` taken with probability `w` and left out with `1 − w`: each
    /// mode becomes the moment-matched mixture of its update and its prediction.
    pub fn update_weighted(&mut self, site: &Site, z: &[f64; 3], w: f64) {
        let prior = self.modes;
        self.update(site, z);
        if w < 1.0 {
            for (m, p0) in self.modes.iter_mut().zip(&prior) {
                (m.x, m.p) = moments(&[*m, *p0], &[w, 1.0 - w]);
            }
        }
    }

    /// Updates every mode with detection `z`; mode probabilities follow the likelihoods.
    pub fn update(&mut self, site: &Site, z: &[f64; 3]) {
        let mut log_l = [0.0; 2];
        for (j, m) in self.modes.iter_mut().enumerate() {
            // A mode the detection cannot update (a singular innovation, a track at the
            // radar's zenith) keeps its prediction and loses its probability.
            log_l[j] = match innovation(site, &m.x, &m.p, z) {
                Ok(inn) if update(&mut m.x, &mut m.p, &inn, &site.sigma).is_ok() => {
                    -0.5 * (inn.d2 + det3(&inn.s).ln())
                }
                _ => -1e30,
            };
        }
        let top = log_l[0].max(log_l[1]);
        let w: [f64; 2] = std::array::from_fn(|j| self.prob[j] * (log_l[j] - top).exp());
        let sum = w[0] + w[1];
        if sum > 0.0 && sum.is_finite() {
            self.prob = [w[0] / sum, w[1] / sum];
        }
        // Keep both modes alive: a mode at probability 0 could never come back.
        self.prob = self.prob.map(|p| p.clamp(1e-6, 1.0 - 1e-6));
    }
}

/// Mean and covariance of a mixture of two Gaussians with weights `w`.
fn moments(modes: &[Filter; 2], w: &[f64; 2]) -> (Vec6, Mat6) {
    let x: Vec6 = std::array::from_fn(|k| w[0] * modes[0].x[k] + w[1] * modes[1].x[k]);
    let mut p = [[0.0; 6]; 6];
    for (m, wm) in modes.iter().zip(w) {
        let d: Vec6 = std::array::from_fn(|k| m.x[k] - x[k]);
        for a in 0..6 {
            for b in 0..6 {
                p[a][b] += wm * (m.p[a][b] + d[a] * d[b]);
            }
        }
    }
    (x, linalg::symmetrize(&p))
}

fn det3(s: &[[f64; 3]; 3]) -> f64 {
    s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1])
        - s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0])
        + s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0])
}

#[derive(Clone, Debug)]
struct Track {
    /// Given at confirmation (0 while tentative).
    number: u32,
    /// The two detections it was initiated from.
    parents: [u64; 2],
    imm: Imm,
    /// Truth labels of the last detections it took (scoring only).
    recent: std::collections::VecDeque<i32>,
    confirmed: bool,
    hits: u32,
    /// Misses since initiation (tentative) or in a row (confirmed).
    misses: u32,
    truth: i32,
}

#[derive(Clone, Copy, Debug)]
struct Lone {
    m: Measurement,
    scan: u64,
    truth: i32,
    /// Unique within the sensor's replay.
    id: u64,
}

/// Gates `tracks` (already predicted to the turn's time `t`) against the turn's detections
/// not yet `taken`, each at its own time, assigns by global nearest neighbour and updates the
/// winners; marks the detections they took.
fn associate(
    site: &Site,
    t: f64,
    tracks: &mut [&mut Track],
    dets: &[Detection],
    taken: &mut [bool],
    gate: f64,
    weighted: bool,
) -> Result<()> {
    if tracks.is_empty() {
        return Ok(());
    }
    let free: Vec<usize> = (0..dets.len()).filter(|&j| !taken[j]).collect();
    let mut cost = Vec::with_capacity(tracks.len() * free.len());
    for tr in tracks.iter() {
        let at_t = tr.imm.estimate();
        cost.extend(free.iter().map(|&j| {
            let (x, p) = if dets[j].time == t {
                at_t
            } else {
                tr.imm.gate_estimate(dets[j].time - t)
            };
            innovation(site, &x, &p, &dets[j].measurement)
                .ok()
                .map(|i| i.d2)
                .filter(|&d2| d2 <= gate)
                .unwrap_or(f64::INFINITY)
        }));
    }
    let assignment = if free.is_empty() {
        vec![None; tracks.len()]
    } else {
        assign::solve_exact(&Problem {
            rows: tracks.len(),
            cols: free.len(),
            cost: cost.clone(),
            miss: Some(gate),
        })?
        .row_to_col
    };
    let weights = if weighted {
        swap_weights(&cost, &assignment, gate)
    } else {
        vec![1.0; tracks.len()]
    };
    for ((tr, col), w) in tracks.iter_mut().zip(assignment).zip(weights) {
        match col {
            Some(c) => {
                let d = &dets[free[c]];
                if d.time != t {
                    tr.imm.advance(d.time);
                }
                tr.imm.update_weighted(site, &d.measurement, w);
                tr.hits += 1;
                if tr.confirmed {
                    tr.misses = 0;
                }
                tr.recent.push_back(d.truth);
                if tr.recent.len() > LABEL_WINDOW {
                    tr.recent.pop_front();
                }
                tr.truth = majority(&tr.recent);
                taken[free[c]] = true;
            }
            None => tr.misses += 1,
        }
    }
    Ok(())
}

/// For every row of an assignment (`cost` row-major, one column per detection, a miss costing
/// `gate`), the probability that its detection is its own rather than another row's, against
/// the swaps of that detection with each other row: `1 / (1 + Σ_b exp(−Δ_b / 2))`, with
/// `Δ_b` the rise in total squared distance when rows `a` and `b` exchange what they got
/// (a miss included). An unassigned row weighs 1 (nothing to update).
pub fn swap_weights(cost: &[f64], assignment: &[Option<usize>], gate: f64) -> Vec<f64> {
    let rows = assignment.len();
    let cols = cost.len().checked_div(rows).unwrap_or(0);
    let c = |row: usize, col: Option<usize>| col.map_or(gate, |j| cost[row * cols + j]);
    (0..rows)
        .map(|a| {
            if assignment[a].is_none() {
                return 1.0;
            }
            let rivals: f64 = (0..rows)
                .filter(|&b| b != a)
                .map(|b| {
                    let kept = c(a, assignment[a]) + c(b, assignment[b]);
                    let swapped = c(b, assignment[a]) + c(a, assignment[b]);
                    (-0.5 * (swapped - kept)).exp()
                })
                .sum();
            1.0 / (1.0 + rivals)
        })
        .collect()
}

/// One sensor's tracker over one replay: detections in, reports of confirmed tracks out.
pub fn track_sensor(
    site: &Site,
    replay: u32,
    sensor: u32,
    detections: &[Detection],
    params: &TrackerParams,
) -> Result<Vec<Report>> {
    let gate = chi_square_quantile(params.gate_probability, 3)?;
    let mut tracks: Vec<Track> = Vec::new();
    let mut lone: Vec<Lone> = Vec::new();
    let mut next_number = 1u32;
    let mut next_id = 0u64;
    let mut reports = Vec::new();
    for turn in turns(detections, site.revisit) {
        let (t, scan, scan_dets) = (turn.time(), turn.index, turn.detections);
        let n = scan_dets.len();
        for tr in &mut tracks {
            tr.misses += turn.skipped;
        }
        tracks.retain(|tr| alive(tr, params));
        for tr in &mut tracks {
            tr.imm.predict(t);
        }

        // Confirmed tracks take their detections first; tentative ones compete for the rest
        // (several may share an initiating detection: the one that fits goes on).
        let mut taken = vec![false; n];
        let (mut confirmed, mut tentative): (Vec<&mut Track>, Vec<&mut Track>) =
            tracks.iter_mut().partition(|tr| tr.confirmed);
        associate(site, t, &mut confirmed, scan_dets, &mut taken, gate, true)?;
        associate(site, t, &mut tentative, scan_dets, &mut taken, gate, false)?;
        // Confirmation; rivals built on the same initiating detections give way.
        let mut retired: Vec<u64> = Vec::new();
        for tr in tracks.iter_mut() {
            // A rival of a track confirmed before it in this scan gives way too.
            if !tr.confirmed
                && tr.hits >= params.confirm_hits
                && !tr.parents.iter().any(|p| retired.contains(p))
            {
                tr.confirmed = true;
                tr.misses = 0;
                tr.number = next_number;
                next_number += 1;
                retired.extend(tr.parents);
            }
        }
        tracks.retain(|tr| {
            alive(tr, params) && (tr.confirmed || !tr.parents.iter().any(|p| retired.contains(p)))
        });

        // Initiation: every leftover detection with every lone detection of the last scans
        // that a plausible speed joins makes a tentative track.
        lone.retain(|l| scan - l.scan <= u64::from(params.init_scans));
        let fresh: Vec<Lone> = scan_dets
            .iter()
            .zip(&taken)
            .filter(|(_, t)| !**t)
            .map(|(d, _)| {
                let (z, r) =
                    tracker::convert(&site.position, &site.basis, &d.measurement, &site.sigma);
                next_id += 1;
                Lone {
                    m: Measurement { time: d.time, z, r },
                    scan,
                    truth: d.truth,
                    id: next_id,
                }
            })
            .collect();
        let (mut used_lone, mut used_fresh) = (vec![false; lone.len()], vec![false; fresh.len()]);
        for (a, l) in lone.iter().enumerate() {
            for (b, f) in fresh.iter().enumerate() {
                let dt = f.m.time - l.m.time;
                let speed = geo::norm(&geo::sub(&f.m.z, &l.m.z)) / dt;
                // Allow for the measurement noise of both points.
                let slack = 3.0 * (trace3(&l.m.r).sqrt() + trace3(&f.m.r).sqrt()) / dt;
                if dt > 0.0 && speed <= params.max_speed + slack {
                    used_lone[a] = true;
                    used_fresh[b] = true;
                    let mut tr = Track {
                        number: 0,
                        imm: Imm::new(Filter::two_point(&l.m, &f.m)),
                        parents: [l.id, f.id],
                        confirmed: false,
                        hits: 2,
                        misses: 0,
                        recent: [l.truth, f.truth].into(),
                        truth: f.truth,
                    };
                    if params.confirm_hits <= 2 {
                        tr.confirmed = true;
                        tr.number = next_number;
                        next_number += 1;
                    }
                    tracks.push(tr);
                }
            }
        }
        let mut kept: Vec<Lone> = lone
            .iter()
            .zip(&used_lone)
            .filter(|(_, u)| !**u)
            .map(|(l, _)| *l)
            .collect();
        kept.extend(
            fresh
                .iter()
                .zip(&used_fresh)
                .filter(|(_, u)| !**u)
                .map(|(f, _)| *f),
        );
        lone = kept;

        // At its detection's time, or the turn's for a track that missed it.
        for tr in tracks.iter().filter(|tr| tr.confirmed) {
            let (state, cov) = tr.imm.estimate();
            reports.push(Report {
                time: tr.imm.modes[0].time,
                state,
                cov,
                replay,
                sensor,
                track: tr.number,
                truth: tr.truth,
                flags: HAS_VELOCITY_COV,
                line: 0,
            });
        }
    }
    Ok(reports)
}

/// One antenna turn (scan) of a sensor: its number and its detections, in time order.
#[derive(Clone, Copy, Debug)]
pub struct Turn<'a> {
    /// Turns since the sensor's first one (turns without detections count).
    pub index: u64,
    /// Turns without any detection since the previous turn (misses for every track).
    pub skipped: u32,
    pub detections: &'a [Detection],
}

impl Turn<'_> {
    /// The time the turn's tracks are predicted to: its first detection's.
    pub fn time(&self) -> f64 {
        self.detections[0].time
    }
}

/// A sensor's detections (sorted by time) cut into antenna turns of `revisit` seconds.
///
/// A staring or phased-array radar stamps a whole scan with one time, but a rotating one
/// stamps every plot with the moment the beam crossed it, so a turn's plots spread over
/// nearly the whole period. A cut between turns must not fall on a target (its plots would
/// land twice in one turn and never in the next), so it sits in the middle of a gap between
/// plots: first the widest gap of the first period, then, turn after turn, the gap that holds
/// the previous cut plus one period, within a quarter period of it. The cuts follow that gap
/// as targets move in azimuth; where no plot is near, they step by exactly one period.
pub fn turns(detections: &[Detection], revisit: f64) -> Vec<Turn<'_>> {
    let Some(first) = detections.first() else {
        return Vec::new();
    };
    let t1 = first.time;
    // Widest gap on the circle of the first period: (its lower end, its width) after t1.
    let mut widest = (0.0, 0.0);
    let mut last = 0.0;
    for d in detections.iter().skip(1) {
        let p = d.time - t1;
        if p >= revisit {
            break;
        }
        if p - last > widest.1 {
            widest = (last, p - last);
        }
        last = p;
    }
    if revisit - last >= widest.1 {
        widest = (last, revisit - last);
    }
    let mut start = t1 + widest.0 + widest.1 / 2.0 - revisit;
    let quarter = revisit / 4.0;
    let (mut out, mut i, mut index) = (Vec::new(), 0, 0u64);
    while i < detections.len() {
        // Turns with no detection at all: step over them.
        let ahead = ((detections[i].time - start) / revisit).floor() - 1.0;
        if ahead >= 1.0 {
            start += ahead * revisit;
            index = index.saturating_add(ahead as u64);
        }
        let nominal = start + revisit;
        let j = i + detections[i..].partition_point(|d| d.time < nominal);
        let lo = if j > 0 {
            detections[j - 1].time.max(nominal - quarter)
        } else {
            nominal - quarter
        };
        let hi = detections
            .get(j)
            .map_or(nominal + quarter, |d| d.time.min(nominal + quarter));
        let cut = (lo + hi) / 2.0;
        let end = i + detections[i..].partition_point(|d| d.time < cut);
        if end > i {
            let skipped = out.last().map_or(0, |p: &Turn| index - p.index - 1);
            out.push(Turn {
                index,
                skipped: skipped.min(u64::from(u32::MAX)) as u32,
                detections: &detections[i..end],
            });
            i = end;
        }
        start = cut;
        index = index.saturating_add(1);
    }
    out
}

/// Detections by (replay, sensor), each group in time order.
pub fn group_detections(detections: &[Detection]) -> Vec<(u32, u32, Vec<Detection>)> {
    let mut order: Vec<&Detection> = detections.iter().collect();
    order.sort_by(|a, b| {
        (a.replay, a.sensor)
            .cmp(&(b.replay, b.sensor))
            .then(a.time.total_cmp(&b.time))
    });
    let mut groups: Vec<(u32, u32, Vec<Detection>)> = Vec::new();
    for d in order {
        match groups.last_mut() {
            Some(g) if g.0 == d.replay && g.1 == d.sensor => g.2.push(*d),
            _ => groups.push((d.replay, d.sensor, vec![*d])),
        }
    }
    groups
}

/// Sorts reports by replay, time, sensor and track, as `correlate` reads them.
pub fn sort_reports(reports: &mut [Report]) {
    reports.sort_by(|a, b| {
        a.replay
            .cmp(&b.replay)
            .then(a.time.total_cmp(&b.time))
            .then(a.sensor.cmp(&b.sensor))
            .then(a.track.cmp(&b.track))
    });
}

/// Detections whose truth labels make a track's label: the object it has mostly followed
/// lately, so that one false alarm in its gate does not make it a false track.
const LABEL_WINDOW: usize = 5;

/// The most frequent label, the latest among equals.
fn majority(labels: &std::collections::VecDeque<i32>) -> i32 {
    let mut best = (0, crate::model::NO_TRUTH);
    for (k, &l) in labels.iter().enumerate().rev() {
        let n = labels.iter().filter(|&&x| x == l).count();
        if n > best.0 || (n == best.0 && k + 1 == labels.len()) {
            best = (n, l);
        }
    }
    best.1
}

fn trace3(r: &[[f64; 3]; 3]) -> f64 {
    r[0][0] + r[1][1] + r[2][2]
}

/// Whether a track survives its misses.
fn alive(tr: &Track, params: &TrackerParams) -> bool {
    if tr.confirmed {
        tr.misses < params.delete_misses
    } else {
        tr.misses <= params.confirm_window - params.confirm_hits
    }
}

/// The site of `sensor` among `sites`, or an error naming a sensor without a radar model.
pub fn site_of(sites: &[Option<Site>], sensors: &SensorTable, sensor: u32) -> Result<Site> {
    sites[sensor as usize].ok_or_else(|| {
        Error::Config(format!(
            "sensor `{}` has no radar model",
            sensors.sensors[sensor as usize].name
        ))
    })
}

/// The sites of the sensors (`None` for a sensor without a radar model).
pub fn sites(sensors: &SensorTable) -> Vec<Option<Site>> {
    sensors
        .sensors
        .iter()
        .map(|s| {
            s.radar.as_ref().map(|r| Site {
                position: r.position(),
                basis: r.basis(),
                sigma: [r.sigma_range, r.sigma_az, r.sigma_el],
                revisit: r.revisit,
            })
        })
        .collect()
}

/// Tracks every sensor of every replay (CPU, in parallel); reports sorted by replay, time,
/// sensor and track, as `correlate` reads them.
pub fn track_cpu(
    detections: &[Detection],
    sensors: &SensorTable,
    params: &TrackerParams,
) -> Result<Vec<Report>> {
    track_cpu_with_progress(detections, sensors, params, |_, _| {})
}

/// [`track_cpu`], calling `progress(done, total)` in trackers (a sensor of a replay) as they
/// finish.
pub fn track_cpu_with_progress(
    detections: &[Detection],
    sensors: &SensorTable,
    params: &TrackerParams,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<Report>> {
    params.validate()?;
    let sites = sites(sensors);
    let groups = group_detections(detections);
    let per_group = crate::progress::par_map_with_progress(
        &groups,
        |(replay, sensor, dets)| {
            let site = site_of(&sites, sensors, *sensor)?;
            track_sensor(&site, *replay, *sensor, dets, params)
        },
        progress,
    )?;
    let mut reports: Vec<Report> = per_group.into_iter().flatten().collect();
    sort_reports(&mut reports);
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_jacobian_matches_finite_differences() {
        let site = geo::geodetic_to_ecef(0.6, 0.4, 100.0);
        let basis = geo::enu_basis(0.6, 0.4);
        let p = geo::add(&site, &geo::from_range_az_el(&basis, 300e3, 2.5, 0.3));
        let (z, j) = measure(&site, &basis, &p);
        assert!((z[0] - 300e3).abs() < 1e-6 && (z[1] - 2.5).abs() < 1e-12);
        assert!((z[2] - 0.3).abs() < 1e-12);
        for c in 0..3 {
            let mut q = p;
            q[c] += 1.0;
            let (zq, _) = measure(&site, &basis, &q);
            for a in 0..3 {
                let fd = zq[a] - z[a];
                assert!(
                    (fd - j[a][c]).abs() < 1e-6 * (1.0 + j[a][c].abs()),
                    "{a} {c}"
                );
            }
        }
    }

    #[test]
    fn swap_weights_split_a_tie_and_keep_a_clear_choice() {
        let gate = 11.34;
        // Two tracks, two detections equally close to both: each detection is a coin flip.
        let w = swap_weights(&[1.0, 1.0, 1.0, 1.0], &[Some(0), Some(1)], gate);
        assert!(w.iter().all(|&w| (w - 0.5).abs() < 1e-12), "{w:?}");
        // Well apart: the swap costs 38 more, so the weight is 1 − e⁻¹⁹.
        let w = swap_weights(&[1.0, 20.0, 20.0, 1.0], &[Some(0), Some(1)], gate);
        assert!(
            w.iter()
                .all(|&w| (w - 1.0 / (1.0 + (-19.0f64).exp())).abs() < 1e-12)
        );
        // The rival missed: the swap gives it the detection and the miss to the first row.
        let w = swap_weights(
            &[1.0, f64::INFINITY, 2.0, f64::INFINITY],
            &[Some(0), None],
            gate,
        );
        assert!((w[0] - 1.0 / (1.0 + (-0.5f64).exp())).abs() < 1e-12 && w[1] == 1.0);
        // Alone, or a third track out of the detection's gate: no rival.
        assert_eq!(swap_weights(&[3.0], &[Some(0)], gate), vec![1.0]);
        let w = swap_weights(&[1.0, f64::INFINITY], &[Some(0), None], gate);
        assert_eq!(w, vec![1.0, 1.0]);
    }

    fn at(times: &[(f64, i32)]) -> Vec<Detection> {
        times
            .iter()
            .map(|&(time, truth)| Detection {
                time,
                measurement: [1e5, 0.0, 0.1],
                replay: 0,
                sensor: 0,
                truth,
                _pad: 0,
            })
            .collect()
    }

    #[test]
    fn turns_of_a_staring_radar_are_its_scans_and_count_empty_ones() {
        let times = [0.4, 0.4, 2.4, 2.4, 2.4, 6.4, 1000.4].map(|t| (t, 0));
        let dets = at(&times);
        let turns = turns(&dets, 2.0);
        let got: Vec<(u64, usize)> = turns
            .iter()
            .map(|t| (t.index, t.detections.len()))
            .collect();
        assert_eq!(got, [(0, 2), (1, 3), (3, 1), (500, 1)]);
        assert_eq!(turns[1].time(), 2.4);
    }

    #[test]
    fn turns_of_a_rotating_radar_cut_where_no_plot_is() {
        // Three targets whose plots come 0.5, 2.5 and 3.9 s into a 5 s turn and drift later
        // by 0.1 s a turn (they move clockwise). The widest gap is after the first plot, so
        // the first turn holds it alone; from then on each turn holds each target once.
        let mut times = Vec::new();
        for k in 0..12 {
            for (target, offset) in [0.5, 2.5, 3.9].into_iter().enumerate() {
                times.push((
                    5.0 * f64::from(k) + offset + 0.1 * f64::from(k),
                    target as i32,
                ));
            }
        }
        let dets = at(&times);
        let turns = turns(&dets, 5.0);
        let sizes: Vec<usize> = turns.iter().map(|t| t.detections.len()).collect();
        assert_eq!(sizes, [1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]);
        for (k, t) in turns.iter().enumerate() {
            assert_eq!(t.index, k as u64);
            let mut labels: Vec<i32> = t.detections.iter().map(|d| d.truth).collect();
            labels.sort_unstable();
            labels.dedup();
            assert_eq!(labels.len(), t.detections.len(), "turn {k}: a target twice");
        }
    }

    #[test]
    fn wrap_keeps_angles_in_half_open_interval() {
        assert!((wrap(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
        assert!((wrap(-0.1) + 0.1).abs() < 1e-15);
        assert!((wrap(6.2) - (6.2 - std::f64::consts::TAU)).abs() < 1e-12);
    }
}
