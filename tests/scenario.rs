//! The salvo scenario has the properties the correlator is meant to be tested on.

use std::collections::BTreeMap;
use trackcorr::geo;
use trackcorr::io::csv::OutputDir;
use trackcorr::io::{Format, read_biases};
use trackcorr::linalg;
use trackcorr::model::{NO_TRUTH, TruthSample};
use trackcorr::scenario::{self, BiasScale, Scenario, ScenarioName, ScenarioOptions};
use trackcorr::shard::hash_file;

fn salvo(seed: u64) -> Scenario {
    scenario::generate(&ScenarioOptions {
        seed,
        ..Default::default()
    })
    .unwrap()
}

/// Truth samples per object, by time.
fn flights(s: &Scenario) -> BTreeMap<u32, Vec<TruthSample>> {
    let mut m: BTreeMap<u32, Vec<TruthSample>> = BTreeMap::new();
    for t in &s.truth {
        m.entry(t.object).or_default().push(*t);
    }
    m
}

/// Truth position at `t`, linear between the whole-second samples.
fn truth_at(samples: &[TruthSample], t: f64) -> Option<[f64; 6]> {
    let k = samples.partition_point(|s| s.time <= t);
    if k == 0 || k == samples.len() {
        return None;
    }
    let (a, b) = (&samples[k - 1], &samples[k]);
    let f = (t - a.time) / (b.time - a.time);
    Some(std::array::from_fn(|i| {
        a.state[i] + f * (b.state[i] - a.state[i])
    }))
}

#[test]
fn salvo_is_closely_spaced_ballistic_missiles() {
    for seed in 1..=5 {
        let s = salvo(seed);
        let f = flights(&s);
        assert!(f.len() >= 6, "seed {seed}: {} missiles", f.len());
        let launches: Vec<f64> = f.values().map(|v| v[0].time).collect();
        let spread = launches.iter().cloned().fold(f64::MIN, f64::max)
            - launches.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread <= 120.0,
            "seed {seed}: launches spread over {spread} s"
        );
        let sites: Vec<[f64; 3]> = f
            .values()
            .map(|v| [v[0].state[0], v[0].state[1], v[0].state[2]])
            .collect();
        for a in &sites {
            for b in &sites {
                assert!(geo::ground_distance(a, b) <= 50_000.0);
            }
        }
        for v in f.values() {
            let duration = v[v.len() - 1].time - v[0].time;
            assert!(
                (240.0..1200.0).contains(&duration),
                "seed {seed}: flight of {duration} s"
            );
            // Boost: the speed at 60 s is far above what a coasting body could reach.
            let speed = |s: &TruthSample| {
                (s.state[3].powi(2) + s.state[4].powi(2) + s.state[5].powi(2)).sqrt()
            };
            assert!(speed(&v[60]) > 1000.0);
            let apogee = v
                .iter()
                .map(|s| geo::altitude(&[s.state[0], s.state[1], s.state[2]]))
                .fold(0.0, f64::max);
            assert!(apogee > 100e3, "seed {seed}: apogee {apogee}");
        }
    }
}

#[test]
fn a_pair_stays_within_the_sensors_three_sigma_for_thirty_seconds() {
    for seed in 1..=5 {
        let s = salvo(seed);
        let f = flights(&s);
        let (a, b) = (&f[&0], &f[&1]);
        // Longest run of seconds during which some radar that covers both sees them closer
        // than three times its cross-range error.
        let mut run = 0;
        let mut best = 0;
        for sa in a {
            let Some(sb) = b.iter().find(|x| x.time == sa.time) else {
                continue;
            };
            let pa = [sa.state[0], sa.state[1], sa.state[2]];
            let pb = [sb.state[0], sb.state[1], sb.state[2]];
            let sep = geo::norm(&geo::sub(&pa, &pb));
            let close = s
                .sensors
                .sensors
                .iter()
                .filter_map(|x| x.radar.as_ref())
                .any(|r| {
                    let (range, _, el) = geo::range_az_el(&r.position(), &r.basis(), &pa);
                    range <= r.max_range && el >= r.min_elevation && sep < 3.0 * range * r.sigma_az
                });
            run = if close { run + 1 } else { 0 };
            best = best.max(run);
        }
        assert!(best >= 30, "seed {seed}: closest run {best} s");
    }
}

#[test]
fn networks_see_only_their_part_of_each_flight() {
    for seed in 1..=5 {
        let s = salvo(seed);
        let f = flights(&s);
        let mut seen: BTreeMap<(usize, u32), (f64, f64)> = BTreeMap::new();
        for r in s.reports.iter().filter(|r| r.truth != NO_TRUTH) {
            let n = s.sensors.network_of[r.sensor as usize];
            let v = f[&(r.truth as u32)].as_slice();
            let (t0, t1) = (v[0].time, v[v.len() - 1].time);
            let frac = (r.time - t0) / (t1 - t0);
            let e = seen
                .entry((n, r.truth as u32))
                .or_insert((f64::MAX, f64::MIN));
            e.0 = e.0.min(frac);
            e.1 = e.1.max(frac);
        }
        for (&(n, obj), &(lo, hi)) in &seen {
            match s.sensors.networks[n].as_str() {
                "launch" => assert!(
                    hi < 0.8,
                    "seed {seed}: launch network sees object {obj} at {hi}"
                ),
                _ => assert!(
                    lo > 0.1,
                    "seed {seed}: {} sees object {obj} at {lo}",
                    s.sensors.networks[n]
                ),
            }
        }
        // Every missile is seen by all three networks.
        assert_eq!(seen.len(), 3 * f.len(), "seed {seed}");
    }
}

#[test]
fn detections_have_misses_and_false_alarms_and_reports_false_tracks() {
    let s = salvo(2);
    let false_alarms = s.detections.iter().filter(|d| d.truth == NO_TRUTH).count();
    assert!(false_alarms > 100, "{false_alarms}");
    assert!(
        s.reports.iter().any(|r| r.truth == NO_TRUTH),
        "no false tracks"
    );
    // Each radar's detections of an object are fewer than its scans while in coverage: the
    // probability of detection is below one. Count scans between first and last detection.
    let mut by: BTreeMap<(u32, i32), Vec<f64>> = BTreeMap::new();
    for d in s.detections.iter().filter(|d| d.truth != NO_TRUTH) {
        by.entry((d.sensor, d.truth)).or_default().push(d.time);
    }
    let (mut detected, mut scans) = (0.0, 0.0);
    for ((sensor, _), times) in &by {
        let revisit = s.sensors.sensors[*sensor as usize]
            .radar
            .as_ref()
            .unwrap()
            .revisit;
        detected += times.len() as f64;
        scans += ((times[times.len() - 1] - times[0]) / revisit).round() + 1.0;
    }
    let pd = detected / scans;
    assert!(
        (0.8..0.95).contains(&pd),
        "empirical detection probability {pd}"
    );
}

#[test]
fn local_track_covariances_are_honest() {
    // Normalised estimation error squared of the reports against truth, well after the
    // boost: its mean is the state dimension (6) for a consistent filter. The filters are
    // mildly conservative (about 4, covariances some 20 % wide in σ); an overconfident
    // filter, which would mislead the chi-square gate, would exceed 6.
    let s = salvo(1);
    let f = flights(&s);
    let mut nees = Vec::new();
    for r in s.reports.iter().filter(|r| r.truth != NO_TRUTH) {
        let v = &f[&(r.truth as u32)];
        if r.time < v[0].time + 250.0 {
            continue;
        }
        let Some(t) = truth_at(v, r.time) else {
            continue;
        };
        let e = linalg::sub_vec(&r.state, &t);
        let l = linalg::cholesky(&r.cov, 6).unwrap();
        nees.push(linalg::mahalanobis(&l, &e, 6));
    }
    let mean = nees.iter().sum::<f64>() / nees.len() as f64;
    assert!(nees.len() > 1000);
    assert!(
        (3.0..8.0).contains(&mean),
        "mean NEES {mean} over {} reports",
        nees.len()
    );
}

#[test]
fn same_seed_same_scenario() {
    let a = salvo(4);
    let b = salvo(4);
    assert_eq!(a.reports, b.reports);
    assert_eq!(a.detections, b.detections);
    assert_eq!(a.truth, b.truth);
    assert_ne!(salvo(5).reports, a.reports);
    // A replay is the same whether made alone or in a batch.
    let batch = scenario::generate(&ScenarioOptions {
        seed: 4,
        replays: 2,
        ..Default::default()
    })
    .unwrap();
    let first: Vec<_> = batch
        .reports
        .iter()
        .filter(|r| r.replay == 0)
        .copied()
        .collect();
    assert_eq!(first, a.reports);
}

fn handover(seed: u64, replays: u32) -> Scenario {
    scenario::generate(&ScenarioOptions {
        name: ScenarioName::Handover,
        seed,
        replays,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn handover_leaves_a_gap_in_every_flight_that_no_network_sees() {
    for seed in 1..=5 {
        let s = handover(seed, 3);
        let launch =
            |sensor: u32| s.sensors.networks[s.sensors.network_of[sensor as usize]] == "launch";
        // Per (replay, missile): times of the launch network's reports and detections, and
        // of the far networks'.
        type Times = [Vec<f64>; 2];
        let mut reports: BTreeMap<(u32, i32), Times> = BTreeMap::new();
        for r in s.reports.iter().filter(|r| r.truth != NO_TRUTH) {
            let side = usize::from(!launch(r.sensor));
            reports.entry((r.replay, r.truth)).or_default()[side].push(r.time);
        }
        let mut detections: BTreeMap<(u32, i32), Times> = BTreeMap::new();
        for d in s.detections.iter().filter(|d| d.truth != NO_TRUTH) {
            let side = usize::from(!launch(d.sensor));
            detections.entry((d.replay, d.truth)).or_default()[side].push(d.time);
        }
        let last = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
        let first = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
        // Every missile is seen by both sides.
        assert_eq!(reports.len(), 3 * 8, "seed {seed}");
        for (&(replay, object), [near, far]) in &reports {
            let at = format!("seed {seed} replay {replay} object {object}");
            assert!(
                !near.is_empty() && !far.is_empty(),
                "{at}: seen by one side only"
            );
            // The report gap: the launch network's last report to the far networks' first.
            let (g0, g1) = (last(near), first(far));
            assert!(
                (20.0..=90.0).contains(&(g1 - g0)),
                "{at}: report gap {g0}..{g1} of {} s",
                g1 - g0
            );
            // No report of it inside the gap, from any sensor; launch before, far after.
            for r in s
                .reports
                .iter()
                .filter(|r| r.replay == replay && r.truth == object)
            {
                assert!(
                    r.time <= g0 || r.time >= g1,
                    "{at}: report at {} in the gap",
                    r.time
                );
                if launch(r.sensor) {
                    assert!(
                        r.time <= g0,
                        "{at}: launch report at {} after the gap",
                        r.time
                    );
                } else {
                    assert!(
                        r.time >= g1,
                        "{at}: far report at {} before the gap",
                        r.time
                    );
                }
            }
            // The radars themselves: every plot of it by the launch network precedes every
            // plot of it by the far networks by more than the 20 s.
            let [dn, df] = &detections[&(replay, object)];
            assert!(
                first(df) - last(dn) > 20.0,
                "{at}: detections {} s apart",
                first(df) - last(dn)
            );
            assert!(last(dn) <= g0 && first(df) < g1, "{at}");
        }
    }
}

#[test]
fn handover_is_the_salvo_apart_from_the_gap() {
    let (a, b) = (salvo(2), handover(2, 1));
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.sensors, b.sensors);
    assert!(b.detections.len() < a.detections.len());
    assert!(b.biases.is_empty());
}

/// Truth state at `t` by cubic Hermite interpolation of the whole-second samples (positions
/// and velocities), exact to well under a metre.
fn hermite_at(samples: &[TruthSample], t: f64) -> Option<[f64; 3]> {
    let k = samples.partition_point(|s| s.time <= t);
    if k == 0 || k == samples.len() {
        return None;
    }
    let (a, b) = (&samples[k - 1], &samples[k]);
    let h = b.time - a.time;
    let s = (t - a.time) / h;
    let (h00, h10, h01, h11) = (
        2.0 * s.powi(3) - 3.0 * s * s + 1.0,
        s.powi(3) - 2.0 * s * s + s,
        -2.0 * s.powi(3) + 3.0 * s * s,
        s.powi(3) - s * s,
    );
    Some(std::array::from_fn(|i| {
        h00 * a.state[i] + h10 * h * a.state[i + 3] + h01 * b.state[i] + h11 * h * b.state[i + 3]
    }))
}

#[test]
fn biases_offset_every_measurement_of_their_sensor() {
    let scale = BiasScale::default();
    let opts = ScenarioOptions {
        seed: 2,
        replays: 3,
        biases: Some(scale),
        ..Default::default()
    };
    let s = scenario::generate(&opts).unwrap();
    let plain = scenario::generate(&ScenarioOptions {
        biases: None,
        ..opts.clone()
    })
    .unwrap();

    // One bias per radar and replay, by replay then sensor, none negligible.
    let n_sensors = s.sensors.sensors.len() as u32;
    let keys: Vec<(u32, u32)> = s.biases.iter().map(|b| (b.replay, b.sensor)).collect();
    let expected: Vec<(u32, u32)> = (0..3)
        .flat_map(|r| (0..n_sensors).map(move |k| (r, k)))
        .collect();
    assert_eq!(keys, expected);
    for b in &s.biases {
        for (v, scale) in [
            (b.range, scale.range),
            (b.azimuth, scale.angle),
            (b.elevation, scale.angle),
        ] {
            assert!(
                (0.5 * scale..=scale).contains(&v.abs()),
                "{b:?}: {v} against a scale of {scale}"
            );
        }
    }
    assert!(s.biases.iter().any(|b| b.range < 0.0) && s.biases.iter().any(|b| b.range > 0.0));

    // The truth file reads back as what was drawn, in either format; none without biases.
    let dir = std::env::temp_dir().join(format!("trackcorr-biases-{}", std::process::id()));
    for format in [Format::Csv, Format::Parquet] {
        let out = OutputDir::create(&dir).unwrap();
        let names = s.write(&out, format).unwrap();
        assert_eq!(names.last().unwrap(), &format.file("truth_biases"));
        let back = read_biases(&out.file(&format.file("truth_biases")), &s.sensors).unwrap();
        assert_eq!(back, s.biases, "{format:?}");
        let names = plain.write(&out, format).unwrap();
        assert_eq!(names.len(), 4);
        assert!(!names.iter().any(|n| n.contains("biases")));
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Biases come from a random stream of their own: the same plots, each moved by exactly
    // its sensor's bias.
    assert_eq!(s.truth, plain.truth);
    assert_eq!(s.detections.len(), plain.detections.len());
    let bias_of = |replay: u32, sensor: u32| {
        s.biases
            .iter()
            .find(|b| b.replay == replay && b.sensor == sensor)
            .unwrap()
    };
    let wrap = |a: f64| {
        (a + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
    };
    for (d, p) in s.detections.iter().zip(&plain.detections) {
        assert_eq!((d.time, d.sensor, d.truth), (p.time, p.sensor, p.truth));
        if d.truth == NO_TRUTH {
            continue; // clutter is not a measurement of anything
        }
        let b = bias_of(d.replay, d.sensor);
        assert!((d.measurement[0] - p.measurement[0] - b.range).abs() < 1e-6);
        assert!((wrap(d.measurement[1] - p.measurement[1]) - b.azimuth).abs() < 1e-12);
        assert!((d.measurement[2] - p.measurement[2] - b.elevation).abs() < 1e-12);
    }
    // And the local tracks carry them.
    assert_ne!(s.reports, plain.reports);

    // Against the truth: the mean range error of each radar's plots of missiles, per
    // replay, is its range bias, within four standard errors of the mean (and a metre); that
    // of its local tracks' reports too, within 25 m (smoothed, it is not an average of
    // independent errors; seed 2 gives at most 10 m, the biases are at least 75 m).
    let f: BTreeMap<(u32, u32), Vec<TruthSample>> =
        s.truth.iter().fold(BTreeMap::new(), |mut m, t| {
            m.entry((t.replay, t.object)).or_default().push(*t);
            m
        });
    for b in &s.biases {
        let radar = s.sensors.sensors[b.sensor as usize].radar.as_ref().unwrap();
        let (site, basis) = (radar.position(), radar.basis());
        let range_error = |replay: u32, truth: i32, time: f64, range: f64| {
            let p = hermite_at(&f[&(replay, truth as u32)], time)?;
            Some(range - geo::range_az_el(&site, &basis, &p).0)
        };
        let errors: Vec<f64> = s
            .detections
            .iter()
            .filter(|d| d.replay == b.replay && d.sensor == b.sensor && d.truth >= 0)
            .filter_map(|d| range_error(d.replay, d.truth, d.time, d.measurement[0]))
            .collect();
        let track_errors: Vec<f64> = s
            .reports
            .iter()
            .filter(|r| r.replay == b.replay && r.sensor == b.sensor && r.truth >= 0)
            .filter_map(|r| {
                let p = [r.state[0], r.state[1], r.state[2]];
                range_error(
                    r.replay,
                    r.truth,
                    r.time,
                    geo::range_az_el(&site, &basis, &p).0,
                )
            })
            .collect();
        assert!(errors.len() > 100, "{b:?}: {} plots", errors.len());
        let n = errors.len() as f64;
        let mean = errors.iter().sum::<f64>() / n;
        let tolerance = 4.0 * radar.sigma_range / n.sqrt() + 1.0;
        assert!(
            (mean - b.range).abs() < tolerance,
            "{b:?}: mean range error {mean} m over {n} plots, tolerance {tolerance}"
        );
        let track_mean = track_errors.iter().sum::<f64>() / track_errors.len() as f64;
        assert!(
            (track_mean - b.range).abs() < 25.0,
            "{b:?}: mean range error of the local tracks {track_mean} m"
        );
    }
}

/// What `trackcorr generate --seed 1 --replays 2` wrote before handover and biases existed
/// (SHA-256 of its files, from its manifest.json).
#[test]
fn salvo_without_biases_is_unchanged() {
    let s = scenario::generate(&ScenarioOptions {
        seed: 1,
        replays: 2,
        ..Default::default()
    })
    .unwrap();
    assert!(s.biases.is_empty());
    let dir = std::env::temp_dir().join(format!("trackcorr-salvo-digest-{}", std::process::id()));
    let out = OutputDir::create(&dir).unwrap();
    let names = s.write(&out, Format::Csv).unwrap();
    let digests: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), hash_file(&out.file(n)).unwrap().sha256))
        .collect();
    drop(out);
    let expected = [
        (
            "sensors.csv",
            "f3e056417710102814e5b5b487069cbe7bb777ab1f7c0341009102fe88941467",
        ),
        (
            "detections.csv",
            "d037dd6185aedc78b06934563cadb380e43d3ba4ac64050a79864e75570d8e33",
        ),
        (
            "reports.csv",
            "9ae6beb82242bd3888bb27aa963785c32c487dc34924ad8c94bf9895bbfa41c4",
        ),
        (
            "truth.csv",
            "3f890ee3d960d6b391768b62afb1009dd749ec19f4f111d5c9629d161a10a1fe",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, h)| (n.to_string(), h.to_string()))
        .collect();
    assert_eq!(digests, expected);
}

/// `--bias-draw batch`: every replay has the same biases (replay 0's of the per-replay
/// draw), and the measurements are what they are with those biases.
#[test]
fn batch_biases_are_the_same_in_every_replay() {
    let scale = |draw| BiasScale {
        draw,
        ..Default::default()
    };
    let make = |draw| {
        scenario::generate(&ScenarioOptions {
            replays: 3,
            biases: Some(scale(draw)),
            ..Default::default()
        })
        .unwrap()
    };
    let batch = make(scenario::BiasDraw::Batch);
    let each = make(scenario::BiasDraw::Replay);
    let radars = batch.biases.len() / 3;
    assert!(radars >= 6 && batch.biases.len() == 3 * radars);
    for (k, b) in batch.biases.iter().enumerate() {
        let first = &batch.biases[k % radars];
        assert_eq!(b.replay, (k / radars) as u32);
        assert_eq!(
            (b.sensor, b.range, b.azimuth, b.elevation),
            (first.sensor, first.range, first.azimuth, first.elevation)
        );
    }
    assert_eq!(batch.biases[..radars], each.biases[..radars]);
    // Per replay they differ.
    assert_ne!(each.biases[0].range, each.biases[radars].range);
    // Replay 0 has the same biases either way, so the same measurements.
    let first = |s: &Scenario| -> Vec<[f64; 3]> {
        s.detections
            .iter()
            .filter(|d| d.replay == 0)
            .map(|d| d.measurement)
            .collect()
    };
    assert_eq!(first(&batch), first(&each));
}

/// `--boost-filter`: the launch network's local tracks, which see the boost, follow the
/// thrusting missile far closer than the lagging filter's (same detections), and their
/// covariances stay honest through the boost.
#[test]
fn the_boost_filter_does_not_lag_the_thrust() {
    let make = |boost_filter| {
        scenario::generate(&ScenarioOptions {
            boost_filter,
            ..Default::default()
        })
        .unwrap()
    };
    let (lagging, boost) = (make(false), make(true));
    assert_eq!(lagging.detections.len(), boost.detections.len());
    let f = flights(&boost);
    // The launch radars' reports while the motor burns (the first 90 s after launch: every
    // burn lasts 90–100 s): their mean error along the flight (a lag is negative; the
    // noise, some 200 m across the line of sight, averages out) and their mean NEES.
    let boosting = |s: &Scenario| -> (f64, f64, usize) {
        let (mut along, mut nees, mut n) = (0.0, 0.0, 0);
        for r in s.reports.iter().filter(|r| {
            r.truth != NO_TRUTH && s.sensors.sensors[r.sensor as usize].network == "launch"
        }) {
            let v = &f[&(r.truth as u32)];
            if r.time > v[0].time + 90.0 {
                continue;
            }
            let Some(t) = truth_at(v, r.time) else {
                continue;
            };
            let e = linalg::sub_vec(&r.state, &t);
            let speed = (3..6).map(|i| t[i] * t[i]).sum::<f64>().sqrt();
            along += (0..3).map(|i| e[i] * t[i + 3]).sum::<f64>() / speed.max(1.0);
            nees += linalg::mahalanobis(&linalg::cholesky(&r.cov, 6).unwrap(), &e, 6);
            n += 1;
        }
        (along / n as f64, nees / n as f64, n)
    };
    let (lag, _, n_lag) = boosting(&lagging);
    let (boost_lag, boost_nees, n_boost) = boosting(&boost);
    // The figures the README quotes (`-- --nocapture` shows them).
    eprintln!(
        "along-track error under thrust: {lag:.1} m lagging, {boost_lag:.1} m with the boost filter (NEES {boost_nees:.2})"
    );
    assert!(
        n_lag > 500 && n_boost > 500,
        "{n_lag} and {n_boost} reports"
    );
    assert!(
        boost_lag.abs() < 0.3 * lag.abs(),
        "mean error along the flight under thrust: {boost_lag} m with the boost filter, {lag} m without"
    );
    assert!(
        (2.0..10.0).contains(&boost_nees),
        "mean NEES {boost_nees} under thrust with the boost filter"
    );
}
