//! `reports.csv`: local-track reports, `replay,time,sensor,track,x,y,z,vx,vy,vz`, the
//! covariance as `cov_<a>_<b>` columns (upper triangle; `cov_y_x` is accepted for
//! `cov_x_y`), and an optional `truth`. Position-only files give the six `cov_x_x` …
//! `cov_z_z` columns; full ones all 21.

use super::RowPolicy;
use super::csv::{Row, Table, TextLine, TimeOrder};
use super::{format_rows, push_cov, push_cov_header, push_fixed, push_state};
use crate::error::{Error, Result};
use crate::linalg::{self, Mat6, Vec6};
use crate::model::{HAS_VELOCITY_COV, NO_TRUTH, Report, Sensor, SensorTable};
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// Names of the state components, in state order.
pub const COMPONENTS: [&str; 6] = ["x", "y", "z", "vx", "vy", "vz"];

/// Name of the covariance column of components `i <= j`.
pub fn cov_column(i: usize, j: usize) -> String {
    format!("cov_{}_{}", COMPONENTS[i], COMPONENTS[j])
}

/// Velocity standard deviation (m/s) assumed for reports that carry a position-only
/// covariance: broad, so that fusion leans on the sources that do estimate velocity.
pub const DEFAULT_VELOCITY_SIGMA: f64 = 200.0;

/// Reports read from a file, with the sensors they name.
#[derive(Clone, Debug)]
pub struct ReportSet {
    pub reports: Vec<Report>,
    pub sensors: SensorTable,
    /// True when the file gives full 6×6 covariances.
    pub full_covariance: bool,
}

/// Reads reports. With `sensors`, every sensor named must be in it; without, sensors are
/// known by name only and each forms its own network.
pub fn read_reports(path: &Path, sensors: Option<&SensorTable>) -> Result<ReportSet> {
    read_reports_with(path, sensors, &mut RowPolicy::strict())
}

/// [`read_reports`] with a policy for rows that cannot be read.
pub fn read_reports_with(
    path: &Path,
    sensors: Option<&SensorTable>,
    policy: &mut RowPolicy,
) -> Result<ReportSet> {
    let mut reader = ReportReader::open(path, sensors, policy.lenient)?;
    let reports = reader.next_replays(usize::MAX, policy)?.unwrap_or_default();
    Ok(ReportSet {
        reports,
        sensors: reader.sensors(),
        full_covariance: reader.full_covariance(),
    })
}

/// Reads a reports file a few whole replays at a time, so that memory holds those replays
/// and not the file (the rows are sorted by replay, then time). Rows are parsed in parallel
/// blocks and then checked in order against the rows before them, so that a file's first
/// error is the one reported, as a row-by-row read would.
pub struct ReportReader {
    table: Table,
    path: PathBuf,
    parser: ReportParser,
    /// Rows parsed but not yet checked and handed out.
    parsed: VecDeque<Result<ParsedRow>>,
    /// The first report of the next replay, read past the end of the last batch.
    pending: Option<Report>,
    /// Whether any row was good: a file without one is an error.
    any: bool,
}

/// Lines parsed per parallel block.
const PARSE_BLOCK: usize = 1 << 13;

/// The columns of a reports file and what checking its rows has learnt so far.
struct ReportParser {
    order: TimeOrder,
    c_sensor: usize,
    c_track: usize,
    c_truth: Option<usize>,
    c_state: [usize; 6],
    c_cov: [[usize; 6]; 6],
    /// Column pairs of a file that gives both `cov_x_y` and `cov_y_x`: they must agree.
    mirrored: Vec<(usize, usize)>,
    full: bool,
    /// The sensors file's table, or the sensors named so far.
    given: Option<SensorTable>,
    named: Vec<Sensor>,
    /// Each track's last report time in the current replay (a duplicate is an error).
    last_time_of_track: HashMap<(u32, u32), f64>,
    replay: Option<u32>,
}

/// A row as parsed on its own, before the checks against the rows before it: each part
/// with its own result, checked in the order a row-by-row read checks them.
struct ParsedRow {
    line: usize,
    /// Columns of the replay (if any) and time fields, of the sensor and of the track.
    at_columns: (Option<usize>, usize),
    sensor_column: usize,
    track_column: usize,
    at: Result<(u32, f64)>,
    name: Result<String>,
    track: Result<u32>,
    /// Truth, state, covariance and flags.
    rest: Result<(i32, Vec6, Mat6, u32)>,
}

impl ReportReader {
    /// Opens `path` and finds its columns. `sensors` as in [`read_reports`].
    pub fn open(path: &Path, sensors: Option<&SensorTable>, lenient: bool) -> Result<Self> {
        let table = Table::read_with(path, lenient)?;
        let order = TimeOrder::new(&table)?;
        let c_sensor = table.column("sensor")?;
        let c_track = table.column("track")?;
        let c_truth = table.find("truth");
        let mut c_state = [0usize; 6];
        for (c, name) in c_state.iter_mut().zip(COMPONENTS) {
            *c = table.column(name)?;
        }
        // Covariance columns: either orientation of each off-diagonal pair.
        let cov_col = |i: usize, j: usize| {
            table
                .find(&cov_column(i, j))
                .or_else(|| table.find(&cov_column(j, i)))
        };
        let full = (3..6).any(|i| (0..6).any(|j| cov_col(i, j).is_some()));
        let dim = if full { 6 } else { 3 };
        let mut c_cov = [[usize::MAX; 6]; 6];
        for i in 0..dim {
            for j in i..dim {
                let c = match cov_col(i, j) {
                    Some(c) => c,
                    None => table.column(&cov_column(i, j))?,
                };
                c_cov[i][j] = c;
                c_cov[j][i] = c;
            }
        }
        let mut mirrored = Vec::new();
        for i in 0..dim {
            for j in (i + 1)..dim {
                if let (Some(a), Some(b)) =
                    (table.find(&cov_column(i, j)), table.find(&cov_column(j, i)))
                {
                    mirrored.push((a, b));
                }
            }
        }
        Ok(ReportReader {
            path: table.path().to_path_buf(),
            table,
            parser: ReportParser {
                order,
                c_sensor,
                c_track,
                c_truth,
                c_state,
                c_cov,
                mirrored,
                full,
                given: sensors.cloned(),
                named: Vec::new(),
                last_time_of_track: HashMap::new(),
                replay: None,
            },
            parsed: VecDeque::new(),
            pending: None,
            any: false,
        })
    }

    /// True when the file gives full 6×6 covariances.
    pub fn full_covariance(&self) -> bool {
        self.parser.full
    }

    /// The sensors file's table, or a table of the sensors named so far (each its own
    /// network; a sensor keeps its index as more are found).
    pub fn sensors(&self) -> SensorTable {
        match &self.parser.given {
            Some(t) => t.clone(),
            None => SensorTable::new(self.parser.named.clone()),
        }
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.table.bytes_read()
    }

    /// The reports of the next whole replays, at least `min_reports` of them unless the file
    /// ends first; `None` once the file is read. Bad rows stop reading or, when `policy` is
    /// lenient, are skipped and counted; a file without a good row is an error.
    pub fn next_replays(
        &mut self,
        min_reports: usize,
        policy: &mut RowPolicy,
    ) -> Result<Option<Vec<Report>>> {
        let mut out: Vec<Report> = self.pending.take().into_iter().collect();
        loop {
            if self.parsed.is_empty() {
                self.parse_block();
                if self.parsed.is_empty() {
                    break;
                }
            }
            while let Some(row) = self.parsed.pop_front() {
                let report = match row.and_then(|row| self.parser.check(&self.path, row)) {
                    Ok(r) => r,
                    Err(e) => {
                        policy.skip(e)?;
                        continue;
                    }
                };
                self.any = true;
                if out.len() >= min_reports && out.last().is_some_and(|l| l.replay != report.replay)
                {
                    self.pending = Some(report);
                    return Ok(Some(out));
                }
                out.push(report);
            }
        }
        if !self.any {
            return Err(self.table.no_rows_error("report"));
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Reads up to [`PARSE_BLOCK`] lines and parses them on all threads.
    fn parse_block(&mut self) {
        let mut lines = Vec::with_capacity(PARSE_BLOCK);
        while lines.len() < PARSE_BLOCK {
            match self.table.next_text() {
                Some(l) => lines.push(l),
                None => break,
            }
        }
        let (path, width, parser) = (&self.path, self.table.width(), &self.parser);
        let parsed: Vec<Result<ParsedRow>> = lines
            .into_par_iter()
            .map(|l| l.and_then(|l| parser.parse(path, width, &l)))
            .collect();
        self.parsed.extend(parsed);
    }
}

impl ReportParser {
    /// What a row gives on its own.
    fn parse(&self, path: &Path, width: usize, l: &TextLine) -> Result<ParsedRow> {
        let row = Row::parse(path, width, l.line, &l.text)?;
        Ok(ParsedRow {
            line: l.line,
            at_columns: self.order.columns(&row),
            sensor_column: row.column(self.c_sensor),
            track_column: row.column(self.c_track),
            at: self.order.read(&row),
            name: row.name(self.c_sensor, "sensor").map(str::to_string),
            track: row.u32(self.c_track, "track"),
            rest: self.parse_rest(&row),
        })
    }

    /// Truth, state and covariance of a row.
    fn parse_rest(&self, row: &Row) -> Result<(i32, Vec6, Mat6, u32)> {
        let truth = match self.c_truth {
            Some(c) if !row.str(c).is_empty() && row.str(c) != "-1" => {
                let v = row.u32(c, "truth")?;
                i32::try_from(v).map_err(|_| row.error(c, "expected a truth id below 2^31"))?
            }
            _ => NO_TRUTH,
        };
        let mut state = [0.0; 6];
        for k in 0..6 {
            state[k] = row.f64(self.c_state[k], COMPONENTS[k])?;
        }
        let dim = if self.full { 6 } else { 3 };
        let mut cov: Mat6 = [[0.0; 6]; 6];
        for i in 0..dim {
            for j in i..dim {
                let v = row.f64(self.c_cov[i][j], &cov_column(i, j))?;
                cov[i][j] = v;
                cov[j][i] = v;
            }
        }
        for &(a, b) in &self.mirrored {
            let (va, vb) = (row.f64(a, "covariance")?, row.f64(b, "covariance")?);
            if (va - vb).abs() > 1e-9 * va.abs().max(vb.abs()).max(1e-300) {
                return Err(row.error(
                    b,
                    format!("expected a symmetric covariance: {vb} differs from its mirror {va}"),
                ));
            }
        }
        if linalg::cholesky(&cov, dim).is_err() {
            return Err(covariance_error(row, &cov, &self.c_cov, dim));
        }
        let mut flags = 0;
        if self.full {
            flags |= HAS_VELOCITY_COV;
        } else {
            for k in 3..6 {
                cov[k][k] = DEFAULT_VELOCITY_SIGMA * DEFAULT_VELOCITY_SIGMA;
            }
        }
        Ok((truth, state, cov, flags))
    }

    /// A parsed row checked against the rows before it (order, sensor, duplicate), in the
    /// order of a row-by-row read.
    fn check(&mut self, path: &Path, row: ParsedRow) -> Result<Report> {
        let (replay, time) = row.at?;
        self.order
            .check(path, row.line, row.at_columns, (replay, time))?;
        if self.replay != Some(replay) {
            // Rows are sorted by replay: an earlier replay's tracks cannot come back.
            self.last_time_of_track.clear();
            self.replay = Some(replay);
        }
        let name = row.name?;
        let sensor = match &self.given {
            Some(t) => t.index(&name).ok_or_else(|| {
                Error::input(
                    path,
                    row.line,
                    row.sensor_column,
                    format!("unknown sensor `{name}`: expected one of the sensors file's names"),
                )
            })?,
            None => match self.named.iter().position(|s| s.name == name) {
                Some(k) => k,
                None => {
                    self.named.push(Sensor {
                        name: name.clone(),
                        network: name.clone(),
                        radar: None,
                    });
                    self.named.len() - 1
                }
            },
        } as u32;
        let track = row.track?;
        if let Some(t0) = self.last_time_of_track.insert((sensor, track), time)
            && t0 == time
        {
            return Err(Error::input(
                path,
                row.line,
                row.track_column,
                format!(
                    "duplicate report: sensor {name} track {track} already has one at time {time}"
                ),
            ));
        }
        let (truth, state, cov, flags) = row.rest?;
        Ok(Report {
            time,
            state,
            cov,
            replay,
            sensor,
            track,
            truth,
            flags,
            line: u32::try_from(row.line).unwrap_or(u32::MAX),
        })
    }
}

/// The error for a covariance that is not positive definite, located at the field at
/// fault: the first variance that is not positive, else the first covariance whose
/// correlation exceeds ±1, else the variance where the Cholesky factorisation fails.
fn covariance_error(row: &Row, cov: &Mat6, c_cov: &[[usize; 6]; 6], dim: usize) -> Error {
    for i in 0..dim {
        let v = cov[i][i];
        if v <= 0.0 {
            let name = cov_column(i, i);
            return row.error(
                c_cov[i][i],
                format!("expected a positive variance for `{name}`, found {v}"),
            );
        }
    }
    for i in 0..dim {
        for j in (i + 1)..dim {
            if cov[i][j].abs() > (cov[i][i] * cov[j][j]).sqrt() {
                let (name, a, b) = (cov_column(i, j), cov_column(i, i), cov_column(j, j));
                return row.error(
                    c_cov[i][j],
                    format!(
                        "expected `{name}` within ±sqrt({a}·{b}) (a correlation within ±1), \
                         found {}",
                        cov[i][j]
                    ),
                );
            }
        }
    }
    let k = (1..=dim)
        .find(|&k| linalg::cholesky(cov, k).is_err())
        .unwrap_or(1);
    row.error(
        c_cov[k - 1][k - 1],
        format!(
            "expected a positive definite {dim}×{dim} covariance (variances > 0, \
             correlations within ±1); it is singular or indefinite at `{}`",
            cov_column(k - 1, k - 1)
        ),
    )
}

/// Writes reports with full covariances, in the order given (which must be sorted by
/// replay, then time).
pub fn write_reports(path: &Path, reports: &[Report], sensors: &SensorTable) -> Result<()> {
    let mut header = String::from("replay,time,sensor,track,truth,x,y,z,vx,vy,vz");
    push_cov_header(&mut header);
    header.push('\n');
    let parts = format_rows(header, reports, |out, r| {
        let name = &sensors
            .sensors
            .get(r.sensor as usize)
            .ok_or_else(|| Error::Config(format!("report names sensor index {}", r.sensor)))?
            .name;
        out.push_str(&format!("{},", r.replay));
        push_fixed(out, r.time, 3);
        out.push_str(&format!(",{name},{},", r.track));
        if r.truth != NO_TRUTH {
            out.push_str(&r.truth.to_string());
        }
        push_state(out, &r.state);
        push_cov(out, &r.cov);
        out.push('\n');
        Ok(())
    })?;
    super::write_table(path, &parts)
}
