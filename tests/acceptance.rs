//! The foundation's acceptance criteria, on salvo seeds 1 to 5 with default options.

use trackcorr::correlate::{self, Config};
use trackcorr::metrics::{self, gospa::GospaParams};
use trackcorr::scenario::{self, ScenarioOptions};

#[test]
fn salvo_seeds_1_to_5_meet_purity_completeness_and_continuity() {
    let mut single_number = 0;
    let mut missiles = 0;
    for seed in 1..=5 {
        let s = scenario::generate(&ScenarioOptions {
            seed,
            ..Default::default()
        })
        .unwrap();
        let set = s.report_set();
        let corr = correlate::correlate(&set, &Config::default()).unwrap();
        let m = metrics::score(&corr, &s.sensors, &s.truth, &GospaParams::default()).unwrap();
        assert!(m.purity >= 0.99, "seed {seed}: purity {}", m.purity);
        assert!(
            m.completeness >= 0.95,
            "seed {seed}: completeness {}",
            m.completeness
        );
        for o in &m.objects {
            // The system tracks hold the missile whenever a network covers it...
            assert!(
                o.coverage_fused >= 0.95 * o.coverage_any,
                "seed {seed} object {}: fused {} of {}",
                o.object,
                o.coverage_fused,
                o.coverage_any
            );
            // ...and, for most missiles, under one system track number all along.
            missiles += 1;
            if o.main_track_share == 1.0 {
                single_number += 1;
            }
        }
    }
    assert!(
        f64::from(single_number) >= 0.9 * f64::from(missiles),
        "{single_number} of {missiles} missiles under one number"
    );
}

#[test]
fn every_live_local_track_is_in_exactly_one_system_track() {
    let s = scenario::generate(&ScenarioOptions {
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    let set = s.report_set();
    let corr = correlate::correlate(&set, &Config::default()).unwrap();
    let r = &corr.replays[0];
    let mut checked = 0;
    for e in &r.epochs {
        // Live tracks: those with a report within their max age before the epoch.
        for (j, lt) in r.local.iter().enumerate() {
            let last = lt
                .reports
                .iter()
                .map(|&i| s.reports[i].time)
                .filter(|&t| t <= e.time)
                .fold(f64::MIN, f64::max);
            let alive = e.time - last <= lt.max_age;
            let rows = e.live.iter().filter(|l| l.track as usize == j).count();
            assert_eq!(rows, usize::from(alive), "track {j} at {}", e.time);
            checked += rows;
        }
        for l in &e.live {
            assert_eq!(
                e.system.iter().filter(|st| st.number == l.system).count(),
                1
            );
        }
        // A system track never holds two tracks of one sensor.
        for st in &e.system {
            let mut sensors: Vec<u32> = e
                .live
                .iter()
                .filter(|l| l.system == st.number)
                .map(|l| r.local[l.track as usize].sensor)
                .collect();
            let n = sensors.len();
            sensors.dedup();
            assert_eq!(sensors.len(), n);
            assert_eq!(st.sources as usize, n);
        }
    }
    assert!(checked > 5000);
}

#[test]
fn solvers_and_fusion_methods_agree_on_the_salvo() {
    let s = scenario::generate(&ScenarioOptions {
        seed: 2,
        ..Default::default()
    })
    .unwrap();
    let set = s.report_set();
    let exact = correlate::correlate(&set, &Config::default()).unwrap();
    let auction = correlate::correlate(
        &set,
        &Config {
            solver: trackcorr::assign::Solver::Auction,
            ..Config::default()
        },
    )
    .unwrap();
    // The auction reaches the optimum on these small gated problems: the same decisions.
    for (a, b) in exact.replays[0]
        .epochs
        .iter()
        .zip(&auction.replays[0].epochs)
    {
        assert_eq!(a.live, b.live, "at {}", a.time);
    }
    for fusion in [
        trackcorr::fuse::FusionMethod::Independent,
        trackcorr::fuse::FusionMethod::BarShalomCampo,
    ] {
        for model in [
            trackcorr::propagate::MotionModel::ConstantVelocity,
            trackcorr::propagate::MotionModel::Ballistic,
        ] {
            let cfg = Config {
                fusion,
                rho: 0.2,
                propagation: trackcorr::propagate::Propagation {
                    model,
                    ..Default::default()
                },
                ..Config::default()
            };
            let corr = correlate::correlate(&set, &cfg).unwrap();
            let m = metrics::score(&corr, &s.sensors, &s.truth, &GospaParams::default()).unwrap();
            assert!(
                m.purity >= 0.98 && m.completeness >= 0.9,
                "{fusion:?} {model:?}: {} {}",
                m.purity,
                m.completeness
            );
        }
    }
}
