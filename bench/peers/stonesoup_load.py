from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from stonesoup.types.groundtruth import GroundTruthPath, GroundTruthState
from stonesoup.types.state import GaussianState
from stonesoup.types.track import Track

SS = ["x", "vx", "y", "vy", "z", "vz"]  # Stone Soup's interleaved state order
EPOCH = datetime(1970, 1, 1)


def load_tracks(path, keys=("replay", "sensor", "track"), t0=EPOCH):
    """reports.csv -> {(replay, sensor, track): Track of GaussianState}.
    For system_tracks.csv pass keys=("replay", "system_track")."""
    df = pd.read_csv(path)
    X, P = df[SS].to_numpy(), np.zeros((len(df), 6, 6))
    for col in df.columns[df.columns.str.startswith("cov_")]:  # upper triangle
        _, a, b = col.split("_")
        P[:, SS.index(a), SS.index(b)] = P[:, SS.index(b), SS.index(a)] = df[col]
    return {key: Track([GaussianState(X[i], P[i], timestamp=t0 + timedelta(seconds=t))
                        for i, t in zip(g.index, g["time"])])
            for key, g in df.groupby(list(keys))}


def load_truth(path, t0=EPOCH):
    """truth.csv -> {(replay, object): GroundTruthPath of GroundTruthState}."""
    df = pd.read_csv(path)
    X = df[SS].to_numpy()
    return {key: GroundTruthPath([GroundTruthState(X[i], timestamp=t0 + timedelta(seconds=t))
                                  for i, t in zip(g.index, g["time"])])
            for key, g in df.groupby(["replay", "object"])}
