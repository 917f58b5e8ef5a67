//! Same input and options, same bytes: over two runs, over 1 and 2 threads, over the
//! batches `correlate` reads the file in and over chunk sizes. Only `summary.json`'s wall-clock `timing` and its thread count may differ.

use std::path::Path;
use trackcorr::correlate::{self, Config};
use trackcorr::output::{associations_csv, system_tracks_csv};
use trackcorr::scenario::{self, ScenarioOptions};

#[path = "common/cli.rs"]
mod cli;

use cli::{Scratch, ok, read, summary};

/// trackcorr on `threads` worker threads; it must succeed.
fn trackcorr(threads: usize, args: &[&str], dir: &Path) {
    ok(dir, args, &[("RAYON_NUM_THREADS", &threads.to_string())]);
}

#[test]
fn outputs_are_byte_identical_over_runs_and_thread_counts() {
    let scratch = Scratch::new("determinism");
    let dir = scratch.0.clone();

    let generate = [
        "generate",
        "--seed",
        "11",
        "--replays",
        "4",
        "--duration",
        "240",
    ];
    trackcorr(1, &[&generate[..], &["--out", "g1"]].concat(), &dir);
    trackcorr(2, &[&generate[..], &["--out", "g2"]].concat(), &dir);
    for f in ["sensors.csv", "detections.csv", "reports.csv", "truth.csv"] {
        assert!(
            read(&dir.join("g1"), f) == read(&dir.join("g2"), f),
            "generate: {f}"
        );
    }

    let correlate = |threads, out: &str, batch: &str| {
        let args = [
            "correlate",
            "--batch-reports",
            batch,
            "--reports",
            "g1/reports.csv",
            "--sensors",
            "g1/sensors.csv",
            "--truth",
            "g1/truth.csv",
            "--backend",
            "cpu",
            "--out",
            out,
        ];
        trackcorr(threads, &args, &dir);
    };
    correlate(1, "c1", "262144");
    correlate(2, "c2", "262144");
    correlate(2, "c2again", "262144");
    // Read and correlated a few hundred reports at a time: several batches per replay's
    // worth of the file, replays split from their truth between batches.
    correlate(2, "c2batches", "500");
    // The thread count did take effect.
    let threads = |d: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&read(&dir.join(d), "summary.json")).unwrap();
        v["backend"]["threads"].as_u64()
    };
    assert_eq!((threads("c1"), threads("c2")), (Some(1), Some(2)));
    for other in ["c2", "c2again", "c2batches"] {
        for f in ["associations.csv", "system_tracks.csv"] {
            assert!(
                read(&dir.join("c1"), f) == read(&dir.join(other), f),
                "{other}/{f}"
            );
        }
        assert_eq!(
            summary(&dir.join("c1")),
            summary(&dir.join(other)),
            "{other}"
        );
    }

    let track = |threads, out: &str| {
        let args = [
            "track",
            "--detections",
            "g1/detections.csv",
            "--sensors",
            "g1/sensors.csv",
            "--backend",
            "cpu",
            "--out",
            out,
        ];
        trackcorr(threads, &args, &dir);
    };
    track(1, "t1");
    track(2, "t2");
    assert!(read(&dir.join("t1"), "reports.csv") == read(&dir.join("t2"), "reports.csv"));
    assert_eq!(summary(&dir.join("t1")), summary(&dir.join("t2")));
}

#[test]
fn chunk_size_does_not_change_the_result() {
    let s = scenario::generate(&ScenarioOptions {
        seed: 12,
        replays: 5,
        duration: Some(200.0),
        ..Default::default()
    })
    .unwrap();
    let set = s.report_set();
    let outputs = |chunk_replays| {
        let corr = correlate::correlate(
            &set,
            &Config {
                chunk_replays,
                ..Config::default()
            },
        )
        .unwrap();
        (
            associations_csv(&corr, &set.sensors),
            system_tracks_csv(&corr),
        )
    };
    let whole = outputs(64);
    for chunk in [1, 2, 3] {
        assert!(outputs(chunk) == whole, "chunks of {chunk} replays");
    }
}
