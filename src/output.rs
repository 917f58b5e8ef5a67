//! Writing the results of `correlate`: `associations.csv`, `system_tracks.csv`,
//! `summary.json`.

use crate::correlate::Correlation;
use crate::error::Result;
use crate::io::csv::OutputDir;
use crate::io::{push_cov, push_cov_header, push_fixed, push_state};
use crate::model::SensorTable;
use serde::Serialize;

/// `replay,time,system_track,sensor,track`: every live local track at every epoch, with
/// the system track it is part of. Rows by replay, time, system track, sensor, track.
pub fn associations_csv(corr: &Correlation, sensors: &SensorTable) -> String {
    let mut out = String::from("replay,time,system_track,sensor,track\n");
    for r in &corr.replays {
        for e in &r.epochs {
            let mut rows: Vec<(u32, u32, u32)> = e
                .live
                .iter()
                .map(|l| {
                    let lt = &r.local[l.track as usize];
                    (l.system, lt.sensor, lt.track)
                })
                .collect();
            rows.sort_unstable();
            for (system, sensor, track) in rows {
                out.push_str(&format!("{},", r.replay));
                push_fixed(&mut out, e.time, 3);
                out.push_str(&format!(
                    ",{system},{},{track}\n",
                    sensors.sensors[sensor as usize].name
                ));
            }
        }
    }
    out
}

/// `replay,time,system_track,x,y,z,vx,vy,vz,cov_…,sources`.
pub fn system_tracks_csv(corr: &Correlation) -> String {
    let mut out = String::from("replay,time,system_track,x,y,z,vx,vy,vz");
    push_cov_header(&mut out);
    out.push_str(",sources\n");
    for r in &corr.replays {
        for e in &r.epochs {
            for s in &e.system {
                out.push_str(&format!("{},", r.replay));
                push_fixed(&mut out, e.time, 3);
                out.push_str(&format!(",{}", s.number));
                push_state(&mut out, &s.state);
                push_cov(&mut out, &s.cov);
                out.push_str(&format!(",{}\n", s.sources));
            }
        }
    }
    out
}

/// Counts for the summary.
#[derive(Clone, Debug, Serialize)]
pub struct Counts {
    pub replays: usize,
    pub reports: usize,
    pub local_tracks: usize,
    pub epochs: usize,
    pub system_tracks: usize,
    pub association_rows: usize,
}

impl Counts {
    pub fn of(corr: &Correlation, reports: usize) -> Counts {
        let mut numbers = 0;
        let mut rows = 0;
        let mut epochs = 0;
        for r in &corr.replays {
            let mut seen: Vec<u32> = r
                .epochs
                .iter()
                .flat_map(|e| e.system.iter().map(|s| s.number))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            numbers += seen.len();
            rows += r.epochs.iter().map(|e| e.live.len()).sum::<usize>();
            epochs += r.epochs.len();
        }
        Counts {
            replays: corr.replays.len(),
            reports,
            local_tracks: corr.replays.iter().map(|r| r.local.len()).sum(),
            epochs,
            system_tracks: numbers,
            association_rows: rows,
        }
    }
}

/// Writes the three outputs into `dir`.
pub fn write_outputs(
    dir: &OutputDir,
    corr: &Correlation,
    sensors: &SensorTable,
    summary: &impl Serialize,
) -> Result<()> {
    dir.write(
        "associations.csv",
        associations_csv(corr, sensors).as_bytes(),
    )?;
    dir.write("system_tracks.csv", system_tracks_csv(corr).as_bytes())?;
    let json = serde_json::to_string_pretty(summary)
        .map_err(|e| crate::Error::Numeric(format!("summary is not serialisable: {e}")))?;
    dir.write("summary.json", format!("{json}\n").as_bytes())
}
