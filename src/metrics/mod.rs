//! Scoring against truth.

pub mod gospa;
