//! `correlate --plot` as a user runs it: a PNG and an SVG of the first replay, with what the
//! picture promises (a line per truth object and per system track, a bar per object and
//! network, GOSPA against time), the same bytes on a second run.

#[path = "common/cli.rs"]
mod cli;

use cli::{Scratch, correlate, ok, read};

#[test]
fn correlate_plot_draws_the_first_replay() {
    let scratch = Scratch::new("plot");
    let dir = scratch.0.clone();
    ok(
        &dir,
        &[
            "generate",
            "--replays",
            "2",
            "--objects",
            "3",
            "--duration",
            "200",
            "--out",
            "g",
        ],
        &[],
    );
    let correlate = |out: &str| correlate(&dir, "g", out, &["--plot"]);
    correlate("a");
    correlate("b");
    let png = read(&dir.join("a"), "plot.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (1200, 900));
    assert!(
        png == read(&dir.join("b"), "plot.png"),
        "PNG differs between runs"
    );

    let svg = std::fs::read_to_string(dir.join("a/plot.svg")).unwrap();
    // System tracks of replay 0, from the CSV the run wrote.
    let csv = std::fs::read_to_string(dir.join("a/system_tracks.csv")).unwrap();
    let mut numbers: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("0,"))
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    // Polylines: one per truth object (3), one per system track, and the GOSPA curve.
    let polylines = svg.matches("<polyline").count();
    assert_eq!(
        polylines,
        3 + numbers.len() + 1,
        "{} system tracks",
        numbers.len()
    );
    for text in [
        "launch local tracks",
        "mid local tracks",
        "impact local tracks",
        "object 2",
        "GOSPA against time",
        "replay 0: purity",
    ] {
        assert!(svg.contains(text), "no `{text}` in the picture");
    }
    // A bar per object and network, and one for the fused coverage: 3 × (3 + 1); and the
    // panel's frame.
    assert_eq!(svg.matches(r#"<rect x="830.0""#).count(), 12 + 1);
}

/// A hand-over scenario's first replay gets `handover.png` and `handover.svg` (the stitched
/// system track, the gap, the two predictions, each network's reports); a replay without a
/// hand-over gets none.
#[test]
fn correlate_plot_draws_a_hand_over() {
    let scratch = Scratch::new("plot-handover");
    let dir = scratch.0.clone();
    for (scenario, out) in [("handover", "h"), ("salvo", "s")] {
        ok(
            &dir,
            &[
                "generate",
                "--scenario",
                scenario,
                "--seed",
                "1",
                "--out",
                &format!("in-{out}"),
            ],
            &[],
        );
        correlate(&dir, &format!("in-{out}"), out, &["--plot"]);
    }
    assert!(!dir.join("s/handover.png").exists());
    let png = read(&dir.join("h"), "handover.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = String::from_utf8(read(&dir.join("h"), "handover.svg")).unwrap();
    assert!(
        svg.contains("handed over from launch to"),
        "{}",
        &svg[..400]
    );
    assert!(svg.contains(">no report<"));
    // Two dashed predictions per panel.
    assert_eq!(svg.matches("stroke-dasharray=\"6,4\"/>").count(), 4 + 1);
    for network in ["launch", "mid", "impact"] {
        assert!(svg.contains(&format!("{network} local tracks")));
    }
}
