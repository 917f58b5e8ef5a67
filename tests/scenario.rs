//! The salvo scenario has the properties the correlator is meant to be tested on.

use std::collections::BTreeMap;
use trackcorr::geo;
use trackcorr::linalg;
use trackcorr::model::{NO_TRUTH, TruthSample};
use trackcorr::scenario::{self, Scenario, ScenarioOptions};

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
