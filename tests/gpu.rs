//! GPU kernels against their CPU twins. Without an adapter these tests skip with a message,
//! unless `TRACKCORR_REQUIRE_GPU=1` (as in CI, on lavapipe), when they fail.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use trackcorr::assign::problems::read_problems;
use trackcorr::assign::{Problem, solve_auction, solve_exact};
use trackcorr::error::Error;
use trackcorr::fuse::{self, FusionMethod};
use trackcorr::gate::Gate;
use trackcorr::geo;
use trackcorr::gpu::assign::{AuctionKernel, GPU_WORKGROUP, cpu_options};
use trackcorr::gpu::associate::{AssociationKernels, FORBIDDEN};
use trackcorr::gpu::propagate::{PropagateJob, Propagator};
use trackcorr::gpu::{self, GpuOptions, GpuTrack};
use trackcorr::linalg::{Mat6, Vec6};
use trackcorr::propagate::{MotionModel, Propagation, propagate};

#[path = "common/random.rs"]
mod random;
use random::{random_cov, random_state, tracks_of_one_object};

const FUSION: &str = include_str!("../shaders/fusion.wgsl");
const BALLISTIC: &str = include_str!("../shaders/ballistic.wgsl");

/// Every kernel, as the host compiles it (common code first, then the kernel's libraries).
const KERNELS: &[(&str, &str, &str)] = &[
    (
        "propagate",
        BALLISTIC,
        include_str!("../shaders/propagate.wgsl"),
    ),
    ("gate", "", include_str!("../shaders/gate.wgsl")),
    ("merge", FUSION, include_str!("../shaders/merge.wgsl")),
    ("fuse", FUSION, include_str!("../shaders/fuse.wgsl")),
    ("assign", "", include_str!("../shaders/assign.wgsl")),
    ("history", "", include_str!("../shaders/history.wgsl")),
    ("track", BALLISTIC, include_str!("../shaders/track.wgsl")),
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

/// The kernel as `AuctionKernel::new` makes it for this adapter and, if that differs, as a
/// GPU would run it, so that both workgroup sizes are tested on llvmpipe.
fn auction_kernels(ctx: &gpu::GpuContext) -> Vec<AuctionKernel> {
    let default = AuctionKernel::new(ctx).unwrap();
    let mut kernels = vec![];
    if default.workgroup() != GPU_WORKGROUP {
        kernels.push(AuctionKernel::with_workgroup(ctx, GPU_WORKGROUP).unwrap());
    }
    kernels.insert(0, default);
    kernels
}

/// scipy's reference problems, all in one batch: within the stated bound of the optimum,
/// with scipy's assigned count.
#[test]
fn auction_matches_scipy_on_reference_problems() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/lap_scipy.txt");
    let named = read_problems(&path).unwrap();
    let problems: Vec<Problem> = named.iter().map(|n| n.problem.clone()).collect();
    for kernel in auction_kernels(&ctx) {
        let started = Instant::now();
        let solutions = kernel.solve_batch_detailed(&ctx, &problems).unwrap();
        eprintln!(
            "reference batch: {} problems in {:.3} s on {}, {} threads per problem",
            problems.len(),
            started.elapsed().as_secs_f64(),
            ctx.adapter.name,
            kernel.workgroup()
        );
        check_reference(&named, &solutions);
    }
}

fn check_reference(
    named: &[trackcorr::assign::problems::NamedProblem],
    solutions: &[trackcorr::gpu::assign::GpuAuctionSolution],
) {
    for (n, s) in named.iter().zip(solutions) {
        let gap = s.solution.total - n.optimum;
        eprintln!(
            "{:14} gap {gap:10.3e} bound {:10.3e} bids {:6} phases {}",
            n.name, s.bound, s.bids, s.phases
        );
        // The f64 sums of two optimal assignments may differ by rounding.
        let rounding = 1e-12 * n.optimum.abs().max(1.0);
        assert!(
            gap >= -rounding && gap <= s.bound + rounding,
            "{}: GPU total {} vs scipy {} (bound {})",
            n.name,
            s.solution.total,
            n.optimum,
            s.bound
        );
        assert_eq!(s.solution.assigned(), n.assigned, "{}", n.name);
    }
}

/// A gated problem with `miss`: costs in [0, 1] (f32 values, so that the CPU twin sees the
/// kernel's costs), ~30 % forbidden.
fn random_gated(rng: &mut ChaCha8Rng, max_rows: usize, max_cols: usize) -> Problem {
    let rows = rng.random_range(1..=max_rows);
    let cols = rng.random_range(1..=max_cols);
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

/// 500 random gated problems in one batch against the CPU twin under the kernel's ε
/// schedule: the same assignment, except where f32 and f64 rounding resolve a near-tie
/// differently, which must then be within the bound of the exact optimum (counted).
#[test]
fn auction_matches_cpu_twin_on_random_gated_problems() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let problems: Vec<Problem> = (0..500).map(|_| random_gated(&mut rng, 30, 30)).collect();
    for kernel in auction_kernels(&ctx) {
        let started = Instant::now();
        let gpu = kernel.solve_batch_detailed(&ctx, &problems).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let differ = compare_with_twin(&problems, &gpu);
        eprintln!(
            "random batch: 500 problems in {seconds:.3} s on {}, {} threads per problem; \
             {differ} differ from the CPU twin (near-ties within the bound)",
            ctx.adapter.name,
            kernel.workgroup()
        );
        // Near-ties are rare with continuous costs; many would mean the kernel does not
        // mirror the twin.
        assert!(differ <= 5, "{differ} of 500 differ from the CPU twin");
    }
}

/// Problems whose GPU assignment differs from the CPU twin's; every GPU total must be
/// within its bound of the exact optimum.
fn compare_with_twin(
    problems: &[Problem],
    gpu: &[trackcorr::gpu::assign::GpuAuctionSolution],
) -> usize {
    let mut differ = 0;
    for (k, (p, g)) in problems.iter().zip(gpu).enumerate() {
        let cpu = solve_auction(p, &cpu_options(g.epsilon)).unwrap();
        let exact = solve_exact(p).unwrap();
        let gap = g.solution.total - exact.total;
        assert!(
            gap >= -1e-12 && gap <= g.bound,
            "problem {k}: GPU {} exact {} bound {}",
            g.solution.total,
            exact.total,
            g.bound
        );
        if cpu.solution.row_to_col != g.solution.row_to_col {
            differ += 1;
            let cpu_gap = cpu.solution.total - exact.total;
            eprintln!(
                "problem {k} ({} × {}): GPU and CPU twin differ; gaps to the optimum {gap:.3e} \
                 and {cpu_gap:.3e}, bound {:.3e}",
                p.rows, p.cols, g.bound
            );
        }
    }
    differ
}

/// More problems than one dimension of workgroups holds: the 2-D grid.
#[test]
fn auction_runs_more_problems_than_one_grid_dimension() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let count = ctx.limits.max_compute_workgroups_per_dimension as usize + 4465;
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let problems: Vec<Problem> = (0..count)
        .map(|k| {
            let mut p = random_gated(&mut rng, 3, 3);
            if k % 2 == 1 {
                // Without `miss`, and without forbidden pairs so that all are feasible.
                p.cost.iter_mut().for_each(|c| *c = c.min(2.0));
                p.miss = None;
            }
            p
        })
        .collect();
    let kernel = AuctionKernel::new(&ctx).unwrap();
    let started = Instant::now();
    let gpu = kernel.solve_batch_detailed(&ctx, &problems).unwrap();
    eprintln!(
        "{count} tiny problems in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    for (k, (p, g)) in problems.iter().zip(&gpu).enumerate() {
        let exact = solve_exact(p).unwrap();
        let gap = g.solution.total - exact.total;
        assert!(
            gap >= -1e-12 && gap <= g.bound,
            "problem {k}: GPU {} exact {}",
            g.solution.total,
            exact.total
        );
    }
}

/// Infeasible problems are caught on the host, huge costs and runaway auctions are errors.
#[test]
fn auction_reports_bad_problems() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let mut kernel = AuctionKernel::new(&ctx).unwrap();
    let fine = Problem {
        rows: 2,
        cols: 2,
        cost: vec![1.0, 2.0, 2.0, 1.0],
        miss: None,
    };
    let infeasible = Problem {
        cost: vec![1.0, f64::INFINITY, 2.0, f64::INFINITY],
        ..fine.clone()
    };
    let huge = Problem {
        cost: vec![1.0, 2.0, 1e20, 1.0],
        ..fine.clone()
    };
    match kernel.solve_batch(&ctx, &[fine.clone(), infeasible]) {
        Err(Error::Infeasible(m)) => assert!(m.contains("problem 1"), "{m}"),
        other => panic!("expected Infeasible, got {other:?}"),
    }
    assert!(matches!(
        kernel.solve_batch(&ctx, &[huge]),
        Err(Error::Numeric(_))
    ));
    kernel.bids_per_person = 1;
    match kernel.solve_batch(&ctx, &[fine.clone(), fine]) {
        Err(Error::Numeric(m)) => assert!(m.contains("problem 0"), "{m}"),
        other => panic!("expected Numeric, got {other:?}"),
    }
    assert!(kernel.solve_batch(&ctx, &[]).unwrap().is_empty());
    assert!(matches!(
        AuctionKernel::with_workgroup(&ctx, 3),
        Err(Error::Config(_))
    ));
    let single = AuctionKernel::with_workgroup(&ctx, 1).unwrap();
    let large = Problem {
        rows: 200,
        cols: 200,
        cost: vec![1.0; 40_000],
        miss: None,
    };
    match single.solve_batch(&ctx, &[large]) {
        Err(Error::Config(m)) => assert!(m.contains("beyond the GPU auction's limits"), "{m}"),
        other => panic!("expected Config, got {other:?}"),
    }
}

/// Empty, one-sided, all-forbidden, tied, negative and wide-ranged problems, in one batch,
/// against the exact solver.
#[test]
fn auction_handles_edge_cases() {
    let Some(ctx) = gpu::test_context(&GpuOptions::default()) else {
        return;
    };
    let inf = f64::INFINITY;
    let p = |rows: usize, cols: usize, cost: Vec<f64>, miss: Option<f64>| Problem {
        rows,
        cols,
        cost,
        miss,
    };
    let problems = vec![
        p(0, 0, vec![], None),
        p(0, 3, vec![], Some(1.0)),
        p(3, 0, vec![], Some(1.0)),
        p(3, 0, vec![], None),
        p(0, 2, vec![], None),
        p(1, 1, vec![inf], Some(2.0)),
        p(2, 2, vec![inf; 4], Some(0.5)),
        p(3, 2, vec![1.0, 2.0, 3.0, 1.0, 0.5, 0.5], None),
        p(2, 3, vec![1.0, inf, 3.0, inf, inf, 0.5], None),
        p(4, 4, vec![1.0; 16], None),
        p(4, 4, vec![1.0; 16], Some(1.0)),
        p(2, 2, vec![-3.0, -1.0, -2.0, -5.0], Some(-1.5)),
        p(
            3,
            3,
            vec![1e6, 1.0, 2.0, 3.0, 1e6, 5.0, 0.0, 7.0, 1e6],
            None,
        ),
        p(2, 2, vec![1e17, -1e17, 0.0, 1.0], None),
    ];
    for kernel in auction_kernels(&ctx) {
        let gpu = kernel.solve_batch_detailed(&ctx, &problems).unwrap();
        for (k, (p, g)) in problems.iter().zip(&gpu).enumerate() {
            let exact = solve_exact(p).unwrap();
            let gap = g.solution.total - exact.total;
            assert!(
                gap.abs() <= g.bound.max(1e-12 * exact.total.abs()),
                "problem {k}: GPU {:?} ({}) exact {:?} ({}) bound {}",
                g.solution.row_to_col,
                g.solution.total,
                exact.row_to_col,
                exact.total,
                g.bound
            );
            assert_eq!(g.solution.row_to_col.len(), p.rows);
        }
    }
}

/// `trackcorr bench assign --backend gpu`: one line per problem, the auction's results.
#[test]
fn bench_assign_on_the_gpu() {
    if gpu::test_context(&GpuOptions::default()).is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("trackcorr-gpu-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let problems = dir.join("problems.txt");
    std::fs::write(
        &problems,
        "problem square rows 2 cols 2 miss none optimum 3 assigned 2\n\
         1 2\n\
         3 2\n\
         \n\
         problem gated rows 3 cols 2 miss 10 optimum 14.5 assigned 2\n\
         1 inf\n\
         inf inf\n\
         2 3.5\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trackcorr"))
        .args(["bench", "assign", "--solver", "auction", "--backend", "gpu"])
        .arg("--problems")
        .arg(&problems)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (fields, (name, total, assigned)) in lines
        .iter()
        .zip([("square", 3.0, "2"), ("gated", 14.5, "2")])
    {
        assert_eq!(fields.len(), 4, "{stdout}");
        assert_eq!(fields[0], name);
        // Within the bound 2·n·ε (here below 0.2) of the optimum.
        let gap = fields[1].parse::<f64>().unwrap() - total;
        assert!((0.0..0.2).contains(&gap), "{stdout}");
        assert_eq!(fields[2], assigned);
        assert!(fields[3].parse::<f64>().unwrap() >= 0.0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
