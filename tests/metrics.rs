//! Metrics on hand-built correlations whose scores can be worked out on paper.

use trackcorr::correlate::{
    Config, Correlation, Epoch, LiveTrack, LocalTrack, ReplayResult, StageTimes, SystemTrack,
};
use trackcorr::geo;
use trackcorr::metrics::{self, gospa::GospaParams};
use trackcorr::model::{Sensor, SensorTable, TruthSample};

fn sensors() -> SensorTable {
    SensorTable::new(vec![
        Sensor {
            name: "A".into(),
            network: "west".into(),
            radar: None,
        },
        Sensor {
            name: "B".into(),
            network: "east".into(),
            radar: None,
        },
    ])
}

fn local(sensor: u32, track: u32) -> LocalTrack {
    LocalTrack {
        sensor,
        track,
        reports: Vec::new(),
        max_age: 2.0,
    }
}

fn live(track: u32, truth: i32, system: u32) -> LiveTrack {
    LiveTrack {
        track,
        truth,
        system,
    }
}

/// A point on the equator, `east` metres east of longitude 0, at `alt` metres.
fn at(east: f64, alt: f64) -> [f64; 6] {
    let lon = east / geo::A;
    let p = geo::geodetic_to_ecef(0.0, lon, alt);
    [p[0], p[1], p[2], 0.0, 0.0, 0.0]
}

fn system(number: u32, state: [f64; 6]) -> SystemTrack {
    let mut cov = [[0.0; 6]; 6];
    for (i, row) in cov.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    SystemTrack {
        number,
        state,
        cov,
        sources: 1,
    }
}

fn correlation(epochs: Vec<Epoch>) -> Correlation {
    Correlation {
        replays: vec![ReplayResult {
            replay: 0,
            // A: sensor A (west) truth 0; B: sensor B (east) truth 0; C: sensor B truth 1.
            local: vec![local(0, 11), local(1, 21), local(1, 22)],
            epochs,
            swap_trades: 0,
            stitches: Vec::new(),
            sd: Default::default(),
        }],
        times: StageTimes::default(),
        cpu_reruns: Vec::new(),
        registration: Vec::new(),
        config: Config::default(),
    }
}

fn truth() -> Vec<TruthSample> {
    let mut t = Vec::new();
    for k in 0..4 {
        t.push(TruthSample {
            time: k as f64,
            state: at(0.0, 0.0),
            replay: 0,
            object: 0,
        });
        t.push(TruthSample {
            time: k as f64,
            state: at(50_000.0, 0.0),
            replay: 0,
            object: 1,
        });
    }
    t
}

/// Epochs 0..3 (A = track 0, B = 1, C = 2):
/// t0: A→1, B→2, C→3 ; t1: A,B→1, C→3 ; t2: A,C→1, B→2 ; t3: A,B→1, C→3.
fn four_epochs() -> Vec<Epoch> {
    let e =
        |time: f64, live: Vec<LiveTrack>, system: Vec<SystemTrack>| Epoch { time, live, system };
    vec![
        e(
            0.0,
            vec![live(0, 0, 1), live(1, 0, 2), live(2, 1, 3)],
            vec![
                system(1, at(0.0, 0.0)),
                system(2, at(0.0, 0.0)),
                system(3, at(50_000.0, 0.0)),
            ],
        ),
        // System track 1 is 3-4-0 m off its truth: position error 5 m.
        e(
            1.0,
            vec![live(0, 0, 1), live(1, 0, 1), live(2, 1, 3)],
            vec![system(1, at(3.0, 4.0)), system(3, at(50_000.0, 0.0))],
        ),
        e(
            2.0,
            vec![live(0, 0, 1), live(1, 0, 2), live(2, 1, 1)],
            vec![system(1, at(0.0, 0.0)), system(2, at(0.0, 0.0))],
        ),
        e(
            3.0,
            vec![live(0, 0, 1), live(1, 0, 1), live(2, 1, 3)],
            vec![system(1, at(0.0, 0.0)), system(3, at(50_000.0, 0.0))],
        ),
    ]
}

#[test]
fn purity_completeness_switches_and_coverage() {
    let m = metrics::score(
        &correlation(four_epochs()),
        &sensors(),
        &truth(),
        &GospaParams::default(),
    )
    .unwrap();
    // Pairs in one system track: t1 A-B (pure), t2 A-C (impure), t3 A-B (pure).
    assert_eq!(m.pairs_together, 3);
    assert!((m.purity - 2.0 / 3.0).abs() < 1e-12);
    // Same-object pairs from different sensors: A-B at every epoch, together at t1 and t3.
    assert_eq!(m.pairs_same_object, 4);
    assert!((m.completeness - 0.5).abs() < 1e-12);
    // Object 0 is held by 1 throughout (ties go to the older number); object 1 by 3, 3, 1, 3.
    let o0 = &m.objects[0];
    let o1 = &m.objects[1];
    assert_eq!((o0.track_switches, o1.track_switches), (0, 2));
    assert_eq!(m.track_switches, 2);
    assert_eq!(o0.main_track, Some(1));
    assert_eq!(o1.main_track, Some(3));
    assert!((o1.main_track_share - 0.75).abs() < 1e-12);
    // Coverage: A (west) and B (east) live at all four epochs of object 0's flight; C (east)
    // at all of object 1's.
    assert_eq!(o0.coverage["west"], 1.0);
    assert_eq!(o0.coverage["east"], 1.0);
    assert_eq!(o1.coverage["west"], 0.0);
    assert_eq!(o1.coverage_any, 1.0);
}

#[test]
fn rmse_counts_majority_labelled_system_tracks() {
    let m = metrics::score(
        &correlation(four_epochs()),
        &sensors(),
        &truth(),
        &GospaParams::default(),
    )
    .unwrap();
    // Labelled system-track epochs: t0 (1, 2, 3), t1 (1, 3), t2 (1: A truth 0 vs C truth 1,
    // a tie that goes to the smaller id 0; 2), t3 (1, 3): 9 errors, one of them 5 m.
    let want = (25.0f64 / 9.0).sqrt();
    assert!(
        (m.position_rmse_m - want).abs() < 1e-6,
        "{}",
        m.position_rmse_m
    );
    assert!(m.velocity_rmse_mps.abs() < 1e-9);
    // Every system track has one source here: none is fused.
    assert_eq!((m.fused_states, m.fused_position_rmse_m), (0, 0.0));
    // With two sources each, the fused RMSE is the whole RMSE.
    let mut epochs = four_epochs();
    for st in epochs.iter_mut().flat_map(|e| e.system.iter_mut()) {
        st.sources = 2;
    }
    let m = metrics::score(
        &correlation(epochs),
        &sensors(),
        &truth(),
        &GospaParams::default(),
    )
    .unwrap();
    assert_eq!(m.fused_states, 9);
    assert!((m.fused_position_rmse_m - want).abs() < 1e-6);
}

#[test]
fn gospa_mean_over_epochs() {
    let m = metrics::score(
        &correlation(four_epochs()),
        &sensors(),
        &truth(),
        &GospaParams::default(),
    )
    .unwrap();
    // t0: two tracks on truth 0, one on truth 1: one false track, c²/2 = 500 000.
    // t1: 5 m off truth 0 and exact on truth 1: localisation 25.
    // t2: truth 1 has no track within c: missed 500 000, plus a false track 500 000.
    // t3: perfect.
    let d = [500_000f64.sqrt(), 5.0, 1_000_000f64.sqrt(), 0.0];
    let want = d.iter().sum::<f64>() / 4.0;
    assert!(
        (m.gospa.mean - want).abs() < 1e-6,
        "{} vs {want}",
        m.gospa.mean
    );
    assert_eq!(m.gospa.epochs, 4);
}

#[test]
fn launch_and_impact_errors_of_a_ballistic_flight() {
    // A body thrown from the ground: 1500 m/s, 45° up, eastward, at the equator.
    let p0 = geo::geodetic_to_ecef(0.0, 0.0, 0.0);
    let up = geo::unit(&p0);
    let east = [0.0, 1.0, 0.0];
    let v = geo::add(&geo::scale(&up, 1060.66), &geo::scale(&east, 1060.66));
    let s0 = [p0[0], p0[1], p0[2], v[0], v[1], v[2]];
    let mut truth = Vec::new();
    let mut t = 0.0;
    let mut s = s0;
    while geo::altitude(&[s[0], s[1], s[2]]) >= 0.0 || t == 0.0 {
        truth.push(TruthSample {
            time: t,
            state: s,
            replay: 0,
            object: 0,
        });
        s = trackcorr::propagate::ballistic_state(&s, 1.0, 0.5);
        t += 1.0;
    }
    // The system track is the truth itself, from t = 5 s to the end, shifted 500 m east at
    // its first epoch only.
    let mut epochs = Vec::new();
    for ts in truth.iter().skip(5) {
        let mut state = ts.state;
        if epochs.is_empty() {
            state = trackcorr::propagate::ballistic_state(&truth[0].state, 5.0, 0.5);
            state[1] += 500.0;
        }
        epochs.push(Epoch {
            time: ts.time,
            live: vec![live(0, 0, 1)],
            system: vec![system(1, state)],
        });
    }
    let corr = Correlation {
        replays: vec![ReplayResult {
            replay: 0,
            local: vec![local(0, 1)],
            epochs,
            swap_trades: 0,
            stitches: Vec::new(),
            sd: Default::default(),
        }],
        times: StageTimes::default(),
        cpu_reruns: Vec::new(),
        registration: Vec::new(),
        config: Config::default(),
    };
    let m = metrics::score(&corr, &sensors(), &truth, &GospaParams::default()).unwrap();
    let o = &m.objects[0];
    // Flown back from 500 m east of the true state, the launch point is ~500 m east.
    let launch = o.launch_error_m.unwrap();
    assert!((launch - 500.0).abs() < 5.0, "{launch}");
    // From true states, the predicted impact point is the true one (to integration error).
    let impact = o.impact_error_final_m.unwrap();
    assert!(impact < 5.0, "{impact}");
    assert!(o.impact_error_mid_m.unwrap() < 5.0);
}
