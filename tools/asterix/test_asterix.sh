#!/usr/bin/env bash
# Tests the ASTERIX paths of tools/asterix/README.md, CAT 048 -> detections.csv and CAT 062 ->
# reports.csv, from the repo root:
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
# 5. user errors (unknown radar, corrupt file) exit 1 with a message and no traceback;
# 6. the CAT 062 converter decodes sample_cat062.ast to the committed
#    expected_reports_cat062.csv, and an SDPS missing from sensors.csv is a one-line error;
# 7. every converted system track report is where the SDPS's noisy estimate was up to
#    quantisation, the covariances are positive definite and fit the errors against the
#    truth, and the I062/100 and I062/135 paths, the I062/500 APW path and the defaults for
#    missing items agree with what was encoded;
# 8. `trackcorr correlate` on the SDPS reports and the radars' local tracks of step 4 puts
#    each aircraft's SDPS track in one system track with that aircraft's radar tracks.
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
for f in sample_cat048.ast sensors.csv truth_positions.csv sample_cat062.ast truth_cat062.csv; do
    cmp -s "$tmp/sample/$f" "$DATA/$f" ||
        fail "make_sample.py no longer makes $DATA/$f (run it and commit, if the change is wanted)"
done
size=$(wc -c <"$DATA/sample_cat048.ast")
[ "$size" -lt 50000 ] || fail "sample_cat048.ast is $size bytes, expected under 50 KB"
size062=$(wc -c <"$DATA/sample_cat062.ast")
[ "$size062" -lt 50000 ] || fail "sample_cat062.ast is $size062 bytes, expected under 50 KB"
echo "test_asterix: make_sample.py reproduces $DATA ($size + $size062 bytes of ASTERIX)"

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
"$PYTHON" - "$DATA/truth_positions.csv" "$tmp/track/reports.csv" "$tmp/followed.csv" <<'EOF'
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
followed = []  # (sensor, track, object), for step 8
for (sensor, number), reps in sorted(tracks.items()):
    for o in truth:
        near = sum(math.dist(p, at(o, t)) <= 1000.0 for t, p in reps)
        if near >= 0.9 * len(reps):
            followed.append(f"{sensor},{number},{o}\n")
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
open(sys.argv[3], "w").write("sensor,track,object\n" + "".join(followed))
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

# 6. CAT 062 to the golden reports. Alongside (each run spends seconds importing libasterix),
#    the same file with the SDPS missing from sensors.csv: a one-line error, exit status 1.
grep -v '^S25-100,' "$DATA/sensors.csv" >"$tmp/no_sdps.csv"
"$PYTHON" "$TOOLS/cat062_to_reports.py" --cat062 "$DATA/sample_cat062.ast" \
    --sensors "$tmp/no_sdps.csv" --out "$tmp/y.csv" >"$tmp/err062.out" 2>&1 &
err_pid=$!
"$PYTHON" "$TOOLS/cat062_to_reports.py" --cat062 "$DATA/sample_cat062.ast" \
    --sensors "$DATA/sensors.csv" --out "$tmp/reports062.csv" 2>"$tmp/convert062.err" ||
    { cat "$tmp/convert062.err" >&2; fail "cat062_to_reports.py failed"; }
rc=0
wait "$err_pid" || rc=$?
cat "$tmp/convert062.err"
grep -q "(30 of other categories skipped: CAT 065: 30)" "$tmp/convert062.err" ||
    fail "expected the 30 CAT 065 end-of-batch datablocks skipped"
grep -q "skipped 3 record(s): no position" "$tmp/convert062.err" ||
    fail "expected the 3 records without a position skipped"
if grep -q "report(s):" "$tmp/convert062.err"; then
    fail "the sample has every item and accuracy, yet the converter took a default"
fi
if ! cmp -s "$tmp/reports062.csv" "$DATA/expected_reports_cat062.csv"; then
    diff -u "$DATA/expected_reports_cat062.csv" "$tmp/reports062.csv" | head -20 >&2
    fail "converted reports differ from $DATA/expected_reports_cat062.csv"
fi
[ "$rc" -eq 1 ] || { cat "$tmp/err062.out" >&2; fail "unknown SDPS: exit status $rc, expected 1"; }
{ [ "$(wc -l <"$tmp/err062.out")" -eq 1 ] &&
    grep -q "^cat062_to_reports: error: SDPS not in .*S25-100 (SAC 25, SIC 100)" \
        "$tmp/err062.out"; } ||
    { cat "$tmp/err062.out" >&2; fail "unknown SDPS: expected one line naming S25-100"; }
[ ! -e "$tmp/y.csv" ] || fail "a failed CAT 062 conversion left its output behind"
echo "test_asterix: CAT 062 reports match expected_reports_cat062.csv;" \
    "unknown SDPS: one line, exit 1"

# 7. Converted reports against the SDPS's noisy estimates and the truth; the other paths.
"$PYTHON" - "$DATA" "$tmp" <<'EOF'
import contextlib, csv, io, math, statistics, sys
sys.path.insert(0, "tools/asterix")
import cat062_to_reports as c62
import geodesy as geo

data, tmp = sys.argv[1], sys.argv[2]

def fail(msg):
    sys.exit(f"test_asterix: FAIL: {msg}")

def read(path):
    """reports.csv -> {(time, track): (position, velocity, 6×6 covariance)}"""
    out = {}
    for r in csv.DictReader(open(path)):
        c = [[0.0] * 6 for _ in range(6)]
        cols = iter(c62.COV_COLUMNS)
        for i in range(6):
            for j in range(i, 6):
                c[i][j] = c[j][i] = float(r[next(cols)])
        out[(r["time"], int(r["track"]))] = ([float(r[k]) for k in "xyz"],
                                             [float(r[k]) for k in ("vx", "vy", "vz")], c)
    return out

def mahalanobis2(cov, d):
    """dᵀ cov⁻¹ d by a Cholesky factorisation, which fails the test unless cov is positive
    definite."""
    n = len(d)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = cov[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if s <= 0.0:
                    fail(f"a covariance is not positive definite: {cov}")
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    y = []
    for i in range(n):
        y.append((d[i] - sum(low[i][k] * y[k] for k in range(i))) / low[i][i])
    return sum(v * v for v in y)

def run(*args):
    """The converter in this process (libasterix is imported once), stderr captured."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = c62.main(list(args))
    if rc != 0:
        fail(f"cat062_to_reports {' '.join(args)}: exit status {rc}: {err.getvalue()}")
    return err.getvalue()

def vec(row, keys):
    return [float(row[k]) for k in keys]

truth = {(r["time"], int(r["track"])): r for r in csv.DictReader(open(f"{data}/truth_cat062.csv"))}
# Half a quantum: I062/105 180/2^25 deg (0.30 m north, 0.20 m east here), I062/100 0.5 m,
# I062/130 6.25 ft, I062/135 1/4 FL; I062/185 0.25 m/s, I062/220 6.25 ft/min; plus the CSV's
# 1 mm and 0.1 mm/s.
H105, H100 = math.hypot(0.30, 0.20), math.hypot(0.25, 0.25)
Z130, Z135 = 6.25 * geo.FT / 2, 0.25 * c62.FL / 2
Q_VEL = math.hypot(0.125, 0.125, 6.25 * geo.FT / 60 / 2) + 2e-4

def against_noisy(name, reports, q_h, q_z):
    """Each report against the SDPS's noisy estimate before quantisation: horizontally, in
    height and in velocity within half a quantum."""
    if set(reports) != set(truth):
        fail(f"{name}: reports of {len(reports)} (time, track), truth has {len(truth)}")
    worst = [0.0, 0.0, 0.0]
    for key, (p, v, _) in reports.items():
        m = vec(truth[key], ("meas_x", "meas_y", "meas_z"))
        lat, lon, _ = geo.ecef_to_geodetic(m)
        up = geo.enu_basis(lat, lon)[2]
        d = [p[i] - m[i] for i in range(3)]
        dz = sum(d[i] * up[i] for i in range(3))
        dh = math.sqrt(max(0.0, sum(x * x for x in d) - dz * dz))
        dv = math.dist(v, vec(truth[key], ("meas_vx", "meas_vy", "meas_vz")))
        if dh > q_h + 0.002 or abs(dz) > q_z + 0.002 or dv > Q_VEL:
            fail(f"{name}: report {key}: {dh:.2f} m across, {dz:.2f} m up, {dv:.3f} m/s from the "
                 f"SDPS's estimate (bounds {q_h:.2f} m, {q_z:.2f} m, {Q_VEL:.3f} m/s)")
        worst = [max(worst[0], dh), max(worst[1], abs(dz)), max(worst[2], dv)]
    print(f"test_asterix: CAT 062 {name}: {len(reports)} reports within half a quantum of the "
          f"SDPS's estimates (largest {worst[0]:.2f} m across, {worst[1]:.2f} m in height, "
          f"{worst[2]:.3f} m/s)")

reports = read(f"{tmp}/reports062.csv")
against_noisy("I062/105 + I062/130", reports, H105, Z130)
# Against the truth: the noise was drawn from the encoded accuracies, cut at 3 sigma per
# component, so the position's squared Mahalanobis distance under the converted covariance is
# at most 27 (3 dimensions; 30 leaves room for the quantisation), and the mean 6-D normalised
# error (NEES) is near 6: 5.6 expected here (the cut, and AGA's 6.25 ft steps round the 5.0 m
# height sigma up to 5.7 m); the mean of 120 has a sd of 0.3.
dist, nees = [], []
for key, (p, v, c) in reports.items():
    t = truth[key]
    d = [p[i] - x for i, x in enumerate(vec(t, "xyz"))] + \
        [v[i] - x for i, x in enumerate(vec(t, ("vx", "vy", "vz")))]
    if mahalanobis2([row[:3] for row in c[:3]], d[:3]) > 30.0:
        fail(f"report {key} is {math.dist(p, vec(t, 'xyz')):.0f} m from the truth, beyond 3 sigma")
    dist.append(math.dist(p, vec(t, "xyz")))
    nees.append(mahalanobis2(c, d))
mean_nees = statistics.fmean(nees)
if not 4.5 <= mean_nees <= 7.5:
    fail(f"mean NEES of the reports against the truth {mean_nees:.2f}, expected 4.5 to 7.5 "
         "(6 degrees of freedom): the covariances do not fit the errors")
print(f"test_asterix: CAT 062 positions against the truth: median {statistics.median(dist):.0f} m, "
      f"largest {max(dist):.0f} m, each within 3 sigma; mean NEES {mean_nees:.2f} (5.6 expected); "
      "covariances positive definite")

common = ["--cat062", f"{data}/sample_cat062.ast", "--sensors", f"{data}/sensors.csv"]
run(*common, "--out", f"{tmp}/cartesian.csv", "--position", "cartesian")
against_noisy("I062/100 (stereographic plane) + I062/130", read(f"{tmp}/cartesian.csv"), H100, Z130)
run(*common, "--out", f"{tmp}/barometric.csv", "--height", "barometric")
against_noisy("I062/105 + I062/135", read(f"{tmp}/barometric.csv"), H105, Z135)

# Hand-made records for the other paths: 1, APW accuracies and a measured flight level;
# 2, a position in the plane alone and no I062/500, I062/185, I062/220 (defaults, counted);
# 3, accuracies of zero and an XY covariance beyond σx σy, with a track end; and 3 again.
base, gen = c62.a2c.load_asterix()
cat = gen.Cat_062_1_21
src = (("SAC", 25), ("SIC", 100))
wgs = (("LAT", (48.7, "°")), ("LON", (12.6, "°")))
recs = [
    {"010": src, "070": (100.0, "s"), "040": 1, "105": wgs, "136": (300.0, "FL"),
     "185": (("VX", (100.0, "m/s")), ("VY", (0.0, "m/s"))), "220": (0.0, "ft/min"),
     "500": {"APW": (("LAT", (3e-4, "°")), ("LON", (6e-4, "°"))),
             "ATV": (("X", (2.0, "m/s")), ("Y", (3.0, "m/s"))), "ARC": (100.0, "ft/min")}},
    {"010": src, "070": (100.0, "s"), "040": 2,
     "100": (("X", (60000.0, "m")), ("Y", (-40000.0, "m"))), "130": (20000.0, "ft")},
    {"010": src, "070": (100.0, "s"), "040": 3, "105": wgs, "130": (20000.0, "ft"),
     "185": (("VX", (0.0, "m/s")), ("VY", (100.0, "m/s"))), "220": (0.0, "ft/min"),
     "080": ((0, 0, 0, 0, 0, None), (0, 1, 0, 0, 0, 0, 0, None)),
     "500": {"APC": (("X", (0.0, "m")), ("Y", (0.0, "m"))), "COV": (10.0, "m"),
             "AGA": (0.0, "ft"), "ATV": (("X", (0.0, "m/s")), ("Y", (0.0, "m/s"))),
             "ARC": (0.0, "ft/min")}},
]
recs.append(recs[-1])
with open(f"{tmp}/handmade.ast", "wb") as f:
    f.write(cat.create([cat.cv_record.create(r) for r in recs]).unparse().to_bytes())
err = run("--cat062", f"{tmp}/handmade.ast", "--sensors", f"{data}/sensors.csv",
          "--out", f"{tmp}/handmade.csv", "--default-sigma-pos-m", "150")
for line in ("skipped 1 record(s): a second record of one track at one time",
             "1 report(s): --default-sigma-pos-m", "2 report(s): --default-sigma-alt-m",
             "1 report(s): no I062/185", "1 report(s): no I062/220",
             "1 report(s): I062/500 COV beyond", "1 track end(s) (I062/080 TSE) not used"):
    if line not in err:
        fail(f"hand-made records: no '{line}' in\n{err}")
out = read(f"{tmp}/handmade.csv")
sdps = next(r for r in csv.DictReader(open(f"{data}/sensors.csv")) if r["sensor"] == "S25-100")
plane = geo.Stereographic(math.radians(float(sdps["lat_deg"])),
                          math.radians(float(sdps["lon_deg"])))

def enu(track):
    """A report's (lat, lon, h), velocity and covariance in east/north/up."""
    p, v, c = out[("100.000", track)]
    lat, lon, h = geo.ecef_to_geodetic(p)
    b = geo.enu_basis(lat, lon)
    r = [[0.0] * 6 for _ in range(6)]  # ECEF -> ENU on both blocks
    for o in (0, 3):
        for i in range(3):
            for j in range(3):
                r[o + i][o + j] = b[i][j]
    c2 = [[sum(r[i][a] * c[a][b2] * r[j][b2] for a in range(6) for b2 in range(6))
           for j in range(6)] for i in range(6)]
    return (lat, lon, h), [sum(v[k] * b[i][k] for k in range(3)) for i in range(3)], c2

def close(a, b, tol, what):
    if abs(a - b) > tol:
        fail(f"hand-made records: {what} {a:.6g}, expected {b:.6g}")

(lat, lon, h), v, c = enu(1)  # APW in degrees to metres; the height from I062/136
w = 1 - geo.E2 * math.sin(lat) ** 2
close(math.sqrt(c[1][1]), math.radians(3e-4) * (geo.A * (1 - geo.E2) / w**1.5 + h), 0.1,
      "APW north sigma")
close(math.sqrt(c[0][0]), math.radians(6e-4) * (geo.A / math.sqrt(w) + h) * math.cos(lat), 0.1,
      "APW east sigma")
close(h, 300 * c62.FL, 0.01, "height from I062/136")
close(math.sqrt(c[2][2]), 30.0, 0.2, "--default-sigma-alt-m with I062/136")
close(math.sqrt(c[3][3]), 2.0, 0.01, "ATV east sigma")
close(v[0], 100.0, 1e-3, "east velocity")
(lat, lon, h), v, c = enu(2)  # I062/100 alone; defaults
x, y = plane.forward(lat, lon)
close(x, 60000.0, 1e-3, "plane x")
close(y, -40000.0, 1e-3, "plane y")
close(math.sqrt(c[0][0]), 150.0, 0.01, "--default-sigma-pos-m")
close(math.sqrt(c[3][3]), 200.0, 1e-6, "sigma of a missing velocity")
close(math.sqrt(c[5][5]), 200.0, 1e-6, "sigma of a missing rate of climb")
close(max(abs(x) for x in v), 0.0, 1e-9, "missing velocity")
_, v, c = enu(3)  # zero accuracies: the values' rounding alone is left
close(c[0][0], 0.6**2 / 12, 1e-4, "east variance of I062/105's rounding")
close(c[3][3], 0.25**2 / 12, 1e-6, "velocity variance of I062/185's rounding")
close(v[1], 100.0, 1e-3, "north velocity")
for p, v, c in out.values():
    mahalanobis2(c, [1.0] * 6)  # positive definite
print("test_asterix: CAT 062 hand-made records: APW, I062/136, I062/100 alone, defaults, "
      "a clamped covariance, a duplicate and a track end come out as documented")
EOF

# 8. trackcorr correlates the SDPS tracks with the radars' local tracks of step 4. The two
#    reports files merge into one: one header (the union of the columns; `truth` empty where
#    missing), rows sorted by replay, time, sensor, track.
"$PYTHON" - "$tmp/track/reports.csv" "$tmp/reports062.csv" "$tmp/merged.csv" <<'EOF'
import csv, sys
columns, rows = [], []
for path in sys.argv[1:3]:
    reader = csv.DictReader(open(path))
    columns += [c for c in reader.fieldnames if c not in columns]
    rows += list(reader)
rows.sort(key=lambda r: (int(r["replay"]), float(r["time"]), r["sensor"], int(r["track"])))
with open(sys.argv[3], "w", newline="\n") as f:
    f.write(",".join(columns) + "\n")
    f.writelines(",".join(r.get(c) or "" for c in columns) + "\n" for r in rows)
EOF
"$TRACKCORR" -q correlate --reports "$tmp/merged.csv" --sensors "$DATA/sensors.csv" \
    --backend cpu --out "$tmp/correlate" || fail "trackcorr correlate failed"
"$PYTHON" - "$DATA/truth_cat062.csv" "$tmp/followed.csv" "$tmp/correlate/associations.csv" <<'EOF'
import collections, csv, sys
aircraft = {}  # (sensor, track) -> object: the SDPS's from the sample, the radars' from step 4
for r in csv.DictReader(open(sys.argv[1])):
    aircraft[(r["sensor"], r["track"])] = int(r["object"])
sdps = sorted(aircraft)
for r in csv.DictReader(open(sys.argv[2])):
    aircraft[(r["sensor"], r["track"])] = int(r["object"])
epochs = collections.defaultdict(dict)  # time -> {(sensor, track): system track}
for r in csv.DictReader(open(sys.argv[3])):
    epochs[r["time"]][(r["sensor"], r["track"])] = r["system_track"]
# Per SDPS track and radar: of the epochs at which both have a live track of the aircraft,
# the share at which they are in one system track; never with another aircraft's track.
for s in sdps:
    o = aircraft[s]
    both, together = collections.Counter(), collections.Counter()
    for live in epochs.values():
        if s not in live:
            continue
        for m, system_track in live.items():
            if m[0] == s[0]:
                continue
            if aircraft.get(m) != o:
                if system_track == live[s]:
                    sys.exit(f"test_asterix: FAIL: SDPS track {s[1]} (aircraft {o}) shares a "
                             f"system track with {m}, a track of aircraft {aircraft.get(m)}")
                continue
            both[m[0]] += 1
            together[m[0]] += system_track == live[s]
    if sorted(both) != ["R25-1", "R25-2"]:
        sys.exit(f"test_asterix: FAIL: SDPS track {s[1]} never overlaps the tracks of "
                 f"aircraft {o} of both radars")
    for radar in sorted(both):
        share = together[radar] / both[radar]
        if share < 0.9:
            sys.exit(f"test_asterix: FAIL: SDPS track {s[1]} (aircraft {o}) is with {radar}'s "
                     f"track of it at {100 * share:.0f} % of {both[radar]} epochs, expected 90 %")
        print(f"test_asterix: SDPS track {s[1]} (aircraft {o}) is with {radar}'s track of it at "
              f"{together[radar]} of {both[radar]} epochs ({100 * share:.1f} %)")
EOF
echo "test_asterix: OK"
