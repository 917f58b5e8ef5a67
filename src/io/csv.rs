//! A strict reader for the plain CSV files trackcorr exchanges (comma-separated, a header
//! line, no quoted fields), whose errors say `file:line:column` and what was expected, and
//! a writer that never leaves a half-written file behind.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The longest line the reader accepts: a full reports row is about 400 bytes, so a longer
/// line is a damaged file, not data; reading stops there instead of holding it in memory.
pub const MAX_LINE_BYTES: usize = 1 << 16;

/// A CSV file read into memory, with its header.
pub struct Table {
    path: PathBuf,
    text: String,
    header: Vec<String>,
    /// Byte offset where the data lines start.
    body: usize,
    /// Lines that could not be read as text (too long, not UTF-8), blank in `text`:
    /// `(line, column, message)`, by line.
    unreadable: Vec<(usize, usize, String)>,
}

/// One data row: its 1-based line number and its fields with their 1-based columns.
pub struct Row<'a> {
    path: &'a Path,
    pub line: usize,
    fields: Vec<(usize, &'a str)>,
    line_len: usize,
}

impl Table {
    /// Reads `path`, stopping at the first line that is not UTF-8 text or is longer than
    /// [`MAX_LINE_BYTES`]. Accepts a UTF-8 byte-order mark and CRLF line ends; rejects an
    /// empty file and a header with duplicate or empty names.
    pub fn read(path: &Path) -> Result<Table> {
        Self::read_with(path, false)
    }

    /// [`Table::read`], but with `lenient` a data line that cannot be read as text becomes
    /// an error of that row only (for `--lenient`) and reading goes on.
    pub fn read_with(path: &Path, lenient: bool) -> Result<Table> {
        use std::io::{BufRead, Read};
        let io = |e| Error::io(path, e);
        let file = std::fs::File::open(path).map_err(io)?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut text = String::new();
        let mut unreadable = Vec::new();
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            let n = reader
                .by_ref()
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(io)?;
            if n == 0 {
                break;
            }
            line += 1;
            let ended = buf.last() == Some(&b'\n');
            let problem = if !ended && buf.len() > MAX_LINE_BYTES {
                Some((
                    MAX_LINE_BYTES + 1,
                    format!("expected a line of at most {MAX_LINE_BYTES} bytes (one CSV row)"),
                ))
            } else {
                match std::str::from_utf8(&buf) {
                    Ok(s) => {
                        text.push_str(s);
                        None
                    }
                    Err(e) => {
                        let valid = &buf[..e.valid_up_to()];
                        // A byte-order mark is not a column.
                        let skip = if line == 1 && valid.starts_with("\u{feff}".as_bytes()) {
                            3
                        } else {
                            0
                        };
                        let column = 1 + String::from_utf8_lossy(&valid[skip..]).chars().count();
                        Some((column, "expected UTF-8 text".to_string()))
                    }
                }
            };
            let Some((column, message)) = problem else {
                continue;
            };
            if line == 1 {
                return Err(Error::input(path, line, column, message));
            }
            unreadable.push((line, column, message));
            if !lenient {
                // Rows before it are still read (their errors come first); none after.
                break;
            }
            // A blank line in its place keeps the line numbers.
            text.push('\n');
            // Drop the rest of an overlong line without holding it.
            let mut rest_ended = ended;
            while !rest_ended {
                buf.clear();
                let n = reader
                    .by_ref()
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut buf)
                    .map_err(io)?;
                rest_ended = n == 0 || buf.last() == Some(&b'\n');
            }
        }
        let mut table = Self::parse(path, text)?;
        table.unreadable = unreadable;
        Ok(table)
    }

    /// Parses CSV text as if read from `path`.
    pub fn parse(path: &Path, mut text: String) -> Result<Table> {
        if text.starts_with('\u{feff}') {
            text.replace_range(..3, "");
        }
        let first_end = text.find('\n').unwrap_or(text.len());
        let header_line = text[..first_end].trim_end_matches('\r');
        if header_line.trim().is_empty() {
            return Err(Error::input(
                path,
                1,
                1,
                "file is empty: expected a header line of column names",
            ));
        }
        let mut header = Vec::new();
        for (column, name) in split_fields(header_line) {
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
        let body = (first_end + 1).min(text.len());
        Ok(Table {
            path: path.to_path_buf(),
            text,
            header,
            body,
            unreadable: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// The data rows, skipping blank lines. A row with fewer or more fields than the
    /// header, or a line that could not be read as text, is an error.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row<'_>>> {
        let width = self.header.len();
        let path = self.path.as_path();
        // Every unreadable line has a blank line of its own in `text` (the one a strict read
        // stops at is the empty piece after the last line end).
        let mut unreadable = self.unreadable.iter().peekable();
        self.text[self.body..]
            .split('\n')
            .enumerate()
            .filter_map(move |(i, raw)| {
                let line = i + 2;
                if let Some((bad, column, message)) = unreadable.next_if(|(bad, _, _)| *bad <= line)
                {
                    return Some(Err(Error::input(path, *bad, *column, message.clone())));
                }
                let text = raw.trim_end_matches('\r');
                if text.trim().is_empty() {
                    return None;
                }
                let fields: Vec<(usize, &str)> = split_fields(text).collect();
                if fields.len() != width {
                    let column = if fields.len() > width {
                        fields[width].0
                    } else {
                        text.chars().count() + 1
                    };
                    return Some(Err(Error::input(
                        path,
                        line,
                        column,
                        format!(
                            "expected {width} fields as in the header, found {}",
                            fields.len()
                        ),
                    )));
                }
                Some(Ok(Row {
                    path,
                    line,
                    fields,
                    line_len: text.chars().count(),
                }))
            })
    }

    /// True when the file has no data rows.
    pub fn is_empty(&self) -> bool {
        self.unreadable.is_empty() && self.text[self.body..].trim().is_empty()
    }

    /// An error for a file without data rows.
    pub fn no_rows_error(&self, what: &str) -> Error {
        let line = self.text.lines().count().max(1) + 1;
        Error::input(
            &self.path,
            line,
            1,
            format!("expected at least one {what} row after the header"),
        )
    }
}

/// Splits a line at commas, yielding each field with its 1-based character column.
fn split_fields(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut column = 1;
    line.split(',').map(move |f| {
        let c = column;
        column += f.chars().count() + 1;
        (c, f)
    })
}

impl<'a> Row<'a> {
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
        if let Some((r0, t0)) = self.last
            && (replay, time) < (r0, t0)
        {
            let column = match self.c_replay {
                Some(c) if replay < r0 => c,
                _ => self.c_time,
            };
            return Err(row.error(
                column,
                format!(
                    "rows must be sorted by replay, then time: replay {replay} time {time} \
                     comes after replay {r0} time {t0}"
                ),
            ));
        }
        self.last = Some((replay, time));
        Ok((replay, time))
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder and a rename, so
/// that readers never see a half-written file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|e| Error::io(&tmp, e))?;
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
    "manifest.json",
    "plot.svg",
    "plot.png",
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
        let t = table("a,bb,c\n1,2,3\n4,x5,6\n").unwrap();
        let rows: Vec<_> = t.rows().collect::<Result<_>>().unwrap();
        assert_eq!(rows[1].f64(0, "a").unwrap(), 4.0);
        let e = rows[1].f64(1, "bb").unwrap_err().to_string();
        assert_eq!(e, "t.csv:3:3: expected a number for `bb`, found `x5`");
        let e = table("a\nNaN\n")
            .unwrap()
            .rows()
            .next()
            .unwrap()
            .unwrap()
            .f64(0, "a");
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("expected a finite number")
        );
    }

    #[test]
    fn bom_crlf_and_short_rows() {
        let t = table("\u{feff}a,b\r\n1,2\r\n3\r\n").unwrap();
        assert_eq!(t.column("a").unwrap(), 0);
        let rows: Vec<_> = t.rows().collect();
        assert!(rows[0].is_ok());
        let e = rows[1].as_ref().err().unwrap().to_string();
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
        let t = table("a,b\n").unwrap();
        assert!(t.is_empty());
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
