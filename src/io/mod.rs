//! Reading and writing trackcorr's CSV files (see the README for their columns).

pub mod csv;
mod detections;
mod reports;
mod sensors;
mod truth;

pub use detections::{read_detections, write_detections};
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

/// Appends `,x,y,z,vx,vy,vz` of a state: millimetres and tenths of mm/s.
pub fn push_state(out: &mut String, state: &[f64; 6]) {
    for (k, v) in state.iter().enumerate() {
        out.push(',');
        push_fixed(out, *v, if k < 3 { 3 } else { 4 });
    }
}

/// Appends the 21 upper-triangle covariance entries, each after a comma.
pub fn push_cov(out: &mut String, cov: &[[f64; 6]; 6]) {
    for i in 0..6 {
        for j in i..6 {
            out.push(',');
            push_sci(out, cov[i][j]);
        }
    }
}

/// Appends the names of the 21 covariance columns, each after a comma.
pub fn push_cov_header(out: &mut String) {
    for i in 0..6 {
        for j in i..6 {
            out.push(',');
            out.push_str(&cov_column(i, j));
        }
    }
}
