// Shared by every kernel: the host prepends this file to each kernel's source.
// Keep in sync with src/linalg.rs (the CPU twins' arithmetic) and src/gpu/mod.rs.

// A track estimate relative to the batch's reference point: [x, y, z, vx, vy, vz] and its
// covariance, row-major. Keep in sync with `GpuTrack` in src/gpu/mod.rs.
struct Track {
    state: array<f32, 6>,
    cov: array<f32, 36>,
}

// One sensor's tracks at one epoch against that epoch's clusters (gate and merge). Keep in
// sync with `StageProblem` in src/gpu/associate.rs.
struct StageProblem {
    // Global index of the first row's track; rows are consecutive.
    row_start: u32,
    rows: u32,
    // Upper bound on the clusters (slots `slot_base .. slot_base + cols`); the live count is
    // `counts[count_in]`.
    cols: u32,
    cost_offset: u32,
    slot_base: u32,
    count_in: u32,
    count_out: u32,
    _pad: u32,
}

const WORKGROUP: u32 = 64u;

// One index from a 2-D grid of workgroups (the host folds large dispatches into 2-D).
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WORKGROUP + lid;
}

fn mat_mul(a: array<f32, 36>, b: array<f32, 36>) -> array<f32, 36> {
    var c: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j < 6u; j++) {
            var s = 0.0;
            for (var k = 0u; k < 6u; k++) {
                s += a[i * 6u + k] * b[k * 6u + j];
            }
            c[i * 6u + j] = s;
        }
    }
    return c;
}

// F P Fᵀ
fn congruence(f: array<f32, 36>, p: array<f32, 36>) -> array<f32, 36> {
    let fp = mat_mul(f, p);
    var c: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j < 6u; j++) {
            var s = 0.0;
            for (var k = 0u; k < 6u; k++) {
                s += fp[i * 6u + k] * f[j * 6u + k];
            }
            c[i * 6u + j] = s;
        }
    }
    return c;
}

fn symmetrize(a: array<f32, 36>) -> array<f32, 36> {
    var s = a;
    for (var i = 0u; i < 6u; i++) {
        for (var j = i + 1u; j < 6u; j++) {
            let m = 0.5 * (a[i * 6u + j] + a[j * 6u + i]);
            s[i * 6u + j] = m;
            s[j * 6u + i] = m;
        }
    }
    return s;
}

// Result of a Cholesky factorisation of the leading dim×dim block of a matrix scaled to unit
// diagonal: f32 keeps its digits only when the entries are of one size, and a track's
// position (1e5 m²) and velocity (1e2 m²/s²) variances are not.
struct Chol {
    l: array<f32, 36>,
    // 1/sqrt(a_ii): the scaling D of D A D.
    d: array<f32, 6>,
    ok: bool,
}

fn cholesky_scaled(a: array<f32, 36>, dim: u32) -> Chol {
    var r: Chol;
    r.ok = true;
    for (var i = 0u; i < dim; i++) {
        if (a[i * 6u + i] <= 0.0) {
            r.ok = false;
            return r;
        }
        r.d[i] = inverseSqrt(a[i * 6u + i]);
    }
    for (var j = 0u; j < dim; j++) {
        var s = a[j * 6u + j] * r.d[j] * r.d[j];
        for (var k = 0u; k < j; k++) {
            s -= r.l[j * 6u + k] * r.l[j * 6u + k];
        }
        if (s <= 1e-6) {
            r.ok = false;
            return r;
        }
        let ljj = sqrt(s);
        r.l[j * 6u + j] = ljj;
        for (var i = j + 1u; i < dim; i++) {
            var t = a[i * 6u + j] * r.d[i] * r.d[j];
            for (var k = 0u; k < j; k++) {
                t -= r.l[i * 6u + k] * r.l[j * 6u + k];
            }
            r.l[i * 6u + j] = t / ljj;
        }
    }
    return r;
}

// xᵀ A⁻¹ x on the leading dim entries, given the scaled factor of A.
fn mahalanobis(c: Chol, x: array<f32, 6>, dim: u32) -> f32 {
    var y: array<f32, 6>;
    var s = 0.0;
    for (var i = 0u; i < dim; i++) {
        var t = x[i] * c.d[i];
        for (var k = 0u; k < i; k++) {
            t -= c.l[i * 6u + k] * y[k];
        }
        y[i] = t / c.l[i * 6u + i];
        s += y[i] * y[i];
    }
    return s;
}

// A⁻¹ b for the factored A (dim 6).
fn chol_solve(c: Chol, b: array<f32, 6>) -> array<f32, 6> {
    var y: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        var t = b[i] * c.d[i];
        for (var k = 0u; k < i; k++) {
            t -= c.l[i * 6u + k] * y[k];
        }
        y[i] = t / c.l[i * 6u + i];
    }
    var x: array<f32, 6>;
    for (var ii = 0u; ii < 6u; ii++) {
        let i = 5u - ii;
        var t = y[i];
        for (var k = i + 1u; k < 6u; k++) {
            t -= c.l[k * 6u + i] * x[k];
        }
        x[i] = t / c.l[i * 6u + i];
    }
    for (var i = 0u; i < 6u; i++) {
        x[i] *= c.d[i];
    }
    return x;
}

// A⁻¹ for the factored A (dim 6), symmetrised.
fn chol_inverse(c: Chol) -> array<f32, 36> {
    var inv: array<f32, 36>;
    for (var j = 0u; j < 6u; j++) {
        var e: array<f32, 6>;
        e[j] = 1.0;
        let col = chol_solve(c, e);
        for (var i = 0u; i < 6u; i++) {
            inv[i * 6u + j] = col[i];
        }
    }
    return symmetrize(inv);
}

// Unscaled lower Cholesky factor L (A = L Lᵀ).
fn lower_factor(a: array<f32, 36>) -> array<f32, 36> {
    let c = cholesky_scaled(a, 6u);
    var l: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        for (var j = 0u; j <= i; j++) {
            l[i * 6u + j] = c.l[i * 6u + j] / c.d[i];
        }
    }
    return l;
}

