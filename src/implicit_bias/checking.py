"""Checks from files: run files and prediction files in, one table row per check out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .datasets import Dataset
from .files import atomic_write
from .labels import run_key
from .netcdf import Record
from .predictions import read_predictions, read_predictions_file, require_same_dataset
from .runs import network_for
from .theory import CLAIMS, COLUMNS, FLOAT_COLUMNS, RunView, check_runs


def read_run(run: Record, dataset: Dataset) -> RunView:
    """A run file (as ``runs.train_run`` writes it) as the ``RunView`` the claims check."""
    attrs = run.attrs
    network = network_for(json.loads(attrs["architecture_settings"]), dataset)
    theta_init = np.concatenate([run[f"theta_init_{l}"] for l in range(1, network.depth + 1)])
    return RunView.of(
        network,
        dataset,
        alpha=attrs["alpha"],
        seed=attrs["seed"],
        init=attrs["init"],
        solver=json.loads(attrs["solver_settings"]),
        experiment=attrs["experiment"],
        status=attrs["status"],
        reason=attrs["reason"],
        beta=run["beta"],
        log_loss=run["log_loss"],
        theta=run["theta"],
        theta_init=theta_init,
    )


def check_files(claims, *, dataset=None, runs=(), predictions=None, depths=None) -> list:
    """Every check (a ``Check``, controls included) of ``claims`` on the run files, each paired with its
    group of the ``predictions`` file (by architecture label, alpha and seed)."""
    predicted_runs = read_predictions_file(predictions) if predictions else {}
    data = Dataset.read(dataset) if dataset else None
    per_run = [c for c in claims if not CLAIMS[c].theory_only]
    views, predicted = [], {claim: [] for claim in per_run}
    for path in runs:
        run_file = Record.read(path)
        key = run_key(run_file.attrs)
        if key not in predicted_runs:
            raise ValueError(f"{predictions or 'no predictions file'} has no predictions for the run {path} {key}")
        view = read_run(run_file, data)
        prediction_file = predicted_runs[key]
        trained_on = str(run_file.attrs.get("dataset_sha256", ""))
        if data is not None and trained_on != data.content_sha256:
            raise ValueError(
                f"{path} was trained on the dataset with sha256 {trained_on[:16] or '(none recorded)'}, but "
                f"{dataset} has sha256 {data.content_sha256[:16]}: retrain, or check it against its own dataset"
            )
        require_same_dataset(prediction_file, trained_on, predictions, path)
        if not np.array_equal(prediction_file["theta_init"], view.theta_init):
            raise ValueError(f"{path}: the run and its predictions start from different initialisations")
        own = read_predictions(prediction_file)
        for claim in per_run:
            if claim not in own:
                raise ValueError(f"{predictions} has no prediction of {claim} for the run {path}")
            predicted[claim].append(own[claim])
        views.append(view)
    return check_runs(claims, views, predicted, depths=depths)


def write_checks(rows, path) -> Path:
    """One CSV row per check, the columns of claims.csv (docs/results.md), atomically; written with the
    csv module (pandas' import would cost a check job a third of its time) as pandas writes them: a
    float column's values in their shortest exact form, NaN as an empty field."""

    def field(name, value):
        if name in FLOAT_COLUMNS:
            return "" if np.isnan(value) else repr(float(value))
        return str(int(value)) if isinstance(value, (int, np.integer)) else value

    def write(tmp):
        with open(tmp, "w", newline="") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(COLUMNS)
            out.writerows([field(name, value) for name, value in r.row().items()] for r in rows)

    return atomic_write(path, write)


def tails_record(rows, experiment: str) -> Record:
    """The series behind every tail verdict (claims and controls), padded to a common length, with
    their fits: what the ``tail_fits`` figure draws."""
    traced = [r for r in rows if r.trace is not None]
    width = max((np.isfinite(r.trace.values).sum() for r in traced), default=0)
    x = np.full((len(traced), width), np.nan)
    values = np.full((len(traced), width), np.nan)
    for i, r in enumerate(traced):
        keep = np.isfinite(r.trace.values)
        x[i, : keep.sum()], values[i, : keep.sum()] = r.trace.x[keep], r.trace.values[keep]
    labels = {
        name: (("series",), np.array([str(getattr(r, name)) for r in traced], dtype=object), {})
        for name in ("claim", "role", "alternative", "architecture", "metric", "status")
    }
    numbers = {
        name: (("series",), np.array([float(getattr(r, name)) for r in traced]), {})
        for name in ("alpha", "seed", "depth", "tolerance")
    }
    fits = {
        f"fit_{name}": (("series",), np.array([float(getattr(r.trace.tail, name)) for r in traced]), {})
        for name in ("limit", "uncertainty", "rate", "coefficient", "tau_end")
    }
    return Record(
        {
            "x": (("series", "point"), x, {"long_name": "tau = -log L (or 1/alpha for a sweep)", "units": "1"}),
            "value": (("series", "point"), values, {"long_name": "the judged quantity", "units": "1"}),
            **labels,
            **numbers,
            **fits,
        },
        {"experiment": experiment, "fit": "value ~ fit_limit + fit_coefficient (x / fit_tau_end)^-fit_rate"},
    )
