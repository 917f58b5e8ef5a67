//! Small fixed-size linear algebra for 3- and 6-dimensional states, in plain arrays so that
//! a WGSL kernel can mirror every loop.

use crate::error::{Error, Result};

/// Dimension of the kinematic state `[x, y, z, vx, vy, vz]`.
pub const N: usize = 6;

/// A state vector.
pub type Vec6 = [f64; N];
/// A 6×6 matrix, row-major.
pub type Mat6 = [[f64; N]; N];

/// The 6×6 zero matrix.
pub const ZERO6: Mat6 = [[0.0; N]; N];

/// The identity.
pub fn identity6() -> Mat6 {
    let mut m = ZERO6;
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

/// `a · b`, skipping `a`'s zeros (any square size: the scenario's boost filter has nine
/// states).
pub fn mul<const M: usize>(a: &[[f64; M]; M], b: &[[f64; M]; M]) -> [[f64; M]; M] {
    let mut c = [[0.0; M]; M];
    for i in 0..M {
        for k in 0..M {
            let aik = a[i][k];
            if aik != 0.0 {
                for j in 0..M {
                    c[i][j] += aik * b[k][j];
                }
            }
        }
    }
    c
}

/// `a · v`.
pub fn mul_vec(a: &Mat6, v: &Vec6) -> Vec6 {
    let mut r = [0.0; N];
    for i in 0..N {
        for j in 0..N {
            r[i] += a[i][j] * v[j];
        }
    }
    r
}

/// `aᵀ`.
pub fn transpose<const M: usize>(a: &[[f64; M]; M]) -> [[f64; M]; M] {
    let mut t = [[0.0; M]; M];
    for i in 0..M {
        for j in 0..M {
            t[j][i] = a[i][j];
        }
    }
    t
}

/// `a + b`.
pub fn add(a: &Mat6, b: &Mat6) -> Mat6 {
    let mut c = *a;
    for i in 0..N {
        for j in 0..N {
            c[i][j] += b[i][j];
        }
    }
    c
}

/// `a − b`.
pub fn sub(a: &Mat6, b: &Mat6) -> Mat6 {
    let mut c = *a;
    for i in 0..N {
        for j in 0..N {
            c[i][j] -= b[i][j];
        }
    }
    c
}

/// `s · a`.
pub fn scale(a: &Mat6, s: f64) -> Mat6 {
    let mut c = *a;
    for row in c.iter_mut() {
        for x in row.iter_mut() {
            *x *= s;
        }
    }
    c
}

/// `F P Fᵀ`.
pub fn congruence<const M: usize>(f: &[[f64; M]; M], p: &[[f64; M]; M]) -> [[f64; M]; M] {
    mul(&mul(f, p), &transpose(f))
}

/// `(a + aᵀ) / 2`: removes the asymmetry that rounding leaves in a covariance.
pub fn symmetrize<const M: usize>(a: &[[f64; M]; M]) -> [[f64; M]; M] {
    let mut s = *a;
    for i in 0..M {
        for j in (i + 1)..M {
            let m = 0.5 * (a[i][j] + a[j][i]);
            s[i][j] = m;
            s[j][i] = m;
        }
    }
    s
}

/// Trace of the leading `dim × dim` block.
pub fn trace(a: &Mat6, dim: usize) -> f64 {
    (0..dim).map(|i| a[i][i]).sum()
}

/// `a − b` for vectors.
pub fn sub_vec(a: &Vec6, b: &Vec6) -> Vec6 {
    std::array::from_fn(|i| a[i] - b[i])
}

/// Lower Cholesky factor `L` of the leading `dim × dim` block of `a` (`a = L Lᵀ`).
/// Fails when the block is not positive definite.
pub fn cholesky(a: &Mat6, dim: usize) -> Result<Mat6> {
    let mut l = ZERO6;
    for j in 0..dim {
        let mut d = a[j][j];
        for k in 0..j {
            d -= l[j][k] * l[j][k];
        }
        // A relative floor: a pivot that is zero up to rounding means the matrix is singular.
        if d.is_nan() || d <= 1e-12 * a[j][j].abs().max(f64::MIN_POSITIVE) {
            return Err(Error::Numeric(format!(
                "matrix is not positive definite (pivot {j} is {d:e})"
            )));
        }
        let djj = d.sqrt();
        l[j][j] = djj;
        for i in (j + 1)..dim {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            l[i][j] = s / djj;
        }
    }
    Ok(l)
}

/// Solves `L y = b` (forward substitution) on the leading `dim` entries.
fn forward(l: &Mat6, b: &Vec6, dim: usize) -> Vec6 {
    let mut y = [0.0; N];
    for i in 0..dim {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i][k] * y[k];
        }
        y[i] = s / l[i][i];
    }
    y
}

/// Solves `Lᵀ x = y` (back substitution) on the leading `dim` entries.
fn backward(l: &Mat6, y: &Vec6, dim: usize) -> Vec6 {
    let mut x = [0.0; N];
    for i in (0..dim).rev() {
        let mut s = y[i];
        for k in (i + 1)..dim {
            s -= l[k][i] * x[k];
        }
        x[i] = s / l[i][i];
    }
    x
}

/// The Mahalanobis form `dᵀ S⁻¹ d` on the leading `dim` entries, given `S = L Lᵀ`.
pub fn mahalanobis(l: &Mat6, d: &Vec6, dim: usize) -> f64 {
    let y = forward(l, d, dim);
    y[..dim].iter().map(|v| v * v).sum()
}

/// Inverse of the symmetric positive definite leading `dim × dim` block of `a`.
pub fn inverse_spd(a: &Mat6, dim: usize) -> Result<Mat6> {
    let l = cholesky(a, dim)?;
    let mut inv = ZERO6;
    for j in 0..dim {
        let mut e = [0.0; N];
        e[j] = 1.0;
        let col = backward(&l, &forward(&l, &e, dim), dim);
        for i in 0..dim {
            inv[i][j] = col[i];
        }
    }
    Ok(symmetrize(&inv))
}

/// `S⁻¹ b` for symmetric positive definite `S` given its factor.
pub fn solve_chol(l: &Mat6, b: &Vec6, dim: usize) -> Vec6 {
    backward(l, &forward(l, b, dim), dim)
}

/// Sweeps of the cyclic Jacobi method: a 6×6 matrix converges (quadratically) in 5 or 6.
pub const JACOBI_SWEEPS: usize = 8;

/// Eigenvalues of the symmetric matrix `a`, unsorted, by cyclic Jacobi rotations (the GPU
/// twin is `jacobi_eigenvalues` in shaders/fusion.wgsl). A rotation is skipped when its
/// off-diagonal entry is negligible against its diagonal pair.
pub fn jacobi_eigenvalues(a: &Mat6) -> Vec6 {
    let mut a = *a;
    for _ in 0..JACOBI_SWEEPS {
        for p in 0..N - 1 {
            for q in p + 1..N {
                let apq = a[p][q];
                if apq.abs() <= 1e-15 * (a[p][p].abs() + a[q][q].abs()) {
                    continue;
                }
                // tan of the rotation angle, the smaller root (stable form).
                let theta = (a[q][q] - a[p][p]) / (2.0 * apq);
                let t = if theta.abs() > 1e10 {
                    0.5 / theta
                } else {
                    let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                    sign / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J: columns p and q, then rows p and q.
                for k in 0..N {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                a[p][q] = 0.0;
                a[q][p] = 0.0;
            }
        }
    }
    std::array::from_fn(|i| a[i][i])
}

/// Eigenvalues of the pencil `(b, a)` for symmetric positive definite `a`, `b`: the
/// eigenvalues of `a⁻¹ b`, computed as those of `L⁻¹ b L⁻ᵀ` (`a = L Lᵀ`), which is
/// symmetric.
pub fn relative_eigenvalues(a: &Mat6, b: &Mat6) -> Result<Vec6> {
    let l = cholesky(a, N)?;
    // X = L⁻¹ b column by column; then L⁻¹ Xᵀ = L⁻¹ b L⁻ᵀ (b is symmetric).
    let x = transpose(&std::array::from_fn(|j| {
        forward(&l, &std::array::from_fn(|i| b[i][j]), N)
    }));
    let m: Mat6 = std::array::from_fn(|j| forward(&l, &x[j], N));
    Ok(jacobi_eigenvalues(&symmetrize(&m)))
}

/// Largest eigenvalue of the leading 3×3 (position) block by power iteration; used for
/// error-ellipse sizes, where a few digits are enough.
pub fn max_eigen3(a: &Mat6) -> f64 {
    let mut v = [1.0, 0.7, 0.4];
    let mut lambda = 0.0;
    for _ in 0..50 {
        let w: [f64; 3] = std::array::from_fn(|i| (0..3).map(|j| a[i][j] * v[j]).sum());
        let norm = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        lambda = norm;
        v = [w[0] / norm, w[1] / norm, w[2] / norm];
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd() -> Mat6 {
        let mut a = ZERO6;
        for i in 0..N {
            for j in 0..N {
                a[i][j] = 1.0 / (1.0 + i as f64 + j as f64);
            }
            a[i][i] += 2.0;
        }
        a
    }

    #[test]
    fn inverse_times_matrix_is_identity() {
        let a = spd();
        let inv = inverse_spd(&a, N).unwrap();
        let id = mul(&a, &inv);
        for i in 0..N {
            for j in 0..N {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((id[i][j] - e).abs() < 1e-12, "{i} {j} {}", id[i][j]);
            }
        }
    }

    #[test]
    fn mahalanobis_matches_explicit_inverse() {
        let a = spd();
        let d = [1.0, -2.0, 0.5, 3.0, 0.0, -1.0];
        let l = cholesky(&a, N).unwrap();
        let inv = inverse_spd(&a, N).unwrap();
        let explicit: f64 = (0..N)
            .map(|i| (0..N).map(|j| d[i] * inv[i][j] * d[j]).sum::<f64>())
            .sum();
        assert!((mahalanobis(&l, &d, N) - explicit).abs() < 1e-12);
        // Position-only block.
        let inv3 = inverse_spd(&a, 3).unwrap();
        let e3: f64 = (0..3)
            .map(|i| (0..3).map(|j| d[i] * inv3[i][j] * d[j]).sum::<f64>())
            .sum();
        assert!((mahalanobis(&cholesky(&a, 3).unwrap(), &d, 3) - e3).abs() < 1e-12);
    }

    #[test]
    fn indefinite_matrix_is_an_error() {
        let mut a = spd();
        a[2][2] = -1.0;
        assert!(matches!(cholesky(&a, N), Err(Error::Numeric(_))));
    }

    #[test]
    fn jacobi_eigenvalues_match_characteristic_values() {
        // Eigenvalues of a similarity transform of a known diagonal: Q diag Qᵀ with a
        // product of rotations Q.
        let d = [0.5, 1.0, 2.0, 3.0, 7.0, 11.0];
        let mut q = identity6();
        for (p, r, angle) in [
            (0, 1, 0.3),
            (1, 4, -1.1),
            (2, 5, 0.7),
            (0, 3, 2.0),
            (3, 4, 0.2),
        ] {
            let mut j = identity6();
            let (c, s): (f64, f64) = (f64::cos(angle), f64::sin(angle));
            j[p][p] = c;
            j[r][r] = c;
            j[p][r] = -s;
            j[r][p] = s;
            q = mul(&q, &j);
        }
        let mut diag = ZERO6;
        for i in 0..N {
            diag[i][i] = d[i];
        }
        let a = congruence(&q, &diag);
        let mut e = jacobi_eigenvalues(&a);
        e.sort_by(f64::total_cmp);
        for i in 0..N {
            assert!((e[i] - d[i]).abs() < 1e-12, "{e:?}");
        }
        // The pencil (2a, a) has every eigenvalue 2.
        let r = relative_eigenvalues(&a, &scale(&a, 2.0)).unwrap();
        assert!(r.iter().all(|v| (v - 2.0).abs() < 1e-12), "{r:?}");
    }
}
