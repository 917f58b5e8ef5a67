#!/usr/bin/env python3
# Generate tests/data/history_stonesoup.txt: track-history association
# reference results from Stone Soup's TrackToTrackCounting.
#
# Run by hand (not by CI). The committed data was produced with exactly:
#
#     python3 -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install 'stonesoup==1.9.*'
#     /tmp/ssvenv/bin/python tests/data/make_history_reference.py > tests/data/history_stonesoup.txt
#
# (run from the repository root) with stonesoup 1.9.1 (the newest 1.9.x on
# PyPI), numpy 2.4.6, scipy 1.17.1, ordered-set 4.1.0, Python 3.11.7. The
# script refuses to run with another stonesoup version unless
# HISTORY_REF_ANY_VERSION=1 is set in the environment. It prints the number of
# cases and the time Stone Soup spent on them to stderr.
#
#     /tmp/ssvenv/bin/python tests/data/make_history_reference.py --bench DIR
#
# times Stone Soup on a larger two-source set (50 tracks per source x 600
# common timestamps, see bench() below) and writes the same tracks as
# DIR/bench_reports.csv (for `trackcorr history`) and Stone Soup's
# associations as DIR/bench_stonesoup.csv (trackcorr's output format).
#
# What is computed
# ----------------
# For every case and every pair of sources (S_i, S_j), i < j, in the order the
# sources are listed in the case:
#
#     assoc = TrackToTrackCounting(
#         association_threshold=THRESHOLD, consec_pairs_confirm=CONFIRM,
#         consec_misses_end=MISSES, one_to_one=bool(ONE_TO_ONE),
#         pos_map=[0, 1, 2], use_positional_only=True,
#         measure=Euclidean(mapping=(0, 1, 2)))        # "measure euclidean"
#     #   or measure=None (Stone Soup's default)        # "measure weighted"
#     result = assoc.associate_tracks(set(tracks of S_i), set(tracks of S_j))
#
# A new associator object is made for every call (associate_tracks stores the
# measure and pos_map it derives on the object and would reuse them).
# TrackToTrackCounting (a TwoTrackToTrackAssociator) only takes TWO track sets,
# so cases with three sources are run pairwise, once per pair of sources; the
# pairs are independent (one_to_one only acts inside one pair of sources).
#
# States are stonesoup State objects with 6-element state vectors
# [x, y, z, vx, vy, vz] and timestamp = EPOCH + t seconds. Velocities are
# random and deliberately NOT written to the data file: with pos_map [0, 1, 2]
# and use_positional_only=True they must not influence the result.
#
# Distance ("measure" field of the case line):
#   euclidean: Euclidean(mapping=(0, 1, 2)) = sqrt(dx^2 + dy^2 + dz^2), the
#              plain position distance.
#   weighted:  measure=None, Stone Soup's DEFAULT: EuclideanWeighted with
#              weights [1/3, 1/3, 1/3, 0, 0, 0], i.e.
#              sqrt((dx^2 + dy^2 + dz^2) / 3) = plain distance / sqrt(3).
#              (Only a few cases use it.)
# Both are evaluated by scipy: scipy.spatial.distance.euclidean ->
# scipy.linalg.norm -> BLAS dnrm2 (extended-precision accumulation), which is
# NOT always bit-identical to a naive sqrt(dx*dx + dy*dy + dz*dz) (about 1 in
# 5 random distances differ in the last bit). The data is therefore generated
# so that no compared distance is within a relative 1e-9 of the threshold,
# except distances that are EXACTLY equal to it (small integer / half-integer
# coordinate differences, e.g. (6, 8, 0) at threshold 10, where every
# correctly rounded evaluation gives the threshold exactly). The script
# asserts this.
#
# Semantics (stonesoup/dataassociator/tracktotrack.py, 1.9.1), summarised; see
# the report that came with this file for the full description:
#   * only timestamps present in BOTH tracks are compared, in time order;
#     "consecutive" means consecutive among those common timestamps, whatever
#     the gaps between them.
#   * a pair is "close" when distance <= threshold (inclusive).
#   * an association starts when CONFIRM consecutive close pairs have been
#     seen; its start time is the FIRST of those CONFIRM timestamps.
#   * it ends when MISSES consecutive far pairs have been seen; its end time
#     is the timestamp of the FIRST of those misses. If the common timestamps
#     run out while it is open, its end is the LAST common timestamp (even if
#     that one was a miss).
#   * quirk: while an association is open, a run of CONFIRM close pairs after
#     an isolated miss (fewer than MISSES misses) moves the start forward to
#     the first timestamp of that run; the earlier part is lost.
#   * several associations of the same track pair are merged by AssociationSet
#     into ONE TimeRangeAssociation with a CompoundTimeRange (written as one
#     assoc line with several START END pairs).
#   * one_to_one=True runs stonesoup.dataassociator._assignment.
#     multidimensional_deconfliction on the result (see the report).
#
# Output format (no blank lines):
#   # ...                    header comment lines (only before the first case)
#   case NAME threshold T confirm C misses M one_to_one B measure MEASURE
#   track SRC ID t,x,y,z t,x,y,z ...
#   ...                      (one line per track; sources in the order they
#                             are paired: every source's first track line
#                             appears before the next source's)
#   assoc SRC1 ID1 SRC2 ID2 START END [START END ...]
#   ...                      (one line per TimeRangeAssociation returned; zero
#                             or more; SRC1 is the earlier source of the pair)
#   end
# T is repr(float); C, M integers; B is 0 or 1; MEASURE is euclidean or
# weighted. Track states are written in increasing time order; t is an integer
# number of seconds since EPOCH, x, y, z are repr(float) metres (shortest
# round-trip form). START/END are integer seconds; more than one START END
# pair means the association's time_range is a CompoundTimeRange (pairs sorted
# by start, disjoint). assoc lines are sorted by (SRC1, ID1, SRC2, ID2).
#
# Checks done before anything is written:
#   * every case without one_to_one is compared with an independent
#     re-implementation of the counting rules above (my_counting);
#   * every one_to_one case is compared with a port of
#     multidimensional_deconfliction (my_deconflict), and Stone Soup's result
#     is recomputed under many different orders of the objects list that
#     multidimensional_deconfliction builds from a Python set (its order
#     depends on object ids, so it is arbitrary) and with freshly built
#     objects; a case whose result depends on that order is rejected (the
#     one_to_one cases here are all order-independent).
#   * the distance margin described above.

import datetime
import itertools
import os
import sys
import time
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment

import stonesoup
from stonesoup.dataassociator.tracktotrack import TrackToTrackCounting
from stonesoup.measures import Euclidean
from stonesoup.types.association import AssociationSet
from stonesoup.types.state import State
from stonesoup.types.time import CompoundTimeRange, TimeRange
from stonesoup.types.track import Track

EXPECTED_STONESOUP = "1.9.1"
SEED = 20240917
EPOCH = datetime.datetime(2024, 1, 1, 0, 0, 0)
MARGIN = 1e-9


def fmt(x):
    return repr(float(x))


def to_dt(t):
    return EPOCH + datetime.timedelta(seconds=int(t))


def to_sec(dt):
    s = (dt - EPOCH).total_seconds()
    assert s == int(s), dt
    return int(s)


# ---------------------------------------------------------------------------
# Case construction helpers. A track is (id, [(t, x, y, z), ...]) with integer
# t in increasing order; a case is a dict.
# ---------------------------------------------------------------------------

def case(name, thr, confirm, misses, o2o, sources, measure="euclidean"):
    return dict(name=name, thr=float(thr), confirm=confirm, misses=misses,
                o2o=int(o2o), measure=measure, sources=sources)


# offsets for the hand-made cases (threshold 10 unless stated)
OFF = {
    "C": (3.0, 4.0, 0.0),      # 5      close
    "c": (0.0, -3.0, 4.0),     # 5      close, another direction (ties)
    "F": (30.0, 40.0, 0.0),    # 50     far
    "E": (6.0, 8.0, 0.0),      # 10     exactly the threshold
    "G": (6.0, 8.0, 1.0),      # sqrt(101) = 10.05 just above 10
    "W": (9.0, 9.0, 9.0),      # 15.59 plain, 9 weighted (1/sqrt(3))
    "V": (12.0, 12.0, 12.0),   # 20.78 plain, 12 weighted
}


def base_path(t, lane):
    """Integer-valued straight-line motion, one 'lane' per object so that
    objects in different lanes are always far apart (>= 1000 m)."""
    return (100.0 + 7.0 * t, 1000.0 * lane - 3.0 * t, 50.0 + 2.0 * t)


def ref_track(tid, times, lane):
    return (tid, [(t,) + base_path(t, lane) for t in times])


def pattern_track(tid, t0, pattern, lane, off=OFF):
    """Track near base_path(lane): pattern char k gives the offset at time
    t0 + k; '.' means no state at that time (a gap)."""
    states = []
    for k, ch in enumerate(pattern):
        if ch in " .":
            continue
        t = t0 + k
        b = base_path(t, lane)
        o = off[ch]
        states.append((t, b[0] + o[0], b[1] + o[1], b[2] + o[2]))
    return (tid, states)


def hand_cases():
    cs = []
    R = range

    # Basic life cycle: start after 3 close, end after 2 misses, restart
    # twice (one track pair -> one association with a 3-part compound range),
    # a pair that is never close and a pair close for only 2 steps at a time.
    cs.append(case("basic_start_end_restart", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 24), 0), ref_track(1, R(0, 24), 1),
               ref_track(2, R(0, 24), 2)]),
        ("B", [pattern_track(0, 0, "FFFCCCCCCFFFFCCCCFFCCCCC", 0),
               pattern_track(1, 0, "FFFFFFFFFFFFFFFFFFFFFFFF", 1),
               pattern_track(2, 0, "CCFCCFCCFFCCFCCFCCFCCFCC", 2)]),
    ]))
    # Close runs shorter than confirm never confirm; a run of exactly
    # confirm does; confirm 5.
    cs.append(case("runs_shorter_than_confirm", 10, 5, 2, 0, [
        ("A", [ref_track(3, R(0, 30), 0), ref_track(4, R(0, 30), 1)]),
        ("B", [pattern_track(8, 0, "CCCCFCCCCFFCCCCFCCCFFFCCCCFFFF", 0),
               pattern_track(9, 0, "FFCCCCFCCCCCFFFFFFFFFFFFFFFFFF", 1)]),
    ]))
    # A single miss (< misses) does not end an association; the end is the
    # first miss of the final miss run. Second pair: the start-reset quirk
    # (isolated miss followed by >= confirm close pairs moves the start).
    # Third pair: two isolated misses, each followed by a long run.
    cs.append(case("isolated_miss_and_start_reset", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 20), 0), ref_track(1, R(0, 20), 1),
               ref_track(2, R(0, 20), 2)]),
        ("B", [pattern_track(0, 0, "CCCCCFCCFFFFFFFFFFFF", 0),
               pattern_track(1, 0, "CCCCCFCCCCFFFFFFFFFF", 1),
               pattern_track(2, 0, "FCCCCFCCCCCFCCCCCFFF", 2)]),
    ]))
    # End of common timestamps while associated: end = last common time,
    # also when the last one or more (< misses) were misses; and exactly
    # `misses` misses at the very end (ended by the miss rule).
    cs.append(case("tracks_end_while_associated", 10, 3, 3, 0, [
        ("A", [ref_track(0, R(0, 15), 0), ref_track(1, R(0, 15), 1),
               ref_track(2, R(0, 15), 2), ref_track(3, R(0, 15), 3),
               ref_track(4, R(0, 12), 4)]),
        ("B", [pattern_track(0, 0, "FFCCCCCCCCCCCCC", 0),
               pattern_track(1, 0, "CCCCCCCCCCCCCFF", 1),
               pattern_track(2, 0, "CCCCCCCCCCCCFFF", 2),
               pattern_track(3, 0, "FFFFFFFFFFFFCCC", 3),
               # B4 goes on after A4 ends (t 12..19): common ends at 11
               pattern_track(4, 0, "FFFFFFCCCCFCFFFFFFFF", 4)]),
    ]))
    # Threshold equality: distance exactly 10 at threshold 10 is close (<=);
    # sqrt(101) is not. Mixed E/G runs.
    cs.append(case("threshold_equal_is_close", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 12), 0), ref_track(1, R(0, 12), 1),
               ref_track(2, R(0, 12), 2)]),
        ("B", [pattern_track(0, 0, "EEEEEEEEEEEE", 0),
               pattern_track(1, 0, "GGGGGGGGGGGG", 1),
               pattern_track(2, 0, "GEEEGGEEEEGG", 2)]),
    ]))
    # Same with a non-integer threshold: (1.5, 2, 0) is exactly 2.5.
    half = {"h": (1.5, 2.0, 0.0), "H": (1.5, 2.0, 0.5), "F": OFF["F"]}
    cs.append(case("threshold_equal_half", 2.5, 2, 1, 0, [
        ("A", [ref_track(0, R(0, 10), 0), ref_track(1, R(0, 10), 1)]),
        ("B", [pattern_track(0, 0, "hhhFhhhhHh", 0, half),
               pattern_track(1, 0, "HHHHHHHHHH", 1, half)]),
    ]))
    # confirm 1, misses 1: every close run is its own association
    # [first close, first miss]; never a lone close pair at the last common
    # timestamp (Stone Soup raises ValueError then, see the report).
    cs.append(case("confirm1_misses1", 10, 1, 1, 0, [
        ("A", [ref_track(0, R(0, 14), 0), ref_track(1, R(0, 14), 1)]),
        ("B", [pattern_track(0, 0, "FCFCCFFCCCFFCC", 0),
               pattern_track(1, 0, "CFFFCFCCFCCCCC", 1)]),
    ]))
    # confirm 1, misses 2: a single miss inside an association followed by a
    # close pair resets the start (start-reset quirk with confirm 1).
    cs.append(case("confirm1_misses2", 10, 1, 2, 0, [
        ("A", [ref_track(0, R(0, 14), 0), ref_track(1, R(0, 14), 1)]),
        ("B", [pattern_track(0, 0, "CFCCFFCCFCFFCC", 0),
               pattern_track(1, 0, "FCCCCFFFCFCCCC", 1)]),
    ]))
    # confirm 3, misses 1: any miss ends.
    cs.append(case("confirm3_misses1", 10, 3, 1, 0, [
        ("A", [ref_track(0, R(0, 16), 0), ref_track(1, R(0, 16), 1)]),
        ("B", [pattern_track(0, 0, "CCCFCCCCFCCFCCCF", 0),
               pattern_track(1, 0, "FCCCCCCCCCCCCCCC", 1)]),
    ]))
    # Partial overlap in time: association limited to the common interval;
    # tracks with no common timestamp at all give nothing.
    cs.append(case("partial_overlap", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 30), 0), ref_track(1, R(10, 21), 1),
               ref_track(2, R(0, 10), 2), ref_track(3, R(25, 50), 3)]),
        ("B", [pattern_track(0, 15, "C" * 30, 0),
               pattern_track(1, 0, "F" * 12 + "C" * 29, 1),
               pattern_track(2, 10, "C" * 20, 2),
               pattern_track(3, 20, "CCCCCCCCC", 3)]),
    ]))
    # Gaps: consecutive means consecutive COMMON timestamps, however far
    # apart; a gap in one track is neither a hit nor a miss.
    cs.append(case("gaps", 10, 3, 2, 0, [
        ("A", [ref_track(0, [0, 1, 2, 5, 6, 9, 10, 11, 12, 17, 18, 19, 20,
                             21, 22, 23, 24], 0),
               ref_track(1, [t for t in R(0, 30) if t % 4 != 3], 1)]),
        ("B", [pattern_track(0, 0, "FC.CC.C.FCF.FCCC.CC.FCC.F", 0),
               pattern_track(1, 0, "CCCFFCCCF.FFCCFCCCFFFFCCCCCCCC", 1)]),
    ]))
    # Different time grids: A every 2 s, B every 3 s -> common every 6 s;
    # A2 on odd seconds never meets B2 on even ones.
    cs.append(case("different_grids", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 60, 2), 0), ref_track(1, R(1, 60, 2), 1),
               ref_track(2, R(1, 40, 2), 2)]),
        ("B", [pattern_track(0, 0, "".join("C" if t % 3 == 0 and not 24 <= t < 42
                                          else ("F" if t % 3 == 0 else ".")
                                          for t in R(0, 60)), 0),
               pattern_track(1, 0, "".join("C" if t % 3 == 0 else "."
                                          for t in R(0, 60)), 1),
               pattern_track(2, 0, "".join("C" if t % 2 == 0 else "."
                                          for t in R(0, 40)), 2)]),
    ]))
    # Ties without one_to_one: one A track exactly 5 m from two B tracks (and
    # one B track exactly 5 m from two A tracks) -> all pairs associated.
    cs.append(case("ties_all_kept", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 12), 0),
               pattern_track(1, 0, "CCCCCCCCCCCC", 1),
               pattern_track(2, 0, "cccccccccccc", 1)]),
        ("B", [pattern_track(0, 0, "CCCCCCCCCCCC", 0),
               pattern_track(1, 0, "cccccccccccc", 0),
               ref_track(2, R(0, 12), 1)]),
    ]))
    return cs


def one_to_one_cases():
    """Hand-made one_to_one cases, each also written with one_to_one 0."""
    R = range
    out = []

    def both(name, thr, confirm, misses, sources):
        out.append(case(name + "_o2o", thr, confirm, misses, 1, sources))
        out.append(case(name + "_all", thr, confirm, misses, 0, sources))

    # A0 close to B0 over [0, 19] and to B1 over [5, 10]: the shorter one is
    # contained in the longer one and disappears.
    both("o2o_contained", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 20), 0)]),
        ("B", [pattern_track(0, 0, "c" * 20, 0),
               pattern_track(1, 0, "FFFFFCCCCCCFFFFFFFFF", 0)]),
    ])
    # Partial overlap: A0-B0 [0, 12], A0-B1 [8, 25] (longer) -> A0-B1 kept
    # whole, A0-B0 trimmed to [0, 8] (closed ranges: they share t = 8).
    both("o2o_partial_trim", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 30), 0)]),
        ("B", [pattern_track(0, 0, "ccccccccccccFFFFFFFFFFFFFFFFFF", 0),
               pattern_track(1, 0, "FFFFFFFFCCCCCCCCCCCCCCCCCFFFFF", 0)]),
    ])
    # Same track with two B tracks at disjoint times: no conflict, both kept.
    both("o2o_disjoint_in_time", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 30), 0)]),
        ("B", [pattern_track(0, 0, "CCCCCCFF", 0),
               pattern_track(1, 10, "cccccccccccccccccccc", 0)]),
    ])
    # B0 is close to A0 and A1 (two A tracks on one object); A0 longer.
    both("o2o_one_b_two_a", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 25), 0),
               pattern_track(1, 3, "cccccccccccFF", 0)]),
        ("B", [pattern_track(0, 0, "C" * 25, 0)]),
    ])
    # Crossing objects: A0/B0 follow lane 0, A1/B1 follow lane 0 offset by
    # 'c' only during [10, 17], so A0-B1 and A1-B0 are briefly close too.
    cross = {"C": OFF["C"], "c": OFF["c"], "F": OFF["F"],
             "x": (0.0, 0.0, -9.0)}
    both("o2o_crossing", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 30), 0),
               pattern_track(1, 0, "FFFFFFFFFFxxxxxxxxFFFFFFFFFFFF", 0, cross)]),
        ("B", [pattern_track(0, 0, "C" * 30, 0, cross),
               pattern_track(1, 0, "FFFFFFFFFFCCCCCCCCFFFFFFFFFFFF", 0,
                             {"C": (3.0, 4.0, -9.0), "F": (-30.0, 40.0, 0.0)})]),
    ])
    # Restart under one_to_one: A0-B0 has a compound range; A0-B1 overlaps
    # its gap and part of its second component.
    both("o2o_restart_compound", 10, 3, 2, [
        ("A", [ref_track(0, R(0, 40), 0)]),
        ("B", [pattern_track(0, 0, "CCCCCCCCCCFFFFFFFFFFFFFFFFCCCCCCCCCCCCCC", 0),
               pattern_track(1, 0, "FFFFFFFFFFFFccccccccccccccccccccFFFFFFFF", 0)]),
    ])
    return out


# ---------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------

def random_case(rng, name, n_sources, n_objects, n_times, thr, confirm, misses,
                o2o, sigma, grids=False, measure="euclidean", box=400.0,
                speed=8.0, p_drop=0.08):
    """Objects move on straight lines (some on crossing courses); every
    source has 2-6 tracks, each following one object over a random part of
    [0, n_times) with Gaussian position noise, random dropped states and, if
    grids, its own sampling period/phase."""
    p0 = rng.uniform(0.0, box, (n_objects, 3))
    vel = rng.uniform(-speed, speed, (n_objects, 3))
    # make two objects cross: object 1 passes through object 0's position at
    # a random time
    if n_objects >= 2:
        tc = rng.integers(n_times // 4, 3 * n_times // 4)
        p0[1] = p0[0] + vel[0] * tc - vel[1] * tc + rng.normal(0, sigma, 3)
    names = ["A", "B", "C"][:n_sources]
    sources = []
    for s in names:
        n_tracks = int(rng.integers(2, 7))
        used_ids = rng.choice(100, size=n_tracks, replace=False)
        tracks = []
        if grids:
            period = int(rng.integers(1, 4))
            phase = int(rng.integers(0, period))
        else:
            period, phase = 1, 0
        for k in range(n_tracks):
            obj = k % n_objects if k < n_objects else int(rng.integers(n_objects))
            a = int(rng.integers(0, n_times // 2))
            b = int(rng.integers(a + n_times // 4, n_times + 1))
            times = [t for t in range(a, b) if t % period == phase
                     and rng.uniform() >= p_drop]
            if len(times) < 2:
                times = list(range(a, b))
            pos = [p0[obj] + vel[obj] * t + rng.normal(0, sigma, 3) for t in times]
            tracks.append((int(used_ids[k]),
                           [(t, float(p[0]), float(p[1]), float(p[2]))
                            for t, p in zip(times, pos)]))
        sources.append((s, tracks))
    return case(name, thr, confirm, misses, o2o, sources, measure)


def random_cases(rng):
    specs = [
        # (sources, objects, times, thr, confirm, misses, o2o, sigma, grids, measure)
        (2, 3, 40, 25.0, 3, 2, 0, 8.0, False, "euclidean"),
        (2, 4, 60, 25.0, 3, 2, 0, 9.0, False, "euclidean"),
        (2, 3, 50, 20.0, 2, 3, 0, 7.0, True, "euclidean"),
        (2, 5, 60, 30.0, 4, 2, 0, 10.0, True, "euclidean"),
        (2, 2, 30, 25.0, 1, 1, 0, 9.0, False, "euclidean"),
        (2, 3, 45, 25.0, 1, 2, 0, 9.0, False, "euclidean"),
        (2, 4, 60, 15.0, 3, 1, 0, 5.0, False, "euclidean"),
        (2, 3, 60, 12.0, 3, 2, 0, 6.0, False, "weighted"),
        (3, 3, 40, 25.0, 3, 2, 0, 8.0, False, "euclidean"),
        (3, 4, 60, 25.0, 2, 2, 0, 9.0, True, "euclidean"),
        (3, 2, 50, 20.0, 3, 3, 0, 7.0, True, "euclidean"),
        (2, 3, 40, 25.0, 3, 2, 1, 8.0, False, "euclidean"),
        (2, 4, 60, 25.0, 3, 2, 1, 9.0, True, "euclidean"),
        (3, 3, 50, 25.0, 2, 2, 1, 8.0, False, "euclidean"),
    ]
    out = []
    for k, (ns, no, nt, thr, cf, ms, o2o, sg, gr, me) in enumerate(specs):
        name = "rand%02d_s%d_o%d_t%d_thr%g_c%d_m%d%s%s%s" % (
            k, ns, no, nt, thr, cf, ms, "_grids" if gr else "",
            "_weighted" if me == "weighted" else "", "_o2o" if o2o else "")
        out.append((name, (ns, no, nt, thr, cf, ms, o2o, sg, gr, me)))
    return out


def three_source_hand_case():
    R = range
    # Object on lane 0 seen by A (0..29), B (10..39) and C (5..20, gaps);
    # object on lane 1 seen by A and C only; B also has a far track.
    return case("three_sources_hand", 10, 3, 2, 0, [
        ("A", [ref_track(0, R(0, 30), 0), ref_track(1, R(0, 30), 1)]),
        ("B", [pattern_track(0, 10, "C" * 12 + "FF" + "c" * 16, 0),
               pattern_track(1, 0, "F" * 30, 1)]),
        ("C", [pattern_track(5, 5, "cc.ccc.FFcccc.cc", 0),
               pattern_track(6, 0, "FFCCCCCCCCCCCCCCCFFFCCCC", 1)]),
    ])


# ---------------------------------------------------------------------------
# Running Stone Soup
# ---------------------------------------------------------------------------

def build_tracks(c, vel_rng):
    """Stone Soup Track objects per source, and a map track -> (src, id)."""
    sets = []
    label = {}
    for src, tracks in c["sources"]:
        tset = set()
        for tid, states in tracks:
            tr = Track([State(np.array([x, y, z, *vel_rng.uniform(-30, 30, 3)]),
                              timestamp=to_dt(t))
                        for t, x, y, z in states])
            label[tr] = (src, tid)
            tset.add(tr)
        sets.append((src, tset))
    return sets, label


def make_associator(c):
    kw = dict(association_threshold=c["thr"],
              consec_pairs_confirm=c["confirm"],
              consec_misses_end=c["misses"],
              one_to_one=bool(c["o2o"]),
              pos_map=[0, 1, 2], use_positional_only=True)
    if c["measure"] == "euclidean":
        kw["measure"] = Euclidean(mapping=(0, 1, 2))
    else:
        assert c["measure"] == "weighted"
    return TrackToTrackCounting(**kw)


def ranges_of(time_range):
    if isinstance(time_range, CompoundTimeRange):
        comps = list(time_range.time_ranges)
    else:
        assert isinstance(time_range, TimeRange), type(time_range)
        comps = [time_range]
    rs = sorted((to_sec(r.start), to_sec(r.end)) for r in comps)
    for (s1, e1), (s2, e2) in zip(rs, rs[1:]):
        assert e1 < s2, rs
    return tuple(rs)


def result_lines(result, label):
    assert isinstance(result, AssociationSet), type(result)
    out = []
    for a in result.associations:
        objs = list(a.objects)
        assert len(objs) == 2
        out.append((label[objs[0]], label[objs[1]], ranges_of(a.time_range)))
    return sorted(out)


def run_stonesoup(c, vel_seed):
    """Returns (sorted list of ((src, id), (src, id), ranges)), seconds)."""
    sets, label = build_tracks(c, np.random.default_rng(vel_seed))
    res = []
    elapsed = 0.0
    for (s1, t1), (s2, t2) in itertools.combinations(sets, 2):
        assoc = make_associator(c)
        t0 = time.perf_counter()
        r = assoc.associate_tracks(t1, t2)
        elapsed += time.perf_counter() - t0
        lines = result_lines(r, label)
        for a, b, _ in lines:
            assert a[0] == s1 and b[0] == s2, (a, b, s1, s2)
        res.extend(lines)
    return sorted(res), elapsed


# ---------------------------------------------------------------------------
# Independent re-implementation (used only as a cross-check)
# ---------------------------------------------------------------------------

def distance(c, p, q):
    from scipy.spatial import distance as sd
    u = np.array(p, dtype=float)
    v = np.array(q, dtype=float)
    if c["measure"] == "euclidean":
        return sd.euclidean(u, v)
    return sd.euclidean(u, v, [1 / 3, 1 / 3, 1 / 3])


def common_pairs(tr1, tr2):
    d2 = {t: (x, y, z) for t, x, y, z in tr2}
    return [(t, (x, y, z), d2[t]) for t, x, y, z in sorted(tr1) if t in d2]


def my_counting_pair(c, tr1, tr2):
    ranges = []
    hits = misses = 0
    first = start = end = None
    pairs = common_pairs(tr1, tr2)
    for t, p, q in pairs:
        if distance(c, p, q) <= c["thr"]:
            hits += 1
            misses = 0
            if hits == 1:
                first = t
            if hits == c["confirm"]:
                start = first          # also while already open (quirk)
        else:
            hits = 0
            misses += 1
            if misses == 1:
                end = t
            if misses >= c["misses"] and start is not None:
                ranges.append((start, end))
                start = None
    if start is not None:
        end = pairs[-1][0]
        if not start < end:
            raise ValueError("Must have left < right")
        ranges.append((start, end))
    return tuple(ranges)


def my_counting(c):
    out = []
    for (s1, tr1s), (s2, tr2s) in itertools.combinations(c["sources"], 2):
        for id1, st1 in tr1s:
            for id2, st2 in tr2s:
                r = my_counting_pair(c, st1, st2)
                if r:
                    out.append(((s1, id1), (s2, id2), r))
    return sorted(out)


# port of multidimensional_deconfliction on plain data: an association is
# (frozenset({a, b}), ranges) with closed integer ranges
def _dur(rs):
    return sum(e - s for s, e in rs)


def _overlap(rs1, rs2):
    return any(max(s1, s2) < min(e1, e2) for s1, e1 in rs1 for s2, e2 in rs2)


def _subtract(rs, ws):
    out = list(rs)
    for ws_, we in ws:
        nxt = []
        for s, e in out:
            if max(s, ws_) >= min(e, we):      # no overlap of positive length
                nxt.append((s, e))
                continue
            if s < ws_:
                nxt.append((s, ws_))
            if e > we:
                nxt.append((we, e))
        out = nxt
    return tuple(sorted(out))


def my_deconflict(assocs, order):
    """assocs: list of [objs(frozenset), ranges, uid]; order: function that
    orders the object list."""
    def conflicts(a, b):
        return a[2] != b[2] and bool(a[0] & b[0]) and _overlap(a[1], b[1])
    if not any(conflicts(a, b) for a, b in itertools.combinations(assocs, 2)):
        return list(assocs)
    objects = order(sorted({o for a in assocs for o in a[0]}))
    n = len(objects)
    tot = np.zeros((n, n))
    for a in assocs:
        i, j = (objects.index(o) for o in sorted(a[0]))
        tot[i, j] = _dur(a[1])
    tot = np.maximum(tot, tot.T).astype(int)
    np.fill_diagonal(tot, 0)
    col = linear_sum_assignment(tot, maximize=True)[1]
    cleaned, reduced = [], list(assocs)
    for i, j in enumerate(col):
        if i == j:
            continue
        cand = [a for a in reduced if a[0] == frozenset((objects[i], objects[j]))]
        if not cand:
            continue
        a = cand[0]
        if all(_dur(a[1]) > _dur(w[1]) or not conflicts(a, w) for w in cleaned):
            cleaned.append(a)
            reduced.remove(a)
    if not cleaned:
        raise ValueError("Problem unsolvable using this method")
    if not reduced:
        return cleaned
    for r in my_deconflict(reduced, order):
        rem = r[1]
        for w in list(cleaned):
            if conflicts(r, w):
                rem = _subtract(rem, w[1])
        if rem and _dur(rem) > 0:
            cleaned.append([r[0], rem, ("trim",) + tuple(r[2:])])
    return cleaned


def my_one_to_one(c, order=lambda objs: objs):
    out = []
    for (s1, _), (s2, _) in itertools.combinations(c["sources"], 2):
        sub = dict(c, sources=[x for x in c["sources"] if x[0] in (s1, s2)])
        plain = my_counting(sub)
        assocs = [[frozenset((a, b)), r, (a, b)] for a, b, r in plain]
        for objs, r, _ in my_deconflict(assocs, order):
            a, b = sorted(objs)
            out.append((a, b, r))
    return sorted(out)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def margin_violations(c):
    """Pairs at common timestamps whose distance is within MARGIN of the
    threshold without being exactly equal to it in exact arithmetic AND in
    floating point."""
    bad = []
    thr = c["thr"]
    w = Fraction(1) if c["measure"] == "euclidean" else Fraction(1, 3)
    for (s1, tr1s), (s2, tr2s) in itertools.combinations(c["sources"], 2):
        for id1, st1 in tr1s:
            for id2, st2 in tr2s:
                for t, p, q in common_pairs(st1, st2):
                    d = distance(c, p, q)
                    if abs(d - thr) > MARGIN * thr:
                        continue
                    exact_sq = w * sum((Fraction(a) - Fraction(b)) ** 2
                                       for a, b in zip(p, q))
                    if not (d == thr and exact_sq == Fraction(thr) ** 2):
                        bad.append((s1, id1, s2, id2, t, d))
    return bad


class _ShuffledObjects:
    """Context manager: AssociationSet.object_set returns the objects in a
    list order chosen by `order` (multidimensional_deconfliction does
    list(association_set.object_set), whose order is otherwise arbitrary)."""

    def __init__(self, order):
        self.order = order

    def __enter__(self):
        self.saved = AssociationSet.__dict__["object_set"]
        order = self.order
        saved = self.saved

        def object_set(aset):
            return order(list(saved.fget(aset)))
        AssociationSet.object_set = property(object_set)

    def __exit__(self, *exc):
        AssociationSet.object_set = self.saved
        return False


def order_dependence(c, n_shuffles=60):
    """Returns the set of distinct Stone Soup results over object orders."""
    results = set()
    rng = np.random.default_rng(12345)

    def shuffled(objs):
        objs = list(objs)
        rng.shuffle(objs)
        return objs
    for k in range(n_shuffles):
        with _ShuffledObjects(shuffled):
            r, _ = run_stonesoup(c, vel_seed=k)
        results.add(tuple(r))
    # plain (unpatched) runs with fresh objects
    for k in range(10):
        r, _ = run_stonesoup(c, vel_seed=1000 + k)
        results.add(tuple(r))
    return results


def my_order_dependence(c, n_shuffles=60):
    results = set()
    rng = np.random.default_rng(54321)

    def shuffled(objs):
        objs = list(objs)
        rng.shuffle(objs)
        return objs
    for _ in range(n_shuffles):
        results.add(tuple(my_one_to_one(c, shuffled)))
    return results


def check_case(c, result):
    bad = margin_violations(c)
    if bad:
        return "distance within margin of threshold: %r" % bad[:3]
    if not c["o2o"]:
        mine = my_counting(c)
        if mine != result:
            return "re-implementation differs:\n  ss   %r\n  mine %r" % (result, mine)
        return None
    variants = order_dependence(c)
    if len(variants) != 1:
        return "one_to_one result depends on object order: %d variants" % len(variants)
    mine = my_order_dependence(c)
    if mine != {tuple(result)}:
        return ("one_to_one port differs:\n  ss   %r\n  mine %r"
                % (result, sorted(mine)))
    return None


# ---------------------------------------------------------------------------

def write_case(c, result, lines):
    lines.append("case %s threshold %s confirm %d misses %d one_to_one %d measure %s"
                 % (c["name"], fmt(c["thr"]), c["confirm"], c["misses"],
                    c["o2o"], c["measure"]))
    for src, tracks in c["sources"]:
        for tid, states in tracks:
            assert [s[0] for s in states] == sorted({s[0] for s in states})
            lines.append("track %s %d %s" % (src, tid, " ".join(
                "%d,%s,%s,%s" % (t, fmt(x), fmt(y), fmt(z)) for t, x, y, z in states)))
    for (s1, i1), (s2, i2), rs in result:
        lines.append("assoc %s %d %s %d %s" % (
            s1, i1, s2, i2, " ".join("%d %d" % r for r in rs)))
    lines.append("end")


HEADER = """\
# history_stonesoup.txt: Stone Soup TrackToTrackCounting reference results.
# Produced (from the repository root) with exactly:
#   python3 -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install 'stonesoup==1.9.*'
#   /tmp/ssvenv/bin/python tests/data/make_history_reference.py > tests/data/history_stonesoup.txt
# stonesoup %s, numpy %s, scipy %s, Python %s. Seed %d.
# Associator per pair of sources (S_i, S_j), i < j (TrackToTrackCounting takes
# only two track sets, so 3-source cases are run pairwise, once per pair):
#   TrackToTrackCounting(association_threshold=T, consec_pairs_confirm=C,
#     consec_misses_end=M, one_to_one=bool(B), pos_map=[0, 1, 2],
#     use_positional_only=True, measure=Euclidean(mapping=(0, 1, 2)))
#   .associate_tracks(set(tracks of S_i), set(tracks of S_j))
# measure euclidean: plain position distance; measure weighted: measure=None
# (Stone Soup's default EuclideanWeighted, weights 1/3 on x, y, z and 0 on
# velocities = plain distance / sqrt(3)).
# Timestamps: integer seconds since %s. No distance is within a relative
# %g of the threshold unless exactly equal to it (close means d <= T).
# Format:
#   case NAME threshold T confirm C misses M one_to_one B measure MEASURE
#   track SRC ID t,x,y,z t,x,y,z ...      (states in time order; repr floats)
#   assoc SRC1 ID1 SRC2 ID2 START END [START END ...]
#                                          (one per returned association; >1
#                                           pair = CompoundTimeRange, merged
#                                           associations of one track pair)
#   end
# See tests/data/make_history_reference.py for details."""


def bench(out_dir):
    """Two sources, 50 tracks each, 600 common timestamps (1 s apart); every
    object seen by both sources with 9 m noise per axis; threshold 25,
    confirm 3, misses 2; one_to_one off and on."""
    rng = np.random.default_rng(SEED + 1)
    n_obj, n_t = 50, 600
    p0 = rng.uniform(0, 5000, (n_obj, 3))
    vel = rng.uniform(-8, 8, (n_obj, 3))
    srcs = []
    for s in "AB":
        tracks = []
        for k in range(n_obj):
            pos = p0[k] + vel[k] * np.arange(n_t)[:, None] + rng.normal(0, 9.0, (n_t, 3))
            tracks.append((k, [(t, *map(float, pos[t])) for t in range(n_t)]))
        srcs.append((s, tracks))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench_reports.csv"), "w") as f:
        f.write("replay,time,sensor,track,x,y,z,vx,vy,vz,"
                "cov_x_x,cov_x_y,cov_x_z,cov_y_y,cov_y_z,cov_z_z\n")
        rows = [(t, s, tid, x, y, z) for s, tracks in srcs
                for tid, states in tracks for t, x, y, z in states]
        for t, s, tid, x, y, z in sorted(rows):
            f.write("0,%d,%s,%d,%s,%s,%s,0,0,0,81,0,0,81,0,81\n"
                    % (t, s, tid, fmt(x), fmt(y), fmt(z)))
    for o2o in (0, 1):
        c = case("bench", 25.0, 3, 2, o2o, srcs)
        sets, label = build_tracks(c, np.random.default_rng(0))
        assoc = make_associator(c)
        t0 = time.perf_counter()
        r = assoc.associate_tracks(sets[0][1], sets[1][1])
        dt = time.perf_counter() - t0
        n_ranges = sum(len(ranges_of(a.time_range)) for a in r.associations)
        name = "bench_stonesoup%s.csv" % ("_one_to_one" if o2o else "")
        with open(os.path.join(out_dir, name), "w") as f:
            f.write("replay,sensor_a,track_a,sensor_b,track_b,start,end\n")
            for (s1, i1), (s2, i2), rs in result_lines(r, label):
                for a, b in rs:
                    f.write("0,%s,%d,%s,%d,%d,%d\n" % (s1, i1, s2, i2, a, b))
        print("bench: 2 sources x %d tracks x %d timestamps, one_to_one=%d: "
              "%.2f s, %d associations (%d time ranges)"
              % (n_obj, n_t, o2o, dt, len(r), n_ranges), file=sys.stderr)


def main():
    if (stonesoup.__version__ != EXPECTED_STONESOUP
            and os.environ.get("HISTORY_REF_ANY_VERSION") != "1"):
        sys.exit("stonesoup %s installed, data made with %s"
                 % (stonesoup.__version__, EXPECTED_STONESOUP))
    if sys.argv[1:2] == ["--bench"] and len(sys.argv) == 3:
        bench(sys.argv[2])
        return
    rng = np.random.default_rng(SEED)
    cases = hand_cases() + one_to_one_cases() + [three_source_hand_case()]
    for name, spec in random_cases(rng):
        # regenerate (same rng stream) until the case passes the margin and
        # order-independence checks; the number of rejected draws is printed
        for attempt in range(50):
            c = random_case(rng, name, *spec[:-2], grids=spec[-2], measure=spec[-1])
            try:
                r, _ = run_stonesoup(c, vel_seed=0)
            except ValueError as e:
                # Stone Soup raises "Must have left < right" for an association
                # that would start at the last common timestamp (confirm 1)
                print("%s: draw %d rejected (Stone Soup: %s)" % (name, attempt, e),
                      file=sys.stderr)
                continue
            if check_case(c, r) is None:
                break
            print("%s: draw %d rejected" % (name, attempt), file=sys.stderr)
        else:
            sys.exit("%s: no acceptable draw" % name)
        cases.append(c)

    lines = []
    total = 0.0
    n_assoc = 0
    for k, c in enumerate(cases):
        result, elapsed = run_stonesoup(c, vel_seed=k)
        total += elapsed
        err = check_case(c, result)
        if err:
            sys.exit("case %s: %s" % (c["name"], err))
        n_assoc += len(result)
        write_case(c, result, lines)
    header = HEADER % (stonesoup.__version__, np.__version__,
                       __import__("scipy").__version__,
                       sys.version.split()[0], SEED, EPOCH.isoformat(), MARGIN)
    sys.stdout.write(header + "\n" + "\n".join(lines) + "\n")
    print("%d cases, %d assoc lines; Stone Soup associate_tracks total %.3f s"
          % (len(cases), n_assoc, total), file=sys.stderr)


if __name__ == "__main__":
    main()
