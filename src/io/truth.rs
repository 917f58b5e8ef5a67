//! `truth.csv`: `replay,time,object,x,y,z,vx,vy,vz`.

use super::RowPolicy;
use super::csv::{Table, TimeOrder};
use super::reports::COMPONENTS;
use super::{format_rows, push_fixed, push_state};
use crate::error::Result;
use crate::model::TruthSample;
use std::path::Path;

/// Reads truth samples, sorted by replay, then time.
pub fn read_truth(path: &Path) -> Result<Vec<TruthSample>> {
    read_truth_with(path, &mut RowPolicy::strict())
}

/// [`read_truth`] with a policy for rows that cannot be read.
pub fn read_truth_with(path: &Path, policy: &mut RowPolicy) -> Result<Vec<TruthSample>> {
    TruthReader::open(path, policy.lenient)?.through(u32::MAX, policy)
}

/// Reads a truth file a replay at a time, alongside the reports' [`super::ReportReader`].
pub struct TruthReader {
    table: Table,
    order: TimeOrder,
    c_object: usize,
    c_state: [usize; 6],
    /// The first sample past the last replay asked for.
    pending: Option<TruthSample>,
    any: bool,
}

impl TruthReader {
    /// Opens `path` and finds its columns.
    pub fn open(path: &Path, lenient: bool) -> Result<Self> {
        let table = Table::read_with(path, lenient)?;
        let order = TimeOrder::new(&table)?;
        let c_object = table.column("object")?;
        let mut c_state = [0usize; 6];
        for (c, name) in c_state.iter_mut().zip(COMPONENTS) {
            *c = table.column(name)?;
        }
        Ok(TruthReader {
            table,
            order,
            c_object,
            c_state,
            pending: None,
            any: false,
        })
    }

    /// The samples of every replay up to `last` not yet returned. Reading to the end of a
    /// file without a good row is an error.
    pub fn through(&mut self, last: u32, policy: &mut RowPolicy) -> Result<Vec<TruthSample>> {
        let mut out = Vec::new();
        if let Some(s) = self.pending.take() {
            if s.replay > last {
                self.pending = Some(s);
                return Ok(out);
            }
            out.push(s);
        }
        while let Some(row) = self.table.next_row() {
            let sample = match row.and_then(|row| {
                let (replay, time) = self.order.next(&row)?;
                let object = row.u32(self.c_object, "object")?;
                if object > i32::MAX as u32 {
                    return Err(row.error(self.c_object, "expected an object id below 2^31"));
                }
                let mut state = [0.0; 6];
                for k in 0..6 {
                    state[k] = row.f64(self.c_state[k], COMPONENTS[k])?;
                }
                Ok(TruthSample {
                    time,
                    state,
                    replay,
                    object,
                })
            }) {
                Ok(s) => s,
                Err(e) => {
                    policy.skip(e)?;
                    continue;
                }
            };
            self.any = true;
            if sample.replay > last {
                self.pending = Some(sample);
                return Ok(out);
            }
            out.push(sample);
        }
        if !self.any {
            return Err(self.table.no_rows_error("truth"));
        }
        Ok(out)
    }
}

/// Writes truth samples.
pub fn write_truth(path: &Path, samples: &[TruthSample]) -> Result<()> {
    let header = "replay,time,object,x,y,z,vx,vy,vz\n".to_string();
    let parts = format_rows(header, samples, |out, s| {
        out.push_str(&format!("{},", s.replay));
        push_fixed(out, s.time, 3);
        out.push_str(&format!(",{}", s.object));
        push_state(out, &s.state);
        out.push('\n');
        Ok(())
    })?;
    super::write_table(path, &parts)
}
