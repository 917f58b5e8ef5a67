//! `trackcorr verify`: the GPU backend against the CPU backend on the same input, stage by
//! stage, with the tolerances the GPU path promises.

use crate::associate::{self, EpochParams, EpochTrack};
use crate::correlate::{self, Config, Correlation, epoch_plan, split_replays};
use crate::error::Result;
use crate::gate::Gate;
use crate::gpu::correlate::{ChunkTrace, GpuBackend};
use crate::io::ReportSet;
use crate::model::HAS_VELOCITY_COV;
use crate::propagate::propagate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Largest fused position difference (m) the GPU may show against the CPU.
pub const POSITION_TOLERANCE: f64 = 1.0;
/// Largest fused velocity difference (m/s).
pub const VELOCITY_TOLERANCE: f64 = 0.1;

/// The comparison.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub propagated_tracks: usize,
    pub propagate_max_position_m: f64,
    pub propagate_max_velocity_mps: f64,
    /// Live tracks at epochs whose per-epoch cluster (the set of tracks it is grouped with)
    /// differs between the backends.
    pub epoch_decisions: usize,
    pub epoch_decisions_differing: usize,
    /// Rows of `associations.csv` (replay, time, track → system track) that differ.
    pub association_rows: usize,
    pub association_rows_differing: usize,
    /// Fused system tracks compared (same epoch, number and members on both sides).
    pub fused_tracks: usize,
    pub fuse_max_position_m: f64,
    pub fuse_max_velocity_mps: f64,
}

impl Report {
    /// True when the backends agree within the tolerances.
    pub fn agrees(&self) -> bool {
        self.epoch_decisions_differing == 0
            && self.association_rows_differing == 0
            && self.fuse_max_position_m <= POSITION_TOLERANCE
            && self.fuse_max_velocity_mps <= VELOCITY_TOLERANCE
    }

    /// A table, one line per stage.
    pub fn table(&self, adapter: &str) -> String {
        format!(
            "gpu ({adapter}) against cpu\n\
             stage       compared   largest difference                differing\n\
             propagate   {:>9}   {:>9.4} m   {:>9.5} m/s            -\n\
             associate   {:>9}   -                                 {:>9}\n\
             hysteresis  {:>9}   -                                 {:>9}\n\
             fuse        {:>9}   {:>9.4} m   {:>9.5} m/s            -\n\
             tolerances: fused states within {POSITION_TOLERANCE} m and {VELOCITY_TOLERANCE} m/s, no differing decision\n\
             verdict: {}\n",
            self.propagated_tracks,
            self.propagate_max_position_m,
            self.propagate_max_velocity_mps,
            self.epoch_decisions,
            self.epoch_decisions_differing,
            self.association_rows,
            self.association_rows_differing,
            self.fused_tracks,
            self.fuse_max_position_m,
            self.fuse_max_velocity_mps,
            if self.agrees() { "agree" } else { "DIFFER" }
        )
    }
}

/// Runs both backends on `set` and compares them.
pub fn verify(
    set: &ReportSet,
    cfg: &Config,
    gpu: &GpuBackend,
) -> Result<(Report, Correlation, Correlation)> {
    let mut traces: Vec<ChunkTrace> = Vec::new();
    let gpu_corr = gpu.correlate(set, cfg, |_, _| {}, Some(&mut traces))?;
    let cpu = correlate::correlate(set, cfg)?;
    let mut report = Report::default();

    // Propagation and per-epoch association, against the CPU twins on the same jobs.
    let gate = Gate::new(cfg.gate_probability)?;
    let params = EpochParams {
        gate,
        rho: cfg.rho,
        fusion: cfg.fusion,
        solver: cfg.solver,
    };
    let propagated: Vec<_> = traces.iter().flat_map(|t| t.propagated.iter()).collect();
    let clusters: Vec<u32> = traces
        .iter()
        .flat_map(|t| t.clusters.iter().copied())
        .collect();
    let mut job = 0;
    for input in split_replays(&set.reports, cfg) {
        for (t, live) in epoch_plan(&input, cfg.epoch_interval) {
            let mut tracks = Vec::with_capacity(live.len());
            for &(j, r) in &live {
                let rep = &input.reports[r];
                let (state, cov) = propagate(&rep.state, &rep.cov, t - rep.time, &cfg.propagation);
                if let Some(g) = propagated.get(job + tracks.len()) {
                    for k in 0..3 {
                        report.propagate_max_position_m = report
                            .propagate_max_position_m
                            .max((state[k] - g.0[k]).abs());
                        report.propagate_max_velocity_mps = report
                            .propagate_max_velocity_mps
                            .max((state[k + 3] - g.0[k + 3]).abs());
                    }
                }
                tracks.push(EpochTrack {
                    state,
                    cov,
                    track: j as u32,
                    sensor: rep.sensor,
                    dim: if rep.flags & HAS_VELOCITY_COV != 0 {
                        6
                    } else {
                        3
                    },
                    truth: rep.truth,
                });
            }
            let cpu_clusters = associate::associate_epoch(&tracks, &params)?;
            let gpu_clusters =
                &clusters[job.min(clusters.len())..(job + tracks.len()).min(clusters.len())];
            report.propagated_tracks += tracks.len();
            for a in 0..tracks.len() {
                report.epoch_decisions += 1;
                let same = gpu_clusters.len() == tracks.len()
                    && (0..tracks.len()).all(|b| {
                        (cpu_clusters[a] == cpu_clusters[b]) == (gpu_clusters[a] == gpu_clusters[b])
                    });
                report.epoch_decisions_differing += usize::from(!same);
            }
            job += tracks.len();
        }
    }

    // Final decisions and fused states.
    let key = |c: &Correlation| {
        let mut rows = BTreeMap::new();
        let mut fused = BTreeMap::new();
        for r in &c.replays {
            for e in &r.epochs {
                for l in &e.live {
                    rows.insert((r.replay, e.time.to_bits(), l.track), l.system);
                }
                for s in &e.system {
                    let members: Vec<u32> = e
                        .live
                        .iter()
                        .filter(|l| l.system == s.number)
                        .map(|l| l.track)
                        .collect();
                    fused.insert((r.replay, e.time.to_bits(), s.number), (members, s.state));
                }
            }
        }
        (rows, fused)
    };
    let (cpu_rows, cpu_fused) = key(&cpu);
    let (gpu_rows, gpu_fused) = key(&gpu_corr);
    report.association_rows = cpu_rows.len().max(gpu_rows.len());
    report.association_rows_differing = cpu_rows
        .iter()
        .filter(|(k, v)| gpu_rows.get(k) != Some(v))
        .count()
        + gpu_rows
            .keys()
            .filter(|k| !cpu_rows.contains_key(k))
            .count();
    for (k, (members, state)) in &cpu_fused {
        if let Some((gm, gs)) = gpu_fused.get(k)
            && gm == members
        {
            report.fused_tracks += 1;
            for i in 0..3 {
                report.fuse_max_position_m =
                    report.fuse_max_position_m.max((state[i] - gs[i]).abs());
                report.fuse_max_velocity_mps = report
                    .fuse_max_velocity_mps
                    .max((state[i + 3] - gs[i + 3]).abs());
            }
        }
    }
    Ok((report, cpu, gpu_corr))
}
