//! `truth_biases.csv`: each radar's systematic errors per replay,
//! `replay,sensor,range_m,azimuth_rad,elevation_rad`, sorted by replay, then sensor order.

use super::csv::Table;
use super::format_rows;
use crate::error::Result;
use crate::model::{SensorBias, SensorTable};
use std::collections::HashMap;
use std::path::Path;

const COLUMNS: [&str; 3] = ["range_m", "azimuth_rad", "elevation_rad"];

/// Writes biases in the order given. The values are written in full (the shortest text that
/// reads back as the same number), so the file holds exactly what was added.
pub fn write_biases(path: &Path, biases: &[SensorBias], sensors: &SensorTable) -> Result<()> {
    let header = format!("replay,sensor,{}\n", COLUMNS.join(","));
    let parts = format_rows(header, biases, |out, b| {
        let name = sensors
            .sensors
            .get(b.sensor as usize)
            .map_or("?", |s| s.name.as_str());
        out.push_str(&format!(
            "{},{name},{},{},{}\n",
            b.replay, b.range, b.azimuth, b.elevation
        ));
        Ok(())
    })?;
    super::write_table(path, &parts)
}

/// Reads biases, each sensor by its name in `sensors`; returns them sorted by replay, then
/// sensor order. An unknown sensor, a number that is not finite, a sensor given twice for
/// one replay, or a file without rows is an error.
pub fn read_biases(path: &Path, sensors: &SensorTable) -> Result<Vec<SensorBias>> {
    let mut table = Table::read(path)?;
    let c_replay = table.column("replay")?;
    let c_sensor = table.column("sensor")?;
    let mut cols = [0usize; 3];
    for (c, name) in cols.iter_mut().zip(COLUMNS) {
        *c = table.column(name)?;
    }
    let mut out: Vec<SensorBias> = Vec::new();
    // The line of each (replay, sensor) read so far.
    let mut seen: HashMap<(u32, u32), usize> = HashMap::new();
    while let Some(row) = table.next_row() {
        let row = row?;
        let replay = row.u32(c_replay, "replay")?;
        let name = row.name(c_sensor, "sensor")?;
        let sensor = sensors.index(name).ok_or_else(|| {
            row.error(
                c_sensor,
                format!("unknown sensor `{name}`: expected one of the sensors file's names"),
            )
        })? as u32;
        if let Some(first) = seen.insert((replay, sensor), row.line) {
            return Err(row.error(
                c_sensor,
                format!(
                    "duplicate biases of sensor `{name}` in replay {replay} (first on line {first})"
                ),
            ));
        }
        out.push(SensorBias {
            replay,
            sensor,
            range: row.f64(cols[0], COLUMNS[0])?,
            azimuth: row.f64(cols[1], COLUMNS[1])?,
            elevation: row.f64(cols[2], COLUMNS[2])?,
        });
    }
    if out.is_empty() {
        return Err(table.no_rows_error("bias"));
    }
    out.sort_by_key(|b| (b.replay, b.sensor));
    Ok(out)
}
