#!/usr/bin/env python3
"""Converts recorded ASTERIX CAT 048 (monoradar target reports, plots) into trackcorr's
detections.csv, with libasterix (pip install libasterix==0.36.3).

    python3 tools/asterix/asterix_to_csv.py --cat048 FILE.ast [--cat048 MORE.ast]
        --sensors sensors.csv --out detections.csv
        [--replay 0] [--sensor-name 'R{sac}-{sic}'] [--height auto|modec|3d]
        [--earth-factor 1] [--edition 1.32]

Input: raw ASTERIX datablocks, concatenated as recorded (no recorder framing such as
pcap or the FINAL/IOSS headers). Datablocks of other categories are skipped and counted.

Per CAT 048 record with I010 (SAC/SIC), I140 (time of day) and I040 (RHO, THETA), one row
`replay,time,sensor,range,azimuth,elevation`:
  time       I140 in s; a time of day that wraps past midnight (or any jump of more than
             12 h against the record before) is unwrapped by whole days, so times increase;
  sensor     --sensor-name formatted with sac and sic; it must be a sensor of --sensors;
  range      RHO × 1852 m (RHO is the slant range);
  azimuth    THETA in rad, [0, 2π), clockwise from north (as trackcorr's);
  elevation  from the plot's height h (I110 3-D height if present, else I090 Mode C flight
             level × 100 ft; --height picks one), the site's lat/lon/alt and the slant range r:
             on a sphere of radius Re (the WGS84 radius of curvature in the plot's azimuth),
                 sin(el) = ((Re + h)² − (Re + h_site)² − r²) / (2 r (Re + h_site)),
             refined on the WGS84 ellipsoid (default --earth-factor 1) so that the straight
             line trackcorr reconstructs puts the plot exactly at height h. With
             --earth-factor 4/3 the 4/3-Earth formula (Re × 4/3) alone gives the apparent
             elevation of a refracted ray instead; trackcorr, which has no refraction, then
             places plots too high by about r² / (8 Re) (785 m at 200 km).
             Heights are taken as above the ellipsoid: no QNH, temperature or geoid
             correction of Mode C.
Records without I010, I140 or I040, without a usable height (no I090/I110, or I090 marked
not validated or garbled), or whose height does not fit the range, are skipped and counted.
Rows are sorted by time (then sensor) as trackcorr requires.
"""

import argparse
import math
import os
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import geodesy as geo  # noqa: E402

PROG = "asterix_to_csv"
DAY = 86400.0


class UserError(Exception):
    """An error in the input or the options: printed without a traceback."""


def load_asterix():
    try:
        import asterix.base as base
        import asterix.generated as gen
    except ImportError:
        raise UserError("libasterix is not installed: python3 -m pip install --user "
                        "libasterix==0.36.3")
    return base, gen


def category_spec(gen, cat, edition):
    """libasterix's spec of CAT `cat` in `edition` (e.g. "1.32")."""
    specs = {".".join(map(str, s.cv_edition)): s for s in gen.manifest["CATS"][cat]}
    if edition not in specs:
        raise UserError(f"--edition {edition}: libasterix knows CAT {cat:03d} editions "
                        f"{', '.join(sorted(specs))}")
    return specs[edition]


def parse_earth_factor(s):
    try:
        if "/" in s:
            a, b = s.split("/", 1)
            k = float(a) / float(b)
        else:
            k = float(s)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number such as 1 or 4/3, found `{s}`")
    if not (k > 0.0 and math.isfinite(k)):
        raise argparse.ArgumentTypeError(f"expected a positive factor, found `{s}`")
    return k


def read_sensors(path):
    """sensors.csv -> {name: geo.Site} (only the columns needed here are read)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UserError(f"cannot read --sensors {path}: {e.strerror}")
    if not lines:
        raise UserError(f"{path}: empty file, expected a header line")
    header = [c.strip() for c in lines[0].split(",")]
    need = ["sensor", "lat_deg", "lon_deg", "alt_m"]
    missing = [c for c in need if c not in header]
    if missing:
        raise UserError(f"{path}:1: expected columns {', '.join(need)}; missing "
                        f"{', '.join(missing)}")
    col = {c: header.index(c) for c in need}
    sites = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < len(header):
            raise UserError(f"{path}:{n}: expected {len(header)} fields, found {len(cells)}")
        name = cells[col["sensor"]]
        try:
            lat, lon, alt = (float(cells[col[c]]) for c in ("lat_deg", "lon_deg", "alt_m"))
        except ValueError:
            raise UserError(f"{path}:{n}: expected numbers in lat_deg, lon_deg, alt_m")
        if not (-90.0 <= lat <= 90.0 and math.isfinite(lon) and math.isfinite(alt)):
            raise UserError(f"{path}:{n}: latitude, longitude or altitude out of range")
        sites[name] = geo.Site(lat, lon, alt)
    return sites


def datablocks(path, data):
    """Splits raw ASTERIX bytes into (offset, category, bytes) datablocks."""
    off = 0
    while off < len(data):
        if len(data) - off < 3:
            raise UserError(f"{path}: {len(data) - off} stray bytes at the end (offset {off}),"
                            " expected a datablock header (CAT, LEN)")
        cat = data[off]
        length = int.from_bytes(data[off + 1:off + 3], "big")
        if length < 3 or off + length > len(data):
            raise UserError(
                f"{path}: bad datablock at byte offset {off} (category {cat}, length "
                f"{length}, {len(data) - off} bytes left): not raw ASTERIX datablocks, "
                "truncated, or with recorder framing (pcap, FINAL) that must be removed first")
        yield off, cat, data[off:off + length]
        off += length


def quantity(variation, name, unit):
    return variation.get_item(name).variation.content.as_quantity(unit)


class Stats:
    def __init__(self):
        self.datablocks = 0
        self.other = {}  # category -> datablocks skipped
        self.records = 0
        self.skipped = {}  # reason -> records

    def skip(self, reason):
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self, cat):
        """The first line of the report: datablocks, skipped categories, records."""
        other = ", ".join(f"CAT {c:03d}: {n}" for c, n in sorted(self.other.items()))
        return (f"{self.datablocks} datablocks ({sum(self.other.values())} of other "
                f"categories skipped{': ' + other if other else ''}), {self.records} "
                f"CAT {cat:03d} records")

    def print_skipped(self, prog):
        for reason, n in sorted(self.skipped.items()):
            print(f"{prog}: skipped {n} record(s): {reason}", file=sys.stderr)


def read_datablocks(paths, option):
    """Every file of `paths` (given as `option`) split into (path, offset, category, bytes),
    all read before libasterix's slow import so that framing errors show first."""
    blocks = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise UserError(f"cannot read {option} {path}: {e.strerror}")
        blocks += [(path,) + b for b in datablocks(path, data)]
    return blocks


def records(blocks, cat, edition, stats):
    """The records of the CAT `cat` datablocks of `blocks`, parsed as `edition` (others
    counted in `stats` and skipped)."""
    base, gen = load_asterix()
    spec = category_spec(gen, cat, edition)
    for path, off, c, chunk in blocks:
        stats.datablocks += 1
        if c != cat:
            stats.other[c] = stats.other.get(c, 0) + 1
            continue
        raw = base.RawDatablock.parse(base.Bits.from_bytes(chunk))
        recs = None if isinstance(raw, ValueError) else spec.cv_uap.parse(
            raw[0].get_raw_records())
        if recs is None or isinstance(recs, ValueError):
            why = raw if isinstance(raw, ValueError) else recs
            raise UserError(f"{path}: CAT {cat:03d} datablock at byte offset {off} does not "
                            f"parse as edition {edition}: {why}")
        for rec in recs:
            stats.records += 1
            yield rec


class Clock:
    """Times of day (s) unwrapped against the record before, in file order: a jump back of
    more than 12 h (midnight) adds whole days, so times go on increasing."""

    def __init__(self):
        self.last = None

    def time(self, tod):
        t = tod if self.last is None else tod + DAY * round((self.last - tod) / DAY)
        self.last = t
        return t


def sac_sic(i010):
    v = i010.variation
    return v.get_item("SAC").as_uint(), v.get_item("SIC").as_uint()


def unknown_sensors(unknown):
    """`name (SAC s, SIC c), ...` of the sensors not in sensors.csv."""
    return ", ".join(f"{n} (SAC {s[0]}, SIC {s[1]})" for n, s in sorted(unknown.items()))


def convert(args):
    sites = read_sensors(args.sensors)
    blocks = read_datablocks(args.cat048, "--cat048")
    stats = Stats()
    clock = Clock()
    rows = []  # (time, sensor, range, azimuth, elevation)
    unknown = {}  # sensor name -> (sac, sic)
    for rec in records(blocks, 48, args.edition, stats):
        i010, i140, i040 = rec.get_item("010"), rec.get_item("140"), rec.get_item("040")
        if i010 is None or i140 is None or i040 is None:
            stats.skip("no I010, I140 or I040")
            continue
        sac, sic = sac_sic(i010)
        t = clock.time(i140.variation.content.as_quantity("s"))
        name = args.sensor_name.format(sac=sac, sic=sic)
        site = sites.get(name)
        if site is None:
            unknown[name] = (sac, sic)
            continue
        rng = quantity(i040.variation, "RHO", "NM") * geo.NM
        az = math.radians(quantity(i040.variation, "THETA", "°")) % (2.0 * math.pi)
        h = height(rec, args.height, stats)
        if h is None:
            continue
        if rng <= 0.0:
            stats.skip("zero range")
            continue
        el = geo.elevation_for_height(site, rng, az, h, args.earth_factor)
        if el is None:
            stats.skip("height does not fit the slant range")
            continue
        rows.append((t, name, rng, az, el))
    if unknown:
        raise UserError(f"sensor(s) not in {args.sensors}: {unknown_sensors(unknown)}; the "
                        f"file has {', '.join(sorted(sites)) or 'no sensors'}. Add them (site "
                        "and noise model) or change --sensor-name")
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    write_rows(args.out, args.replay, rows)
    report(stats, len(rows), args.out)


def height(rec, which, stats):
    """Height of a plot in m (I110 3-D height or I090 Mode C), or None (counted)."""
    if which in ("auto", "3d"):
        i110 = rec.get_item("110")
        if i110 is not None:
            return quantity(i110.variation, "3DH", "ft") * geo.FT
        if which == "3d":
            stats.skip("no I110 3-D height")
            return None
    i090 = rec.get_item("090")
    if i090 is None:
        stats.skip("no height (neither I090 nor I110)" if which == "auto" else "no I090")
        return None
    v = i090.variation
    if v.get_item("V").as_uint() or v.get_item("G").as_uint():
        stats.skip("I090 not validated or garbled")
        return None
    return quantity(v, "FL", "FL") * 100.0 * geo.FT


def write_rows(out, replay, rows):
    lines = ["replay,time,sensor,range,azimuth,elevation\n"]
    lines += [f"{replay},{t:.3f},{s},{r:.2f},{a:.7f},{e:.7f}\n" for t, s, r, a, e in rows]
    write_text(out, "".join(lines), ".detections-")


def write_text(out, text, prefix):
    """Writes `text` to stdout (out == '-') or to the file `out`, whole or not at all: a
    temporary file beside it, renamed (so a failed run leaves no partial output)."""
    if out == "-":
        sys.stdout.write(text)
        return
    folder = os.path.dirname(os.path.abspath(out))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=folder)
        with os.fdopen(fd, "w", newline="\n") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, out)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise UserError(f"cannot write --out {out}: {e.strerror}")


def report(stats, written, out):
    print(f"{PROG}: {stats.summary(48)}, {written} detections written to {out}",
          file=sys.stderr)
    stats.print_skipped(PROG)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="asterix_to_csv.py",
        description="ASTERIX CAT 048 plots -> trackcorr detections.csv (see the module "
                    "docstring and tools/asterix/README.md)")
    ap.add_argument("--cat048", action="append", required=True, metavar="FILE",
                    help="raw ASTERIX recording (repeat for several; other categories skipped)")
    ap.add_argument("--sensors", required=True, metavar="FILE",
                    help="trackcorr sensors.csv holding every radar (sensor, lat_deg, "
                         "lon_deg, alt_m are used here)")
    ap.add_argument("--out", required=True, metavar="FILE", help="detections.csv to write ('-': stdout)")
    ap.add_argument("--replay", type=int, default=0, help="replay number of every row (0)")
    ap.add_argument("--sensor-name", default="R{sac}-{sic}",
                    help="sensor name from SAC/SIC, a Python format string ('R{sac}-{sic}')")
    ap.add_argument("--height", choices=["auto", "modec", "3d"], default="auto",
                    help="auto: I110 3-D height if present, else I090 Mode C (default)")
    ap.add_argument("--earth-factor", type=parse_earth_factor, default=1.0, metavar="K",
                    help="1: geometric elevation on WGS84 (default, what trackcorr's "
                         "straight-line model needs); 4/3: the 4/3-Earth apparent elevation")
    ap.add_argument("--edition", default="1.32", help="CAT 048 edition to parse (1.32)")
    return run(ap, argv, convert, PROG)


def run(ap, argv, convert, prog):
    """Parses and checks the options common to the converters (--replay, --sensor-name) and
    runs `convert`: exit status 0, 1 for a user error (one line), 2 for bad options."""
    args = ap.parse_args(argv)
    if args.replay < 0:
        ap.error("--replay must be at least 0")
    if "," in args.sensor_name or "\n" in args.sensor_name:
        ap.error("--sensor-name must not contain a comma or a line break")
    try:
        args.sensor_name.format(sac=0, sic=0)
    except (KeyError, IndexError, ValueError, AttributeError) as e:
        ap.error(f"--sensor-name {args.sensor_name!r}: {e!r}; use the fields {{sac}} and "
                 f"{{sic}}, e.g. {ap.get_default('sensor_name')!r}")
    try:
        convert(args)
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
