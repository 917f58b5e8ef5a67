//! `truth.csv`: `replay,time,object,x,y,z,vx,vy,vz`.

use super::RowPolicy;
use super::csv::{Table, TimeOrder, write_atomic};
use super::reports::COMPONENTS;
use super::{push_fixed, push_state};
use crate::error::Result;
use crate::model::TruthSample;
use std::path::Path;

/// Reads truth samples, sorted by replay, then time.
pub fn read_truth(path: &Path) -> Result<Vec<TruthSample>> {
    read_truth_with(path, &mut RowPolicy::strict())
}

/// [`read_truth`] with a policy for rows that cannot be read.
pub fn read_truth_with(path: &Path, policy: &mut RowPolicy) -> Result<Vec<TruthSample>> {
    let table = Table::read_with(path, policy.lenient)?;
    let mut order = TimeOrder::new(&table)?;
    let c_object = table.column("object")?;
    let mut c_state = [0usize; 6];
    for (c, name) in c_state.iter_mut().zip(COMPONENTS) {
        *c = table.column(name)?;
    }
    policy.read_rows(&table, "truth", |row| {
        let (replay, time) = order.next(row)?;
        let object = row.u32(c_object, "object")?;
        if object > i32::MAX as u32 {
            return Err(row.error(c_object, "expected an object id below 2^31"));
        }
        let mut state = [0.0; 6];
        for k in 0..6 {
            state[k] = row.f64(c_state[k], COMPONENTS[k])?;
        }
        Ok(TruthSample {
            time,
            state,
            replay,
            object,
        })
    })
}

/// Writes truth samples.
pub fn write_truth(path: &Path, samples: &[TruthSample]) -> Result<()> {
    let mut out = String::with_capacity(samples.len() * 100 + 64);
    out.push_str("replay,time,object,x,y,z,vx,vy,vz\n");
    for s in samples {
        out.push_str(&format!("{},", s.replay));
        push_fixed(&mut out, s.time, 3);
        out.push_str(&format!(",{}", s.object));
        push_state(&mut out, &s.state);
        out.push('\n');
    }
    write_atomic(path, out.as_bytes())
}
