//! Batches past one machine, as a cluster runs them: `generate` and `correlate` in shards
//! (`--shard I/N`, the index also from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), merged by
//! `trackcorr merge`, give what one run gives; a retried shard gives the same bytes; shards of
//! different runs, or a missing one, do not merge; exit codes tell bad data (1) from what a
//! retry may fix (75).

use std::path::Path;
use std::process::Command;

#[path = "common/cli.rs"]
mod cli;

use cli::{Scratch, ok, read, run, summary};

#[test]
fn sharded_runs_merge_into_the_single_run() {
    let scratch = Scratch::new("shard");
    let dir = scratch.0.clone();
    // Seven replays in three shards: shard 0 holds 0, 3, 6; shard 1 holds 1, 4; shard 2 holds
    // 2, 5. Short flights keep the test quick.
    let scenario = [
        "--seed",
        "5",
        "--replays",
        "7",
        "--objects",
        "4",
        "--duration",
        "150",
    ];
    let generate = |out: &str, shard: Option<&str>, env: &[(&str, &str)]| {
        let mut args = vec!["generate"];
        args.extend(scenario);
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        args.extend(["--out", out]);
        ok(&dir, &args, env);
    };
    generate("whole", None, &[]);
    generate("g0", Some("0/3"), &[]);
    // The index from the scheduler's environment, as a Slurm array or a Kubernetes Indexed
    // Job gives it.
    generate("g1", Some("3"), &[("SLURM_ARRAY_TASK_ID", "1")]);
    generate("g2", Some("3"), &[("JOB_COMPLETION_INDEX", "2")]);
    // A retried shard: same bytes.
    let first = read(&dir.join("g1"), "detections.csv");
    generate("g1", Some("1/3"), &[]);
    assert_eq!(first, read(&dir.join("g1"), "detections.csv"));
    ok(&dir, &["merge", "g2", "g0", "g1", "--out", "merged"], &[]);
    for file in [
        "sensors.csv",
        "detections.csv",
        "reports.csv",
        "truth.csv",
        "manifest.json",
    ] {
        assert!(
            read(&dir.join("whole"), file) == read(&dir.join("merged"), file),
            "generate: merged {file} differs from the single run's"
        );
    }
    let m: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("g1"), "manifest.json")).unwrap();
    assert_eq!(m["replays"], serde_json::json!([1, 4]));
    assert_eq!(m["shard"], serde_json::json!({"index": 1, "count": 3}));

    // Correlate the whole batch once and in shards, with truth (the metrics must merge too).
    let correlate = |out: &str, shard: Option<&str>| {
        let mut args = vec![
            "correlate",
            "--reports",
            "whole/reports.csv",
            "--sensors",
            "whole/sensors.csv",
            "--truth",
            "whole/truth.csv",
            "--backend",
            "cpu",
            "--out",
            out,
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        ok(&dir, &args, &[]);
    };
    correlate("c", None);
    for i in 0..3 {
        correlate(&format!("c{i}"), Some(&format!("{i}/3")));
    }
    ok(&dir, &["merge", "c0", "c1", "c2", "--out", "cm"], &[]);
    for file in ["associations.csv", "system_tracks.csv", "manifest.json"] {
        assert!(
            read(&dir.join("c"), file) == read(&dir.join("cm"), file),
            "correlate: merged {file} differs from the single run's"
        );
    }
    assert_eq!(summary(&dir.join("c")), summary(&dir.join("cm")));
    // The shards really split the work: each holds fewer rows than the whole.
    let rows = |d: &str| {
        read(&dir.join(d), "associations.csv")
            .split(|&b| b == b'\n')
            .count()
    };
    assert!(rows("c1") < rows("c") && rows("c1") > 1);

    // The Slurm recipe as an array of three tasks would run it (the script under bash, the
    // array's variables set, trackcorr on the PATH).
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm/correlate-array.sbatch");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_trackcorr")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for i in 0..3 {
        let out = Command::new("bash")
            .current_dir(&dir)
            .arg(&script)
            .args(["whole", "slurm"])
            .env("PATH", &path)
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .output()
            .expect("cannot run bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok(
        &dir,
        &[
            "merge",
            "slurm/shard-0",
            "slurm/shard-1",
            "slurm/shard-2",
            "--out",
            "sm",
        ],
        &[],
    );
    assert!(
        read(&dir.join("c"), "system_tracks.csv") == read(&dir.join("sm"), "system_tracks.csv")
    );

    // What does not merge.
    let fails = |args: &[&str], expected: &str| {
        let out = run(&dir, args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    };
    fails(&["merge", "c0", "c2", "--out", "x"], "shards missing: 1/3");
    fails(
        &["merge", "c0", "c1", "c1", "c2", "--out", "x"],
        "given twice",
    );
    fails(
        &["merge", "c0", "c1", "g2", "--out", "x"],
        "commands differ",
    );
    correlate("d1", Some("1/3"));
    ok(
        &dir,
        &[
            "correlate",
            "--reports",
            "whole/reports.csv",
            "--backend",
            "cpu",
            "--shard",
            "2/3",
            "--out",
            "d2",
        ],
        &[],
    );
    fails(&["merge", "c0", "d1", "d2", "--out", "x"], "differ");
    assert!(!dir.join("x").exists(), "a failed merge left an output");
}

#[test]
fn exit_codes_tell_bad_data_from_a_missing_gpu() {
    let scratch = Scratch::new("exit");
    let dir = scratch.0.clone();
    ok(
        &dir,
        &[
            "generate",
            "--replays",
            "1",
            "--duration",
            "60",
            "--out",
            "g",
        ],
        &[],
    );
    std::fs::write(dir.join("bad.csv"), "replay,time\n0,x\n").unwrap();
    let bad = run(
        &dir,
        &["correlate", "--reports", "bad.csv", "--out", "o"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    let usage = run(&dir, &["correlate", "--shard", "7/3", "--out", "o"], &[]);
    assert_eq!(usage.status.code(), Some(2));
    // No Vulkan driver: the only backend built for Linux finds no adapter. A retry on a
    // machine with a GPU may pass: 75 (EX_TEMPFAIL).
    if cfg!(target_os = "linux") {
        let none = [
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
        ];
        let out = run(
            &dir,
            &[
                "correlate",
                "--reports",
                "g/reports.csv",
                "--backend",
                "gpu",
                "--out",
                "o",
            ],
            &none,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{err}");
        assert!(err.contains("no GPU adapter"), "{err}");
    }
    assert!(!dir.join("o").exists());
}

/// `correlate --register` in shards: `merge` gathers `registration.csv` and recomputes the
/// summary's registration from it, to the same bytes and values as one run.
#[test]
fn sharded_registration_merges_into_the_single_run() {
    let scratch = Scratch::new("shard-register");
    let dir = scratch.0.clone();
    ok(
        &dir,
        &[
            "generate",
            "--seed",
            "3",
            "--replays",
            "4",
            "--objects",
            "4",
            "--biases",
            "--out",
            "g",
        ],
        &[],
    );
    let register = ["--truth-biases", "g/truth_biases.csv", "--register"];
    let correlate = |out: &str, shard: Option<&str>| {
        let mut extra = register.to_vec();
        if let Some(s) = shard {
            extra.extend(["--shard", s]);
        }
        cli::correlate(&dir, "g", out, &extra);
    };
    correlate("c", None);
    correlate("c0", Some("0/2"));
    correlate("c1", Some("1/2"));
    ok(&dir, &["merge", "c1", "c0", "--out", "cm"], &[]);
    for file in ["registration.csv", "associations.csv", "manifest.json"] {
        assert!(
            read(&dir.join("c"), file) == read(&dir.join("cm"), file),
            "merged {file} differs from the single run's"
        );
    }
    let whole = summary(&dir.join("c"));
    assert_eq!(whole, summary(&dir.join("cm")));
    // Each shard's own summary covers only its replays.
    assert_eq!(whole["registration"]["L1"]["replays"], 4);
    assert_eq!(summary(&dir.join("c0"))["registration"]["L1"]["replays"], 2);
    // A damaged estimate is refused where it stands, and nothing is written.
    let path = dir.join("c0/registration.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[1].split(',').collect();
    fields[2] = "abc";
    lines[1] = fields.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = run(&dir, &["merge", "c0", "c1", "--out", "bad"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("registration.csv:2:") && err.contains("range_m"),
        "{err}"
    );
    assert!(!dir.join("bad").exists());
}

/// `--register-pool` from the command line: `generate --bias-draw batch --boost-filter`
/// records both in its manifest and gives every replay the same biases; the pooled estimate
/// is one per radar, the same in every replay's rows of `registration.csv`, even with
/// batches far smaller than a replay (it reads the whole input at once) and however the
/// input is batched. Without `--register`, `--register-pool` is refused.
#[test]
fn pooled_registration_from_the_command_line() {
    let scratch = Scratch::new("register-pool");
    let dir = scratch.0.clone();
    ok(
        &dir,
        &[
            "generate",
            "--seed",
            "2",
            "--replays",
            "3",
            "--objects",
            "4",
            "--biases",
            "--bias-draw",
            "batch",
            "--boost-filter",
            "--out",
            "g",
        ],
        &[],
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&dir.join("g"), "manifest.json")).unwrap();
    assert_eq!(manifest["options"]["biases"]["draw"], "batch");
    assert_eq!(manifest["options"]["boost_filter"], true);
    let pool = [
        "--truth-biases",
        "g/truth_biases.csv",
        "--register",
        "--register-pool",
    ];
    cli::correlate(&dir, "g", "c", &pool);
    let small = [&pool[..], &["--batch-reports", "50"]].concat();
    cli::correlate(&dir, "g", "s", &small);
    let csv = String::from_utf8(read(&dir.join("c"), "registration.csv")).unwrap();
    assert_eq!(csv.as_bytes(), read(&dir.join("s"), "registration.csv"));
    // replay,sensor,estimate (3), sd (3), pairs, true biases (3), ...: the same estimate,
    // sd, pairs and truth in each replay.
    let mut per_sensor: std::collections::BTreeMap<String, Vec<Vec<String>>> = Default::default();
    for line in csv.lines().skip(1) {
        let f: Vec<String> = line.split(',').map(str::to_owned).collect();
        per_sensor
            .entry(f[1].clone())
            .or_default()
            .push(f[2..12].to_vec());
    }
    assert_eq!(per_sensor.len(), 6);
    for (sensor, rows) in &per_sensor {
        assert_eq!(rows.len(), 3, "{sensor}");
        assert!(rows.iter().all(|r| r == &rows[0]), "{sensor}: {rows:?}");
    }
    let refused = run(
        &dir,
        &[
            "correlate",
            "--reports",
            "g/reports.csv",
            "--sensors",
            "g/sensors.csv",
            "--register-pool",
            "--out",
            "x",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(!dir.join("x").exists());
}
