//! A strict reader for the plain CSV files trackcorr exchanges (comma-separated, a header
//! line, no quoted fields), whose errors say `file:line:column` and what was expected, and
//! a writer that never leaves a half-written file behind. A Parquet file is read through the
//! same reader as the CSV text it stands for (see [`super::parquet`]).

use super::parquet::is_parquet;
use super::table::open_text;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The longest line the reader accepts: a full reports row is about 400 bytes, so a longer
/// line is a damaged file, not data; reading stops there instead of holding it in memory.
pub const MAX_LINE_BYTES: usize = 1 << 16;

/// A CSV file read a line at a time, with its header: memory holds one line, not the file.
pub struct Table {
    path: PathBuf,
    header: Vec<String>,
    source: Box<dyn std::io::BufRead + Send>,
    /// Skip lines that cannot be read as text (`--lenient`) instead of stopping there.
    lenient: bool,
    /// Lines consumed so far, the header included.
    line: usize,
    /// Bytes consumed so far, the header included.
    bytes: u64,
    /// For a Parquet file: its size and rows, for progress in bytes of the file.
    parquet: Option<(u64, u64)>,
    /// Columns are positions (Parquet), not characters of the line (CSV).
    by_position: bool,
    /// The current line's bytes, and as text.
    buf: Vec<u8>,
    text: String,
    /// A strict read stops after the first unreadable line.
    stopped: bool,
}

/// One data row: its 1-based line number and its fields with their 1-based columns.
pub struct Row<'a> {
    path: &'a Path,
    pub line: usize,
    fields: Vec<(usize, &'a str)>,
    line_len: usize,
}

/// What reading one line gave.
enum Line {
    End,
    Text,
    /// Not text, or too long: the column and what was expected.
    Unreadable(usize, String),
}

impl Table {
    /// Opens `path` and reads its header. Reading stops at the first line that is not
    /// UTF-8 text or is longer than [`MAX_LINE_BYTES`]. Accepts a UTF-8 byte-order mark and
    /// CRLF line ends; rejects an empty file and a header with duplicate or empty names.
    pub fn read(path: &Path) -> Result<Table> {
        Self::read_with(path, false)
    }

    /// [`Table::read`], but with `lenient` a data line that cannot be read as text becomes
    /// an error of that row only (for `--lenient`) and reading goes on.
    /// A `.parquet` file is read as its rows rendered as CSV text.
    pub fn read_with(path: &Path, lenient: bool) -> Result<Table> {
        let source = open_text(path)?;
        let mut table = Self::from_source(path, source.reader, lenient)?;
        table.parquet = source.parquet_rows.map(|rows| (source.file_bytes, rows));
        Ok(table)
    }

    /// Parses CSV text as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Table> {
        Self::from_source(
            path,
            Box::new(std::io::Cursor::new(text.into_bytes())),
            false,
        )
    }

    fn from_source(
        path: &Path,
        source: Box<dyn std::io::BufRead + Send>,
        lenient: bool,
    ) -> Result<Table> {
        let mut table = Table {
            path: path.to_path_buf(),
            header: Vec::new(),
            source,
            lenient,
            line: 0,
            bytes: 0,
            parquet: None,
            by_position: is_parquet(path),
            buf: Vec::new(),
            text: String::new(),
            stopped: false,
        };
        match table.next_line()? {
            Line::Unreadable(column, message) => {
                return Err(Error::input(path, 1, column, message));
            }
            Line::End | Line::Text => {}
        }
        let header_line = table
            .text
            .strip_prefix('\u{feff}')
            .unwrap_or(&table.text)
            .trim_end_matches(['\n', '\r']);
        if header_line.trim().is_empty() {
            return Err(Error::input(
                path,
                1,
                1,
                "file is empty: expected a header line of column names",
            ));
        }
        let mut header = Vec::new();
        for (column, name) in split_fields(header_line, table.by_position) {
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::input(path, 1, column, "expected a column name"));
            }
            if header.iter().any(|h| h == name) {
                return Err(Error::input(
                    path,
                    1,
                    column,
                    format!("column `{name}` appears twice"),
                ));
            }
            header.push(name.to_string());
        }
        table.header = header;
        Ok(table)
    }

    /// Reads the next line into `text`, at most [`MAX_LINE_BYTES`] of it.
    fn next_line(&mut self) -> Result<Line> {
        use std::io::{BufRead, Read};
        let path = self.path.clone();
        let io = |e| Error::io(&path, e);
        self.buf.clear();
        self.text.clear();
        let n = self
            .source
            .by_ref()
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(io)?;
        if n == 0 {
            return Ok(Line::End);
        }
        self.line += 1;
        self.bytes += n as u64;
        let ended = self.buf.last() == Some(&b'\n');
        if !ended && self.buf.len() > MAX_LINE_BYTES {
            // Drop the rest of the overlong line without holding it.
            let mut rest_ended = false;
            while !rest_ended {
                self.buf.clear();
                let n = self
                    .source
                    .by_ref()
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut self.buf)
                    .map_err(io)?;
                self.bytes += n as u64;
                rest_ended = n == 0 || self.buf.last() == Some(&b'\n');
            }
            return Ok(Line::Unreadable(
                MAX_LINE_BYTES + 1,
                format!("expected a line of at most {MAX_LINE_BYTES} bytes (one CSV row)"),
            ));
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => {
                self.text.push_str(s);
                Ok(Line::Text)
            }
            Err(e) => {
                let valid = &self.buf[..e.valid_up_to()];
                // A byte-order mark is not a column.
                let skip = if self.line == 1 && valid.starts_with("\u{feff}".as_bytes()) {
                    3
                } else {
                    0
                };
                let column = 1 + String::from_utf8_lossy(&valid[skip..]).chars().count();
                Ok(Line::Unreadable(column, "expected UTF-8 text".to_string()))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes read so far (for progress): of a Parquet file, its size times the share of its
    /// rows read.
    pub fn bytes_read(&self) -> u64 {
        match self.parquet {
            Some((size, rows)) if rows > 0 => {
                let read = self.line.saturating_sub(1) as u64;
                (size as f64 * read.min(rows) as f64 / rows as f64) as u64
            }
            Some(_) => 0,
            None => self.bytes,
        }
    }

    /// Index of a column that must exist.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            Error::input(
                &self.path,
                1,
                1,
                format!(
                    "missing column `{name}` (the header has: {})",
                    self.header.join(",")
                ),
            )
        })
    }

    /// Index of an optional column.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The next data row, skipping blank lines; `None` at the end of the file. A row with
    /// fewer or more fields than the header, or a line that could not be read as text, is
    /// an error (after which a strict read ends).
    pub fn next_row(&mut self) -> Option<Result<Row<'_>>> {
        match self.advance()? {
            Err(e) => Some(Err(e)),
            Ok(()) => {
                let text = self.text.trim_end_matches(['\n', '\r']);
                Some(Row::parse(&self.path, self.header.len(), self.line, text))
            }
        }
    }

    /// The next non-blank data line as owned text, to be split into a [`Row`] apart from
    /// the table (e.g. on another thread) with [`Row::parse`]; errors as [`Table::next_row`].
    pub fn next_text(&mut self) -> Option<Result<TextLine>> {
        match self.advance()? {
            Err(e) => Some(Err(e)),
            Ok(()) => Some(Ok(TextLine {
                line: self.line,
                text: self.text.trim_end_matches(['\n', '\r']).to_string(),
            })),
        }
    }

    /// The number of columns of the header.
    pub fn width(&self) -> usize {
        self.header.len()
    }

    /// Reads lines up to the next non-blank one, left in `text`.
    fn advance(&mut self) -> Option<Result<()>> {
        if self.stopped {
            return None;
        }
        loop {
            match self.next_line() {
                Err(e) => {
                    self.stopped = true;
                    return Some(Err(e));
                }
                Ok(Line::End) => return None,
                Ok(Line::Unreadable(column, message)) => {
                    // Rows before it were read (their errors came first); none after.
                    self.stopped = !self.lenient;
                    return Some(Err(Error::input(&self.path, self.line, column, message)));
                }
                Ok(Line::Text) => {
                    let text = self.text.trim_end_matches(['\n', '\r']);
                    if !text.trim().is_empty() {
                        return Some(Ok(()));
                    }
                }
            }
        }
    }

    /// An error for a file without data rows, once it has been read to the end.
    pub fn no_rows_error(&self, what: &str) -> Error {
        Error::input(
            &self.path,
            self.line.max(1) + 1,
            1,
            format!("expected at least one {what} row after the header"),
        )
    }
}

/// Splits a line at commas, yielding each field with its 1-based character column, or with
/// its 1-based position (`by_position`, for Parquet's columns).
fn split_fields(line: &str, by_position: bool) -> impl Iterator<Item = (usize, &str)> {
    let mut column = 1;
    line.split(',').map(move |f| {
        let c = column;
        column += if by_position {
            1
        } else {
            f.chars().count() + 1
        };
        (c, f)
    })
}

/// A data line read by [`Table::next_text`]: its 1-based number and its text.
pub struct TextLine {
    pub line: usize,
    pub text: String,
}

impl<'a> Row<'a> {
    /// Splits line `line` of `path`, whose header has `width` columns, into its fields: an
    /// error if it has fewer or more.
    pub fn parse(path: &'a Path, width: usize, line: usize, text: &'a str) -> Result<Row<'a>> {
        let fields: Vec<(usize, &str)> = split_fields(text, is_parquet(path)).collect();
        if fields.len() != width {
            let column = if fields.len() > width {
                fields[width].0
            } else {
                text.chars().count() + 1
            };
            return Err(Error::input(
                path,
                line,
                column,
                format!(
                    "expected {width} fields as in the header, found {}",
                    fields.len()
                ),
            ));
        }
        Ok(Row {
            path,
            line,
            fields,
            line_len: text.chars().count(),
        })
    }

    /// The raw text of field `i`, trimmed.
    pub fn str(&self, i: usize) -> &'a str {
        self.fields[i].1.trim()
    }

    /// The column of field `i`.
    pub fn column(&self, i: usize) -> usize {
        self.fields[i].0
    }

    /// An error located at field `i`.
    pub fn error(&self, i: usize, message: impl Into<String>) -> Error {
        Error::input(self.path, self.line, self.column(i), message)
    }

    /// An error located at the end of the line.
    pub fn line_error(&self, message: impl Into<String>) -> Error {
        Error::input(self.path, self.line, self.line_len.max(1), message)
    }

    /// Field `i` as a finite number.
    pub fn f64(&self, i: usize, name: &str) -> Result<f64> {
        let s = self.str(i);
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(self.error(
                i,
                format!("expected a finite number for `{name}`, found `{s}`"),
            )),
            Err(_) => Err(self.error(i, format!("expected a number for `{name}`, found `{s}`"))),
        }
    }

    /// Field `i` as a non-negative integer that fits in 32 bits.
    pub fn u32(&self, i: usize, name: &str) -> Result<u32> {
        let s = self.str(i);
        s.parse::<u32>().map_err(|_| {
            self.error(
                i,
                format!("expected a non-negative integer for `{name}`, found `{s}`"),
            )
        })
    }

    /// Field `i` as a non-empty name.
    pub fn name(&self, i: usize, what: &str) -> Result<&'a str> {
        let s = self.str(i);
        if s.is_empty() {
            Err(self.error(i, format!("expected a {what} name")))
        } else {
            Ok(s)
        }
    }
}

/// The `replay` and `time` of each row, checked to be in order: rows must be sorted by
/// replay (optional column, default 0), then time.
pub struct TimeOrder {
    c_replay: Option<usize>,
    c_time: usize,
    last: Option<(u32, f64)>,
}

impl TimeOrder {
    /// Finds the columns (`time` is required).
    pub fn new(table: &Table) -> Result<TimeOrder> {
        Ok(TimeOrder {
            c_replay: table.find("replay"),
            c_time: table.column("time")?,
            last: None,
        })
    }

    /// Reads and checks the next row's replay and time.
    pub fn next(&mut self, row: &Row) -> Result<(u32, f64)> {
        let at = self.read(row)?;
        self.check(row.path, row.line, self.columns(row), at)?;
        Ok(at)
    }

    /// A row's replay and time, read but not checked against the rows before it.
    pub fn read(&self, row: &Row) -> Result<(u32, f64)> {
        let replay = match self.c_replay {
            Some(c) => row.u32(c, "replay")?,
            None => 0,
        };
        let time = row.f64(self.c_time, "time")?;
        if !(0.0..=1e12).contains(&time) {
            return Err(row.error(
                self.c_time,
                format!("expected a time in [0, 1e12] s, found {time}"),
            ));
        }
        Ok((replay, time))
    }

    /// The columns of a row's replay (if the file has one) and time fields, for [`Self::check`].
    pub fn columns(&self, row: &Row) -> (Option<usize>, usize) {
        (
            self.c_replay.map(|c| row.column(c)),
            row.column(self.c_time),
        )
    }

    /// Checks that `(replay, time)` of line `line` (fields at `columns`) does not come
    /// before the last row's, and makes it the last.
    pub fn check(
        &mut self,
        path: &Path,
        line: usize,
        columns: (Option<usize>, usize),
        (replay, time): (u32, f64),
    ) -> Result<()> {
        if let Some((r0, t0)) = self.last
            && (replay, time) < (r0, t0)
        {
            let column = match columns.0 {
                Some(c) if replay < r0 => c,
                _ => columns.1,
            };
            return Err(Error::input(
                path,
                line,
                column,
                format!(
                    "rows must be sorted by replay, then time: replay {replay} time {time} \
                     comes after replay {r0} time {t0}"
                ),
            ));
        }
        self.last = Some((replay, time));
        Ok(())
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder and a rename, so
/// that readers never see a half-written file. (Tables: [`super::write_table`].)
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = w.write_all(contents).and_then(|()| w.flush());
    if let Err(e) = written {
        drop(w);
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// The hidden folders of this process's unfinished outputs, for [`remove_partial_outputs`].
static PARTIAL: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn partial() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PARTIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every unfinished output folder of this process; for an interrupt (Ctrl-C) handler,
/// which then ends the process. A commit under way finishes first (it holds the same lock),
/// so an interrupted run leaves either its whole output or none.
pub fn remove_partial_outputs() {
    for dir in partial().drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// An output folder that appears under its final name only when [`OutputDir::commit`] is
/// called: until then files go to a hidden sibling folder, removed if the run fails or is
/// interrupted.
pub struct OutputDir {
    final_path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

/// Names of the files trackcorr may write in an output folder; an existing folder holding
/// anything else is not replaced.
const KNOWN_OUTPUTS: &[&str] = &[
    "associations.csv",
    "history_associations.csv",
    "system_tracks.csv",
    "summary.json",
    "sensors.csv",
    "detections.csv",
    "reports.csv",
    "truth.csv",
    "truth_biases.csv",
    "registration.csv",
    "associations.parquet",
    "history_associations.parquet",
    "system_tracks.parquet",
    "detections.parquet",
    "reports.parquet",
    "truth.parquet",
    "truth_biases.parquet",
    "manifest.json",
    "plot.svg",
    "plot.png",
    "handover.svg",
    "handover.png",
];

impl OutputDir {
    /// Prepares to write into `path`. An existing `path` may only hold trackcorr outputs,
    /// which the commit replaces.
    pub fn create(path: &Path) -> Result<OutputDir> {
        if path.exists() {
            let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(path, e))?;
                let name = entry.file_name();
                if !KNOWN_OUTPUTS.iter().any(|k| name == *k) {
                    return Err(Error::Config(format!(
                        "output folder {} exists and holds {}, which trackcorr did not write; \
                         choose another --out",
                        path.display(),
                        name.to_string_lossy()
                    )));
                }
            }
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        let mut registry = partial();
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        registry.push(tmp.clone());
        Ok(OutputDir {
            final_path: path.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Path of a file inside the (temporary) folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Writes one file into the folder.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<()> {
        let p = self.file(name);
        std::fs::write(&p, contents).map_err(|e| Error::io(&p, e))
    }

    /// Moves the folder to its final name, replacing an earlier output there.
    pub fn commit(mut self) -> Result<PathBuf> {
        let mut registry = partial();
        registry.retain(|p| p != &self.tmp);
        if self.final_path.exists() {
            let old = self.tmp.with_extension("old");
            std::fs::rename(&self.final_path, &old).map_err(|e| Error::io(&self.final_path, e))?;
            std::fs::rename(&self.tmp, &self.final_path)
                .map_err(|e| Error::io(&self.final_path, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &self.final_path)
                .map_err(|e| Error::io(&self.final_path, e))?;
        }
        self.committed = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let mut registry = partial();
            registry.retain(|p| p != &self.tmp);
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table> {
        Table::parse(Path::new("t.csv"), text.to_string())
    }

    #[test]
    fn locates_bad_number() {
        let mut t = table("a,bb,c\n1,2,3\n4,x5,6\n").unwrap();
        assert_eq!(t.next_row().unwrap().unwrap().f64(0, "a").unwrap(), 1.0);
        let row = t.next_row().unwrap().unwrap();
        assert_eq!(row.f64(0, "a").unwrap(), 4.0);
        let e = row.f64(1, "bb").unwrap_err().to_string();
        assert_eq!(e, "t.csv:3:3: expected a number for `bb`, found `x5`");
        let mut t = table("a\nNaN\n").unwrap();
        let e = t.next_row().unwrap().unwrap().f64(0, "a");
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("expected a finite number")
        );
    }

    #[test]
    fn bom_crlf_and_short_rows() {
        let mut t = table("\u{feff}a,b\r\n1,2\r\n3\r\n").unwrap();
        assert_eq!(t.column("a").unwrap(), 0);
        assert!(t.next_row().unwrap().is_ok());
        let e = t.next_row().unwrap().err().unwrap().to_string();
        assert_eq!(e, "t.csv:3:2: expected 2 fields as in the header, found 1");
    }

    #[test]
    fn empty_and_missing_column() {
        assert!(
            table("")
                .err()
                .unwrap()
                .to_string()
                .starts_with("t.csv:1:1: file is empty")
        );
        let mut t = table("a,b\n").unwrap();
        assert!(t.next_row().is_none());
        assert_eq!(
            t.no_rows_error("x").to_string(),
            "t.csv:2:1: expected at least one x row after the header"
        );
        assert!(
            t.column("c")
                .unwrap_err()
                .to_string()
                .contains("missing column `c`")
        );
    }

    #[test]
    fn output_dir_appears_only_on_commit() {
        let base = std::env::temp_dir().join(format!("trackcorr-outdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let out = base.join("run");
        {
            let d = OutputDir::create(&out).unwrap();
            d.write("summary.json", b"{}").unwrap();
            // Dropped without commit: nothing remains.
        }
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
        let d = OutputDir::create(&out).unwrap();
        d.write("summary.json", b"{}").unwrap();
        d.commit().unwrap();
        assert!(out.join("summary.json").exists());
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        assert!(OutputDir::create(&out).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
