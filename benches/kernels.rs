//! Each GPU kernel against its CPU twin, on the same deterministic inputs: one criterion group
//! per stage (`propagate`, `gate`, `fuse`, `assign`), `cpu…` and `gpu…` benches side by side,
//! throughput in the stage's items.
//!
//! A GPU bench times what its host API does: upload, dispatch, wait and read-back (not the
//! adapter's start or the pipeline's compilation). A CPU bench times its twin on one thread,
//! over inputs already converted to f64 (from the same f32 values the GPU sees).
//!
//! Without a GPU adapter the GPU benches are skipped with a message and the CPU benches
//! still run. On a CPU Vulkan device (Mesa's llvmpipe) the first dispatch of a kernel
//! compiles it (up to a minute or more; later runs hit Mesa's disk cache), so each kernel is
//! called once, untimed, before criterion measures it (also when a name filter leaves its
//! bench out); and kernel calls take long there, so the groups sample flat
//! (`SamplingMode::Flat`) with few samples. llvmpipe compiles the propagate kernel again at
//! every call, which only Mesa's disk cache makes cheap: with `MESA_SHADER_CACHE_DISABLE`
//! the propagate GPU bench measures compilation (about 15 s a call).
//!
//! `TRACKCORR_BENCH_SCALE=K` multiplies every batch (tracks, gating rows, fused groups,
//! assignment problems) by K: the default sizes keep llvmpipe's calls short but leave a real
//! GPU idle, its time then being mostly the submission and the read-back.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trackcorr::assign::{Problem, solve_auction, solve_exact};
use trackcorr::fuse::{FusionMethod, fuse_all};
use trackcorr::gate::{Gate, chi_square};
use trackcorr::geo;
use trackcorr::gpu::assign::{AuctionKernel, MIN_RELATIVE_EPSILON, RELATIVE_BOUND, cpu_options};
use trackcorr::gpu::associate::AssociationKernels;
use trackcorr::gpu::propagate::{PropagateJob, Propagator};
use trackcorr::gpu::{self, GpuContext, GpuOptions, GpuTrack};
use trackcorr::linalg::{Mat6, Vec6};
use trackcorr::propagate::{MotionModel, Propagation, propagate};

// The same random inputs as the parity tests in tests/gpu.rs.
#[path = "../tests/common/random.rs"]
mod random;
use random::{random_cov, random_state, tracks_of_one_object};

/// The factor every batch size below is multiplied by: `TRACKCORR_BENCH_SCALE`, else 1.
fn scale() -> usize {
    std::env::var("TRACKCORR_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&k| k > 0)
        .unwrap_or(1)
}

/// Tracks propagated per call.
const PROPAGATE_TRACKS: usize = 4096;
/// One gating problem: rows (one sensor's tracks) against clusters.
const GATE_ROWS: usize = 64;
const GATE_CLUSTERS: usize = 64;
/// System tracks fused per call, of 2 or 3 members each.
const FUSE_GROUPS: usize = 4096;
/// Assignment problems per batch, each `ASSIGN_SIZE × ASSIGN_SIZE`.
const ASSIGN_PROBLEMS: usize = 256;
const ASSIGN_SIZE: usize = 64;

/// The reference point the GPU's f32 states are relative to.
fn origin() -> [f64; 3] {
    geo::geodetic_to_ecef(0.6, 0.8, 0.0)
}

/// The context for the GPU benches, or `None` (said on stderr) without an adapter.
fn gpu_context() -> Option<GpuContext> {
    match GpuContext::new(&GpuOptions::default()) {
        Ok(ctx) => {
            eprintln!(
                "GPU benches on {} ({}, {} {})",
                ctx.adapter.name,
                ctx.adapter.device_type,
                ctx.adapter.driver,
                ctx.adapter.driver_info
            );
            Some(ctx)
        }
        Err(e) if gpu::gpu_required() => {
            panic!("TRACKCORR_REQUIRE_GPU=1 but no usable GPU: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: GPU benches need a GPU adapter ({e}); running the CPU benches only"
            );
            None
        }
    }
}

/// Calls `f` once, untimed, so that the kernel's first-dispatch compilation stays out of the
/// measurement; says how long it took.
fn warm_up<T>(kernel: &str, f: impl FnOnce() -> T) {
    eprintln!("warming up the {kernel} kernel (its first dispatch may compile it) ...");
    let started = Instant::now();
    drop(f());
    eprintln!(
        "warmed up the {kernel} kernel in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A group sampled flat (a GPU call takes long on llvmpipe), counting `items` per iteration.
fn group<'a>(c: &'a mut Criterion, name: &str, items: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(items as u64));
    group
}

/// Propagation of `PROPAGATE_TRACKS` tracks (ballistic model), one job per track.
fn bench_propagate(c: &mut Criterion, gpu: Option<&GpuContext>) {
    let n_tracks = PROPAGATE_TRACKS * scale();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let origin = origin();
    let tracks: Vec<GpuTrack> = (0..n_tracks)
        .map(|_| GpuTrack::from_f64(&random_state(&mut rng), &random_cov(&mut rng), &origin))
        .collect();
    // Fusion epochs are whole seconds and a track is live for 1.5 report intervals (2–4 s).
    let jobs: Vec<PropagateJob> = (0..n_tracks)
        .map(|k| PropagateJob {
            report: k as u32,
            dt: rng.random_range(0.1f32..6.0),
        })
        .collect();
    let params = Propagation {
        model: MotionModel::Ballistic,
        ..Propagation::default()
    };
    // The CPU twin starts from the same (f32-rounded) input.
    let cpu_inputs: Vec<(Vec6, Mat6, f64)> = jobs
        .iter()
        .map(|job| {
            let (x, p) = tracks[job.report as usize].to_f64(&origin);
            (x, p, f64::from(job.dt))
        })
        .collect();

    let mut group = group(c, "propagate", n_tracks);
    let size = n_tracks.to_string();
    group.bench_function(BenchmarkId::new("cpu", &size), |b| {
        b.iter(|| {
            black_box(&cpu_inputs)
                .iter()
                .map(|(x, p, dt)| propagate(x, p, *dt, &params))
                .collect::<Vec<_>>()
        })
    });
    if let Some(ctx) = gpu {
        let kernel = Propagator::new(ctx).expect("compiling the propagate kernel");
        let run = || {
            kernel
                .run(ctx, black_box(&tracks), black_box(&jobs), &params, &origin)
                .expect("GPU propagation")
        };
        warm_up("propagate", run);
        group.bench_function(BenchmarkId::new("gpu", &size), |b| b.iter(run));
    }
    group.finish();
}

/// Gating costs of one problem, `GATE_ROWS · scale × GATE_CLUSTERS` pair tests: each row near its
/// cluster (inside the gate or close to it), far from the others. A quarter of the clusters
/// are position-only (gated on 3 degrees of freedom), as in tests/gpu.rs.
fn bench_gate(c: &mut Criterion, gpu: Option<&GpuContext>) {
    let n_rows = GATE_ROWS * scale();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let origin = origin();
    let gate = Gate::new(0.99).expect("the gate's chi-square quantiles");
    let rho = 0.0;
    let objects: Vec<Vec<(Vec6, Mat6)>> = (0..n_rows.max(GATE_CLUSTERS))
        .map(|_| tracks_of_one_object(&mut rng, 2))
        .collect();
    let to_gpu = |(x, p): &(Vec6, Mat6), dim: u32| (GpuTrack::from_f64(x, p, &origin), dim);
    let clusters: Vec<(GpuTrack, u32)> = objects[..GATE_CLUSTERS]
        .iter()
        .enumerate()
        .map(|(k, o)| to_gpu(&o[0], if k % 4 == 0 { 3 } else { 6 }))
        .collect();
    let rows: Vec<(GpuTrack, u32)> = objects[..n_rows].iter().map(|o| to_gpu(&o[1], 6)).collect();
    let to_cpu = |v: &[(GpuTrack, u32)]| -> Vec<(Vec6, Mat6, usize)> {
        v.iter()
            .map(|(t, d)| {
                let (x, p) = t.to_f64(&origin);
                (x, p, *d as usize)
            })
            .collect()
    };
    let (cpu_rows, cpu_clusters) = (to_cpu(&rows), to_cpu(&clusters));

    let pairs = n_rows * GATE_CLUSTERS;
    let mut group = group(c, "gate", pairs);
    let size = format!("{n_rows}x{GATE_CLUSTERS}");
    // The cost loop of `associate_epoch`: d²/gate inside the gate, forbidden beyond it.
    group.bench_function(BenchmarkId::new("cpu", &size), |b| {
        b.iter(|| {
            let mut cost = vec![f64::INFINITY; pairs];
            for (i, (xr, pr, dr)) in black_box(&cpu_rows).iter().enumerate() {
                for (j, (xc, pc, dc)) in black_box(&cpu_clusters).iter().enumerate() {
                    let dim = (*dr).min(*dc);
                    let d2 = chi_square(xr, pr, xc, pc, rho, dim);
                    let g = gate.threshold(dim);
                    if d2 <= g {
                        cost[i * GATE_CLUSTERS + j] = d2 / g;
                    }
                }
            }
            cost
        })
    });
    if let Some(ctx) = gpu {
        let kernels = AssociationKernels::new(ctx).expect("compiling the association kernels");
        let run = || {
            kernels
                .gate_costs(ctx, black_box(&rows), black_box(&clusters), &gate, rho)
                .expect("GPU gating")
        };
        warm_up("gate", run);
        group.bench_function(BenchmarkId::new("gpu", &size), |b| b.iter(run));
    }
    group.finish();
}

/// Covariance intersection of `FUSE_GROUPS · scale` system tracks of 2 or 3 members (one fused
/// track, and one or two pairwise fusions, each).
fn bench_fuse(c: &mut Criterion, gpu: Option<&GpuContext>) {
    let n_groups = FUSE_GROUPS * scale();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let origin = origin();
    let method = FusionMethod::CovarianceIntersection;
    let rho = 0.0;
    let mut tracks = Vec::new();
    let mut groups = Vec::with_capacity(n_groups);
    for k in 0..n_groups {
        let n = 2 + k % 2;
        let start = tracks.len() as u32;
        for (x, p) in tracks_of_one_object(&mut rng, n) {
            tracks.push(GpuTrack::from_f64(&x, &p, &origin));
        }
        groups.push((start..start + n as u32).collect::<Vec<u32>>());
    }
    let cpu_groups: Vec<Vec<(Vec6, Mat6)>> = groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|&i| tracks[i as usize].to_f64(&origin))
                .collect()
        })
        .collect();

    let mut group = group(c, "fuse", n_groups);
    let size = n_groups.to_string();
    group.bench_function(BenchmarkId::new("cpu", &size), |b| {
        b.iter(|| {
            black_box(&cpu_groups)
                .iter()
                .map(|members| fuse_all(members, method, rho).expect("CPU fusion"))
                .collect::<Vec<_>>()
        })
    });
    if let Some(ctx) = gpu {
        let kernels = AssociationKernels::new(ctx).expect("compiling the association kernels");
        let run = || {
            kernels
                .fuse_groups(ctx, black_box(&tracks), black_box(&groups), method, rho)
                .expect("GPU fusion")
        };
        warm_up("fuse", run);
        group.bench_function(BenchmarkId::new("gpu", &size), |b| b.iter(run));
    }
    group.finish();
}

/// A gated problem as the pipeline makes them: costs `d²/gate` in [0, 1] (f32 values, so
/// that the CPU sees the kernel's costs), ~30 % forbidden, non-assignment cost 1.
fn random_gated(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Problem {
    let cost = (0..rows * cols)
        .map(|_| {
            if rng.random_bool(0.3) {
                f64::INFINITY
            } else {
                f64::from(rng.random::<f32>())
            }
        })
        .collect();
    Problem {
        rows,
        cols,
        cost,
        miss: Some(1.0),
    }
}

/// A batch of `ASSIGN_PROBLEMS · scale` gated problems: the GPU auction against the exact solver and
/// the CPU auction under the kernel's ε schedule (its twin).
fn bench_assign(c: &mut Criterion, gpu: Option<&GpuContext>) {
    let n_problems = ASSIGN_PROBLEMS * scale();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let problems: Vec<Problem> = (0..n_problems)
        .map(|_| random_gated(&mut rng, ASSIGN_SIZE, ASSIGN_SIZE))
        .collect();
    // The kernel's last ε for these problems: cost scale 1 (`miss`), padded size rows + cols.
    let padded = (2 * ASSIGN_SIZE) as f32;
    let epsilon = f64::from((RELATIVE_BOUND / padded).max(MIN_RELATIVE_EPSILON));
    let twin = cpu_options(epsilon);

    let mut group = group(c, "assign", n_problems);
    let size = format!("{n_problems}x{ASSIGN_SIZE}x{ASSIGN_SIZE}");
    group.bench_function(BenchmarkId::new("cpu-exact", &size), |b| {
        b.iter(|| {
            black_box(&problems)
                .iter()
                .map(|p| solve_exact(p).expect("CPU exact assignment"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function(BenchmarkId::new("cpu-auction", &size), |b| {
        b.iter(|| {
            black_box(&problems)
                .iter()
                .map(|p| solve_auction(p, &twin).expect("CPU auction"))
                .collect::<Vec<_>>()
        })
    });
    if let Some(ctx) = gpu {
        let kernel = AuctionKernel::new(ctx).expect("compiling the auction kernel");
        let run = || {
            kernel
                .solve_batch(ctx, black_box(&problems))
                .expect("GPU auction")
        };
        warm_up("assign", run);
        group.bench_function(BenchmarkId::new("gpu-auction", &size), |b| b.iter(run));
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    let gpu = gpu_context();
    bench_propagate(c, gpu.as_ref());
    bench_gate(c, gpu.as_ref());
    bench_fuse(c, gpu.as_ref());
    bench_assign(c, gpu.as_ref());
}

criterion_group! {
    name = benches;
    // Few, short samples: a GPU call on llvmpipe takes up to seconds. The command line
    // (`--sample-size`, `--measurement-time`, `--warm-up-time`) overrides these.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = kernels
}
criterion_main!(benches);
