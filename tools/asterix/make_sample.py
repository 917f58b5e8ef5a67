#!/usr/bin/env python3
"""Makes the small deterministic ASTERIX CAT 048 sample of tests/data/asterix/ by encoding
synthetic plots with libasterix (pip install libasterix==0.36.3).

    python3 tools/asterix/make_sample.py [--out tests/data/asterix]

Writes, in --out:
  sample_cat048.ast     raw ASTERIX datablocks as a recorder writes them: CAT 048 plots of
                        two rotating radars (SAC/SIC 25/1 and 25/2), one datablock per radar
                        and antenna turn, the two streams interleaved by the time each block
                        is sent (so plot times are not in file order), a CAT 034 north marker
                        per turn (not a plot: the converter skips it), and now and then a
                        primary-only plot without height (skipped too);
  sensors.csv           the two radars in trackcorr's sensors.csv format (R25-1, R25-2);
  truth_positions.csv   per target plot: time, sensor, object, the true ECEF position, and
                        the ECEF position of the noisy measurement before ASTERIX quantisation.

Four aircraft (FL 350 level; a climb from 4000 m to about 5000 m; FL 280 level; a descent from
FL 240 to about FL 203) for 150 s, starting at 23:58:30 UTC so that the time of day wraps past
midnight. Each radar sees the four spread in azimuth, so that a turn holds one plot of each
at its own time, as a rotating radar's do. Radar R25-1 (Mode C height) turns in
4.0 s, R25-2 (a 3-D radar: I110 measured height besides Mode C) in 4.8 s. Measurement noise
is Gaussian cut at 3 sigma (so the test can bound it) from a fixed seed: same bytes on every
run. Truth heights are above the WGS84 ellipsoid and, in this synthetic world, Mode C
reports exactly that height (no pressure/QNH or geoid difference) plus noise.
"""

import argparse
import math
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import geodesy as geo  # noqa: E402

CAT048 = CAT034 = None  # libasterix's specs, set by main() (the import takes seconds)

SEED = 48048
T0 = 86310.0  # 23:58:30 UTC, seconds of day
DURATION = 150.0
EARTH_MEAN_RADIUS = 6_371_000.0

# sac, sic, lat, lon, alt, revisit (s), north-crossing phase (s), sigma range (m),
# sigma azimuth (deg), sigma Mode C height (m), sigma 3-D height (m, None: no I110),
# sensors.csv sigma_el_deg
RADARS = [
    dict(sac=25, sic=1, lat=48.10, lon=11.20, alt=600.0, revisit=4.0, phase=0.30,
         s_r=30.0, s_az=0.05, s_fl=8.0, s_3d=None, s_el=0.03),
    dict(sac=25, sic=2, lat=48.60, lon=12.30, alt=450.0, revisit=4.8, phase=1.10,
         s_r=40.0, s_az=0.07, s_fl=8.0, s_3d=45.0, s_el=0.08),
]

# object, start lat/lon (deg), heading (deg), ground speed (m/s), height (m), climb (m/s),
# Mode 3/A code
TARGETS = [
    dict(obj=0, lat=48.30, lon=10.40, heading=80.0, speed=230.0, h=350 * 100 * geo.FT,
         climb=0.0, mode3a="4512"),
    dict(obj=1, lat=48.90, lon=12.00, heading=200.0, speed=180.0, h=4000.0, climb=7.0,
         mode3a="2107"),
    # Two more, placed so that each radar sees the four at least about 58 degrees apart in
    # azimuth (but for 0 and 1 on R25-2 late on): a plot of each in its own part of the turn.
    dict(obj=2, lat=47.45, lon=11.75, heading=180.0, speed=210.0, h=280 * 100 * geo.FT,
         climb=0.0, mode3a="5263"),
    dict(obj=3, lat=48.05, lon=13.15, heading=135.0, speed=160.0, h=240 * 100 * geo.FT,
         climb=-7.5, mode3a="3341"),
]


def target_position(tg, t):
    """ECEF position of target `tg` at time t (s of day, unwrapped): a great circle on the
    mean sphere at the given ellipsoidal height."""
    lat, lon = math.radians(tg["lat"]), math.radians(tg["lon"])
    az = math.radians(tg["heading"])
    d = tg["speed"] * (t - T0) / EARTH_MEAN_RADIUS
    lat2 = math.asin(math.sin(lat) * math.cos(d) + math.cos(lat) * math.sin(d) * math.cos(az))
    lon2 = lon + math.atan2(math.sin(az) * math.sin(d) * math.cos(lat),
                            math.cos(d) - math.sin(lat) * math.sin(lat2))
    h = tg["h"] + tg["climb"] * (t - T0)
    return geo.geodetic_to_ecef(lat2, lon2, h), h


class Noise:
    """Gaussian noise cut at 3 sigma (Box-Muller on Python's Mersenne Twister)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def __call__(self, sigma):
        while True:
            u1, u2 = self.rng.random(), self.rng.random()
            z = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            if abs(z) <= 3.0:
                return sigma * z


def sensor_name(r):
    return f"R{r['sac']}-{r['sic']}"


def plot_record(r, t, rho_m, theta_rad, typ, mode3a=None, fl=None, h3d_ft=None):
    """One CAT 048 record (I010, I140, I020, I040 and what is given of I070, I090, I110)."""
    items = {
        "010": (("SAC", r["sac"]), ("SIC", r["sic"])),
        "140": (t % 86400.0, "s"),
        "020": (typ << 4,),  # first octet: TYP, SIM=0, RDP=0, SPI=0, RAB=0
        "040": (("RHO", (rho_m / geo.NM, "NM")),
                ("THETA", (math.degrees(theta_rad) % 360.0, "°"))),
    }
    if mode3a is not None:
        items["070"] = (0, 0, 0, 0, ("MODE3A", mode3a))
    if fl is not None:
        items["090"] = (("V", 0), ("G", 0), ("FL", (fl, "FL")))
    if h3d_ft is not None:
        items["110"] = (0, ("3DH", (h3d_ft, "ft")))
    return CAT048.cv_record.create(items)


def main():
    global CAT048, CAT034
    try:
        import asterix.generated as gen
    except ImportError:
        sys.exit("make_sample: libasterix is not installed: "
                 "python3 -m pip install --user libasterix==0.36.3")
    CAT048, CAT034 = gen.Cat_048_1_32, gen.Cat_034_1_29
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="tests/data/asterix", help="output folder")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    noise = Noise(SEED)
    blocks = []  # (send time, sac, sic, kind, bytes)
    truth_rows = []
    for r in RADARS:
        site = geo.Site(r["lat"], r["lon"], r["alt"])
        turn = 0
        while True:
            t_north = T0 + r["phase"] + turn * r["revisit"]
            if t_north >= T0 + DURATION:
                break
            north = CAT034.cv_record.create({
                "000": 1,  # north marker
                "010": (("SAC", r["sac"]), ("SIC", r["sic"])),
                "030": (t_north % 86400.0, "s"),
            })
            blocks.append((t_north, r["sac"], r["sic"], 0,
                           CAT034.create([north]).unparse().to_bytes()))
            plots = []  # (time, record)
            for tg in TARGETS:
                # The beam (clockwise from north) meets the target: solve t = t_north +
                # az(t) / 2π · revisit by fixed point, then quantise to I140's 1/128 s.
                t = t_north
                for _ in range(4):
                    p, _h = target_position(tg, t)
                    _r, az, _el = geo.range_az_el(site.position, site.basis, p)
                    t = t_north + az / (2.0 * math.pi) * r["revisit"]
                t = round(t * 128.0) / 128.0
                if not T0 <= t < T0 + DURATION:
                    continue
                p, h = target_position(tg, t)
                rng, az, _el = geo.range_az_el(site.position, site.basis, p)
                rng_m = rng + noise(r["s_r"])
                az_m = (az + math.radians(noise(r["s_az"]))) % (2.0 * math.pi)
                h_fl = h + noise(r["s_fl"])
                h_3d = h + noise(r["s_3d"]) if r["s_3d"] is not None else None
                h_used = h_3d if h_3d is not None else h_fl
                el_m = geo.elevation_for_height(site, rng_m, az_m, h_used)
                meas = site.point(rng_m, az_m, el_m)
                rec = plot_record(r, t, rng_m, az_m, typ=3, mode3a=tg["mode3a"],
                                  fl=h_fl / geo.FT / 100.0,
                                  h3d_ft=None if h_3d is None else h_3d / geo.FT)
                plots.append((t, rec))
                truth_rows.append((t, sensor_name(r), tg["obj"], p, meas))
            if turn % 10 == 5:
                # A primary-only plot (TYP 1: no Mode C, no height): not convertible.
                az = 2.0 * math.pi * ((turn * 0.37) % 1.0)
                t = round((t_north + az / (2.0 * math.pi) * r["revisit"]) * 128.0) / 128.0
                plots.append((t, plot_record(r, t, 20_000.0 + 1000.0 * turn, az, typ=1)))
            plots.sort(key=lambda x: x[0])
            if plots:
                db = CAT048.create([rec for _, rec in plots]).unparse().to_bytes()
                blocks.append((t_north + r["revisit"], r["sac"], r["sic"], 1, db))
            turn += 1

    blocks.sort(key=lambda b: b[:4])
    data = b"".join(b[4] for b in blocks)
    with open(os.path.join(args.out, "sample_cat048.ast"), "wb") as f:
        f.write(data)

    with open(os.path.join(args.out, "sensors.csv"), "w", newline="\n") as f:
        f.write("sensor,network,lat_deg,lon_deg,alt_m,sigma_range_m,sigma_az_deg,sigma_el_deg,"
                "max_range_m,min_elevation_deg,revisit_s,pd,false_alarms_per_scan\n")
        for r in RADARS:
            f.write(f"{sensor_name(r)},atc,{r['lat']:.6f},{r['lon']:.6f},{r['alt']:.1f},"
                    f"{r['s_r']:g},{r['s_az']:g},{r['s_el']:g},474000,0,{r['revisit']:g},1,0\n")

    truth_rows.sort(key=lambda x: (x[0], x[1]))
    with open(os.path.join(args.out, "truth_positions.csv"), "w", newline="\n") as f:
        f.write("time,sensor,object,x,y,z,meas_x,meas_y,meas_z\n")
        for t, name, obj, p, m in truth_rows:
            f.write(f"{t:.7f},{name},{obj},{p[0]:.3f},{p[1]:.3f},{p[2]:.3f},"
                    f"{m[0]:.3f},{m[1]:.3f},{m[2]:.3f}\n")
    print(f"make_sample: {len(data)} bytes, {len(truth_rows)} target plots, "
          f"{len(blocks)} datablocks in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
