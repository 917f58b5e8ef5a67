#!/usr/bin/env bash
# Tests the ASTERIX CAT 048 -> detections.csv path (tools/asterix/README.md), from the repo root:
#
#     python3 -m pip install --user libasterix==0.36.3
#     cargo build --release            # or TRACKCORR=path/to/trackcorr
#     bash tools/asterix/test_asterix.sh
#
# 1. make_sample.py remakes tests/data/asterix/ byte for byte (it is deterministic);
# 2. the converter decodes sample_cat048.ast to the committed expected_detections.csv;
# 3. every decoded plot, back in ECEF by trackcorr's WGS84 formulas, is where its noisy
#    measurement was up to ASTERIX quantisation, and where the truth is up to the noise
#    (cut at 3 sigma) plus quantisation (bounds below, per plot);
# 4. `trackcorr track` on the decoded plots makes confirmed local tracks that follow each of
#    the four aircraft on both radars;
# 5. user errors (unknown radar, corrupt file) exit 1 with a message and no traceback.
set -euo pipefail

PYTHON=${PYTHON:-python3}
TRACKCORR=${TRACKCORR:-target/release/trackcorr}
DATA=tests/data/asterix
TOOLS=tools/asterix
export PYTHONDONTWRITEBYTECODE=1

fail() { echo "test_asterix: FAIL: $*" >&2; exit 1; }

[ -f "$DATA/sample_cat048.ast" ] || fail "run from the repository root (no $DATA/sample_cat048.ast)"
"$PYTHON" -c 'import asterix.generated' 2>/dev/null ||
    fail "libasterix is not installed: $PYTHON -m pip install --user libasterix==0.36.3"
[ -x "$TRACKCORR" ] || fail "no trackcorr binary at $TRACKCORR (cargo build --release, or set TRACKCORR)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. The sample is what make_sample.py makes.
"$PYTHON" "$TOOLS/make_sample.py" --out "$tmp/sample" 2>/dev/null || fail "make_sample.py failed"
for f in sample_cat048.ast sensors.csv truth_positions.csv; do
    cmp -s "$tmp/sample/$f" "$DATA/$f" ||
        fail "make_sample.py no longer makes $DATA/$f (run it and commit, if the change is wanted)"
done
size=$(wc -c <"$DATA/sample_cat048.ast")
[ "$size" -lt 50000 ] || fail "sample_cat048.ast is $size bytes, expected under 50 KB"
echo "test_asterix: make_sample.py reproduces $DATA ($size bytes of ASTERIX)"

# 2. Decoding gives the golden detections.
"$PYTHON" "$TOOLS/asterix_to_csv.py" --cat048 "$DATA/sample_cat048.ast" \
    --sensors "$DATA/sensors.csv" --out "$tmp/detections.csv" 2>"$tmp/convert.err" ||
    { cat "$tmp/convert.err" >&2; fail "asterix_to_csv.py failed"; }
cat "$tmp/convert.err"
grep -q "(70 of other categories skipped: CAT 034: 70)" "$tmp/convert.err" ||
    fail "expected the 70 CAT 034 datablocks skipped"
grep -q "skipped 7 record(s): no height" "$tmp/convert.err" ||
    fail "expected 7 primary-only plots skipped for want of a height"
if ! cmp -s "$tmp/detections.csv" "$DATA/expected_detections.csv"; then
    diff -u "$DATA/expected_detections.csv" "$tmp/detections.csv" | head -20 >&2
    fail "decoded detections differ from $DATA/expected_detections.csv"
fi
echo "test_asterix: decoded detections match expected_detections.csv"

# 3. Decoded plots against the measurements and the truth.
"$PYTHON" - "$DATA" "$tmp/detections.csv" <<'EOF'
import csv, math, sys
sys.path.insert(0, "tools/asterix")
import geodesy as geo
from make_sample import RADARS

data, detections = sys.argv[1], sys.argv[2]
# Half a quantum of CAT 048: RHO 1/256 NM, THETA 360/2^16 deg, I090 1/4 FL = 25 ft,
# I110 25 ft; plus the rounding of the CSV (range 0.01 m, angles 1e-7 rad, which moves the
# height by up to 0.005 m + 5e-8 r) and the elevation solver's 1 mm, twice.
Q_R, Q_AZ = geo.NM / 256 / 2 + 0.005, math.pi / 65536 + 5e-8
def q_h(r):
    return 25 * geo.FT / 2 + 0.007 + 5e-8 * r
noise = {f"R{r['sac']}-{r['sic']}": r for r in RADARS}
sites = {r["sensor"]: geo.Site(float(r["lat_deg"]), float(r["lon_deg"]), float(r["alt_m"]))
         for r in csv.DictReader(open(f"{data}/sensors.csv"))}
truth = {(r["sensor"], f"{float(r['time']):.3f}"): r
         for r in csv.DictReader(open(f"{data}/truth_positions.csv"))}

def polar(site, p):
    r, az, _ = geo.range_az_el(site.position, site.basis, p)
    return r, az, geo.ecef_to_geodetic(p)[2]

def check(name, d, ref, bounds):
    """Largest ratio of error to bound, per component; the ECEF distance."""
    s = sites[d["sensor"]]
    p = s.point(float(d["range"]), float(d["azimuth"]), float(d["elevation"]))
    a, b = polar(s, p), polar(s, ref)
    daz = (a[1] - b[1] + math.pi) % (2 * math.pi) - math.pi
    errs = (abs(a[0] - b[0]), abs(daz), abs(a[2] - b[2]))
    ratios = [e / bd for e, bd in zip(errs, bounds)]
    if max(ratios) > 1:
        sys.exit(f"test_asterix: FAIL: plot {d['sensor']} t={d['time']}: {name} error "
                 f"(range {errs[0]:.2f} m, azimuth {errs[1]:.3g} rad, height {errs[2]:.2f} m)"
                 f" beyond its bound ({bounds[0]:.2f} m, {bounds[1]:.3g} rad, {bounds[2]:.2f} m)")
    return ratios, math.dist(p, ref)

worst = {"quantisation": [0, 0, 0, 0], "truth": [0, 0, 0, 0]}
n = 0
for d in csv.DictReader(open(detections)):
    t = truth.pop((d["sensor"], d["time"]), None)
    if t is None:
        sys.exit(f"test_asterix: FAIL: decoded plot {d['sensor']} t={d['time']} has no truth")
    nz = noise[d["sensor"]]
    s_h = nz["s_3d"] if nz["s_3d"] is not None else nz["s_fl"]
    meas = [float(t[k]) for k in ("meas_x", "meas_y", "meas_z")]
    true = [float(t[k]) for k in "xyz"]
    r = float(d["range"])
    for name, ref, bounds in (
        ("quantisation", meas, (Q_R, Q_AZ, q_h(r))),
        ("truth", true, (3 * nz["s_r"] + Q_R, math.radians(3 * nz["s_az"]) + Q_AZ,
                         3 * s_h + q_h(r))),
    ):
        ratios, dist = check(name, d, ref, bounds)
        w = worst[name]
        worst[name] = [max(w[0], dist)] + [max(x, y) for x, y in zip(w[1:], ratios)]
    n += 1
if truth:
    sys.exit(f"test_asterix: FAIL: {len(truth)} truth plots were not decoded")
for name, w in worst.items():
    print(f"test_asterix: {n} plots within their {name} bounds: largest ECEF distance "
          f"{w[0]:.1f} m; largest share of the bound: range {w[1]:.2f}, azimuth {w[2]:.2f}, "
          f"height {w[3]:.2f}")
EOF

# 4. Local tracks on both radars for each aircraft.
"$TRACKCORR" -q track --detections "$tmp/detections.csv" --sensors "$DATA/sensors.csv" \
    --backend cpu --out "$tmp/track" || fail "trackcorr track failed"
"$PYTHON" - "$DATA/truth_positions.csv" "$tmp/track/reports.csv" <<'EOF'
import bisect, collections, csv, math, sys
sys.path.insert(0, "tools/asterix")
from make_sample import RADARS, TARGETS

truth = collections.defaultdict(list)  # object -> [(time, x, y, z)]
plots = collections.defaultdict(list)  # (sensor, object) -> [time]
for r in csv.DictReader(open(sys.argv[1])):
    t, o = float(r["time"]), int(r["object"])
    truth[o].append((t, float(r["x"]), float(r["y"]), float(r["z"])))
    plots[(r["sensor"], o)].append(t)
for v in truth.values():
    v.sort()
# Every radar sees every aircraft, so every pair is checked below (not only those tracked).
pairs = {(f"R{r['sac']}-{r['sic']}", tg["obj"]) for r in RADARS for tg in TARGETS}
if set(plots) != pairs:
    sys.exit(f"test_asterix: FAIL: truth has plots of {sorted(plots)}, expected {sorted(pairs)}")

def at(o, t):
    """Truth of object o at t, linear between its plots (both radars'): up to 4 s apart."""
    tr = truth[o]
    i = min(max(bisect.bisect_left([x[0] for x in tr], t), 1), len(tr) - 1)
    a, b = tr[i - 1], tr[i]
    f = (t - a[0]) / (b[0] - a[0])
    return [a[k] + f * (b[k] - a[k]) for k in (1, 2, 3)]

tracks = collections.defaultdict(list)
for r in csv.DictReader(open(sys.argv[2])):
    tracks[(r["sensor"], int(r["track"]))].append(
        (float(r["time"]), [float(r["x"]), float(r["y"]), float(r["z"])]))
if not tracks:
    sys.exit("test_asterix: FAIL: trackcorr track wrote no reports")
# A track follows an object when at least 90 % of its reports are within 1 km of it (the
# tracker's ballistic model has no lift: between plots it lets aircraft sink, a few hundred m).
spans = collections.defaultdict(list)   # (sensor, object) -> [(first, last report time)]
errors = collections.defaultdict(list)  # (sensor, object) -> errors of its tracks' reports
for (sensor, number), reps in sorted(tracks.items()):
    for o in truth:
        near = sum(math.dist(p, at(o, t)) <= 1000.0 for t, p in reps)
        if near >= 0.9 * len(reps):
            spans[(sensor, o)].append((reps[0][0], reps[-1][0]))
            err = sorted(math.dist(p, at(o, t)) for t, p in reps)
            errors[(sensor, o)] += err
            print(f"test_asterix: {sensor} track {number} follows aircraft {o}: {len(reps)} "
                  f"reports, median error {err[len(err) // 2]:.0f} m, largest {err[-1]:.0f} m")
            break
    else:
        sys.exit(f"test_asterix: FAIL: {sensor} track {number} follows no aircraft")
# Each radar holds each aircraft, with one track or a few (one lost and restarted), over
# 85 % of the time it sees it. The spans are merged, so that two tracks on one aircraft at
# once do not count twice; a radar that keeps 1 track of 4 fails for the other three.
for (sensor, o), ts in sorted(plots.items()):
    covered, end = 0.0, -math.inf
    for a, b in sorted(spans[(sensor, o)]):
        covered += max(0.0, b - max(a, end))
        end = max(end, b)
    share = covered / (max(ts) - min(ts))
    n = len(spans[(sensor, o)])
    if share < 0.85:
        sys.exit(f"test_asterix: FAIL: {sensor} tracks aircraft {o} over {100 * share:.0f} % "
                 "of the time it sees it, expected at least 85 %")
    if n > 3:
        sys.exit(f"test_asterix: FAIL: {sensor} follows aircraft {o} with {n} tracks, "
                 "expected 1 to 3 (lost and restarted too often)")
    err = sorted(errors[(sensor, o)])
    median = err[len(err) // 2]
    if median > 400.0:
        sys.exit(f"test_asterix: FAIL: {sensor} tracks aircraft {o} with a median error of "
                 f"{median:.0f} m, expected at most 400 m")
    print(f"test_asterix: {sensor} tracks aircraft {o} over {100 * share:.0f} % of the time "
          f"with {n} track(s), median error {median:.0f} m")
EOF

# 5. User errors: a message, exit status 1, no traceback.
expect_error() {  # expect_error WHAT PATTERN ARGS...
    local what=$1 pattern=$2 rc=0
    shift 2
    "$PYTHON" "$TOOLS/asterix_to_csv.py" "$@" >"$tmp/err.out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "$what: exit status $rc, expected 1"
    grep -q "$pattern" "$tmp/err.out" || { cat "$tmp/err.out" >&2; fail "$what: no '$pattern'"; }
    if grep -q Traceback "$tmp/err.out"; then cat "$tmp/err.out" >&2; fail "$what: traceback"; fi
}
head -n 2 "$DATA/sensors.csv" >"$tmp/one_radar.csv"
expect_error "unknown radar" "R25-2 (SAC 25, SIC 2)" \
    --cat048 "$DATA/sample_cat048.ast" --sensors "$tmp/one_radar.csv" --out "$tmp/x.csv"
head -c 1000 "$DATA/sample_cat048.ast" >"$tmp/cut.ast"
expect_error "truncated file" "bad datablock at byte offset" \
    --cat048 "$tmp/cut.ast" --sensors "$DATA/sensors.csv" --out "$tmp/x.csv"
expect_error "missing file" "cannot read --cat048" \
    --cat048 "$tmp/none.ast" --sensors "$DATA/sensors.csv" --out "$tmp/x.csv"
[ ! -e "$tmp/x.csv" ] || fail "a failed conversion left its output behind"
echo "test_asterix: user errors give messages, exit status 1"
echo "test_asterix: OK"
