"""Checks from files: run files and prediction files in, one table row per check out."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .datasets import Dataset
from .netcdf import read_netcdf
from .predictions import read_predictions
from .theory import RunView, check_runs

COLUMNS = ["claim", "experiment", "architecture", "depth", "alpha", "seed", "metric", "value", "tolerance", "status", "reason"]


def check_files(claims, *, dataset=None, runs=(), predictions=(), depths=None) -> pd.DataFrame:
    """Rows of every check of ``claims`` on the run files, each paired with the predictions file of
    the same name."""
    by_name = {Path(p).name: p for p in predictions}
    missing = [Path(r).name for r in runs if Path(r).name not in by_name]
    if missing:
        raise ValueError(f"no predictions file for the run(s) {missing}")
    data = Dataset.read(dataset) if dataset else None
    views, predicted = [], {claim: [] for claim in claims}
    for path in runs:
        run_file = read_netcdf(path)
        view = RunView.from_netcdf(run_file, data)
        prediction_file = read_netcdf(by_name[Path(path).name])
        if not np.array_equal(prediction_file["theta_init"].values, view.theta_init):
            raise ValueError(f"{path}: the run and its predictions start from different initialisations")
        own = read_predictions(prediction_file, view.network)
        for claim in claims:
            if claim not in own and claim != "lemma5_1":
                raise ValueError(f"{by_name[Path(path).name]} has no prediction for {claim}")
            predicted[claim].append(own.get(claim))
        views.append(view)
    rows = check_runs(claims, views, {c: p for c, p in predicted.items() if c != "lemma5_1"}, depths=depths)
    return pd.DataFrame([r.row() for r in rows], columns=COLUMNS)


def write_table(table: pd.DataFrame, path) -> Path:
    """Write a CSV atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
