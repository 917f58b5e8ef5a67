//! The hostile-input corpus of `tests/data/bad/`: every file gives the exact error that
//! `expected.txt` documents, exits 1 without panicking and leaves no output behind; with
//! `--lenient` bad rows are skipped and counted per reason instead.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/cli.rs"]
mod cli;

use cli::Scratch;

const CORPUS: &str = "tests/data/bad";

struct Case {
    file: String,
    role: String,
    expected: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("expected.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.splitn(3, " | ").collect();
            assert_eq!(parts.len(), 3, "bad line in expected.txt: {l}");
            Case {
                file: parts[0].to_string(),
                role: parts[1].to_string(),
                expected: parts[2].to_string(),
            }
        })
        .collect()
}

/// Runs the command that reads `file` in the place of `role`, from folder `cwd`, with the
/// good files of the corpus for the other inputs.
fn run(role: &str, file: &Path, cwd: &Path, out: &Path, extra: &[&str]) -> Output {
    let good = |name: &str| std::fs::canonicalize(Path::new(CORPUS).join(name)).unwrap();
    let pick = |r: &str, name: &str| {
        if role == r {
            file.to_path_buf()
        } else {
            good(name)
        }
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trackcorr"));
    cmd.current_dir(cwd);
    if role == "detections" {
        cmd.arg("track")
            .arg("--detections")
            .arg(file)
            .arg("--sensors")
            .arg(good("sensors.csv"));
    } else {
        cmd.arg("correlate")
            .arg("--reports")
            .arg(pick("reports", "good_reports.csv"))
            .arg("--sensors")
            .arg(pick("sensors", "sensors.csv"))
            .arg("--truth")
            .arg(pick("truth", "good_truth.csv"));
    }
    cmd.args(["--backend", "cpu", "--out"]).arg(out).args(extra);
    cmd.output().expect("cannot run trackcorr")
}

/// Nothing under `dir`: no output folder, no hidden partial one.
fn assert_nothing_written(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
}

/// A reports file whose second line is 1 GiB long (sparse on disk).
fn long_line(dir: &Path) -> PathBuf {
    let path = dir.join("long_line.csv");
    let header = std::fs::read_to_string(Path::new(CORPUS).join("good_reports.csv")).unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{}", header.lines().next().unwrap()).unwrap();
    write!(f, "0,10.000,A,1,0,").unwrap();
    f.seek(SeekFrom::Current(1 << 30)).unwrap();
    writeln!(f, "5").unwrap();
    path
}

#[test]
fn every_bad_file_gives_its_documented_error_and_no_output() {
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus lost cases");
    let root = std::env::current_dir().unwrap();
    for case in &cases {
        let scratch = Scratch::new(&format!("bad-{}", case.file.trim_end_matches(".csv")));
        let outs = scratch.0.join("outs");
        std::fs::create_dir(&outs).unwrap();
        let committed = Path::new(CORPUS).join(&case.file);
        let (file, cwd) = if committed.exists() {
            (committed, root.clone())
        } else {
            assert_eq!(case.file, "long_line.csv", "{} is missing", case.file);
            long_line(&scratch.0);
            (PathBuf::from("long_line.csv"), scratch.0.clone())
        };
        let out = outs.join("run");
        let output = run(&case.role, &file, &cwd, &out, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked: {stderr}",
            case.file
        );
        if case.expected == "ok" {
            assert!(output.status.success(), "{}: {stderr}", case.file);
            assert!(out.join("summary.json").exists());
            continue;
        }
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", case.file);
        let want = format!("trackcorr: {}", case.expected);
        assert!(
            stderr.lines().any(|l| l == want),
            "{}: expected\n  {want}\ngot\n  {stderr}",
            case.file
        );
        assert_nothing_written(&outs);
    }
}

#[test]
fn lenient_skips_bad_rows_and_counts_them_by_reason() {
    let scratch = Scratch::new("bad-lenient");
    let good = std::fs::read_to_string(Path::new(CORPUS).join("good_reports.csv")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let mut bytes = Vec::new();
    let mut push = |line: &[u8]| {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    };
    push(lines[0].as_bytes());
    push(lines[1].as_bytes());
    push(lines[2].replace(",B,7,", ",B,7.5,").as_bytes()); // not an integer
    push(lines[3].as_bytes());
    push(lines[4].replace(",B,", ",C,").as_bytes()); // unknown sensor
    push(&lines[4].as_bytes()[..30]); // truncated
    push(format!("{},7", lines[5]).as_bytes()); // one field too many
    push(b"0,13.000,\xff\xfe"); // not UTF-8
    push(&vec![b'9'; 100_000]); // too long
    push(lines[6].as_bytes());
    push(lines[3].as_bytes()); // out of order (time 12 after 14)
    push(lines[7].as_bytes());
    push(lines[8].as_bytes());
    let file = scratch.0.join("mixed.csv");
    std::fs::write(&file, &bytes).unwrap();

    // Strict: the first bad row stops the run.
    let out = scratch.0.join("strict");
    let strict = run("reports", &file, &scratch.0, &out, &[]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(!out.exists());

    let out = scratch.0.join("lenient");
    let output = run("reports", &file, &scratch.0, &out, &["--lenient"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let skipped = &summary["skipped_rows"][file.display().to_string()];
    let expect = serde_json::json!({
        "not a non-negative integer": 1,
        "unknown sensor": 1,
        "wrong number of fields": 2,
        "not UTF-8": 1,
        "line too long": 1,
        "out of order": 1,
    });
    assert_eq!(skipped, &expect, "{summary}");
    assert_eq!(summary["counts"]["reports"], 5);
    let line = format!(
        "trackcorr: skipped 7 rows of {}: 1 line too long, 1 not UTF-8, 1 not a \
         non-negative integer, 1 out of order, 1 unknown sensor, 2 wrong number of fields",
        file.display()
    );
    assert!(stderr.lines().any(|l| l == line), "{stderr}");

    // A file with no good row is still an error.
    let bad = scratch.0.join("all_bad.csv");
    std::fs::write(
        &bad,
        format!("{}\n{}\n", lines[0], lines[1].replace(",A,", ",C,")),
    )
    .unwrap();
    let out = scratch.0.join("none");
    let output = run("reports", &bad, &scratch.0, &out, &["--lenient"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("expected at least one report row"),
        "{stderr}"
    );
    assert!(!out.exists());
}
