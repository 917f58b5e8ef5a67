//! The `trackcorr` binary as a user runs it: a generated scenario, damaged input files
//! whose errors must name `file:line:column` and what was expected, output folders that
//! appear only on success, and reproducible outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder for one test, holding a generated scenario; removed on drop.
struct Scenario {
    dir: PathBuf,
    reports: PathBuf,
    sensors: PathBuf,
    truth: PathBuf,
}

impl Scenario {
    /// Generates `--seed 3 --duration 120` into a fresh folder named after `test`.
    fn new(test: &str) -> Scenario {
        let dir = std::env::temp_dir().join(format!("trackcorr-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("scenario");
        generate(&scenario);
        Scenario {
            reports: scenario.join("reports.csv"),
            sensors: scenario.join("sensors.csv"),
            truth: scenario.join("truth.csv"),
            dir,
        }
    }

    /// Writes a file into the test folder and returns its path.
    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The output folder that `correlate` is pointed at in failing runs.
    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// Runs `correlate` on damaged reports with the scenario's sensors and truth.
    fn bad_reports(&self, contents: impl AsRef<[u8]>, line: usize, column: usize, phrase: &str) {
        let bad = self.write("bad_reports.csv", contents);
        self.correlate_fails(
            [&bad, &self.sensors, &self.truth],
            (&bad, line, column),
            phrase,
        );
    }

    /// Runs `correlate` on a damaged sensor table with the scenario's reports and truth.
    fn bad_sensors(&self, contents: impl AsRef<[u8]>, line: usize, column: usize, phrase: &str) {
        let bad = self.write("bad_sensors.csv", contents);
        self.correlate_fails(
            [&self.reports, &bad, &self.truth],
            (&bad, line, column),
            phrase,
        );
    }

    /// Runs `correlate` on damaged truth with the scenario's reports and sensors.
    fn bad_truth(&self, contents: impl AsRef<[u8]>, line: usize, column: usize, phrase: &str) {
        let bad = self.write("bad_truth.csv", contents);
        self.correlate_fails(
            [&self.reports, &self.sensors, &bad],
            (&bad, line, column),
            phrase,
        );
    }

    /// Runs `correlate --reports --sensors --truth` (in that order) into [`Scenario::out`]
    /// and checks that it fails cleanly with an error at `file:line:column` that contains
    /// `phrase`, leaving no output folder behind.
    fn correlate_fails(
        &self,
        [reports, sensors, truth]: [&Path; 3],
        at: (&Path, usize, usize),
        phrase: &str,
    ) {
        let out = self.out();
        let output = correlate(reports, sensors, truth, &out);
        let stderr = assert_clean_failure(&output);
        eprintln!("{stderr}");
        let location = format!("{}:{}:{}: ", at.0.display(), at.1, at.2);
        assert!(
            stderr.contains(&location),
            "expected location `{location}` in: {stderr}"
        );
        assert!(stderr.contains(phrase), "expected `{phrase}` in: {stderr}");
        assert!(
            !out.exists(),
            "{} was created by a failed run",
            out.display()
        );
        assert_no_partial(&self.dir);
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn trackcorr(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackcorr"))
        .args(args)
        .output()
        .expect("cannot run trackcorr")
}

fn generate(out: &Path) {
    let output = trackcorr(&[
        "generate".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--duration".as_ref(),
        "120".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_success(&output);
}

fn correlate(reports: &Path, sensors: &Path, truth: &Path, out: &Path) -> Output {
    trackcorr(&[
        "correlate".as_ref(),
        "--reports".as_ref(),
        reports.as_os_str(),
        "--sensors".as_ref(),
        sensors.as_os_str(),
        "--truth".as_ref(),
        truth.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "trackcorr failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks an ordinary failure (exit status 1, no panic, no signal); returns stderr.
fn assert_clean_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit status 1, got {}: {stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "trackcorr panicked: {stderr}");
    stderr
}

/// Checks that no hidden `.NAME.partial-*` folder is left in `dir`.
fn assert_no_partial(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !(name.starts_with('.') && name.contains(".partial-")),
            "{name} left in {}",
            dir.display()
        );
    }
}

/// A CSV file as lines of text, for targeted damage. Lines are numbered from 1 as in
/// error messages.
struct Csv {
    lines: Vec<String>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap();
        Csv {
            lines: text.split('\n').map(str::to_string).collect(),
        }
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }

    fn fields(&self, line: usize) -> Vec<&str> {
        self.lines[line - 1].split(',').collect()
    }

    /// Index of a column named in the header.
    fn index(&self, name: &str) -> usize {
        self.fields(1)
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    /// The 1-based character column where field `name` of `line` starts.
    fn column(&self, line: usize, name: &str) -> usize {
        let k = self.index(name);
        1 + self.fields(line)[..k]
            .iter()
            .map(|f| f.chars().count() + 1)
            .sum::<usize>()
    }

    /// Replaces field `name` of `line`; returns the field's column.
    fn set(&mut self, line: usize, name: &str, value: &str) -> usize {
        let (k, column) = (self.index(name), self.column(line, name));
        let mut fields = self.fields(line);
        fields[k] = value;
        self.lines[line - 1] = fields.join(",");
        column
    }

    /// The scenario file with field `name` of `line` replaced: text and column.
    fn with(path: &Path, line: usize, name: &str, value: &str) -> (String, usize) {
        let mut csv = Csv::read(path);
        let column = csv.set(line, name, value);
        (csv.text(), column)
    }
}

#[test]
fn missing_column() {
    let s = Scenario::new("missing_column");
    let mut csv = Csv::read(&s.reports);
    let k = csv.index("vx");
    for line in csv.lines.iter_mut().filter(|l| !l.is_empty()) {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields.remove(k);
        *line = fields.join(",");
    }
    s.bad_reports(csv.text(), 1, 1, "missing column `vx`");
}

#[test]
fn unparsable_number() {
    let s = Scenario::new("unparsable_number");
    let (text, column) = Csv::with(&s.reports, 5, "y", "3.9e");
    s.bad_reports(text, 5, column, "expected a number for `y`, found `3.9e`");
}

#[test]
fn nan_and_inf() {
    let s = Scenario::new("nan_and_inf");
    let (text, column) = Csv::with(&s.reports, 6, "z", "NaN");
    s.bad_reports(
        text,
        6,
        column,
        "expected a finite number for `z`, found `NaN`",
    );
    let (text, column) = Csv::with(&s.reports, 7, "vy", "inf");
    s.bad_reports(
        text,
        7,
        column,
        "expected a finite number for `vy`, found `inf`",
    );
}

#[test]
fn unknown_sensor() {
    let s = Scenario::new("unknown_sensor");
    let (text, column) = Csv::with(&s.reports, 4, "sensor", "X9");
    s.bad_reports(
        text,
        4,
        column,
        "unknown sensor `X9`: expected one of the sensors file's names",
    );
}

#[test]
fn covariance_not_positive_definite() {
    let s = Scenario::new("covariance_not_positive_definite");
    let (text, column) = Csv::with(&s.reports, 6, "cov_x_x", "-1");
    s.bad_reports(
        text,
        6,
        column,
        "expected a positive variance for `cov_x_x`, found -1",
    );
    let (text, column) = Csv::with(&s.reports, 8, "cov_vx_vx", "0");
    s.bad_reports(
        text,
        8,
        column,
        "expected a positive variance for `cov_vx_vx`, found 0",
    );
    let (text, column) = Csv::with(&s.reports, 9, "cov_x_y", "1e12");
    s.bad_reports(
        text,
        9,
        column,
        "expected `cov_x_y` within ±sqrt(cov_x_x·cov_y_y)",
    );
}

#[test]
fn empty_and_header_only() {
    let s = Scenario::new("empty_and_header_only");
    s.bad_reports(
        "",
        1,
        1,
        "file is empty: expected a header line of column names",
    );
    let header = format!("{}\n", Csv::read(&s.reports).lines[0]);
    s.bad_reports(
        header,
        2,
        1,
        "expected at least one report row after the header",
    );
}

#[test]
fn rows_out_of_order() {
    let s = Scenario::new("rows_out_of_order");
    // The first row is at 5.883 s: a row at 1 s further down goes back in time.
    let (text, column) = Csv::with(&s.reports, 10, "time", "1.000");
    s.bad_reports(text, 10, column, "rows must be sorted by replay, then time");
    // Truth whose replay goes back: located at the replay column.
    let (text, _) = Csv::with(&s.truth, 5, "replay", "1");
    s.bad_truth(
        text,
        6,
        1,
        "rows must be sorted by replay, then time: replay 0",
    );
}

#[test]
fn duplicate_report() {
    let s = Scenario::new("duplicate_report");
    let mut csv = Csv::read(&s.reports);
    let copy = csv.lines[11].clone();
    csv.lines.insert(12, copy);
    let column = csv.column(13, "track");
    let fields = csv.fields(13);
    let (sensor, track) = (fields[csv.index("sensor")], fields[csv.index("track")]);
    let phrase = format!("duplicate report: sensor {sensor} track {track} already has one");
    s.bad_reports(csv.text(), 13, column, &phrase);
}

#[test]
fn missing_field() {
    let s = Scenario::new("missing_field");
    let mut csv = Csv::read(&s.reports);
    let line = &mut csv.lines[14];
    line.truncate(line.rfind(',').unwrap());
    let column = line.chars().count() + 1;
    s.bad_reports(
        csv.text(),
        15,
        column,
        "expected 32 fields as in the header, found 31",
    );
}

#[test]
fn non_utf8() {
    let s = Scenario::new("non_utf8");
    let csv = Csv::read(&s.reports);
    let column = csv.column(7, "x");
    let mut bytes = Vec::new();
    for (k, line) in csv.lines.iter().enumerate() {
        if k > 0 {
            bytes.push(b'\n');
        }
        if k == 6 {
            // Two characters into field `x`.
            let at = line
                .split(',')
                .take(csv.index("x"))
                .map(|f| f.len() + 1)
                .sum::<usize>()
                + 2;
            bytes.extend_from_slice(&line.as_bytes()[..at]);
            bytes.push(0xff);
            bytes.extend_from_slice(&line.as_bytes()[at..]);
        } else {
            bytes.extend_from_slice(line.as_bytes());
        }
    }
    s.bad_reports(bytes, 7, column + 2, "expected UTF-8 text");
    // On the first line after a byte-order mark, which is not a column.
    let mut bytes = "\u{feff}replay,ti".as_bytes().to_vec();
    bytes.push(0xe9);
    bytes.extend_from_slice(b"me\n");
    s.bad_reports(bytes, 1, 10, "expected UTF-8 text");
}

#[test]
fn bad_sensor_table() {
    let s = Scenario::new("bad_sensor_table");
    let (text, column) = Csv::with(&s.sensors, 3, "sensor", "L1");
    assert_eq!(column, 1);
    s.bad_sensors(text, 3, 1, "sensor `L1` is listed twice");
    let (text, column) = Csv::with(&s.sensors, 4, "pd", "1.5");
    s.bad_sensors(
        text,
        4,
        column,
        "expected a probability in [0, 1], found 1.5",
    );
}

#[test]
fn bad_truth_time() {
    let s = Scenario::new("bad_truth_time");
    let (text, column) = Csv::with(&s.truth, 7, "time", "t=10");
    s.bad_truth(
        text,
        7,
        column,
        "expected a number for `time`, found `t=10`",
    );
}

#[test]
fn bom_and_crlf_give_the_same_outputs() {
    let s = Scenario::new("bom_and_crlf_give_the_same_outputs");
    let plain = s.dir.join("plain");
    assert_success(&correlate(&s.reports, &s.sensors, &s.truth, &plain));
    let text = std::fs::read_to_string(&s.reports).unwrap();
    let windows = s.write(
        "windows.csv",
        format!("\u{feff}{}", text.replace('\n', "\r\n")),
    );
    let out = s.dir.join("windows");
    assert_success(&correlate(&windows, &s.sensors, &s.truth, &out));
    for name in ["associations.csv", "system_tracks.csv"] {
        let (a, b) = (
            std::fs::read(plain.join(name)).unwrap(),
            std::fs::read(out.join(name)).unwrap(),
        );
        assert!(a == b, "{name} differs between LF and BOM + CRLF reports");
    }
}

#[test]
fn successful_run_writes_outputs() {
    let s = Scenario::new("successful_run_writes_outputs");
    let out = s.dir.join("run");
    let output = correlate(&s.reports, &s.sensors, &s.truth, &out);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("627 reports"), "{stderr}");
    for name in ["associations.csv", "system_tracks.csv", "summary.json"] {
        assert!(out.join(name).is_file(), "no {name}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["counts"]["reports"], 627, "{summary}");
    assert!(
        summary["metrics"].is_object(),
        "no metrics with truth: {summary}"
    );
    let associations = std::fs::read_to_string(out.join("associations.csv")).unwrap();
    assert!(associations.starts_with("replay,time,system_track,sensor,track\n"));
    assert!(associations.lines().count() > 1);
    assert_no_partial(&s.dir);
}

#[test]
fn foreign_file_in_output_folder() {
    let s = Scenario::new("foreign_file_in_output_folder");
    let out = s.out();
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let stderr = assert_clean_failure(&correlate(&s.reports, &s.sensors, &s.truth, &out));
    eprintln!("{stderr}");
    assert!(
        stderr.contains(&format!(
            "output folder {} exists and holds notes.txt",
            out.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("choose another --out"), "{stderr}");
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_no_partial(&s.dir);
}

#[test]
fn reproducible() {
    let s = Scenario::new("reproducible");
    let again = s.dir.join("again");
    generate(&again);
    for name in ["reports.csv", "detections.csv", "truth.csv", "sensors.csv"] {
        let (a, b) = (
            std::fs::read(s.dir.join("scenario").join(name)).unwrap(),
            std::fs::read(again.join(name)).unwrap(),
        );
        assert!(
            a == b,
            "{name} differs between two runs of generate --seed 3"
        );
    }
    let (first, second) = (s.dir.join("first"), s.dir.join("second"));
    assert_success(&correlate(&s.reports, &s.sensors, &s.truth, &first));
    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    let before: Vec<_> = ["associations.csv", "system_tracks.csv"]
        .map(|n| read(&first, n))
        .into();
    assert_success(&correlate(&s.reports, &s.sensors, &s.truth, &second));
    // Again into the first folder, which holds only trackcorr outputs: replaced.
    assert_success(&correlate(&s.reports, &s.sensors, &s.truth, &first));
    for (k, name) in ["associations.csv", "system_tracks.csv"].iter().enumerate() {
        assert!(
            before[k] == read(&second, name),
            "{name} differs between two runs"
        );
        assert!(
            before[k] == read(&first, name),
            "{name} differs after a rerun into the same folder"
        );
    }
    assert_no_partial(&s.dir);
}

fn bench(problems: &Path, solver: &str) -> Output {
    trackcorr(&[
        "bench".as_ref(),
        "assign".as_ref(),
        "--problems".as_ref(),
        problems.as_os_str(),
        "--solver".as_ref(),
        solver.as_ref(),
    ])
}

#[test]
fn bench_assign() {
    let dir =
        std::env::temp_dir().join(format!("trackcorr-cli-bench_assign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let problems = dir.join("problems.txt");
    std::fs::write(
        &problems,
        "problem square rows 2 cols 2 miss none optimum 3 assigned 2\n\
         1 2\n\
         3 2\n\
         \n\
         problem gated rows 3 cols 2 miss 10 optimum 14.5 assigned 2\n\
         1 inf\n\
         inf inf\n\
         2 3.5\n",
    )
    .unwrap();
    for solver in ["exact", "auction"] {
        let output = bench(&problems, solver);
        assert_success(&output);
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split(' ').collect()).collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        for (fields, (name, total, assigned)) in lines
            .iter()
            .zip([("square", 3.0, "2"), ("gated", 14.5, "2")])
        {
            assert_eq!(fields.len(), 4, "{stdout}");
            assert_eq!(fields[0], name);
            assert!(
                (fields[1].parse::<f64>().unwrap() - total).abs() < 1e-9,
                "{solver}: {stdout}"
            );
            assert_eq!(fields[2], assigned);
            assert!(fields[3].parse::<f64>().unwrap() >= 0.0);
        }
    }
    let malformed = [
        (
            "problem square rows 2 cols 2 miss none optimum 3 assigned 2\n1 2\n3 x\n",
            3,
            3,
            "expected cost 2 of 2 (a number or `inf`), found `x`",
        ),
        (
            "problem square rows two cols 2 miss none optimum 3 assigned 2\n",
            1,
            21,
            "expected a row count (an integer ≥ 0), found `two`",
        ),
        (
            "problem square rows 2 cols 2 miss none optimum 3 assigned 2\n1 2\n",
            3,
            1,
            "unexpected end of file: problem square needs 2 cost lines, found 1",
        ),
    ];
    // The GPU runs only the auction; this is refused before any adapter is looked for.
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "bench".as_ref(),
        "assign".as_ref(),
        "--problems".as_ref(),
        problems.as_os_str(),
        "--backend".as_ref(),
        "gpu".as_ref(),
    ];
    let stderr = assert_clean_failure(&trackcorr(&args));
    assert!(stderr.contains("use --solver auction"), "{stderr}");
    args.extend::<[&std::ffi::OsStr; 2]>(["--solver".as_ref(), "exact".as_ref()]);
    let stderr = assert_clean_failure(&trackcorr(&args));
    assert!(stderr.contains("use --solver auction"), "{stderr}");
    let bad = dir.join("bad.txt");
    for (text, line, column, phrase) in malformed {
        std::fs::write(&bad, text).unwrap();
        let stderr = assert_clean_failure(&bench(&bad, "exact"));
        eprintln!("{stderr}");
        let location = format!("{}:{line}:{column}: ", bad.display());
        assert!(
            stderr.contains(&location),
            "expected `{location}` in: {stderr}"
        );
        assert!(stderr.contains(phrase), "expected `{phrase}` in: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn history(s: &Scenario, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "history".as_ref(),
        "--reports".as_ref(),
        s.reports.as_os_str(),
        "--sensors".as_ref(),
        s.sensors.as_os_str(),
        "--backend".as_ref(),
        "cpu".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    trackcorr(&args)
}

#[test]
fn history_writes_associations_and_summary() {
    let s = Scenario::new("history_writes");
    let out = s.dir.join("history");
    let output = history(&s, &out, &["--epoch-interval", "2", "--one-to-one"]);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("purity"), "{stderr}");
    let csv = std::fs::read_to_string(out.join("history_associations.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("replay,sensor_a,track_a,sensor_b,track_b,start,end")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 5, "{csv}");
    for r in &rows {
        assert_ne!(r[1], r[3], "a sensor associated with itself: {r:?}");
        let (start, end): (f64, f64) = (r[5].parse().unwrap(), r[6].parse().unwrap());
        assert!(start <= end && start % 2.0 == 0.0, "{r:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["backend"]["name"], "cpu");
    assert_eq!(summary["options"]["params"]["one_to_one"], true);
    assert_eq!(summary["time_ranges"], rows.len());
    assert!(
        summary["score"]["purity"].as_f64().unwrap() > 0.9,
        "{summary}"
    );

    // On the raw report times the sensors share almost no timestamp: say so.
    let raw = s.dir.join("history-raw");
    let output = history(&s, &raw, &[]);
    assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--epoch-interval"), "{stderr}");

    // Bad options: a clean error and no output folder.
    let bad = s.dir.join("history-bad");
    let stderr = assert_clean_failure(&history(&s, &bad, &["--confirm", "0"]));
    assert!(
        stderr.contains("--confirm and --misses must be at least 1"),
        "{stderr}"
    );
    assert!(!bad.exists());
    assert_no_partial(&s.dir);
}

#[test]
fn track_then_correlate_and_the_whole_chain_in_one_go() {
    let s = Scenario::new("track_chain");
    let detections = s.dir.join("scenario").join("detections.csv");
    let tracked = s.dir.join("tracked");
    let output = trackcorr(&[
        "track".as_ref(),
        "--detections".as_ref(),
        detections.as_os_str(),
        "--sensors".as_ref(),
        s.sensors.as_os_str(),
        "--out".as_ref(),
        tracked.as_os_str(),
    ]);
    assert_success(&output);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tracked.join("summary.json")).unwrap())
            .unwrap();
    assert!(
        summary["counts"]["local_tracks"].as_u64().unwrap() >= 8,
        "{summary}"
    );
    // Its reports.csv is what correlate reads...
    let two_step = s.dir.join("two-step");
    assert_success(&correlate(
        &tracked.join("reports.csv"),
        &s.sensors,
        &s.truth,
        &two_step,
    ));
    // ...and correlate --detections runs both at once, with the same associations (the
    // system tracks differ in the last digits: reports.csv rounds the states).
    let one_go = s.dir.join("one-go");
    let output = trackcorr(&[
        "correlate".as_ref(),
        "--detections".as_ref(),
        detections.as_os_str(),
        "--sensors".as_ref(),
        s.sensors.as_os_str(),
        "--truth".as_ref(),
        s.truth.as_os_str(),
        "--backend".as_ref(),
        "cpu".as_ref(),
        "--out".as_ref(),
        one_go.as_os_str(),
    ]);
    assert_success(&output);
    let read = |d: &Path| std::fs::read_to_string(d.join("associations.csv")).unwrap();
    assert!(read(&two_step) == read(&one_go), "associations.csv differ");

    // A detection from a sensor the table does not know: located error, no output.
    let (text, column) = Csv::with(&detections, 5, "sensor", "X9");
    let bad = s.write("bad_detections.csv", text);
    let out = s.out();
    let stderr = assert_clean_failure(&trackcorr(&[
        "track".as_ref(),
        "--detections".as_ref(),
        bad.as_os_str(),
        "--sensors".as_ref(),
        s.sensors.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]));
    let expected = format!("{}:5:{column}: unknown sensor `X9`", bad.display());
    assert!(stderr.contains(&expected), "{stderr}\nexpected {expected}");
    assert!(!out.exists());
    assert_no_partial(&s.dir);
}

/// `-q` leaves stderr empty on success, the default prints the run's summary line, `-v` adds
/// the stage timings; none of them draws a progress bar when stderr is not a terminal.
#[test]
fn quiet_and_verbose() {
    let s = Scenario::new("verbosity");
    let out_dir = s.out();
    let run = |flag: Option<&str>| -> String {
        let mut args: Vec<&std::ffi::OsStr> = flag.iter().map(|f| f.as_ref()).collect();
        args.extend([
            "correlate".as_ref(),
            "--reports".as_ref(),
            s.reports.as_os_str(),
            "--backend".as_ref(),
            "cpu".as_ref(),
            "--out".as_ref(),
            out_dir.as_os_str(),
        ]);
        let out = trackcorr(&args);
        assert_success(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let quiet = run(Some("-q"));
    assert!(quiet.is_empty(), "-q printed {quiet:?}");
    let normal = run(None);
    assert!(normal.contains(" system tracks over ") && !normal.contains("debug"));
    assert!(
        !normal.contains('\r'),
        "a progress bar in a pipe: {normal:?}"
    );
    let verbose = run(Some("-v"));
    assert!(
        verbose.contains("trackcorr: debug: seconds: {\"read_s\""),
        "{verbose}"
    );
    assert!(verbose.contains(" system tracks over "));
}
