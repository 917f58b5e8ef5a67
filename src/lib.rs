//! trackcorr: batch track-to-track correlation and fusion for several sensor networks.

pub mod assign;
pub mod associate;
pub mod correlate;
pub mod demo;
pub mod error;
pub mod fuse;
pub mod gate;
pub mod geo;
pub mod io;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod output;
pub mod propagate;
pub mod run;
pub mod scenario;

pub use error::{Error, Result};
