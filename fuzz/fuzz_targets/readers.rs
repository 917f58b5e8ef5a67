//! Every input reader on arbitrary bytes, strict and lenient: the first byte picks the reader,
//! the rest is the file (CSV, or Parquet when it starts with Parquet's magic `PAR1`). A reader may return an error; it must not panic, hang or run out
//! of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use trackcorr::io::{self, RowPolicy};
use trackcorr::model::SensorTable;

/// One scratch folder per process, whose file is rewritten for every input.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("trackcorr-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// The salvo's sensor table, for the readers that check sensors.
fn sensors() -> &'static SensorTable {
    static SENSORS: OnceLock<SensorTable> = OnceLock::new();
    SENSORS.get_or_init(trackcorr::scenario::layout)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    // A file that starts as Parquet does is read as Parquet (by its extension, as trackcorr
    // reads every input).
    let name = if file.starts_with(b"PAR1") {
        "input.parquet"
    } else {
        "input.csv"
    };
    let path = &scratch().join(name);
    std::fs::write(path, file).expect("scratch file");
    let lenient = which & 0x80 != 0;
    let mut policy = RowPolicy::new(lenient);
    let _ = match which & 0x7f {
        0..=31 => io::read_reports_with(path, None, &mut policy).map(drop),
        32..=63 => io::read_reports_with(path, Some(sensors()), &mut policy).map(drop),
        64..=79 => io::read_sensors(path).map(drop),
        80..=103 => io::read_truth_with(path, &mut policy).map(drop),
        _ => io::read_detections_with(path, sensors(), &mut policy).map(drop),
    };
});
