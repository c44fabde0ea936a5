"""The predictions file: what each claim predicts for every run of an experiment, one NetCDF group per
run (see docs/results.md)."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .datasets import Dataset
from .inits import describe_init
from .labels import alpha_label, architecture_label, run_key, run_name
from .netcdf import read_netcdf_groups, write_netcdf_groups
from .networks import LinearTensorNetwork
from .runs import initial_state
from .theory import CLAIMS, Prediction, RunView, predict


def planned_run(
    dataset: Dataset, *, architecture: dict, init: str | dict, alpha: float, seed: int, solver: dict, experiment: str
) -> RunView:
    """A run as it will start: its initialisation, without training results (predictions need no more)."""
    network, _, _, theta0 = initial_state(dataset, architecture=architecture, init=init, alpha=alpha, seed=seed)
    return RunView.of(
        network,
        dataset,
        alpha=alpha,
        seed=seed,
        init=describe_init(init),
        solver=solver,
        experiment=experiment,
        theta_init=theta0,
    )


def predictions_dataset(claims, run: RunView, label: str) -> xr.Dataset:
    """Every claim's prediction for one planned run (of the architecture labelled ``label``)."""
    network = run.network
    predictions = [predict(claim, run) for claim in claims]
    K = len(predictions)
    beta = np.full((K, network.dim), np.nan)
    thetas = [np.full((K, k), np.nan) for k in network.shape]
    for i, p in enumerate(predictions):
        if p.beta is not None:
            beta[i] = p.beta
        for l, vector in enumerate(p.theta or []):
            thetas[l][i] = vector
    data = {
        "applicable": (
            ("claim",),
            np.array([int(p.applicable) for p in predictions], dtype=np.int8),
            {"long_name": "1 if the claim applies to this run (setting and premises)", "units": "1"},
        ),
        "reason": (("claim",), np.array([p.reason for p in predictions], dtype=object), {"long_name": "why, in words"}),
        "info": (
            ("claim",),
            np.array([json.dumps(p.info, sort_keys=True, default=float) for p in predictions], dtype=object),
            {"long_name": "further predicted quantities (JSON)"},
        ),
        "error": (
            ("claim",),
            np.array([p.error for p in predictions], dtype=object),
            {"long_name": "why the prediction could not be computed (empty if it could)"},
        ),
        "beta_pred": (("claim", "coef"), beta, {"long_name": "predicted limit (direction) of beta", "units": "1"}),
        "theta_init": (
            ("param",),
            run.theta_init,
            {"long_name": "the initialisation the prediction is for", "units": "1"},
        ),
    }
    for l, values in enumerate(thetas, 1):
        data[f"theta_pred_{l}"] = (
            ("claim", f"param_{l}"),
            values,
            {"long_name": f"predicted limit of v_{l}", "units": "1"},
        )
    coords = {"claim": list(claims), "coef": np.arange(network.dim), "param": np.arange(network.n_params)}
    coords.update({f"param_{l}": np.arange(k) for l, k in enumerate(network.shape, 1)})
    attrs = {
        "experiment": run.experiment,
        "architecture": network.name,
        "architecture_label": label,
        "depth": network.depth,
        "alpha": run.alpha,
        "seed": run.seed,
        "init": run.init,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def read_predictions(ds: xr.Dataset, network: LinearTensorNetwork) -> dict[str, Prediction]:
    """claim -> Prediction from a predictions file."""
    out = {}
    for i, claim in enumerate(ds["claim"].values):
        beta = ds["beta_pred"].values[i]
        thetas = [ds[f"theta_pred_{l}"].values[i] for l in range(1, network.depth + 1)]
        out[str(claim)] = Prediction(
            str(claim),
            bool(ds["applicable"].values[i]),
            str(ds["reason"].values[i]),
            None if np.all(np.isnan(beta)) else beta,
            None if all(np.all(np.isnan(t)) for t in thetas) else thetas,
            json.loads(str(ds["info"].values[i])),
            str(ds["error"].values[i]) if "error" in ds else "",
        )
    return out


def predict_experiment(dataset: Dataset, spec: dict, experiment: str, solver: dict, log=None) -> dict[str, xr.Dataset]:
    """Run name -> predictions of every per-run claim of an experiment (``spec``: its config entry)."""
    claims = [c for c in spec["claims"] if not CLAIMS[c].theory_only]
    out = {}
    for architecture in spec["architectures"]:
        label = architecture_label(architecture)
        for alpha in spec["alphas"]:
            for seed in spec["seeds"]:
                run = planned_run(
                    dataset,
                    architecture=architecture,
                    init=spec["init"],
                    alpha=float(alpha),
                    seed=int(seed),
                    solver=solver,
                    experiment=experiment,
                )
                ds = predictions_dataset(claims, run, label)
                out[run_name(label, alpha_label(alpha), seed)] = ds
                if log:
                    applies = [c for c, a in zip(claims, ds["applicable"].values) if a]
                    log(
                        "%s alpha=%g seed=%s: %d of %d claims apply (%s)",
                        label,
                        alpha,
                        seed,
                        len(applies),
                        len(claims),
                        ", ".join(applies) or "none",
                    )
    return out


def write_predictions(predictions: dict[str, xr.Dataset], path, experiment: str):
    return write_netcdf_groups(predictions, path, attrs={"experiment": experiment, "runs": len(predictions)})


def read_predictions_file(path) -> dict[tuple, xr.Dataset]:
    """``run_key`` -> that run's predictions, from a file ``write_predictions`` wrote."""
    return {run_key(ds.attrs): ds for ds in read_netcdf_groups(path).values()}
