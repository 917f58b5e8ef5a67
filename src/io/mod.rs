//! Reading and writing trackcorr's CSV files (see the README for their columns).

pub mod csv;
mod detections;
mod reports;
mod sensors;
mod truth;

pub use detections::write_detections;
pub use reports::{COMPONENTS, ReportSet, cov_column, read_reports, write_reports};
pub use sensors::{read_sensors, write_sensors};
pub use truth::{read_truth, write_truth};

use std::fmt::Write;

/// Appends `v` with `decimals` digits after the point, writing `-0` as `0` so that outputs
/// do not depend on the sign of a rounded zero.
pub fn push_fixed(out: &mut String, v: f64, decimals: usize) {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        out.push_str(&s[1..]);
    } else {
        out.push_str(&s);
    }
}

/// Appends `v` in scientific notation with 7 significant digits.
pub fn push_sci(out: &mut String, v: f64) {
    let _ = write!(out, "{v:.6e}");
}
