//! `sensors.csv`: `sensor,network,lat_deg,lon_deg,alt_m,sigma_range_m,sigma_az_deg,
//! sigma_el_deg,max_range_m,min_elevation_deg,revisit_s,pd,false_alarms_per_scan`.

use super::csv::{Row, Table, write_atomic};
use crate::error::Result;
use crate::model::{Radar, Sensor, SensorTable};
use std::fmt::Write;
use std::path::Path;

const MODEL_COLUMNS: [&str; 11] = [
    "lat_deg",
    "lon_deg",
    "alt_m",
    "sigma_range_m",
    "sigma_az_deg",
    "sigma_el_deg",
    "max_range_m",
    "min_elevation_deg",
    "revisit_s",
    "pd",
    "false_alarms_per_scan",
];

/// Reads a sensor table.
pub fn read_sensors(path: &Path) -> Result<SensorTable> {
    let mut table = Table::read(path)?;
    let c_sensor = table.column("sensor")?;
    let c_network = table.column("network")?;
    let mut cols = [0usize; 11];
    for (c, name) in cols.iter_mut().zip(MODEL_COLUMNS) {
        *c = table.column(name)?;
    }
    let mut sensors: Vec<Sensor> = Vec::new();
    while let Some(row) = table.next_row() {
        let row = row?;
        let name = row.name(c_sensor, "sensor")?;
        if sensors.iter().any(|s| s.name == name) {
            return Err(row.error(c_sensor, format!("sensor `{name}` is listed twice")));
        }
        let network = row.name(c_network, "network")?;
        let v = |k: usize| row.f64(cols[k], MODEL_COLUMNS[k]);
        let radar = Radar {
            lat_deg: in_range(&row, cols[0], v(0)?, -90.0, 90.0, "a latitude in [-90, 90]")?,
            lon_deg: in_range(
                &row,
                cols[1],
                v(1)?,
                -180.0,
                360.0,
                "a longitude in [-180, 360]",
            )?,
            alt_m: in_range(
                &row,
                cols[2],
                v(2)?,
                -500.0,
                1e5,
                "an altitude in [-500, 100000] m",
            )?,
            sigma_range: positive(&row, cols[3], v(3)?, "sigma_range_m")?,
            sigma_az: positive(&row, cols[4], v(4)?, "sigma_az_deg")?.to_radians(),
            sigma_el: positive(&row, cols[5], v(5)?, "sigma_el_deg")?.to_radians(),
            max_range: positive(&row, cols[6], v(6)?, "max_range_m")?,
            min_elevation: in_range(
                &row,
                cols[7],
                v(7)?,
                -10.0,
                90.0,
                "an elevation in [-10, 90]",
            )?
            .to_radians(),
            revisit: positive(&row, cols[8], v(8)?, "revisit_s")?,
            pd: in_range(&row, cols[9], v(9)?, 0.0, 1.0, "a probability in [0, 1]")?,
            false_alarms: in_range(&row, cols[10], v(10)?, 0.0, 1e6, "a non-negative rate")?,
        };
        sensors.push(Sensor {
            name: name.to_string(),
            network: network.to_string(),
            radar: Some(radar),
        });
    }
    if sensors.is_empty() {
        return Err(table.no_rows_error("sensor"));
    }
    Ok(SensorTable::new(sensors))
}

fn in_range(row: &Row, col: usize, v: f64, lo: f64, hi: f64, what: &str) -> Result<f64> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(row.error(col, format!("expected {what}, found {v}")))
    }
}

fn positive(row: &Row, col: usize, v: f64, name: &str) -> Result<f64> {
    if v > 0.0 {
        Ok(v)
    } else {
        Err(row.error(col, format!("expected a positive `{name}`, found {v}")))
    }
}

/// Writes a sensor table; every sensor must have its radar model.
pub fn write_sensors(path: &Path, table: &SensorTable) -> Result<()> {
    let mut out = String::from("sensor,network,");
    out.push_str(&MODEL_COLUMNS.join(","));
    out.push('\n');
    for s in &table.sensors {
        let Some(r) = &s.radar else {
            return Err(crate::Error::Config(format!(
                "sensor {} has no radar model to write",
                s.name
            )));
        };
        let _ = writeln!(
            out,
            "{},{},{:.6},{:.6},{:.1},{},{},{},{},{},{},{},{}",
            s.name,
            s.network,
            r.lat_deg,
            r.lon_deg,
            r.alt_m,
            r.sigma_range,
            r.sigma_az.to_degrees(),
            r.sigma_el.to_degrees(),
            r.max_range,
            r.min_elevation.to_degrees(),
            r.revisit,
            r.pd,
            r.false_alarms
        );
    }
    write_atomic(path, out.as_bytes())
}
