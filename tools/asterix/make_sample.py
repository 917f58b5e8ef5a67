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
  sensors.csv           the two radars in trackcorr's sensors.csv format (R25-1, R25-2) and
                        the SDPS (S25-100, network sdps; its site is its system reference
                        point; its radar model columns are unused, see SDPS below);
  truth_positions.csv   per target plot: time, sensor, object, the true ECEF position, and
                        the ECEF position of the noisy measurement before ASTERIX quantisation;
  sample_cat062.ast     CAT 062 system tracks of the same four aircraft from an SDPS (SAC/SIC
                        25/100) that outputs every track every 5 s, one datablock per cycle
                        followed by a CAT 065 end-of-batch message (skipped by the converter),
                        and in every tenth cycle one record without a position (skipped too);
  truth_cat062.csv      per system track record: time, sensor, track, object, the true ECEF
                        position and velocity, and the noisy ones before quantisation.

Four aircraft (FL 350 level; a climb from 4000 m to about 5000 m; FL 280 level; a descent from
FL 240 to about FL 203) for 150 s, starting at 23:58:30 UTC so that the time of day wraps past
midnight. Each radar sees the four spread in azimuth, so that a turn holds one plot of each
at its own time, as a rotating radar's do. Radar R25-1 (Mode C height) turns in
4.0 s, R25-2 (a 3-D radar: I110 measured height besides Mode C) in 4.8 s. Measurement noise
is Gaussian cut at 3 sigma (so the test can bound it) from a fixed seed: same bytes on every
run. Truth heights are above the WGS84 ellipsoid and, in this synthetic world, Mode C
reports exactly that height (no pressure/QNH or geoid difference) plus noise.

The SDPS's tracks are the truth at each cycle's time plus Gaussian noise cut at 3 sigma (from
its own seed, so the CAT 048 part stays what it was), white from cycle to cycle, drawn from
the accuracies its I062/500 reports. Those are what a tracker fusing both radars would have:
per cycle, the information sum of the two radars' plot covariances at the aircraft (range and
azimuth sigmas of RADARS; their Mode C for the height), smoothed per principal axis by the
steady-state alpha-beta filter of the 5 s cycle with 1 m/s² of process noise (0.3 m/s²
vertically; Kalata's tracking index): 22-47 m per axis, 5.0-6.6 m/s, 5.0 m in height, 1.4 m/s
in rate of climb. Positions are sent in
WGS-84 (I062/105) and in the SDPS plane (I062/100, the stereographic projection at the
reference point), heights as geometric (I062/130) and barometric (I062/135) altitude, equal in
this synthetic world.
"""

import argparse
import math
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import geodesy as geo  # noqa: E402

CAT048 = CAT034 = CAT062 = CAT065 = None  # libasterix's specs, set by main() (slow import)

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


# The SDPS: SAC/SIC, system reference point (between the radars), output period and the
# first cycle's offset from T0 (whole seconds: exact in I062/070's 1/128 s), track numbers per
# aircraft, and the alpha-beta filter's white acceleration noise (m/s²): horizontal, vertical.
SDPS = dict(sac=25, sic=100, lat=48.35, lon=11.75, alt=0.0, period=5.0, phase=2.0,
            tracks={0: 1417, 1: 1422, 2: 2305, 3: 2871}, no_position_track=3999,
            acc_h=1.0, acc_v=0.3)
SEED062 = 62062


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


def target_velocity(tg, t):
    """ECEF velocity of target `tg` at t: a central difference of target_position (the path
    is smooth: the error is below 1 mm/s)."""
    a, _ = target_position(tg, t - 0.05)
    b, _ = target_position(tg, t + 0.05)
    return tuple((b[i] - a[i]) / 0.1 for i in range(3))


def alpha_beta(sigma_m, period, sigma_a):
    """Steady-state alpha-beta filter (Kalata, "The tracking index", 1984): measurement sigma,
    update period, white acceleration sigma -> position and velocity variance after update."""
    lam = sigma_a * period * period / sigma_m
    r = math.sqrt(lam * lam + 8.0 * lam)
    alpha = -(lam * lam + 8.0 * lam - (lam + 4.0) * r) / 8.0
    beta = 2.0 * (2.0 - alpha) - 4.0 * math.sqrt(1.0 - alpha)
    var_m = sigma_m * sigma_m
    return alpha * var_m, beta * (2.0 * alpha - beta) / (2.0 * (1.0 - alpha)) * var_m / period**2


def sym2_eigen(p):
    """Eigenvalues and unit eigenvectors (columns) of a symmetric 2×2 matrix."""
    a, b, d = p[0][0], p[0][1], p[1][1]
    half = math.hypot((a - d) / 2.0, b)
    l1, l2 = (a + d) / 2.0 + half, (a + d) / 2.0 - half
    th = 0.5 * math.atan2(2.0 * b, a - d)
    return (l1, l2), ((math.cos(th), -math.sin(th)), (math.sin(th), math.cos(th)))


def inv2(p):
    det = p[0][0] * p[1][1] - p[0][1] * p[1][0]
    return ((p[1][1] / det, -p[0][1] / det), (-p[1][0] / det, p[0][0] / det))


def sdps_accuracy(p, basis, sites):
    """Horizontal position and velocity covariances (east/north, 2×2) and the height and rate
    of climb sigmas of the SDPS's track of an aircraft at ECEF p."""
    info = [[0.0, 0.0], [0.0, 0.0]]
    info_h = 0.0
    for r, site in sites:
        d = [p[i] - site.position[i] for i in range(3)]
        e = sum(d[i] * basis[0][i] for i in range(3))
        n = sum(d[i] * basis[1][i] for i in range(3))
        u = (e / math.hypot(e, n), n / math.hypot(e, n))  # along range, horizontally
        c = (-u[1], u[0])  # across
        s_cross = math.dist(p, site.position) * math.radians(r["s_az"])
        for i in range(2):
            for j in range(2):
                info[i][j] += (u[i] * u[j] / r["s_r"] ** 2 + c[i] * c[j] / s_cross**2)
        info_h += 1.0 / r["s_fl"] ** 2
    (l1, l2), v = sym2_eigen(inv2(info))
    axes = [alpha_beta(math.sqrt(lam), SDPS["period"], SDPS["acc_h"]) for lam in (l1, l2)]
    pos = [[sum(v[i][k] * axes[k][0] * v[j][k] for k in range(2)) for j in range(2)]
           for i in range(2)]
    vel = [[sum(v[i][k] * axes[k][1] * v[j][k] for k in range(2)) for j in range(2)]
           for i in range(2)]
    var_h, var_roc = alpha_beta(math.sqrt(1.0 / info_h), SDPS["period"], SDPS["acc_v"])
    return pos, vel, math.sqrt(var_h), math.sqrt(var_roc)


def write_cat062(out):
    """sample_cat062.ast and truth_cat062.csv (see the module docstring)."""
    noise = Noise(SEED062)
    sites = [(r, geo.Site(r["lat"], r["lon"], r["alt"])) for r in RADARS]
    plane = geo.Stereographic(math.radians(SDPS["lat"]), math.radians(SDPS["lon"]))
    source = (("SAC", SDPS["sac"]), ("SIC", SDPS["sic"]))
    blocks, truth_rows = [], []
    cycle = 0
    while True:
        t = T0 + SDPS["phase"] + cycle * SDPS["period"]
        if t >= T0 + DURATION:
            break
        records = []
        for tg in TARGETS:
            p, _ = target_position(tg, t)
            v = target_velocity(tg, t)
            lat, lon, _ = geo.ecef_to_geodetic(p)
            basis = geo.enu_basis(lat, lon)
            pos, vel, s_h, s_roc = sdps_accuracy(p, basis, sites)
            # Correlated east/north noise from the position covariance (Cholesky).
            l11 = math.sqrt(pos[0][0])
            l21 = pos[1][0] / l11
            l22 = math.sqrt(pos[1][1] - l21 * l21)
            z1, z2 = noise(1.0), noise(1.0)
            de, dn, du = l11 * z1, l21 * z1 + l22 * z2, noise(s_h)
            meas = tuple(p[i] + de * basis[0][i] + dn * basis[1][i] + du * basis[2][i]
                         for i in range(3))
            m_lat, m_lon, m_h = geo.ecef_to_geodetic(meas)
            # Velocity noise per axis, as I062/500 ATV can tell it (no cross term).
            s_vx, s_vy = math.sqrt(vel[0][0]), math.sqrt(vel[1][1])
            v_enu = [sum(v[i] * basis[k][i] for i in range(3)) for k in range(3)]
            ve, vn, vu = v_enu[0] + noise(s_vx), v_enu[1] + noise(s_vy), v_enu[2] + noise(s_roc)
            m_basis = geo.enu_basis(m_lat, m_lon)
            m_v = tuple(ve * m_basis[0][i] + vn * m_basis[1][i] + vu * m_basis[2][i]
                        for i in range(3))
            # APC is in the plane's axes: turn the east/north covariance by the convergence.
            k, g = plane.axes(m_lat, m_lon)
            rot = ((math.cos(g) * k, math.sin(g) * k), (-math.sin(g) * k, math.cos(g) * k))
            pxy = [[sum(rot[i][a] * pos[a][b] * rot[j][b] for a in range(2) for b in range(2))
                    for j in range(2)] for i in range(2)]
            x, y = plane.forward(m_lat, m_lon)
            cxy = pxy[0][1]
            track = SDPS["tracks"][tg["obj"]]
            records.append(CAT062.cv_record.create({
                "010": source,
                "070": (t % 86400.0, "s"),
                "105": (("LAT", (math.degrees(m_lat), "°")), ("LON", (math.degrees(m_lon), "°"))),
                "100": (("X", (x, "m")), ("Y", (y, "m"))),
                "185": (("VX", (ve, "m/s")), ("VY", (vn, "m/s"))),
                "040": track,
                # Multisensor, geometric height more reliable, from a 3-D radar, confirmed.
                "080": ((0, 0, 1, 2, 0, None),),
                "130": (m_h / geo.FT, "ft"),
                "135": (("QNH", 0), ("CTB", (m_h / geo.FT / 100.0, "FL"))),
                "220": (vu / geo.FT * 60.0, "ft/min"),
                "500": {
                    "APC": (("X", (math.sqrt(pxy[0][0]), "m")), ("Y", (math.sqrt(pxy[1][1]), "m"))),
                    "COV": (math.copysign(math.sqrt(abs(cxy)), cxy), "m"),
                    "AGA": (s_h / geo.FT, "ft"),
                    "ABA": (s_h / geo.FT / 100.0, "FL"),
                    "ATV": (("X", (s_vx, "m/s")), ("Y", (s_vy, "m/s"))),
                    "ARC": (s_roc / geo.FT * 60.0, "ft/min"),
                },
            }))
            truth_rows.append((t, track, tg["obj"], p, v, meas, m_v))
        if cycle % 10 == 5:
            # A record without position, which the converter must skip.
            records.append(CAT062.cv_record.create({
                "010": source, "070": (t % 86400.0, "s"), "040": SDPS["no_position_track"],
                "080": ((0, 0, 0, 0, 0, None),)}))
        blocks.append(CAT062.create(records).unparse().to_bytes())
        blocks.append(CAT065.create([CAT065.cv_record.create({
            "010": source, "000": 2,  # end of batch
            "030": (t % 86400.0, "s"), "020": cycle % 256})]).unparse().to_bytes())
        cycle += 1
    data = b"".join(blocks)
    with open(os.path.join(out, "sample_cat062.ast"), "wb") as f:
        f.write(data)
    name = f"S{SDPS['sac']}-{SDPS['sic']}"
    with open(os.path.join(out, "truth_cat062.csv"), "w", newline="\n") as f:
        f.write("time,sensor,track,object,x,y,z,vx,vy,vz,meas_x,meas_y,meas_z,"
                "meas_vx,meas_vy,meas_vz\n")
        for t, track, obj, p, v, m, mv in truth_rows:
            f.write(f"{t:.3f},{name},{track},{obj},{p[0]:.3f},{p[1]:.3f},{p[2]:.3f},"
                    f"{v[0]:.4f},{v[1]:.4f},{v[2]:.4f},{m[0]:.3f},{m[1]:.3f},{m[2]:.3f},"
                    f"{mv[0]:.4f},{mv[1]:.4f},{mv[2]:.4f}\n")
    return len(data), len(truth_rows), len(blocks)


def main():
    global CAT048, CAT034, CAT062, CAT065
    try:
        import asterix.generated as gen
    except ImportError:
        sys.exit("make_sample: libasterix is not installed: "
                 "python3 -m pip install --user libasterix==0.36.3")
    CAT048, CAT034 = gen.Cat_048_1_32, gen.Cat_034_1_29
    CAT062, CAT065 = gen.Cat_062_1_21, gen.Cat_065_1_6
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
        # The SDPS: its site is its system reference point. trackcorr reads the radar model
        # only to track a sensor's detections, which an SDPS has none of; the columns must
        # still be positive: sigmas 1, its coverage and its output period.
        f.write(f"S{SDPS['sac']}-{SDPS['sic']},sdps,{SDPS['lat']:.6f},{SDPS['lon']:.6f},"
                f"{SDPS['alt']:.1f},1,1,1,474000,0,{SDPS['period']:g},1,0\n")

    truth_rows.sort(key=lambda x: (x[0], x[1]))
    with open(os.path.join(args.out, "truth_positions.csv"), "w", newline="\n") as f:
        f.write("time,sensor,object,x,y,z,meas_x,meas_y,meas_z\n")
        for t, name, obj, p, m in truth_rows:
            f.write(f"{t:.7f},{name},{obj},{p[0]:.3f},{p[1]:.3f},{p[2]:.3f},"
                    f"{m[0]:.3f},{m[1]:.3f},{m[2]:.3f}\n")
    print(f"make_sample: {len(data)} bytes, {len(truth_rows)} target plots, "
          f"{len(blocks)} datablocks in {args.out}", file=sys.stderr)
    size, reports, n_blocks = write_cat062(args.out)
    print(f"make_sample: CAT 062: {size} bytes, {reports} system track reports, "
          f"{n_blocks} datablocks", file=sys.stderr)


if __name__ == "__main__":
    main()
