//! Synthetic engagements: ballistic missile salvos seen by three radar networks, with each
//! network's local tracks. Everything derives from the seed: the same seed gives the same
//! bytes.
//!
//! The layout, relative to the launch area and the flight azimuth:
//! - network `launch`: two radars 70 km behind and 160 km beside the launch area, 650 km
//!   range. They see boost and ascent, never the descent (it is beyond their range);
//! - network `mid`: two radars 600–750 km downrange, 300 km off the track, 1100 km range.
//!   The boost is below their radar horizon;
//! - network `impact`: two radars near the impact area, 900 km range; the launch area is
//!   far below their horizon.
//!
//! `salvo` lets each network see whatever its radars cover. `handover` takes the same
//! missiles, radars, false tracks and clutter, but leaves a gap in every flight that no
//! network sees: per missile, a cut time `g0` in its ballistic phase (its burn-out plus
//! U(10, 60) s) and a gap length `G` from U([`HANDOVER_GAP`]). The `launch` network detects
//! the missile only up to `g0`, the `mid` and `impact` networks only from `g1 = g0 + G` on;
//! at other times in coverage a scan sees nothing of it (a miss: the launch network's tracks
//! coast and are deleted as usual). The gap is imposed per flight, not left by the geometry
//! (every network covers these times), so that its length is controlled. The *report gap*,
//! a far network's first report of the missile minus the launch network's last, is at
//! least `G − 1` s: a far track starts on its second plot, a revisit (≥ 3 s) after `g1`, and
//! a launch track reports at most [`DELETE_AFTER_MISSES`] − 1 coasting scans (4 s) after
//! `g0`. It exceeds `G` by a few seconds when the plots around the gap are missed: over
//! 3 200 flights (seeds 1–5, 40 replays, either antenna) it lay within 22.7–74.1 s.
//!
//! With [`ScenarioOptions::biases`], each radar has, per replay, a systematic range, azimuth
//! and elevation offset added to all its measurements (its detections and what its local
//! tracker sees): `scale × random sign × U(0.5, 1)`, from a random stream of its own, so that
//! a run without biases is the same as one before they existed.

pub mod flight;
pub mod tracker;

use crate::error::{Error, Result};
use crate::geo::{self, V3};
use crate::io::csv::OutputDir;
use crate::model::{
    Detection, HAS_VELOCITY_COV, NO_TRUTH, Radar, Report, Sensor, SensorBias, SensorTable,
    TruthSample,
};
use flight::{Flight, Missile};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use tracker::{BoostFilter, Filter, Measurement};

/// Latitude and longitude (degrees) of the centre of the launch area.
pub const LAUNCH_AREA: (f64, f64) = (34.0, 48.0);
/// Azimuth of the flights (degrees from north).
pub const FLIGHT_AZIMUTH: f64 = 300.0;
/// Launch sites lie within this distance of the centre (so within 50 km of each other).
pub const LAUNCH_AREA_RADIUS: f64 = 25_000.0;
/// Consecutive misses after which a local track is deleted.
pub const DELETE_AFTER_MISSES: u32 = 3;
/// Range of the `handover` scenario's coverage gap `G` (s), drawn per missile, so that the
/// report gap stays within 20–90 s: it is at least `G − 1` s (see the module comment), and
/// the upper end leaves 20 s for a far network that needs a few scans to start its track.
pub const HANDOVER_GAP: std::ops::Range<f64> = 23.0..70.0;
/// Mixed into the seed of the biases' random stream, apart from the scenario's own.
const BIAS_STREAM: u64 = 0xB1A5_5EED_5CA1_AB1E;

/// Which scenario to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioName {
    /// Closely spaced ballistic missiles, three networks.
    Salvo,
    /// The salvo with a gap in each flight that no network sees, between the launch
    /// network's last sight of it and the far networks' first.
    Handover,
}

impl ScenarioName {
    /// The name as `--scenario` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioName::Salvo => "salvo",
            ScenarioName::Handover => "handover",
        }
    }
}

/// The scales of the sensor biases (`--biases`): each bias is `scale × random sign ×
/// U(0.5, 1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BiasScale {
    /// Range (m).
    pub range: f64,
    /// Azimuth and elevation (rad).
    pub angle: f64,
    /// Whether each radar draws its biases anew for every replay or keeps them over the
    /// batch.
    pub draw: BiasDraw,
}

/// How often a radar's biases are drawn (`--bias-draw`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BiasDraw {
    /// Anew for every replay (a Monte Carlo over biases).
    #[default]
    Replay,
    /// Once per radar: every replay of the batch has the same biases (one deployment whose
    /// radars keep their misalignment), as `correlate --register-pool` assumes.
    Batch,
}

impl Default for BiasScale {
    /// 150 m and 0.03° (about 300 m across at 600 km).
    fn default() -> Self {
        BiasScale {
            range: 150.0,
            angle: 0.03f64.to_radians(),
            draw: BiasDraw::Replay,
        }
    }
}

/// How the radars time-stamp their plots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Antenna {
    /// A whole scan at one time (a phased array's frame).
    #[default]
    Staring,
    /// Each plot at the moment a rotating beam crossed it: the scan's start plus the azimuth's
    /// share of the revisit period (clockwise from north).
    Rotating,
}

/// Options of [`generate`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioOptions {
    pub name: ScenarioName,
    pub seed: u64,
    pub replays: u32,
    /// Missiles per replay (at least 2: the first two are a closely spaced pair).
    pub objects: u32,
    /// Drop everything after this time (s), for short benchmark scenarios.
    pub duration: Option<f64>,
    /// Make only this shard's replays (`--shard`).
    pub shard: crate::shard::Shard,
    pub antenna: Antenna,
    /// Per-sensor measurement biases, and their scales; none when `None`.
    pub biases: Option<BiasScale>,
    /// The networks' local trackers model a missile's thrust up to burn-out
    /// ([`tracker::BoostFilter`]) instead of only widening their process noise.
    pub boost_filter: bool,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            name: ScenarioName::Salvo,
            seed: 1,
            replays: 1,
            objects: 8,
            duration: None,
            shard: crate::shard::Shard::WHOLE,
            antenna: Antenna::Staring,
            biases: None,
            boost_filter: false,
        }
    }
}

/// A generated engagement batch.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub sensors: SensorTable,
    pub detections: Vec<Detection>,
    pub reports: Vec<Report>,
    pub truth: Vec<TruthSample>,
    /// Each radar's biases per replay, by replay then sensor; empty without biases.
    pub biases: Vec<SensorBias>,
}

impl Scenario {
    /// The local-track reports as `correlate` takes them, without a round trip through files.
    pub fn report_set(&self) -> crate::io::ReportSet {
        crate::io::ReportSet {
            reports: self.reports.clone(),
            sensors: self.sensors.clone(),
            full_covariance: true,
        }
    }

    /// Writes `sensors.csv`, then `detections`, `reports` and `truth` in `format`, and
    /// `truth_biases` when there are biases; returns the names of the files, in that order.
    pub fn write(&self, out: &OutputDir, format: crate::io::Format) -> Result<Vec<String>> {
        let mut names = vec![
            "sensors.csv".to_string(),
            format.file("detections"),
            format.file("reports"),
            format.file("truth"),
        ];
        crate::io::write_sensors(&out.file(&names[0]), &self.sensors)?;
        crate::io::write_detections(&out.file(&names[1]), &self.detections, &self.sensors)?;
        crate::io::write_reports(&out.file(&names[2]), &self.reports, &self.sensors)?;
        crate::io::write_truth(&out.file(&names[3]), &self.truth)?;
        if !self.biases.is_empty() {
            let name = format.file("truth_biases");
            crate::io::write_biases(&out.file(&name), &self.biases, &self.sensors)?;
            names.push(name);
        }
        Ok(names)
    }
}

/// A seed for replay `r`, so that a replay is the same whichever batch it is made in.
fn replay_seed(seed: u64, replay: u32) -> u64 {
    // SplitMix64 of (seed, replay).
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(replay).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Makes a scenario.
pub fn generate(opts: &ScenarioOptions) -> Result<Scenario> {
    generate_with_progress(opts, |_, _| {})
}

/// [`generate`], calling `progress(done, total)` as replays are made.
pub fn generate_with_progress(
    opts: &ScenarioOptions,
    progress: impl FnMut(usize, usize),
) -> Result<Scenario> {
    if opts.objects < 2 {
        return Err(Error::Config("a salvo needs at least 2 objects".into()));
    }
    if opts.replays == 0 {
        return Err(Error::Config("--replays must be at least 1".into()));
    }
    if let Some(b) = opts.biases {
        for (v, what) in [(b.range, "--bias-range"), (b.angle, "--bias-angle-deg")] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "{what} must be a finite number of at least 0, got {v}"
                )));
            }
        }
    }
    let sensors = layout();
    let mine: Vec<u32> = (0..opts.replays).filter(|&r| opts.shard.keeps(r)).collect();
    let replays = crate::progress::par_map_with_progress(
        &mine,
        |&r| Ok(generate_replay(opts, &sensors, r)),
        progress,
    )?;
    let mut scenario = Scenario {
        sensors,
        detections: Vec::new(),
        reports: Vec::new(),
        truth: Vec::new(),
        biases: Vec::new(),
    };
    for r in replays {
        scenario.detections.extend(r.detections);
        scenario.reports.extend(r.reports);
        scenario.truth.extend(r.truth);
        scenario.biases.extend(r.biases);
    }
    Ok(scenario)
}

/// A point `downrange` metres along the flight azimuth from the launch area centre and
/// `cross` metres to its right.
fn theatre_point(downrange: f64, cross: f64) -> (f64, f64) {
    let (lat0, lon0) = (LAUNCH_AREA.0.to_radians(), LAUNCH_AREA.1.to_radians());
    let az = FLIGHT_AZIMUTH.to_radians();
    let (lat1, lon1) = if downrange >= 0.0 {
        geo::offset_geodetic(lat0, lon0, az, downrange)
    } else {
        geo::offset_geodetic(lat0, lon0, az + std::f64::consts::PI, -downrange)
    };
    let (lat2, lon2) = if cross >= 0.0 {
        geo::offset_geodetic(lat1, lon1, az + std::f64::consts::FRAC_PI_2, cross)
    } else {
        geo::offset_geodetic(lat1, lon1, az - std::f64::consts::FRAC_PI_2, -cross)
    };
    (lat2.to_degrees(), lon2.to_degrees())
}

/// The three networks.
pub fn layout() -> SensorTable {
    struct Site {
        name: &'static str,
        network: &'static str,
        downrange: f64,
        cross: f64,
        sigma_range: f64,
        sigma_angle_deg: f64,
        max_range: f64,
        min_elevation_deg: f64,
        revisit: f64,
        pd: f64,
        false_alarms: f64,
    }
    let sites = [
        Site {
            name: "L1",
            network: "launch",
            downrange: -70e3,
            cross: 0.0,
            sigma_range: 30.0,
            sigma_angle_deg: 0.06,
            max_range: 500e3,
            min_elevation_deg: 0.5,
            revisit: 2.0,
            pd: 0.9,
            false_alarms: 1.0,
        },
        Site {
            name: "L2",
            network: "launch",
            downrange: 20e3,
            cross: 160e3,
            sigma_range: 40.0,
            sigma_angle_deg: 0.08,
            max_range: 500e3,
            min_elevation_deg: 0.5,
            revisit: 2.0,
            pd: 0.9,
            false_alarms: 1.0,
        },
        Site {
            name: "M1",
            network: "mid",
            downrange: 600e3,
            cross: 300e3,
            sigma_range: 60.0,
            sigma_angle_deg: 0.08,
            max_range: 1100e3,
            min_elevation_deg: 1.0,
            revisit: 4.0,
            pd: 0.85,
            false_alarms: 2.0,
        },
        Site {
            name: "M2",
            network: "mid",
            downrange: 750e3,
            cross: -280e3,
            sigma_range: 60.0,
            sigma_angle_deg: 0.08,
            max_range: 1100e3,
            min_elevation_deg: 1.0,
            revisit: 4.0,
            pd: 0.85,
            false_alarms: 2.0,
        },
        Site {
            name: "I1",
            network: "impact",
            downrange: 1050e3,
            cross: 120e3,
            sigma_range: 40.0,
            sigma_angle_deg: 0.07,
            max_range: 900e3,
            min_elevation_deg: 0.5,
            revisit: 3.0,
            pd: 0.9,
            false_alarms: 1.5,
        },
        Site {
            name: "I2",
            network: "impact",
            downrange: 1200e3,
            cross: -150e3,
            sigma_range: 40.0,
            sigma_angle_deg: 0.07,
            max_range: 900e3,
            min_elevation_deg: 0.5,
            revisit: 3.0,
            pd: 0.9,
            false_alarms: 1.5,
        },
    ];
    let sensors = sites
        .iter()
        .map(|s| {
            let (lat, lon) = theatre_point(s.downrange, s.cross);
            Sensor {
                name: s.name.into(),
                network: s.network.into(),
                radar: Some(Radar {
                    lat_deg: (lat * 1e6).round() / 1e6,
                    lon_deg: (lon * 1e6).round() / 1e6,
                    alt_m: 100.0,
                    sigma_range: s.sigma_range,
                    sigma_az: s.sigma_angle_deg.to_radians(),
                    sigma_el: s.sigma_angle_deg.to_radians(),
                    max_range: s.max_range,
                    min_elevation: s.min_elevation_deg.to_radians(),
                    revisit: s.revisit,
                    pd: s.pd,
                    false_alarms: s.false_alarms,
                }),
            }
        })
        .collect();
    SensorTable::new(sensors)
}

/// The missiles of one replay. The first two are a closely spaced pair: launched in the
/// same second from sites about a kilometre apart, on nearly the same trajectory.
pub fn salvo_missiles(rng: &mut ChaCha8Rng, objects: u32) -> Vec<Missile> {
    let mut missiles: Vec<Missile> = Vec::with_capacity(objects as usize);
    for id in 0..objects {
        let m = if id == 1 {
            let lead = &missiles[0];
            let bearing = rng.random_range(0.0..std::f64::consts::TAU);
            let (lat, lon) =
                geo::offset_geodetic(lead.lat, lead.lon, bearing, rng.random_range(600.0..1200.0));
            Missile {
                id,
                lat,
                lon,
                thrust0: lead.thrust0 * rng.random_range(0.999..1.001),
                final_pitch: lead.final_pitch + rng.random_range(-0.002..0.002),
                ..lead.clone()
            }
        } else {
            let bearing = rng.random_range(0.0..std::f64::consts::TAU);
            let dist = LAUNCH_AREA_RADIUS * rng.random_range(0.0f64..1.0).sqrt();
            let (lat, lon) = geo::offset_geodetic(
                LAUNCH_AREA.0.to_radians(),
                LAUNCH_AREA.1.to_radians(),
                bearing,
                dist,
            );
            Missile {
                id,
                lat,
                lon,
                launch_time: f64::from(rng.random_range(10u32..=130)),
                azimuth: (FLIGHT_AZIMUTH + rng.random_range(-3.0..3.0)).to_radians(),
                thrust0: rng.random_range(21.0..23.0),
                burn_time: rng.random_range(90.0..100.0),
                propellant_fraction: 0.7,
                vertical_time: 8.0,
                final_pitch: rng.random_range(1.0..1.1),
            }
        };
        missiles.push(m);
    }
    missiles
}

/// The biases of every radar in one replay, in sensor order, drawn from their own stream
/// (seeded from the seed and the replay, like the scenario's but apart from it; with
/// [`BiasDraw::Batch`], from replay 0's for every replay).
fn draw_biases(scale: BiasScale, seed: u64, replay: u32, sensors: &SensorTable) -> Vec<SensorBias> {
    let stream = match scale.draw {
        BiasDraw::Replay => replay,
        BiasDraw::Batch => 0,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(replay_seed(seed ^ BIAS_STREAM, stream));
    // `+ 0.0` writes a zero scale's bias as 0, not -0.
    let mut draw = |scale: f64| {
        let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        sign * scale * rng.random_range(0.5..=1.0) + 0.0
    };
    sensors
        .sensors
        .iter()
        .enumerate()
        .filter(|(_, s)| s.radar.is_some())
        .map(|(k, _)| SensorBias {
            replay,
            sensor: k as u32,
            range: draw(scale.range),
            azimuth: draw(scale.angle),
            elevation: draw(scale.angle),
        })
        .collect()
}

/// When a network may detect a missile: `[from, until]` (s). Always in `salvo`; in
/// `handover`, the launch network up to the missile's cut time and the others from the end
/// of its gap on (see the module comment).
#[derive(Clone, Copy, Debug)]
struct Window {
    from: f64,
    until: f64,
}

impl Window {
    const ALWAYS: Window = Window {
        from: f64::NEG_INFINITY,
        until: f64::INFINITY,
    };

    fn contains(&self, t: f64) -> bool {
        t >= self.from && t <= self.until
    }
}

/// For each missile, its cut time `g0` and the end `g1` of its gap (`handover`).
fn handover_gaps(rng: &mut ChaCha8Rng, flights: &[Flight]) -> Vec<(f64, f64)> {
    flights
        .iter()
        .map(|f| {
            let g0 = f.burnout_time + rng.random_range(10.0..60.0);
            (g0, g0 + rng.random_range(HANDOVER_GAP))
        })
        .collect()
}

struct ReplayData {
    detections: Vec<Detection>,
    reports: Vec<Report>,
    truth: Vec<TruthSample>,
    biases: Vec<SensorBias>,
}

/// Something a radar can detect: a missile, or the fake target behind a false track.
enum Target<'a> {
    Missile(&'a Flight),
    /// Straight-line motion from `start` (ECEF) with `velocity` over `[t0, t1]`.
    Phantom {
        t0: f64,
        t1: f64,
        start: V3,
        velocity: V3,
    },
}

impl Target<'_> {
    fn state(&self, t: f64) -> Option<[f64; 6]> {
        match self {
            Target::Missile(f) => f.state(t),
            Target::Phantom {
                t0,
                t1,
                start,
                velocity,
            } => (t >= *t0 && t <= *t1).then(|| {
                let p = geo::add(start, &geo::scale(velocity, t - t0));
                [p[0], p[1], p[2], velocity[0], velocity[1], velocity[2]]
            }),
        }
    }

    /// Process noise of the lagging tracker (no boost filter) at `t`: large while the motor
    /// burns and a few seconds after, so that it follows the thrust it does not model.
    fn process_noise(&self, t: f64) -> f64 {
        match self {
            Target::Missile(f) if t <= f.burnout_time + 4.0 => tracker::Q_BOOST,
            _ => tracker::Q_COAST,
        }
    }

    /// When the target's motor burns out, for a missile (phantoms never thrust).
    fn burnout(&self) -> f64 {
        match self {
            Target::Missile(f) => f.burnout_time,
            Target::Phantom { .. } => f64::NEG_INFINITY,
        }
    }
}

/// Seconds after a rotating antenna's turn starts (at north) until its beam points at
/// azimuth `az` (rad).
fn beam_delay(az: f64, revisit: f64) -> f64 {
    az.rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU * revisit
}

/// When a rotating antenna's beam, in the turn that starts (at north) at `start`, crosses a
/// target whose azimuth at time t is `az_at(t)`; `None` when it does not in this turn (it
/// crossed north ahead of the beam, to be met early in the next turn) or leaves no azimuth.
pub fn beam_time(start: f64, revisit: f64, az_at: impl Fn(f64) -> Option<f64>) -> Option<f64> {
    let mut t = start + beam_delay(az_at(start)?, revisit);
    // The target moves little in a turn: a few fixed-point steps settle the time, unless it
    // runs across north, where they jump between the turn's two ends.
    for _ in 0..4 {
        let next = start + beam_delay(az_at(t)?, revisit);
        if (next - t).abs() < 1e-6 * revisit {
            return Some(next);
        }
        t = next;
    }
    None
}

fn generate_replay(opts: &ScenarioOptions, sensors: &SensorTable, replay: u32) -> ReplayData {
    let mut rng = ChaCha8Rng::seed_from_u64(replay_seed(opts.seed, replay));
    let missiles = salvo_missiles(&mut rng, opts.objects);
    let flights: Vec<Flight> = missiles.iter().map(Missile::fly).collect();
    let gaps = match opts.name {
        ScenarioName::Salvo => Vec::new(),
        ScenarioName::Handover => handover_gaps(&mut rng, &flights),
    };
    let window = |sensor: &Sensor, missile: usize| match gaps.get(missile) {
        None => Window::ALWAYS,
        Some(&(g0, _)) if sensor.network == "launch" => Window {
            from: f64::NEG_INFINITY,
            until: g0,
        },
        Some(&(_, g1)) => Window {
            from: g1,
            until: f64::INFINITY,
        },
    };
    let biases = opts
        .biases
        .map_or_else(Vec::new, |b| draw_biases(b, opts.seed, replay, sensors));
    let last_impact = flights.iter().map(|f| f.impact_time).fold(0.0, f64::max);
    let end = opts
        .duration
        .map_or(last_impact + 5.0, |d| d.min(last_impact + 5.0));

    // Truth at whole seconds (launches are whole seconds, so the launch point is a sample).
    let mut truth = Vec::new();
    let mut t = 0.0;
    while t <= end {
        for (m, f) in missiles.iter().zip(&flights) {
            if let Some(state) = f.state(t) {
                truth.push(TruthSample {
                    time: t,
                    state,
                    replay,
                    object: m.id,
                });
            }
        }
        t += 1.0;
    }

    let mut detections = Vec::new();
    let mut reports = Vec::new();
    let unit = Normal::new(0.0, 1.0).expect("unit normal");
    for (s_idx, sensor) in sensors.sensors.iter().enumerate() {
        let Some(radar) = &sensor.radar else { continue };
        let site = radar.position();
        let basis = radar.basis();
        let sigma = [radar.sigma_range, radar.sigma_az, radar.sigma_el];
        // Added to every measurement (zero without biases: the same numbers as without).
        let bias = biases
            .iter()
            .find(|b| b.sensor == s_idx as u32)
            .map_or([0.0; 3], |b| [b.range, b.azimuth, b.elevation]);
        let phase = rng.random_range(0.0..radar.revisit);
        let scans: Vec<f64> = (0..)
            .map(|k| phase + f64::from(k) * radar.revisit)
            .take_while(|&t| t <= end)
            .collect();
        let mut next_track: u32 = rng.random_range(1..5000);

        // False tracks: phantom targets that live for a few scans.
        let n_false = Poisson::new(1.0).map_or(0.0, |p: Poisson<f64>| p.sample(&mut rng)) as usize;
        let mut phantoms = Vec::with_capacity(n_false);
        for _ in 0..n_false {
            let t0 = rng.random_range(0.0..(end - 30.0).max(1.0));
            let r = radar.max_range * rng.random_range(0.2..0.8);
            let az = rng.random_range(0.0..std::f64::consts::TAU);
            let el = radar.min_elevation + rng.random_range(0.02..0.4);
            let start = geo::add(&site, &geo::from_range_az_el(&basis, r, az, el));
            let dir = geo::unit(&[
                unit.sample(&mut rng),
                unit.sample(&mut rng),
                unit.sample(&mut rng),
            ]);
            let velocity = geo::scale(&dir, rng.random_range(300.0..1500.0));
            let t1 = t0 + radar.revisit * f64::from(rng.random_range(4u32..9));
            phantoms.push(Target::Phantom {
                t0,
                t1,
                start,
                velocity,
            });
        }
        // Each target with when this sensor may detect it.
        let targets: Vec<(i32, Target, Window)> = flights
            .iter()
            .zip(&missiles)
            .enumerate()
            .map(|(k, (f, m))| (m.id as i32, Target::Missile(f), window(sensor, k)))
            .chain(phantoms.into_iter().map(|p| (NO_TRUTH, p, Window::ALWAYS)))
            .collect();

        // Detections scan by scan; for each target the measurements it produced (or a miss).
        let mut per_target: Vec<Vec<(f64, Option<Measurement>)>> = vec![Vec::new(); targets.len()];
        for &t in &scans {
            for (k, (truth_id, target, window)) in targets.iter().enumerate() {
                // The plot's time: the scan's, or when a rotating beam crosses the target.
                let t = match opts.antenna {
                    Antenna::Staring => t,
                    Antenna::Rotating => {
                        let az_at = |t: f64| {
                            let s = target.state(t)?;
                            Some(geo::range_az_el(&site, &basis, &[s[0], s[1], s[2]]).1)
                        };
                        match beam_time(t, radar.revisit, az_at) {
                            Some(tb) if tb <= end => tb,
                            _ => continue,
                        }
                    }
                };
                let Some(state) = target.state(t) else {
                    continue;
                };
                let (r, az, el) = geo::range_az_el(&site, &basis, &[state[0], state[1], state[2]]);
                let phantom = *truth_id == NO_TRUTH;
                let in_cover = r <= radar.max_range && el >= radar.min_elevation;
                if !in_cover && !phantom {
                    continue;
                }
                // Outside its window a missile in coverage is missed, drawing nothing.
                let detected = window.contains(t) && (phantom || rng.random_bool(radar.pd));
                let meas = detected.then(|| {
                    let rae = [
                        r + bias[0] + sigma[0] * unit.sample(&mut rng),
                        az + bias[1] + sigma[1] * unit.sample(&mut rng),
                        el + bias[2] + sigma[2] * unit.sample(&mut rng),
                    ];
                    detections.push(Detection {
                        time: t,
                        measurement: [rae[0], rae[1].rem_euclid(std::f64::consts::TAU), rae[2]],
                        replay,
                        sensor: s_idx as u32,
                        truth: *truth_id,
                        _pad: 0,
                    });
                    let (z, rc) = tracker::convert(&site, &basis, &rae, &sigma);
                    Measurement { time: t, z, r: rc }
                });
                per_target[k].push((t, meas));
            }
            // Clutter: uniform in range, azimuth, and the lower elevations.
            let n_fa = Poisson::new(radar.false_alarms.max(1e-9))
                .map_or(0.0, |p: Poisson<f64>| p.sample(&mut rng)) as usize;
            for _ in 0..n_fa {
                let measurement = [
                    rng.random_range(20e3..radar.max_range),
                    rng.random_range(0.0..std::f64::consts::TAU),
                    radar.min_elevation + rng.random_range(0.0..0.5),
                ];
                let time = match opts.antenna {
                    Antenna::Staring => t,
                    Antenna::Rotating => t + beam_delay(measurement[1], radar.revisit),
                };
                if time > end {
                    continue;
                }
                detections.push(Detection {
                    time,
                    measurement,
                    replay,
                    sensor: s_idx as u32,
                    truth: NO_TRUTH,
                    _pad: 0,
                });
            }
        }

        for (k, (truth_id, target, _)) in targets.iter().enumerate() {
            run_tracker(
                &per_target[k],
                target,
                *truth_id,
                replay,
                s_idx as u32,
                radar.revisit,
                &mut next_track,
                &mut reports,
                opts.boost_filter,
            );
        }
    }
    detections.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.sensor.cmp(&b.sensor)));
    reports.sort_by(|a, b| {
        a.time
            .total_cmp(&b.time)
            .then(a.sensor.cmp(&b.sensor))
            .then(a.track.cmp(&b.track))
    });
    ReplayData {
        detections,
        reports,
        truth,
        biases,
    }
}

/// Runs the truth-aided local tracker of one sensor on one target's scan history, with
/// two-point initiation (two detections within three scans), deletion after
/// [`DELETE_AFTER_MISSES`] misses, and one report per scan while the track lives.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the arguments are the tracker's context"
)]
fn run_tracker(
    scans: &[(f64, Option<Measurement>)],
    target: &Target,
    truth: i32,
    replay: u32,
    sensor: u32,
    revisit: f64,
    next_track: &mut u32,
    reports: &mut Vec<Report>,
    boost_filter: bool,
) {
    let mut tentative: Option<Measurement> = None;
    let mut track: Option<(u32, LocalFilter, u32)> = None;
    let burnout = target.burnout();
    for (t, meas) in scans {
        match (&mut track, meas) {
            (Some((number, filter, misses)), m) => {
                // A ballistic filter's process noise: the lagging tracker's (large until
                // burn-out + 4 s), or after the boost filter the coasting one.
                let q = if boost_filter {
                    tracker::Q_COAST
                } else {
                    target.process_noise(*t)
                };
                filter.predict(*t, burnout, q);
                match m {
                    Some(m) if filter.update(m).is_ok() => *misses = 0,
                    _ => *misses += 1,
                }
                if *misses >= DELETE_AFTER_MISSES {
                    track = None;
                    continue;
                }
                let f = filter.ballistic();
                reports.push(Report {
                    time: *t,
                    state: f.x,
                    cov: f.p,
                    replay,
                    sensor,
                    track: *number,
                    truth,
                    flags: HAS_VELOCITY_COV,
                    line: 0,
                });
            }
            (None, Some(m)) => match tentative {
                Some(first) if m.time - first.time <= 3.0 * revisit + 1e-6 => {
                    let filter = if !boost_filter || first.time >= burnout {
                        LocalFilter::Coast(Filter::two_point(&first, m))
                    } else if m.time < burnout {
                        LocalFilter::Boost(BoostFilter::two_point(&first, m))
                    } else {
                        // The pair straddles burn-out: the differenced velocity misses part
                        // of the thrust, which the boost filter's start allows for; then
                        // ballistic.
                        LocalFilter::Coast(BoostFilter::two_point(&first, m).ballistic())
                    };
                    let number = *next_track;
                    *next_track += 1;
                    let f = filter.ballistic();
                    reports.push(Report {
                        time: *t,
                        state: f.x,
                        cov: f.p,
                        replay,
                        sensor,
                        track: number,
                        truth,
                        flags: HAS_VELOCITY_COV,
                        line: 0,
                    });
                    track = Some((number, filter, 0));
                    tentative = None;
                }
                _ => tentative = Some(*m),
            },
            (None, None) => {}
        }
    }
}

/// A local track's filter: with the thrust while the motor burns, ballistic after.
#[allow(
    clippy::large_enum_variant,
    reason = "one per live local track of one tracker at a time"
)]
enum LocalFilter {
    Boost(BoostFilter),
    Coast(Filter),
}

impl LocalFilter {
    /// Predicts to `t`; a boost filter that passes `burnout` is predicted to it, drops
    /// the thrust, and goes on ballistic; a ballistic filter with process noise `q`.
    fn predict(&mut self, t: f64, burnout: f64, q: f64) {
        if let LocalFilter::Boost(b) = self {
            if t <= burnout {
                b.predict(t);
                return;
            }
            b.predict(burnout);
            *self = LocalFilter::Coast(b.ballistic());
        }
        if let LocalFilter::Coast(f) = self {
            f.predict(t, q);
        }
    }

    fn update(&mut self, m: &Measurement) -> Result<()> {
        match self {
            LocalFilter::Boost(b) => b.update(m),
            LocalFilter::Coast(f) => f.update(m),
        }
    }

    fn ballistic(&self) -> Filter {
        match self {
            LocalFilter::Boost(b) => b.ballistic(),
            LocalFilter::Coast(f) => *f,
        }
    }
}
