//! The correlation pipeline on the CPU: propagate every live local track to each fusion
//! epoch, associate per epoch, scan the epochs for hysteresis and stable numbers, fuse.
//!
//! Replays are processed in chunks, stage by stage across the chunk (as the GPU backend
//! does), so that each stage's time can be reported and memory stays bounded.

use crate::assign::Solver;
use crate::assign::sd::SdParams;
use crate::associate::{
    self, Assignment, EpochParams, EpochTrack, Hysteresis, HysteresisParams, SdCounts, SystemGroup,
};
use crate::error::{Error, Result};
use crate::fuse::{self, FusionMethod};
use crate::gate::Gate;
use crate::io::ReportSet;
use crate::linalg::{Mat6, Vec6};
use crate::model::Report;
use crate::propagate::{Propagation, propagate};
use crate::register::{RegisterParams, SensorEstimate};
use crate::stitch::{self, Stitch, StitchParams};
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Options of a correlation run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Config {
    pub propagation: Propagation,
    /// Gate probability of the chi-square test.
    pub gate_probability: f64,
    /// Correlation coefficient of the errors of two sources, for gating and for
    /// Bar-Shalom–Campo fusion.
    pub rho: f64,
    pub fusion: FusionMethod,
    pub hysteresis: HysteresisParams,
    pub solver: Solver,
    /// Sequential or S-D association of the sensors at each epoch.
    pub assignment: Assignment,
    /// Options of the S-D solver.
    pub sd: SdParams,
    /// Time between fusion epochs (s); epochs are multiples of it.
    pub epoch_interval: f64,
    /// How long (s) a local track stays alive after its last report; `None`: 1.5 times the
    /// track's median report interval.
    pub max_age: Option<f64>,
    /// Replays per chunk.
    pub chunk_replays: usize,
    /// Hand-over of system tracks across gaps.
    pub stitch: StitchParams,
    /// Sensor registration before the final association (`--register`).
    pub register: RegisterParams,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            propagation: Propagation::default(),
            gate_probability: 0.99,
            rho: 0.0,
            fusion: FusionMethod::CovarianceIntersection,
            hysteresis: HysteresisParams::default(),
            solver: Solver::Exact,
            assignment: Assignment::Sequential,
            sd: SdParams::default(),
            epoch_interval: 1.0,
            max_age: None,
            chunk_replays: 64,
            stitch: StitchParams::default(),
            register: RegisterParams::default(),
        }
    }
}

impl Config {
    /// The per-epoch association's parameters.
    pub fn epoch_params(&self, gate: Gate) -> EpochParams {
        EpochParams {
            gate,
            rho: self.rho,
            fusion: self.fusion,
            solver: self.solver,
            assignment: self.assignment,
            sd: self.sd,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if !(self.epoch_interval > 0.0 && self.epoch_interval.is_finite()) {
            return bad("--epoch-interval must be positive");
        }
        if !(self.rho >= 0.0 && self.rho < 1.0) {
            return bad("--rho must be in [0, 1)");
        }
        if !(self.propagation.q >= 0.0 && self.propagation.q.is_finite()) {
            return bad("--q must be non-negative");
        }
        if self.hysteresis.confirm == 0 || self.hysteresis.break_after == 0 {
            return bad("--confirm and --break-after must be at least 1");
        }
        if !(self.hysteresis.swap_evidence >= 0.0 && self.hysteresis.swap_evidence.is_finite()) {
            return bad("--swap-evidence must be non-negative");
        }
        if let Some(a) = self.max_age
            && !(a >= 0.0 && a.is_finite())
        {
            return bad("--max-age must be non-negative");
        }
        if !(self.sd.gap >= 0.0 && self.sd.gap.is_finite()) {
            return bad("--sd-gap must be non-negative");
        }
        self.stitch.validate()?;
        self.register.validate()?;
        Gate::new(self.gate_probability).map(|_| ())
    }
}

/// One local track of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalTrack {
    pub sensor: u32,
    pub track: u32,
    /// Indices of its reports in the replay's report list, by time.
    #[serde(skip)]
    pub reports: Vec<usize>,
    pub max_age: f64,
}

/// A local track alive at an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveTrack {
    /// Index in the replay's local tracks.
    pub track: u32,
    pub truth: i32,
    /// Number of the system track it belongs to.
    pub system: u32,
}

/// A fused system track at an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SystemTrack {
    pub number: u32,
    pub state: Vec6,
    pub cov: Mat6,
    pub sources: u32,
}

/// Everything decided at one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    pub time: f64,
    /// Live local tracks, by local track index.
    pub live: Vec<LiveTrack>,
    /// System tracks, by number.
    pub system: Vec<SystemTrack>,
}

/// The result for one replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayResult {
    pub replay: u32,
    pub local: Vec<LocalTrack>,
    pub epochs: Vec<Epoch>,
    /// Pairs of local tracks that the hysteresis scan's swap test traded.
    pub swap_trades: u64,
    /// System tracks joined across a gap by the hand-over stage, by start time.
    pub stitches: Vec<Stitch>,
    /// The S-D solves of its epochs (`--assignment sd`).
    pub sd: SdCounts,
}

/// Wall-clock seconds per stage. On the GPU backend one submission propagates, gates,
/// assigns and merges, so `propagate` is 0 and `associate` holds that submission (upload,
/// kernels, read-back); `gpu_kernels` then gives each kernel's own GPU time from timestamp
/// queries, or is `None` where the adapter has none (wall clock only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StageTimes {
    pub propagate: f64,
    pub associate: f64,
    pub hysteresis: f64,
    /// The hand-over stage (candidates, costs, assignment).
    pub stitch: f64,
    pub fuse: f64,
    pub gpu_kernels: Option<crate::gpu::timing::KernelTimes>,
}

impl StageTimes {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &StageTimes) {
        self.propagate += other.propagate;
        self.associate += other.associate;
        self.hysteresis += other.hysteresis;
        self.stitch += other.stitch;
        self.fuse += other.fuse;
        if let Some(k) = &other.gpu_kernels {
            self.gpu_kernels.get_or_insert_default().add(k);
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Correlation {
    pub replays: Vec<ReplayResult>,
    pub times: StageTimes,
    pub config: Config,
    /// Chunks the GPU backend handed to the CPU after a GPU error (`--backend auto`).
    pub cpu_reruns: Vec<CpuRerun>,
    /// Each radar's estimated bias per replay (`--register`; else empty).
    pub registration: Vec<SensorEstimate>,
}

/// Replays correlated on the CPU because the GPU failed, and the GPU's error.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuRerun {
    pub replays: Vec<u32>,
    pub gpu_error: String,
}

/// Reports of one replay, in file order.
pub(crate) struct ReplayInput<'a> {
    pub(crate) replay: u32,
    pub(crate) reports: &'a [Report],
    pub(crate) local: Vec<LocalTrack>,
}

/// Splits reports by replay (they are sorted by replay) and builds each replay's local
/// tracks, ordered by sensor, then track number.
pub(crate) fn split_replays<'a>(reports: &'a [Report], cfg: &Config) -> Vec<ReplayInput<'a>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < reports.len() {
        let replay = reports[start].replay;
        let end = start
            + reports[start..]
                .iter()
                .take_while(|r| r.replay == replay)
                .count();
        let slice = &reports[start..end];
        let mut keys: Vec<(u32, u32)> = slice.iter().map(|r| (r.sensor, r.track)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut local: Vec<LocalTrack> = keys
            .iter()
            .map(|&(sensor, track)| LocalTrack {
                sensor,
                track,
                reports: Vec::new(),
                max_age: 0.0,
            })
            .collect();
        for (i, r) in slice.iter().enumerate() {
            let k = keys.binary_search(&(r.sensor, r.track)).unwrap_or_default();
            local[k].reports.push(i);
        }
        for lt in &mut local {
            lt.max_age = cfg
                .max_age
                .unwrap_or_else(|| auto_max_age(slice, &lt.reports));
        }
        out.push(ReplayInput {
            replay,
            reports: slice,
            local,
        });
        start = end;
    }
    out
}

/// 1.5 times the median interval between a track's reports (2 s for a single report):
/// long enough to bridge a late report, short enough not to coast a dead track.
fn auto_max_age(reports: &[Report], idx: &[usize]) -> f64 {
    let mut gaps: Vec<f64> = idx
        .windows(2)
        .map(|w| reports[w[1]].time - reports[w[0]].time)
        .collect();
    if gaps.is_empty() {
        return 2.0;
    }
    gaps.sort_by(f64::total_cmp);
    1.5 * gaps[gaps.len() / 2]
}

/// The epochs of a replay: each one's time and its live tracks, as (local track index,
/// index of the report it is propagated from).
pub(crate) type EpochPlan = Vec<(f64, Vec<(usize, usize)>)>;

/// For each epoch of a replay, its time and the live tracks with the report each is
/// propagated from.
pub(crate) fn epoch_plan(input: &ReplayInput, interval: f64) -> EpochPlan {
    let first = input.reports.first().map_or(0.0, |r| r.time);
    let last = input
        .local
        .iter()
        .filter_map(|lt| {
            lt.reports
                .last()
                .map(|&i| input.reports[i].time + lt.max_age)
        })
        .fold(first, f64::max);
    let k0 = (first / interval).ceil() as i64;
    let k1 = (last / interval).floor() as i64;
    let mut cursor = vec![0usize; input.local.len()];
    let mut plan = Vec::new();
    for k in k0..=k1 {
        let t = k as f64 * interval;
        let mut live = Vec::new();
        for (j, lt) in input.local.iter().enumerate() {
            let c = &mut cursor[j];
            while *c + 1 < lt.reports.len() && input.reports[lt.reports[*c + 1]].time <= t {
                *c += 1;
            }
            let r = lt.reports[*c];
            let age = t - input.reports[r].time;
            if age >= 0.0 && age <= lt.max_age {
                live.push((j, r));
            }
        }
        if !live.is_empty() {
            plan.push((t, live));
        }
    }
    plan
}

/// Runs the pipeline on all replays of `set`.
pub fn correlate(set: &ReportSet, cfg: &Config) -> Result<Correlation> {
    correlate_with_progress(set, cfg, |_, _| {})
}

/// [`correlate`], calling `progress(replays done, replays in all)` after each chunk.
pub fn correlate_with_progress(
    set: &ReportSet,
    cfg: &Config,
    progress: impl FnMut(usize, usize),
) -> Result<Correlation> {
    cfg.validate()?;
    correlate_inputs(&split_replays(&set.reports, cfg), cfg, progress)
}

/// Correlates replays already split (a whole set, or the chunk a failed GPU hands back), in
/// chunks of `cfg.chunk_replays`.
pub(crate) fn correlate_inputs(
    inputs: &[ReplayInput],
    cfg: &Config,
    mut progress: impl FnMut(usize, usize),
) -> Result<Correlation> {
    let gate = Gate::new(cfg.gate_probability)?;
    let params = cfg.epoch_params(gate);
    let mut times = StageTimes::default();
    let mut replays = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(cfg.chunk_replays.max(1)) {
        // Propagate: every live track to every epoch.
        let t0 = Instant::now();
        let plans: Vec<EpochPlan> = chunk
            .par_iter()
            .map(|input| epoch_plan(input, cfg.epoch_interval))
            .collect();
        let propagated: Vec<Vec<(f64, Vec<EpochTrack>)>> = chunk
            .par_iter()
            .zip(&plans)
            .map(|(input, plan)| {
                plan.par_iter()
                    .map(|(t, live)| {
                        let tracks = live
                            .iter()
                            .map(|&(j, r)| {
                                let rep = &input.reports[r];
                                let (state, cov) = propagate(
                                    &rep.state,
                                    &rep.cov,
                                    *t - rep.time,
                                    &cfg.propagation,
                                );
                                EpochTrack::from_report(j, rep, state, cov)
                            })
                            .collect();
                        (*t, tracks)
                    })
                    .collect()
            })
            .collect();
        times.propagate += t0.elapsed().as_secs_f64();

        // Associate each epoch on its own.
        let t0 = Instant::now();
        let (clusters, sd): (Vec<Vec<Vec<u32>>>, Vec<SdCounts>) = propagated
            .par_iter()
            .map(|epochs| {
                let solved = epochs
                    .par_iter()
                    .map(|(_, tracks)| associate::associate_epoch_counted(tracks, &params))
                    .collect::<Result<Vec<_>>>()?;
                let mut sd = SdCounts::default();
                for s in solved.iter().filter_map(|(_, s)| s.as_ref()) {
                    sd.record(s);
                }
                Ok((solved.into_iter().map(|(c, _)| c).collect(), sd))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        times.associate += t0.elapsed().as_secs_f64();

        // Hysteresis: a scan over each replay's epochs.
        let t0 = Instant::now();
        let (mut groups, swap_trades): (Vec<Vec<Vec<SystemGroup>>>, Vec<u64>) = chunk
            .par_iter()
            .zip(&propagated)
            .zip(&clusters)
            .map(|((input, epochs), clusters)| {
                let mut h = Hysteresis::new(cfg.hysteresis, input.local.len(), cfg.rho, cfg.fusion);
                let groups = epochs
                    .iter()
                    .zip(clusters)
                    .map(|((_, tracks), c)| h.step(tracks, c))
                    .collect();
                (groups, h.trades)
            })
            .unzip();
        times.hysteresis += t0.elapsed().as_secs_f64();

        // Hand-over: join system tracks across gaps.
        let t0 = Instant::now();
        let stitches = stitch::stitch_chunk(
            &chunk.iter().collect::<Vec<_>>(),
            &plans.iter().collect::<Vec<_>>(),
            &mut groups,
            cfg,
            |cands| Ok(stitch::costs_cpu(cands, cfg)),
        )?;
        times.stitch += t0.elapsed().as_secs_f64();

        // Fuse each system track's live members.
        let t0 = Instant::now();
        let fused: Vec<ReplayResult> = chunk
            .par_iter()
            .zip(&propagated)
            .zip(groups.par_iter().zip(&swap_trades).zip(stitches).zip(sd))
            .map(
                |((input, epochs), (((groups, swap_trades), stitches), sd))| {
                    let epochs = epochs
                        .par_iter()
                        .zip(groups)
                        .map(|((t, tracks), groups)| fuse_epoch(*t, tracks, groups, cfg))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(ReplayResult {
                        replay: input.replay,
                        local: input.local.clone(),
                        epochs,
                        swap_trades: *swap_trades,
                        stitches,
                        sd,
                    })
                },
            )
            .collect::<Result<_>>()?;
        times.fuse += t0.elapsed().as_secs_f64();
        replays.extend(fused);
        progress(replays.len(), inputs.len());
    }
    Ok(Correlation {
        replays,
        times,
        config: *cfg,
        cpu_reruns: Vec::new(),
        registration: Vec::new(),
    })
}

fn fuse_epoch(
    time: f64,
    tracks: &[EpochTrack],
    groups: &[SystemGroup],
    cfg: &Config,
) -> Result<Epoch> {
    let mut live: Vec<LiveTrack> = tracks
        .iter()
        .map(|t| LiveTrack {
            track: t.track,
            truth: t.truth,
            system: 0,
        })
        .collect();
    let mut system = Vec::with_capacity(groups.len());
    for g in groups {
        let estimates: Vec<(Vec6, Mat6)> = g
            .members
            .iter()
            .map(|&k| (tracks[k].state, tracks[k].cov))
            .collect();
        let (state, cov) = fuse::fuse_all(&estimates, cfg.fusion, cfg.rho).map_err(|e| {
            Error::Numeric(format!(
                "fusing system track {} at time {time}: {e}",
                g.number
            ))
        })?;
        for &k in &g.members {
            live[k].system = g.number;
        }
        system.push(SystemTrack {
            number: g.number,
            state,
            cov,
            sources: g.members.len() as u32,
        });
    }
    Ok(Epoch { time, live, system })
}
