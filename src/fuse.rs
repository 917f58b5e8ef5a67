//! Track-to-track fusion of estimates of one object from several sources.
//!
//! - Covariance intersection (default): `P⁻¹ = ω P₁⁻¹ + (1−ω) P₂⁻¹`, with `ω` minimising
//!   `det P` (see [`ci_weight`]); consistent whatever the unknown cross-correlation.
//! - Independent: `P⁻¹ = P₁⁻¹ + P₂⁻¹`; optimistic when the errors are correlated.
//! - Bar-Shalom–Campo with cross-covariance `P₁₂ = ρ L₁ L₂ᵀ` (see [`crate::gate`]).
//!
//! More than two sources are fused pairwise in the order given.

use crate::error::{Error, Result};
use crate::linalg::{self, Mat6, Vec6};
use serde::Serialize;

/// Fusion method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FusionMethod {
    /// Covariance intersection.
    #[value(name = "ci")]
    CovarianceIntersection,
    /// Independent (naive) information fusion.
    Independent,
    /// Bar-Shalom–Campo with correlation coefficient `--rho`.
    #[value(name = "bsc")]
    BarShalomCampo,
}

/// Bisection steps of covariance intersection's ω: 2⁻³⁰ ≈ 1e-9.
const CI_ITERATIONS: usize = 30;

/// Fuses two estimates.
pub fn fuse_pair(
    a: (&Vec6, &Mat6),
    b: (&Vec6, &Mat6),
    method: FusionMethod,
    rho: f64,
) -> Result<(Vec6, Mat6)> {
    match method {
        FusionMethod::Independent => {
            let ya = linalg::inverse_spd(a.1, 6)?;
            let yb = linalg::inverse_spd(b.1, 6)?;
            information_fusion((a.0, &ya), (b.0, &yb), 1.0, 1.0)
        }
        FusionMethod::CovarianceIntersection => {
            let ya = linalg::inverse_spd(a.1, 6)?;
            let yb = linalg::inverse_spd(b.1, 6)?;
            let w = ci_weight(a.1, b.1)?;
            information_fusion((a.0, &ya), (b.0, &yb), w, 1.0 - w)
        }
        FusionMethod::BarShalomCampo => {
            let l1 = linalg::cholesky(a.1, 6)?;
            let l2 = linalg::cholesky(b.1, 6)?;
            let p12 = linalg::scale(&linalg::mul(&l1, &linalg::transpose(&l2)), rho);
            let p21 = linalg::transpose(&p12);
            // x = x₁ + (P₁ − P₁₂) S⁻¹ (x₂ − x₁),  P = P₁ − (P₁ − P₁₂) S⁻¹ (P₁ − P₂₁).
            let s = linalg::sub(&linalg::sub(&linalg::add(a.1, b.1), &p12), &p21);
            let s_inv = linalg::inverse_spd(&linalg::symmetrize(&s), 6)?;
            let k = linalg::mul(&linalg::sub(a.1, &p12), &s_inv);
            let d = linalg::sub_vec(b.0, a.0);
            let kd = linalg::mul_vec(&k, &d);
            let x = std::array::from_fn(|i| a.0[i] + kd[i]);
            let p = linalg::sub(a.1, &linalg::mul(&k, &linalg::sub(a.1, &p21)));
            Ok((x, linalg::symmetrize(&p)))
        }
    }
}

/// `P = (wa Ya + wb Yb)⁻¹` and `x = P (wa Ya xa + wb Yb xb)`, computed as
/// `x = xa + P wb Yb (xb − xa)` (the same, since `P (wa Ya + wb Yb) = I`), a form that keeps
/// its digits in the GPU twin's f32. `Ya = Pa⁻¹`, `Yb = Pb⁻¹`.
fn information_fusion(
    a: (&Vec6, &Mat6),
    b: (&Vec6, &Mat6),
    wa: f64,
    wb: f64,
) -> Result<(Vec6, Mat6)> {
    let ybw = linalg::scale(b.1, wb);
    let p = linalg::inverse_spd(&linalg::add(&linalg::scale(a.1, wa), &ybw), 6)?;
    let g = linalg::mul_vec(&ybw, &linalg::sub_vec(b.0, a.0));
    let k = linalg::mul_vec(&p, &g);
    Ok((std::array::from_fn(|i| a.0[i] + k[i]), p))
}

/// The covariance-intersection weight ω minimising `det P(ω)`,
/// `P(ω)⁻¹ = ω Pa⁻¹ + (1−ω) Pb⁻¹`.
///
/// With `λᵢ` the eigenvalues of `Pa⁻¹ Pb` (those of the information pencil `Yb⁻¹ Ya`),
/// `ln det P(ω)⁻¹ = const + Σ ln(1 + ω(λᵢ − 1))`, concave in ω, with derivative
/// `g(ω) = Σ (λᵢ − 1) / (1 + ω(λᵢ − 1))`. One eigen-decomposition makes each `g` a handful
/// of divisions; ω is then found by bisection on the sign of `g`, a fixed number of steps.
/// Near the optimum `ln det` is flat to second order while `g` is not, so the GPU twin in
/// f32 finds the same ω as this f64 code, where comparing values (golden section) would
/// not.
pub fn ci_weight(pa: &Mat6, pb: &Mat6) -> Result<f64> {
    // A pencil eigenvalue at or below 0 can only be rounding of a near-singular Pb.
    let lambda = linalg::relative_eigenvalues(pa, pb)?.map(|l| l.max(1e-12));
    let g = |w: f64| -> f64 {
        lambda
            .iter()
            .map(|l| (l - 1.0) / (1.0 + w * (l - 1.0)))
            .sum()
    };
    // Not increasing at 0: ω = 0; not decreasing at 1: ω = 1.
    if g(0.0) <= 0.0 {
        return Ok(0.0);
    }
    if g(1.0) >= 0.0 {
        return Ok(1.0);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..CI_ITERATIONS {
        let mid = 0.5 * (lo + hi);
        if g(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Fuses any number of estimates, pairwise in order.
pub fn fuse_all(
    estimates: &[(Vec6, Mat6)],
    method: FusionMethod,
    rho: f64,
) -> Result<(Vec6, Mat6)> {
    let (first, rest) = estimates
        .split_first()
        .ok_or_else(|| Error::Numeric("nothing to fuse".into()))?;
    let mut acc = *first;
    for e in rest {
        acc = fuse_pair((&acc.0, &acc.1), (&e.0, &e.1), method, rho)?;
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(v: [f64; 6]) -> Mat6 {
        let mut m = [[0.0; 6]; 6];
        for i in 0..6 {
            m[i][i] = v[i];
        }
        m
    }

    #[test]
    fn independent_fusion_of_equal_estimates_halves_covariance() {
        let p = diag([4.0; 6]);
        let (x, pf) = fuse_pair(
            (&[0.0; 6], &p),
            (&[2.0; 6], &p),
            FusionMethod::Independent,
            0.0,
        )
        .unwrap();
        for i in 0..6 {
            assert!((x[i] - 1.0).abs() < 1e-12);
            assert!((pf[i][i] - 2.0).abs() < 1e-12);
        }
    }

    #[test]
    fn ci_picks_the_better_estimate_when_one_dominates() {
        // P₁ = I, P₂ = 4 I: det P(ω) = (ω + (1−ω)/4)⁻⁶ is smallest at ω = 1.
        let (x, p) = fuse_pair(
            (&[1.0; 6], &diag([1.0; 6])),
            (&[5.0; 6], &diag([4.0; 6])),
            FusionMethod::CovarianceIntersection,
            0.0,
        )
        .unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (p[0][0] - 1.0).abs() < 1e-6,
            "{x:?} {p:?}"
        );
    }

    #[test]
    fn ci_of_crossed_ellipses_is_between_them() {
        // Two estimates good in different axes: CI weights them equally by symmetry.
        let a = diag([1.0, 9.0, 1.0, 9.0, 1.0, 9.0]);
        let b = diag([9.0, 1.0, 9.0, 1.0, 9.0, 1.0]);
        let (x, p) = fuse_pair(
            (&[0.0; 6], &a),
            (&[1.0; 6], &b),
            FusionMethod::CovarianceIntersection,
            0.0,
        )
        .unwrap();
        // ω = ½: P⁻¹ = ½(1 + 1/9) per axis, P = 1.8; x₀ = 1.8 · ½ · (1/9) = 0.1.
        assert!((p[0][0] - 1.8).abs() < 1e-6, "{}", p[0][0]);
        assert!((x[0] - 0.1).abs() < 1e-6, "{}", x[0]);
    }

    #[test]
    fn bar_shalom_campo_with_zero_correlation_is_independent() {
        let a = diag([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = diag([2.0, 2.0, 1.0, 1.0, 5.0, 3.0]);
        let xa = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let xb = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let (x1, p1) = fuse_pair((&xa, &a), (&xb, &b), FusionMethod::BarShalomCampo, 0.0).unwrap();
        let (x2, p2) = fuse_pair((&xa, &a), (&xb, &b), FusionMethod::Independent, 0.0).unwrap();
        for i in 0..6 {
            assert!((x1[i] - x2[i]).abs() < 1e-12);
            assert!((p1[i][i] - p2[i][i]).abs() < 1e-12);
        }
        // Positive correlation: less gain from fusing, so a larger fused variance.
        let (_, p3) = fuse_pair((&xa, &a), (&xb, &b), FusionMethod::BarShalomCampo, 0.5).unwrap();
        assert!(p3[0][0] > p1[0][0]);
    }

    /// `ln det(ω Pa⁻¹ + (1−ω) Pb⁻¹)` through the Cholesky factor.
    fn ln_det_information(pa: &Mat6, pb: &Mat6, w: f64) -> f64 {
        let ya = linalg::inverse_spd(pa, 6).unwrap();
        let yb = linalg::inverse_spd(pb, 6).unwrap();
        let y = linalg::add(&linalg::scale(&ya, w), &linalg::scale(&yb, 1.0 - w));
        let l = linalg::cholesky(&y, 6).unwrap();
        (0..6).map(|i| 2.0 * l[i][i].ln()).sum()
    }

    #[test]
    fn ci_weight_maximises_information_determinant() {
        // Random SPD pairs of track-like scales (positions 1e2–1e4 m², velocities 1–1e2):
        // the ω found beats every point of a fine grid.
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut interior = 0;
        for _ in 0..40 {
            let mut make = |scale: f64| {
                let mut f = [[0.0; 6]; 6];
                for i in 0..6 {
                    for j in 0..6 {
                        f[i][j] = next() - 0.5;
                    }
                    f[i][i] += 1.0;
                }
                let s: [f64; 6] = std::array::from_fn(|i| {
                    (if i < 3 { 1e2 } else { 1.0 }) * scale * (1.0 + 99.0 * next())
                });
                let mut p = linalg::mul(&f, &linalg::transpose(&f));
                for i in 0..6 {
                    for j in 0..6 {
                        p[i][j] *= (s[i] * s[j]).sqrt();
                    }
                }
                linalg::symmetrize(&p)
            };
            let pa = make(1.0);
            let k = 1.0 + 3.0 * make(1.0)[0][0].fract();
            let pb = make(k);
            let w = ci_weight(&pa, &pb).unwrap();
            let best = ln_det_information(&pa, &pb, w);
            for k in 0..=1000 {
                let v = ln_det_information(&pa, &pb, k as f64 / 1000.0);
                assert!(
                    best >= v - 1e-9,
                    "ω = {w}: {best} < {v} at {}",
                    k as f64 / 1000.0
                );
            }
            interior += usize::from(w > 0.0 && w < 1.0);
        }
        assert!(interior >= 10, "only {interior} interior optima");
    }
}
