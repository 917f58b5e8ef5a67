#!/usr/bin/env python3
"""Peer baseline: Stone Soup's multi-target tracker on trackcorr's raw radar detections.

What it does
------------
Reads the same inputs as ``trackcorr track`` (``detections.csv`` in range/azimuth/elevation
and ``sensors.csv``) and, for every replay and every sensor independently, runs Stone Soup's
``MultiTargetTracker`` scan by scan (one scan = all detections of one sensor at one time):

* state ``[x, vx, y, vy, z, vz]`` in the sensor's local ENU frame (x = east, y = north,
  z = up, origin at the site);
* motion: ``CombinedLinearGaussianTransitionModel`` of three ``ConstantVelocity`` models
  with noise diffusion coefficient ``q`` (m²/s³, ``--q``, default 2000). Stone Soup has no
  ballistic (gravity/J2) model, so thrust *and* gravity are left to the process noise —
  unlike trackcorr's own tracker (IMM of two ballistic filters, q = 1500 and 0.05). On
  seed 1 GOSPA was best at q = 2000 (10: 2004 m, 100: 1249 m, 300: 879 m, 1000: 722 m,
  2000: 697 m, 3000: 716 m, 5000: 748 m); small q loses the boosting and falling missiles
  and fragments tracks (612 tracks at q = 10, 57 at q = 2000);
* measurement: ``CartesianToElevationBearingRange`` with the sensor's sigmas; Stone Soup's
  bearing is ``atan2(y, x)`` = ``atan2(n, e)`` = ``pi/2 - az`` (az from north, clockwise),
  and its measurement vector is ``[elevation, bearing, range]``;
* ``ExtendedKalmanPredictor`` / ``ExtendedKalmanUpdater``;
* ``DistanceHypothesiser`` with ``SquaredMahalanobis`` of the innovation, missed distance =
  chi-square(3 dof) quantile at 0.999 (≈ 16.27) — the same gate and the same GNN cost
  (squared distance, a miss costing the gate) as trackcorr's tracker (Stone Soup's
  ``Mahalanobis`` returns the square root; gating would be the same with sqrt(16.27));
* ``GNNWith2DAssignment``;
* ``MultiMeasurementInitiator`` (min_points 3, i.e. 3 hits confirm; a holding track dies
  after 2 scans without an update, i.e. at most one miss ≈ trackcorr's 3-of-4) seeded by its
  default ``SimpleMeasurementInitiator`` (position from the detection, velocity 0 with a
  2000 m/s standard deviation);
* ``UpdateTimeStepsDeleter(time_steps_since_update=3)``: a confirmed track dies at its 3rd
  consecutive missed scan (trackcorr's ``--delete-misses 3``).

The truth column of the detections is never used for association; it only travels with the
detections (``Detection.metadata``) so each track is labelled with the majority truth of the
last 5 detections it was updated with (latest wins ties; empty when false alarms win), as
trackcorr does.

Output: ``reports.csv`` in trackcorr's format — one row per confirmed track per scan of its
sensor from its confirmation until its deletion (the state at that scan, coasted when
missed), position and velocity rotated into ECEF, the full 6x6 covariance rotated into ECEF
(symmetrised), rows sorted by replay, time, sensor, track. Track numbers are integers unique
per sensor (across replays too). On stderr: numbers of tracks and reports, and the wall-clock
time of the tracking alone (reading and writing files excluded).

Written for and tested with Stone Soup 1.9.1 (numpy, scipy), Python 3.11.

Compare with trackcorr's own tracker (same detections, same correlate/GOSPA)::

    trackcorr generate --seed 1 --out /tmp/s1
    python bench/peers/stonesoup_track.py --detections /tmp/s1/detections.csv \\
        --sensors /tmp/s1/sensors.csv --out /tmp/peer_s1/reports.csv [--q 2000]
    trackcorr correlate --reports /tmp/peer_s1/reports.csv --sensors /tmp/s1/sensors.csv \\
        --truth /tmp/s1/truth.csv --backend cpu --out /tmp/peer_s1/corr
    # trackcorr's tracker on the same detections:
    trackcorr correlate --detections /tmp/s1/detections.csv --sensors /tmp/s1/sensors.csv \\
        --truth /tmp/s1/truth.csv --backend cpu --out /tmp/own_s1/corr
"""

import argparse
import csv
import datetime
import math
import os
import sys
import time
from collections import defaultdict

import numpy as np
from scipy.stats import chi2

import stonesoup
from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
from stonesoup.deleter.time import UpdateTimeStepsDeleter
from stonesoup.hypothesiser.distance import DistanceHypothesiser
from stonesoup.initiator.simple import MultiMeasurementInitiator
from stonesoup.measures import SquaredMahalanobis
from stonesoup.models.measurement.nonlinear import CartesianToElevationBearingRange
from stonesoup.models.transition.linear import (
    CombinedLinearGaussianTransitionModel, ConstantVelocity)
from stonesoup.predictor.kalman import ExtendedKalmanPredictor
from stonesoup.tracker.simple import MultiTargetTracker
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.array import CovarianceMatrix, StateVector
from stonesoup.types.detection import Detection
from stonesoup.types.state import GaussianState
from stonesoup.types.update import Update
from stonesoup.updater.kalman import ExtendedKalmanUpdater

# WGS84, as trackcorr's src/geo.rs.
WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)

EPOCH = datetime.datetime(2000, 1, 1)
GATE_PROBABILITY = 0.999
MIN_POINTS = 3
HOLD_STEPS = 2          # holding (tentative) track: dies after 2 scans without an update
DELETE_STEPS = 3        # confirmed track: dies at its 3rd consecutive missed scan
PRIOR_SPEED_SIGMA = 2000.0  # m/s, initial velocity standard deviation
LABEL_WINDOW = 5

COMPONENTS = ["x", "y", "z", "vx", "vy", "vz"]


def geodetic_to_ecef(lat, lon, alt):
    sl, cl = math.sin(lat), math.cos(lat)
    so, co = math.sin(lon), math.cos(lon)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sl * sl)
    return np.array([(n + alt) * cl * co, (n + alt) * cl * so, (n * (1.0 - WGS84_E2) + alt) * sl])


def enu_basis(lat, lon):
    """Rows: east, north, up unit vectors in ECEF."""
    sl, cl = math.sin(lat), math.cos(lat)
    so, co = math.sin(lon), math.cos(lon)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def wrap(a):
    """Angle in (-pi, pi]."""
    w = math.remainder(a, 2.0 * math.pi)
    return w + 2.0 * math.pi if w <= -math.pi else w


def read_sensors(path):
    sensors = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            lat = math.radians(float(row["lat_deg"]))
            lon = math.radians(float(row["lon_deg"]))
            sensors[row["sensor"]] = {
                "site": geodetic_to_ecef(lat, lon, float(row["alt_m"])),
                "basis": enu_basis(lat, lon),
                "sigma_range": float(row["sigma_range_m"]),
                "sigma_az": math.radians(float(row["sigma_az_deg"])),
                "sigma_el": math.radians(float(row["sigma_el_deg"])),
            }
    return sensors


def read_detections(path, max_replays=None):
    """{(replay, sensor): [(time, time_text, [(range, az, el, truth), ...]), ...]} by time."""
    scans = defaultdict(lambda: defaultdict(list))
    texts = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"replay", "time", "sensor", "range", "azimuth", "elevation"} - set(
            reader.fieldnames or [])
        if missing:
            sys.exit(f"{path}: needs range/azimuth/elevation detections; missing {sorted(missing)}")
        for row in reader:
            replay = int(row["replay"])
            if max_replays is not None and replay >= max_replays:
                continue
            t = float(row["time"])
            texts[t] = row["time"]
            truth = row.get("truth", "")
            truth = int(truth) if truth not in ("", "-1", None) else None
            scans[(replay, row["sensor"])][t].append(
                (float(row["range"]), float(row["azimuth"]), float(row["elevation"]), truth))
    out = {}
    for key, by_time in scans.items():
        out[key] = [(t, texts[t], by_time[t]) for t in sorted(by_time)]
    return out


def majority(labels):
    """Most frequent label, the latest among equals (trackcorr's rule)."""
    best_n, best = 0, None
    for label in reversed(labels):
        n = labels.count(label)
        if n > best_n:
            best_n, best = n, label
    return best


def track_sensor(scans, sensor, q, gate):
    """Runs one sensor's tracker over one replay. Returns
    [(time, time_text, track_object, label, enu_state, enu_cov)] for confirmed tracks."""
    meas_model = CartesianToElevationBearingRange(
        ndim_state=6,
        mapping=(0, 2, 4),
        noise_covar=np.diag([sensor["sigma_el"] ** 2, sensor["sigma_az"] ** 2,
                             sensor["sigma_range"] ** 2]),
    )
    transition_model = CombinedLinearGaussianTransitionModel(
        [ConstantVelocity(q), ConstantVelocity(q), ConstantVelocity(q)])
    predictor = ExtendedKalmanPredictor(transition_model)
    updater = ExtendedKalmanUpdater(meas_model)
    hypothesiser = DistanceHypothesiser(
        predictor, updater, measure=SquaredMahalanobis(), missed_distance=gate)
    associator = GNNWith2DAssignment(hypothesiser)
    v2 = PRIOR_SPEED_SIGMA ** 2
    prior = GaussianState(StateVector([0.0] * 6),
                          CovarianceMatrix(np.diag([0.0, v2, 0.0, v2, 0.0, v2])))
    initiator = MultiMeasurementInitiator(
        prior_state=prior,
        measurement_model=meas_model,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=HOLD_STEPS),
        data_associator=associator,
        updater=updater,
        min_points=MIN_POINTS,
    )
    texts = {}

    def feeder():
        for t, text, dets in scans:
            stamp = EPOCH + datetime.timedelta(seconds=t)
            texts[stamp] = (t, text)
            detections = set()
            for r, az, el, truth in dets:
                detections.add(Detection(
                    StateVector([Elevation(el), Bearing(wrap(math.pi / 2 - az)), r]),
                    timestamp=stamp, measurement_model=meas_model,
                    metadata={"truth": truth}))
            yield stamp, detections

    tracker = MultiTargetTracker(
        initiator=initiator,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=DELETE_STEPS),
        detector=feeder(),
        data_associator=associator,
        updater=updater,
    )
    rows = []
    for stamp, tracks in tracker:
        t, text = texts[stamp]
        for track in tracks:
            state = track.state
            if state.timestamp != stamp:
                raise RuntimeError("a track's latest state is not at the scan time")
            labels = [s.hypothesis.measurement.metadata.get("truth")
                      for s in track.states if isinstance(s, Update) and s.hypothesis]
            label = majority(labels[-LABEL_WINDOW:])
            rows.append((t, text, track, label,
                         np.asarray(state.state_vector, dtype=float).ravel(),
                         np.asarray(state.covar, dtype=float)))
    return rows


# Stone Soup's [x, vx, y, vy, z, vz] -> [e, n, u, ve, vn, vu].
PERM = [0, 2, 4, 1, 3, 5]


def to_ecef(sensor, x, p):
    """Local ENU state/covariance (Stone Soup order) to ECEF [x, y, z, vx, vy, vz]."""
    x = x[PERM]
    p = p[np.ix_(PERM, PERM)]
    bt = sensor["basis"].T  # ENU -> ECEF rotation
    t = np.zeros((6, 6))
    t[:3, :3] = bt
    t[3:, 3:] = bt
    xe = t @ x
    xe[:3] += sensor["site"]
    pe = t @ p @ t.T
    pe = 0.5 * (pe + pe.T)
    return xe, pe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--detections", required=True)
    ap.add_argument("--sensors", required=True)
    ap.add_argument("--out", required=True, help="reports.csv to write")
    ap.add_argument("--q", type=float, default=2000.0,
                    help="ConstantVelocity noise diffusion coefficient (m²/s³), default 2000 "
                         "(best GOSPA of 10/100/300/1000/2000/3000/5000 on seed 1)")
    ap.add_argument("--replays", type=int, default=None, help="only the first N replays")
    args = ap.parse_args()

    sensors = read_sensors(args.sensors)
    scans = read_detections(args.detections, args.replays)
    unknown = {s for _, s in scans} - set(sensors)
    if unknown:
        sys.exit(f"detections name sensors missing from {args.sensors}: {sorted(unknown)}")
    gate = float(chi2.ppf(GATE_PROBABILITY, 3))

    sensor_order = {name: k for k, name in enumerate(sensors)}
    start = time.perf_counter()
    results = []  # (replay, t, sensor_index, track_number, text, sensor, label, x, p)
    next_number = defaultdict(lambda: 1)
    n_tracks = 0
    for replay, sname in sorted(scans, key=lambda k: (k[0], sensor_order[k[1]])):
        rows = track_sensor(scans[(replay, sname)], sensors[sname], args.q, gate)
        numbers = {}
        for t, text, track, label, x, p in sorted(rows, key=lambda r: r[0]):
            if track.id not in numbers:
                numbers[track.id] = next_number[sname]
                next_number[sname] += 1
            xe, pe = to_ecef(sensors[sname], x, p)
            results.append((replay, t, sensor_order[sname], numbers[track.id], text, sname,
                            label, xe, pe))
        n_tracks += len(numbers)
    elapsed = time.perf_counter() - start

    results.sort(key=lambda r: r[:4])
    header = ["replay", "time", "sensor", "track", "truth"] + COMPONENTS + [
        f"cov_{COMPONENTS[i]}_{COMPONENTS[j]}" for i in range(6) for j in range(i, 6)]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    bad = 0
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for replay, _, _, number, text, sname, label, xe, pe in results:
            if np.linalg.eigvalsh(pe)[0] <= 0.0:
                bad += 1
            w.writerow([replay, text, sname, number, "" if label is None else label]
                       + [f"{v:.6f}" for v in xe]
                       + [f"{pe[i, j]:.9e}" for i in range(6) for j in range(i, 6)])
    print(f"stonesoup {stonesoup.__version__}: q = {args.q:g} m²/s³, {n_tracks} tracks, "
          f"{len(results)} reports, tracking {elapsed:.2f} s wall-clock", file=sys.stderr)
    if bad:
        print(f"warning: {bad} reports with a covariance that is not positive definite",
              file=sys.stderr)


if __name__ == "__main__":
    main()
