//! A network's local tracker as the scenario models it: one Kalman filter per object and
//! sensor, fed by that sensor's own noisy detections of that object (truth-aided data
//! association), with converted-measurement updates in ECEF and ballistic prediction.
//! Its covariances are honest: they come from the filter, not from the truth.

use crate::geo::{self, V3};
use crate::linalg::{self, Mat6, Vec6};
use crate::propagate::{MotionModel, Propagation, propagate};

/// Process noise (m²/s³) while the motor burns: thrust is not in the filter's model.
pub const Q_BOOST: f64 = 1500.0;
/// Process noise (m²/s³) in free flight.
pub const Q_COAST: f64 = 0.05;

/// A Cartesian measurement with its covariance.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    pub time: f64,
    pub z: V3,
    pub r: [[f64; 3]; 3],
}

/// Converts a range/azimuth/elevation detection to an ECEF position and its linearised
/// covariance `J diag(σr², σa², σe²) Jᵀ`.
pub fn convert(
    site: &V3,
    basis: &[V3; 3],
    rae: &[f64; 3],
    sigma: &[f64; 3],
) -> (V3, [[f64; 3]; 3]) {
    let (r, az, el) = (rae[0], rae[1], rae[2]);
    let z = geo::add(site, &geo::from_range_az_el(basis, r, az, el));
    let (se, ce) = el.sin_cos();
    let (sa, ca) = az.sin_cos();
    // Columns of ∂(e, n, u)/∂(r, az, el).
    let d_enu = [
        [ce * sa, ce * ca, se],
        [r * ce * ca, -r * ce * sa, 0.0],
        [-r * se * sa, -r * se * ca, r * ce],
    ];
    // To ECEF: each column c maps to e·E + n·N + u·U.
    let mut j = [[0.0; 3]; 3];
    for (c, col) in d_enu.iter().enumerate() {
        for (row, jrow) in j.iter_mut().enumerate() {
            jrow[c] = col[0] * basis[0][row] + col[1] * basis[1][row] + col[2] * basis[2][row];
        }
    }
    let var = [
        sigma[0] * sigma[0],
        sigma[1] * sigma[1],
        sigma[2] * sigma[2],
    ];
    let mut cov = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            cov[a][b] = (0..3).map(|k| j[a][k] * var[k] * j[b][k]).sum();
        }
    }
    (z, cov)
}

/// A Kalman filter on `[x, y, z, vx, vy, vz]`.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    pub time: f64,
    pub x: Vec6,
    pub p: Mat6,
}

impl Filter {
    /// Two-point initialisation from consecutive measurements.
    pub fn two_point(m1: &Measurement, m2: &Measurement) -> Filter {
        let dt = m2.time - m1.time;
        let mut x = [0.0; 6];
        let mut p = [[0.0; 6]; 6];
        for i in 0..3 {
            x[i] = m2.z[i];
            x[i + 3] = (m2.z[i] - m1.z[i]) / dt;
            for j in 0..3 {
                p[i][j] = m2.r[i][j];
                p[i][j + 3] = m2.r[i][j] / dt;
                p[i + 3][j] = m2.r[i][j] / dt;
                p[i + 3][j + 3] = (m1.r[i][j] + m2.r[i][j]) / (dt * dt);
            }
        }
        Filter {
            time: m2.time,
            x,
            p: linalg::symmetrize(&p),
        }
    }

    /// Predicts to `t` with process noise `q`.
    pub fn predict(&mut self, t: f64, q: f64) {
        let params = Propagation {
            model: MotionModel::Ballistic,
            q,
            max_step: 2.0,
        };
        let (x, p) = propagate(&self.x, &self.p, t - self.time, &params);
        self.x = x;
        self.p = p;
        self.time = t;
    }

    /// Kalman update with a position measurement (Joseph form, for a covariance that
    /// stays symmetric and positive definite).
    pub fn update(&mut self, m: &Measurement) -> crate::Result<()> {
        position_update(&mut self.x, &mut self.p, m)?;
        self.time = m.time;
        Ok(())
    }
}

/// Spectral density (m²/s⁵) of the thrust acceleration's white jerk in [`BoostFilter`]:
/// the motor's acceleration grows by up to about 2 m/s³ as propellant burns, and its
/// direction turns with the pitch programme by about 1 m/s³ more. Ten times what that
/// needs (10) keeps the tracks' lag behind a constant-acceleration model's at a few tens
/// of metres (measured with `tools/registration/track_offsets.py`'s oracle).
pub const Q_JERK: f64 = 100.0;
/// Prior standard deviation (m/s²) of each axis of the thrust acceleration at initiation.
pub const SIGMA_THRUST: f64 = 60.0;

/// A boost-phase filter: [`Filter`]'s state plus the thrust acceleration, on
/// `[x, y, z, vx, vy, vz, ax, ay, az]` (gravity through the ballistic model, the thrust
/// as a constant acceleration driven by white jerk). A network's tracker of a missile
/// under thrust uses it up to burn-out (the scenario's tracker is told when, as it is told
/// which plots are its target's), then drops the thrust and goes on as a [`Filter`]: so
/// its reports do not lag a thrusting missile by the hundreds of metres that a
/// constant-velocity model with large process noise would.
#[derive(Clone, Copy, Debug)]
pub struct BoostFilter {
    pub time: f64,
    pub x: [f64; 9],
    pub p: [[f64; 9]; 9],
}

impl BoostFilter {
    /// Two-point initialisation: the thrust starts at zero with [`SIGMA_THRUST`], and the
    /// velocity differenced over `dt` misses `a dt / 2` of it, hence their covariance.
    pub fn two_point(m1: &Measurement, m2: &Measurement) -> BoostFilter {
        let f = Filter::two_point(m1, m2);
        let dt = m2.time - m1.time;
        let var_a = SIGMA_THRUST * SIGMA_THRUST;
        let mut x = [0.0; 9];
        x[..6].copy_from_slice(&f.x);
        let mut p = [[0.0; 9]; 9];
        for i in 0..6 {
            p[i][..6].copy_from_slice(&f.p[i]);
        }
        for i in 0..3 {
            p[i + 3][i + 3] += 0.25 * dt * dt * var_a;
            p[i + 3][i + 6] = 0.5 * dt * var_a;
            p[i + 6][i + 3] = 0.5 * dt * var_a;
            p[i + 6][i + 6] = var_a;
        }
        BoostFilter {
            time: m2.time,
            x,
            p,
        }
    }

    /// Predicts to `t`: the ballistic motion plus the thrust held constant over the step,
    /// with the transition `[[Φ, B], [0, I]]` (Φ the ballistic one, B = [½dt² I; dt I]) and
    /// the white-jerk noise of a constant-acceleration model.
    pub fn predict(&mut self, t: f64) {
        let dt = t - self.time;
        if dt == 0.0 {
            return;
        }
        let x6: Vec6 = std::array::from_fn(|i| self.x[i]);
        let (mut x1, phi6) = crate::propagate::ballistic_with_stm(&x6, dt, 2.0);
        let mut phi = [[0.0; 9]; 9];
        for i in 0..6 {
            phi[i][..6].copy_from_slice(&phi6[i]);
        }
        for i in 0..3 {
            phi[i][i + 6] = 0.5 * dt * dt;
            phi[i + 3][i + 6] = dt;
            phi[i + 6][i + 6] = 1.0;
            x1[i] += 0.5 * dt * dt * self.x[i + 6];
            x1[i + 3] += dt * self.x[i + 6];
        }
        self.x[..6].copy_from_slice(&x1);
        let a = dt.abs();
        let q = [
            Q_JERK * a.powi(5) / 20.0,
            Q_JERK * a.powi(4) / 8.0,
            Q_JERK * a.powi(3) / 6.0,
            Q_JERK * a.powi(3) / 3.0,
            Q_JERK * a * a / 2.0,
            Q_JERK * a,
        ];
        self.p = linalg::congruence(&phi, &self.p);
        for i in 0..3 {
            let (p, v, c) = (i, i + 3, i + 6);
            self.p[p][p] += q[0];
            self.p[p][v] += q[1];
            self.p[v][p] += q[1];
            self.p[p][c] += q[2];
            self.p[c][p] += q[2];
            self.p[v][v] += q[3];
            self.p[v][c] += q[4];
            self.p[c][v] += q[4];
            self.p[c][c] += q[5];
        }
        self.p = linalg::symmetrize(&self.p);
        self.time = t;
    }

    /// Kalman update with a position measurement (as [`Filter::update`]).
    pub fn update(&mut self, m: &Measurement) -> crate::Result<()> {
        position_update(&mut self.x, &mut self.p, m)?;
        self.time = m.time;
        Ok(())
    }

    /// The state without the thrust, for reports and for the filter after burn-out.
    pub fn ballistic(&self) -> Filter {
        Filter {
            time: self.time,
            x: std::array::from_fn(|i| self.x[i]),
            p: std::array::from_fn(|i| std::array::from_fn(|j| self.p[i][j])),
        }
    }
}

/// Kalman update of a state whose first three entries are the position, with a position
/// measurement (Joseph form, for a covariance that stays symmetric and positive definite).
fn position_update<const N: usize>(
    x: &mut [f64; N],
    p: &mut [[f64; N]; N],
    m: &Measurement,
) -> crate::Result<()> {
    let mut s = [[0.0; 6]; 6];
    for i in 0..3 {
        for j in 0..3 {
            s[i][j] = p[i][j] + m.r[i][j];
        }
    }
    let l = linalg::cholesky(&s, 3)?;
    // K = P Hᵀ S⁻¹: row i solves S k = P[i][0..3].
    let mut k = [[0.0; 3]; N];
    for (i, krow) in k.iter_mut().enumerate() {
        let b = [p[i][0], p[i][1], p[i][2], 0.0, 0.0, 0.0];
        let sol = linalg::solve_chol(&l, &b, 3);
        *krow = [sol[0], sol[1], sol[2]];
    }
    let innov = [m.z[0] - x[0], m.z[1] - x[1], m.z[2] - x[2]];
    for i in 0..N {
        x[i] += (0..3).map(|j| k[i][j] * innov[j]).sum::<f64>();
    }
    // (I − K H) P (I − K H)ᵀ + K R Kᵀ.
    let mut ikh = [[0.0; N]; N];
    for (i, row) in ikh.iter_mut().enumerate() {
        row[i] = 1.0;
        for j in 0..3 {
            row[j] -= k[i][j];
        }
    }
    let mut joseph = linalg::congruence(&ikh, p);
    for i in 0..N {
        for j in 0..N {
            joseph[i][j] += (0..3)
                .map(|a| (0..3).map(|b| k[i][a] * m.r[a][b] * k[j][b]).sum::<f64>())
                .sum::<f64>();
        }
    }
    *p = linalg::symmetrize(&joseph);
    Ok(())
}
