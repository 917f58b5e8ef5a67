//! Whole runs as the command line makes them: read files, correlate, score, summarise.

use crate::correlate::{self, Config, Correlation};
use crate::error::Result;
use crate::io::{self, ReportSet};
use crate::metrics::{self, Metrics, gospa::GospaParams};
use crate::output::Counts;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Input files of `correlate`.
#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    pub reports: PathBuf,
    pub sensors: Option<PathBuf>,
    pub truth: Option<PathBuf>,
}

/// The backend that ran.
#[derive(Clone, Debug, Serialize)]
pub struct Backend {
    pub name: &'static str,
    pub threads: usize,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub trackcorr_version: &'static str,
    pub backend: Backend,
    pub inputs: Inputs,
    pub parameters: Config,
    pub counts: Counts,
    /// Wall-clock seconds per stage, and for the whole run (these vary between runs; every
    /// other field is reproducible).
    pub timing: Timing,
    pub metrics: Option<Metrics>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timing {
    pub read_s: f64,
    pub stages_s: correlate::StageTimes,
    pub metrics_s: f64,
    pub total_s: f64,
}

/// A finished run.
pub struct Run {
    pub reports: ReportSet,
    pub correlation: Correlation,
    pub summary: Summary,
}

/// Reads the inputs, correlates on the CPU and scores against truth when given.
/// `progress(done, total)` is called as replays are finished.
pub fn correlate_files(
    inputs: &Inputs,
    cfg: &Config,
    gospa: &GospaParams,
    progress: impl FnMut(usize, usize),
) -> Result<Run> {
    cfg.validate()?;
    let start = Instant::now();
    let sensors = inputs
        .sensors
        .as_deref()
        .map(io::read_sensors)
        .transpose()?;
    let reports = io::read_reports(&inputs.reports, sensors.as_ref())?;
    let truth = inputs.truth.as_deref().map(io::read_truth).transpose()?;
    let read_s = start.elapsed().as_secs_f64();
    let correlation = correlate::correlate_with_progress(&reports, cfg, progress)?;
    let t_metrics = Instant::now();
    let metrics = truth
        .as_deref()
        .map(|t| metrics::score(&correlation, &reports.sensors, t, gospa))
        .transpose()?;
    let metrics_s = t_metrics.elapsed().as_secs_f64();
    let summary = Summary {
        trackcorr_version: env!("CARGO_PKG_VERSION"),
        backend: Backend {
            name: "cpu",
            threads: rayon::current_num_threads(),
        },
        inputs: inputs.clone(),
        parameters: *cfg,
        counts: Counts::of(&correlation, reports.reports.len()),
        timing: Timing {
            read_s,
            stages_s: correlation.times,
            metrics_s,
            total_s: start.elapsed().as_secs_f64(),
        },
        metrics,
    };
    Ok(Run {
        reports,
        correlation,
        summary,
    })
}

/// Keeps only the reports of one network's sensors.
pub fn network_subset(set: &ReportSet, network: usize) -> ReportSet {
    ReportSet {
        reports: set
            .reports
            .iter()
            .filter(|r| set.sensors.network_of[r.sensor as usize] == network)
            .copied()
            .collect(),
        sensors: set.sensors.clone(),
        full_covariance: set.full_covariance,
    }
}
