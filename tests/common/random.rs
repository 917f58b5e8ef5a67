//! Random track inputs shared by the kernel parity tests (tests/gpu.rs) and the kernel
//! benches (benches/kernels.rs), so that both exercise the same kind of data.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use trackcorr::geo;
use trackcorr::linalg::{Mat6, Vec6};

/// A random covariance: `A Aᵀ + diag`, with position and velocity scales of real tracks.
pub fn random_cov(rng: &mut ChaCha8Rng) -> Mat6 {
    let scale = [300.0, 300.0, 300.0, 20.0, 20.0, 20.0];
    let a: [[f64; 6]; 6] =
        std::array::from_fn(|i| std::array::from_fn(|_| rng.random_range(-1.0..1.0) * scale[i]));
    std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            let s: f64 = (0..6).map(|k| a[i][k] * a[j][k]).sum();
            s + if i == j {
                0.1 * scale[i] * scale[i]
            } else {
                0.0
            }
        })
    })
}

/// A state 50–500 km up within about 500 km of geodetic (0.6, 0.8) rad, moving at up to
/// 3 km/s.
pub fn random_state(rng: &mut ChaCha8Rng) -> Vec6 {
    let p = geo::geodetic_to_ecef(
        0.6 + rng.random_range(-0.08..0.08),
        0.8 + rng.random_range(-0.08..0.08),
        rng.random_range(50e3..500e3),
    );
    [
        p[0],
        p[1],
        p[2],
        rng.random_range(-3e3..3e3),
        rng.random_range(-3e3..3e3),
        rng.random_range(-2e3..2e3),
    ]
}

/// Tracks of one object as `n` sensors would report it: a common truth plus each track's
/// own error drawn from its covariance's scale.
pub fn tracks_of_one_object(rng: &mut ChaCha8Rng, n: usize) -> Vec<(Vec6, Mat6)> {
    let truth = random_state(rng);
    (0..n)
        .map(|_| {
            let cov = random_cov(rng);
            let x =
                std::array::from_fn(|i| truth[i] + rng.random_range(-1.0..1.0) * cov[i][i].sqrt());
            (x, cov)
        })
        .collect()
}
