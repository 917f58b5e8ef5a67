#!/usr/bin/env python3
# Generate tests/data/gospa_stonesoup.txt: GOSPA reference values from Stone Soup.
#
# Run by hand (not by CI). The committed data was produced with exactly:
#
#     python3 -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install stonesoup==1.9.1
#     /tmp/ssvenv/bin/python tests/data/make_gospa_reference.py > tests/data/gospa_stonesoup.txt
#
# (run from the repository root) with stonesoup 1.9.1, numpy 2.4.6, scipy 1.17.1,
# Python 3.11.7. The script refuses to run with another stonesoup version unless
# GOSPA_REF_ANY_VERSION=1 is set in the environment.
#
# What is computed
# ----------------
# For every case, with
#     gospa = GOSPAMetric(p=P, c=C, measure=Euclidean(mapping=(0, 1, 2)))
#     metric, _ = gospa.compute_gospa_metric(tracks, truths)   # (measured, truth)
# the four numbers of metric.value (a dict) are written. States are
# GroundTruthState (truths) and State (tracks) with 6-element state vectors
# [x, y, z, vx, vy, vz], all with timestamp=None. Velocities are random and
# deliberately NOT written to the data file: the measure only looks at
# positions (mapping (0, 1, 2)), so they must not influence the result.
# (Euclidean() with no mapping, GOSPAMetric's default measure, would use all
# six components.) The Euclidean distance is scipy.spatial.distance.euclidean,
# i.e. numpy.linalg.norm(u - v) = sqrt(dot(u - v, u - v)).
#
# Stone Soup 1.x definitions (stonesoup/metricgenerator/ospametric.py), alpha = 2
# (hard-wired, self.alpha = 2 in __init__; not a constructor parameter):
#
#   d_c(x, y)   = d(x, y) if d(x, y) < c else c          (strict <: d == c -> c)
#   assignment  = scipy linear_sum_assignment on the |truths| x |tracks|
#                 matrix -d_c^p (maximised), i.e. a rectangular assignment
#                 pairing min(N, M) truths with tracks, minimising sum d_c^p.
#   A pair whose cost equals c^p (d >= c) is NOT a localisation: it is
#   re-classified as one missed truth plus one false track.
#   localisation = sum over assigned pairs with d < c of d^p
#   missed       = (c^p / 2) * (number of truths not assigned with d < c)
#   false        = (c^p / 2) * (number of tracks not assigned with d < c)
#   distance     = (localisation + missed + false)^(1/p)
#
# So localisation, missed and false are the p-th-power contributions
# (BEFORE the 1/p root); only `distance` has the root applied, and
# distance^p == localisation + missed + false (up to rounding).
# The dict also gets a 'switching' key only in compute_over_time (not used
# here); there `distance` becomes sqrt(distance^2 + switching^2), which equals
# distance for the default switching_penalty = 0.
#
# Empty sets:
#   * no truths, M tracks:  false = M c^p / 2, missed = localisation = -0.0,
#     distance = (M c^p / 2)^(1/p).
#   * N truths, no tracks:  missed = N c^p / 2, false = localisation = -0.0.
#   * both empty: Stone Soup raises ValueError("All states must be from the
#     same time to compute GOSPA") (the set of timestamps is empty), so there
#     is NO both-empty case in the file; the mathematical value is 0 for all
#     four numbers.
#   Zero components come out as -0.0 (Stone Soup negates accumulated sums at
#   the end; e.g. 0 * -1.0 == -0.0) and are written as such ("-0.0").
#
# Ties: the assignment is scipy's; when several optimal assignments exist they
# give the same distance but can split it differently between localisation and
# missed+false (e.g. one far pair vs. a rearrangement with equal total). This
# script cross-checks every case against a brute-force GOSPA and asserts that
# the optimum's decomposition is unique, so the components in the file are
# not tie-dependent.
#
# Output format (one block per case, no comments, no blank lines):
#   case NAME p P c C alpha A truths N tracks M distance D localisation L missed X false F
#   N lines "x y z" (truth positions), then M lines "x y z" (track positions)
# P, C, A and all coordinates / metric values are repr(float(...)) (shortest
# round-trip form); N and M are integers.

import itertools
import os
import sys

import numpy as np

import stonesoup
from stonesoup.measures import Euclidean
from stonesoup.metricgenerator.ospametric import GOSPAMetric
from stonesoup.types.groundtruth import GroundTruthState
from stonesoup.types.state import State

EXPECTED_STONESOUP = "1.9.1"
SEED = 20240601


def fmt(x):
    return repr(float(x))


def stonesoup_gospa(truths, tracks, p, c, rng):
    gospa = GOSPAMetric(p=p, c=c, measure=Euclidean(mapping=(0, 1, 2)))
    assert gospa.alpha == 2
    truth_states = [
        GroundTruthState(np.r_[x, rng.uniform(-50, 50, 3)], timestamp=None)
        for x in truths]
    track_states = [
        State(np.r_[x, rng.uniform(-50, 50, 3)], timestamp=None)
        for x in tracks]
    metric, _ = gospa.compute_gospa_metric(track_states, truth_states)
    v = metric.value
    return (float(v["distance"]), float(v["localisation"]),
            float(v["missed"]), float(v["false"]))


def brute_force(truths, tracks, p, c):
    """Independent GOSPA (alpha=2): returns (total^p, set of decompositions
    (loc, n_missed, n_false) of all optimal assignments)."""
    n, m = len(truths), len(tracks)
    if n == 0 or m == 0:
        return (n + m) * c ** p / 2, {(0.0, n, m)}
    d = np.linalg.norm(truths[:, None, :] - tracks[None, :, :], axis=2)
    small, large, transpose = (n, m, False) if n <= m else (m, n, True)
    best = []
    for perm in itertools.permutations(range(large), small):
        loc, npairs = 0.0, 0
        for i, j in enumerate(perm):
            dij = d[j, i] if transpose else d[i, j]
            if dij < c:
                loc += dij ** p
                npairs += 1
        total = loc + (n + m - 2 * npairs) * c ** p / 2
        best.append((total, loc, n - npairs, m - npairs))
    opt = min(b[0] for b in best)
    tol = 1e-9 * max(opt, 1.0)
    decomps = {(b[1], b[2], b[3]) for b in best if b[0] - opt <= tol}
    return opt, decomps


def check(name, truths, tracks, p, c, res):
    dist, loc, missed, false = res
    opt, decomps = brute_force(truths, tracks, p, c)
    rel = lambda a, b: abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
    assert rel(dist ** p, opt), (name, dist ** p, opt)
    assert rel(loc + missed + false, dist ** p), (name, res)
    counts = {(k, f) for _, k, f in decomps}
    assert len(counts) == 1, (name, "tie in decomposition", decomps)
    locs = [l for l, _, _ in decomps]
    assert max(locs) - min(locs) <= 1e-9 * max(max(locs), 1.0), (name, decomps)
    (nm, nf), = counts
    assert rel(missed, nm * c ** p / 2), (name, res, nm)
    assert rel(false, nf * c ** p / 2), (name, res, nf)
    assert rel(loc, locs[0]), (name, res, locs)


def hand_cases():
    """Small, hand-readable cases."""
    a = lambda *rows: np.array(rows, dtype=float).reshape(-1, 3)
    o = a([0, 0, 0])
    return [
        # one truth, one track 3 apart: distance 3 for every p
        ("one_pair_3apart_p1", o, a([3, 0, 0]), 1, 5),
        ("one_pair_3apart_p2", o, a([3, 0, 0]), 2, 5),
        ("one_pair_3apart_p3", o, a([3, 0, 0]), 3, 5),
        # 3-4-5 triangle in the y-z plane, large c: localisation 25 for p=2
        ("one_pair_345_c1000", a([1, 1, 1]), a([1, 4, 5]), 2, 1000),
        # the only track is farther than c from the only truth:
        # localisation 0, missed c^p/2, false c^p/2, distance c
        ("far_track_p1", o, a([30, 0, 0]), 1, 5),
        ("far_track_p2", o, a([0, -12, 9]), 2, 5),
        # exactly at the cut-off (d == c): counted as missed + false
        ("at_cutoff_p2", o, a([5, 0, 0]), 2, 5),
        # just inside the cut-off: a localisation of 4.5^2 = 20.25
        ("inside_cutoff_p2", o, a([0, 4.5, 0]), 2, 5),
        # empty on one side
        ("one_truth_no_tracks", o, a(), 2, 5),
        ("no_truths_one_track", a(), a([7, 8, 9]), 2, 5),
        ("three_truths_no_tracks_p3", a([0, 0, 0], [1, 2, 3], [10, 0, 0]), a(), 3, 1000),
        ("no_truths_four_tracks_p1", a(), a([0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]), 1, 5),
        # identical sets: everything zero
        ("identical_sets", a([1, 2, 3], [4, 5, 6], [-7, 8, -9]),
         a([4, 5, 6], [-7, 8, -9], [1, 2, 3]), 2, 5),
        # greedy nearest-pair would pick (truth 1, track 0) first; optimal is
        # truth0-track0, truth1-track1
        ("greedy_trap_p1", a([0, 0, 0], [2, 0, 0]), a([1.9, 0, 0], [4.5, 0, 0]), 1, 1000),
        ("greedy_trap_p2", a([0, 0, 0], [2, 0, 0]), a([1.9, 0, 0], [4.5, 0, 0]), 2, 1000),
        # two truths: one matched closely, the other's only candidate is beyond c,
        # plus an extra far clutter track
        ("mixed_close_far_clutter", a([0, 0, 0], [100, 0, 0]),
         a([1, 1, 0], [100, 0, 6], [-50, -50, -50]), 2, 5),
    ]


def random_cases(rng):
    # (n_truths, n_tracks, p, c, mode)
    # mode "uniform": both sets uniform in the cube [0, 20]^3 for c=5 and
    #   [0, 3000]^3 for c=1000, so pair distances fall both below and above c.
    # mode "noisy": tracks are perturbed truths (sigma = c/3, so some land
    #   beyond c) with some truths dropped and clutter tracks added.
    specs = [
        (0, 3, 2, 5, "uniform"), (5, 0, 1, 1000, "uniform"),
        (0, 8, 3, 1000, "uniform"), (8, 0, 2, 5, "uniform"),
        (1, 1, 1, 5, "uniform"), (1, 1, 3, 1000, "uniform"),
        (1, 8, 2, 5, "uniform"), (8, 1, 1, 1000, "uniform"),
        (2, 3, 2, 1000, "uniform"), (3, 2, 3, 5, "uniform"),
        (4, 4, 1, 5, "uniform"), (4, 4, 2, 1000, "uniform"),
        (5, 7, 3, 5, "uniform"), (7, 5, 2, 5, "uniform"),
        (6, 6, 3, 1000, "uniform"), (8, 8, 1, 5, "uniform"),
        (8, 8, 2, 1000, "uniform"), (8, 8, 3, 5, "uniform"),
        (3, 6, 1, 1000, "uniform"), (6, 3, 2, 5, "uniform"),
        (4, 5, 1, 5, "noisy"), (5, 5, 2, 5, "noisy"),
        (6, 7, 3, 5, "noisy"), (7, 6, 1, 1000, "noisy"),
        (8, 8, 2, 1000, "noisy"), (8, 7, 3, 1000, "noisy"),
        (2, 2, 2, 5, "noisy"), (3, 5, 1, 1000, "noisy"),
    ]
    out = []
    for k, (n, m, p, c, mode) in enumerate(specs):
        side = 20.0 if c == 5 else 3000.0
        truths = rng.uniform(0.0, side, (n, 3))
        if mode == "uniform":
            tracks = rng.uniform(0.0, side, (m, 3))
        else:
            keep = min(n, m)
            # drop some truths at random, perturb the rest, add clutter
            idx = rng.permutation(n)[:keep]
            keep_det = idx[rng.uniform(size=keep) < 0.85]
            det = truths[keep_det] + rng.normal(0.0, c / 3.0, (len(keep_det), 3))
            clutter = rng.uniform(0.0, side, (m - len(keep_det), 3))
            tracks = np.vstack([det, clutter])[rng.permutation(m)]
        name = "rand%02d_%s_n%d_m%d_p%d_c%d" % (k, mode, n, m, p, c)
        out.append((name, truths, tracks.reshape(-1, 3), p, c))
    return out


def main():
    if (stonesoup.__version__ != EXPECTED_STONESOUP
            and os.environ.get("GOSPA_REF_ANY_VERSION") != "1"):
        sys.exit("stonesoup %s installed, data made with %s"
                 % (stonesoup.__version__, EXPECTED_STONESOUP))
    rng = np.random.default_rng(SEED)
    cases = hand_cases() + random_cases(rng)
    # both-empty: confirm Stone Soup still rejects it (documented above)
    try:
        GOSPAMetric(p=1, c=5).compute_gospa_metric([], [])
        sys.exit("Stone Soup now accepts two empty sets: add a case for it")
    except ValueError:
        pass
    lines = []
    for name, truths, tracks, p, c in cases:
        res = stonesoup_gospa(truths, tracks, p, c, rng)
        check(name, truths, tracks, p, c, res)
        d, l, x, f = res
        lines.append(
            "case %s p %s c %s alpha %s truths %d tracks %d "
            "distance %s localisation %s missed %s false %s"
            % (name, fmt(p), fmt(c), fmt(2), len(truths), len(tracks),
               fmt(d), fmt(l), fmt(x), fmt(f)))
        for pt in list(truths) + list(tracks):
            lines.append(" ".join(fmt(v) for v in pt))
    sys.stdout.write("\n".join(lines) + "\n")
    print("%d cases" % len(cases), file=sys.stderr)


if __name__ == "__main__":
    main()
