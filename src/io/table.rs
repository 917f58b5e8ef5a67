//! Tables as files, CSV or Apache Parquet by the file's extension: the text source every
//! reader parses, and the writers every output goes through.

use super::parquet::{ParquetLines, ParquetSink, is_parquet};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The format of the tables a run writes (`--format`); inputs are read by their extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated text with a header line.
    #[default]
    Csv,
    /// Apache Parquet (Snappy), for pandas, polars, DuckDB and Spark.
    Parquet,
}

impl Format {
    /// The file name of table `stem` (`reports` → `reports.csv` or `reports.parquet`).
    pub fn file(self, stem: &str) -> String {
        match self {
            Format::Csv => format!("{stem}.csv"),
            Format::Parquet => format!("{stem}.parquet"),
        }
    }
}

/// A table file's text, a line at a time: the file itself for CSV, the rows rendered as CSV
/// for Parquet. With it, the size in bytes that progress is counted against and, for
/// Parquet, the file's row count (progress by rows, see [`super::csv::Table::bytes_read`]).
pub struct TextSource {
    pub reader: Box<dyn BufRead + Send>,
    pub file_bytes: u64,
    pub parquet_rows: Option<u64>,
}

/// Opens a table for reading by its extension.
pub fn open_text(path: &Path) -> Result<TextSource> {
    let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    if is_parquet(path) {
        let lines = ParquetLines::open(path)?;
        let rows = lines.total_rows();
        Ok(TextSource {
            reader: Box::new(lines),
            file_bytes,
            parquet_rows: Some(rows),
        })
    } else {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(TextSource {
            reader: Box::new(std::io::BufReader::with_capacity(1 << 16, file)),
            file_bytes,
            parquet_rows: None,
        })
    }
}

/// A table being written, CSV or Parquet by the extension of its path, from the CSV text
/// trackcorr formats: the header line first, then rows, in as many pieces as convenient.
pub enum TableWriter {
    Csv(PathBuf, BufWriter<File>),
    Parquet(Box<ParquetSink>),
}

impl TableWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<TableWriter> {
        if is_parquet(path) {
            return Ok(TableWriter::Parquet(Box::new(ParquetSink::create(path)?)));
        }
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(TableWriter::Csv(
            path.to_path_buf(),
            BufWriter::with_capacity(1 << 20, file),
        ))
    }

    /// Appends CSV text.
    pub fn write_text(&mut self, text: &str) -> Result<()> {
        match self {
            TableWriter::Csv(path, w) => {
                w.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
            }
            TableWriter::Parquet(sink) => sink.write_text(text),
        }
    }

    /// Finishes the file (for Parquet, its last row group and footer).
    pub fn finish(self) -> Result<()> {
        match self {
            TableWriter::Csv(path, w) => {
                let mut f = w
                    .into_inner()
                    .map_err(|e| Error::io(&path, e.into_error()))?;
                f.flush().map_err(|e| Error::io(&path, e))
            }
            TableWriter::Parquet(sink) => sink.finish(),
        }
    }
}

/// Writes a whole table from its CSV text `parts` (header first) through a temporary file in
/// the same folder and a rename, so that readers never see a half-written file.
pub fn write_table(path: &Path, parts: &[impl AsRef<str>]) -> Result<()> {
    // The temporary name keeps the extension, which picks the format.
    let tmp = path.with_file_name(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name()
            .map_or("table".into(), |n| n.to_string_lossy()),
    ));
    let written = (|| {
        let mut w = TableWriter::create(&tmp)?;
        for p in parts {
            w.write_text(p.as_ref())?;
        }
        w.finish()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
