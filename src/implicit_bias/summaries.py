"""One summary file per experiment: every run and prediction on shared coordinates, which xarray
reads as one dataset (written with netCDF4 alone: a summarize job need not import xarray)."""

from __future__ import annotations

import json

import numpy as np

from .labels import run_key
from .netcdf import Record, read_records


def last_finite(beta):
    """Each run's last recorded beta (runs are NaN-padded); NaN where a run recorded none."""
    finite = np.all(np.isfinite(beta), axis=-1)
    last = np.where(finite.any(-1), finite.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1), 0)
    end = np.take_along_axis(beta, last[..., None, None], axis=-2)[..., 0, :]
    return np.where(finite.any(-1)[..., None], end, np.nan)


def min_norm_interpolant(X, y, order: int) -> np.ndarray:
    """argmin |beta|_order subject to X beta = y (order 1: a linear program in beta = p - q, p, q >= 0;
    order 2: the pseudo-inverse solution)."""
    if order == 2:
        return np.linalg.lstsq(X, y, rcond=None)[0]
    from scipy.optimize import linprog

    d = X.shape[1]
    result = linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None), method="highs")
    if result.status != 0:
        raise ValueError(f"the min-l1 interpolation program failed: {result.message}")
    return result.x[:d] - result.x[d:]


def held_out(dataset, beta, dims) -> dict:
    """Where the data have them: each run's test error at its end (on points never trained on) and how far
    its beta is from the planted beta* (relative distance for regression, angle for classification); for
    regression with a planted model also the min-l1 and min-l2 interpolants, the two ends of Remark 4."""
    end = last_finite(beta)
    out = {}
    if dataset.X_test is not None:
        error = dataset.test_error(end.reshape(-1, end.shape[-1]).T).reshape(end.shape[:-1])
        error[~np.all(np.isfinite(end), axis=-1)] = np.nan
        meaning = "mean squared error" if dataset.task == "regression" else "misclassification rate"
        out["test_error"] = (
            dims,
            error,
            {"long_name": f"test {meaning} at the end ({len(dataset.y_test)} held-out points)", "units": "1"},
        )
    if dataset.beta_star is None:
        return out
    star = dataset.beta_star
    out["beta_star"] = (("coef",), star, {"long_name": "planted coefficients beta* of the data", "units": "1"})
    if dataset.task == "regression":
        distance = np.linalg.norm(end - star, axis=-1) / np.linalg.norm(star)
        out["distance_to_beta_star"] = (
            dims,
            distance,
            {"long_name": "|beta - beta*| / |beta*| at the end", "units": "1"},
        )
        ends = np.stack([min_norm_interpolant(dataset.X, dataset.y, order) for order in (1, 2)])
        out["interpolant"] = (("interpolant",), np.array(["min-l1", "min-l2"], dtype=object), {})
        out["min_norm_interpolant"] = (
            ("interpolant", "coef"),
            ends,
            {"long_name": "min-l1 and min-l2 solutions of X beta = y (Remark 4's rich and kernel ends)", "units": "1"},
        )
        if dataset.X_test is not None:
            out["min_norm_test_error"] = (
                ("interpolant",),
                dataset.test_error(ends.T),
                {"long_name": "test mean squared error of the min-l1 and min-l2 interpolants", "units": "1"},
            )
    else:
        cosine = end @ star / (np.linalg.norm(end, axis=-1) * np.linalg.norm(star))
        out["angle_to_beta_star"] = (
            dims,
            np.degrees(np.arccos(np.clip(cosine, -1, 1))),
            {"long_name": "angle between beta and beta* at the end", "units": "degree"},
        )
    return out


def summarize(run_paths, predictions_path=None, *, experiment: str, config: dict | None = None, dataset=None) -> Record:
    """Stack run files (and their predictions) into dims (architecture, alpha, seed, checkpoint, coef).

    Architectures are labelled by their runs' ``architecture_label`` attribute; runs of different lengths are padded
    with NaN; ``status`` and ``reason`` say how each run ended.
    """
    predictions = (
        {run_key(group.attrs): group for group in read_records(predictions_path).values()} if predictions_path else {}
    )
    records = []
    for path in run_paths:
        run = Record.read(path)
        records.append((run.attrs["architecture_label"], run, predictions.get(run_key(run.attrs))))
    if not records:
        raise ValueError(f"{experiment}: no run files to summarize")
    labels = sorted({r[0] for r in records})
    alphas = sorted({float(r[1].attrs["alpha"]) for r in records})
    seeds = sorted({int(r[1].attrs["seed"]) for r in records})
    K = max(r[1].sizes()["checkpoint"] for r in records)
    d = records[0][1].sizes()["coef"]
    claims = sorted({str(c) for r in records if r[2] is not None for c in r[2]["claim"]})
    shape = (len(labels), len(alphas), len(seeds))
    beta = np.full(shape + (K, d), np.nan)
    series = {name: np.full(shape + (K,), np.nan) for name in ("progress", "loss", "log_loss")}
    status = np.full(shape, "missing", dtype=object)
    reason = np.full(shape, "", dtype=object)
    depth = {}
    beta_pred = np.full((len(claims),) + shape + (d,), np.nan)
    references = {}  # name -> (architecture, alpha, seed, coef): solutions a prediction names for comparison
    applicable = np.zeros((len(claims),) + shape, dtype=np.int8)
    for label, run, prediction in records:
        index = (labels.index(label), alphas.index(float(run.attrs["alpha"])), seeds.index(int(run.attrs["seed"])))
        k = run.sizes()["checkpoint"]
        beta[index][:k] = run["beta"]
        for name in series:
            series[name][index][:k] = run[name]
        status[index], reason[index] = run.attrs["status"], run.attrs["reason"]
        depth[label] = int(run.attrs["depth"])
        if prediction is not None:
            for c, claim in enumerate(prediction["claim"]):
                beta_pred[(claims.index(str(claim)),) + index] = prediction["beta_pred"][c]
                applicable[(claims.index(str(claim)),) + index] = prediction["applicable"][c]
                info = json.loads(str(prediction["info"][c]))
                for key, value in info.get("references", {}).items():
                    references.setdefault(key, np.full(shape + (d,), np.nan))[index] = value
    dims = ("architecture", "alpha", "seed")
    units = {"units": "1"}
    data = {
        "beta": (dims + ("checkpoint", "coef"), beta, {"long_name": "linear coefficients beta(Theta)", **units}),
        "progress": (
            dims + ("checkpoint",),
            series["progress"],
            {"long_name": "GD step, or the level -log L the flow reached", **units},
        ),
        "loss": (dims + ("checkpoint",), series["loss"], {"long_name": "training loss", **units}),
        "log_loss": (
            dims + ("checkpoint",),
            series["log_loss"],
            {"long_name": "natural log of the training loss", **units},
        ),
        "status": (dims, status, {"long_name": "how the run ended"}),
        "reason": (dims, reason, {"long_name": "why, in words"}),
        "depth": (("architecture",), np.array([depth.get(l, -1) for l in labels]), {"long_name": "depth L", **units}),
        "beta_pred": (
            ("claim",) + dims + ("coef",),
            beta_pred,
            {"long_name": "predicted limit (direction) of beta", **units},
        ),
        "applicable": (("claim",) + dims, applicable, {"long_name": "1 if the claim applies to the run", **units}),
    }
    if dataset is not None:
        data.update(held_out(dataset, beta, dims))
    if references:
        names = sorted(references)
        data["reference_beta"] = (
            ("reference",) + dims + ("coef",),
            np.stack([references[n] for n in names]),
            {"long_name": "reference solutions the predictions name (e.g. Remark 4's ends), for comparison", **units},
        )
    labelled = {  # the dimensions labelled by values (checkpoint and coef are indexed 0..n-1)
        "architecture": np.array(labels, dtype=object),
        "alpha": np.array(alphas, dtype=np.float64),
        "seed": np.array(seeds, dtype=np.int64),
        "claim": np.array(claims, dtype=object),
        **({"reference": np.array(sorted(references), dtype=object)} if references else {}),
    }
    data.update({name: ((name,), values, {}) for name, values in labelled.items()})
    first = records[0][1].attrs
    attrs = {
        "experiment": experiment,
        "task": first["task"],
        "solver": first["solver"],
        "solver_settings": first["solver_settings"],
        "init": first["init"],
        "config": json.dumps(config or {}, sort_keys=True, default=str),
    }
    if dataset is not None and dataset.X.shape[0] == 1:  # the line of global minima x^T beta = y
        attrs["x0"], attrs["y0"] = dataset.X[0].tolist(), float(dataset.y[0])
    return Record(data, attrs)
