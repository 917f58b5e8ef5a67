//! The data that flows through the pipeline, as flat `#[repr(C)]` records that a GPU kernel
//! can read as they are.

use crate::linalg::{Mat6, Vec6};
use bytemuck::{Pod, Zeroable};

/// The report carries a full 6×6 covariance (else only the position block was given and the
/// velocity block is a broad default).
pub const HAS_VELOCITY_COV: u32 = 1;

/// No truth object (a false track, or unknown).
pub const NO_TRUTH: i32 = -1;

/// One local-track report: a network's estimate of one of its tracks at one time.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct Report {
    pub time: f64,
    /// `[x, y, z, vx, vy, vz]`, WGS84 ECEF (m, m/s).
    pub state: Vec6,
    pub cov: Mat6,
    pub replay: u32,
    /// Index into the sensor table.
    pub sensor: u32,
    /// The sensor's own track number.
    pub track: u32,
    /// Truth object id, or [`NO_TRUTH`]. Used for scoring only.
    pub truth: i32,
    /// [`HAS_VELOCITY_COV`].
    pub flags: u32,
    /// Line of the input file (for error messages), 0 if generated.
    pub line: u32,
}

impl Report {
    /// Dimension of the chi-square tests on this report's estimate: 6 (position and
    /// velocity) with a full covariance, else 3 (position only).
    pub fn gate_dim(&self) -> u32 {
        if self.flags & HAS_VELOCITY_COV != 0 {
            6
        } else {
            3
        }
    }
}

/// One truth sample of one object.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct TruthSample {
    pub time: f64,
    pub state: Vec6,
    pub replay: u32,
    pub object: u32,
}

/// A sensor (one local tracker) and, when known, its radar model.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensor {
    pub name: String,
    pub network: String,
    /// Site and measurement model, from `sensors.csv`; absent when the sensor is known only
    /// by name from the reports.
    pub radar: Option<Radar>,
}

/// A radar's site and model.
#[derive(Clone, Debug, PartialEq)]
pub struct Radar {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_m: f64,
    /// Range noise (1σ, m).
    pub sigma_range: f64,
    /// Azimuth and elevation noise (1σ, rad).
    pub sigma_az: f64,
    pub sigma_el: f64,
    pub max_range: f64,
    /// Elevation mask (rad).
    pub min_elevation: f64,
    /// Time between scans (s).
    pub revisit: f64,
    /// Probability of detection of a target in coverage.
    pub pd: f64,
    /// Mean number of false alarms per scan.
    pub false_alarms: f64,
}

impl Radar {
    /// ECEF position of the antenna.
    pub fn position(&self) -> [f64; 3] {
        crate::geo::geodetic_to_ecef(
            self.lat_deg.to_radians(),
            self.lon_deg.to_radians(),
            self.alt_m,
        )
    }

    /// East, north, up at the antenna.
    pub fn basis(&self) -> [[f64; 3]; 3] {
        crate::geo::enu_basis(self.lat_deg.to_radians(), self.lon_deg.to_radians())
    }
}

/// The sensors of a run and the networks they belong to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorTable {
    pub sensors: Vec<Sensor>,
    /// Network names, in order of first appearance.
    pub networks: Vec<String>,
    /// For each sensor, the index of its network.
    pub network_of: Vec<usize>,
}

impl SensorTable {
    pub fn new(sensors: Vec<Sensor>) -> Self {
        let mut networks: Vec<String> = Vec::new();
        let mut network_of = Vec::with_capacity(sensors.len());
        for s in &sensors {
            let k = match networks.iter().position(|n| *n == s.network) {
                Some(k) => k,
                None => {
                    networks.push(s.network.clone());
                    networks.len() - 1
                }
            };
            network_of.push(k);
        }
        SensorTable {
            sensors,
            networks,
            network_of,
        }
    }

    /// The same sensors, in order of name (networks then in order of their first sensor).
    pub fn by_name(mut self) -> Self {
        self.sensors.sort_by(|a, b| a.name.cmp(&b.name));
        SensorTable::new(self.sensors)
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.sensors.iter().position(|s| s.name == name)
    }
}

/// One raw radar detection: range, azimuth (from north, clockwise) and elevation from the
/// sensor, as `sensors.csv` places it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct Detection {
    pub time: f64,
    /// `[range (m), azimuth (rad), elevation (rad)]`.
    pub measurement: [f64; 3],
    pub replay: u32,
    pub sensor: u32,
    /// Truth object id, or [`NO_TRUTH`] for a false alarm.
    pub truth: i32,
    pub _pad: u32,
}

/// One radar's systematic measurement errors in one replay: added to every range, azimuth
/// and elevation it measures (`generate --biases`, `truth_biases.csv`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SensorBias {
    pub replay: u32,
    /// Index into the sensor table.
    pub sensor: u32,
    /// Range offset (m).
    pub range: f64,
    /// Azimuth and elevation offsets (rad).
    pub azimuth: f64,
    pub elevation: f64,
}
