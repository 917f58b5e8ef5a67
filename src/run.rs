//! Whole runs as the command line makes them: read files, correlate, score, summarise.

use crate::correlate::{self, Config, Correlation};
use crate::error::Result;
use crate::gpu::correlate::GpuBackend;
use crate::gpu::{AdapterSummary, GpuContext, GpuOptions};
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

/// The backend asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    /// The GPU when an adapter exists, else the CPU (said in one line on stderr).
    Auto,
    /// wgpu compute shaders; fails without an adapter.
    Gpu,
    /// Plain Rust, multi-threaded, f64.
    Cpu,
}

/// A backend ready to run.
pub enum Engine {
    Cpu,
    Gpu(Box<GpuBackend>),
}

impl Engine {
    /// Opens the chosen backend. With `auto`, a GPU that cannot be opened means the CPU,
    /// and the reason is returned to be told to the user.
    pub fn open(choice: BackendChoice, opts: &GpuOptions) -> Result<(Engine, Option<String>)> {
        match choice {
            BackendChoice::Cpu => Ok((Engine::Cpu, None)),
            BackendChoice::Gpu => Ok((Engine::Gpu(Box::new(GpuBackend::new(opts)?)), None)),
            // The adapter is looked at before the kernels are compiled: a CPU implementation
            // of Vulkan (llvmpipe) is slower than the CPU backend, so `auto` means a real GPU.
            BackendChoice::Auto => match GpuContext::new(opts) {
                Ok(ctx) if ctx.is_cpu_device() => Ok((
                    Engine::Cpu,
                    Some(format!(
                        "the only adapter, {}, is a CPU implementation; running on the CPU \
                         backend (--backend gpu forces it)",
                        ctx.adapter.name
                    )),
                )),
                Ok(ctx) => Ok((Engine::Gpu(Box::new(GpuBackend::with_context(ctx)?)), None)),
                Err(e) => Ok((
                    Engine::Cpu,
                    Some(format!("no usable GPU ({e}); running on the CPU")),
                )),
            },
        }
    }

    /// What `summary.json` says of it.
    pub fn summary(&self, note: Option<String>) -> Backend {
        match self {
            Engine::Cpu => Backend {
                name: "cpu",
                threads: rayon::current_num_threads(),
                adapter: None,
                note,
            },
            Engine::Gpu(g) => Backend {
                name: "gpu",
                threads: rayon::current_num_threads(),
                adapter: Some(g.ctx.adapter.clone()),
                note,
            },
        }
    }

    /// Correlates on this backend.
    pub fn correlate(
        &self,
        set: &ReportSet,
        cfg: &Config,
        progress: impl FnMut(usize, usize),
    ) -> Result<Correlation> {
        match self {
            Engine::Cpu => correlate::correlate_with_progress(set, cfg, progress),
            Engine::Gpu(g) => g.correlate(set, cfg, progress, None),
        }
    }
}

/// The backend that ran.
#[derive(Clone, Debug, Serialize)]
pub struct Backend {
    pub name: &'static str,
    /// Host threads (the CPU backend's workers; the GPU backend's host-side work).
    pub threads: usize,
    /// The GPU adapter: name, device type, driver.
    pub adapter: Option<AdapterSummary>,
    /// Why `auto` fell back to the CPU, if it did.
    pub note: Option<String>,
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

/// Reads the inputs, correlates on `engine` and scores against truth when given.
/// `progress(done, total)` is called as replays are finished.
pub fn correlate_files(
    inputs: &Inputs,
    cfg: &Config,
    gospa: &GospaParams,
    engine: &Engine,
    backend: Backend,
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
    let correlation = engine.correlate(&reports, cfg, progress)?;
    let t_metrics = Instant::now();
    let metrics = truth
        .as_deref()
        .map(|t| metrics::score(&correlation, &reports.sensors, t, gospa))
        .transpose()?;
    let metrics_s = t_metrics.elapsed().as_secs_f64();
    let summary = Summary {
        trackcorr_version: env!("CARGO_PKG_VERSION"),
        backend,
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
