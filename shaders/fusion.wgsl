// Pairwise track-to-track fusion, shared by the `merge` and `fuse` kernels (the host
// prepends it after common.wgsl). CPU twin: `fuse::fuse_pair` (src/fuse.rs).
// method: 0 covariance intersection, 1 independent, 2 Bar-Shalom–Campo with correlation rho.

// Bisection steps for ω: as the CPU twin (f32 stops gaining after about 24).
const CI_ITERATIONS: u32 = 30u;
// Sweeps of cyclic Jacobi: as the CPU twin `linalg::jacobi_eigenvalues`.
const JACOBI_SWEEPS: u32 = 8u;

// Eigenvalues of the symmetric a (row-major 6×6) by cyclic Jacobi rotations, as the CPU
// twin; a rotation is skipped when its off-diagonal entry is below f32's resolution of
// its diagonal pair.
fn jacobi_eigenvalues(m: array<f32, 36>) -> array<f32, 6> {
    var a = m;
    for (var sweep = 0u; sweep < JACOBI_SWEEPS; sweep++) {
        for (var p = 0u; p < 5u; p++) {
            for (var q = p + 1u; q < 6u; q++) {
                let apq = a[p * 6u + q];
                let app = a[p * 6u + p];
                let aqq = a[q * 6u + q];
                if (abs(apq) <= 1e-7 * (abs(app) + abs(aqq))) {
                    continue;
                }
                let theta = (aqq - app) / (2.0 * apq);
                var t = 0.5 / theta;
                if (abs(theta) <= 1e10) {
                    // sign(0) would be 0: equal diagonals need a 45° rotation.
                    t = select(-1.0, 1.0, theta >= 0.0) / (abs(theta) + sqrt(theta * theta + 1.0));
                }
                let c = inverseSqrt(t * t + 1.0);
                let s = t * c;
                for (var k = 0u; k < 6u; k++) {
                    let akp = a[k * 6u + p];
                    let akq = a[k * 6u + q];
                    a[k * 6u + p] = c * akp - s * akq;
                    a[k * 6u + q] = s * akp + c * akq;
                }
                for (var k = 0u; k < 6u; k++) {
                    let apk = a[p * 6u + k];
                    let aqk = a[q * 6u + k];
                    a[p * 6u + k] = c * apk - s * aqk;
                    a[q * 6u + k] = s * apk + c * aqk;
                }
                a[p * 6u + q] = 0.0;
                a[q * 6u + p] = 0.0;
            }
        }
    }
    var e: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        e[i] = a[i * 6u + i];
    }
    return e;
}

// Eigenvalues of Pa⁻¹ Pb as those of L⁻¹ (D Pb D) L⁻ᵀ, with D Pa D = L Lᵀ the scaled
// factor (the CPU twin `linalg::relative_eigenvalues` factors Pa unscaled: the same
// matrix). `ok` is false when Pa is not positive definite.
struct Eigen {
    values: array<f32, 6>,
    ok: bool,
}

fn relative_eigenvalues(pa: array<f32, 36>, pb: array<f32, 36>) -> Eigen {
    var r: Eigen;
    let c = cholesky_scaled(pa, 6u);
    r.ok = c.ok;
    if (!c.ok) {
        return r;
    }
    // X = L⁻¹ (D Pb D), column by column, stored transposed (row j = column j).
    var xt: array<f32, 36>;
    for (var j = 0u; j < 6u; j++) {
        for (var i = 0u; i < 6u; i++) {
            var t = pb[i * 6u + j] * c.d[i] * c.d[j];
            for (var k = 0u; k < i; k++) {
                t -= c.l[i * 6u + k] * xt[j * 6u + k];
            }
            xt[j * 6u + i] = t / c.l[i * 6u + i];
        }
    }
    // M = L⁻¹ Xᵀ, column by column.
    var m: array<f32, 36>;
    for (var j = 0u; j < 6u; j++) {
        for (var i = 0u; i < 6u; i++) {
            var t = xt[i * 6u + j];
            for (var k = 0u; k < i; k++) {
                t -= c.l[i * 6u + k] * m[k * 6u + j];
            }
            m[i * 6u + j] = t / c.l[i * 6u + i];
        }
    }
    r.values = jacobi_eigenvalues(symmetrize(m));
    return r;
}

// g(ω) = Σ (λᵢ − 1) / (1 + ω(λᵢ − 1)): the derivative of ln det(ω Ya + (1−ω) Yb).
fn ci_slope(lambda: array<f32, 6>, w: f32) -> f32 {
    var g = 0.0;
    for (var i = 0u; i < 6u; i++) {
        g += (lambda[i] - 1.0) / (1.0 + w * (lambda[i] - 1.0));
    }
    return g;
}

// The covariance-intersection weight ω minimising det P(ω), by bisection on the sign of
// g, as the CPU twin `fuse::ci_weight`.
fn ci_weight(pa: array<f32, 36>, pb: array<f32, 36>) -> f32 {
    let e = relative_eigenvalues(pa, pb);
    if (!e.ok) {
        return 0.0;
    }
    var lambda = e.values;
    for (var i = 0u; i < 6u; i++) {
        lambda[i] = max(lambda[i], 1e-12);
    }
    if (!(ci_slope(lambda, 0.0) > 0.0)) {
        return 0.0;
    }
    if (!(ci_slope(lambda, 1.0) < 0.0)) {
        return 1.0;
    }
    var lo = 0.0;
    var hi = 1.0;
    for (var n = 0u; n < CI_ITERATIONS; n++) {
        let mid = 0.5 * (lo + hi);
        if (ci_slope(lambda, mid) > 0.0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return 0.5 * (lo + hi);
}

// Fuses b into a (the CPU twin's `fuse_pair`, in the difference form
// x = xa + K (xb − xa), which keeps f32's digits).
fn fuse_pair(a: Track, b: Track, method: u32, rho: f32) -> Track {
    var out: Track;
    var diff: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        diff[i] = b.state[i] - a.state[i];
    }
    if (method == 2u) {
        // Bar-Shalom–Campo: P12 = ρ La Lbᵀ, S = Pa + Pb − P12 − P21,
        // K = (Pa − P12) S⁻¹, x = xa + K Δ, P = Pa − K (Pa − P21).
        let la = lower_factor(a.cov);
        let lb = lower_factor(b.cov);
        var p12: array<f32, 36>;
        for (var i = 0u; i < 6u; i++) {
            for (var j = 0u; j < 6u; j++) {
                var s = 0.0;
                for (var k = 0u; k < 6u; k++) {
                    s += la[i * 6u + k] * lb[j * 6u + k];
                }
                p12[i * 6u + j] = rho * s;
            }
        }
        var sm: array<f32, 36>;
        var a12: array<f32, 36>;
        var a21: array<f32, 36>;
        for (var i = 0u; i < 6u; i++) {
            for (var j = 0u; j < 6u; j++) {
                let ij = i * 6u + j;
                sm[ij] = a.cov[ij] + b.cov[ij] - p12[ij] - p12[j * 6u + i];
                a12[ij] = a.cov[ij] - p12[ij];
                a21[ij] = a.cov[ij] - p12[j * 6u + i];
            }
        }
        let s_inv = chol_inverse(cholesky_scaled(symmetrize(sm), 6u));
        let k = mat_mul(a12, s_inv);
        let ka = mat_mul(k, a21);
        for (var i = 0u; i < 6u; i++) {
            var s = 0.0;
            for (var j = 0u; j < 6u; j++) {
                s += k[i * 6u + j] * diff[j];
            }
            out.state[i] = a.state[i] + s;
        }
        for (var i = 0u; i < 36u; i++) {
            out.cov[i] = a.cov[i] - ka[i];
        }
        out.cov = symmetrize(out.cov);
        return out;
    }
    let ya = chol_inverse(cholesky_scaled(a.cov, 6u));
    let yb = chol_inverse(cholesky_scaled(b.cov, 6u));
    var wa = 1.0;
    var wb = 1.0;
    if (method == 0u) {
        wa = ci_weight(a.cov, b.cov);
        wb = 1.0 - wa;
    }
    var y: array<f32, 36>;
    var ybw: array<f32, 36>;
    for (var i = 0u; i < 36u; i++) {
        ybw[i] = wb * yb[i];
        y[i] = wa * ya[i] + ybw[i];
    }
    let p = chol_inverse(cholesky_scaled(y, 6u));
    // x = xa + P wb Yb (xb − xa)
    var g: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        var s = 0.0;
        for (var j = 0u; j < 6u; j++) {
            s += ybw[i * 6u + j] * diff[j];
        }
        g[i] = s;
    }
    for (var i = 0u; i < 6u; i++) {
        var s = 0.0;
        for (var j = 0u; j < 6u; j++) {
            s += p[i * 6u + j] * g[j];
        }
        out.state[i] = a.state[i] + s;
    }
    out.cov = p;
    return out;
}

