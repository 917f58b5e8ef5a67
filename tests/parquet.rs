//! Apache Parquet: files other tools write read as their CSV does, bad ones refused with a
//! located message, and every `--format parquet` output holds the values of the CSV output
//! (and merges, and repeats, byte for byte).

#[path = "common/cli.rs"]
mod cli;

use cli::{Scratch, ok, run, summary};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use trackcorr::io::{self, table::open_text};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/parquet")
        .join(name)
}

#[test]
fn parquet_written_by_pyarrow_reads_as_its_csv() {
    let csv = io::read_reports(&data("reports.csv"), None).unwrap();
    assert_eq!(csv.reports.len(), 400);
    // tests/data/parquet/make_parquet_reference.py says how each was written.
    for name in [
        "pandas.parquet",
        "zstd_pages.parquet",
        "narrow.parquet",
        "gzip.parquet",
        "lz4.parquet",
    ] {
        let pq = io::read_reports(&data(name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(pq.full_covariance, "{name}");
        assert_eq!(
            pq.sensors.sensors.len(),
            csv.sensors.sensors.len(),
            "{name}"
        );
        for (a, b) in csv.sensors.sensors.iter().zip(&pq.sensors.sensors) {
            assert_eq!(a.name, b.name, "{name}");
        }
        assert_eq!(pq.reports.len(), csv.reports.len(), "{name}");
        for (k, (a, b)) in csv.reports.iter().zip(&pq.reports).enumerate() {
            assert_eq!(a, b, "{name}: report {k}");
        }
    }
}

#[test]
fn bad_parquet_files_are_refused_with_a_located_message() {
    let message = |name: &str| {
        io::read_reports(&data(name), None)
            .err()
            .unwrap_or_else(|| panic!("{name} was read"))
            .to_string()
    };
    let at = data("nan.parquet").display().to_string();
    assert_eq!(
        message("nan.parquet"),
        format!("{at}: row 5, column 9: expected a finite number for `vx`, found `NaN`")
    );
    let nested = message("nested.parquet");
    assert!(
        nested.ends_with(
            "nested.parquet: column 33: column `extra.list.element`: expected a flat column of \
             numbers or text, found a nested or list column"
        ),
        "{nested}"
    );
    let brotli = message("brotli.parquet");
    assert!(
        brotli.contains(
            "brotli.parquet: row group 0: compressed with brotli, which trackcorr \
             does not read"
        ),
        "{brotli}"
    );
    // Not Parquet at all.
    let s = Scratch::new("parquet-not");
    let fake = s.0.join("reports.parquet");
    std::fs::copy(data("reports.csv"), &fake).unwrap();
    let e = io::read_reports(&fake, None).unwrap_err().to_string();
    assert!(
        e.contains("reports.parquet: column 1: expected a Parquet file"),
        "{e}"
    );
    // Lenient: the NaN row is skipped and counted, the rest read.
    let mut policy = io::RowPolicy::new(true);
    let set = io::read_reports_with(&data("nan.parquet"), None, &mut policy).unwrap();
    assert_eq!(set.reports.len(), 399);
    assert_eq!(policy.describe().len(), 1, "{:?}", policy.describe());
}

/// Every line of a table (CSV, or Parquet rendered as CSV), fields as numbers where they
/// read as one: a Parquet output must give the CSV output's values.
fn values(path: &Path) -> Vec<Vec<Result<f64, String>>> {
    let source = open_text(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    source
        .reader
        .lines()
        .map(|l| {
            l.unwrap()
                .split(',')
                .map(|f| f.parse::<f64>().map_err(|_| f.to_string()))
                .collect()
        })
        .collect()
}

fn assert_same_table(csv: &Path, parquet: &Path) {
    assert!(parquet.exists(), "{} missing", parquet.display());
    assert!(
        !parquet.with_extension("csv").exists(),
        "CSV beside {}",
        parquet.display()
    );
    let (a, b) = (values(csv), values(parquet));
    assert!(a.len() > 1, "{} has no rows", csv.display());
    assert_eq!(a.len(), b.len(), "{} rows", parquet.display());
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "{} line {}", parquet.display(), k + 1);
    }
}

#[test]
fn parquet_outputs_hold_the_csv_values() {
    let s = Scratch::new("parquet-outputs");
    let dir = &s.0;
    // The same runs in each format, on the CPU backend: `g-F` generate, `c-F` correlate, `t-F`
    // track, `h-F` history (F = csv, parquet), and `c-parquet2` a second correlate.
    let runs = |f: &str, c_out: &str| -> Vec<Vec<String>> {
        let words = |text: String| text.split(' ').map(String::from).collect::<Vec<_>>();
        let cpu = "--backend cpu";
        vec![
            words(format!(
                "correlate --reports g-{f}/reports.{f} --sensors g-{f}/sensors.csv \
                 --truth g-{f}/truth.{f} --format {f} --out {c_out} {cpu}"
            )),
            words(format!(
                "track --detections g-{f}/detections.{f} --sensors g-{f}/sensors.csv \
                 --format {f} --out t-{f} {cpu}"
            )),
            words(format!(
                "history --reports g-{f}/reports.{f} --epoch-interval 2 --format {f} \
                 --out h-{f} {cpu}"
            )),
        ]
    };
    for f in ["csv", "parquet"] {
        let out = format!("g-{f}");
        ok(
            dir,
            &["generate", "--seed", "2", "--format", f, "--out", &out],
            &[],
        );
        for args in runs(f, &format!("c-{f}")) {
            ok(
                dir,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            );
        }
    }
    let again = &runs("parquet", "c-parquet2")[0];
    ok(
        dir,
        &again.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );

    for t in [
        "g-F/detections",
        "g-F/reports",
        "g-F/truth",
        "c-F/associations",
        "c-F/system_tracks",
        "t-F/reports",
        "h-F/history_associations",
    ] {
        let csv = dir.join(format!("{}.csv", t.replace('F', "csv")));
        let parquet = dir.join(format!("{}.parquet", t.replace('F', "parquet")));
        assert_same_table(&csv, &parquet);
    }
    assert_eq!(
        cli::read(dir, "g-csv/sensors.csv"),
        cli::read(dir, "g-parquet/sensors.csv")
    );
    for t in ["associations", "system_tracks"] {
        assert_eq!(
            cli::read(dir, &format!("c-parquet/{t}.parquet")),
            cli::read(dir, &format!("c-parquet2/{t}.parquet")),
            "{t}.parquet differs between two runs"
        );
    }
    let (sc, sp) = (summary(&dir.join("c-csv")), summary(&dir.join("c-parquet")));
    assert_eq!(sc["metrics"], sp["metrics"]);
    assert_eq!(sc["counts"], sp["counts"]);
}

#[test]
fn parquet_shards_merge_into_the_single_run() {
    let s = Scratch::new("parquet-shards");
    let dir = &s.0;
    let gen_args = |extra: &[&'static str], out: &'static str| {
        let mut a = vec![
            "generate",
            "--seed",
            "4",
            "--replays",
            "3",
            "--duration",
            "150",
            "--format",
            "parquet",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        a
    };
    ok(dir, &gen_args(&[], "whole"), &[]);
    ok(dir, &gen_args(&["--shard", "0/2"], "s0"), &[]);
    ok(dir, &gen_args(&["--shard", "1/2"], "s1"), &[]);
    ok(dir, &["merge", "s1", "s0", "--out", "merged"], &[]);
    for f in [
        "sensors.csv",
        "detections.parquet",
        "reports.parquet",
        "truth.parquet",
    ] {
        assert_eq!(
            cli::read(dir, &format!("whole/{f}")),
            cli::read(dir, &format!("merged/{f}")),
            "{f}"
        );
    }
    // A damaged shard output is a clear error, and no merged folder appears.
    std::fs::write(dir.join("s0/reports.parquet"), b"PAR1 not really").unwrap();
    let out = run(dir, &["merge", "s0", "s1", "--out", "merged2"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reports.parquet: column 1: expected a Parquet file"),
        "{err}"
    );
    assert!(!dir.join("merged2").exists());
}
