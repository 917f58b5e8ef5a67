//! Host side of `shaders/track.wgsl`: the local trackers of `trackcorr track`, one workgroup
//! per sensor of a replay, one dispatch per scan index, all scans of a chunk of trackers in
//! one submission with one read-back. CPU twin: [`crate::track::track_sensor`].
//!
//! The host prepares the inputs (scans, detections with their converted positions, relative
//! to each sensor's site) and turns the reports back into ECEF. A tracker the GPU cannot hold
//! (more than 32 detections in a scan, 64 tracks, 32 waiting detections, or an assignment past
//! the kernel's iteration budget) is tracked again on the CPU; the count is returned.

use super::{GpuContext, Kernel, KernelTimes, cast_vec, dispatch_workgroups};
use crate::error::Result;
use crate::model::{Detection, HAS_VELOCITY_COV, Report, SensorTable};
use crate::scenario::tracker;
use crate::track::{self, MODE_Q, MODE_TRANSITION, Site, TrackerParams};

/// Limits of one tracker on the GPU; keep in sync with shaders/track.wgsl.
const SLOTS: usize = 64;
const LONE: usize = 32;
const MAX_DETS: usize = 32;

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
    _pad: [u32; 3],
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
    _pad: [u32; 2],
}

/// Keep in sync with `struct Slot` (408 bytes, zero = free).
const SLOT_BYTES: usize = 408;
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
    state: [f32; 6],
    cov: [f32; 36],
}

/// A tracker as the host keeps it: whose it is and what its scans were.
struct Plan {
    replay: u32,
    sensor: u32,
    site: Site,
    /// Time of each scan (f64, as read).
    times: Vec<f64>,
    /// Detections in time order (for a rerun on the CPU).
    detections: Vec<Detection>,
    /// Too big for the GPU from the start.
    on_cpu: bool,
}

/// What the GPU tracking did besides its reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct GpuTrackStats {
    pub trackers: usize,
    /// Trackers run on the CPU instead (outgrew the kernel's limits).
    pub trackers_on_cpu: usize,
    pub gpu_kernels: Option<KernelTimes>,
}

/// The compiled kernel.
pub struct Tracker {
    pipeline: wgpu::ComputePipeline,
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
        params.validate()?;
        let sites = track::sites(sensors);
        let mut plans = Vec::new();
        for (replay, sensor, dets) in track::group_detections(detections) {
            let site = track::site_of(&sites, sensors, sensor)?;
            let mut times: Vec<f64> = dets.iter().map(|d| d.time).collect();
            times.dedup();
            let widest = track::scans(&dets).map(|s| s.len()).max().unwrap_or(0);
            plans.push(Plan {
                replay,
                sensor,
                site,
                times,
                on_cpu: widest > MAX_DETS,
                detections: dets,
            });
        }
        let mut stats = GpuTrackStats {
            trackers: plans.len(),
            ..Default::default()
        };
        let per_chunk = (ctx.max_binding_bytes as usize / (SLOTS * SLOT_BYTES)).clamp(1, 1024);
        let mut reports = Vec::new();
        for chunk in plans.chunks(per_chunk) {
            let (mut r, rerun, t) = self.run_chunk(ctx, chunk, params)?;
            reports.append(&mut r);
            if let Some(t) = t {
                stats
                    .gpu_kernels
                    .get_or_insert_with(Default::default)
                    .add(&t);
            }
            for k in rerun {
                let p = &chunk[k];
                stats.trackers_on_cpu += 1;
                reports.extend(track::track_sensor(
                    &p.site,
                    p.replay,
                    p.sensor,
                    &p.detections,
                    params,
                )?);
            }
        }
        track::sort_reports(&mut reports);
        Ok((reports, stats))
    }

    /// One submission over a chunk of trackers: their reports, the trackers to rerun on the
    /// CPU, the kernel's GPU time.
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
        for p in chunk {
            let f = |v: &[f64; 3]| [v[0] as f32, v[1] as f32, v[2] as f32, 0.0];
            let first = scans.len() as u32;
            if !p.on_cpu {
                let mut prev: Option<(f64, u64)> = None;
                let mut id = 0u32;
                for scan in track::scans(&p.detections) {
                    let t = scan[0].time;
                    let (index, skipped) = track::scan_index(prev, t, p.site.revisit);
                    prev = Some((t, index));
                    scans.push(GpuScan {
                        det_first: dets.len() as u32,
                        det_count: scan.len() as u32,
                        skipped,
                        index: index as u32,
                        time: (t - p.times[0]) as f32,
                        _pad: [0; 3],
                    });
                    for d in scan {
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
                            _pad: [0; 2],
                        });
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
            for step in 0..steps {
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
            let (bytes, times) =
                ctx.submit_and_read_timed(rec, &[&b_counter, &b_out, &b_states])?;
            let count = u64::from(cast_vec::<u32>(&bytes[0])[0]);
            if count > capacity {
                capacity = count;
                continue;
            }
            let mut out: Vec<GpuTrackReport> = cast_vec(&bytes[1]);
            out.truncate(count as usize);
            let states: Vec<GpuTrackerState> = cast_vec(&bytes[2]);
            let on_cpu: Vec<bool> = (0..n)
                .map(|k| chunk[k].on_cpu || states[k].overflow != 0)
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
                        time: p.times[o.step as usize],
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
