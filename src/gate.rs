//! Gating: the chi-square statistic between two track estimates,
//! `d² = Δᵀ (P₁ + P₂ − P₁₂ − P₂₁)⁻¹ Δ`, and the chi-square quantile that bounds it.
//!
//! The cross-covariance is modelled as `P₁₂ = ρ L₁ L₂ᵀ` with `Pᵢ = Lᵢ Lᵢᵀ` (Cholesky): the
//! covariance of two estimates whose whitened errors have correlation `ρ`. `ρ = 0` (the
//! default) is the usual independence assumption.

use crate::error::{Error, Result};
use crate::linalg::{self, Mat6, Vec6};

/// The chi-square statistic of two estimates on the leading `dim` components (3: position,
/// 6: position and velocity), or infinity when the combined covariance is singular.
pub fn chi_square(x1: &Vec6, p1: &Mat6, x2: &Vec6, p2: &Mat6, rho: f64, dim: usize) -> f64 {
    let mut s = linalg::add(p1, p2);
    if rho != 0.0 {
        let (Ok(l1), Ok(l2)) = (linalg::cholesky(p1, dim), linalg::cholesky(p2, dim)) else {
            return f64::INFINITY;
        };
        let p12 = linalg::mul(&l1, &linalg::transpose(&l2));
        s = linalg::sub(
            &linalg::sub(&s, &linalg::scale(&p12, rho)),
            &linalg::scale(&linalg::transpose(&p12), rho),
        );
    }
    match linalg::cholesky(&s, dim) {
        Ok(l) => linalg::mahalanobis(&l, &linalg::sub_vec(x1, x2), dim),
        Err(_) => f64::INFINITY,
    }
}

/// The regularised lower incomplete gamma function `P(a, x)` (Numerical Recipes' series
/// and continued fraction, each to full double precision).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..500 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        sum * ln_prefix.exp()
    } else {
        // Lentz's continued fraction for Q(a, x).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - ln_prefix.exp() * h
    }
}

/// `ln Γ(a)` by the Lanczos approximation (g = 7, 9 terms), accurate to ~1e-15.
fn ln_gamma(a: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = a - 1.0;
    let mut s = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        s += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// The chi-square quantile: the `d²` below which a fraction `prob` of a `dof`-dimensional
/// Gaussian's statistics fall.
pub fn chi_square_quantile(prob: f64, dof: usize) -> Result<f64> {
    if !(prob > 0.0 && prob < 1.0) || dof == 0 {
        return Err(Error::Config(format!(
            "gate probability must be in (0, 1) and dimension positive, got {prob} and {dof}"
        )));
    }
    let a = dof as f64 / 2.0;
    let cdf = |x: f64| gamma_p(a, x / 2.0);
    let (mut lo, mut hi) = (0.0, dof as f64 + 10.0);
    while cdf(hi) < prob {
        hi *= 2.0;
    }
    // Bisection: 200 halvings exhaust double precision.
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < prob {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Gate thresholds for position-only (3) and full-state (6) tests.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Gate {
    pub probability: f64,
    pub threshold3: f64,
    pub threshold6: f64,
}

impl Gate {
    pub fn new(probability: f64) -> Result<Gate> {
        Ok(Gate {
            probability,
            threshold3: chi_square_quantile(probability, 3)?,
            threshold6: chi_square_quantile(probability, 6)?,
        })
    }

    pub fn threshold(&self, dim: usize) -> f64 {
        if dim == 3 {
            self.threshold3
        } else {
            self.threshold6
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        // scipy.stats.chi2.ppf values.
        let cases = [
            (0.99, 6, 16.811_893_829_770_93),
            (0.99, 3, 11.344_866_730_144_373),
            (0.95, 6, 12.591_587_243_743_977),
            (0.999, 6, 22.457_744_484_825_323),
            (0.5, 1, 0.454_936_423_119_572_7),
        ];
        for (p, k, want) in cases {
            let got = chi_square_quantile(p, k).unwrap();
            assert!((got - want).abs() < 1e-9 * want, "{p} {k}: {got} vs {want}");
        }
    }

    #[test]
    fn chi_square_of_known_difference() {
        let mut p = [[0.0; 6]; 6];
        for (i, row) in p.iter_mut().enumerate() {
            row[i] = 2.0;
        }
        let x1 = [0.0; 6];
        let x2 = [2.0, 0.0, 0.0, 0.0, 0.0, 2.0];
        // S = 4 I: d² = (4 + 4) / 4.
        assert!((chi_square(&x1, &p, &x2, &p, 0.0, 6) - 2.0).abs() < 1e-12);
        assert!((chi_square(&x1, &p, &x2, &p, 0.0, 3) - 1.0).abs() < 1e-12);
        // ρ = 0.5 with equal covariances: S = (2 − 2ρ) P = 2 I.
        assert!((chi_square(&x1, &p, &x2, &p, 0.5, 6) - 4.0).abs() < 1e-12);
    }
}
