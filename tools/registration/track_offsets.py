#!/usr/bin/env python3
"""How far registration can get on a biased scenario: per radar and replay, the size of
the injected bias, the error of `correlate --register`'s estimate, and the error of an
oracle that knows the truth (the mean offset, in range, azimuth and elevation, of the
radar's own reports from the true positions). Sizes are RMS metres over the radar's
reports, as registration.csv's `bias_m` and `error_m`; and the RMS of each component's
error over registration.csv's standard deviation (about 1 when they are honest). Standard
library only.

    python3 tools/registration/track_offsets.py GENERATED_DIR CORRELATE_OUT_DIR [FROM_S]

With FROM_S the oracle takes only the reports from FROM_S seconds on (e.g. 200: the
coasting flight, after the trackers' lag behind a thrusting missile). GENERATED_DIR holds sensors.csv, reports.csv, truth.csv and truth_biases.csv
(`trackcorr generate --biases`); CORRELATE_OUT_DIR holds registration.csv
(`trackcorr correlate --register`).
"""

import collections
import csv
import math
import sys

A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)


def ecef(lat_deg, lon_deg, h):
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    n = A / math.sqrt(1 - E2 * math.sin(lat) ** 2)
    return (
        (n + h) * math.cos(lat) * math.cos(lon),
        (n + h) * math.cos(lat) * math.sin(lon),
        (n * (1 - E2) + h) * math.sin(lat),
    )


def read_sites(path):
    """Each radar's position and local east, north, up axes."""
    sites = {}
    for r in csv.DictReader(open(path)):
        lat, lon = math.radians(float(r["lat_deg"])), math.radians(float(r["lon_deg"]))
        east = (-math.sin(lon), math.cos(lon), 0.0)
        north = (-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat))
        up = (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
        origin = ecef(float(r["lat_deg"]), float(r["lon_deg"]), float(r["alt_m"]))
        sites[r["sensor"]] = (origin, east, north, up)
    return sites


def range_az_el(site, p):
    origin, east, north, up = site
    d = [p[i] - origin[i] for i in range(3)]
    e, n, u = (sum(d[i] * axis[i] for i in range(3)) for axis in (east, north, up))
    return math.sqrt(e * e + n * n + u * u), math.atan2(e, n), math.atan2(u, math.hypot(e, n))


def biases(path, prefix=""):
    return {
        (int(r["replay"]), r["sensor"]): tuple(
            float(r[prefix + k]) for k in ("range_m", "azimuth_rad", "elevation_rad")
        )
        for r in csv.DictReader(open(path))
    }


def main(generated, out, from_s=float("-inf")):
    sites = read_sites(f"{generated}/sensors.csv")
    truth = collections.defaultdict(dict)
    for r in csv.DictReader(open(f"{generated}/truth.csv")):
        key = (int(r["replay"]), int(r["object"]))
        truth[key][round(float(r["time"]), 3)] = [float(r[k]) for k in ("x", "y", "z")]
    offsets = collections.defaultdict(list)
    geometry = collections.defaultdict(list)
    for r in csv.DictReader(open(f"{generated}/reports.csv")):
        key = (int(r["replay"]), r["sensor"])
        q = [float(r[k]) for k in ("x", "y", "z")]
        geometry[key].append(range_az_el(sites[r["sensor"]], q))
        if r["truth"] == "" or float(r["time"]) < from_s:
            continue
        samples = truth[(key[0], int(r["truth"]))]
        t = float(r["time"])
        t0 = math.floor(t)
        if t0 not in samples or t0 + 1 not in samples:
            continue
        w = t - t0
        p = [samples[t0][i] * (1 - w) + samples[t0 + 1][i] * w for i in range(3)]
        measured, true = range_az_el(sites[r["sensor"]], q), range_az_el(sites[r["sensor"]], p)
        d_az = (measured[1] - true[1] + math.pi) % (2 * math.pi) - math.pi
        offsets[key].append((measured[0] - true[0], d_az, measured[2] - true[2]))

    def size(key, b):
        g = geometry[key]
        return math.sqrt(
            sum(b[0] ** 2 + (x[0] * math.cos(x[2]) * b[1]) ** 2 + (x[0] * b[2]) ** 2 for x in g)
            / len(g)
        )

    injected = biases(f"{generated}/truth_biases.csv")
    estimated = biases(f"{out}/registration.csv")
    within = collections.Counter()
    print("replay,sensor,bias_m,registration_error_m,oracle_error_m")
    for key in sorted(offsets):
        b = injected[key]
        n = len(offsets[key])
        oracle = [sum(o[i] for o in offsets[key]) / n for i in range(3)]
        s = size(key, b)
        e_reg = size(key, [estimated[key][i] - b[i] for i in range(3)])
        e_oracle = size(key, [oracle[i] - b[i] for i in range(3)])
        within["registration"] += e_reg <= s / 3
        within["oracle"] += e_oracle <= s / 3
        within["all"] += 1
        print(f"{key[0]},{key[1]},{s:.1f},{e_reg:.1f},{e_oracle:.1f}")
    print(
        f"# within a third of the bias: registration {within['registration']}, "
        f"oracle {within['oracle']}, of {within['all']}",
        file=sys.stderr,
    )
    # How honest registration.csv's standard deviations are: the RMS of each component's
    # error over its sd (1 for a calibrated estimate).
    z = [[], [], []]
    for r in csv.DictReader(open(f"{out}/registration.csv")):
        b = injected[(int(r["replay"]), r["sensor"])]
        for i, k in enumerate(("range_m", "azimuth_rad", "elevation_rad")):
            z[i].append((float(r[k]) - b[i]) / float(r["sd_" + k]))
    rms = [math.sqrt(sum(v * v for v in c) / len(c)) for c in z]
    print(
        f"# error over sd, RMS of {len(z[0])} rows: range {rms[0]:.2f}, "
        f"azimuth {rms[1]:.2f}, elevation {rms[2]:.2f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *map(float, sys.argv[3:]))
