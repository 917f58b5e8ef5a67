//! GPU kernels against their CPU twins. Without an adapter these tests skip with a message,
//! unless `TRACKCORR_REQUIRE_GPU=1` (as in CI, on lavapipe), when they fail.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trackcorr::fuse::{self, FusionMethod};
use trackcorr::gate::Gate;
use trackcorr::geo;
use trackcorr::gpu::associate::{AssociationKernels, FORBIDDEN};
use trackcorr::gpu::propagate::{PropagateJob, Propagator};
use trackcorr::gpu::{self, GpuOptions, GpuTrack};
use trackcorr::linalg::{Mat6, Vec6};
use trackcorr::propagate::{MotionModel, Propagation, propagate};

const FUSION: &str = include_str!("../shaders/fusion.wgsl");

/// Every kernel, as the host compiles it (common code first, then the kernel's libraries).
const KERNELS: &[(&str, &str, &str)] = &[
    ("propagate", "", include_str!("../shaders/propagate.wgsl")),
    ("gate", "", include_str!("../shaders/gate.wgsl")),
    ("merge", FUSION, include_str!("../shaders/merge.wgsl")),
    ("fuse", FUSION, include_str!("../shaders/fuse.wgsl")),
];

#[test]
fn every_shader_parses_and_validates() {
    for (name, library, source) in KERNELS {
        let code = format!("{}\n{library}\n{source}", gpu::COMMON_WGSL);
        let module = naga::front::wgsl::parse_str(&code)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&code)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

/// A random covariance: `A Aᵀ + diag`, with position and velocity scales of real tracks.
fn random_cov(rng: &mut ChaCha8Rng) -> Mat6 {
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

/// A state 50–500 km up somewhere within 500 km of `centre`, moving at up to 3 km/s.
fn random_state(rng: &mut ChaCha8Rng) -> Vec6 {
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

fn assert_close(
    what: &str,
    cpu: &(Vec6, Mat6),
    gpu: &(Vec6, Mat6),
    pos_tol: f64,
    vel_tol: f64,
    cov_rel: f64,
) {
    for i in 0..6 {
        let tol = if i < 3 { pos_tol } else { vel_tol };
        assert!(
            (cpu.0[i] - gpu.0[i]).abs() <= tol,
            "{what}: state[{i}] cpu {} gpu {}",
            cpu.0[i],
            gpu.0[i]
        );
        for j in 0..6 {
            let scale = (cpu.1[i][i] * cpu.1[j][j]).sqrt();
            assert!(
                (cpu.1[i][j] - gpu.1[i][j]).abs() <= cov_rel * scale,
                "{what}: cov[{i}][{j}] cpu {} gpu {}",
                cpu.1[i][j],
                gpu.1[i][j]
            );
        }
    }
}

#[test]
fn propagate_matches_cpu_on_random_tracks() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let kernel = Propagator::new(&ctx).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let estimates: Vec<(Vec6, Mat6)> = (0..300)
        .map(|_| (random_state(&mut rng), random_cov(&mut rng)))
        .collect();
    let origin = geo::geodetic_to_ecef(0.6, 0.8, 0.0);
    let tracks: Vec<GpuTrack> = estimates
        .iter()
        .map(|(x, p)| GpuTrack::from_f64(x, p, &origin))
        .collect();
    let jobs: Vec<PropagateJob> = (0..1000)
        .map(|k| PropagateJob {
            report: (k % 300) as u32,
            dt: rng.random_range(-2.0f32..8.0),
        })
        .collect();
    for model in [MotionModel::ConstantVelocity, MotionModel::Ballistic] {
        let params = Propagation {
            model,
            ..Propagation::default()
        };
        let out = kernel.run(&ctx, &tracks, &jobs, &params, &origin).unwrap();
        for (job, g) in jobs.iter().zip(&out) {
            // The CPU twin starts from the same (f32-rounded) input.
            let (x, p) = tracks[job.report as usize].to_f64(&origin);
            let cpu = propagate(&x, &p, f64::from(job.dt), &params);
            assert_close(
                &format!("{model:?} dt {}", job.dt),
                &cpu,
                &g.to_f64(&origin),
                0.5,
                0.01,
                1e-3,
            );
        }
    }
}

/// Tracks of one object as several sensors would report it: a common truth plus each
/// track's own error drawn from its covariance's scale.
fn tracks_of_one_object(rng: &mut ChaCha8Rng, n: usize) -> Vec<(Vec6, Mat6)> {
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

#[test]
fn gate_matches_cpu_chi_square() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let kernels = AssociationKernels::new(&ctx).unwrap();
    let gate = Gate::new(0.99).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let origin = geo::geodetic_to_ecef(0.6, 0.8, 0.0);
    for rho in [0.0, 0.3] {
        // Half the rows near the clusters' objects, half anywhere: costs on both sides of the gate.
        let objects: Vec<Vec<(Vec6, Mat6)>> =
            (0..12).map(|_| tracks_of_one_object(&mut rng, 2)).collect();
        let clusters: Vec<(Vec6, Mat6, u32)> = objects
            .iter()
            .enumerate()
            .map(|(k, o)| (o[0].0, o[0].1, if k % 4 == 0 { 3 } else { 6 }))
            .collect();
        let rows: Vec<(Vec6, Mat6, u32)> = objects.iter().map(|o| (o[1].0, o[1].1, 6)).collect();
        let to_gpu = |v: &[(Vec6, Mat6, u32)]| -> Vec<(GpuTrack, u32)> {
            v.iter()
                .map(|(x, p, d)| (GpuTrack::from_f64(x, p, &origin), *d))
                .collect()
        };
        let (gr, gc) = (to_gpu(&rows), to_gpu(&clusters));
        let costs = kernels.gate_costs(&ctx, &gr, &gc, &gate, rho).unwrap();
        let mut inside = 0;
        for (i, r) in gr.iter().enumerate() {
            for (j, c) in gc.iter().enumerate() {
                let (xr, pr) = r.0.to_f64(&origin);
                let (xc, pc) = c.0.to_f64(&origin);
                let dim = r.1.min(c.1) as usize;
                let d2 = trackcorr::gate::chi_square(&xr, &pr, &xc, &pc, rho, dim);
                let g = gate.threshold(dim);
                let got = costs[i * gc.len() + j];
                if d2 <= g {
                    inside += 1;
                    assert!(
                        (f64::from(got) - d2 / g).abs() < 1e-3,
                        "rho {rho} ({i},{j}): gpu {got} cpu {}",
                        d2 / g
                    );
                } else if d2 > 1.001 * g {
                    assert_eq!(
                        got, FORBIDDEN,
                        "rho {rho} ({i},{j}): cpu d² {d2} beyond the gate {g}"
                    );
                }
            }
        }
        assert!(inside >= 6, "only {inside} pairs inside the gate");
    }
}

#[test]
fn fuse_matches_cpu_for_every_method() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let kernels = AssociationKernels::new(&ctx).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let origin = geo::geodetic_to_ecef(0.6, 0.8, 0.0);
    let mut tracks = Vec::new();
    let mut groups = Vec::new();
    for k in 0..200 {
        let n = 1 + k % 4;
        let start = tracks.len() as u32;
        for (x, p) in tracks_of_one_object(&mut rng, n) {
            tracks.push(GpuTrack::from_f64(&x, &p, &origin));
        }
        groups.push((start..start + n as u32).collect::<Vec<u32>>());
    }
    for method in [
        FusionMethod::CovarianceIntersection,
        FusionMethod::Independent,
        FusionMethod::BarShalomCampo,
    ] {
        let out = kernels
            .fuse_groups(&ctx, &tracks, &groups, method, 0.25)
            .unwrap();
        for (g, fused) in groups.iter().zip(&out) {
            let members: Vec<(Vec6, Mat6)> = g
                .iter()
                .map(|&i| tracks[i as usize].to_f64(&origin))
                .collect();
            let cpu = fuse::fuse_all(&members, method, 0.25).unwrap();
            assert_close(
                &format!("{method:?} group of {}", g.len()),
                &cpu,
                &fused.to_f64(&origin),
                0.5,
                0.05,
                1e-2,
            );
        }
    }
}
