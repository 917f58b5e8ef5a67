//! The project error type. Every failure a user can cause (bad input, bad options,
//! an infeasible problem) is an [`Error`], never a panic.

use std::path::{Path, PathBuf};

/// Errors of trackcorr's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in an input file, located at `file:line:column` (1-based). In a Parquet
    /// file, read as the CSV text it stands for, line 1 is its schema and line `n` its row
    /// `n - 2` (counted from 0, as pandas does), and the column is the column's position.
    #[error("{}: {message}", located(file, *line, *column))]
    Input {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A file or folder could not be read or written.
    // The cause is part of the message and deliberately not `#[source]`: `{:#}` would print
    // it twice.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// An option or a combination of options that cannot be used.
    #[error("invalid option: {0}")]
    Config(String),
    /// A numerical failure that the input caused, e.g. a covariance that is not
    /// positive definite after propagation.
    #[error("numerical failure: {0}")]
    Numeric(String),
    /// No GPU adapter could be found (a retryable condition, unlike bad input).
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU failed: a shader, pipeline or buffer could not be made, the device was
    /// lost, or a command failed validation.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// An assignment problem without a feasible complete assignment.
    #[error("assignment problem is infeasible: {0}")]
    Infeasible(String),
}

/// `file:line:column`, or for a Parquet file `file: row R, column C` (the schema: `file:
/// column C`).
fn located(file: &Path, line: usize, column: usize) -> String {
    if crate::io::parquet::is_parquet(file) {
        match line.checked_sub(2) {
            Some(row) => format!("{}: row {row}, column {column}", file.display()),
            None => format!("{}: column {column}", file.display()),
        }
    } else {
        format!("{}:{line}:{column}", file.display())
    }
}

impl Error {
    /// A located input error.
    pub fn input(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Error::Input {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Whether the same command may succeed when run again unchanged: no adapter, a GPU
    /// failure, or an I/O error other than a missing, forbidden or malformed file (a full
    /// disk, a network file system that timed out). Bad input and options are not.
    pub fn is_retryable(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            Error::NoAdapter(_) | Error::Gpu(_) => true,
            Error::Io { cause, .. } => !matches!(
                cause.kind(),
                K::NotFound
                    | K::PermissionDenied
                    | K::InvalidData
                    | K::InvalidInput
                    | K::AlreadyExists
                    | K::IsADirectory
                    | K::NotADirectory
                    | K::DirectoryNotEmpty
                    | K::ReadOnlyFilesystem
            ),
            Error::Input { .. } | Error::Config(_) | Error::Numeric(_) | Error::Infeasible(_) => {
                false
            }
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

/// Result with the project error type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_the_machine_not_the_data() {
        let io = |kind| Error::io(Path::new("f"), std::io::Error::from(kind));
        assert!(Error::NoAdapter("none".into()).is_retryable());
        assert!(Error::Gpu("device lost".into()).is_retryable());
        assert!(io(std::io::ErrorKind::StorageFull).is_retryable());
        assert!(io(std::io::ErrorKind::TimedOut).is_retryable());
        assert!(!io(std::io::ErrorKind::NotFound).is_retryable());
        assert!(!Error::input(Path::new("f"), 1, 1, "NaN").is_retryable());
        assert!(!Error::Config("bad".into()).is_retryable());
    }
}
