#!/usr/bin/env python3
"""Converts recorded ASTERIX CAT 062 (SDPS system tracks) into trackcorr's reports.csv, one
sensor per SDPS, with libasterix (pip install libasterix==0.36.3).

    python3 tools/asterix/cat062_to_reports.py --cat062 FILE.ast [--cat062 MORE.ast]
        --sensors sensors.csv --out reports.csv
        [--replay 0] [--sensor-name 'S{sac}-{sic}'] [--position auto|wgs84|cartesian]
        [--height auto|geometric|barometric] [--default-sigma-pos-m 200]
        [--default-sigma-vel-ms 10] [--default-sigma-alt-m 30] [--default-sigma-roc-ms 2.5]
        [--edition 1.21]

Input: raw ASTERIX datablocks, concatenated as recorded (no recorder framing). Datablocks of
other categories (CAT 065 SDPS status, CAT 048 plots, ...) are skipped and counted.

Per CAT 062 record with I062/010 (SAC/SIC), I062/070 (time of track information), I062/040
(track number), a position and a height, one row
`replay,time,sensor,track,x,y,z,vx,vy,vz` + the 21 `cov_` columns (WGS84 ECEF, m, m/s):
  time      I062/070 in s; a time of day that wraps past midnight (a jump back of more than
            12 h against the record before) is unwrapped by whole days, as asterix_to_csv.py;
  sensor    --sensor-name formatted with sac and sic; it must be a sensor of --sensors, whose
            lat/lon is the SDPS's system reference point (the origin of its Cartesian plane);
  track     I062/040;
  position  I062/105 latitude/longitude, else I062/100 x/y in the SDPS plane taken as the
            oblique stereographic projection (EPSG 9809) at the reference point; height
            I062/130 (geometric, above the WGS84 ellipsoid), else I062/135 (barometric), else
            I062/136 (measured flight level), the latter two taken as heights above the
            ellipsoid (no QNH, temperature or geoid correction);
  velocity  I062/185 Vx, Vy (east and north at the track, as CAT 062 defines them) and I062/220
            rate of climb/descent (up); a missing one is 0 with a 200 m/s sigma, as trackcorr
            takes the velocity of position-only reports;
  cov       from I062/500: APC σx, σy and COV (in the plane's axes, turned to east/north) or
            else APW σlat, σlon; AGA (with I062/130) or ABA (with I062/135) for the height;
            ATV for Vx, Vy; ARC for the rate of climb. A missing accuracy takes its
            --default-sigma-* and is counted. Built in east/north/up, block diagonal (CAT 062
            has no position-velocity terms), plus each value's rounding (LSB²/12), and turned
            into ECEF: symmetric positive definite.
Records without I062/010, I062/070 or I062/040, without a position or a height are skipped and
counted, as is a second record of one track at one time. I062/080 track end (TSE) is not used:
a track number that the SDPS gives again later continues the same track in reports.csv.
Rows are sorted by time, then sensor and track, as trackcorr requires.
"""

import argparse
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import asterix_to_csv as a2c  # noqa: E402  (shared: sensors.csv, datablocks, atomic writes)
import geodesy as geo  # noqa: E402

PROG = "cat062_to_reports"
UserError = a2c.UserError

# trackcorr takes the velocity variance of position-only reports as (200 m/s)² (README,
# "Files"): the same for a record without I062/185 or I062/220.
UNKNOWN_VELOCITY_SIGMA = 200.0
# An SDPS rounds COV to 0.5 m of its square root, so a thin error ellipse may come out with
# |Cov| >= σx σy; the correlation is held at 0.999 at most (counted), which keeps the matrix
# well away from singular even after the CSV's 7 significant digits.
MAX_CORRELATION = 0.999
FL = 100.0 * geo.FT  # metres per flight level
# The reported values' own rounding, added to their variances as LSB²/12: I062/105 is "better
# than 0.6 m", I062/100 0.5 m, I062/130 6.25 ft, I062/135 and I062/136 1/4 FL, I062/185
# 0.25 m/s, I062/220 6.25 ft/min. It also keeps a covariance whose accuracies round to 0
# positive definite.
Q_VAR = {k: lsb * lsb / 12.0 for k, lsb in {
    "105": 0.6, "100": 0.5, "130": 6.25 * geo.FT, "135": 0.25 * FL, "136": 0.25 * FL,
    "185": 0.25, "220": 6.25 * geo.FT / 60.0}.items()}


class Stats(a2c.Stats):
    def __init__(self):
        super().__init__()
        self.defaults = {}  # what took a default -> rows
        self.track_ends = 0

    def default(self, what):
        self.defaults[what] = self.defaults.get(what, 0) + 1


quantity = a2c.quantity  # quantity(variation, subitem name, unit)


def element(item, unit):
    return item.variation.content.as_quantity(unit)


def bit(variation, name):
    """A flag of an extended item, 0 when the extent that holds it was not sent."""
    sub = variation.get_item(name)
    return 0 if sub is None else sub.as_uint()


def convert(args):
    sites = a2c.read_sensors(args.sensors)
    blocks = a2c.read_datablocks(args.cat062, "--cat062")
    stats = Stats()
    clock = a2c.Clock()
    planes = {}  # sensor name -> geo.Stereographic at its reference point
    rows = {}  # (time, sensor, track) -> (position, velocity, covariance)
    unknown = {}  # sensor name -> (sac, sic)
    for rec in a2c.records(blocks, 62, args.edition, stats):
        i010, i070, i040 = rec.get_item("010"), rec.get_item("070"), rec.get_item("040")
        if i010 is None or i070 is None or i040 is None:
            stats.skip("no I062/010, I062/070 or I062/040")
            continue
        sac, sic = a2c.sac_sic(i010)
        t = clock.time(element(i070, "s"))
        name = args.sensor_name.format(sac=sac, sic=sic)
        site = sites.get(name)
        if site is None:
            unknown[name] = (sac, sic)
            continue
        key = (t, name, i040.variation.as_uint())
        if key in rows:
            stats.skip("a second record of one track at one time (the first kept)")
            continue
        if name not in planes:
            planes[name] = geo.Stereographic(site.lat, site.lon)
        state = track_state(rec, planes[name], args, stats)
        if state is None:
            continue
        rows[key] = state
        i080 = rec.get_item("080")
        if i080 is not None and bit(i080.variation, "TSE"):
            stats.track_ends += 1
    if unknown:
        raise UserError(f"SDPS not in {args.sensors}: {a2c.unknown_sensors(unknown)}; the "
                        f"file has {', '.join(sorted(sites)) or 'no sensors'}. Add it (its system "
                        "reference point as the site) or change --sensor-name")
    write_reports(args.out, args.replay, sorted(rows.items()))
    report(stats, rows, args.out)


def track_state(rec, plane, args, stats):
    """(ECEF position, ECEF velocity, 6×6 ECEF covariance) of a record, or None (counted)."""
    # Position: latitude, longitude and which item gave them.
    i105, i100 = rec.get_item("105"), rec.get_item("100")
    if i105 is not None and args.position in ("auto", "wgs84"):
        lat = math.radians(quantity(i105.variation, "LAT", "°"))
        lon = math.radians(quantity(i105.variation, "LON", "°"))
        pos_item = "105"
    elif i100 is not None and args.position in ("auto", "cartesian"):
        lat, lon = plane.inverse(quantity(i100.variation, "X", "m"),
                                 quantity(i100.variation, "Y", "m"))
        pos_item = "100"
    else:
        stats.skip({"auto": "no position (neither I062/105 nor I062/100)",
                    "wgs84": "no I062/105", "cartesian": "no I062/100"}[args.position])
        return None
    height = track_height(rec, args.height)
    if height is None:
        stats.skip({"auto": "no height (none of I062/130, I062/135, I062/136)",
                    "geometric": "no I062/130",
                    "barometric": "no I062/135 or I062/136"}[args.height])
        return None
    h, h_item = height

    acc = rec.get_item("500")
    acc = None if acc is None else acc.variation

    def accuracy(name):
        return None if acc is None else acc.get_item(name)

    cov = [[0.0] * 6 for _ in range(6)]  # east, north, up, v_east, v_north, v_up
    # Horizontal position.
    apc, apw = accuracy("APC"), accuracy("APW")
    if apc is not None:
        sx, sy = quantity(apc.variation, "X", "m"), quantity(apc.variation, "Y", "m")
        cov_item = accuracy("COV")
        cxy = 0.0
        if cov_item is not None:
            c = element(cov_item, "m")  # sign(Cov) · sqrt(|Cov|)
            cxy = math.copysign(c * c, c)
            if abs(cxy) > MAX_CORRELATION * sx * sy:
                cxy = math.copysign(MAX_CORRELATION * sx * sy, cxy)
                stats.default("I062/500 COV beyond ±0.999 σx σy: clamped")
        # APC is in the plane's axes: back to east/north at the track (convergence γ, scale k).
        k, g = plane.axes(lat, lon)
        cg, sg = math.cos(g) / k, math.sin(g) / k
        m = ((cg, -sg), (sg, cg))  # (e, n) = m · (x, y)
        pxy = ((sx * sx, cxy), (cxy, sy * sy))
        for i in range(2):
            for j in range(2):
                cov[i][j] = sum(m[i][a] * pxy[a][b] * m[j][b] for a in range(2) for b in range(2))
    elif apw is not None:
        # Degrees of latitude and longitude to metres north and east at the track.
        s_lat = math.radians(quantity(apw.variation, "LAT", "°"))
        s_lon = math.radians(quantity(apw.variation, "LON", "°"))
        sl = math.sin(lat)
        w = 1.0 - geo.E2 * sl * sl
        meridian, normal = geo.A * (1.0 - geo.E2) / w**1.5, geo.A / math.sqrt(w)
        cov[0][0] = (s_lon * (normal + h) * math.cos(lat)) ** 2
        cov[1][1] = (s_lat * (meridian + h)) ** 2
    else:
        cov[0][0] = cov[1][1] = args.default_sigma_pos_m ** 2
        stats.default("--default-sigma-pos-m (no I062/500 APC or APW)")
    cov[0][0] += Q_VAR[pos_item]
    cov[1][1] += Q_VAR[pos_item]
    # Height.
    sigma_h = {"130": accuracy("AGA"), "135": accuracy("ABA")}.get(h_item)
    if sigma_h is not None:
        cov[2][2] = (element(sigma_h, "ft") * geo.FT if h_item == "130"
                     else element(sigma_h, "FL") * FL) ** 2
    else:
        cov[2][2] = args.default_sigma_alt_m ** 2
        stats.default("--default-sigma-alt-m (no I062/500 AGA or ABA for the height used)")
    cov[2][2] += Q_VAR[h_item]
    # Horizontal velocity: east and north at the track.
    i185 = rec.get_item("185")
    if i185 is not None:
        ve, vn = quantity(i185.variation, "VX", "m/s"), quantity(i185.variation, "VY", "m/s")
        atv = accuracy("ATV")
        if atv is not None:
            cov[3][3] = quantity(atv.variation, "X", "m/s") ** 2
            cov[4][4] = quantity(atv.variation, "Y", "m/s") ** 2
        else:
            cov[3][3] = cov[4][4] = args.default_sigma_vel_ms ** 2
            stats.default("--default-sigma-vel-ms (no I062/500 ATV)")
        cov[3][3] += Q_VAR["185"]
        cov[4][4] += Q_VAR["185"]
    else:
        ve = vn = 0.0
        cov[3][3] = cov[4][4] = UNKNOWN_VELOCITY_SIGMA ** 2
        stats.default("no I062/185: horizontal velocity 0 ± 200 m/s")
    # Vertical velocity.
    i220 = rec.get_item("220")
    if i220 is not None:
        vu = element(i220, "ft/min") * geo.FT / 60.0
        arc = accuracy("ARC")
        if arc is not None:
            cov[5][5] = (element(arc, "ft/min") * geo.FT / 60.0) ** 2
        else:
            cov[5][5] = args.default_sigma_roc_ms ** 2
            stats.default("--default-sigma-roc-ms (no I062/500 ARC)")
        cov[5][5] += Q_VAR["220"]
    else:
        vu = 0.0
        cov[5][5] = UNKNOWN_VELOCITY_SIGMA ** 2
        stats.default("no I062/220: vertical velocity 0 ± 200 m/s")

    position = geo.geodetic_to_ecef(lat, lon, h)
    basis = geo.enu_basis(lat, lon)
    velocity = tuple(ve * basis[0][i] + vn * basis[1][i] + vu * basis[2][i] for i in range(3))
    return position, velocity, geo.enu_to_ecef_covariance(basis, cov)


def track_height(rec, which):
    """(height in m, item) from I062/130, I062/135 or I062/136 as --height says, or None."""
    if which in ("auto", "geometric"):
        i130 = rec.get_item("130")
        if i130 is not None:
            return element(i130, "ft") * geo.FT, "130"
        if which == "geometric":
            return None
    i135 = rec.get_item("135")
    if i135 is not None:
        return quantity(i135.variation, "CTB", "FL") * FL, "135"
    i136 = rec.get_item("136")
    if i136 is not None:
        return element(i136, "FL") * FL, "136"
    return None


COV_COLUMNS = [f"cov_{a}_{b}" for i, a in enumerate(("x", "y", "z", "vx", "vy", "vz"))
               for b in ("x", "y", "z", "vx", "vy", "vz")[i:]]


def write_reports(out, replay, rows):
    lines = ["replay,time,sensor,track,x,y,z,vx,vy,vz," + ",".join(COV_COLUMNS) + "\n"]
    for (t, sensor, track), (p, v, c) in rows:
        upper = ",".join(f"{c[i][j]:.6e}" for i in range(6) for j in range(i, 6))
        lines.append(f"{replay},{t:.3f},{sensor},{track},{p[0]:.3f},{p[1]:.3f},{p[2]:.3f},"
                     f"{v[0]:.4f},{v[1]:.4f},{v[2]:.4f},{upper}\n")
    a2c.write_text(out, "".join(lines), ".reports-")


def report(stats, rows, out):
    tracks = len({(s, n) for _, s, n in rows})
    print(f"{PROG}: {stats.summary(62)}, {len(rows)} reports of {tracks} tracks written to "
          f"{out}", file=sys.stderr)
    stats.print_skipped(PROG)
    for what, n in sorted(stats.defaults.items()):
        print(f"{PROG}: {n} report(s): {what}", file=sys.stderr)
    if stats.track_ends:
        print(f"{PROG}: {stats.track_ends} track end(s) (I062/080 TSE) not used: a track "
              "number given again later continues its old track", file=sys.stderr)


def positive(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, found `{s}`")
    if not (v > 0.0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive number, found `{s}`")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="cat062_to_reports.py",
        description="ASTERIX CAT 062 system tracks -> trackcorr reports.csv (see the module "
                    "docstring and tools/asterix/README.md)")
    ap.add_argument("--cat062", action="append", required=True, metavar="FILE",
                    help="raw ASTERIX recording (repeat for several, in time order; other "
                         "categories skipped)")
    ap.add_argument("--sensors", required=True, metavar="FILE",
                    help="trackcorr sensors.csv with a row per SDPS whose lat_deg, lon_deg is "
                         "its system reference point")
    ap.add_argument("--out", required=True, metavar="FILE",
                    help="reports.csv to write ('-': stdout)")
    ap.add_argument("--replay", type=int, default=0, help="replay number of every row (0)")
    ap.add_argument("--sensor-name", default="S{sac}-{sic}",
                    help="sensor name from SAC/SIC, a Python format string ('S{sac}-{sic}')")
    ap.add_argument("--position", choices=["auto", "wgs84", "cartesian"], default="auto",
                    help="auto: I062/105 if present, else I062/100 (default)")
    ap.add_argument("--height", choices=["auto", "geometric", "barometric"], default="auto",
                    help="auto: I062/130 if present, else I062/135, else I062/136 (default); "
                         "barometric: I062/135, else I062/136")
    ap.add_argument("--default-sigma-pos-m", type=positive, default=200.0, metavar="M",
                    help="horizontal position sigma per axis without I062/500 APC or APW (200)")
    ap.add_argument("--default-sigma-vel-ms", type=positive, default=10.0, metavar="M/S",
                    help="Vx, Vy sigma without I062/500 ATV (10)")
    ap.add_argument("--default-sigma-alt-m", type=positive, default=30.0, metavar="M",
                    help="height sigma without I062/500 AGA or ABA for the height used (30)")
    ap.add_argument("--default-sigma-roc-ms", type=positive, default=2.5, metavar="M/S",
                    help="rate of climb sigma without I062/500 ARC (2.5)")
    ap.add_argument("--edition", default="1.21",
                    help="CAT 062 edition to parse (1.21, the newest of libasterix 0.36.3)")
    return a2c.run(ap, argv, convert, PROG)


if __name__ == "__main__":
    sys.exit(main())
