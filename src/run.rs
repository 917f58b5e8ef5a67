//! Whole runs as the command line makes them: read files, correlate, score, summarise.

use crate::associate::Assignment;
use crate::correlate::ReplayResult;
use crate::correlate::{self, Config, Correlation};
use crate::error::Result;
use crate::gpu::correlate::GpuBackend;
use crate::gpu::{AdapterSummary, GpuContext, GpuOptions};
use crate::history;
use crate::io::{self, ReportSet};
use crate::metrics::{self, Metrics, gospa::GospaParams};
use crate::model::{Report, SensorTable, TruthSample};
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
    /// The radars' true biases (`truth_biases.csv` of `generate --biases`), to score
    /// `--register`.
    pub truth_biases: Option<PathBuf>,
    /// Skip data rows that cannot be read instead of stopping (`--lenient`).
    pub lenient: bool,
    /// The replays to process (`--shard`); in the manifest, not the summary, so that merged
    /// shards summarise as one run.
    #[serde(skip)]
    pub shard: Shard,
    /// Reports read and correlated at a time (whole replays, at least this many): see
    /// [`BATCH_REPORTS`]. Not in the summary: it changes nothing in the results.
    #[serde(skip)]
    pub batch_reports: usize,
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
        let mut progress = progress;
        if cfg.register.enabled {
            // Two passes: the first only finds the pairs the biases are estimated from.
            let mut pass = 0;
            let (mut corr, estimates) =
                crate::register::register_and_correlate(set, cfg, |s, c| {
                    pass += 1;
                    let second = pass == 2;
                    self.correlate_once(s, c, |d, n| {
                        if second {
                            progress(d, n)
                        }
                    })
                })?;
            corr.registration = estimates;
            return Ok(corr);
        }
        self.correlate_once(set, cfg, progress)
    }

    fn correlate_once(
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
    /// With `--detections` under `--backend auto`: the GPU error after which the detections
    /// were tracked on the CPU, and how many trackers were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracked_on_cpu: Option<String>,
    /// Wall-clock seconds per stage, and for the whole run (these vary between runs; every
    /// other field is reproducible).
    pub timing: Timing,
    pub metrics: Option<Metrics>,
    /// With `--register`: per sensor, the mean estimated bias and, with the true biases,
    /// the estimates' errors (each replay's in `registration.csv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<BTreeMap<String, crate::register::SensorSummary>>,
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

/// A finished run. Its results went to the sink as they came; it keeps what the summary,
/// the manifest and the picture need.
pub struct Run {
    pub sensors: SensorTable,
    pub summary: Summary,
    /// The replays correlated or scored, in order.
    pub replays: Vec<u32>,
    /// Additive scores per replay (with truth), for the manifest.
    pub scores: BTreeMap<u32, metrics::Tally>,
    /// The first correlated replay, for the picture.
    pub first: Option<FirstReplay>,
    /// Each replay's estimated radar biases (`--register`), for `registration.csv`.
    pub registration: Vec<crate::register::RegistrationRow>,
}

/// What the picture shows of one replay.
pub struct FirstReplay {
    pub reports: Vec<Report>,
    /// Its truth (empty without `--truth`), and GOSPA against time.
    pub truth: Vec<TruthSample>,
    pub result: ReplayResult,
    pub gospa_series: Vec<(f64, f64)>,
}

impl Run {
    /// The picture of the first replay (see [`crate::plot`]) as SVG.
    pub fn picture(&self) -> String {
        let first = self.first.as_ref();
        let replay = first.map_or(0, |f| f.result.replay);
        let m = self.summary.metrics.as_ref();
        let objects = m
            .map(|m| m.objects.iter().filter(|o| o.replay == replay).collect())
            .unwrap_or_default();
        let title = match m {
            Some(m) => format!(
                "replay {replay}: purity {:.3}, completeness {:.3}, GOSPA {:.0} m (whole run)",
                m.purity, m.completeness, m.gospa.mean
            ),
            None => format!("replay {replay}"),
        };
        crate::plot::svg(&crate::plot::PlotData {
            title,
            sensors: &self.sensors,
            reports: first
                .map(|f| f.reports.iter().collect())
                .unwrap_or_default(),
            truth: first.map(|f| f.truth.iter().collect()).unwrap_or_default(),
            result: first.map(|f| &f.result),
            objects,
            gospa: first.map_or(&[], |f| f.gospa_series.as_slice()),
        })
    }

    /// Writes the picture into `dir` as `plot.png` and `plot.svg`, and where the first
    /// replay has a hand-over, its picture as `handover.png` and `handover.svg`.
    pub fn write_picture(&self, dir: &crate::io::csv::OutputDir) -> Result<()> {
        let svg = self.picture();
        dir.write("plot.png", &crate::plot::png(&svg)?)?;
        dir.write("plot.svg", svg.as_bytes())?;
        if let Some(svg) = self.handover_picture() {
            dir.write("handover.png", &crate::plot::png(&svg)?)?;
            dir.write("handover.svg", svg.as_bytes())?;
        }
        Ok(())
    }

    /// The picture of the first replay's first hand-over, if it has one (see
    /// [`crate::plot::handover_svg`]).
    pub fn handover_picture(&self) -> Option<String> {
        let f = self.first.as_ref()?;
        crate::plot::handover_svg(
            &crate::plot::PlotData {
                title: String::new(),
                sensors: &self.sensors,
                reports: f.reports.iter().collect(),
                truth: f.truth.iter().collect(),
                result: Some(&f.result),
                objects: Vec::new(),
                gospa: &[],
            },
            &self.summary.parameters,
        )
    }

    /// The manifest of this run: its inputs hashed, its options, its replays and scores
    /// (the outputs are hashed when it is written).
    pub fn manifest(&self, inputs: &Inputs, gospa: &GospaParams) -> Result<Manifest> {
        Ok(Manifest {
            trackcorr_version: env!("CARGO_PKG_VERSION").into(),
            command: "correlate".into(),
            shard: inputs.shard,
            replays: self.replays.clone(),
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

/// Reports correlated per batch by default: whole replays, at least this many reports
/// (the whole run stays under 0.7 GB on the CPU backend, 10⁷ reports included; see BENCHMARKS.md).
pub const BATCH_REPORTS: usize = 1 << 18;

/// Where the reports of each batch come from: the file, read a batch at a time, or local
/// tracks made from detections (held whole: tracking needs all of a sensor's detections).
enum ReportSource {
    File(Box<io::ReportReader>),
    Tracked(std::vec::IntoIter<Report>, SensorTable),
}

impl ReportSource {
    fn next_batch(
        &mut self,
        min: usize,
        policy: &mut io::RowPolicy,
    ) -> Result<Option<Vec<Report>>> {
        match self {
            ReportSource::File(r) => r.next_replays(min, policy),
            ReportSource::Tracked(it, _) => {
                let mut out: Vec<Report> = Vec::new();
                while let Some(r) = it.as_slice().first() {
                    if out.len() >= min && out.last().is_some_and(|l| l.replay != r.replay) {
                        break;
                    }
                    out.extend(it.next());
                }
                Ok((!out.is_empty()).then_some(out))
            }
        }
    }

    fn sensors(&self) -> SensorTable {
        match self {
            ReportSource::File(r) => r.sensors(),
            ReportSource::Tracked(_, s) => s.clone(),
        }
    }
}

/// Reads the inputs a batch of whole replays at a time (at least `inputs.batch_reports`),
/// correlates each batch on `engine`, scores it against truth when given and hands its
/// results to `sink`, so that memory holds one batch rather than the files. The outputs
/// do not depend on the batch size. `progress(done, total)` is called after each batch, in
/// bytes of the reports file (in replays with `--detections`).
pub fn correlate_files(
    inputs: &Inputs,
    cfg: &Config,
    gospa: &GospaParams,
    engine: &Engine,
    backend: Backend,
    mut sink: impl FnMut(&Correlation, &SensorTable) -> Result<()>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Run> {
    cfg.validate()?;
    let start = Instant::now();
    let mut policy = io::RowPolicy::new(inputs.lenient);
    let sensors = inputs
        .sensors
        .as_deref()
        .map(io::read_sensors)
        .transpose()?
        .map(|s| match cfg.assignment {
            // The S-D assignment does not depend on the sensors' order; numbering them by
            // name makes the rest (system track numbers, ties) not depend on it either.
            Assignment::Sd => s.by_name(),
            Assignment::Sequential => s,
        });
    let mut track_s = 0.0;
    // The GPU error after which `--detections` were tracked on the CPU.
    let mut tracked_on_cpu: Option<String> = None;
    let mut source = match (&inputs.reports, &inputs.detections, sensors) {
        (Some(r), None, sensors) => ReportSource::File(Box::new(io::ReportReader::open(
            r,
            sensors.as_ref(),
            inputs.lenient,
        )?)),
        (None, Some(d), Some(sensors)) => {
            let mut detections = io::read_detections_with(d, &sensors, &mut policy)?;
            detections.retain(|d| inputs.shard.keeps(d.replay));
            let t0 = Instant::now();
            let (ctx, cpu_fallback) = match engine {
                Engine::Cpu => (None, false),
                Engine::Gpu(g) => (Some(&g.ctx), g.cpu_fallback),
            };
            let (reports, stats) = track_detections(
                &detections,
                &sensors,
                &crate::track::TrackerParams::default(),
                ctx,
                cpu_fallback,
                |_, _| {},
            )?;
            tracked_on_cpu = stats.and_then(|s| {
                let e = s.gpu_error?;
                Some(format!(
                    "tracking: {e} ({} of {} trackers tracked on the CPU)",
                    s.trackers_after_gpu_error, s.trackers
                ))
            });
            track_s = t0.elapsed().as_secs_f64();
            if reports.is_empty() && !detections.is_empty() {
                return Err(crate::Error::Config(format!(
                    "{}: no confirmed track came out of the detections",
                    d.display()
                )));
            }
            ReportSource::Tracked(reports.into_iter(), sensors)
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
    let full_covariance = match &source {
        ReportSource::File(r) => r.full_covariance(),
        ReportSource::Tracked(..) => true,
    };
    // Progress: bytes of the reports file, or replays of the tracked reports.
    let total = match &source {
        ReportSource::File(_) => inputs
            .reports
            .as_deref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len() as usize),
        ReportSource::Tracked(it, _) => {
            let mut ids: Vec<u32> = it.as_slice().iter().map(|r| r.replay).collect();
            ids.dedup();
            ids.len()
        }
    };
    let mut truth = inputs
        .truth
        .as_deref()
        .map(|t| io::TruthReader::open(t, inputs.lenient))
        .transpose()?;

    let mut times = correlate::StageTimes::default();
    let (mut read_s, mut metrics_s) = (start.elapsed().as_secs_f64() - track_s, 0.0);
    let mut counts = Counts::default();
    let mut cpu_reruns = Vec::new();
    let mut scores: Vec<metrics::ReplayScore> = Vec::new();
    let mut replays: Vec<u32> = Vec::new();
    let mut first: Option<FirstReplay> = None;
    let mut done_replays = 0;
    let mut registration = Vec::new();
    let truth_biases = match &inputs.truth_biases {
        Some(p) => Some(io::read_biases(p, &source.sensors())?),
        None => None,
    };
    // A pooled registration estimates from every replay at once: one batch holds them all.
    let batch_reports = if cfg.register.enabled && cfg.register.pool {
        usize::MAX
    } else {
        inputs.batch_reports.max(1)
    };
    loop {
        let t0 = Instant::now();
        let mut batch = source
            .next_batch(batch_reports, &mut policy)?
            .unwrap_or_default();
        let last = batch.last().map(|r| r.replay);
        batch.retain(|r| inputs.shard.keeps(r.replay));
        // The truth of the batch's replays and of any before them without reports; after the
        // last batch, the rest.
        let batch_truth = match &mut truth {
            Some(t) => {
                let mut s = t.through(last.unwrap_or(u32::MAX), &mut policy)?;
                s.retain(|s| inputs.shard.keeps(s.replay));
                Some(s)
            }
            None => None,
        };
        read_s += t0.elapsed().as_secs_f64();
        let set = ReportSet {
            reports: batch,
            sensors: source.sensors(),
            full_covariance,
        };
        let correlation = if set.reports.is_empty() {
            Correlation {
                replays: Vec::new(),
                times: correlate::StageTimes::default(),
                config: *cfg,
                cpu_reruns: Vec::new(),
                registration: Vec::new(),
            }
        } else {
            engine.correlate(&set, cfg, |_, _| {})?
        };
        let t0 = Instant::now();
        let batch_scores = batch_truth
            .as_deref()
            .map(|t| metrics::score_replays(&correlation, &set.sensors, t, gospa))
            .transpose()?;
        metrics_s += t0.elapsed().as_secs_f64();
        sink(&correlation, &set.sensors)?;
        if !correlation.registration.is_empty() {
            let errors = match &truth_biases {
                Some(t) => crate::register::errors(&set, &correlation.registration, t)?,
                None => Vec::new(),
            };
            registration.extend(correlation.registration.iter().map(|e| {
                crate::register::RegistrationRow {
                    estimate: *e,
                    error: errors
                        .iter()
                        .find(|x| x.replay == e.replay && x.sensor == e.sensor)
                        .copied(),
                }
            }));
        }

        times.add(&correlation.times);
        counts.add(&Counts::of(&correlation, set.reports.len()));
        cpu_reruns.extend(correlation.cpu_reruns.iter().cloned());
        let mut ids: Vec<u32> = correlation.replays.iter().map(|r| r.replay).collect();
        ids.extend(batch_scores.iter().flatten().map(|s| s.replay));
        ids.sort_unstable();
        ids.dedup();
        replays.extend(ids);
        if first.is_none()
            && let Some(result) = correlation.replays.first()
        {
            let replay = result.replay;
            first = Some(FirstReplay {
                reports: set
                    .reports
                    .iter()
                    .filter(|r| r.replay == replay)
                    .copied()
                    .collect(),
                truth: batch_truth
                    .iter()
                    .flatten()
                    .filter(|t| t.replay == replay)
                    .copied()
                    .collect(),
                result: result.clone(),
                gospa_series: batch_scores
                    .iter()
                    .flatten()
                    .find(|s| s.replay == replay)
                    .map(|s| s.gospa_series.clone())
                    .unwrap_or_default(),
            });
        }
        // Only the first replay's GOSPA series is drawn: the others are not kept.
        scores.extend(batch_scores.into_iter().flatten().map(|mut s| {
            s.gospa_series = Vec::new();
            s
        }));
        done_replays += correlation.replays.len();
        match &source {
            ReportSource::File(r) => progress(r.bytes_read() as usize, total),
            ReportSource::Tracked(..) => progress(done_replays, total),
        }
        if last.is_none() {
            break;
        }
    }
    let tallies = scores.iter().map(|r| (r.replay, r.tally)).collect();
    let metrics = truth
        .is_some()
        .then(|| metrics::Metrics::combine(scores, gospa));
    let summary = Summary {
        trackcorr_version: env!("CARGO_PKG_VERSION"),
        backend,
        inputs: inputs.clone(),
        parameters: *cfg,
        counts,
        skipped_rows: policy.skipped,
        cpu_reruns,
        tracked_on_cpu,
        timing: Timing {
            read_s,
            track_s,
            stages_s: times,
            metrics_s,
            total_s: start.elapsed().as_secs_f64(),
        },
        metrics,
        registration: cfg
            .register
            .enabled
            .then(|| crate::register::summarise(&registration, &source.sensors())),
    };
    Ok(Run {
        registration,
        sensors: source.sensors(),
        summary,
        replays,
        scores: tallies,
        first,
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
/// `progress(done, total)` counts trackers as they finish. With `cpu_fallback` (`--backend
/// auto`), trackers whose GPU chunk failed are tracked on the CPU, and the stats say so.
pub fn track_detections(
    detections: &[crate::model::Detection],
    sensors: &crate::model::SensorTable,
    params: &crate::track::TrackerParams,
    ctx: Option<&GpuContext>,
    cpu_fallback: bool,
    progress: impl FnMut(usize, usize),
) -> Result<(
    Vec<crate::model::Report>,
    Option<crate::gpu::track::GpuTrackStats>,
)> {
    match ctx {
        None => Ok((
            crate::track::track_cpu_with_progress(detections, sensors, params, progress)?,
            None,
        )),
        Some(ctx) => {
            let mut tracker = crate::gpu::track::Tracker::new(ctx)?;
            tracker.cpu_fallback = cpu_fallback;
            let (r, s) = tracker.track_with_progress(ctx, detections, sensors, params, progress)?;
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
    /// Replays that `--backend auto` counted on the CPU after a GPU error, with the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_rerun: Option<correlate::CpuRerun>,
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
    progress: impl FnMut(usize, usize),
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
    let (result, counts, gpu_kernels, cpu_rerun) = match &ctx {
        None => {
            let (r, c) = history::associate_cpu(&histories, &opts.params)?;
            (r, c, None, None)
        }
        Some(ctx) => {
            let mut counter = crate::gpu::history::Counter::new(ctx)?;
            // `auto` promises a result: a chunk the GPU fails is counted on the CPU.
            counter.cpu_fallback = choice == BackendChoice::Auto;
            counter.associate_with_progress(
                ctx,
                &histories,
                &opts.params,
                opts.chunk_replays,
                progress,
            )?
        }
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
        cpu_rerun,
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
