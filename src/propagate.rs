//! Propagation of a track's state and covariance to another time.
//!
//! Two motion models, both with white-noise acceleration of spectral density `q` (m²/s³)
//! as process noise:
//! - constant velocity: `x' = F x`, `F = [[I, dt I], [0, I]]`;
//! - ballistic: gravity with J2 plus the Coriolis and centrifugal terms of the rotating
//!   ECEF frame ([`crate::geo::ballistic_acceleration`]), integrated by RK4 together with
//!   the state-transition matrix Φ (`dΦ/dt = A(x) Φ`), so that `P' = Φ P Φᵀ + Q`. The
//!   Jacobian `A` uses the central-gravity gradient: the J2 part of the gradient is a
//!   10⁻³ correction to a term that is itself small over the spans we propagate.
//!
//! Negative `dt` propagates backward; the process noise still grows with `|dt|`.

use crate::geo::{self, GM, OMEGA};
use crate::linalg::{Mat6, N, Vec6, add, congruence, identity6, symmetrize};
use serde::Serialize;

/// Motion model for propagation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MotionModel {
    /// Constant velocity with white-noise acceleration.
    #[value(name = "cv")]
    ConstantVelocity,
    /// Gravity (J2), Earth rotation terms, RK4.
    Ballistic,
}

/// Parameters of propagation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Propagation {
    pub model: MotionModel,
    /// Spectral density of the white-noise acceleration (m²/s³).
    pub q: f64,
    /// Longest RK4 step (s) of the ballistic model.
    pub max_step: f64,
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation {
            model: MotionModel::Ballistic,
            q: 25.0,
            max_step: 2.0,
        }
    }
}

/// Process noise of white-noise acceleration over `dt` (signed: backward propagation makes
/// the position–velocity cross term negative).
pub fn process_noise(q: f64, dt: f64) -> Mat6 {
    let a = dt.abs();
    let mut m = [[0.0; N]; N];
    for i in 0..3 {
        m[i][i] = q * a * a * a / 3.0;
        m[i][i + 3] = q * dt * a / 2.0;
        m[i + 3][i] = q * dt * a / 2.0;
        m[i + 3][i + 3] = q * a;
    }
    m
}

/// State and covariance propagated by `dt` seconds.
pub fn propagate(x: &Vec6, p: &Mat6, dt: f64, params: &Propagation) -> (Vec6, Mat6) {
    if dt == 0.0 {
        return (*x, *p);
    }
    let (x1, phi) = match params.model {
        MotionModel::ConstantVelocity => {
            let mut phi = identity6();
            for i in 0..3 {
                phi[i][i + 3] = dt;
            }
            let x1 = std::array::from_fn(|i| if i < 3 { x[i] + dt * x[i + 3] } else { x[i] });
            (x1, phi)
        }
        MotionModel::Ballistic => ballistic_with_stm(x, dt, params.max_step),
    };
    let p1 = symmetrize(&add(&congruence(&phi, p), &process_noise(params.q, dt)));
    (x1, p1)
}

/// A step of `dt` seconds, a fraction of a revisit, from the time a track was predicted to
/// for its antenna turn on to a detection stamped later in the turn: the ballistic
/// acceleration at `x` held constant, the transition of constant velocity and white-noise
/// acceleration `q`. Over a few seconds it stays within metres of [`propagate`]'s RK4 (the
/// acceleration changes little), at a fraction of the cost.
/// GPU twin: `shift_track` in shaders/ballistic.wgsl.
pub fn shift(x: &Vec6, p: &Mat6, dt: f64, q: f64) -> (Vec6, Mat6) {
    let d = derivative(x);
    let x1 = std::array::from_fn(|i| {
        if i < 3 {
            x[i] + dt * x[i + 3] + 0.5 * dt * dt * d[i + 3]
        } else {
            x[i] + dt * d[i]
        }
    });
    let mut phi = identity6();
    for i in 0..3 {
        phi[i][i + 3] = dt;
    }
    let p1 = symmetrize(&add(&congruence(&phi, p), &process_noise(q, dt)));
    (x1, p1)
}

/// State only, without covariance, by the ballistic model (used by the scenario and
/// metrics, where no covariance is needed).
pub fn ballistic_state(x: &Vec6, dt: f64, max_step: f64) -> Vec6 {
    let steps = (dt.abs() / max_step).ceil().max(1.0) as usize;
    let h = dt / steps as f64;
    let mut s = *x;
    for _ in 0..steps {
        let k1 = derivative(&s);
        let k2 = derivative(&axpy(&s, h / 2.0, &k1));
        let k3 = derivative(&axpy(&s, h / 2.0, &k2));
        let k4 = derivative(&axpy(&s, h, &k3));
        s = std::array::from_fn(|i| s[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
    }
    s
}

/// `ds/dt` of the ballistic model.
fn derivative(s: &Vec6) -> Vec6 {
    let a = geo::ballistic_acceleration(&[s[0], s[1], s[2]], &[s[3], s[4], s[5]]);
    [s[3], s[4], s[5], a[0], a[1], a[2]]
}

fn axpy(s: &Vec6, h: f64, k: &Vec6) -> Vec6 {
    std::array::from_fn(|i| s[i] + h * k[i])
}

/// The Jacobian `A = ∂(ds/dt)/∂s` of the ballistic model, with central gravity's gradient.
pub fn ballistic_jacobian(s: &Vec6) -> Mat6 {
    let r2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
    let r = r2.sqrt();
    let k = GM / (r2 * r);
    let mut a = [[0.0; N]; N];
    for i in 0..3 {
        a[i][i + 3] = 1.0;
        for j in 0..3 {
            let id = if i == j { 1.0 } else { 0.0 };
            a[i + 3][j] = k * (3.0 * s[i] * s[j] / r2 - id);
        }
    }
    // Centrifugal and Coriolis terms of ω = (0, 0, Ω).
    a[3][0] += OMEGA * OMEGA;
    a[4][1] += OMEGA * OMEGA;
    a[3][4] += 2.0 * OMEGA;
    a[4][3] -= 2.0 * OMEGA;
    a
}

/// `A(s) Φ` with `A = ballistic_jacobian(s)`, skipping A's zeros: A is `[[0, I], [G, C]]`
/// with G the gravity gradient (and centrifugal term) and C the Coriolis block, so the upper
/// rows are Φ's lower rows and each lower row takes four products instead of six. The sums
/// run in `mul`'s order, so the result is bit for bit `mul(&ballistic_jacobian(s), phi)`.
/// GPU twin: `stm_rate` in shaders/ballistic.wgsl.
fn stm_rate(s: &Vec6, phi: &Mat6) -> Mat6 {
    let a = ballistic_jacobian(s);
    let mut m = [[0.0; N]; N];
    for j in 0..N {
        for i in 0..3 {
            m[i][j] = phi[i + 3][j];
            m[i + 3][j] =
                a[i + 3][0] * phi[0][j] + a[i + 3][1] * phi[1][j] + a[i + 3][2] * phi[2][j];
        }
        m[3][j] += a[3][4] * phi[4][j];
        m[4][j] += a[4][3] * phi[3][j];
    }
    m
}

/// RK4 on the state and its transition matrix together.
pub fn ballistic_with_stm(x: &Vec6, dt: f64, max_step: f64) -> (Vec6, Mat6) {
    let steps = (dt.abs() / max_step).ceil().max(1.0) as usize;
    let h = dt / steps as f64;
    let mut s = *x;
    let mut phi = identity6();
    for _ in 0..steps {
        // dΦ/dt = A(s) Φ, evaluated at the same RK4 stages as the state; `rate` sums the
        // stages' slopes (1, 2, 2, 1) as they come, so that fewer matrices are live at once
        // (which is what matters in the GPU twin).
        let k1 = derivative(&s);
        let m1 = stm_rate(&s, &phi);
        let s2 = axpy(&s, h / 2.0, &k1);
        let k2 = derivative(&s2);
        let m2 = stm_rate(&s2, &mat_axpy(&phi, h / 2.0, &m1));
        let mut rate = mat_axpy(&m1, 2.0, &m2);
        let s3 = axpy(&s, h / 2.0, &k2);
        let k3 = derivative(&s3);
        let m3 = stm_rate(&s3, &mat_axpy(&phi, h / 2.0, &m2));
        rate = mat_axpy(&rate, 2.0, &m3);
        let s4 = axpy(&s, h, &k3);
        let k4 = derivative(&s4);
        let m4 = stm_rate(&s4, &mat_axpy(&phi, h, &m3));
        rate = mat_axpy(&rate, 1.0, &m4);
        s = std::array::from_fn(|i| s[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]));
        phi = mat_axpy(&phi, h / 6.0, &rate);
    }
    (s, phi)
}

fn mat_axpy(a: &Mat6, h: f64, b: &Mat6) -> Mat6 {
    std::array::from_fn(|i| std::array::from_fn(|j| a[i][j] + h * b[i][j]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::geodetic_to_ecef;
    use crate::linalg::mul;

    fn orbit_like_state() -> Vec6 {
        let p = geodetic_to_ecef(0.5, 0.7, 150_000.0);
        let up = geo::unit(&p);
        let east = geo::unit(&geo::cross(&[0.0, 0.0, 1.0], &p));
        let v = geo::add(&geo::scale(&up, 800.0), &geo::scale(&east, 2000.0));
        [p[0], p[1], p[2], v[0], v[1], v[2]]
    }

    #[test]
    fn cv_moves_linearly_and_grows_covariance() {
        let x = [1.0, 2.0, 3.0, 10.0, -5.0, 2.0];
        let mut p = [[0.0; N]; N];
        for (i, row) in p.iter_mut().enumerate() {
            row[i] = 4.0;
        }
        let params = Propagation {
            model: MotionModel::ConstantVelocity,
            q: 1.0,
            max_step: 1.0,
        };
        let (x1, p1) = propagate(&x, &p, 2.0, &params);
        assert_eq!(x1, [21.0, -8.0, 7.0, 10.0, -5.0, 2.0]);
        // Pxx = 4 + 2²·4 + q·8/3.
        assert!((p1[0][0] - (4.0 + 16.0 + 8.0 / 3.0)).abs() < 1e-12);
        assert!((p1[0][3] - (8.0 + 2.0)).abs() < 1e-12);
        assert!((p1[3][3] - 6.0).abs() < 1e-12);
    }

    #[test]
    fn ballistic_forward_then_backward_returns() {
        let x = orbit_like_state();
        let fwd = ballistic_state(&x, 120.0, 1.0);
        let back = ballistic_state(&fwd, -120.0, 1.0);
        for i in 0..3 {
            assert!((back[i] - x[i]).abs() < 1e-3, "{i}: {}", back[i] - x[i]);
        }
    }

    #[test]
    fn ballistic_conserves_energy_in_rotating_frame() {
        // The Jacobi integral of the rotating frame, ½v² − ½ω²(x²+y²) + U, is conserved for
        // an axially symmetric field. With J2, U = −GM/r · (1 − J2 a²/(2 r²) (3 sin²φ − 1)).
        let energy = |s: &Vec6| {
            let r2 = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
            let r = r2.sqrt();
            let sin2 = s[2] * s[2] / r2;
            let u = -GM / r * (1.0 - geo::J2 * geo::A * geo::A / (2.0 * r2) * (3.0 * sin2 - 1.0));
            0.5 * (s[3] * s[3] + s[4] * s[4] + s[5] * s[5])
                - 0.5 * OMEGA * OMEGA * (s[0] * s[0] + s[1] * s[1])
                + u
        };
        let x = orbit_like_state();
        let e0 = energy(&x);
        let e1 = energy(&ballistic_state(&x, 300.0, 1.0));
        assert!(((e1 - e0) / e0).abs() < 1e-9, "{e0} {e1}");
    }

    #[test]
    fn stm_rate_is_the_full_product_bit_for_bit() {
        let x = orbit_like_state();
        // A Φ that is not the identity, with every entry non-zero.
        let (_, phi) = ballistic_with_stm(&x, 7.0, 2.0);
        let phi = mat_axpy(&phi, 1e-3, &[[1.0; N]; N]);
        for t in [0.0, 40.0, -90.0] {
            let s = ballistic_state(&x, t, 2.0);
            assert_eq!(
                stm_rate(&s, &phi),
                mul(&ballistic_jacobian(&s), &phi),
                "t = {t}"
            );
        }
    }

    #[test]
    fn state_transition_matches_finite_differences() {
        let x = orbit_like_state();
        let params = Propagation::default();
        let (_, phi) = ballistic_with_stm(&x, 30.0, params.max_step);
        for j in 0..N {
            let h = if j < 3 { 1.0 } else { 0.01 };
            let mut xp = x;
            let mut xm = x;
            xp[j] += h;
            xm[j] -= h;
            let fp = ballistic_state(&xp, 30.0, params.max_step);
            let fm = ballistic_state(&xm, 30.0, params.max_step);
            for i in 0..N {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                // The STM omits the J2 gradient, so agreement is to about 1e-3 of the entry.
                let tol = 2e-3 * phi[i][j].abs().max(if i < 3 { 1.0 } else { 1e-2 });
                assert!(
                    (fd - phi[i][j]).abs() < tol,
                    "Φ[{i}][{j}] {} vs {fd}",
                    phi[i][j]
                );
            }
        }
    }
}
