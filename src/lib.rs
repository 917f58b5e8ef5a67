//! trackcorr: batch track-to-track correlation and fusion for several sensor networks.

// Matrix code and the CPU twins of GPU kernels index explicitly, so that they read like the
// formulas and like the WGSL they mirror.
#![allow(
    clippy::needless_range_loop,
    reason = "index loops mirror the formulas and the WGSL kernels"
)]

pub mod assign;
pub mod associate;
pub mod bench;
pub mod correlate;
pub mod demo;
pub mod error;
pub mod fuse;
pub mod gate;
pub mod geo;
pub mod gpu;
pub mod history;
pub mod io;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod output;
pub mod plot;
pub mod progress;
pub mod propagate;
pub mod register;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod stitch;
pub mod track;
pub mod verify;

pub use error::{Error, Result};
