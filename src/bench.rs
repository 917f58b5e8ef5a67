//! `trackcorr bench pipeline`: the pipeline timed per stage on both backends for a scaled
//! batch, with throughputs and GPU/CPU ratios.

use crate::correlate::{Config, Correlation, StageTimes};
use crate::error::Result;
use crate::io::ReportSet;
use crate::run::Engine;
use serde::Serialize;
use std::fmt::Write;
use std::time::Instant;

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub stage: &'static str,
    pub backend: String,
    pub seconds: f64,
    pub items: u64,
    pub unit: &'static str,
    pub per_second: f64,
    /// CPU time over GPU time for the same stage (on GPU rows).
    pub gpu_speedup: Option<f64>,
}

/// What was measured, for the JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub replays: usize,
    pub reports: usize,
    pub epochs: usize,
    pub pair_tests: u64,
    /// Where the GPU stage times come from: "timestamp queries" (each kernel's GPU time) or
    /// "wall clock" (submissions only); `None` without a GPU run.
    pub gpu_timing: Option<&'static str>,
    pub rows: Vec<Row>,
}

/// Work counts of a run: propagations, gating pair tests, system tracks fused.
fn counts(corr: &Correlation) -> (u64, u64, u64, usize) {
    let (mut props, mut pairs, mut fused, mut epochs) = (0u64, 0u64, 0u64, 0usize);
    for r in &corr.replays {
        for e in &r.epochs {
            epochs += 1;
            props += e.live.len() as u64;
            fused += e.system.len() as u64;
            // Pair tests of the sequential association: each sensor's tracks against the
            // tracks of the sensors before it (the bound the kernels evaluate).
            let mut before = 0u64;
            let mut k = 0;
            while k < e.live.len() {
                let s = r.local[e.live[k].track as usize].sensor;
                let n = e.live[k..]
                    .iter()
                    .take_while(|l| r.local[l.track as usize].sensor == s)
                    .count() as u64;
                pairs += n * before;
                before += n;
                k += n as usize;
            }
        }
    }
    (props, pairs, fused, epochs)
}

fn rows_of(
    name: &str,
    t: &StageTimes,
    total: f64,
    c: (u64, u64, u64, usize),
    fused_propagate: bool,
) -> Vec<Row> {
    let row = |stage, seconds: f64, items, unit| Row {
        stage,
        backend: name.to_string(),
        seconds,
        items,
        unit,
        per_second: if seconds > 0.0 {
            items as f64 / seconds
        } else {
            0.0
        },
        gpu_speedup: None,
    };
    let mut v = Vec::new();
    if fused_propagate {
        // One submission propagates, gates, assigns and merges: timed together.
        v.push(row(
            "propagate+associate",
            t.propagate + t.associate,
            c.1,
            "pair tests",
        ));
    } else {
        v.push(row("propagate", t.propagate, c.0, "propagations"));
        v.push(row("associate", t.associate, c.1, "pair tests"));
        v.push(row(
            "propagate+associate",
            t.propagate + t.associate,
            c.1,
            "pair tests",
        ));
    }
    v.push(row("hysteresis", t.hysteresis, c.3 as u64, "epochs"));
    v.push(row("fuse", t.fuse, c.2, "system tracks"));
    v.push(row("total", total, c.3 as u64, "epochs"));
    // GPU time of each kernel (timestamp queries), where the adapter has them.
    if let Some(k) = &t.gpu_kernels {
        v.push(row("propagate kernel", k.propagate, c.0, "propagations"));
        v.push(row("gate kernel", k.gate, c.1, "pair tests"));
        v.push(row("assign kernel", k.assign, c.1, "pair tests"));
        v.push(row("merge kernel", k.merge, c.0, "tracks"));
        v.push(row(
            "associate kernels",
            k.gate + k.assign + k.merge,
            c.1,
            "pair tests",
        ));
        v.push(row("fuse kernel", k.fuse, c.2, "system tracks"));
    }
    v
}

/// The CPU stage a GPU row is compared with.
fn cpu_counterpart(stage: &str) -> &str {
    match stage {
        "propagate kernel" => "propagate",
        "gate kernel" | "assign kernel" | "merge kernel" | "associate kernels" => "associate",
        "fuse kernel" => "fuse",
        s => s,
    }
}

/// Times `set` on the CPU and, when given, on the GPU.
pub fn bench_pipeline(set: &ReportSet, cfg: &Config, gpu: Option<&Engine>) -> Result<BenchReport> {
    let t0 = Instant::now();
    let cpu = Engine::Cpu.correlate(set, cfg, |_, _| {})?;
    let cpu_total = t0.elapsed().as_secs_f64();
    let c = counts(&cpu);
    let mut rows = rows_of("cpu", &cpu.times, cpu_total, c, false);
    let mut gpu_timing = None;
    if let Some(engine) = gpu {
        let name = match engine {
            Engine::Gpu(g) => format!("gpu ({})", g.ctx.adapter.name),
            Engine::Cpu => "cpu".to_string(),
        };
        // A first run compiles and warms up; the second is timed.
        engine.correlate(set, cfg, |_, _| {})?;
        let t0 = Instant::now();
        let g = engine.correlate(set, cfg, |_, _| {})?;
        let total = t0.elapsed().as_secs_f64();
        gpu_timing = Some(if g.times.gpu_kernels.is_some() {
            "timestamp queries"
        } else {
            "wall clock"
        });
        let mut grows = rows_of(&name, &g.times, total, c, true);
        for r in &mut grows {
            // Kernel rows against the CPU stage they do (the gate kernel alone against the
            // CPU's whole association: an upper bound of its share).
            let stage = cpu_counterpart(r.stage);
            if let Some(cr) = rows.iter().find(|x| x.stage == stage) {
                r.gpu_speedup = (r.seconds > 0.0).then(|| cr.seconds / r.seconds);
            }
        }
        rows.extend(grows);
    }
    Ok(BenchReport {
        replays: cpu.replays.len(),
        reports: set.reports.len(),
        epochs: c.3,
        pair_tests: c.1,
        gpu_timing,
        rows,
    })
}

/// The table.
pub fn table(r: &BenchReport) -> String {
    let mut s = format!(
        "{} replays, {} reports, {} epochs, {} pair tests{}\n{:<20} {:<40} {:>10} {:>14} {:>14} {:>9}\n",
        r.replays,
        r.reports,
        r.epochs,
        r.pair_tests,
        r.gpu_timing
            .map_or(String::new(), |t| format!("; GPU stage times from {t}")),
        "stage",
        "backend",
        "seconds",
        "items/s",
        "unit",
        "GPU/CPU"
    );
    for row in &r.rows {
        let _ = writeln!(
            s,
            "{:<20} {:<40} {:>10.4} {:>14.4e} {:>14} {:>9}",
            row.stage,
            row.backend,
            row.seconds,
            row.per_second,
            row.unit,
            row.gpu_speedup
                .map_or("-".to_string(), |x| format!("{x:.2}x"))
        );
    }
    s
}
