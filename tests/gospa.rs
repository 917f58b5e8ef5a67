//! GOSPA against Stone Soup's values (tests/data/gospa_stonesoup.txt) and hand-computed
//! cases.

use std::path::PathBuf;

use trackcorr::Error;
use trackcorr::metrics::gospa::{Gospa, GospaParams, gospa};

struct Case {
    name: String,
    params: GospaParams,
    truths: Vec<[f64; 3]>,
    tracks: Vec<[f64; 3]>,
    expected: Gospa,
}

/// Parses the reference file (format in tests/data/README of the `gospa-ref` branch):
/// `case NAME p P c C alpha A truths N tracks M distance D localisation L missed X false F`,
/// then N truth and M track lines `x y z`.
fn stonesoup_cases() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/gospa_stonesoup.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().enumerate();
    let mut cases = Vec::new();
    while let Some((k, header)) = lines.next() {
        let t: Vec<&str> = header.split_whitespace().collect();
        let keys = [
            "case",
            "p",
            "c",
            "alpha",
            "truths",
            "tracks",
            "distance",
            "localisation",
            "missed",
            "false",
        ];
        assert_eq!(t.len(), 20, "line {}: {header}", k + 1);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(t[2 * i], *key, "line {}: {header}", k + 1);
        }
        let num = |i: usize| -> f64 {
            t[i].parse()
                .unwrap_or_else(|_| panic!("line {}: bad number {}", k + 1, t[i]))
        };
        let mut points = |n: usize| -> Vec<[f64; 3]> {
            (0..n)
                .map(|_| {
                    let (k, line) = lines.next().expect("truncated reference file");
                    let v: Vec<f64> = line
                        .split_whitespace()
                        .map(|x| x.parse().expect("bad coordinate"))
                        .collect();
                    assert_eq!(v.len(), 3, "line {}: {line}", k + 1);
                    [v[0], v[1], v[2]]
                })
                .collect()
        };
        let truths = points(num(9) as usize);
        let tracks = points(num(11) as usize);
        cases.push(Case {
            name: t[1].to_string(),
            params: GospaParams {
                p: num(3),
                c: num(5),
                alpha: num(7),
            },
            truths,
            tracks,
            expected: Gospa {
                distance: num(13),
                localisation: num(15),
                missed: num(17),
                false_tracks: num(19),
            },
        });
    }
    cases
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[track_caller]
fn assert_gospa(name: &str, got: Gospa, expected: Gospa) {
    let pairs = [
        ("distance", got.distance, expected.distance),
        ("localisation", got.localisation, expected.localisation),
        ("missed", got.missed, expected.missed),
        ("false", got.false_tracks, expected.false_tracks),
    ];
    for (what, g, e) in pairs {
        assert!(close(g, e), "{name}: {what} {g} vs {e} ({got:?})");
    }
}

#[test]
fn matches_stone_soup() {
    let cases = stonesoup_cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    for case in &cases {
        let got = gospa(&case.truths, &case.tracks, &case.params).unwrap();
        assert_gospa(&case.name, got, case.expected);
    }
}

#[test]
fn hand_computed_cases() {
    let params = GospaParams {
        p: 2.0,
        c: 10.0,
        alpha: 2.0,
    };
    let origin = [[0.0, 0.0, 0.0]];
    // One pair 3 apart: localisation 3² and distance 3.
    let got = gospa(&origin, &[[0.0, 3.0, 0.0]], &params).unwrap();
    assert_gospa(
        "pair",
        got,
        Gospa {
            distance: 3.0,
            localisation: 9.0,
            missed: 0.0,
            false_tracks: 0.0,
        },
    );
    // No tracks: every truth missed at c²/2.
    let got = gospa(&[[0.0; 3], [5.0, 5.0, 5.0]], &[], &params).unwrap();
    assert_gospa(
        "no tracks",
        got,
        Gospa {
            distance: 10.0,
            localisation: 0.0,
            missed: 100.0,
            false_tracks: 0.0,
        },
    );
    // No truths: every track false.
    let got = gospa(&[], &[[1.0; 3]; 3], &params).unwrap();
    assert_gospa(
        "no truths",
        got,
        Gospa {
            distance: 150.0_f64.sqrt(),
            localisation: 0.0,
            missed: 0.0,
            false_tracks: 150.0,
        },
    );
    // A track farther than c is a missed truth plus a false track, distance c.
    let got = gospa(&origin, &[[20.0, 0.0, 0.0]], &params).unwrap();
    assert_gospa(
        "far",
        got,
        Gospa {
            distance: 10.0,
            localisation: 0.0,
            missed: 50.0,
            false_tracks: 50.0,
        },
    );
    // Greedy nearest pair (1.5 ↔ 1) would cost 0.25 + 9; the optimum is 1 + 2.25.
    let got = gospa(
        &[[0.0; 3], [1.5, 0.0, 0.0]],
        &[[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]],
        &params,
    )
    .unwrap();
    assert_gospa(
        "optimal",
        got,
        Gospa {
            distance: 3.25_f64.sqrt(),
            localisation: 3.25,
            missed: 0.0,
            false_tracks: 0.0,
        },
    );
    // p = 1, one truth matched at 1, the other missed (c/2), no false tracks.
    let p1 = GospaParams { p: 1.0, ..params };
    let got = gospa(&[[0.0; 3], [100.0, 0.0, 0.0]], &[[1.0, 0.0, 0.0]], &p1).unwrap();
    assert_gospa(
        "p1",
        got,
        Gospa {
            distance: 6.0,
            localisation: 1.0,
            missed: 5.0,
            false_tracks: 0.0,
        },
    );
    // Nothing at all: zero (Stone Soup cannot be asked this).
    assert_eq!(gospa(&[], &[], &params).unwrap(), Gospa::default());
}

#[test]
fn default_params_are_stone_soup_like() {
    let d = GospaParams::default();
    assert_eq!((d.p, d.c, d.alpha), (2.0, 1000.0, 2.0));
}

#[test]
fn bad_params_and_points_are_errors() {
    let x = [[0.0; 3]];
    for params in [
        GospaParams {
            alpha: 1.0,
            ..GospaParams::default()
        },
        GospaParams {
            p: 0.5,
            ..GospaParams::default()
        },
        GospaParams {
            c: 0.0,
            ..GospaParams::default()
        },
    ] {
        assert!(matches!(gospa(&x, &x, &params), Err(Error::Config(_))));
    }
    let nan = [[0.0, f64::NAN, 0.0]];
    assert!(matches!(
        gospa(&x, &nan, &GospaParams::default()),
        Err(Error::Numeric(_))
    ));
}
