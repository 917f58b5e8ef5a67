//! The correlation pipeline on the GPU, chunk by chunk: everything of a chunk (all epochs of
//! all its replays) is propagated, gated, assigned and merged in one submission with one
//! read-back; the host then runs the hysteresis scan (sequential in time, small) and a
//! second submission fuses the system tracks.
//!
//! The plan of which track is live at which epoch, the stage problems and the hysteresis
//! are the CPU path's own code ([`crate::correlate`], [`crate::associate::Hysteresis`]).

use super::assign::{AuctionKernel, GpuOutcome, GpuProblem};
use super::associate::{AssociationKernels, FuseParams, GateParams, GpuGroup, StageProblem};
use super::propagate::{PropagateJob, PropagateParams, Propagator};
use super::stitch::Stitcher;
use super::{GpuContext, GpuOptions, GpuTrack, cast_vec};
use crate::associate::{self, Assignment, EpochTrack, Hysteresis, SdCounts, SystemGroup};
use crate::correlate::{
    Config, Correlation, CpuRerun, Epoch, EpochPlan, LiveTrack, ReplayInput, ReplayResult,
    StageTimes, SystemTrack, epoch_plan, split_replays,
};
use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::io::ReportSet;
use crate::propagate::propagate;
use rayon::prelude::*;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The kernels, compiled once per run.
pub struct GpuBackend {
    pub ctx: GpuContext,
    propagate: Propagator,
    kernels: AssociationKernels,
    auction: AuctionKernel,
    /// The hand-over kernel, compiled when a chunk first has candidates.
    stitcher: OnceLock<Stitcher>,
    /// On a GPU error (device lost, out of memory), rerun the failed chunk and the rest on
    /// the CPU instead of stopping (`--backend auto`).
    pub cpu_fallback: bool,
    /// Fail this chunk (from 0) as a lost device would; from [`INJECT_FAULT`].
    pub inject_fault: Option<usize>,
    /// Chunks run so far, over every call (a run correlates its input a batch at a time).
    chunks: AtomicUsize,
    /// The first GPU error under `cpu_fallback`: a lost device stays lost, so every chunk
    /// from there on, in this call and the later ones, goes to the CPU.
    lost: OnceLock<String>,
}

/// Propagations and pair tests one chunk (one submission) may hold, whatever the buffers
/// allow: a submission stays short, so that a desktop driver's watchdog (2 s on Windows)
/// never resets the device. On an H100 such a chunk takes a few hundredths of a second
/// (BENCHMARKS.md), leaving a margin for GPUs twenty times slower.
pub const MAX_CHUNK_PROPAGATIONS: u64 = 1 << 18;
pub const MAX_CHUNK_PAIR_TESTS: u64 = 1 << 23;

/// Environment variable that makes chunk N (from 0) of a GPU correlation fail as a lost
/// device would: how the tests and a user check the fallback and the no-partial-output
/// promise without breaking a GPU.
pub const INJECT_FAULT: &str = "TRACKCORR_INJECT_GPU_FAULT";

/// The chunk that [`INJECT_FAULT`] names, if any.
pub fn injected_fault() -> Option<usize> {
    std::env::var(INJECT_FAULT)
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// Runs chunk number `chunk` on the GPU (`run`), unless the device is already `lost`: the
/// chunk loop of `correlate`, `track` and `history`. A GPU error, or the fault `inject` names
/// (as a lost device), stops the run; under `cpu_fallback` (`--backend auto`) it is kept in
/// `lost` instead and the answer is `None`: this chunk and every later one go to the CPU.
pub fn gpu_unless_lost<T>(
    chunk: usize,
    inject: Option<usize>,
    cpu_fallback: bool,
    lost: &mut Option<String>,
    run: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    if lost.is_some() {
        return Ok(None);
    }
    let result = if inject == Some(chunk) {
        Err(Error::Gpu(format!(
            "device lost (injected by {INJECT_FAULT}={chunk})"
        )))
    } else {
        run()
    };
    match result {
        Ok(t) => Ok(Some(t)),
        Err(Error::Gpu(e)) if cpu_fallback => {
            *lost = Some(e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Auction rounds recorded per stage: one finishes the association's small problems; the
/// second is a margin, a no-op for finished problems.
const AUCTION_ROUNDS: usize = 1;

/// What one chunk's association left on the GPU, for `verify`.
#[derive(Clone, Debug, Default)]
pub struct ChunkTrace {
    /// Propagated tracks (absolute), in job order.
    pub propagated: Vec<(crate::linalg::Vec6, crate::linalg::Mat6)>,
    /// Per-epoch cluster of each job.
    pub clusters: Vec<u32>,
    /// The auction's column for each job (-1: none), and the gating costs.
    pub assignment: Vec<i32>,
    pub costs: Vec<f32>,
}

/// One epoch of a chunk: replay index in the chunk, time, first job, number of jobs.
struct EpochSlot {
    replay: usize,
    time: f64,
    start: usize,
    len: usize,
}

impl GpuBackend {
    pub fn new(opts: &GpuOptions) -> Result<Self> {
        Self::with_context(GpuContext::new(opts)?)
    }

    /// Compiles the kernels on an open device.
    pub fn with_context(ctx: GpuContext) -> Result<Self> {
        // The kernels compile side by side: the driver's compiler runs on the calling thread
        // (error scopes are per thread, so each compile keeps its own).
        let (propagate, kernels, auction) = std::thread::scope(|s| {
            let kernels = s.spawn(|| AssociationKernels::new(&ctx));
            let propagate = Propagator::new(&ctx);
            let auction = AuctionKernel::new(&ctx);
            (
                propagate,
                super::joined(kernels, "association kernels"),
                auction,
            )
        });
        Ok(GpuBackend {
            propagate: propagate?,
            kernels: kernels?,
            auction: auction?,
            stitcher: OnceLock::new(),
            ctx,
            cpu_fallback: false,
            chunks: AtomicUsize::new(0),
            lost: OnceLock::new(),
            inject_fault: injected_fault(),
        })
    }

    /// Runs the pipeline on all replays of `set`; with `trace`, also returns what each
    /// chunk's association produced.
    pub fn correlate(
        &self,
        set: &ReportSet,
        cfg: &Config,
        mut progress: impl FnMut(usize, usize),
        mut trace: Option<&mut Vec<ChunkTrace>>,
    ) -> Result<Correlation> {
        cfg.validate()?;
        let gate = Gate::new(cfg.gate_probability)?;
        let inputs = split_replays(&set.reports, cfg);
        let plans: Vec<EpochPlan> = inputs
            .par_iter()
            .map(|i| epoch_plan(i, cfg.epoch_interval))
            .collect();
        let mut times = StageTimes::default();
        let mut replays = Vec::with_capacity(inputs.len());
        let mut cpu_reruns = Vec::new();
        let mut start = 0;
        while start < inputs.len() {
            let end = self.chunk_end(&inputs, &plans, start)?;
            let chunk = self.chunks.fetch_add(1, Ordering::Relaxed);
            let mut lost = self.lost.get().cloned();
            let on_gpu = gpu_unless_lost(
                chunk,
                self.inject_fault,
                self.cpu_fallback,
                &mut lost,
                || {
                    self.run_chunk(
                        &inputs[start..end],
                        &plans[start..end],
                        cfg,
                        &gate,
                        trace.as_deref_mut(),
                    )
                },
            )?
            .map(|(results, t)| {
                times.add(&t);
                results
            });
            if let Some(e) = lost {
                let _ = self.lost.set(e);
            }
            let results = match on_gpu {
                Some(results) => results,
                None => {
                    let corr =
                        crate::correlate::correlate_inputs(&inputs[start..end], cfg, |_, _| {})?;
                    times.add(&corr.times);
                    cpu_reruns.push(CpuRerun {
                        replays: inputs[start..end].iter().map(|i| i.replay).collect(),
                        gpu_error: self.lost.get().cloned().unwrap_or_default(),
                    });
                    corr.replays
                }
            };
            replays.extend(results);
            start = end;
            progress(replays.len(), inputs.len());
        }
        Ok(Correlation {
            replays,
            times,
            config: *cfg,
            cpu_reruns,
            registration: Vec::new(),
        })
    }

    /// The end of the chunk starting at `start`: as many replays as the binding limit takes,
    /// and no more than [`MAX_CHUNK_PROPAGATIONS`] and [`MAX_CHUNK_PAIR_TESTS`] allow (a
    /// replay alone may exceed those).
    fn chunk_end(
        &self,
        inputs: &[ReplayInput],
        plans: &[EpochPlan],
        start: usize,
    ) -> Result<usize> {
        let limit = self.ctx.max_binding_bytes;
        let track = size_of::<GpuTrack>() as u64;
        let (mut jobs, mut reports, mut costs, mut scratch) = (0u64, 0u64, 0u64, 0u64);
        let mut end = start;
        while end < inputs.len() {
            let j: u64 = plans[end].iter().map(|(_, l)| l.len() as u64).sum();
            let c: u64 = plans[end]
                .iter()
                .map(|(_, l)| (l.len() * l.len()) as u64)
                .sum();
            // Auction scratch (12 + 3 (rows + cols) words per problem): each epoch's n tracks
            // are rows once, and a stage's columns are the tracks before it.
            let w: u64 = plans[end]
                .iter()
                .map(|(_, l)| {
                    let n = l.len() as u64;
                    15 * n + 3 * n * n.saturating_sub(1) / 2
                })
                .sum();
            let r = inputs[end].reports.len() as u64;
            let fits = (jobs + j) * track <= limit
                && (reports + r) * track <= limit
                && (costs + c) * 4 <= limit
                && (scratch + w) * 4 <= limit;
            let short = jobs + j <= MAX_CHUNK_PROPAGATIONS && costs + c <= MAX_CHUNK_PAIR_TESTS;
            if fits && !short && end > start {
                break;
            }
            if !fits {
                if end == start {
                    return Err(Error::Config(format!(
                        "replay {} needs more than the GPU's {} MiB per buffer ({j} propagations, \
                         {r} reports, {c} costs, {w} auction words); use --backend cpu",
                        inputs[end].replay,
                        limit >> 20
                    )));
                }
                break;
            }
            jobs += j;
            reports += r;
            costs += c;
            scratch += w;
            end += 1;
        }
        Ok(end)
    }

    #[allow(clippy::too_many_lines, reason = "one chunk's pipeline, step by step")]
    fn run_chunk(
        &self,
        inputs: &[ReplayInput],
        plans: &[EpochPlan],
        cfg: &Config,
        gate: &Gate,
        trace: Option<&mut Vec<ChunkTrace>>,
    ) -> Result<(Vec<ReplayResult>, StageTimes)> {
        let ctx = &self.ctx;
        let mut times = StageTimes::default();
        let t0 = Instant::now();

        // Reports relative to the chunk's mean position, so that f32 keeps millimetres.
        let n_reports: usize = inputs.iter().map(|i| i.reports.len()).sum();
        let mut origin = [0.0; 3];
        for r in inputs.iter().flat_map(|i| i.reports) {
            for k in 0..3 {
                origin[k] += r.state[k] / n_reports as f64;
            }
        }
        let mut report_offset = Vec::with_capacity(inputs.len());
        let mut gpu_reports = Vec::with_capacity(n_reports);
        for i in inputs {
            report_offset.push(gpu_reports.len());
            gpu_reports.extend(
                i.reports
                    .iter()
                    .map(|r| GpuTrack::from_f64(&r.state, &r.cov, &origin)),
            );
        }

        // The S-D assignment is a branch and bound, no GPU work: it runs on the host on the
        // tracks the GPU propagated, so the stage problems and their buffers are not made.
        let sd = cfg.assignment == Assignment::Sd;

        // Jobs (one per live track per epoch), epochs, and the stage problems.
        let mut jobs = Vec::new();
        let mut dims = Vec::new();
        let mut epochs = Vec::new();
        let mut stages: Vec<Vec<StageProblem>> = Vec::new();
        let mut cost_len = 0usize;
        // Each epoch's cluster counts, one per stage boundary: counts[base + s] before stage s.
        let mut count_len = 0usize;
        for (ri, (input, plan)) in inputs.iter().zip(plans).enumerate() {
            for (t, live) in plan {
                let start = jobs.len();
                for &(_, r) in live {
                    let rep = &input.reports[r];
                    jobs.push(PropagateJob {
                        report: (report_offset[ri] + r) as u32,
                        dt: (t - rep.time) as f32,
                    });
                    dims.push(rep.gate_dim());
                }
                epochs.push(EpochSlot {
                    replay: ri,
                    time: *t,
                    start,
                    len: live.len(),
                });
                if sd {
                    continue;
                }
                // Runs of one sensor (live tracks are sorted by sensor).
                let mut s = 0;
                let mut k = 0;
                while k < live.len() {
                    let sensor = input.reports[live[k].1].sensor;
                    let n = live[k..]
                        .iter()
                        .take_while(|&&(_, r)| input.reports[r].sensor == sensor)
                        .count();
                    if stages.len() <= s {
                        stages.push(Vec::new());
                    }
                    stages[s].push(StageProblem {
                        row_start: (start + k) as u32,
                        rows: n as u32,
                        cols: k as u32,
                        cost_offset: cost_len as u32,
                        slot_base: start as u32,
                        count_in: (count_len + s) as u32,
                        count_out: (count_len + s + 1) as u32,
                        _pad: 0,
                    });
                    cost_len += n * k;
                    k += n;
                    s += 1;
                }
                count_len += s + 1;
            }
        }
        let n_jobs = jobs.len();
        let track_bytes = (n_jobs * size_of::<GpuTrack>()) as u64;

        let pp = PropagateParams::new(&cfg.propagation, &origin, n_jobs as u32);
        let b_pparams = ctx.uniform("propagate params", bytemuck::bytes_of(&pp))?;
        let b_reports = ctx.storage("reports", bytemuck::cast_slice(&gpu_reports))?;
        let b_jobs = ctx.storage("jobs", bytemuck::cast_slice(&jobs))?;
        let b_tracks = ctx.storage_empty("tracks", track_bytes)?;
        let b_dims = ctx.storage("dims", bytemuck::cast_slice(&dims))?;
        // The association stages' buffers, empty under S-D.
        let stage_jobs = if sd { 0 } else { n_jobs };
        let b_clusters =
            ctx.storage_empty("clusters", (stage_jobs * size_of::<GpuTrack>()) as u64)?;
        let b_cdims = ctx.storage_empty("cluster dims", (stage_jobs * 4) as u64)?;
        let b_counts = ctx.storage("counts", bytemuck::cast_slice(&vec![0u32; count_len]))?;
        let b_costs = ctx.storage_empty("costs", (cost_len * 4) as u64)?;
        let b_assign = ctx.storage("assignment", bytemuck::cast_slice(&vec![-1i32; stage_jobs]))?;
        let b_cluster_of = ctx.storage_empty("cluster of", (stage_jobs * 4) as u64)?;

        let mut encoder = ctx.encoder();
        self.propagate.record(
            ctx,
            &mut encoder,
            [&b_pparams, &b_reports, &b_jobs, &b_tracks],
            n_jobs as u32,
        );
        let fp = FuseParams::new(0, cfg.fusion, cfg.rho);
        let mut keep_alive = Vec::new();
        let mut outcome_buffers: Vec<(wgpu::Buffer, usize)> = Vec::new();
        for problems in &stages {
            let b_problems = ctx.storage("stage problems", bytemuck::cast_slice(problems))?;
            // Gate and assign the problems that have clusters to meet.
            let with_cols: Vec<StageProblem> =
                problems.iter().copied().filter(|p| p.cols > 0).collect();
            if !with_cols.is_empty() {
                let gp = GateParams {
                    problems: with_cols.len() as u32,
                    rho: cfg.rho as f32,
                    threshold3: gate.threshold3 as f32,
                    threshold6: gate.threshold6 as f32,
                };
                let b_gparams = ctx.uniform("gate params", bytemuck::bytes_of(&gp))?;
                let b_gproblems = ctx.storage("gate problems", bytemuck::cast_slice(&with_cols))?;
                self.kernels.record_gate(
                    ctx,
                    &mut encoder,
                    [
                        &b_gparams,
                        &b_gproblems,
                        &b_tracks,
                        &b_dims,
                        &b_clusters,
                        &b_cdims,
                        &b_counts,
                        &b_costs,
                    ],
                    with_cols.len() as u32,
                );
                // The auction: one workgroup per problem, rows written into `assignment` at
                // their track's index. Problems are small (a sensor's tracks against one
                // epoch's clusters): AUCTION_ROUNDS rounds finish them, which the outcomes
                // read back with the clusters confirm.
                let mut scratch_words = 0u32;
                let mut headers = Vec::with_capacity(with_cols.len());
                for p in &with_cols {
                    self.auction
                        .check_size(p.rows as usize, p.cols as usize, true)?;
                    let h = GpuProblem {
                        rows: p.rows,
                        cols: p.cols,
                        cost_offset: p.cost_offset,
                        row_offset: p.row_start,
                        scratch_offset: scratch_words,
                        has_miss: 1,
                        miss: 1.0,
                        _pad: 0,
                    };
                    scratch_words += h.scratch_words();
                    headers.push(h);
                }
                let ap = self.auction.params(headers.len() as u32);
                let b_aparams = ctx.uniform("assign params", bytemuck::bytes_of(&ap))?;
                let b_aproblems = ctx.storage("assign problems", bytemuck::cast_slice(&headers))?;
                let b_outcomes = ctx.storage_empty(
                    "assign outcomes",
                    (headers.len() * size_of::<GpuOutcome>()) as u64,
                )?;
                // New buffers are zeroed, as the auction's first round needs.
                let b_scratch =
                    ctx.storage_empty("assign scratch", 4 * u64::from(scratch_words))?;
                for _ in 0..AUCTION_ROUNDS {
                    self.auction.record(
                        ctx,
                        &mut encoder,
                        [
                            &b_aparams,
                            &b_aproblems,
                            &b_costs,
                            &b_assign,
                            &b_outcomes,
                            &b_scratch,
                        ],
                        headers.len() as u32,
                    );
                }
                outcome_buffers.push((b_outcomes, headers.len()));
                keep_alive.push(vec![b_aparams, b_aproblems, b_scratch]);
                keep_alive.push(vec![b_gparams, b_gproblems]);
            }
            // One merge thread per row: (problem, row) pairs.
            let rows: Vec<[u32; 2]> = problems
                .iter()
                .enumerate()
                .flat_map(|(k, p)| (0..p.rows).map(move |i| [k as u32, i]))
                .collect();
            let mp = FuseParams {
                count: rows.len() as u32,
                ..fp
            };
            let b_mparams = ctx.uniform("merge params", bytemuck::bytes_of(&mp))?;
            let b_rows = ctx.storage("merge rows", bytemuck::cast_slice(&rows))?;
            self.kernels.record_merge(
                ctx,
                &mut encoder,
                [
                    &b_mparams,
                    &b_problems,
                    &b_tracks,
                    &b_dims,
                    &b_assign,
                    &b_clusters,
                    &b_cdims,
                    &b_counts,
                    &b_cluster_of,
                    &b_rows,
                ],
                rows.len() as u32,
            );
            keep_alive.push(vec![b_problems, b_mparams, b_rows]);
        }
        // The propagated tracks only when tracing (verify) or for S-D: they are the largest
        // buffer. Under S-D they are all that is read.
        let mut read: Vec<&wgpu::Buffer> = vec![if sd { &b_tracks } else { &b_cluster_of }];
        if trace.is_some() && !sd {
            read.push(&b_tracks);
            read.push(&b_assign);
            read.push(&b_costs);
        }
        let first_outcome = read.len();
        read.extend(outcome_buffers.iter().map(|(b, _)| b));
        let (bytes, kernel_times) = ctx.submit_and_read_timed(encoder, &read)?;
        drop(keep_alive);
        for ((_, n), b) in outcome_buffers.iter().zip(&bytes[first_outcome..]) {
            let outcomes: Vec<GpuOutcome> = cast_vec(b);
            for (k, o) in outcomes.iter().take(*n).enumerate() {
                o.check(&format!("association problem {k}"))?;
            }
        }
        let mut sd_counts = vec![SdCounts::default(); inputs.len()];
        let mut cluster_of: Vec<u32> = if sd {
            vec![0; n_jobs]
        } else {
            cast_vec(&bytes[0])
        };
        cluster_of.truncate(n_jobs);
        if sd {
            let tracks: Vec<GpuTrack> = cast_vec(&bytes[0]);
            let params = cfg.epoch_params(*gate);
            let lives = plans
                .iter()
                .flat_map(|plan| plan.iter().map(|(_, live)| live));
            let solved = epochs
                .iter()
                .zip(lives)
                .collect::<Vec<_>>()
                .par_iter()
                .map(|(slot, live)| {
                    let input = &inputs[slot.replay];
                    let epoch: Vec<EpochTrack> = live
                        .iter()
                        .zip(&tracks[slot.start..slot.start + slot.len])
                        .map(|(&(j, r), g)| {
                            let rep = &input.reports[r];
                            let (state, cov) = g.to_f64(&origin);
                            EpochTrack::from_report(j, rep, state, cov)
                        })
                        .collect();
                    associate::associate_epoch_counted(&epoch, &params)
                })
                .collect::<Result<Vec<_>>>()?;
            for (slot, (clusters, stats)) in epochs.iter().zip(solved) {
                cluster_of[slot.start..slot.start + slot.len].copy_from_slice(&clusters);
                if let Some(s) = stats {
                    sd_counts[slot.replay].record(&s);
                }
            }
        } else if let Some(trace) = trace {
            let tracks: Vec<GpuTrack> = cast_vec(&bytes[1]);
            trace.push(ChunkTrace {
                propagated: tracks
                    .iter()
                    .take(n_jobs)
                    .map(|t| t.to_f64(&origin))
                    .collect(),
                clusters: cluster_of.clone(),
                assignment: cast_vec(&bytes[2]),
                costs: cast_vec(&bytes[3]),
            });
        }
        times.associate += t0.elapsed().as_secs_f64();

        // Hysteresis on the host: a scan over each replay's epochs, the replays in parallel.
        let t0 = Instant::now();
        let mut first_epoch = Vec::with_capacity(plans.len());
        let mut e = 0;
        for plan in plans {
            first_epoch.push(e);
            e += plan.len();
        }
        let (mut groups_of_replay, swap_trades): (Vec<Vec<Vec<SystemGroup>>>, Vec<u64>) = inputs
            .par_iter()
            .zip(plans)
            .zip(first_epoch)
            .map(|((input, plan), e0)| {
                let mut h = Hysteresis::new(cfg.hysteresis, input.local.len(), cfg.rho, cfg.fusion);
                let groups = plan
                    .iter()
                    .zip(&epochs[e0..])
                    .map(|((t, live), slot)| {
                        // The estimates stay on the GPU; the few that swap tests need are
                        // propagated here in f64, as the CPU backend does.
                        let tracks: Vec<EpochTrack> = live
                            .iter()
                            .map(|&(j, r)| {
                                let rep = &input.reports[r];
                                EpochTrack::from_report(j, rep, [0.0; 6], [[0.0; 6]; 6])
                            })
                            .collect();
                        let estimate = |k: usize| {
                            let rep = &input.reports[live[k].1];
                            propagate(&rep.state, &rep.cov, t - rep.time, &cfg.propagation)
                        };
                        h.step_with(
                            &tracks,
                            &cluster_of[slot.start..slot.start + slot.len],
                            estimate,
                        )
                    })
                    .collect();
                (groups, h.trades)
            })
            .unzip();
        times.hysteresis += t0.elapsed().as_secs_f64();

        // Hand-over: candidates and assignment on the host, the tests on the GPU.
        let t0 = Instant::now();
        let mut stitch_times = None;
        let stitches = crate::stitch::stitch_chunk(
            &inputs.iter().collect::<Vec<_>>(),
            &plans.iter().collect::<Vec<_>>(),
            &mut groups_of_replay,
            cfg,
            |cands| {
                let stitcher = match self.stitcher.get() {
                    Some(s) => s,
                    None => {
                        let s = Stitcher::new(ctx)?;
                        self.stitcher.get_or_init(|| s)
                    }
                };
                let (d2, k) = stitcher.costs(ctx, cands, &cfg.stitch, &cfg.propagation)?;
                stitch_times = k;
                Ok(d2)
            },
        )?;
        times.stitch += t0.elapsed().as_secs_f64();
        let groups_of_epoch: Vec<Vec<SystemGroup>> =
            groups_of_replay.into_iter().flatten().collect();

        // Fuse the system tracks.
        let t0 = Instant::now();
        let mut headers = Vec::new();
        let mut members = Vec::new();
        for (slot, groups) in epochs.iter().zip(&groups_of_epoch) {
            for g in groups {
                headers.push(GpuGroup {
                    member_start: members.len() as u32,
                    members: g.members.len() as u32,
                });
                members.extend(g.members.iter().map(|&m| (slot.start + m) as u32));
            }
        }
        let fp = FuseParams {
            count: headers.len() as u32,
            ..fp
        };
        let max_members = headers.iter().map(|h| h.members).max().unwrap_or(0);
        let b_groups = ctx.storage("groups", bytemuck::cast_slice(&headers))?;
        let b_members = ctx.storage("members", bytemuck::cast_slice(&members))?;
        let b_fused = ctx.storage_empty("fused", (headers.len() * size_of::<GpuTrack>()) as u64)?;
        let mut encoder = ctx.encoder();
        let held = self.kernels.record_fuse(
            ctx,
            &mut encoder,
            fp,
            [&b_groups, &b_members, &b_tracks, &b_fused],
            max_members,
        )?;
        let (bytes, fuse_times) = ctx.submit_and_read_timed(encoder, &[&b_fused])?;
        drop(held);
        if let (Some(a), Some(f)) = (kernel_times, fuse_times) {
            let mut k = a;
            k.add(&f);
            if let Some(st) = stitch_times {
                k.add(&st);
            }
            times.gpu_kernels = Some(k);
        }
        let fused: Vec<GpuTrack> = cast_vec(&bytes[0]);
        times.fuse += t0.elapsed().as_secs_f64();

        // Results in the CPU path's form.
        let mut results: Vec<ReplayResult> = inputs
            .iter()
            .zip(&swap_trades)
            .zip(stitches)
            .zip(sd_counts)
            .map(|(((i, &swap_trades), stitches), sd)| ReplayResult {
                replay: i.replay,
                local: i.local.clone(),
                epochs: Vec::new(),
                swap_trades,
                stitches,
                sd,
            })
            .collect();
        let mut g = 0;
        for (slot, groups) in epochs.iter().zip(&groups_of_epoch) {
            let input = &inputs[slot.replay];
            let plan_live = &plans[slot.replay][results[slot.replay].epochs.len()].1;
            let mut live: Vec<LiveTrack> = plan_live
                .iter()
                .map(|&(j, r)| LiveTrack {
                    track: j as u32,
                    truth: input.reports[r].truth,
                    system: 0,
                })
                .collect();
            let mut system = Vec::with_capacity(groups.len());
            for group in groups {
                for &m in &group.members {
                    live[m].system = group.number;
                }
                let (state, cov) = fused[g].to_f64(&origin);
                system.push(SystemTrack {
                    number: group.number,
                    state,
                    cov,
                    sources: group.members.len() as u32,
                });
                g += 1;
            }
            results[slot.replay].epochs.push(Epoch {
                time: slot.time,
                live,
                system,
            });
        }
        Ok((results, times))
    }
}
