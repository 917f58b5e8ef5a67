//! `detections.csv`: raw detections, `replay,time,sensor,range,azimuth,elevation,truth`
//! (m and rad, relative to the sensor; `truth` empty for a false alarm).

use super::csv::write_atomic;
use super::push_fixed;
use crate::error::Result;
use crate::model::{Detection, NO_TRUTH, SensorTable};
use std::path::Path;

/// Writes detections in the order given (sorted by replay, then time).
pub fn write_detections(
    path: &Path,
    detections: &[Detection],
    sensors: &SensorTable,
) -> Result<()> {
    let mut out = String::with_capacity(detections.len() * 70 + 64);
    out.push_str("replay,time,sensor,range,azimuth,elevation,truth\n");
    for d in detections {
        let name = sensors
            .sensors
            .get(d.sensor as usize)
            .map_or("?", |s| s.name.as_str());
        out.push_str(&format!("{},", d.replay));
        push_fixed(&mut out, d.time, 3);
        out.push_str(&format!(",{name},"));
        push_fixed(&mut out, d.measurement[0], 2);
        out.push(',');
        push_fixed(&mut out, d.measurement[1], 7);
        out.push(',');
        push_fixed(&mut out, d.measurement[2], 7);
        out.push(',');
        if d.truth != NO_TRUTH {
            out.push_str(&d.truth.to_string());
        }
        out.push('\n');
    }
    write_atomic(path, out.as_bytes())
}
