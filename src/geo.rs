//! WGS84 geodesy and the Earth's gravity field in the Earth-centred, Earth-fixed frame.

/// WGS84 semi-major axis (m).
pub const A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const F: f64 = 1.0 / 298.257_223_563;
/// First eccentricity squared.
pub const E2: f64 = F * (2.0 - F);
/// Earth's gravitational parameter GM (m³/s²), WGS84.
pub const GM: f64 = 3.986_004_418e14;
/// Second zonal harmonic J2 (EGM96, unnormalised).
pub const J2: f64 = 1.082_626_68e-3;
/// Earth's rotation rate (rad/s), WGS84.
pub const OMEGA: f64 = 7.292_115e-5;

/// A 3-vector.
pub type V3 = [f64; 3];

pub fn dot(a: &V3, b: &V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn norm(a: &V3) -> f64 {
    dot(a, a).sqrt()
}

pub fn sub(a: &V3, b: &V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn add(a: &V3, b: &V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub fn scale(a: &V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

pub fn cross(a: &V3, b: &V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub fn unit(a: &V3) -> V3 {
    scale(a, 1.0 / norm(a))
}

/// Geodetic latitude and longitude (radians) and ellipsoidal height (m) to ECEF.
pub fn geodetic_to_ecef(lat: f64, lon: f64, alt: f64) -> V3 {
    let (sl, cl) = lat.sin_cos();
    let n = A / (1.0 - E2 * sl * sl).sqrt();
    let (so, co) = lon.sin_cos();
    [
        (n + alt) * cl * co,
        (n + alt) * cl * so,
        (n * (1.0 - E2) + alt) * sl,
    ]
}

/// ECEF to geodetic `(lat, lon, alt)` by fixed-point iteration on the latitude
/// (converges to well below a millimetre in a few steps for heights under 10 000 km).
pub fn ecef_to_geodetic(p: &V3) -> (f64, f64, f64) {
    let lon = p[1].atan2(p[0]);
    let rho = p[0].hypot(p[1]);
    let mut lat = p[2].atan2(rho * (1.0 - E2));
    let mut alt = 0.0;
    for _ in 0..6 {
        let sl = lat.sin();
        let n = A / (1.0 - E2 * sl * sl).sqrt();
        alt = if lat.cos().abs() > 1e-9 {
            rho / lat.cos() - n
        } else {
            p[2].abs() - n * (1.0 - E2)
        };
        lat = p[2].atan2(rho * (1.0 - E2 * n / (n + alt)));
    }
    (lat, lon, alt)
}

/// Height above the ellipsoid of an ECEF point.
pub fn altitude(p: &V3) -> f64 {
    ecef_to_geodetic(p).2
}

/// East, north and up unit vectors at a geodetic position.
pub fn enu_basis(lat: f64, lon: f64) -> [V3; 3] {
    let (sl, cl) = lat.sin_cos();
    let (so, co) = lon.sin_cos();
    [
        [-so, co, 0.0],
        [-sl * co, -sl * so, cl],
        [cl * co, cl * so, sl],
    ]
}

/// Gravitational acceleration with the J2 term, in ECEF (m/s²).
pub fn gravity_j2(p: &V3) -> V3 {
    let r2 = dot(p, p);
    let r = r2.sqrt();
    let mu_r3 = GM / (r2 * r);
    let k = 1.5 * J2 * (A * A / r2);
    let z2 = p[2] * p[2] / r2;
    let fxy = 1.0 + k * (1.0 - 5.0 * z2);
    let fz = 1.0 + k * (3.0 - 5.0 * z2);
    [-mu_r3 * p[0] * fxy, -mu_r3 * p[1] * fxy, -mu_r3 * p[2] * fz]
}

/// Acceleration of a free-falling body in the rotating ECEF frame: gravity with J2, the
/// Coriolis term −2ω×v and the centrifugal term −ω×(ω×r).
pub fn ballistic_acceleration(p: &V3, v: &V3) -> V3 {
    let g = gravity_j2(p);
    let w = OMEGA;
    // ω = (0, 0, w): −2ω×v = (2w·vy, −2w·vx, 0); −ω×(ω×r) = (w²x, w²y, 0).
    [
        g[0] + 2.0 * w * v[1] + w * w * p[0],
        g[1] - 2.0 * w * v[0] + w * w * p[1],
        g[2],
    ]
}

/// Great-circle-like ground distance between two ECEF points, measured as the chord of their
/// projections on the ellipsoid (close enough to the arc for errors under a few hundred km).
pub fn ground_distance(a: &V3, b: &V3) -> f64 {
    let (la, oa, _) = ecef_to_geodetic(a);
    let (lb, ob, _) = ecef_to_geodetic(b);
    norm(&sub(
        &geodetic_to_ecef(la, oa, 0.0),
        &geodetic_to_ecef(lb, ob, 0.0),
    ))
}

/// Range, azimuth (from north, clockwise) and elevation of `target` seen from a site.
pub fn range_az_el(site: &V3, basis: &[V3; 3], target: &V3) -> (f64, f64, f64) {
    let d = sub(target, site);
    let e = dot(&d, &basis[0]);
    let n = dot(&d, &basis[1]);
    let u = dot(&d, &basis[2]);
    let r = norm(&d);
    (r, e.atan2(n), (u / r).asin())
}

/// The ECEF offset of a point at range, azimuth, elevation from a site.
pub fn from_range_az_el(basis: &[V3; 3], r: f64, az: f64, el: f64) -> V3 {
    let (se, ce) = el.sin_cos();
    let (sa, ca) = az.sin_cos();
    let e = r * ce * sa;
    let n = r * ce * ca;
    let u = r * se;
    [
        e * basis[0][0] + n * basis[1][0] + u * basis[2][0],
        e * basis[0][1] + n * basis[1][1] + u * basis[2][1],
        e * basis[0][2] + n * basis[1][2] + u * basis[2][2],
    ]
}

/// A point at `distance` metres and `azimuth` (radians from north) from a geodetic origin,
/// on a local sphere of the Earth's mean radius (good to a fraction of a per cent, which is
/// all that scenario layout needs).
pub fn offset_geodetic(lat: f64, lon: f64, azimuth: f64, distance: f64) -> (f64, f64) {
    let r = 6_371_000.0;
    let d = distance / r;
    let lat2 = (lat.sin() * d.cos() + lat.cos() * d.sin() * azimuth.cos()).asin();
    let lon2 = lon + (azimuth.sin() * d.sin() * lat.cos()).atan2(d.cos() - lat.sin() * lat2.sin());
    (lat2, lon2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geodetic_round_trip() {
        for &(lat, lon, alt) in &[
            (0.3_f64, 1.2_f64, 0.0),
            (-0.9, -2.5, 120_000.0),
            (1.2, 0.1, 1_500.0),
        ] {
            let p = geodetic_to_ecef(lat, lon, alt);
            let (la, lo, al) = ecef_to_geodetic(&p);
            assert!((la - lat).abs() < 1e-11);
            assert!((lo - lon).abs() < 1e-12);
            assert!((al - alt).abs() < 1e-4, "{al} vs {alt}");
        }
    }

    #[test]
    fn gravity_at_equator_and_pole() {
        // Known values of the attraction (without centrifugal term) for GM and J2.
        let eq = gravity_j2(&[A, 0.0, 0.0]);
        assert!((norm(&eq) - 9.8140).abs() < 2e-3, "{}", norm(&eq));
        let b = A * (1.0 - F);
        let pole = gravity_j2(&[0.0, 0.0, b]);
        assert!((norm(&pole) - 9.8322).abs() < 2e-3, "{}", norm(&pole));
        // The effective gravity at the equator, with the centrifugal term: 9.7803 m/s².
        let eff = ballistic_acceleration(&[A, 0.0, 0.0], &[0.0; 3]);
        assert!((norm(&eff) - 9.7803).abs() < 2e-3, "{}", norm(&eff));
    }

    #[test]
    fn range_az_el_round_trip() {
        let (lat, lon) = (0.6, 0.8);
        let site = geodetic_to_ecef(lat, lon, 100.0);
        let basis = enu_basis(lat, lon);
        let target = add(&site, &from_range_az_el(&basis, 250_000.0, 1.1, 0.2));
        let (r, az, el) = range_az_el(&site, &basis, &target);
        assert!((r - 250_000.0).abs() < 1e-6);
        assert!((az - 1.1).abs() < 1e-12);
        assert!((el - 0.2).abs() < 1e-12);
    }

    #[test]
    fn offset_keeps_distance() {
        let (lat, lon) = (0.5, 0.9);
        let (l2, o2) = offset_geodetic(lat, lon, 1.0, 100_000.0);
        let d = ground_distance(
            &geodetic_to_ecef(lat, lon, 0.0),
            &geodetic_to_ecef(l2, o2, 0.0),
        );
        assert!((d - 100_000.0).abs() < 500.0, "{d}");
    }
}
