// The motion models, shared by the kernels that predict tracks (the host prepends this file
// to them, after common.wgsl). CPU twin: src/propagate.rs.

// WGS84 and EGM96, as src/geo.rs.
const GM: f32 = 3.986004418e14;
const J2: f32 = 1.08262668e-3;
const RE: f32 = 6378137.0;
const OMEGA: f32 = 7.292115e-5;

// ds/dt of the ballistic model; s is relative to the origin.
fn derivative(origin: vec3<f32>, s: array<f32, 6>) -> array<f32, 6> {
    let p = origin + vec3<f32>(s[0], s[1], s[2]);
    let r2 = dot(p, p);
    let r = sqrt(r2);
    let mu_r3 = GM / (r2 * r);
    let k = 1.5 * J2 * (RE * RE / r2);
    let z2 = p.z * p.z / r2;
    let fxy = 1.0 + k * (1.0 - 5.0 * z2);
    let fz = 1.0 + k * (3.0 - 5.0 * z2);
    var d: array<f32, 6>;
    d[0] = s[3];
    d[1] = s[4];
    d[2] = s[5];
    d[3] = -mu_r3 * p.x * fxy + 2.0 * OMEGA * s[4] + OMEGA * OMEGA * p.x;
    d[4] = -mu_r3 * p.y * fxy - 2.0 * OMEGA * s[3] + OMEGA * OMEGA * p.y;
    d[5] = -mu_r3 * p.z * fz;
    return d;
}

// A(s) Φ, where A is the Jacobian of `derivative` with central gravity's gradient (as the
// CPU twin): A = [[0, I], [G, C]] with G the gravity gradient plus the centrifugal term and
// C the Coriolis block. Skipping A's zeros takes a quarter of a full 6×6 product; the upper
// rows are Φ's lower rows. CPU twin: `propagate::stm_rate`.
fn stm_rate(origin: vec3<f32>, s: array<f32, 6>, phi: array<f32, 36>) -> array<f32, 36> {
    let p = origin + vec3<f32>(s[0], s[1], s[2]);
    let r2 = dot(p, p);
    let k = GM / (r2 * sqrt(r2));
    let gxx = k * (3.0 * p.x * p.x / r2 - 1.0) + OMEGA * OMEGA;
    let gyy = k * (3.0 * p.y * p.y / r2 - 1.0) + OMEGA * OMEGA;
    let gzz = k * (3.0 * p.z * p.z / r2 - 1.0);
    let gxy = k * (3.0 * p.x * p.y / r2);
    let gxz = k * (3.0 * p.x * p.z / r2);
    let gyz = k * (3.0 * p.y * p.z / r2);
    var m: array<f32, 36>;
    for (var j = 0u; j < 6u; j++) {
        let x = phi[j];
        let y = phi[6u + j];
        let z = phi[12u + j];
        let vx = phi[18u + j];
        let vy = phi[24u + j];
        m[j] = vx;
        m[6u + j] = vy;
        m[12u + j] = phi[30u + j];
        m[18u + j] = gxx * x + gxy * y + gxz * z + 2.0 * OMEGA * vy;
        m[24u + j] = gxy * x + gyy * y + gyz * z - 2.0 * OMEGA * vx;
        m[30u + j] = gxz * x + gyz * y + gzz * z;
    }
    return m;
}

fn axpy(s: array<f32, 6>, h: f32, k: array<f32, 6>) -> array<f32, 6> {
    var r: array<f32, 6>;
    for (var i = 0u; i < 6u; i++) {
        r[i] = s[i] + h * k[i];
    }
    return r;
}

fn mat_axpy(a: array<f32, 36>, h: f32, b: array<f32, 36>) -> array<f32, 36> {
    var r: array<f32, 36>;
    for (var i = 0u; i < 36u; i++) {
        r[i] = a[i] + h * b[i];
    }
    return r;
}


// A track moved by dt seconds: RK4 on the state and the state-transition matrix Φ together
// (model 0: constant velocity, 1: ballistic), P' = Φ P Φᵀ + white-noise acceleration q.
// CPU twin: `propagate::propagate`.
fn propagate_track(origin: vec3<f32>, x: array<f32, 6>, p: array<f32, 36>, dt: f32, q: f32,
                   max_step: f32, model: u32) -> Track {
    var s = x;
    var phi: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        phi[i * 6u + i] = 1.0;
    }
    if (model == 0u) {
        for (var i = 0u; i < 3u; i++) {
            s[i] += dt * s[i + 3u];
            phi[i * 6u + i + 3u] = dt;
        }
    } else if (dt != 0.0) {
        // RK4 on the state and Φ together, as the CPU twin.
        let steps = max(u32(ceil(abs(dt) / max_step)), 1u);
        let h = dt / f32(steps);
        for (var n = 0u; n < steps; n++) {
            // The stages' slopes of Φ are summed (1, 2, 2, 1) as they come, so that fewer
            // 6×6 matrices are live at once: each costs 36 registers.
            let k1 = derivative(origin, s);
            let m1 = stm_rate(origin, s, phi);
            let s2 = axpy(s, h / 2.0, k1);
            let k2 = derivative(origin, s2);
            let m2 = stm_rate(origin, s2, mat_axpy(phi, h / 2.0, m1));
            var rate = mat_axpy(m1, 2.0, m2);
            let s3 = axpy(s, h / 2.0, k2);
            let k3 = derivative(origin, s3);
            let m3 = stm_rate(origin, s3, mat_axpy(phi, h / 2.0, m2));
            rate = mat_axpy(rate, 2.0, m3);
            let s4 = axpy(s, h, k3);
            let k4 = derivative(origin, s4);
            let m4 = stm_rate(origin, s4, mat_axpy(phi, h, m3));
            rate = mat_axpy(rate, 1.0, m4);
            for (var i = 0u; i < 6u; i++) {
                s[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            phi = mat_axpy(phi, h / 6.0, rate);
        }
    }
    var p1 = congruence(phi, p);
    if (dt != 0.0) {
        p1 = add_process_noise(p1, q, dt);
    }
    var moved: Track;
    moved.state = s;
    moved.cov = symmetrize(p1);
    return moved;
}

// P plus white-noise acceleration q over dt; the cross term is negative backward in time.
// CPU twin: `propagate::process_noise`.
fn add_process_noise(p: array<f32, 36>, q: f32, dt: f32) -> array<f32, 36> {
    var p1 = p;
    let a = abs(dt);
    for (var i = 0u; i < 3u; i++) {
        p1[i * 6u + i] += q * a * a * a / 3.0;
        p1[i * 6u + i + 3u] += q * dt * a / 2.0;
        p1[(i + 3u) * 6u + i] += q * dt * a / 2.0;
        p1[(i + 3u) * 6u + i + 3u] += q * a;
    }
    return p1;
}

// A step of dt seconds within an antenna turn, from the time a track was predicted to on to a
// detection stamped later (to gate it, then to update with it): the acceleration at x held
// constant, the transition of constant velocity, white-noise acceleration q. CPU twin:
// `propagate::shift`.
fn shift_track(origin: vec3<f32>, x: array<f32, 6>, p: array<f32, 36>, dt: f32, q: f32) -> Track {
    let d = derivative(origin, x);
    var s = x;
    var phi: array<f32, 36>;
    for (var i = 0u; i < 6u; i++) {
        phi[i * 6u + i] = 1.0;
    }
    for (var i = 0u; i < 3u; i++) {
        s[i] = x[i] + dt * x[i + 3u] + 0.5 * dt * dt * d[i + 3u];
        s[i + 3u] = x[i + 3u] + dt * d[i + 3u];
        phi[i * 6u + i + 3u] = dt;
    }
    var moved: Track;
    moved.state = s;
    moved.cov = symmetrize(add_process_noise(congruence(phi, p), q, dt));
    return moved;
}
