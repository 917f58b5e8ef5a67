//! Writing the results of `correlate`: `associations.csv`, `system_tracks.csv`,
//! `summary.json`.

use crate::correlate::{Correlation, ReplayResult};
use crate::error::Result;
use crate::io::csv::OutputDir;
use crate::io::{Format, TableWriter, push_cov, push_cov_header, push_fixed, push_state};
use crate::model::SensorTable;
use rayon::prelude::*;
use serde::Serialize;

/// Header of `associations.csv`.
const ASSOCIATIONS_HEADER: &str = "replay,time,system_track,sensor,track\n";

/// `replay,time,system_track,sensor,track`: every live local track at every epoch, with
/// the system track it is part of. Rows by replay, time, system track, sensor, track.
pub fn associations_csv(corr: &Correlation, sensors: &SensorTable) -> String {
    let mut out = String::from(ASSOCIATIONS_HEADER);
    for r in &corr.replays {
        push_replay_associations(&mut out, r, sensors);
    }
    out
}

/// The `associations.csv` rows of one replay.
fn push_replay_associations(out: &mut String, r: &ReplayResult, sensors: &SensorTable) {
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
            push_fixed(out, e.time, 3);
            out.push_str(&format!(
                ",{system},{},{track}\n",
                sensors.sensors[sensor as usize].name
            ));
        }
    }
}

fn system_tracks_header() -> String {
    let mut out = String::from("replay,time,system_track,x,y,z,vx,vy,vz");
    push_cov_header(&mut out);
    out.push_str(",sources\n");
    out
}

/// `replay,time,system_track,x,y,z,vx,vy,vz,cov_…,sources`.
pub fn system_tracks_csv(corr: &Correlation) -> String {
    let mut out = system_tracks_header();
    for r in &corr.replays {
        push_replay_system_tracks(&mut out, r);
    }
    out
}

/// The `system_tracks.csv` rows of one replay.
fn push_replay_system_tracks(out: &mut String, r: &ReplayResult) {
    for e in &r.epochs {
        for s in &e.system {
            out.push_str(&format!("{},", r.replay));
            push_fixed(out, e.time, 3);
            out.push_str(&format!(",{}", s.number));
            push_state(out, &s.state);
            push_cov(out, &s.cov);
            out.push_str(&format!(",{}\n", s.sources));
        }
    }
}

/// The tables `correlate` writes, in `format`: `associations`, `system_tracks`.
pub fn correlate_tables(format: Format) -> [String; 2] {
    [format.file("associations"), format.file("system_tracks")]
}

/// `associations` and `system_tracks` (CSV or Parquet) written as the replays are
/// correlated, a batch at a time, so that no output is held whole in memory.
pub struct OutputWriter {
    associations: TableWriter,
    system_tracks: TableWriter,
}

impl OutputWriter {
    /// Creates both files in `dir` with their headers.
    pub fn create(dir: &OutputDir, format: Format) -> Result<OutputWriter> {
        let open = |name: &str, header: &str| -> Result<TableWriter> {
            let mut w = TableWriter::create(&dir.file(name))?;
            w.write_text(header)?;
            Ok(w)
        };
        let [associations, system_tracks] = correlate_tables(format);
        Ok(OutputWriter {
            associations: open(&associations, ASSOCIATIONS_HEADER)?,
            system_tracks: open(&system_tracks, &system_tracks_header())?,
        })
    }

    /// Appends the rows of the replays of `corr` (which follow those written before),
    /// each replay's text formatted on its own thread.
    pub fn append(&mut self, corr: &Correlation, sensors: &SensorTable) -> Result<()> {
        let texts: Vec<(String, String)> = corr
            .replays
            .par_iter()
            .map(|r| {
                let (mut a, mut s) = (String::new(), String::new());
                push_replay_associations(&mut a, r, sensors);
                push_replay_system_tracks(&mut s, r);
                (a, s)
            })
            .collect();
        for (a, s) in &texts {
            self.associations.write_text(a)?;
            self.system_tracks.write_text(s)?;
        }
        Ok(())
    }

    /// Finishes both files.
    pub fn finish(self) -> Result<()> {
        self.associations.finish()?;
        self.system_tracks.finish()
    }
}

/// Counts for the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub replays: usize,
    pub reports: usize,
    pub local_tracks: usize,
    pub epochs: usize,
    pub system_tracks: usize,
    pub association_rows: usize,
    /// Pairs of local tracks traded between system tracks by the swap test.
    pub swap_trades: u64,
    /// System tracks joined to an earlier one by the hand-over stage.
    pub stitches: u64,
    /// The S-D solves (`--assignment sd`; zeros otherwise).
    pub sd: crate::associate::SdCounts,
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
            swap_trades: corr.replays.iter().map(|r| r.swap_trades).sum(),
            stitches: corr.replays.iter().map(|r| r.stitches.len() as u64).sum(),
            sd: corr.replays.iter().fold(Default::default(), |mut a, r| {
                a.add(&r.sd);
                a
            }),
        }
    }
}

impl Counts {
    /// Adds the counts of other replays.
    pub fn add(&mut self, o: &Counts) {
        self.replays += o.replays;
        self.reports += o.reports;
        self.local_tracks += o.local_tracks;
        self.epochs += o.epochs;
        self.system_tracks += o.system_tracks;
        self.association_rows += o.association_rows;
        self.swap_trades += o.swap_trades;
        self.stitches += o.stitches;
        self.sd.add(&o.sd);
    }
}

/// Writes `summary.json` into `dir`.
pub fn write_summary(dir: &OutputDir, summary: &impl Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(summary)
        .map_err(|e| crate::Error::Numeric(format!("summary is not serialisable: {e}")))?;
    dir.write("summary.json", format!("{json}\n").as_bytes())
}
