//! `truth.csv`: `replay,time,object,x,y,z,vx,vy,vz`.

use super::csv::{Table, write_atomic};
use super::push_fixed;
use super::reports::COMPONENTS;
use crate::error::Result;
use crate::model::TruthSample;
use std::path::Path;

/// Reads truth samples, sorted by replay, then time.
pub fn read_truth(path: &Path) -> Result<Vec<TruthSample>> {
    let table = Table::read(path)?;
    let c_replay = table.find("replay");
    let c_time = table.column("time")?;
    let c_object = table.column("object")?;
    let mut c_state = [0usize; 6];
    for (c, name) in c_state.iter_mut().zip(COMPONENTS) {
        *c = table.column(name)?;
    }
    if table.is_empty() {
        return Err(table.no_rows_error("truth"));
    }
    let mut out = Vec::new();
    let mut last: Option<(u32, f64)> = None;
    for row in table.rows() {
        let row = row?;
        let replay = match c_replay {
            Some(c) => row.u32(c, "replay")?,
            None => 0,
        };
        let time = row.f64(c_time, "time")?;
        if !(0.0..=1e12).contains(&time) {
            return Err(row.error(
                c_time,
                format!("expected a time in [0, 1e12] s, found {time}"),
            ));
        }
        if let Some(prev) = last
            && (replay, time) < prev
        {
            return Err(row.error(
                if replay < prev.0 {
                    c_replay.unwrap_or(c_time)
                } else {
                    c_time
                },
                format!(
                    "rows must be sorted by replay, then time: replay {replay} time {time} \
                     comes after replay {} time {}",
                    prev.0, prev.1
                ),
            ));
        }
        last = Some((replay, time));
        let object = row.u32(c_object, "object")?;
        if object > i32::MAX as u32 {
            return Err(row.error(c_object, "expected an object id below 2^31"));
        }
        let mut state = [0.0; 6];
        for k in 0..6 {
            state[k] = row.f64(c_state[k], COMPONENTS[k])?;
        }
        out.push(TruthSample {
            time,
            state,
            replay,
            object,
        });
    }
    Ok(out)
}

/// Writes truth samples.
pub fn write_truth(path: &Path, samples: &[TruthSample]) -> Result<()> {
    let mut out = String::with_capacity(samples.len() * 100 + 64);
    out.push_str("replay,time,object,x,y,z,vx,vy,vz\n");
    for s in samples {
        out.push_str(&format!("{},", s.replay));
        push_fixed(&mut out, s.time, 3);
        out.push_str(&format!(",{}", s.object));
        for k in 0..6 {
            out.push(',');
            push_fixed(&mut out, s.state[k], if k < 3 { 3 } else { 4 });
        }
        out.push('\n');
    }
    write_atomic(path, out.as_bytes())
}
