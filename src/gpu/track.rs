//! Host side of `shaders/track.wgsl`: the local trackers of `trackcorr track`, one workgroup
//! per sensor of a replay, one dispatch per scan index, all scans of a chunk of trackers in
//! one submission with one read-back. CPU twin: [`crate::track::track_sensor`].
//!
//! The host prepares the inputs (scans cut into antenna turns by [`track::turns`], detections
//! with their converted positions relative to each sensor's site and their times) and turns
//! the reports back into ECEF, each at the time of the detection it names. A tracker the GPU cannot hold
//! (more than 32 detections in a scan, 64 tracks, 32 waiting detections, or an assignment past
//! the kernel's iteration budget) is tracked again on the CPU; the count is returned.

use super::{GpuContext, Kernel, KernelTimes, cast_vec, dispatch_workgroups};
use crate::error::Result;
use crate::gpu::correlate::{gpu_unless_lost, injected_fault};
use crate::model::{Detection, HAS_VELOCITY_COV, Report, SensorTable};
use crate::scenario::tracker;
use crate::track::{self, MODE_Q, MODE_TRANSITION, Site, TrackerParams};
use rayon::prelude::*;

/// Limits of one tracker on the GPU; keep in sync with shaders/track.wgsl.
const SLOTS: usize = 64;
const LONE: usize = 32;
const MAX_DETS: usize = 32;

/// Scan steps recorded per submission: each dispatch advances every tracker of a chunk by
/// one scan (about 20 ms for 1 000 trackers on an H100, BENCHMARKS.md), so a submission stays
/// well inside a desktop driver's watchdog (2 s on Windows) on slower GPUs too.
pub const STEPS_PER_SUBMISSION: u32 = 16;

/// Keep in sync with `struct Params` in shaders/track.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct TrackParams {
    gate: f32,
    confirm_hits: u32,
    confirm_window: u32,
    delete_misses: u32,
    init_scans: u32,
    max_speed: f32,
    trackers: u32,
    step: u32,
    capacity: u32,
    max_step: f32,
    q_boost: f32,
    q_coast: f32,
    t: [f32; 4],
    /// 2: the kernel's two-pass loops take their length from here, so that its compiler
    /// does not unroll them (llvmpipe's compile time).
    two: u32,
    _pad: [u32; 3],
}

/// Keep in sync with `struct Tracker`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuTracker {
    origin: [f32; 4],
    east: [f32; 4],
    north: [f32; 4],
    up: [f32; 4],
    sigma: [f32; 4],
    scan_first: u32,
    scan_count: u32,
    _pad: [u32; 2],
}

/// Keep in sync with `struct Scan`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuScan {
    det_first: u32,
    det_count: u32,
    skipped: u32,
    index: u32,
    time: f32,
    /// 1 when a detection is stamped after the scan's time.
    spread: u32,
    _pad: [u32; 2],
}

/// Keep in sync with `struct Det`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuDetection {
    rae: [f32; 3],
    truth: i32,
    z: [f32; 3],
    id: u32,
    r: [f32; 6],
    /// Seconds since the tracker's first turn.
    time: f32,
    /// Seconds after its turn's time (0 for a radar that stamps a whole scan at once).
    dt: f32,
}

/// Keep in sync with `struct Slot` (412 bytes, zero = free).
const SLOT_BYTES: usize = 412;
/// Keep in sync with `struct Lone`.
const LONE_BYTES: usize = 56;

/// Keep in sync with `struct TrackerState`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuTrackerState {
    next_number: u32,
    next_key: u32,
    overflow: u32,
    _pad: u32,
}

/// Keep in sync with `struct OutReport`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuTrackReport {
    tracker: u32,
    step: u32,
    number: u32,
    truth: i32,
    /// The detection whose time the report has, or −1 for its turn's time.
    det: i32,
    state: [f32; 6],
    cov: [f32; 36],
}

/// A tracker as the host keeps it: whose it is and what its scans were.
struct Plan {
    replay: u32,
    sensor: u32,
    site: Site,
    /// Detections in time order.
    detections: Vec<Detection>,
}

/// What the GPU tracking did besides its reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct GpuTrackStats {
    pub trackers: usize,
    /// Trackers run on the CPU instead (outgrew the kernel's limits).
    pub trackers_on_cpu: usize,
    /// Trackers run on the CPU after a GPU error (device lost, out of memory) under
    /// `cpu_fallback`, and that error.
    pub trackers_after_gpu_error: usize,
    pub gpu_error: Option<String>,
    pub gpu_kernels: Option<KernelTimes>,
}

/// The compiled kernel.
pub struct Tracker {
    pipeline: wgpu::ComputePipeline,
    /// On a GPU error, track the failed chunk and the rest on the CPU instead of stopping
    /// (`--backend auto`).
    pub cpu_fallback: bool,
    /// Fail this chunk (from 0) as a lost device would; from
    /// [`INJECT_FAULT`](crate::gpu::correlate::INJECT_FAULT).
    pub inject_fault: Option<usize>,
}

impl Tracker {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Tracker {
            pipeline: ctx.pipeline(
                "track",
                &format!(
                    "{}\n{}",
                    super::BALLISTIC_WGSL,
                    include_str!("../../shaders/track.wgsl")
                ),
                "main",
            )?,
            cpu_fallback: false,
            inject_fault: injected_fault(),
        })
    }

    /// Tracks every sensor of every replay; reports sorted as [`track::track_cpu`] sorts
    /// them.
    pub fn track(
        &self,
        ctx: &GpuContext,
        detections: &[Detection],
        sensors: &SensorTable,
        params: &TrackerParams,
    ) -> Result<(Vec<Report>, GpuTrackStats)> {
        self.track_with_progress(ctx, detections, sensors, params, |_, _| {})
    }

    /// [`Self::track`], calling `progress(done, total)` in trackers as chunks finish.
    pub fn track_with_progress(
        &self,
        ctx: &GpuContext,
        detections: &[Detection],
        sensors: &SensorTable,
        params: &TrackerParams,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(Vec<Report>, GpuTrackStats)> {
        params.validate()?;
        let sites = track::sites(sensors);
        let mut plans = Vec::new();
        for (replay, sensor, dets) in track::group_detections(detections) {
            let site = track::site_of(&sites, sensors, sensor)?;
            plans.push(Plan {
                replay,
                sensor,
                site,
                detections: dets,
            });
        }
        let mut stats = GpuTrackStats {
            trackers: plans.len(),
            ..Default::default()
        };
        let per_chunk = (ctx.max_binding_bytes as usize / (SLOTS * SLOT_BYTES)).clamp(1, 1024);
        let mut reports = Vec::new();
        let mut done = 0;
        for (k, chunk) in plans.chunks(per_chunk).enumerate() {
            let on_gpu = gpu_unless_lost(
                k,
                self.inject_fault,
                self.cpu_fallback,
                &mut stats.gpu_error,
                || self.run_chunk(ctx, chunk, params),
            )?;
            let rerun: Vec<&Plan> = match on_gpu {
                Some((mut r, rerun, t)) => {
                    reports.append(&mut r);
                    if let Some(t) = t {
                        stats
                            .gpu_kernels
                            .get_or_insert_with(Default::default)
                            .add(&t);
                    }
                    stats.trackers_on_cpu += rerun.len();
                    rerun.into_iter().map(|k| &chunk[k]).collect()
                }
                None => {
                    stats.trackers_after_gpu_error += chunk.len();
                    chunk.iter().collect()
                }
            };
            let cpu: Vec<Vec<Report>> = rerun
                .par_iter()
                .map(|p| track::track_sensor(&p.site, p.replay, p.sensor, &p.detections, params))
                .collect::<Result<_>>()?;
            reports.extend(cpu.into_iter().flatten());
            done += chunk.len();
            progress(done, plans.len());
        }
        track::sort_reports(&mut reports);
        Ok((reports, stats))
    }

    /// A chunk of trackers, [`STEPS_PER_SUBMISSION`] scans per submission and one read-back:
    /// their reports, the trackers to rerun on the CPU, the kernel's GPU time.
    #[allow(
        clippy::type_complexity,
        reason = "a private triple, named at the call"
    )]
    fn run_chunk(
        &self,
        ctx: &GpuContext,
        chunk: &[Plan],
        params: &TrackerParams,
    ) -> Result<(Vec<Report>, Vec<usize>, Option<KernelTimes>)> {
        let mut trackers = Vec::with_capacity(chunk.len());
        let mut scans = Vec::new();
        let mut dets = Vec::new();
        // The times as read of each scan and each detection, for the reports.
        let (mut scan_times, mut det_times) = (Vec::new(), Vec::new());
        // Trackers too big for the GPU from the start.
        let mut too_big = Vec::with_capacity(chunk.len());
        for p in chunk {
            let f = |v: &[f64; 3]| [v[0] as f32, v[1] as f32, v[2] as f32, 0.0];
            let first = scans.len() as u32;
            let turns = track::turns(&p.detections, p.site.revisit);
            let fits = turns.iter().all(|t| t.detections.len() <= MAX_DETS);
            too_big.push(!fits);
            if fits {
                let t0 = p.detections[0].time;
                let mut id = 0u32;
                for turn in turns {
                    let t = turn.time();
                    scan_times.push(t);
                    scans.push(GpuScan {
                        det_first: dets.len() as u32,
                        det_count: turn.detections.len() as u32,
                        skipped: turn.skipped,
                        index: turn.index as u32,
                        time: (t - t0) as f32,
                        spread: u32::from(turn.detections.iter().any(|d| d.time != t)),
                        _pad: [0; 2],
                    });
                    for d in turn.detections {
                        let (z, r) = tracker::convert(
                            &p.site.position,
                            &p.site.basis,
                            &d.measurement,
                            &p.site.sigma,
                        );
                        id += 1;
                        dets.push(GpuDetection {
                            rae: d.measurement.map(|v| v as f32),
                            truth: d.truth,
                            z: std::array::from_fn(|k| (z[k] - p.site.position[k]) as f32),
                            id,
                            r: [r[0][0], r[0][1], r[0][2], r[1][1], r[1][2], r[2][2]]
                                .map(|v| v as f32),
                            time: (d.time - t0) as f32,
                            dt: (d.time - t) as f32,
                        });
                        det_times.push(d.time);
                    }
                }
            }
            trackers.push(GpuTracker {
                origin: f(&p.site.position),
                east: f(&p.site.basis[0]),
                north: f(&p.site.basis[1]),
                up: f(&p.site.basis[2]),
                sigma: [
                    p.site.sigma[0] as f32,
                    p.site.sigma[1] as f32,
                    p.site.sigma[2] as f32,
                    0.0,
                ],
                scan_first: first,
                scan_count: scans.len() as u32 - first,
                _pad: [0; 2],
            });
        }
        let steps = trackers.iter().map(|t| t.scan_count).max().unwrap_or(0);
        let n = trackers.len();
        // Confirmed tracks report at every scan: room for two reports per detection,
        // grown to the exact need if the counter says so.
        let mut capacity = (dets.len() * 2 + 1024) as u64;
        let b_trackers = ctx.storage("trackers", bytemuck::cast_slice(&trackers))?;
        let b_scans = ctx.storage("scans", bytemuck::cast_slice(&scans))?;
        let b_dets = ctx.storage("detections", bytemuck::cast_slice(&dets))?;
        let gate = crate::gate::chi_square_quantile(params.gate_probability, 3)?;
        loop {
            let b_slots = ctx.storage("track slots", &vec![0u8; n * SLOTS * SLOT_BYTES])?;
            let b_lone = ctx.storage("lone detections", &vec![0u8; n * LONE * LONE_BYTES])?;
            let first_state = GpuTrackerState {
                next_number: 1,
                next_key: 1,
                overflow: 0,
                _pad: 0,
            };
            let b_states = ctx.storage(
                "tracker states",
                bytemuck::cast_slice(&vec![first_state; n]),
            )?;
            let b_counter = ctx.storage("report counter", &[0u8; 4])?;
            let b_out = ctx.storage_empty(
                "track reports",
                capacity * size_of::<GpuTrackReport>() as u64,
            )?;
            let mut rec = ctx.encoder();
            let mut times: Option<KernelTimes> = None;
            let mut add_times = |t: Option<KernelTimes>| {
                if let Some(t) = t {
                    times.get_or_insert_with(Default::default).add(&t);
                }
            };
            for step in 0..steps {
                if step > 0 && step % STEPS_PER_SUBMISSION == 0 {
                    // A short submission; the state stays on the GPU for the next.
                    let full = std::mem::replace(&mut rec, ctx.encoder());
                    add_times(ctx.submit_and_read_timed(full, &[])?.1);
                }
                let tp = TrackParams {
                    gate: gate as f32,
                    confirm_hits: params.confirm_hits,
                    confirm_window: params.confirm_window,
                    delete_misses: params.delete_misses,
                    init_scans: params.init_scans,
                    max_speed: params.max_speed as f32,
                    trackers: n as u32,
                    step,
                    capacity: capacity as u32,
                    max_step: 2.0,
                    q_boost: MODE_Q[0] as f32,
                    q_coast: MODE_Q[1] as f32,
                    t: [
                        MODE_TRANSITION[0][0] as f32,
                        MODE_TRANSITION[0][1] as f32,
                        MODE_TRANSITION[1][0] as f32,
                        MODE_TRANSITION[1][1] as f32,
                    ],
                    two: 2,
                    _pad: [0; 3],
                };
                let b_params = ctx.uniform("track params", bytemuck::bytes_of(&tp))?;
                let bind = ctx.bind(
                    &self.pipeline,
                    &[
                        &b_params,
                        &b_trackers,
                        &b_scans,
                        &b_dets,
                        &b_slots,
                        &b_lone,
                        &b_states,
                        &b_counter,
                        &b_out,
                    ],
                );
                dispatch_workgroups(
                    ctx,
                    &mut rec,
                    Kernel::Track,
                    &self.pipeline,
                    &bind,
                    n as u32,
                );
            }
            let (bytes, last) = ctx.submit_and_read_timed(rec, &[&b_counter, &b_out, &b_states])?;
            add_times(last);
            let count = u64::from(cast_vec::<u32>(&bytes[0])[0]);
            if count > capacity {
                capacity = count;
                continue;
            }
            let mut out: Vec<GpuTrackReport> = cast_vec(&bytes[1]);
            out.truncate(count as usize);
            let states: Vec<GpuTrackerState> = cast_vec(&bytes[2]);
            let on_cpu: Vec<bool> = (0..n)
                .map(|k| too_big[k] || states[k].overflow != 0)
                .collect();
            let rerun: Vec<usize> = (0..n).filter(|&k| on_cpu[k]).collect();
            let reports = out
                .iter()
                .filter(|o| !on_cpu[o.tracker as usize])
                .map(|o| {
                    let p = &chunk[o.tracker as usize];
                    let state = std::array::from_fn(|k| {
                        f64::from(o.state[k]) + if k < 3 { p.site.position[k] } else { 0.0 }
                    });
                    let cov = crate::linalg::symmetrize(&std::array::from_fn(|i| {
                        std::array::from_fn(|j| f64::from(o.cov[i * 6 + j]))
                    }));
                    Report {
                        time: if o.det >= 0 {
                            det_times[o.det as usize]
                        } else {
                            scan_times[(trackers[o.tracker as usize].scan_first + o.step) as usize]
                        },
                        state,
                        cov,
                        replay: p.replay,
                        sensor: p.sensor,
                        track: o.number,
                        truth: o.truth,
                        flags: HAS_VELOCITY_COV,
                        line: 0,
                    }
                })
                .collect();
            return Ok((reports, rerun, times));
        }
    }
}
