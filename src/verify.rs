//! `trackcorr verify`: the GPU backend against the CPU backend on the same input, stage by
//! stage, with the tolerances the GPU path promises.

use crate::associate::{self, EpochTrack, StageTrace};
use crate::correlate::{self, Config, Correlation, epoch_plan, split_replays};
use crate::error::Result;
use crate::gate::Gate;
use crate::gpu::assign::{MIN_RELATIVE_EPSILON, RELATIVE_BOUND};
use crate::gpu::correlate::{ChunkTrace, GpuBackend};
use crate::io::ReportSet;
use crate::propagate::propagate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Largest fused position difference (m) the GPU may show against the CPU.
pub const POSITION_TOLERANCE: f64 = 1.0;
/// Largest fused velocity difference (m/s).
pub const VELOCITY_TOLERANCE: f64 = 0.1;

/// A pair whose `d² / gate` is within this of 1 may fall on either side of the gate in f32.
pub const GATE_EDGE: f64 = 1e-5;

/// Two assignment totals closer than this (normalised costs, f32's resolution over a
/// stage) are an exact tie.
pub const EXACT_TIE: f64 = 1e-5;

/// How a stage's two assignments compare, the CPU's (exact) and the GPU's (auction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tie {
    /// Equal totals up to f32's resolution.
    Exact,
    /// Totals within the GPU auction's stated bound `2·n·ε` of each other: both optimal
    /// to the precision the auction promises.
    WithinBound,
    /// The GPU's assignment is worse than that: a real difference.
    No,
}

/// Classifies the GPU's assignment `gpu` (a column or none per row) of the problem that
/// `stage` recorded on the CPU. Costs are the CPU's f64 `d²/gate`, a miss costs 1, and a
/// pair the CPU gated out by less than [`GATE_EDGE`] counts at its ratio.
pub fn classify_tie(stage: &StageTrace, gpu: &[Option<usize>]) -> Tie {
    let total = |a: &[Option<usize>]| -> f64 {
        a.iter()
            .enumerate()
            .map(|(i, c)| match *c {
                Some(j) if j < stage.cols => {
                    let r = stage.ratio[i * stage.cols + j];
                    if r <= 1.0 + GATE_EDGE {
                        r
                    } else {
                        f64::INFINITY
                    }
                }
                Some(_) => f64::INFINITY,
                None => 1.0,
            })
            .sum()
    };
    let difference = (total(gpu) - total(&stage.assignment)).abs();
    // The auction's bound for normalised costs (scale 1): 2·n·ε_final, n = rows + cols.
    let n = (stage.rows + stage.cols) as f64;
    let epsilon = (f64::from(RELATIVE_BOUND) / n).max(f64::from(MIN_RELATIVE_EPSILON));
    if difference <= EXACT_TIE {
        Tie::Exact
    } else if difference <= 2.0 * n * epsilon {
        Tie::WithinBound
    } else {
        Tie::No
    }
}

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
    /// Of those, the decisions at epochs where the backends' assignments tie (see [`Tie`]):
    /// exactly, or within the auction's bound.
    pub epoch_decisions_exact_ties: usize,
    pub epoch_decisions_bound_ties: usize,
    /// Rows of `associations.csv` (replay, time, track → system track) that differ, in
    /// replays without a tie, and in replays after a tie (where they may).
    pub association_rows: usize,
    pub association_rows_differing: usize,
    pub association_rows_after_ties: usize,
    /// Fused system tracks compared (same epoch, number and members on both sides).
    pub fused_tracks: usize,
    pub fuse_max_position_m: f64,
    pub fuse_max_velocity_mps: f64,
}

impl Report {
    /// True when the backends agree within the tolerances.
    pub fn agrees(&self) -> bool {
        self.epoch_decisions_differing
            == self.epoch_decisions_exact_ties + self.epoch_decisions_bound_ties
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
             of which ties: {} exact, {} within the auction's bound\n\
             hysteresis  {:>9}   -                                 {:>9}\n\
             and rows differing in replays after a tie (allowed): {}\n\
             fuse        {:>9}   {:>9.4} m   {:>9.5} m/s            -\n\
             tolerances: fused states within {POSITION_TOLERANCE} m and {VELOCITY_TOLERANCE} m/s, no differing decision but ties\n\
             verdict: {}\n",
            self.propagated_tracks,
            self.propagate_max_position_m,
            self.propagate_max_velocity_mps,
            self.epoch_decisions,
            self.epoch_decisions_differing,
            self.epoch_decisions_exact_ties,
            self.epoch_decisions_bound_ties,
            self.association_rows,
            self.association_rows_differing,
            self.association_rows_after_ties,
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
    if cfg.assignment != crate::associate::Assignment::Sequential {
        return Err(crate::Error::Config(
            "verify compares the GPU's association kernels, which run the sequential \
             assignment; the S-D assignment runs on the host on either backend (leave out \
             --assignment sd)"
                .into(),
        ));
    }
    let mut traces: Vec<ChunkTrace> = Vec::new();
    let gpu_corr = gpu.correlate(set, cfg, |_, _| {}, Some(&mut traces))?;
    let cpu = correlate::correlate(set, cfg)?;
    let mut report = Report::default();

    // Propagation and per-epoch association, against the CPU twins on the same jobs.
    let gate = Gate::new(cfg.gate_probability)?;
    let params = cfg.epoch_params(gate);
    let propagated: Vec<_> = traces.iter().flat_map(|t| t.propagated.iter()).collect();
    let clusters: Vec<u32> = traces
        .iter()
        .flat_map(|t| t.clusters.iter().copied())
        .collect();
    let assignment: Vec<i32> = traces
        .iter()
        .flat_map(|t| t.assignment.iter().copied())
        .collect();
    let mut tied_replays = BTreeSet::new();
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
                tracks.push(EpochTrack::from_report(j, rep, state, cov));
            }
            let mut stages = Vec::new();
            let cpu_clusters =
                associate::associate_epoch_traced(&tracks, &params, Some(&mut stages))?;
            let range = job.min(clusters.len())..(job + tracks.len()).min(clusters.len());
            let gpu_clusters = &clusters[range.clone()];
            report.propagated_tracks += tracks.len();
            let mut differing = 0;
            for a in 0..tracks.len() {
                report.epoch_decisions += 1;
                let same = gpu_clusters.len() == tracks.len()
                    && (0..tracks.len()).all(|b| {
                        (cpu_clusters[a] == cpu_clusters[b]) == (gpu_clusters[a] == gpu_clusters[b])
                    });
                differing += usize::from(!same);
            }
            report.epoch_decisions_differing += differing;
            if differing > 0 {
                // The first stage whose assignments differ decides: before it the
                // clusters are the same on both sides, so its problem is the same.
                let gpu_rows = assignment.get(range).unwrap_or(&[]);
                let tie = stages.iter().find_map(|st| {
                    let gpu: Vec<Option<usize>> = (0..st.rows)
                        .map(|i| {
                            gpu_rows
                                .get(st.first + i)
                                .and_then(|&c| usize::try_from(c).ok())
                        })
                        .collect();
                    (gpu != st.assignment).then(|| classify_tie(st, &gpu))
                });
                match tie {
                    Some(Tie::Exact) => report.epoch_decisions_exact_ties += differing,
                    Some(Tie::WithinBound) => report.epoch_decisions_bound_ties += differing,
                    // The same assignments but other clusters, or a worse one: a real
                    // difference.
                    Some(Tie::No) | None => {}
                }
                if matches!(tie, Some(Tie::Exact | Tie::WithinBound)) {
                    tied_replays.insert(input.replay);
                }
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
    let differing = cpu_rows
        .iter()
        .filter(|(k, v)| gpu_rows.get(k) != Some(v))
        .map(|(k, _)| k)
        .chain(gpu_rows.keys().filter(|k| !cpu_rows.contains_key(k)));
    for (replay, _, _) in differing {
        if tied_replays.contains(replay) {
            report.association_rows_after_ties += 1;
        } else {
            report.association_rows_differing += 1;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(ratio: Vec<f64>, cpu: Vec<Option<usize>>) -> StageTrace {
        StageTrace {
            first: 0,
            rows: cpu.len(),
            cols: ratio.len() / cpu.len(),
            ratio,
            assignment: cpu,
        }
    }

    #[test]
    fn equal_costs_are_an_exact_tie() {
        let s = stage(vec![0.3, 0.3], vec![Some(0)]);
        assert_eq!(classify_tie(&s, &[Some(1)]), Tie::Exact);
    }

    #[test]
    fn gate_edge_and_miss_ties_are_exact() {
        // A pair just inside the gate on the CPU against a miss (cost 1) on the GPU, and
        // a pair the CPU gated out by less than the edge.
        let s = stage(vec![0.999_999, 1.000_001], vec![Some(0)]);
        assert_eq!(classify_tie(&s, &[None]), Tie::Exact);
        assert_eq!(classify_tie(&s, &[Some(1)]), Tie::Exact);
        // Gated out by more than the edge: not a tie.
        let s = stage(vec![0.5, 1.1], vec![Some(0)]);
        assert_eq!(classify_tie(&s, &[Some(1)]), Tie::No);
    }

    #[test]
    fn costs_within_the_auction_bound_are_a_bound_tie() {
        // n = 3: ε = 1e-3 / 3, bound 2e-3.
        let s = stage(vec![0.3, 0.3005], vec![Some(0)]);
        assert_eq!(classify_tie(&s, &[Some(1)]), Tie::WithinBound);
        let s = stage(vec![0.3, 0.5], vec![Some(0)]);
        assert_eq!(classify_tie(&s, &[Some(1)]), Tie::No);
    }

    #[test]
    fn swapped_rows_of_equal_total_tie() {
        // Two rows, two columns: (0,0)+(1,1) = 0.2 + 0.6 = (0,1)+(1,0) = 0.4 + 0.4.
        let s = stage(vec![0.2, 0.4, 0.4, 0.6], vec![Some(0), Some(1)]);
        assert_eq!(classify_tie(&s, &[Some(1), Some(0)]), Tie::Exact);
        let s = stage(vec![0.2, 0.4, 0.5, 0.6], vec![Some(0), Some(1)]);
        assert_eq!(classify_tie(&s, &[Some(1), Some(0)]), Tie::No);
    }
}
