//! The `trackcorr` command line: a thin layer over the library. Raw flags are parsed by
//! clap into [`Cli`], turned into validated library configurations, and run.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use trackcorr::assign::Solver;
use trackcorr::assign::sd::SdParams;
use trackcorr::associate::Assignment;
use trackcorr::associate::HysteresisParams;
use trackcorr::correlate::Config;
use trackcorr::fuse::FusionMethod;
use trackcorr::gpu::GpuOptions;
use trackcorr::history::{HistoryParams, Measure};
use trackcorr::io::Format;
use trackcorr::io::csv::OutputDir;
use trackcorr::metrics::gospa::GospaParams;
use trackcorr::propagate::{MotionModel, Propagation};
use trackcorr::register::RegisterParams;
use trackcorr::run::{self, BackendChoice, Engine, Inputs};
use trackcorr::scenario::{self, Antenna, BiasDraw, BiasScale, ScenarioName, ScenarioOptions};
use trackcorr::shard::{Manifest, Shard};
use trackcorr::stitch::StitchParams;
use trackcorr::track::TrackerParams;

#[derive(Parser)]
#[command(
    name = "trackcorr",
    version,
    about = "Batch track-to-track correlation and fusion of several sensor networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More detail on stderr: -v for each stage's timing and the files read, -vv also the
    /// messages of the libraries (wgpu).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors on stderr; no progress bar.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

/// Messages on stderr through `log`: trackcorr's own at info (the default), warn (`-q`) or
/// debug (`-v`); other crates' (wgpu's) only from `-vv`. Warnings and debug lines carry the
/// program's name; the summary lines (info) do not.
struct StderrLog {
    own: log::LevelFilter,
    others: log::LevelFilter,
}

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        let own = m.target().starts_with("trackcorr");
        m.level() <= if own { self.own } else { self.others }
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match record.level() {
            log::Level::Info => eprintln!("{}", record.args()),
            log::Level::Warn | log::Level::Error => eprintln!("trackcorr: {}", record.args()),
            level if record.target().starts_with("trackcorr") => eprintln!(
                "trackcorr: {}: {}",
                level.as_str().to_lowercase(),
                record.args()
            ),
            level => eprintln!(
                "trackcorr: {} ({}): {}",
                level.as_str().to_lowercase(),
                record.target(),
                record.args()
            ),
        }
    }

    fn flush(&self) {}
}

/// Installs the logger for `-q` / `-v`.
fn init_log(quiet: bool, verbose: u8) {
    let (own, others) = match (quiet, verbose) {
        (true, _) => (log::LevelFilter::Warn, log::LevelFilter::Off),
        (false, 0) => (log::LevelFilter::Info, log::LevelFilter::Off),
        (false, 1) => (log::LevelFilter::Debug, log::LevelFilter::Off),
        (false, 2) => (log::LevelFilter::Debug, log::LevelFilter::Warn),
        (false, _) => (log::LevelFilter::Trace, log::LevelFilter::Debug),
    };
    if log::set_boxed_logger(Box::new(StderrLog { own, others })).is_ok() {
        log::set_max_level(own.max(others));
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the standard salvo end to end and print what each network and the fusion achieve.
    Demo {
        /// Folder for the scenario files and the correlation outputs.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Make a synthetic engagement batch: sensors, detections, local-track reports, truth.
    Generate {
        /// salvo, or handover (the salvo with a gap in each flight that no network sees).
        #[arg(long, value_enum, default_value = "salvo")]
        scenario: ScenarioName,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        replays: u32,
        /// Missiles per replay.
        #[arg(long, default_value_t = 8)]
        objects: u32,
        /// Drop everything after this many seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// How radars time-stamp their plots: a whole scan at once (staring), or each plot
        /// when a rotating beam crosses it (rotating).
        #[arg(long, value_enum, default_value = "staring")]
        antenna: Antenna,
        /// Give each radar, per replay, systematic range, azimuth and elevation errors
        /// (scale × random sign × U(0.5, 1)) in all its measurements; their truth is written
        /// to truth_biases.csv.
        #[arg(long)]
        biases: bool,
        /// Scale of the range biases (m), with --biases.
        #[arg(long, value_name = "M", default_value_t = 150.0, requires = "biases")]
        bias_range: f64,
        /// Scale of the azimuth and elevation biases (degrees), with --biases.
        #[arg(long, value_name = "D", default_value_t = 0.03, requires = "biases")]
        bias_angle_deg: f64,
        /// With --biases: draw each radar's biases anew for every replay, or once for the
        /// whole batch (the radars keep them; see correlate --register-pool).
        #[arg(long, value_enum, default_value = "replay", requires = "biases")]
        bias_draw: BiasDraw,
        /// The networks' local trackers model a missile's thrust until burn-out (a
        /// constant-acceleration state driven by white jerk) instead of only widening their
        /// process noise, so their tracks do not lag the boost.
        #[arg(long)]
        boost_filter: bool,
        #[command(flatten)]
        shard: ShardOption,
        /// Format of detections, reports and truth: csv, or parquet (Apache Parquet, the
        /// same values); sensors.csv is CSV either way.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        out: PathBuf,
    },
    /// Associate and fuse local tracks into system tracks; score them when truth is given.
    Correlate(CorrelateArgs),
    /// Join the output folders of every shard of one `generate` or `correlate` run
    /// (`--shard I/N`, I = 0..N) into what one run over the whole batch writes.
    Merge {
        /// The shards' output folders, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Local tracking: each sensor's raw detections into local tracks, written as
    /// `reports.csv` that `correlate` reads.
    Track(TrackArgs),
    /// Associate whole track histories of two or more sensors by the counting technique
    /// (Stone Soup's TrackToTrackCounting): `history_associations.csv`.
    History(HistoryArgs),
    /// Run the GPU and CPU backends on the same input and compare them stage by stage; exit
    /// 0 only when they agree within the GPU path's tolerances.
    Verify(VerifyArgs),
    /// Time parts of the pipeline.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Time the pipeline per stage on the CPU and the GPU for a generated batch; print a
    /// table (stage, backend, time, throughput, GPU speed-up) and write it as JSON.
    Pipeline {
        #[arg(long, default_value_t = 100)]
        replays: u32,
        #[arg(long, default_value_t = 8)]
        objects: u32,
        /// Drop everything after this many seconds of each replay.
        #[arg(long)]
        duration: Option<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// `auto`: the CPU and, if an adapter exists, the GPU; `cpu`: the CPU only.
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Also write the table as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Solve the assignment problems of a file; print `NAME TOTAL ASSIGNED SECONDS`.
    ///
    /// With `--backend gpu` (auction only) all problems are solved in one batch, and
    /// SECONDS is the batch's wall time divided among the problems in proportion to their
    /// size (rows × cols).
    Assign {
        #[arg(long)]
        problems: PathBuf,
        #[arg(long, value_enum, default_value = "exact")]
        solver: Solver,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// Plain Rust, multi-threaded, f64.
    Cpu,
    /// wgpu compute shaders, f32: the auction only, all problems in one batch.
    Gpu,
}

#[derive(Args)]
struct CorrelateArgs {
    /// Local-track reports (CSV, or Parquet if the name ends in .parquet, as for every
    /// input).
    #[arg(
        long,
        required_unless_present = "detections",
        conflicts_with = "detections"
    )]
    reports: Option<PathBuf>,
    /// Raw detections (CSV) instead of reports: `track` runs first (needs --sensors).
    #[arg(long, requires = "sensors")]
    detections: Option<PathBuf>,
    /// Sensors and their networks (CSV); without it each sensor is its own network.
    #[arg(long)]
    sensors: Option<PathBuf>,
    /// Truth (CSV), for the metrics.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// The radars' true biases (truth_biases.csv of `generate --biases`), to score
    /// --register.
    #[arg(long)]
    truth_biases: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[command(flatten)]
    rows: RowOptions,
    #[command(flatten)]
    shard: ShardOption,
    /// Also draw the first replay as plot.png and plot.svg: a map of truth, local and system
    /// tracks, coverage per object and network, GOSPA against time.
    #[arg(long)]
    plot: bool,
    /// Format of the tables written: csv, or parquet (Apache Parquet, the same values).
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Read and correlate whole replays at least this many reports at a time: bounds the
    /// memory (under 0.7 GB at the default); the outputs do not depend on it. Ignored
    /// with --register-pool, which reads the whole input at once.
    #[arg(long, default_value_t = run::BATCH_REPORTS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    batch_reports: usize,
    #[command(flatten)]
    options: CorrelationOptions,
}

/// Which replays to process (`generate`, `correlate`).
#[derive(Args)]
struct ShardOption {
    /// Process only the replays r with r % N == I, as shard I of N: `I/N`, or `N` with I from
    /// SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX. `trackcorr merge` joins the shards.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text, |v| std::env::var(v).ok()).map_err(|e| e.to_string())
}

/// What to do with input rows that cannot be read (`correlate`, `track`).
#[derive(Args)]
struct RowOptions {
    /// Skip data rows that cannot be read (bad numbers, unknown sensors, covariances that
    /// are not positive definite, rows out of order, …) instead of stopping at the first;
    /// they are counted per reason in summary.json and on stderr.
    #[arg(long)]
    lenient: bool,
}

#[derive(Args)]
struct TrackArgs {
    /// Raw detections (CSV): range/azimuth/elevation or x/y/z (east/north/up) from the
    /// sensor.
    #[arg(long)]
    detections: PathBuf,
    /// Sensors with their sites and noise (CSV).
    #[arg(long)]
    sensors: PathBuf,
    /// Gate probability of the chi-square test on the innovation.
    #[arg(long, default_value_t = TrackerParams::default().gate_probability)]
    track_gate: f64,
    /// Hits (M) that confirm a tentative track…
    #[arg(long, default_value_t = TrackerParams::default().confirm_hits)]
    confirm_hits: u32,
    /// …within this many scans (N).
    #[arg(long, default_value_t = TrackerParams::default().confirm_window)]
    confirm_window: u32,
    /// Consecutive missed scans that delete a confirmed track.
    #[arg(long, default_value_t = TrackerParams::default().delete_misses)]
    delete_misses: u32,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    #[command(flatten)]
    rows: RowOptions,
    /// Format of the tables written: csv, or parquet (Apache Parquet, the same values).
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Output folder (reports.csv or .parquet, and summary.json).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct HistoryArgs {
    /// Local-track reports (CSV).
    #[arg(long)]
    reports: PathBuf,
    /// Sensors (CSV); without it sensors are known by name from the reports.
    #[arg(long)]
    sensors: Option<PathBuf>,
    /// Largest position distance (m) of two tracks at a common time that counts as a hit
    /// (association_threshold).
    #[arg(long, default_value_t = HistoryParams::default().threshold)]
    threshold: f64,
    /// Consecutive hits that start an association (consec_pairs_confirm).
    #[arg(long, default_value_t = HistoryParams::default().confirm)]
    confirm: u32,
    /// Consecutive misses that end an association (consec_misses_end).
    #[arg(long, default_value_t = HistoryParams::default().misses)]
    misses: u32,
    /// At most one association per track at any time (one_to_one).
    #[arg(long)]
    one_to_one: bool,
    /// euclidean: plain position distance; weighted: distance / √3, Stone Soup's default
    /// measure when none is given.
    #[arg(long, value_enum, default_value = "euclidean")]
    measure: HistoryMeasure,
    /// Resample every track on epochs this many seconds apart before counting (sensors
    /// that do not report at the same times share no timestamp otherwise).
    #[arg(long)]
    epoch_interval: Option<f64>,
    /// Motion model for resampling.
    #[arg(long, value_enum, default_value = "ballistic")]
    model: MotionModel,
    /// Seconds a track lives after its last report when resampling (default: 1.5 × its
    /// median report interval).
    #[arg(long)]
    max_age: Option<f64>,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Cap on one GPU buffer (MiB), to exercise chunking.
    #[arg(long)]
    max_buffer_mib: Option<u64>,
    /// Format of the tables written: csv, or parquet (Apache Parquet, the same values).
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum HistoryMeasure {
    Euclidean,
    Weighted,
}

#[derive(Args)]
struct VerifyArgs {
    /// Local-track reports (CSV).
    #[arg(long)]
    reports: PathBuf,
    /// Sensors and their networks (CSV).
    #[arg(long)]
    sensors: Option<PathBuf>,
    /// Cap on one GPU buffer (MiB), to exercise chunking.
    #[arg(long)]
    max_buffer_mib: Option<u64>,
    #[command(flatten)]
    options: CorrelationOptions,
}

#[derive(Args)]
struct CorrelationOptions {
    /// Motion model for propagation to the epochs.
    #[arg(long, value_enum, default_value = "ballistic")]
    model: MotionModel,
    /// White-noise acceleration spectral density of propagation (m²/s³).
    #[arg(long, default_value_t = Propagation::default().q)]
    q: f64,
    /// Gate probability of the chi-square test.
    #[arg(long, default_value_t = 0.99)]
    gate: f64,
    /// Correlation coefficient between sources' errors (gating and Bar-Shalom–Campo).
    #[arg(long, default_value_t = 0.0)]
    rho: f64,
    #[arg(long, value_enum, default_value = "ci")]
    fusion: FusionMethod,
    /// Consecutive epochs together before two system tracks merge.
    #[arg(long, default_value_t = HysteresisParams::default().confirm)]
    confirm: u32,
    /// Consecutive epochs apart before a local track leaves its system track.
    #[arg(long, default_value_t = HysteresisParams::default().break_after)]
    break_after: u32,
    /// Summed chi-square evidence at which two tracks of one sensor trade system tracks
    /// (0: never).
    #[arg(long, default_value_t = HysteresisParams::default().swap_evidence)]
    swap_evidence: f64,
    /// Assignment solver of the CPU backend (the GPU always runs the auction).
    #[arg(long, value_enum, default_value = "exact")]
    solver: Solver,
    /// How each epoch's sensors are associated: one after another against the clusters so
    /// far (sequential), or all at once by S-D assignment (sd: Lagrangian relaxation and
    /// branch and bound, on the host on either backend; the result does not depend on the
    /// order of the sensors or networks).
    #[arg(long, value_enum, default_value = "sequential")]
    assignment: Assignment,
    /// Relative duality gap at which the S-D relaxation hands over to the branch and bound.
    #[arg(long, default_value_t = SdParams::default().gap)]
    sd_gap: f64,
    /// Seconds between fusion epochs.
    #[arg(long, default_value_t = 1.0)]
    epoch_interval: f64,
    /// Seconds a local track lives after its last report (default: 1.5 × its median
    /// report interval).
    #[arg(long)]
    max_age: Option<f64>,
    /// Estimate each radar's range, azimuth and elevation bias from the tracks it shares
    /// with others and correct its reports before the final association and fusion
    /// (two passes; writes registration.csv).
    #[arg(long)]
    register: bool,
    /// Prior standard deviation of each radar's range bias (m).
    #[arg(long, default_value_t = RegisterParams::default().prior_range)]
    register_prior_range: f64,
    /// Prior standard deviation of each radar's azimuth and elevation bias (degrees).
    #[arg(long, default_value_t = RegisterParams::default().prior_angle.to_degrees())]
    register_prior_angle_deg: f64,
    /// With --register: the radars keep their biases over all replays of the input (one
    /// deployment, `generate --bias-draw batch`), so one estimate per radar is made from
    /// them all. Reads the whole input at once; shards each pool their own replays.
    #[arg(long, requires = "register")]
    register_pool: bool,
    /// Seconds over which a local track's errors stay correlated: registration counts each
    /// track as one independent sample per this time (its report interval, if longer).
    #[arg(long, default_value_t = RegisterParams::default().decorrelation)]
    register_decorrelation: f64,
    /// No hand-over: system tracks are not joined across gaps.
    #[arg(long)]
    no_stitch: bool,
    /// Longest gap (s) a hand-over bridges, from the end of one system track to the start
    /// of the next.
    #[arg(long, default_value_t = StitchParams::default().max_gap)]
    stitch_gap: f64,
    /// Longest time (s) two system tracks joined by a hand-over may coexist.
    #[arg(long, default_value_t = StitchParams::default().max_overlap)]
    stitch_overlap: f64,
    /// Seconds after a started system track's start at which its estimate is taken for the
    /// hand-over test.
    #[arg(long, default_value_t = StitchParams::default().settle)]
    stitch_settle: f64,
    /// White-noise acceleration (m²/s³) of the hand-over prediction across a gap.
    #[arg(long, default_value_t = StitchParams::default().q)]
    stitch_q: f64,
    /// GOSPA cut-off distance c (m).
    #[arg(long, default_value_t = 1000.0)]
    gospa_c: f64,
    /// GOSPA order p.
    #[arg(long, default_value_t = 2.0)]
    gospa_p: f64,
}

impl CorrelationOptions {
    fn config(&self) -> Config {
        Config {
            propagation: Propagation {
                model: self.model,
                q: self.q,
                ..Propagation::default()
            },
            gate_probability: self.gate,
            rho: self.rho,
            fusion: self.fusion,
            hysteresis: HysteresisParams {
                confirm: self.confirm,
                break_after: self.break_after,
                swap_evidence: self.swap_evidence,
            },
            solver: self.solver,
            assignment: self.assignment,
            sd: SdParams {
                gap: self.sd_gap,
                ..SdParams::default()
            },
            epoch_interval: self.epoch_interval,
            max_age: self.max_age,
            register: RegisterParams {
                enabled: self.register,
                prior_range: self.register_prior_range,
                prior_angle: self.register_prior_angle_deg.to_radians(),
                pool: self.register_pool,
                decorrelation: self.register_decorrelation,
            },
            stitch: StitchParams {
                enabled: !self.no_stitch,
                max_gap: self.stitch_gap,
                max_overlap: self.stitch_overlap,
                settle: self.stitch_settle,
                q: self.stitch_q,
            },
            ..Config::default()
        }
    }

    fn gospa(&self) -> GospaParams {
        GospaParams {
            p: self.gospa_p,
            c: self.gospa_c,
            alpha: 2.0,
        }
    }
}

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;
/// Exit status of a failure that may pass on a retry (no GPU adapter, a lost device, an I/O
/// error that is not a missing or unreadable file): sysexits' EX_TEMPFAIL. Bad input or
/// options exit with 1 (retrying cannot help), bad command lines with 2 (clap).
const RETRYABLE: u8 = 75;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_log(cli.quiet, cli.verbose);
    // Without a handler the process would die with its hidden partial folder in place.
    if let Err(e) = ctrlc::set_handler(|| {
        trackcorr::io::csv::remove_partial_outputs();
        eprintln!("trackcorr: interrupted; no output written");
        std::process::exit(INTERRUPTED);
    }) {
        log::warn!(
            "cannot handle Ctrl-C ({e}); an interrupted run may leave a hidden partial folder"
        );
    }
    match run_cli(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trackcorr: {e:#}");
            let retryable = e
                .downcast_ref::<trackcorr::Error>()
                .is_some_and(trackcorr::Error::is_retryable);
            ExitCode::from(if retryable { RETRYABLE } else { 1 })
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { out, seed, backend } => {
            let start = Instant::now();
            let (engine, note) = Engine::open(backend, &GpuOptions::default())?;
            if let Some(n) = &note {
                log::warn!("{n}");
            }
            let name = engine
                .summary(None)
                .adapter
                .map_or("CPU".to_string(), |a| format!("GPU: {}", a.name));
            let lines = trackcorr::demo::run_demo(&out, seed, &engine, note)?;
            println!("salvo, seed {seed}: 8 missiles, 3 radar networks ({name})\n");
            print!("{}", trackcorr::demo::table(&lines));
            println!(
                "\nfiles in {} (scenario, associations.csv, system_tracks.csv, summary.json, plot.png, plot.svg); {:.2} s in all",
                out.display(),
                start.elapsed().as_secs_f64()
            );
        }
        Command::Generate {
            scenario,
            seed,
            replays,
            objects,
            duration,
            antenna,
            biases,
            bias_range,
            bias_angle_deg,
            bias_draw,
            boost_filter,
            shard,
            format,
            out,
        } => {
            let shard = shard.shard.unwrap_or_default();
            let opts = ScenarioOptions {
                name: scenario,
                seed,
                replays,
                objects,
                duration,
                shard,
                antenna,
                biases: biases.then(|| BiasScale {
                    range: bias_range,
                    angle: bias_angle_deg.to_radians(),
                    draw: bias_draw,
                }),
                boost_filter,
            };
            let dir = OutputDir::create(&out)?;
            let s = scenario::generate_with_progress(&opts, progress_bar("generating", "replays"))?;
            let names = s.write(&dir, format)?;
            let mut made: Vec<u32> = s.truth.iter().map(|t| t.replay).collect();
            made.dedup();
            let mut options = serde_json::json!({
                "scenario": scenario.as_str(),
                "seed": seed,
                "replays": replays,
                "objects": objects,
                "duration": duration,
                "antenna": antenna,
                "format": format,
            });
            // Only with --biases, so that a run without them writes the manifest it always did.
            if biases {
                options["biases"] = serde_json::json!({
                    "range_m": bias_range,
                    "angle_deg": bias_angle_deg,
                    "draw": bias_draw,
                });
            }
            if boost_filter {
                options["boost_filter"] = serde_json::json!(true);
            }
            Manifest {
                trackcorr_version: env!("CARGO_PKG_VERSION").into(),
                command: "generate".into(),
                shard,
                replays: made,
                inputs: Default::default(),
                options,
                backend: serde_json::Value::Null,
                outputs: Vec::new(),
                scores: Default::default(),
            }
            .write(&dir, &names.iter().map(String::as_str).collect::<Vec<_>>())?;
            dir.commit()?;
            log::info!(
                "wrote {}: {} sensors, {} detections, {} reports, {} truth samples",
                out.display(),
                s.sensors.sensors.len(),
                s.detections.len(),
                s.reports.len(),
                s.truth.len()
            );
        }
        Command::Correlate(a) => correlate(a)?,
        Command::Merge { shards, out } => {
            let m = trackcorr::shard::merge(&shards, &out)?;
            log::info!(
                "merged {} shards of `{}`: {} replays -> {}",
                m.shards,
                m.command,
                m.replays,
                out.display()
            );
        }
        Command::Bench {
            what:
                BenchCommand::Pipeline {
                    replays,
                    objects,
                    duration,
                    seed,
                    backend,
                    json,
                },
        } => {
            let opts = ScenarioOptions {
                name: ScenarioName::Salvo,
                seed,
                replays,
                objects,
                duration,
                shard: Shard::WHOLE,
                antenna: Default::default(),
                biases: None,
                boost_filter: false,
            };
            let scenario = scenario::generate(&opts)?;
            let set = scenario.report_set();
            let gpu = match backend {
                BackendChoice::Cpu => None,
                choice => {
                    let (engine, note) = Engine::open(choice, &GpuOptions::default())?;
                    if let Some(n) = note {
                        log::warn!("{n}");
                    }
                    matches!(engine, Engine::Gpu(_)).then_some(engine)
                }
            };
            let report = trackcorr::bench::bench_pipeline(&set, &Config::default(), gpu.as_ref())?;
            print!("{}", trackcorr::bench::table(&report));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report)?;
                trackcorr::io::csv::write_atomic(&path, format!("{text}\n").as_bytes())?;
            }
        }
        Command::History(a) => history(a)?,
        Command::Track(a) => track(a)?,
        Command::Verify(a) => {
            let cfg = a.options.config();
            cfg.validate()?;
            let sensors = a
                .sensors
                .as_deref()
                .map(trackcorr::io::read_sensors)
                .transpose()?;
            let set = trackcorr::io::read_reports(&a.reports, sensors.as_ref())?;
            let opts = GpuOptions {
                max_binding_bytes: a.max_buffer_mib.map(|m| m << 20),
            };
            let gpu = trackcorr::gpu::correlate::GpuBackend::new(&opts)?;
            let (report, _, _) = trackcorr::verify::verify(&set, &cfg, &gpu)?;
            print!("{}", report.table(&gpu.ctx.adapter.name));
            if !report.agrees() {
                anyhow::bail!("the GPU and CPU backends differ beyond the tolerances");
            }
        }
        Command::Bench {
            what:
                BenchCommand::Assign {
                    problems,
                    solver,
                    backend,
                },
        } => {
            let problems = trackcorr::assign::problems::read_problems(&problems)?;
            let lines = match backend {
                Backend::Cpu => trackcorr::assign::problems::run_bench(&problems, solver)?,
                Backend::Gpu => trackcorr::gpu::assign::run_bench(&problems, solver)?,
            };
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// A progress bar (indicatif) counting `unit` ("replays", or "bytes" of an input file),
/// drawn only when stderr is a terminal, the total is above one and `-q` is not given: quiet
/// in CI, in pipes and in logs.
fn progress_bar(what: &'static str, unit: &'static str) -> impl FnMut(usize, usize) {
    let show = std::io::stderr().is_terminal() && log::max_level() >= log::LevelFilter::Info;
    let mut bar: Option<indicatif::ProgressBar> = None;
    move |done, total| {
        if !show || total < 2 {
            return;
        }
        let b = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            let counts = if unit == "bytes" {
                "{bytes}/{total_bytes}".to_string()
            } else {
                format!("{{pos}}/{{len}} {unit}")
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                "{{msg}} [{{bar:40}}] {counts}, {{elapsed}} elapsed, ~{{eta}} left"
            )) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message(what);
            b
        });
        b.set_length(total as u64);
        b.set_position(done as u64);
        if done >= total {
            b.finish_and_clear();
        }
    }
}

fn correlate(a: CorrelateArgs) -> anyhow::Result<()> {
    let cfg = a.options.config();
    cfg.validate()?;
    let gospa = a.options.gospa();
    let (engine, note) = Engine::open(a.backend, &GpuOptions::default())?;
    if let Some(n) = &note {
        log::warn!("{n}");
    }
    let inputs = Inputs {
        reports: a.reports,
        detections: a.detections,
        sensors: a.sensors,
        truth: a.truth,
        truth_biases: a.truth_biases,
        lenient: a.rows.lenient,
        shard: a.shard.shard.unwrap_or_default(),
        batch_reports: a.batch_reports,
    };
    // The outputs are written as the batches are correlated, into a hidden folder that gets
    // its name only at the end: bad input found late still leaves nothing behind.
    let dir = OutputDir::create(&a.out)?;
    let mut writer = trackcorr::output::OutputWriter::create(&dir, a.format)?;
    let unit = if inputs.reports.is_some() {
        "bytes"
    } else {
        "replays"
    };
    let result = run::correlate_files(
        &inputs,
        &cfg,
        &gospa,
        &engine,
        engine.summary(note),
        |corr, sensors| writer.append(corr, sensors),
        progress_bar("correlating", unit),
    )?;
    writer.finish()?;
    log::debug!(
        "backend {}{}; read {} reports and {} sensors",
        result.summary.backend.name,
        result
            .summary
            .backend
            .adapter
            .as_ref()
            .map_or(String::new(), |ad| format!(" ({})", ad.name)),
        result.summary.counts.reports,
        result.sensors.sensors.len()
    );
    log::debug!(
        "seconds: {}",
        serde_json::to_string(&result.summary.timing).unwrap_or_default()
    );
    trackcorr::output::write_summary(&dir, &result.summary)?;
    if cfg.register.enabled {
        dir.write(
            "registration.csv",
            trackcorr::register::registration_csv(&result.registration, &result.sensors).as_bytes(),
        )?;
    }
    let tables = trackcorr::output::correlate_tables(a.format);
    let mut outputs: Vec<&str> = tables.iter().map(String::as_str).collect();
    if cfg.register.enabled {
        // Listed, so that `merge` gathers the shards' estimates too.
        outputs.push("registration.csv");
    }
    result.manifest(&inputs, &gospa)?.write(&dir, &outputs)?;
    if a.plot {
        result.write_picture(&dir)?;
    }
    dir.commit()?;
    for line in trackcorr::io::describe_skipped(&result.summary.skipped_rows) {
        log::warn!("{line}");
    }
    for r in &result.summary.cpu_reruns {
        log::warn!(
            "{} replays correlated on the CPU after a GPU error: {}",
            r.replays.len(),
            r.gpu_error
        );
    }
    if let Some(t) = &result.summary.tracked_on_cpu {
        log::warn!("{t}");
    }
    let c = &result.summary.counts;
    log::info!(
        "{} replays, {} reports, {} local tracks, {} system tracks over {} epochs in {:.2} s -> {}",
        c.replays,
        c.reports,
        c.local_tracks,
        c.system_tracks,
        c.epochs,
        result.summary.timing.total_s,
        a.out.display()
    );
    if let Some(m) = &result.summary.metrics {
        log::info!(
            "purity {:.4}, completeness {:.4}, GOSPA {:.1} m, track switches {}",
            m.purity,
            m.completeness,
            m.gospa.mean,
            m.track_switches
        );
    }
    Ok(())
}

fn history(a: HistoryArgs) -> anyhow::Result<()> {
    let opts = run::HistoryOptions {
        params: HistoryParams {
            threshold: a.threshold,
            confirm: a.confirm,
            misses: a.misses,
            one_to_one: a.one_to_one,
            measure: match a.measure {
                HistoryMeasure::Euclidean => Measure::Euclidean,
                HistoryMeasure::Weighted => Measure::Weighted,
            },
        },
        epoch_interval: a.epoch_interval,
        propagation: Propagation {
            model: a.model,
            ..Propagation::default()
        },
        max_age: a.max_age,
        chunk_replays: 256,
    };
    let gpu = GpuOptions {
        max_binding_bytes: a.max_buffer_mib.map(|m| m << 20),
    };
    let r = run::history_files(
        &a.reports,
        a.sensors.as_deref(),
        &opts,
        a.backend,
        &gpu,
        progress_bar("counting", "replays"),
    )?;
    if let Some(n) = &r.summary.backend.note {
        log::warn!("{n}");
    }
    if let Some(c) = &r.summary.cpu_rerun {
        log::warn!(
            "{} replays counted on the CPU after a GPU error: {}",
            c.replays.len(),
            c.gpu_error
        );
    }
    let dir = OutputDir::create(&a.out)?;
    trackcorr::io::write_table(
        &dir.file(&a.format.file("history_associations")),
        &[trackcorr::history::associations_csv(
            &r.histories,
            &r.result,
            &r.sensors,
        )],
    )?;
    let json = serde_json::to_string_pretty(&r.summary)?;
    dir.write("summary.json", format!("{json}\n").as_bytes())?;
    dir.commit()?;
    let s = &r.summary;
    log::info!(
        "{} replays, {} tracks, {} overlapping track pairs of different sensors: {} associated \
         over {} time ranges in {:.2} s on {} -> {}",
        s.counts.replays,
        s.counts.tracks,
        s.counts.overlapping_pairs,
        s.associations,
        s.time_ranges,
        s.timing.total_s,
        s.backend.name,
        a.out.display()
    );
    if let Some(sc) = &s.score {
        log::info!(
            "{} of {} associated pairs follow the same object (purity {:.4}); {} of {} \
             overlapping same-object pairs associated (completeness {:.4})",
            sc.same_object_pairs,
            sc.labelled_pairs,
            sc.purity,
            sc.same_object_pairs,
            sc.same_object_overlapping,
            sc.completeness
        );
    }
    if a.epoch_interval.is_none() && trackcorr::history::shared_time_fraction(&r.histories) < 0.1 {
        log::warn!(
            "note: fewer than 10 % of the report times are shared by two sensors; \
             tracks only meet at common timestamps: resample with --epoch-interval (e.g. 2)"
        );
    }
    Ok(())
}

fn track(a: TrackArgs) -> anyhow::Result<()> {
    let params = TrackerParams {
        gate_probability: a.track_gate,
        confirm_hits: a.confirm_hits,
        confirm_window: a.confirm_window,
        delete_misses: a.delete_misses,
        ..TrackerParams::default()
    };
    params.validate()?;
    let start = Instant::now();
    let sensors = trackcorr::io::read_sensors(&a.sensors)?;
    let mut policy = trackcorr::io::RowPolicy::new(a.rows.lenient);
    let detections = trackcorr::io::read_detections_with(&a.detections, &sensors, &mut policy)?;
    let read_s = start.elapsed().as_secs_f64();
    let (ctx, note) = run::open_context(a.backend, &GpuOptions::default())?;
    if let Some(n) = &note {
        log::warn!("{n}");
    }
    let t0 = Instant::now();
    let (reports, gpu) = run::track_detections(
        &detections,
        &sensors,
        &params,
        ctx.as_ref(),
        a.backend == BackendChoice::Auto,
        progress_bar("tracking", "trackers"),
    )?;
    let track_s = t0.elapsed().as_secs_f64();
    if let Some(g) = &gpu
        && let Some(e) = &g.gpu_error
    {
        log::warn!(
            "{} of {} trackers tracked on the CPU after a GPU error: {e}",
            g.trackers_after_gpu_error,
            g.trackers
        );
    }
    let mut tracks: Vec<(u32, u32, u32)> = reports
        .iter()
        .map(|r| (r.replay, r.sensor, r.track))
        .collect();
    tracks.sort_unstable();
    tracks.dedup();
    let summary = serde_json::json!({
        "trackcorr_version": env!("CARGO_PKG_VERSION"),
        "backend": {
            "name": if ctx.is_some() { "gpu" } else { "cpu" },
            "adapter": ctx.as_ref().map(|c| c.adapter.clone()),
            "note": note,
        },
        "gpu": gpu,
        "detections_file": a.detections,
        "sensors_file": a.sensors,
        "parameters": params,
        "counts": {
            "detections": detections.len(),
            "local_tracks": tracks.len(),
            "reports": reports.len(),
        },
        "skipped_rows": policy.skipped,
        "timing": { "read_s": read_s, "track_s": track_s },
    });
    let dir = OutputDir::create(&a.out)?;
    trackcorr::io::write_reports(&dir.file(&a.format.file("reports")), &reports, &sensors)?;
    dir.write(
        "summary.json",
        format!("{}\n", serde_json::to_string_pretty(&summary)?).as_bytes(),
    )?;
    dir.commit()?;
    for line in policy.describe() {
        log::warn!("{line}");
    }
    log::info!(
        "{} detections -> {} local tracks, {} reports in {:.2} s -> {}",
        detections.len(),
        tracks.len(),
        reports.len(),
        track_s,
        a.out.display()
    );
    Ok(())
}
