//! Whole runs as the command line makes them: read files, correlate, score, summarise.

use crate::correlate::{self, Config, Correlation};
use crate::error::Result;
use crate::gpu::correlate::GpuBackend;
use crate::gpu::{AdapterSummary, GpuContext, GpuOptions};
use crate::history;
use crate::io::{self, ReportSet};
use crate::metrics::{self, Metrics, gospa::GospaParams};
use crate::output::Counts;
use crate::shard::{Manifest, Shard};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Input files of `correlate`.
#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    pub reports: Option<PathBuf>,
    /// Raw detections, tracked first (`correlate --detections`).
    pub detections: Option<PathBuf>,
    pub sensors: Option<PathBuf>,
    pub truth: Option<PathBuf>,
    /// Skip data rows that cannot be read instead of stopping (`--lenient`).
    pub lenient: bool,
    /// The replays to process (`--shard`); in the manifest, not the summary, so that merged
    /// shards summarise as one run.
    #[serde(skip)]
    pub shard: Shard,
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
        // The adapter is looked at before the kernels are compiled: a CPU implementation of
        // Vulkan (llvmpipe) is slower than the CPU backend, so `auto` means a real GPU.
        let (ctx, note) = open_context(choice, opts)?;
        Ok(match ctx {
            None => (Engine::Cpu, note),
            Some(ctx) => {
                let mut gpu = GpuBackend::with_context(ctx)?;
                // `auto` promises a result: a chunk the GPU fails is correlated on the CPU.
                gpu.cpu_fallback = choice == BackendChoice::Auto;
                (Engine::Gpu(Box::new(gpu)), note)
            }
        })
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
    /// Rows skipped under `--lenient`: file → reason → count (empty when strict).
    pub skipped_rows: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// Replays that `--backend auto` correlated on the CPU after a GPU error, with the error.
    pub cpu_reruns: Vec<correlate::CpuRerun>,
    /// Wall-clock seconds per stage, and for the whole run (these vary between runs; every
    /// other field is reproducible).
    pub timing: Timing,
    pub metrics: Option<Metrics>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timing {
    pub read_s: f64,
    /// Local tracking of raw detections (`--detections`), else 0.
    pub track_s: f64,
    pub stages_s: correlate::StageTimes,
    pub metrics_s: f64,
    pub total_s: f64,
}

/// A finished run.
pub struct Run {
    pub reports: ReportSet,
    pub correlation: Correlation,
    pub summary: Summary,
    /// Additive scores per replay (with truth), for the manifest.
    pub scores: BTreeMap<u32, metrics::Tally>,
    /// The truth read (empty without `--truth`), and GOSPA against time per replay.
    pub truth: Vec<crate::model::TruthSample>,
    pub gospa_series: BTreeMap<u32, Vec<(f64, f64)>>,
}

impl Run {
    /// The picture of the first replay (see [`crate::plot`]) as SVG.
    pub fn picture(&self) -> String {
        let replay = self.correlation.replays.first().map_or(0, |r| r.replay);
        let objects = self
            .summary
            .metrics
            .as_ref()
            .map(|m| m.objects.iter().filter(|o| o.replay == replay).collect())
            .unwrap_or_default();
        let m = self.summary.metrics.as_ref();
        let title = match m {
            Some(m) => format!(
                "replay {replay}: purity {:.3}, completeness {:.3}, GOSPA {:.0} m (whole run)",
                m.purity, m.completeness, m.gospa.mean
            ),
            None => format!("replay {replay}"),
        };
        crate::plot::svg(&crate::plot::PlotData {
            title,
            sensors: &self.reports.sensors,
            reports: self
                .reports
                .reports
                .iter()
                .filter(|r| r.replay == replay)
                .collect(),
            truth: self.truth.iter().filter(|t| t.replay == replay).collect(),
            result: self.correlation.replays.first(),
            objects,
            gospa: self.gospa_series.get(&replay).map_or(&[], Vec::as_slice),
        })
    }

    /// Writes the picture into `dir` as `plot.png` and `plot.svg`.
    pub fn write_picture(&self, dir: &crate::io::csv::OutputDir) -> Result<()> {
        let svg = self.picture();
        dir.write("plot.png", &crate::plot::png(&svg)?)?;
        dir.write("plot.svg", svg.as_bytes())
    }

    /// The manifest of this run: its inputs hashed, its options, its replays and scores
    /// (the outputs are hashed when it is written).
    pub fn manifest(&self, inputs: &Inputs, gospa: &GospaParams) -> Result<Manifest> {
        let mut replays: Vec<u32> = self.correlation.replays.iter().map(|r| r.replay).collect();
        replays.extend(self.scores.keys());
        replays.sort_unstable();
        replays.dedup();
        Ok(Manifest {
            trackcorr_version: env!("CARGO_PKG_VERSION").into(),
            command: "correlate".into(),
            shard: inputs.shard,
            replays,
            inputs: crate::shard::hash_inputs(&[
                ("reports", inputs.reports.as_deref()),
                ("detections", inputs.detections.as_deref()),
                ("sensors", inputs.sensors.as_deref()),
                ("truth", inputs.truth.as_deref()),
            ])?,
            options: serde_json::json!({
                "parameters": self.summary.parameters,
                "gospa": { "p": gospa.p, "c": gospa.c, "alpha": gospa.alpha },
                "lenient": inputs.lenient,
            }),
            backend: serde_json::json!({
                "name": self.summary.backend.name,
                "adapter": self.summary.backend.adapter,
            }),
            outputs: Vec::new(),
            scores: self.scores.clone(),
        })
    }
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
    let mut policy = io::RowPolicy::new(inputs.lenient);
    let sensors = inputs
        .sensors
        .as_deref()
        .map(io::read_sensors)
        .transpose()?;
    let mut track_s = 0.0;
    let reports = match (&inputs.reports, &inputs.detections, sensors) {
        (Some(r), None, sensors) => {
            let mut set = io::read_reports_with(r, sensors.as_ref(), &mut policy)?;
            set.reports.retain(|r| inputs.shard.keeps(r.replay));
            set
        }
        (None, Some(d), Some(sensors)) => {
            let mut detections = io::read_detections_with(d, &sensors, &mut policy)?;
            detections.retain(|d| inputs.shard.keeps(d.replay));
            let t0 = Instant::now();
            let ctx = match engine {
                Engine::Cpu => None,
                Engine::Gpu(g) => Some(&g.ctx),
            };
            let (reports, _) = track_detections(
                &detections,
                &sensors,
                &crate::track::TrackerParams::default(),
                ctx,
            )?;
            track_s = t0.elapsed().as_secs_f64();
            if reports.is_empty() && !detections.is_empty() {
                return Err(crate::Error::Config(format!(
                    "{}: no confirmed track came out of the detections",
                    d.display()
                )));
            }
            ReportSet {
                reports,
                sensors,
                full_covariance: true,
            }
        }
        (None, Some(_), None) => {
            return Err(crate::Error::Config("--detections needs --sensors".into()));
        }
        _ => {
            return Err(crate::Error::Config(
                "give either --reports or --detections".into(),
            ));
        }
    };
    let truth = inputs
        .truth
        .as_deref()
        .map(|t| io::read_truth_with(t, &mut policy))
        .transpose()?
        .map(|mut t| {
            t.retain(|s| inputs.shard.keeps(s.replay));
            t
        });
    let read_s = start.elapsed().as_secs_f64() - track_s;
    let correlation = engine.correlate(&reports, cfg, progress)?;
    let t_metrics = Instant::now();
    let scores = truth
        .as_deref()
        .map(|t| metrics::score_replays(&correlation, &reports.sensors, t, gospa))
        .transpose()?;
    let tallies = scores
        .iter()
        .flatten()
        .map(|r| (r.replay, r.tally))
        .collect();
    let gospa_series = scores
        .iter()
        .flatten()
        .map(|r| (r.replay, r.gospa_series.clone()))
        .collect();
    let metrics = scores.map(|s| metrics::Metrics::combine(s, gospa));
    let metrics_s = t_metrics.elapsed().as_secs_f64();
    let summary = Summary {
        trackcorr_version: env!("CARGO_PKG_VERSION"),
        backend,
        inputs: inputs.clone(),
        parameters: *cfg,
        counts: Counts::of(&correlation, reports.reports.len()),
        skipped_rows: policy.skipped,
        cpu_reruns: correlation.cpu_reruns.clone(),
        timing: Timing {
            read_s,
            track_s,
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
        scores: tallies,
        truth: truth.unwrap_or_default(),
        gospa_series,
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

/// A GPU context for a command's kernels, or `None` for the CPU backend, with the reason
/// `auto` fell back to the CPU. `auto` runs on a GPU only when the adapter is not a CPU
/// implementation of Vulkan.
pub fn open_context(
    choice: BackendChoice,
    gpu: &GpuOptions,
) -> Result<(Option<GpuContext>, Option<String>)> {
    Ok(match choice {
        BackendChoice::Cpu => (None, None),
        BackendChoice::Gpu => (Some(GpuContext::new(gpu)?), None),
        BackendChoice::Auto => match GpuContext::new(gpu) {
            Ok(ctx) if ctx.is_cpu_device() => (
                None,
                Some(format!(
                    "the only adapter, {}, is a CPU implementation; running on the CPU \
                     backend (--backend gpu forces it)",
                    ctx.adapter.name
                )),
            ),
            Ok(ctx) => (Some(ctx), None),
            Err(e) => (
                None,
                Some(format!("no usable GPU ({e}); running on the CPU")),
            ),
        },
    })
}

/// Local tracking on the chosen backend: the reports, and on the GPU what it did.
pub fn track_detections(
    detections: &[crate::model::Detection],
    sensors: &crate::model::SensorTable,
    params: &crate::track::TrackerParams,
    ctx: Option<&GpuContext>,
) -> Result<(
    Vec<crate::model::Report>,
    Option<crate::gpu::track::GpuTrackStats>,
)> {
    match ctx {
        None => Ok((crate::track::track_cpu(detections, sensors, params)?, None)),
        Some(ctx) => {
            let (r, s) =
                crate::gpu::track::Tracker::new(ctx)?.track(ctx, detections, sensors, params)?;
            Ok((r, Some(s)))
        }
    }
}

/// Options of `trackcorr history` beyond the counting parameters.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct HistoryOptions {
    pub params: history::HistoryParams,
    /// Resample every track on epochs this many seconds apart (for reports that are not
    /// synchronised between sensors); `None`: the report times as they are.
    pub epoch_interval: Option<f64>,
    /// Propagation used for resampling.
    pub propagation: crate::propagate::Propagation,
    pub max_age: Option<f64>,
    /// Replays per GPU submission.
    pub chunk_replays: usize,
}

/// `summary.json` of `trackcorr history`.
#[derive(Clone, Debug, Serialize)]
pub struct HistorySummary {
    pub trackcorr_version: &'static str,
    pub backend: Backend,
    pub reports: PathBuf,
    pub sensors: Option<PathBuf>,
    pub options: HistoryOptions,
    pub counts: history::HistoryCounts,
    /// Associated track pairs and their time ranges (rows of the CSV).
    pub associations: usize,
    pub time_ranges: usize,
    /// Against the reports' `truth` labels, when they have them.
    pub score: Option<history::HistoryScore>,
    pub timing: HistoryTiming,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct HistoryTiming {
    pub read_s: f64,
    /// Building the track histories from the reports (and resampling them on epochs).
    pub histories_s: f64,
    /// Counting (and, on the GPU, upload and read-back) plus deconfliction.
    pub associate_s: f64,
    /// GPU time of the counting kernel from timestamp queries, where the adapter has them.
    pub gpu_kernels: Option<crate::gpu::timing::KernelTimes>,
    pub total_s: f64,
}

/// A finished `history` run.
pub struct HistoryRun {
    pub histories: Vec<history::ReplayHistory>,
    pub result: Vec<history::ReplayAssociations>,
    pub sensors: crate::model::SensorTable,
    pub summary: HistorySummary,
}

/// Reads reports, builds the track histories and associates them on the chosen backend.
/// `auto` runs on a GPU only when the adapter is not a CPU implementation.
pub fn history_files(
    reports_path: &std::path::Path,
    sensors_path: Option<&std::path::Path>,
    opts: &HistoryOptions,
    choice: BackendChoice,
    gpu: &GpuOptions,
) -> Result<HistoryRun> {
    opts.params.validate()?;
    let start = Instant::now();
    let sensors = sensors_path.map(io::read_sensors).transpose()?;
    let set = io::read_reports(reports_path, sensors.as_ref())?;
    let read_s = start.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let histories = match opts.epoch_interval {
        None => history::from_reports(&set.reports, reports_path)?,
        Some(dt) => history::resampled(&set.reports, dt, &opts.propagation, opts.max_age)?,
    };
    let histories_s = t0.elapsed().as_secs_f64();
    let (ctx, note) = open_context(choice, gpu)?;
    let t0 = Instant::now();
    let (result, counts, gpu_kernels) = match &ctx {
        None => {
            let (r, c) = history::associate_cpu(&histories, &opts.params)?;
            (r, c, None)
        }
        Some(ctx) => crate::gpu::history::Counter::new(ctx)?.associate(
            ctx,
            &histories,
            &opts.params,
            opts.chunk_replays,
        )?,
    };
    let associate_s = t0.elapsed().as_secs_f64();
    let backend = Backend {
        name: if ctx.is_some() { "gpu" } else { "cpu" },
        threads: rayon::current_num_threads(),
        adapter: ctx.as_ref().map(|c| c.adapter.clone()),
        note,
    };
    let summary = HistorySummary {
        trackcorr_version: env!("CARGO_PKG_VERSION"),
        backend,
        reports: reports_path.to_path_buf(),
        sensors: sensors_path.map(|p| p.to_path_buf()),
        options: *opts,
        counts,
        associations: result.iter().map(|r| r.pairs.len()).sum(),
        time_ranges: result
            .iter()
            .flat_map(|r| &r.pairs)
            .map(|p| p.ranges.len())
            .sum(),
        score: history::score(&histories, &result),
        timing: HistoryTiming {
            read_s,
            histories_s,
            associate_s,
            gpu_kernels,
            total_s: start.elapsed().as_secs_f64(),
        },
    };
    Ok(HistoryRun {
        histories,
        result,
        sensors: set.sensors,
        summary,
    })
}
