//! The GPU pipeline against the CPU pipeline, end to end (on lavapipe in CI). Without an
//! adapter these tests skip with a message, unless `TRACKCORR_REQUIRE_GPU=1`.

use trackcorr::correlate::{Config, Correlation};
use trackcorr::gpu::GpuOptions;
use trackcorr::io::ReportSet;
use trackcorr::scenario::{self, ScenarioOptions};
use trackcorr::track::{self, TrackerParams};
use trackcorr::verify;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/gpu.rs"]
mod gpu;

use gpu::backend;

/// Every live track's system track, by (replay, time, local track).
fn decisions(c: &Correlation) -> Vec<(u32, u64, u32, u32)> {
    let mut v = Vec::new();
    for r in &c.replays {
        for e in &r.epochs {
            for l in &e.live {
                v.push((r.replay, e.time.to_bits(), l.track, l.system));
            }
        }
    }
    v
}

/// Largest position difference between the system tracks of two runs with equal decisions.
fn max_state_difference(a: &Correlation, b: &Correlation) -> f64 {
    let mut worst: f64 = 0.0;
    for (ra, rb) in a.replays.iter().zip(&b.replays) {
        for (ea, eb) in ra.epochs.iter().zip(&rb.epochs) {
            for (sa, sb) in ea.system.iter().zip(&eb.system) {
                assert_eq!(sa.number, sb.number);
                for k in 0..3 {
                    worst = worst.max((sa.state[k] - sb.state[k]).abs());
                }
            }
        }
    }
    worst
}

fn salvo(seed: u64, replays: u32, duration: Option<f64>) -> ReportSet {
    scenario::generate(&ScenarioOptions {
        seed,
        replays,
        duration,
        ..Default::default()
    })
    .unwrap()
    .report_set()
}

#[test]
fn verify_agrees_on_salvo_seeds_1_to_5() {
    let Some(gpu) = backend(&GpuOptions::default()) else {
        return;
    };
    for seed in 1..=5 {
        let set = salvo(seed, 1, None);
        let (report, cpu, g) = verify::verify(&set, &Config::default(), &gpu).unwrap();
        assert!(report.agrees(), "seed {seed}:\n{}", report.table("gpu"));
        assert!(
            report.propagate_max_position_m < 0.5,
            "seed {seed}: {}",
            report.propagate_max_position_m
        );
        assert_eq!(decisions(&cpu), decisions(&g), "seed {seed}");
    }
}

/// Tracks from `trackcorr track` on salvo seed 3, whose trackers swap their tracks of the
/// closely spaced pair: the swap test trades them back at the same epochs on both backends
/// (the GPU path's host propagates the estimates it needs in f64, as the CPU path does).
#[test]
fn swapped_local_tracks_are_traded_alike_on_both_backends() {
    let Some(gpu) = backend(&GpuOptions::default()) else {
        return;
    };
    // The first 420 s: the trackers of I1 and I2 swap near 340 s and 380 s.
    let s = scenario::generate(&ScenarioOptions {
        seed: 3,
        duration: Some(420.0),
        ..Default::default()
    })
    .unwrap();
    let reports = track::track_cpu(&s.detections, &s.sensors, &TrackerParams::default()).unwrap();
    let set = ReportSet {
        reports,
        sensors: s.sensors.clone(),
        full_covariance: true,
    };
    let cfg = Config::default();
    let cpu = trackcorr::correlate::correlate(&set, &cfg).unwrap();
    let g = gpu.correlate(&set, &cfg, |_, _| {}, None).unwrap();
    assert!(cpu.replays[0].swap_trades > 0);
    assert_eq!(cpu.replays[0].swap_trades, g.replays[0].swap_trades);
    assert_eq!(decisions(&cpu), decisions(&g));
}

#[test]
fn a_batch_equals_its_replays_run_one_by_one_and_chunking_changes_nothing() {
    let Some(gpu) = backend(&GpuOptions::default()) else {
        return;
    };
    // 50 short replays (the first 120 s of each engagement); 100 took llvmpipe, CI's
    // adapter, nearly five minutes.
    let set = salvo(9, 50, Some(120.0));
    let cfg = Config::default();
    let batch = gpu.correlate(&set, &cfg, |_, _| {}, None).unwrap();
    assert_eq!(batch.replays.len(), 50);
    for r in [0u32, 23, 49] {
        let one = ReportSet {
            reports: set
                .reports
                .iter()
                .filter(|x| x.replay == r)
                .copied()
                .collect(),
            ..set.clone()
        };
        let single = gpu.correlate(&one, &cfg, |_, _| {}, None).unwrap();
        let from_batch = Correlation {
            replays: vec![batch.replays[r as usize].clone()],
            ..batch.clone()
        };
        assert_eq!(decisions(&single), decisions(&from_batch), "replay {r}");
        // The batch's reference point differs from the single replay's: f32 rounding only.
        assert!(max_state_difference(&single, &from_batch) < 0.5);
    }
    // A 256 KiB cap on GPU buffers forces a chunk per replay or two: the same decisions.
    let first: Vec<_> = set
        .reports
        .iter()
        .filter(|x| x.replay < 20)
        .copied()
        .collect();
    let part = ReportSet {
        reports: first,
        ..set.clone()
    };
    let small = backend(&GpuOptions {
        max_binding_bytes: Some(256 << 10),
    })
    .unwrap();
    let chunked = small.correlate(&part, &cfg, |_, _| {}, None).unwrap();
    let whole = Correlation {
        replays: batch.replays[..20].to_vec(),
        ..batch.clone()
    };
    assert_eq!(decisions(&chunked), decisions(&whole));
    assert!(max_state_difference(&chunked, &whole) < 0.5);
    // And the CPU agrees.
    let cpu = trackcorr::correlate::correlate(&set, &cfg).unwrap();
    assert_eq!(decisions(&cpu), decisions(&batch));
}

/// `correlate --backend gpu` and `--backend cpu`, as a user runs them: the same
/// `associations.csv`, byte for byte, and a `summary.json` that names the adapter and,
/// where it has timestamp queries, each kernel's GPU time.
#[test]
fn correlate_writes_the_same_associations_on_both_backends() {
    if backend(&GpuOptions::default()).is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("trackcorr-backends-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trackcorr"))
            .current_dir(std::env::temp_dir())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let d = dir.to_str().unwrap();
    let input = format!("{d}/in");
    run(&[
        "generate",
        "--seed",
        "2",
        "--replays",
        "3",
        "--duration",
        "300",
        "--out",
        &input,
    ]);
    let mut outputs = Vec::new();
    for b in ["gpu", "cpu"] {
        let out = format!("{d}/{b}");
        run(&[
            "correlate",
            "--reports",
            &format!("{input}/reports.csv"),
            "--sensors",
            &format!("{input}/sensors.csv"),
            "--backend",
            b,
            "--out",
            &out,
        ]);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{out}/summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["backend"]["name"], b);
        let kernels = &summary["timing"]["stages_s"]["gpu_kernels"];
        if b == "gpu" {
            let adapter = &summary["backend"]["adapter"];
            assert!(adapter["name"].as_str().is_some_and(|n| !n.is_empty()));
            if adapter["timestamp_queries"] == true {
                for k in ["propagate", "gate", "assign", "merge", "fuse"] {
                    assert!(kernels[k].as_f64().is_some_and(|t| t > 0.0), "{kernels}");
                }
            }
        } else {
            assert!(kernels.is_null());
        }
        outputs.push(std::fs::read(format!("{out}/associations.csv")).unwrap());
    }
    assert!(outputs[0].len() > 1000);
    assert!(outputs[0] == outputs[1], "associations.csv differs");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A GPU that fails mid-run (a lost device, injected at the second chunk): without the
/// fallback the run stops with a GPU error; with it (`--backend auto`) the chunks from the
/// failed one on are correlated on the CPU, the earlier ones keep the GPU's results, and the
/// run says which replays were rerun and why.
#[test]
fn a_gpu_fault_mid_run_reruns_the_rest_on_the_cpu() {
    // A backend counts its chunks over its whole life (a run correlates a batch of replays
    // at a time) and a lost device stays lost: each of the three runs gets its own.
    let opts = GpuOptions {
        max_binding_bytes: Some(96 << 10),
    };
    let Some(gpu) = backend(&opts) else {
        return;
    };
    let set = salvo(4, 5, Some(90.0));
    let cfg = Config::default();
    let mut chunks = 0;
    let clean = gpu.correlate(&set, &cfg, |_, _| chunks += 1, None).unwrap();
    assert!(
        chunks >= 3,
        "{chunks} chunks: the cap should split 5 replays"
    );
    assert!(clean.cpu_reruns.is_empty());
    let cpu = trackcorr::correlate::correlate(&set, &cfg).unwrap();

    let mut gpu = backend(&opts).unwrap();
    gpu.inject_fault = Some(1);
    let err = gpu.correlate(&set, &cfg, |_, _| {}, None).unwrap_err();
    assert!(
        matches!(err, trackcorr::Error::Gpu(_)) && err.is_retryable(),
        "{err}"
    );

    let mut gpu = backend(&opts).unwrap();
    gpu.inject_fault = Some(1);
    gpu.cpu_fallback = true;
    let mut first_chunk = 0;
    let mut calls = 0;
    let mixed = gpu
        .correlate(
            &set,
            &cfg,
            |done, _| {
                calls += 1;
                if calls == 1 {
                    first_chunk = done;
                }
            },
            None,
        )
        .unwrap();
    assert_eq!(mixed.replays.len(), 5);
    let rerun: Vec<u32> = mixed
        .cpu_reruns
        .iter()
        .flat_map(|r| r.replays.clone())
        .collect();
    let expected: Vec<u32> = (first_chunk as u32..5).collect();
    assert_eq!(rerun, expected);
    assert!(mixed.cpu_reruns[0].gpu_error.contains("device lost"));
    for (k, r) in mixed.replays.iter().enumerate() {
        let reference = if k < first_chunk {
            &clean.replays[k]
        } else {
            &cpu.replays[k]
        };
        assert!(
            r == reference,
            "replay {k} differs from its backend's own run"
        );
    }
}

/// The same fault through the command line with `--backend gpu`: exit status 75 (retryable)
/// and no output, not even a hidden partial folder.
#[test]
fn a_gpu_fault_leaves_no_output() {
    if trackcorr::gpu::test_context(&GpuOptions::default()).is_none() {
        return;
    }
    let scratch = cli::Scratch::new("gpu-fault");
    let dir = &scratch.0;
    cli::ok(
        dir,
        &[
            "generate",
            "--replays",
            "2",
            "--duration",
            "100",
            "--out",
            "g",
        ],
        &[],
    );
    let out = cli::run(
        dir,
        &[
            "correlate",
            "--reports",
            "g/reports.csv",
            "--backend",
            "gpu",
            "--out",
            "o",
        ],
        &[(trackcorr::gpu::correlate::INJECT_FAULT, "0")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("device lost"), "{err}");
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["g"], "a failed run left {left:?}");
}
