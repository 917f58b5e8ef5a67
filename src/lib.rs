//! trackcorr: batch track-to-track correlation and fusion for several sensor networks.

pub mod assign;
pub mod error;
pub mod metrics;

pub use error::{Error, Result};
