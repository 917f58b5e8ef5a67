//! `detections.csv`: raw detections, `replay,time,sensor,range,azimuth,elevation,truth`
//! (m and rad, relative to the sensor; `truth` empty for a false alarm).

use super::RowPolicy;
use super::csv::{Table, TimeOrder};
use super::{format_rows, push_fixed};
use crate::error::{Error, Result};
use crate::model::{Detection, NO_TRUTH, SensorTable};
use std::path::Path;

/// Writes detections in the order given (sorted by replay, then time).
pub fn write_detections(
    path: &Path,
    detections: &[Detection],
    sensors: &SensorTable,
) -> Result<()> {
    let header = "replay,time,sensor,range,azimuth,elevation,truth\n".to_string();
    let parts = format_rows(header, detections, |out, d| {
        let name = sensors
            .sensors
            .get(d.sensor as usize)
            .map_or("?", |s| s.name.as_str());
        out.push_str(&format!("{},", d.replay));
        push_fixed(out, d.time, 3);
        out.push_str(&format!(",{name},"));
        push_fixed(out, d.measurement[0], 2);
        out.push(',');
        push_fixed(out, d.measurement[1], 7);
        out.push(',');
        push_fixed(out, d.measurement[2], 7);
        out.push(',');
        if d.truth != NO_TRUTH {
            out.push_str(&d.truth.to_string());
        }
        out.push('\n');
        Ok(())
    })?;
    super::write_table(path, &parts)
}

/// Reads `detections.csv`: `replay` (optional), `time`, `sensor`, and either
/// `range,azimuth,elevation` (m, rad; azimuth from north, clockwise) or `x,y,z` (m, east,
/// north, up from the sensor, converted to range, azimuth, elevation), optional `truth`.
/// Every sensor must be in `sensors` with its radar model (site and noise).
pub fn read_detections(path: &Path, sensors: &SensorTable) -> Result<Vec<Detection>> {
    read_detections_with(path, sensors, &mut RowPolicy::strict())
}

/// [`read_detections`] with a policy for rows that cannot be read.
pub fn read_detections_with(
    path: &Path,
    sensors: &SensorTable,
    policy: &mut RowPolicy,
) -> Result<Vec<Detection>> {
    let mut table = Table::read_with(path, policy.lenient)?;
    let mut order = TimeOrder::new(&table)?;
    let c_sensor = table.column("sensor")?;
    let c_truth = table.find("truth");
    let polar = ["range", "azimuth", "elevation"].map(|n| table.find(n));
    let cartesian = ["x", "y", "z"].map(|n| table.find(n));
    let (cols, is_polar) = match (polar, cartesian) {
        ([Some(r), Some(a), Some(e)], _) => ([r, a, e], true),
        (_, [Some(x), Some(y), Some(z)]) => ([x, y, z], false),
        _ => {
            return Err(Error::input(
                path,
                1,
                1,
                "expected columns `range,azimuth,elevation` or `x,y,z` (relative to the sensor)",
            ));
        }
    };
    policy.read_rows(&mut table, "detection", |row| {
        let (replay, time) = order.next(row)?;
        let name = row.name(c_sensor, "sensor")?;
        let sensor = sensors.index(name).ok_or_else(|| {
            row.error(
                c_sensor,
                format!("unknown sensor `{name}`: expected one of the sensors file's names"),
            )
        })?;
        if sensors.sensors[sensor].radar.is_none() {
            return Err(row.error(
                c_sensor,
                format!("sensor `{name}` has no site and noise model in the sensors file"),
            ));
        }
        let names = if is_polar {
            ["range", "azimuth", "elevation"]
        } else {
            ["x", "y", "z"]
        };
        let v = [
            row.f64(cols[0], names[0])?,
            row.f64(cols[1], names[1])?,
            row.f64(cols[2], names[2])?,
        ];
        let measurement = if is_polar {
            if v[0] <= 0.0 {
                return Err(row.error(
                    cols[0],
                    format!("expected a positive range, found {}", v[0]),
                ));
            }
            if v[2].abs() > std::f64::consts::FRAC_PI_2 {
                return Err(row.error(
                    cols[2],
                    format!("expected an elevation within ±π/2 rad, found {}", v[2]),
                ));
            }
            v
        } else {
            let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            if r == 0.0 {
                return Err(
                    row.line_error("expected a detection away from the sensor, found 0,0,0")
                );
            }
            [r, v[0].atan2(v[1]), (v[2] / r).asin()]
        };
        let truth = match c_truth {
            Some(c) if !row.str(c).is_empty() && row.str(c) != "-1" => {
                let t = row.u32(c, "truth")?;
                i32::try_from(t).map_err(|_| row.error(c, "expected a truth id below 2^31"))?
            }
            _ => NO_TRUTH,
        };
        Ok(Detection {
            time,
            measurement,
            replay,
            sensor: sensor as u32,
            truth,
            _pad: 0,
        })
    })
}
