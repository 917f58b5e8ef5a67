//! `trackcorr demo`: the standard salvo end to end, with a table a newcomer can read.

use crate::correlate::Config;
use crate::error::Result;
use crate::io::{self, csv::OutputDir};
use crate::metrics::{self, Metrics, gospa::GospaParams};
use crate::run::{self, Inputs};
use crate::scenario::{self, ScenarioOptions};
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

/// One line of the demo table.
pub struct Line {
    pub name: String,
    pub metrics: Metrics,
    pub seconds: f64,
}

/// Generates salvo seed `seed` into `out`, correlates all networks together (outputs in
/// `out`) and each network alone, and returns the table lines (networks, then fused).
pub fn run_demo(
    out: &Path,
    seed: u64,
    engine: &run::Engine,
    note: Option<String>,
) -> Result<Vec<Line>> {
    let dir = OutputDir::create(out)?;
    let scenario = scenario::generate(&ScenarioOptions {
        seed,
        ..Default::default()
    })?;
    scenario.write(&dir, crate::io::Format::Csv)?;
    let inputs = Inputs {
        reports: Some(dir.file("reports.csv")),
        detections: None,
        sensors: Some(dir.file("sensors.csv")),
        truth: Some(dir.file("truth.csv")),
        truth_biases: None,
        lenient: false,
        shard: crate::shard::Shard::WHOLE,
        batch_reports: run::BATCH_REPORTS,
    };
    let cfg = Config::default();
    let gospa = GospaParams::default();
    let mut writer = crate::output::OutputWriter::create(&dir, crate::io::Format::Csv)?;
    let mut fused = run::correlate_files(
        &inputs,
        &cfg,
        &gospa,
        engine,
        engine.summary(note),
        |corr, sensors| writer.append(corr, sensors),
        |_, _| {},
    )?;
    writer.finish()?;
    // The files were read from the folder before it got its final name.
    fused.summary.inputs = Inputs {
        reports: Some(out.join("reports.csv")),
        detections: None,
        sensors: Some(out.join("sensors.csv")),
        truth: Some(out.join("truth.csv")),
        truth_biases: None,
        lenient: false,
        shard: crate::shard::Shard::WHOLE,
        batch_reports: run::BATCH_REPORTS,
    };
    let truth = io::read_truth(&dir.file("truth.csv"))?;
    let all = io::read_reports(&dir.file("reports.csv"), Some(&fused.sensors))?;
    let mut lines = Vec::new();
    for (n, name) in all.sensors.networks.iter().enumerate() {
        let start = Instant::now();
        let subset = run::network_subset(&all, n);
        let corr = engine.correlate(&subset, &cfg, |_, _| {})?;
        let m = metrics::score(&corr, &subset.sensors, &truth, &gospa)?;
        lines.push(Line {
            name: format!("{name} alone"),
            metrics: m,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    crate::output::write_summary(&dir, &fused.summary)?;
    fused.write_picture(&dir)?;
    if let Some(m) = fused.summary.metrics.clone() {
        lines.push(Line {
            name: "fused (all networks)".into(),
            metrics: m,
            seconds: fused.summary.timing.total_s - fused.summary.timing.metrics_s,
        });
    }
    dir.commit()?;
    Ok(lines)
}

/// The table: one row per line.
pub fn table(lines: &[Line]) -> String {
    let km = |v: Option<f64>| v.map_or("-".to_string(), |m| format!("{:.1}", m / 1000.0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:>9} {:>7} {:>12} {:>10} {:>10} {:>10} {:>9} {:>8}",
        "",
        "coverage",
        "purity",
        "completeness",
        "GOSPA (m)",
        "launch km",
        "impact km",
        "switches",
        "time s"
    );
    for l in lines {
        let m = &l.metrics;
        let cover = if l.name.starts_with("fused") {
            m.mean_coverage_fused
        } else {
            m.objects.iter().map(|o| o.coverage_any).sum::<f64>() / m.objects.len().max(1) as f64
        };
        let _ = writeln!(
            s,
            "{:<22} {:>8.1}% {:>7.4} {:>12.4} {:>10.1} {:>10} {:>10} {:>9} {:>8.3}",
            l.name,
            100.0 * cover,
            m.purity,
            m.completeness,
            m.gospa.mean,
            km(m.mean_launch_error_m),
            km(m.mean_impact_error_mid_m),
            m.track_switches,
            l.seconds
        );
    }
    s.push_str(
        "\ncoverage: mean share of each missile's flight with a track; purity: share of paired \
         local tracks that are one missile;\ncompleteness: share of same-missile pairs that were \
         paired; GOSPA: mean distance between truth and system tracks (p=2, c=1 km);\nlaunch km: \
         launch-point error from the first fused state; impact km: impact-point prediction error \
         at mid-flight;\nswitches: changes of the system track number holding a missile.\n",
    );
    s
}
