//! Reading and writing trackcorr's CSV files (see the README for their columns).

mod biases;
pub mod csv;
mod detections;
pub mod parquet;
mod reports;
mod sensors;
pub mod table;
mod truth;

pub use biases::{read_biases, write_biases};
pub use detections::{read_detections, read_detections_with, write_detections};
pub use reports::{
    COMPONENTS, ReportReader, ReportSet, cov_column, read_reports, read_reports_with, write_reports,
};
pub use sensors::{read_sensors, write_sensors};
pub use table::{Format, TableWriter, write_table};
pub use truth::{TruthReader, read_truth, read_truth_with, write_truth};

use crate::error::{Error, Result};
use csv::{Row, Table};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What the readers do with a data row they cannot read: stop with its error (strict, the
/// default) or, with `--lenient`, skip it and count it by reason. Only rows are skipped:
/// a file that cannot be read, lacks a column, or has no good row is an error either way,
/// and so is any problem in the sensors file.
#[derive(Clone, Debug, Default)]
pub struct RowPolicy {
    pub lenient: bool,
    /// Rows skipped: file → reason → count.
    pub skipped: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl RowPolicy {
    pub fn strict() -> RowPolicy {
        RowPolicy::new(false)
    }

    pub fn new(lenient: bool) -> RowPolicy {
        RowPolicy {
            lenient,
            ..RowPolicy::default()
        }
    }

    /// Reads every data row of `table` with `parse`, stopping at the first bad one or, when
    /// lenient, skipping it; a file without a good row is an error that names `what` a row
    /// holds.
    pub fn read_rows<T>(
        &mut self,
        table: &mut Table,
        what: &str,
        mut parse: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(row) = table.next_row() {
            match row.and_then(|row| parse(&row)) {
                Ok(v) => out.push(v),
                Err(e) => self.skip(e)?,
            }
        }
        if out.is_empty() {
            return Err(table.no_rows_error(what));
        }
        Ok(out)
    }

    /// Passes a row's error on, or, when lenient, counts it and lets reading go on.
    pub fn skip(&mut self, e: Error) -> Result<()> {
        match e {
            Error::Input { file, message, .. } if self.lenient => {
                *self
                    .skipped
                    .entry(file.display().to_string())
                    .or_default()
                    .entry(reason(&message))
                    .or_default() += 1;
                Ok(())
            }
            e => Err(e),
        }
    }

    /// See [`describe_skipped`].
    pub fn describe(&self) -> Vec<String> {
        describe_skipped(&self.skipped)
    }
}

/// One line per file for stderr, e.g. `skipped 3 rows of r.csv: 2 not a number, 1 unknown
/// sensor`; none when nothing was skipped.
pub fn describe_skipped(skipped: &BTreeMap<String, BTreeMap<&'static str, u64>>) -> Vec<String> {
    skipped
        .iter()
        .map(|(file, reasons)| {
            let n: u64 = reasons.values().sum();
            let parts: Vec<String> = reasons.iter().map(|(r, k)| format!("{k} {r}")).collect();
            format!("skipped {n} rows of {file}: {}", parts.join(", "))
        })
        .collect()
}

/// The reason a row was skipped, from its error message (the readers' wording: see the
/// `expected …` messages in this module's readers).
fn reason(message: &str) -> &'static str {
    const REASONS: &[(&str, &str)] = &[
        ("expected a line of at most", "line too long"),
        ("expected UTF-8", "not UTF-8"),
        ("fields as in the header", "wrong number of fields"),
        ("expected a finite number", "NaN or Inf"),
        ("expected a number", "not a number"),
        (
            "expected a non-negative integer",
            "not a non-negative integer",
        ),
        ("expected a time in", "time out of range"),
        ("rows must be sorted", "out of order"),
        ("duplicate", "duplicate"),
        ("unknown sensor", "unknown sensor"),
        ("symmetric", "covariance not symmetric"),
        ("variance", "covariance not positive definite"),
        ("correlation", "covariance not positive definite"),
        ("positive definite", "covariance not positive definite"),
    ];
    REASONS
        .iter()
        .find(|(phrase, _)| message.contains(phrase))
        .map_or("other", |(_, r)| r)
}

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

/// Rows per block when formatting in parallel.
const FORMAT_BLOCK: usize = 1 << 14;

/// The CSV text of `rows` after `header`, in blocks formatted by `row` on all threads and
/// kept in order: the same bytes as one loop over the rows, for [`write_table`].
pub fn format_rows<T: Sync>(
    header: String,
    rows: &[T],
    row: impl Fn(&mut String, &T) -> Result<()> + Sync,
) -> Result<Vec<String>> {
    let blocks: Vec<String> = rows
        .par_chunks(FORMAT_BLOCK)
        .map(|block| {
            let mut out = String::with_capacity(block.len() * 128);
            for r in block {
                row(&mut out, r)?;
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(std::iter::once(header).chain(blocks).collect())
}
