//! The picture of a correlation (`correlate --plot`, `demo`): for one replay, a map of the
//! truth, each network's local tracks and the fused system tracks; coverage per object and
//! network; and GOSPA against time. Drawn once as SVG (by hand: text stays text) and
//! rasterised to PNG by resvg with an embedded font.

use crate::correlate::ReplayResult;
use crate::error::{Error, Result};
use crate::geo;
use crate::metrics::ObjectMetrics;
use crate::model::{Report, SensorTable, TruthSample};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Network colours, in network order (then repeating).
const PALETTE: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];
const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 900.0;
/// Mean Earth radius for the map's local projection (m).
const EARTH_RADIUS: f64 = 6_371_000.0;

/// What the picture shows: one replay of a run.
pub struct PlotData<'a> {
    pub title: String,
    pub sensors: &'a SensorTable,
    /// The replay's local-track reports.
    pub reports: Vec<&'a Report>,
    /// The replay's truth (may be empty).
    pub truth: Vec<&'a TruthSample>,
    pub result: Option<&'a ReplayResult>,
    /// The replay's objects as scored (empty without truth).
    pub objects: Vec<&'a ObjectMetrics>,
    /// GOSPA distance (m) against time (empty without truth).
    pub gospa: &'a [(f64, f64)],
}

/// A rectangle of the drawing and the data range it maps.
struct Frame {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    lo: (f64, f64),
    hi: (f64, f64),
}

impl Frame {
    /// A frame at `(x0, y0)`, `w × h` pixels, showing `lo..hi` (km) with equal scales on
    /// both axes, widened by `margin` (1.08: 8 %).
    fn equal_scales(
        (x0, y0, w, h): (f64, f64, f64, f64),
        lo: (f64, f64),
        hi: (f64, f64),
        margin: f64,
    ) -> Frame {
        let span = ((hi.0 - lo.0) / w).max((hi.1 - lo.1) / h).max(1e-3) * margin;
        let c = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
        Frame {
            x0,
            y0,
            w,
            h,
            lo: (c.0 - span * w / 2.0, c.1 - span * h / 2.0),
            hi: (c.0 + span * w / 2.0, c.1 + span * h / 2.0),
        }
    }

    fn px(&self, x: f64) -> f64 {
        self.x0 + (x - self.lo.0) / (self.hi.0 - self.lo.0) * self.w
    }
    fn py(&self, y: f64) -> f64 {
        self.y0 + self.h - (y - self.lo.1) / (self.hi.1 - self.lo.1) * self.h
    }
}

/// A round step giving about `n` ticks over `span`.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Axes with ticks and labels around a frame.
fn axes(svg: &mut String, f: &Frame, xlabel: &str, ylabel: &str) {
    let _ = write!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/>"##,
        f.x0, f.y0, f.w, f.h
    );
    for (x, label) in ticks(f.lo.0, f.hi.0, 6.0) {
        let p = f.px(x);
        let _ = write!(
            svg,
            r##"<line x1="{p:.1}" y1="{:.1}" x2="{p:.1}" y2="{:.1}" stroke="#444"/><text x="{p:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            f.y0 + f.h,
            f.y0 + f.h + 5.0,
            f.y0 + f.h + 18.0,
        );
    }
    for (y, label) in ticks(f.lo.1, f.hi.1, 5.0) {
        let p = f.py(y);
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{p:.1}" x2="{:.1}" y2="{p:.1}" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
            f.x0 - 5.0,
            f.x0,
            f.x0 - 8.0,
            p + 4.0,
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        f.x0 + f.w / 2.0,
        f.y0 + f.h + 36.0,
        esc(xlabel),
        f.x0 - 48.0,
        f.y0 + f.h / 2.0,
        esc(ylabel)
    );
}

/// About `n` round tick values over `[lo, hi]`, with their labels.
fn ticks(lo: f64, hi: f64, n: f64) -> Vec<(f64, String)> {
    let step = tick_step(hi - lo, n);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 * step {
        out.push((v, fmt_tick(v, step)));
        v += step;
    }
    out
}

fn fmt_tick(v: f64, step: f64) -> String {
    // No "-0" for a tick at zero that rounding left a hair below it.
    let v = if v.abs() < 1e-9 * step { 0.0 } else { v };
    if step >= 1.0 {
        format!("{v:.0}")
    } else {
        let digits = (-step.log10().floor()) as usize;
        format!("{v:.digits$}")
    }
}

/// Local east/north (km) of ECEF points about a reference latitude and longitude.
struct Projection {
    lat0: f64,
    lon0: f64,
}

impl Projection {
    /// About the mean latitude and longitude of `points`.
    fn about(points: &[[f64; 3]]) -> Projection {
        let n = points.len().max(1) as f64;
        let (lat, lon) = points.iter().fold((0.0, 0.0), |a, p| {
            let (lat, lon, _) = geo::ecef_to_geodetic(p);
            (a.0 + lat, a.1 + lon)
        });
        Projection {
            lat0: lat / n,
            lon0: lon / n,
        }
    }

    fn km(&self, p: &[f64]) -> (f64, f64) {
        let (lat, lon, _) = geo::ecef_to_geodetic(&[p[0], p[1], p[2]]);
        (
            (lon - self.lon0) * self.lat0.cos() * EARTH_RADIUS / 1e3,
            (lat - self.lat0) * EARTH_RADIUS / 1e3,
        )
    }
}

/// DejaVu Sans (free licence, `assets/fonts/DejaVuSans-LICENSE.txt`), so that the PNG has
/// its text on machines without fonts (cluster nodes, containers).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The picture as PNG: the SVG rasterised at its own size.
pub fn png(svg: &str) -> Result<Vec<u8>> {
    let fail = |e: String| Error::Config(format!("cannot draw the picture: {e}"));
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_font_data(FONT.to_vec());
    opt.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(|e| fail(e.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| fail("empty picture".into()))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| fail(e.to_string()))
}

/// The picture as an SVG document.
pub fn svg(d: &PlotData) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{:.0}" y="24" text-anchor="middle" font-size="16">{}</text>"##,
        WIDTH / 2.0,
        esc(&d.title)
    );
    map(&mut svg, d);
    coverage(&mut svg, d);
    gospa(&mut svg, d);
    svg.push_str("</svg>\n");
    svg
}

/// Map: truth (grey), local-track reports (dots, by network), system tracks (black lines),
/// radar sites (triangles).
fn map(svg: &mut String, d: &PlotData) {
    let mut points: Vec<[f64; 3]> = d.truth.iter().map(|t| pos(&t.state)).collect();
    points.extend(d.reports.iter().map(|r| pos(&r.state)));
    let sites: Vec<(String, usize, [f64; 3])> = d
        .sensors
        .sensors
        .iter()
        .enumerate()
        .filter_map(|(k, s)| {
            s.radar.as_ref().map(|r| {
                (
                    s.name.clone(),
                    d.sensors.network_of[k],
                    geo::geodetic_to_ecef(r.lat_deg.to_radians(), r.lon_deg.to_radians(), 0.0),
                )
            })
        })
        .collect();
    points.extend(sites.iter().map(|s| s.2));
    if points.is_empty() {
        return;
    }
    let proj = Projection::about(&points);
    let km: Vec<(f64, f64)> = points.iter().map(|p| proj.km(p)).collect();
    let (lo, hi) = extent(&km);
    let f = Frame::equal_scales((80.0, 50.0, 600.0, 420.0), lo, hi, 1.08);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">Ground tracks</text>"##,
        f.x0 + f.w / 2.0,
        f.y0 - 8.0
    );
    // Truth: one grey line per object.
    let mut by_object: BTreeMap<u32, Vec<(f64, &TruthSample)>> = BTreeMap::new();
    for t in &d.truth {
        by_object.entry(t.object).or_default().push((t.time, t));
    }
    for samples in by_object.values_mut() {
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        polyline(
            svg,
            &f,
            samples.iter().map(|(_, t)| proj.km(&t.state)),
            "#999",
            4.0,
            0.6,
        );
    }
    // Local tracks: a dot per report, in its network's colour.
    for r in &d.reports {
        let (x, y) = proj.km(&r.state);
        let net = d
            .sensors
            .network_of
            .get(r.sensor as usize)
            .copied()
            .unwrap_or(0);
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="1.3" fill="{}" fill-opacity="0.45"/>"##,
            f.px(x),
            f.py(y),
            PALETTE[net % PALETTE.len()]
        );
    }
    // System tracks: a black line per number.
    if let Some(res) = d.result {
        let mut by_number: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
        for e in &res.epochs {
            for s in &e.system {
                by_number
                    .entry(s.number)
                    .or_default()
                    .push(proj.km(&s.state));
            }
        }
        for line in by_number.values() {
            polyline(svg, &f, line.iter().copied(), "#000", 1.0, 0.9);
        }
    }
    for (name, net, p) in &sites {
        let (x, y) = proj.km(p);
        let (px, py) = (f.px(x), f.py(y));
        let _ = write!(
            svg,
            r##"<path d="M{:.1},{:.1} l6,10 h-12 z" fill="{}" stroke="#000" stroke-width="0.5"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            px,
            py - 6.0,
            PALETTE[net % PALETTE.len()],
            px + 8.0,
            py + 4.0,
            esc(name)
        );
    }
    axes(svg, &f, "east (km)", "north (km)");
    // Legend: (colour, line width or 0 for a dot, label).
    let mut legend: Vec<(&str, f64, String)> = vec![
        ("#999", 4.0, "truth".into()),
        ("#000", 1.0, "system tracks (fused)".into()),
    ];
    for (k, name) in d.sensors.networks.iter().enumerate() {
        legend.push((
            PALETTE[k % PALETTE.len()],
            0.0,
            format!("{name} local tracks"),
        ));
    }
    // In a row under the map, clear of the tracks and sites.
    let items: Vec<(&str, Mark, String)> = legend
        .into_iter()
        .map(|(colour, width, label)| {
            let mark = if width > 0.0 {
                Mark::Line(width)
            } else {
                Mark::Dot
            };
            (colour, mark, label)
        })
        .collect();
    legend_row(svg, f.x0, f.y0 + f.h + 62.0, &items);
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Mark {
    /// A line of this width.
    Line(f64),
    /// A dashed line, as the hand-over predictions.
    Dash,
    Dot,
}

/// A legend in a row from `(x, y)`: each entry's mark in its colour, then its label.
fn legend_row(svg: &mut String, mut x: f64, y: f64, items: &[(&str, Mark, String)]) {
    for (colour, mark, label) in items {
        let _ = match mark {
            Mark::Line(width) => write!(
                svg,
                r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="{width}"/>"##,
                x + 20.0
            ),
            Mark::Dash => write!(
                svg,
                r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="1.6" stroke-dasharray="6,4"/>"##,
                x + 20.0
            ),
            Mark::Dot => write!(
                svg,
                r##"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"##,
                x + 10.0
            ),
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}">{}</text>"##,
            x + 26.0,
            y + 4.0,
            esc(label)
        );
        // About 7 px per character at 12 px.
        x += 46.0 + 7.0 * label.chars().count() as f64;
    }
}

/// The smallest and largest x and y of `points`.
fn extent(points: &[(f64, f64)]) -> ((f64, f64), (f64, f64)) {
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for &(x, y) in points {
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    }
    (lo, hi)
}

fn pos(s: &[f64; 6]) -> [f64; 3] {
    [s[0], s[1], s[2]]
}

fn polyline(
    svg: &mut String,
    f: &Frame,
    points: impl Iterator<Item = (f64, f64)>,
    colour: &str,
    width: f64,
    opacity: f64,
) {
    let mut pts = String::new();
    for (x, y) in points {
        let _ = write!(pts, "{:.1},{:.1} ", f.px(x), f.py(y));
    }
    let _ = write!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-opacity="{opacity}" stroke-linejoin="round"/>"##,
        pts.trim_end()
    );
}

/// Coverage: per object, the share of its flight each network held a local track on it,
/// and the share a system track held it.
fn coverage(svg: &mut String, d: &PlotData) {
    let (x0, y0, w, h) = (830.0, 50.0, 330.0, 420.0);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">Coverage of each object's flight</text>"##,
        x0 + w / 2.0 - 30.0,
        y0 - 8.0
    );
    if d.objects.is_empty() {
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">(needs --truth)</text>"##,
            x0 + w / 2.0,
            y0 + h / 2.0
        );
        return;
    }
    let bars = d.sensors.networks.len() + 1;
    let row = h / d.objects.len() as f64;
    let bar = (row - 6.0) / bars as f64;
    for (i, o) in d.objects.iter().enumerate() {
        let top = y0 + i as f64 * row;
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">object {}</text>"##,
            x0 - 8.0,
            top + row / 2.0 + 4.0,
            o.object
        );
        let mut values: Vec<(f64, &str)> = d
            .sensors
            .networks
            .iter()
            .enumerate()
            .map(|(k, n)| {
                (
                    o.coverage.get(n).copied().unwrap_or(0.0),
                    PALETTE[k % PALETTE.len()],
                )
            })
            .collect();
        values.push((o.coverage_fused, "#000"));
        for (k, (v, colour)) in values.iter().enumerate() {
            let _ = write!(
                svg,
                r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/>"##,
                top + 3.0 + k as f64 * bar,
                v.clamp(0.0, 1.0) * w,
                (bar - 1.0).max(0.5)
            );
        }
    }
    let f = Frame {
        x0,
        y0,
        w,
        h,
        lo: (0.0, 0.0),
        hi: (100.0, 1.0),
    };
    let _ = write!(
        svg,
        r##"<rect x="{x0:.1}" y="{y0:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#444"/>"##
    );
    for pct in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let p = f.px(pct);
        let _ = write!(
            svg,
            r##"<line x1="{p:.1}" y1="{:.1}" x2="{p:.1}" y2="{:.1}" stroke="#444"/><text x="{p:.1}" y="{:.1}" text-anchor="middle">{pct:.0}</text>"##,
            y0 + h,
            y0 + h + 5.0,
            y0 + h + 18.0
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">% of flight (black: fused)</text>"##,
        x0 + w / 2.0,
        y0 + h + 36.0
    );
}

/// GOSPA distance against time.
fn gospa(svg: &mut String, d: &PlotData) {
    let (x0, y0, w, h) = (80.0, 590.0, 1080.0, 250.0);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">GOSPA against time</text>"##,
        x0 + w / 2.0,
        y0 - 8.0
    );
    if d.gospa.is_empty() {
        let _ = write!(
            svg,
            r##"<rect x="{x0:.1}" y="{y0:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="middle">(needs --truth)</text>"##,
            x0 + w / 2.0,
            y0 + h / 2.0
        );
        return;
    }
    let t_lo = d.gospa.first().map_or(0.0, |g| g.0);
    let t_hi = d.gospa.last().map_or(1.0, |g| g.0).max(t_lo + 1.0);
    let g_hi = d.gospa.iter().map(|g| g.1).fold(0.0, f64::max).max(1.0) * 1.05;
    let f = Frame {
        x0,
        y0,
        w,
        h,
        lo: (t_lo, 0.0),
        hi: (t_hi, g_hi),
    };
    polyline(svg, &f, d.gospa.iter().copied(), "#1f1f7a", 1.2, 1.0);
    axes(svg, &f, "time (s)", "GOSPA (m)");
}

/// Where a state at a time goes on a panel's plane.
type ToPlane<'a> = &'a dyn Fn(f64, &[f64]) -> (f64, f64);

/// The picture of one hand-over (`handover.png`): the first stitch of the replay (the first
/// that joins one object, with truth) as altitude against time and as a ground track: the
/// object's truth (grey), the reports of every local track its system track held (dots, by
/// network), the system track's fused estimate (black), the gap no network saw (shaded),
/// and the two predictions the hand-over test compared (dashed: the ended side forward,
/// the started side backward, to the middle of the gap). `None` without a stitch.
pub fn handover_svg(d: &PlotData, cfg: &crate::correlate::Config) -> Option<String> {
    let res = d.result?;
    let stitch = res
        .stitches
        .iter()
        .find(|s| s.truth_ended >= 0 && s.truth_ended == s.truth_started)
        .or(res.stitches.first())?;
    let number = stitch.number;
    // The system track's fused states, and the local tracks it held (with when).
    let mut fused: Vec<(f64, [f64; 6])> = Vec::new();
    let mut held: BTreeMap<u32, f64> = BTreeMap::new();
    for e in &res.epochs {
        if let Some(s) = e.system.iter().find(|s| s.number == number) {
            fused.push((e.time, s.state));
        }
        for l in e.live.iter().filter(|l| l.system == number) {
            held.entry(l.track).or_insert(e.time);
        }
    }
    let reports: Vec<&Report> = held
        .keys()
        .filter_map(|&j| res.local.get(j as usize))
        .flat_map(|lt| lt.reports.iter().filter_map(|&i| d.reports.get(i).copied()))
        .collect();
    let truth: Vec<&TruthSample> = {
        let mut t: Vec<&TruthSample> = d
            .truth
            .iter()
            .copied()
            .filter(|t| stitch.truth_ended >= 0 && t.object == stitch.truth_ended as u32)
            .collect();
        t.sort_by(|a, b| a.time.total_cmp(&b.time));
        t
    };
    // The two sides' estimates, predicted into the gap as the hand-over test does.
    let at = |t: f64| {
        fused
            .iter()
            .find(|(time, _)| *time >= t - 1e-9)
            .or(fused.last())
    };
    let end = fused
        .iter()
        .rev()
        .find(|(t, _)| *t <= stitch.end_time + 1e-9)?;
    let start = at(stitch.start_time + cfg.stitch.settle)?;
    let mid = 0.5 * (stitch.end_time + stitch.start_time);
    let propagation = crate::propagate::Propagation {
        q: cfg.stitch.q,
        ..cfg.propagation
    };
    let predict = |from: &(f64, [f64; 6])| -> Vec<(f64, [f64; 6])> {
        (0..=24)
            .map(|k| {
                let t = from.0 + (mid - from.0) * k as f64 / 24.0;
                let cov = crate::linalg::identity6();
                let (x, _) = crate::propagate::propagate(&from.1, &cov, t - from.0, &propagation);
                (t, x)
            })
            .collect()
    };
    let forward = predict(end);
    let backward = predict(start);

    let (width, height) = (1200.0, 560.0);
    let mut svg = String::new();
    let network_of = |sensor: u32| {
        d.sensors
            .network_of
            .get(sensor as usize)
            .copied()
            .unwrap_or(0)
    };
    let sides: Vec<String> = [false, true]
        .iter()
        .map(|&after| {
            let mut names: Vec<&str> = reports
                .iter()
                .filter(|r| {
                    if after {
                        r.time >= stitch.start_time
                    } else {
                        r.time <= stitch.end_time
                    }
                })
                .map(|r| d.sensors.networks[network_of(r.sensor)].as_str())
                .collect();
            names.sort_unstable();
            names.dedup();
            names.join(" + ")
        })
        .collect();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{:.0}" y="24" text-anchor="middle" font-size="16">{}</text>"##,
        width / 2.0,
        esc(&format!(
            "replay {}: system track {number} handed over from {} to {} across a {:.0} s gap (d² = {:.1})",
            res.replay,
            sides[0],
            sides[1],
            stitch.start_time - stitch.end_time,
            stitch.d2
        ))
    );

    // Left: altitude against time.
    let alt = |s: &[f64]| geo::ecef_to_geodetic(&[s[0], s[1], s[2]]).2 / 1e3;
    let mut pts: Vec<(f64, f64)> = truth.iter().map(|t| (t.time, alt(&t.state))).collect();
    pts.extend(reports.iter().map(|r| (r.time, alt(&r.state))));
    pts.extend(fused.iter().map(|(t, s)| (*t, alt(s))));
    let bounds = |pts: &[(f64, f64)]| {
        let (lo, hi) = extent(pts);
        let pad = |a: f64, b: f64| 0.04 * (b - a).max(1e-3);
        let (px, py) = (pad(lo.0, hi.0), pad(lo.1, hi.1));
        ((lo.0 - px, lo.1 - py), (hi.0 + px, hi.1 + py))
    };
    let (lo, hi) = bounds(&pts);
    let f = Frame {
        x0: 80.0,
        y0: 60.0,
        w: 500.0,
        h: 380.0,
        lo,
        hi,
    };
    let _ = write!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#666">no report</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">Altitude against time</text>"##,
        f.px(stitch.end_time),
        f.y0,
        f.px(stitch.start_time) - f.px(stitch.end_time),
        f.h,
        f.px(mid),
        f.y0 + f.h - 8.0,
        f.x0 + f.w / 2.0,
        f.y0 - 8.0
    );
    let panel = |svg: &mut String, f: &Frame, xy: ToPlane| {
        polyline(
            svg,
            f,
            truth.iter().map(|t| xy(t.time, &t.state)),
            "#999",
            4.0,
            0.6,
        );
        for r in &reports {
            let (x, y) = xy(r.time, &r.state);
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{}" fill-opacity="0.6"/>"##,
                f.px(x),
                f.py(y),
                PALETTE[network_of(r.sensor) % PALETTE.len()]
            );
        }
        // The fused line, broken where the system track had no estimate.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut last = f64::NEG_INFINITY;
        for (t, s) in &fused {
            if t - last > 2.0 * cfg.epoch_interval && !run.is_empty() {
                polyline(svg, f, run.drain(..), "#000", 1.2, 0.9);
            }
            run.push(xy(*t, s));
            last = *t;
        }
        polyline(svg, f, run.into_iter(), "#000", 1.2, 0.9);
        for prediction in [&forward, &backward] {
            let mut p = String::new();
            for (t, s) in prediction {
                let (x, y) = xy(*t, s);
                let _ = write!(p, "{:.1},{:.1} ", f.px(x), f.py(y));
            }
            let _ = write!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="1.6" stroke-dasharray="6,4"/>"##,
                p.trim_end()
            );
        }
    };
    panel(&mut svg, &f, &|t, s| (t, alt(s)));
    axes(&mut svg, &f, "time (s)", "altitude (km)");

    // Right: the ground track around the gap, equal scales.
    let (t0, t1) = (
        stitch.end_time - 40.0,
        stitch.start_time + cfg.stitch.settle + 20.0,
    );
    let near = |t: f64| t >= t0 && t <= t1;
    let mut ground: Vec<[f64; 3]> = truth
        .iter()
        .filter(|t| near(t.time))
        .map(|t| pos(&t.state))
        .collect();
    ground.extend(
        reports
            .iter()
            .filter(|r| near(r.time))
            .map(|r| pos(&r.state)),
    );
    ground.extend(fused.iter().filter(|(t, _)| near(*t)).map(|(_, s)| pos(s)));
    let proj = Projection::about(&ground);
    let km: Vec<(f64, f64)> = ground.iter().map(|p| proj.km(p)).collect();
    let (lo, hi) = bounds(&km);
    let g = Frame::equal_scales((680.0, 60.0, 480.0, 380.0), lo, hi, 1.0);
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">Ground track from {:.0} to {:.0} s</text><clipPath id="ground"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/></clipPath><g clip-path="url(#ground)">"##,
        g.x0 + g.w / 2.0,
        g.y0 - 8.0,
        t0,
        t1,
        g.x0,
        g.y0,
        g.w,
        g.h
    );
    panel(&mut svg, &g, &|_, s| proj.km(s));
    svg.push_str("</g>");
    axes(&mut svg, &g, "east (km)", "north (km)");

    // Legend, in a row under both panels.
    let mut legend: Vec<(&str, Mark, String)> = vec![
        ("#999", Mark::Line(4.0), "truth".into()),
        (
            "#000",
            Mark::Line(2.0),
            format!("system track {number} (fused)"),
        ),
        ("#d62728", Mark::Dash, "hand-over predictions".into()),
    ];
    let mut nets: Vec<usize> = reports.iter().map(|r| network_of(r.sensor)).collect();
    nets.sort_unstable();
    nets.dedup();
    for k in nets {
        legend.push((
            PALETTE[k % PALETTE.len()],
            Mark::Dot,
            format!("{} local tracks", d.sensors.networks[k]),
        ));
    }
    legend_row(&mut svg, 80.0, height - 40.0, &legend);
    svg.push_str("</svg>\n");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1000.0, 5.0), 200.0);
        assert_eq!(tick_step(7.0, 6.0), 1.0);
        assert_eq!(tick_step(0.9, 5.0), 0.2);
        assert_eq!(fmt_tick(0.4, 0.2), "0.4");
        assert_eq!(esc("a<b & c"), "a&lt;b &amp; c");
    }
}
