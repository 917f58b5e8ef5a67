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
        let mut s = [[0.0; 6]; 6];
        for i in 0..3 {
            for j in 0..3 {
                s[i][j] = self.p[i][j] + m.r[i][j];
            }
        }
        let l = linalg::cholesky(&s, 3)?;
        // K = P Hᵀ S⁻¹: row i solves S k = P[i][0..3].
        let mut k = [[0.0; 3]; 6];
        for (i, krow) in k.iter_mut().enumerate() {
            let b = [self.p[i][0], self.p[i][1], self.p[i][2], 0.0, 0.0, 0.0];
            let sol = linalg::solve_chol(&l, &b, 3);
            *krow = [sol[0], sol[1], sol[2]];
        }
        let innov = [m.z[0] - self.x[0], m.z[1] - self.x[1], m.z[2] - self.x[2]];
        for i in 0..6 {
            self.x[i] += (0..3).map(|j| k[i][j] * innov[j]).sum::<f64>();
        }
        // (I − K H) P (I − K H)ᵀ + K R Kᵀ.
        let mut ikh = linalg::identity6();
        for i in 0..6 {
            for j in 0..3 {
                ikh[i][j] -= k[i][j];
            }
        }
        let mut krk = [[0.0; 6]; 6];
        for i in 0..6 {
            for j in 0..6 {
                krk[i][j] = (0..3)
                    .map(|a| (0..3).map(|b| k[i][a] * m.r[a][b] * k[j][b]).sum::<f64>())
                    .sum();
            }
        }
        self.p = linalg::symmetrize(&linalg::add(&linalg::congruence(&ikh, &self.p), &krk));
        self.time = m.time;
        Ok(())
    }
}
