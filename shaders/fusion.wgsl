// Pairwise track-to-track fusion, shared by the `merge` and `fuse` kernels (the host
// prepends it after common.wgsl). CPU twin: `fuse::fuse_pair` (src/fuse.rs).
// method: 0 covariance intersection, 1 independent, 2 Bar-Shalom–Campo with correlation rho.

// Bisection steps for ω: as the CPU twin (f32 stops gaining after about 24).
const CI_ITERATIONS: u32 = 30u;

// The weight ω minimising det P(ω), by bisection on the sign of the derivative of
// −ln det(ω Ya + (1−ω) Yb), as the CPU twin `fuse::ci_weight`.
fn ci_slope(ya: array<f32, 36>, yb: array<f32, 36>, w: f32) -> f32 {
    var y: array<f32, 36>;
    for (var i = 0u; i < 36u; i++) {
        y[i] = w * ya[i] + (1.0 - w) * yb[i];
    }
    let c = cholesky_scaled(y, 6u);
    if (!c.ok) {
        return 0.0;
    }
    let p = chol_inverse(c);
    var s = 0.0;
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j < 6u; j++) {
            s += p[i * 6u + j] * (ya[j * 6u + i] - yb[j * 6u + i]);
        }
    }
    return -s;
}

fn ci_weight(ya: array<f32, 36>, yb: array<f32, 36>) -> f32 {
    if (!(ci_slope(ya, yb, 0.0) < 0.0)) {
        return 0.0;
    }
    if (!(ci_slope(ya, yb, 1.0) > 0.0)) {
        return 1.0;
    }
    var lo = 0.0;
    var hi = 1.0;
    for (var n = 0u; n < CI_ITERATIONS; n++) {
        let mid = 0.5 * (lo + hi);
        if (ci_slope(ya, yb, mid) < 0.0) {
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
        wa = ci_weight(ya, yb);
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

