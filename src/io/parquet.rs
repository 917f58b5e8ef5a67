//! Apache Parquet for the tables trackcorr reads and writes, chosen by the file's extension.
//!
//! A Parquet table is read as the CSV text it stands for ([`ParquetLines`]): a header line
//! of its column names, then a line per row. Every reader's checks and messages (NaN, unknown
//! sensors, order, covariances) therefore apply to it unchanged, and no second parser of
//! reports exists to drift from the first. An output is written from the CSV text trackcorr
//! formats anyway ([`ParquetSink`]): the two formats hold the same values, rounded alike, and
//! a Parquet output is byte-identical across runs as the CSV is.

use crate::error::{Error, Result};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescPtr, Type};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether `path` names a Parquet file (`.parquet`, any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// Rows decoded per column at a time: bounds the memory of a read whatever the row groups'
/// size (pyarrow writes a million rows to a group).
const BATCH_ROWS: usize = 4096;

/// Rows per row group written: 2^16 rows of `system_tracks` are 16 MB of values.
const GROUP_ROWS: usize = 1 << 16;

/// How a column's stored values become the text of a CSV field.
#[derive(Clone, Copy, Debug)]
enum Render {
    /// As stored: integers, floats (shortest text that reads back to the same value).
    Plain,
    /// Integers stored in a signed type but declared unsigned.
    Unsigned,
    /// Integers divided by this: decimals, and times in ms, µs or ns (as seconds).
    Scaled(f64),
    /// UTF-8 text.
    Text,
}

/// One column of the file being read.
struct Column {
    name: String,
    render: Render,
    /// Above 0: the column may hold nulls (empty fields), and a value is present where the
    /// definition level reaches it.
    max_def: i16,
}

/// The decoded values of one column for the current batch of rows.
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
}

/// A Parquet file read as CSV text (see the module's documentation), a batch of rows at a
/// time. Columns must be flat (no lists or structs) and of a type that is a number or text.
/// Nulls become empty fields.
pub struct ParquetLines {
    path: PathBuf,
    file: SerializedFileReader<File>,
    columns: Vec<Column>,
    /// The next row group to open, and the open one's column readers and rows not yet read.
    next_group: usize,
    readers: Vec<ColumnReader>,
    left_in_group: usize,
    /// Rows rendered so far, and in the whole file.
    rows: u64,
    total_rows: u64,
    /// Rendered text not yet consumed.
    text: Vec<u8>,
    pos: usize,
}

/// An error in the file's content, for [`std::io::Read`]: the table turns it into a message
/// about the file.
fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

thread_local! {
    /// Set while this thread decodes a file's bytes in the Parquet library, see [`guarded`].
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, which hands a file's bytes to the Parquet library, with a panic in it turned
/// into an error: the library checks what damaged files it knows of, but a file made to pass
/// those checks must still give a message, not a crash. Its panic message is not printed.
/// Under `cargo fuzz` (cfg `fuzzing`) panics pass, for the fuzzer to find.
fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    if cfg!(fuzzing) {
        return Ok(f());
    }
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    DECODING.with(|d| d.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    DECODING.with(|d| d.set(false));
    result.map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the Parquet decoder failed on this file's bytes ({why})")
    })
}

/// The Parquet library's error, said for a user: a codec left out of this build is named.
fn said(e: &parquet::errors::ParquetError) -> String {
    let text = e.to_string();
    match text.split_once("Disabled feature at compile time: ") {
        Some((_, codec)) => format!(
            "compressed with {codec}, which trackcorr does not read (it reads Snappy, \
             Zstandard, GZIP, LZ4 and uncompressed Parquet)"
        ),
        None => text,
    }
}

impl ParquetLines {
    /// Opens `path` and checks its schema; the text starts with the header line.
    pub fn open(path: &Path) -> Result<ParquetLines> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let file = guarded(|| SerializedFileReader::new(f).map_err(|e| said(&e)))
            .and_then(|r| r)
            .map_err(|e| Error::input(path, 1, 1, format!("expected a Parquet file: {e}")))?;
        let meta = file.metadata();
        let descr = meta.file_metadata().schema_descr();
        let mut columns = Vec::new();
        for (k, desc) in descr.columns().iter().enumerate() {
            columns.push(column(path, k + 1, desc)?);
        }
        if columns.is_empty() {
            return Err(Error::input(path, 1, 1, "expected at least one column"));
        }
        let total_rows = meta.file_metadata().num_rows().max(0) as u64;
        let mut text = columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        text.push(b'\n');
        Ok(ParquetLines {
            path: path.to_path_buf(),
            file,
            columns,
            next_group: 0,
            readers: Vec::new(),
            left_in_group: 0,
            rows: 0,
            total_rows,
            text,
            pos: 0,
        })
    }

    /// Rows in the file, from its footer.
    pub fn total_rows(&self) -> u64 {
        self.total_rows
    }

    /// Renders the next batch of rows into `text`; leaves it empty at the end of the file.
    fn render_batch(&mut self) -> std::io::Result<()> {
        self.text.clear();
        self.pos = 0;
        while self.left_in_group == 0 {
            if self.next_group >= self.file.metadata().num_row_groups() {
                return Ok(());
            }
            let (file, g, width) = (&self.file, self.next_group, self.columns.len());
            let (rows, readers) = guarded(|| {
                let group = file.get_row_group(g)?;
                let readers = (0..width)
                    .map(|c| group.get_column_reader(c))
                    .collect::<parquet::errors::Result<Vec<_>>>()?;
                Ok((group.metadata().num_rows().max(0) as usize, readers))
            })
            .and_then(|r| r.map_err(|e: parquet::errors::ParquetError| said(&e)))
            .map_err(|e| invalid(format!("row group {g}: {e}")))?;
            self.left_in_group = rows;
            self.readers = readers;
            self.next_group += 1;
        }
        let n = self.left_in_group.min(BATCH_ROWS);
        let mut batch = Vec::with_capacity(self.columns.len());
        for (c, reader) in self.readers.iter_mut().enumerate() {
            let col = &self.columns[c];
            let (values, defs) = guarded(|| read_batch(reader, n, col.max_def))
                .and_then(|r| r)
                .map_err(|e| {
                    invalid(format!(
                        "rows from {}, column `{}`: {e}",
                        self.rows, col.name
                    ))
                })?;
            batch.push((values, defs, 0usize));
        }
        let mut field = String::new();
        for r in 0..n {
            for (c, (values, defs, next)) in batch.iter_mut().enumerate() {
                let col = &self.columns[c];
                if c > 0 {
                    self.text.push(b',');
                }
                if col.max_def > 0 && defs[r] < col.max_def {
                    continue; // null: an empty field
                }
                field.clear();
                render(&mut field, values, *next, col.render).map_err(|m| {
                    invalid(format!(
                        "row {}, column `{}`: {m}",
                        self.rows + r as u64,
                        col.name
                    ))
                })?;
                *next += 1;
                self.text.extend_from_slice(field.as_bytes());
            }
            self.text.push(b'\n');
        }
        self.left_in_group -= n;
        self.rows += n as u64;
        Ok(())
    }
}

/// The column's name and rendering, or why trackcorr cannot read it.
fn column(path: &Path, number: usize, desc: &ColumnDescPtr) -> Result<Column> {
    let name = desc.path().string();
    let bad = |what: String| {
        Err(Error::input(
            path,
            1,
            number,
            format!("column `{name}`: {what}"),
        ))
    };
    if desc.path().parts().len() != 1 || desc.max_rep_level() > 0 {
        return bad(
            "expected a flat column of numbers or text, found a nested or list column".into(),
        );
    }
    if name.is_empty() || name.contains([',', '\n', '\r']) {
        return bad("expected a column name without commas or line breaks".into());
    }
    let logical = desc.logical_type_ref();
    let unit = |u: &TimeUnit| match u {
        TimeUnit::MILLIS => 1e3,
        TimeUnit::MICROS => 1e6,
        TimeUnit::NANOS => 1e9,
    };
    let render = match (desc.physical_type(), logical) {
        (Physical::INT32 | Physical::INT64, Some(LogicalType::Integer(t))) if !t.is_signed => {
            Render::Unsigned
        }
        (Physical::INT32 | Physical::INT64, Some(LogicalType::Decimal(d))) => {
            Render::Scaled(10f64.powi(d.scale))
        }
        (
            Physical::INT32 | Physical::INT64,
            Some(LogicalType::Timestamp(t) | LogicalType::Time(t)),
        ) => Render::Scaled(unit(&t.unit)),
        (Physical::INT32 | Physical::INT64, Some(LogicalType::Date)) => {
            return bad("expected seconds, found a date (days): write times as seconds".into());
        }
        (Physical::INT32 | Physical::INT64, _) => Render::Plain,
        (Physical::FLOAT | Physical::DOUBLE | Physical::BOOLEAN, _) => Render::Plain,
        (Physical::BYTE_ARRAY, None | Some(LogicalType::String | LogicalType::Enum)) => {
            Render::Text
        }
        (t, l) => {
            let l = l.map_or(String::new(), |l| format!(" ({l:?})"));
            return bad(format!("expected numbers or text, found type {t}{l}"));
        }
    };
    Ok(Column {
        name,
        render,
        max_def: desc.max_def_level(),
    })
}

/// Reads `n` records of one column: the non-null values, and the definition levels when the
/// column is nullable.
fn read_batch(
    reader: &mut ColumnReader,
    n: usize,
    max_def: i16,
) -> std::result::Result<(Values, Vec<i16>), String> {
    let mut defs = Vec::with_capacity(n);
    macro_rules! read {
        ($r:expr, $variant:ident) => {{
            let mut values = Vec::with_capacity(n);
            let mut got = 0;
            // A page boundary may end a call early: read until n records.
            while got < n {
                let d = if max_def > 0 { Some(&mut defs) } else { None };
                let (records, _, _) = $r
                    .read_records(n - got, d, None, &mut values)
                    .map_err(|e| said(&e))?;
                if records == 0 {
                    return Err(format!("expected {n} rows, found {got}"));
                }
                got += records;
            }
            Values::$variant(values)
        }};
    }
    let values = match reader {
        ColumnReader::BoolColumnReader(r) => read!(r, Bool),
        ColumnReader::Int32ColumnReader(r) => read!(r, I32),
        ColumnReader::Int64ColumnReader(r) => read!(r, I64),
        ColumnReader::FloatColumnReader(r) => read!(r, F32),
        ColumnReader::DoubleColumnReader(r) => read!(r, F64),
        ColumnReader::ByteArrayColumnReader(r) => read!(r, Bytes),
        // Refused when the file was opened.
        ColumnReader::Int96ColumnReader(_) | ColumnReader::FixedLenByteArrayColumnReader(_) => {
            return Err("unsupported type".into());
        }
    };
    if max_def > 0 && defs.len() != n {
        return Err(format!(
            "expected {n} definition levels, found {}",
            defs.len()
        ));
    }
    Ok((values, defs))
}

/// Appends value `k` of `values` as text.
fn render(
    out: &mut String,
    values: &Values,
    k: usize,
    how: Render,
) -> std::result::Result<(), String> {
    let missing = || "fewer values than rows".to_string();
    let int = |out: &mut String, v: i64, unsigned_bits: u32| {
        let _ = match how {
            Render::Unsigned if unsigned_bits == 32 => write!(out, "{}", v as u32),
            Render::Unsigned => write!(out, "{}", v as u64),
            Render::Scaled(s) => write!(out, "{}", v as f64 / s),
            Render::Plain | Render::Text => write!(out, "{v}"),
        };
    };
    match values {
        Values::Bool(v) => out.push_str(if *v.get(k).ok_or_else(missing)? {
            "1"
        } else {
            "0"
        }),
        Values::I32(v) => int(out, i64::from(*v.get(k).ok_or_else(missing)?), 32),
        Values::I64(v) => int(out, *v.get(k).ok_or_else(missing)?, 64),
        Values::F32(v) => {
            let _ = write!(out, "{}", v.get(k).ok_or_else(missing)?);
        }
        Values::F64(v) => {
            let _ = write!(out, "{}", v.get(k).ok_or_else(missing)?);
        }
        Values::Bytes(v) => {
            let bytes = v.get(k).ok_or_else(missing)?.data();
            let s = std::str::from_utf8(bytes).map_err(|_| "expected UTF-8 text".to_string())?;
            if s.contains([',', '\n', '\r']) {
                return Err(format!(
                    "expected text without commas or line breaks, found `{}`",
                    s.escape_debug()
                ));
            }
            out.push_str(s);
        }
    }
    Ok(())
}

impl Read for ParquetLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ParquetLines {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.text.len() {
            self.render_batch()?;
        }
        Ok(&self.text[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.text.len());
    }
}

impl std::fmt::Debug for ParquetLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParquetLines({})", self.path.display())
    }
}

/// The Parquet type of a column trackcorr writes, from its name: the identifiers are
/// integers, the sensor and network names text, everything else (times, states,
/// covariances, ranges and angles) doubles.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Int,
    Float,
    Text,
}

fn kind_of(name: &str) -> Kind {
    match name {
        "replay" | "track" | "truth" | "object" | "system_track" | "sources" | "track_a"
        | "track_b" => Kind::Int,
        "sensor" | "network" | "sensor_a" | "sensor_b" => Kind::Text,
        _ => Kind::Float,
    }
}

/// One column's values buffered for the current row group.
enum Buffer {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(Vec<ByteArray>),
}

/// A Parquet file written from CSV text: the header line gives the columns (their types by
/// name, every column nullable so that an empty field is a null), each further line a row.
/// Rows are buffered into row groups of [`GROUP_ROWS`], so the file's layout depends only on
/// its rows, not on how the text was handed over. Compressed with Snappy, which pandas,
/// polars, DuckDB and Spark read.
pub struct ParquetSink {
    path: PathBuf,
    file: Option<File>,
    writer: Option<SerializedFileWriter<BufWriter<File>>>,
    names: Vec<String>,
    buffers: Vec<(Buffer, Vec<i16>)>,
    rows: usize,
    /// Lines written so far (the header is line 1), for messages.
    line: usize,
    /// The end of the text given last if it did not end a line.
    partial: String,
}

impl ParquetSink {
    /// Creates (or truncates) `path`; nothing is written before the header line arrives.
    pub fn create(path: &Path) -> Result<ParquetSink> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            file: Some(file),
            writer: None,
            names: Vec::new(),
            buffers: Vec::new(),
            rows: 0,
            line: 0,
            partial: String::new(),
        })
    }

    /// Takes CSV text: the header line first, then rows; lines may be split across calls.
    pub fn write_text(&mut self, text: &str) -> Result<()> {
        let mut rest = text;
        while let Some(end) = rest.find('\n') {
            let (line, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line_in(line)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.push_str(line);
                self.line_in(&whole)?;
            }
        }
        self.partial.push_str(rest);
        Ok(())
    }

    fn line_in(&mut self, line: &str) -> Result<()> {
        let line = line.trim_end_matches('\r');
        self.line += 1;
        if self.writer.is_none() {
            return self.start(line);
        }
        let mut fields = line.split(',');
        for (c, (buffer, defs)) in self.buffers.iter_mut().enumerate() {
            let Some(field) = fields.next() else {
                return Err(self.malformed(c, "missing field"));
            };
            if field.is_empty() {
                defs.push(0);
                continue;
            }
            defs.push(1);
            let ok = match buffer {
                Buffer::Int(v) => field.parse().map(|x| v.push(x)).is_ok(),
                Buffer::Float(v) => field.parse().map(|x| v.push(x)).is_ok(),
                Buffer::Text(v) => {
                    v.push(ByteArray::from(field.as_bytes().to_vec()));
                    true
                }
            };
            if !ok {
                let what = format!("`{field}` is not of the column's type");
                return Err(self.malformed(c, &what));
            }
        }
        if fields.next().is_some() {
            return Err(self.malformed(self.names.len(), "more fields than columns"));
        }
        self.rows += 1;
        if self.rows == GROUP_ROWS {
            self.flush_group()?;
        }
        Ok(())
    }

    /// The error for text trackcorr should not have produced.
    fn malformed(&self, column: usize, what: &str) -> Error {
        let name = self.names.get(column).map_or("", String::as_str);
        Error::Config(format!(
            "writing {}: line {}, column `{name}`: {what}",
            self.path.display(),
            self.line
        ))
    }

    /// Makes the schema from the header line and starts the file.
    fn start(&mut self, header: &str) -> Result<()> {
        let header = header.strip_prefix('\u{feff}').unwrap_or(header);
        let parquet = |e: parquet::errors::ParquetError| {
            Error::Config(format!("writing {}: {e}", self.path.display()))
        };
        let mut fields = Vec::new();
        for name in header.split(',') {
            let kind = kind_of(name);
            let (physical, logical) = match kind {
                Kind::Int => (Physical::INT64, None),
                Kind::Float => (Physical::DOUBLE, None),
                Kind::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            };
            let field = Type::primitive_type_builder(name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()
                .map_err(parquet)?;
            fields.push(Arc::new(field));
            self.names.push(name.to_string());
            self.buffers.push((
                match kind {
                    Kind::Int => Buffer::Int(Vec::new()),
                    Kind::Float => Buffer::Float(Vec::new()),
                    Kind::Text => Buffer::Text(Vec::new()),
                },
                Vec::new(),
            ));
        }
        let schema = Type::group_type_builder("trackcorr")
            .with_fields(fields)
            .build()
            .map_err(parquet)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("trackcorr {}", env!("CARGO_PKG_VERSION")))
            .build();
        let Some(file) = self.file.take() else {
            return Err(Error::Config(format!(
                "writing {}: already started",
                self.path.display()
            )));
        };
        let w = BufWriter::with_capacity(1 << 20, file);
        self.writer =
            Some(SerializedFileWriter::new(w, Arc::new(schema), Arc::new(props)).map_err(parquet)?);
        Ok(())
    }

    /// Writes the buffered rows as one row group.
    fn flush_group(&mut self) -> Result<()> {
        let path = self.path.clone();
        let parquet = |e: parquet::errors::ParquetError| {
            Error::Config(format!("writing {}: {e}", path.display()))
        };
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut group = writer.next_row_group().map_err(parquet)?;
        for (buffer, defs) in &mut self.buffers {
            let Some(mut column) = group.next_column().map_err(parquet)? else {
                return Err(Error::Config(format!(
                    "writing {}: fewer columns than the schema",
                    path.display()
                )));
            };
            match buffer {
                Buffer::Int(v) => {
                    column
                        .typed::<Int64Type>()
                        .write_batch(v, Some(defs), None)
                        .map_err(parquet)?;
                    v.clear();
                }
                Buffer::Float(v) => {
                    column
                        .typed::<DoubleType>()
                        .write_batch(v, Some(defs), None)
                        .map_err(parquet)?;
                    v.clear();
                }
                Buffer::Text(v) => {
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(v, Some(defs), None)
                        .map_err(parquet)?;
                    v.clear();
                }
            }
            defs.clear();
            column.close().map_err(parquet)?;
        }
        group.close().map_err(parquet)?;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub fn finish(mut self) -> Result<()> {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line_in(&last)?;
        }
        if self.writer.is_none() {
            return Err(Error::Config(format!(
                "writing {}: no header line",
                self.path.display()
            )));
        }
        if self.rows > 0 {
            self.flush_group()?;
        }
        let path = self.path.clone();
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let mut w = writer
            .into_inner()
            .map_err(|e| Error::Config(format!("writing {}: {e}", path.display())))?;
        std::io::Write::flush(&mut w).map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trackcorr-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn read_all(path: &Path) -> String {
        let mut text = String::new();
        ParquetLines::open(path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn csv_text_round_trips_through_parquet() {
        let path = scratch("round.parquet");
        let mut sink = ParquetSink::create(&path).unwrap();
        // Split mid-line on purpose: the layout must not depend on it.
        sink.write_text("replay,time,sensor,truth,x\n0,1.500,L1,,1.234567e5\n1,2")
            .unwrap();
        sink.write_text(".000,M2,7,-0.001\n").unwrap();
        sink.finish().unwrap();
        assert_eq!(
            read_all(&path),
            "replay,time,sensor,truth,x\n0,1.5,L1,,123456.7\n1,2,M2,7,-0.001\n"
        );
    }

    #[test]
    fn row_groups_do_not_depend_on_how_text_arrives() {
        let rows: String = (0..GROUP_ROWS + 10)
            .map(|k| format!("{},{}.25\n", k / 7, k))
            .collect();
        let one = scratch("one.parquet");
        let mut sink = ParquetSink::create(&one).unwrap();
        sink.write_text("replay,time\n").unwrap();
        sink.write_text(&rows).unwrap();
        sink.finish().unwrap();
        let many = scratch("many.parquet");
        let mut sink = ParquetSink::create(&many).unwrap();
        sink.write_text("replay,time\n").unwrap();
        for chunk in rows.as_bytes().chunks(1000) {
            sink.write_text(std::str::from_utf8(chunk).unwrap())
                .unwrap();
        }
        sink.finish().unwrap();
        assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&many).unwrap());
        let text = read_all(&one);
        assert_eq!(text.lines().count(), GROUP_ROWS + 11);
        assert!(text.ends_with(&format!("{},{}.25\n", (GROUP_ROWS + 9) / 7, GROUP_ROWS + 9)));
    }

    #[test]
    fn a_panic_while_decoding_is_an_error() {
        let r: std::result::Result<(), String> = guarded(|| panic!("index out of bounds"));
        assert_eq!(
            r.unwrap_err(),
            "the Parquet decoder failed on this file's bytes (index out of bounds)"
        );
        assert_eq!(guarded(|| 7), Ok(7));
    }

    #[test]
    fn not_a_parquet_file_is_an_input_error() {
        let path = scratch("bad.parquet");
        std::fs::write(&path, "replay,time\n0,1\n").unwrap();
        let e = ParquetLines::open(&path).unwrap_err();
        assert!(matches!(e, Error::Input { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("expected a Parquet file"), "{e}");
    }
}
