"""The predictions file: what each claim predicts for every run of an experiment, one NetCDF group per
run (see docs/results.md)."""

from __future__ import annotations

import json

import numpy as np

from .datasets import Dataset
from .inits import describe_init
from .labels import alpha_label, architecture_label, run_key, run_name
from .netcdf import Record, read_records, write_records
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


def predictions_record(claims, run: RunView, label: str, dataset_sha256: str = "") -> Record:
    """Every claim's prediction for one planned run (of the architecture labelled ``label``, on the dataset
    whose ``content_sha256`` is given): one group of the predictions file (written with netCDF4 alone, so
    that reading it needs no xarray)."""
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
        "alternatives": (
            ("claim",),
            np.array([json.dumps(_listed(p.alternatives)) for p in predictions], dtype=object),
            {"long_name": "the plausible wrong predictions the check must reject, name -> vector (JSON)"},
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
    data["claim"] = (("claim",), np.array(list(claims), dtype=object), {"long_name": "claim id"})
    attrs = {
        "experiment": run.experiment,
        "architecture": network.name,
        "architecture_label": label,
        "depth": network.depth,
        "alpha": run.alpha,
        "seed": run.seed,
        "init": run.init,
        "dataset_sha256": dataset_sha256,
    }
    return Record(data, attrs)


def _listed(vectors: dict) -> dict:
    """name -> vector as JSON lists (floats round-trip exactly through JSON)."""
    return {name: np.asarray(v, dtype=np.float64).tolist() for name, v in vectors.items()}


def read_predictions(group: Record) -> dict[str, Prediction]:
    """claim -> Prediction from a run's group of a predictions file."""
    if "alternatives" not in group:  # read as "no controls", its checks could pass without any
        raise ValueError("a predictions file without the controls' alternatives (an older version's): rerun predict")
    out = {}
    for i, claim in enumerate(group["claim"]):
        beta = group["beta_pred"][i]
        thetas = [group[f"theta_pred_{l}"][i] for l in range(1, int(group.attrs["depth"]) + 1)]
        alternatives = json.loads(str(group["alternatives"][i]))
        out[str(claim)] = Prediction(
            str(claim),
            bool(group["applicable"][i]),
            str(group["reason"][i]),
            None if np.all(np.isnan(beta)) else beta,
            None if all(np.all(np.isnan(t)) for t in thetas) else thetas,
            json.loads(str(group["info"][i])),
            str(group["error"][i]) if "error" in group else "",
            {name: np.array(v, dtype=np.float64) for name, v in alternatives.items()},
        )
    return out


def predict_experiment(dataset: Dataset, spec: dict, experiment: str, solver: dict, log=None) -> dict[str, Record]:
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
                ds = predictions_record(claims, run, label, dataset.content_sha256)
                out[run_name(label, alpha_label(alpha), seed)] = ds
                if log:
                    applies = [c for c, a in zip(claims, ds["applicable"]) if a]
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


def write_predictions(predictions: dict[str, Record], path, experiment: str):
    return write_records(predictions, path, attrs={"experiment": experiment, "runs": len(predictions)})


def read_predictions_file(path) -> dict[tuple, Record]:
    """``run_key`` -> that run's group of the predictions, from a file ``write_predictions`` wrote."""
    return {run_key(group.attrs): group for group in read_records(path).values()}


def require_same_dataset(group: Record, dataset_sha256: str, predictions, run) -> None:
    """Refuse predictions made for other data than the run's, naming both (sha256 of the content)."""
    made_for = str(group.attrs.get("dataset_sha256", ""))
    if made_for != dataset_sha256:
        raise ValueError(
            f"{predictions} was made for the dataset with sha256 {made_for[:16] or '(none recorded)'}, but {run} "
            f"is on the dataset with sha256 {dataset_sha256[:16] or '(none recorded)'}: rerun predict for this data"
        )


def run_predictions(
    path, *, architecture: dict, alpha: float, seed: int, dataset_sha256: str
) -> tuple[dict[str, Prediction], np.ndarray]:
    """One run's predictions (claim -> Prediction) from its experiment's predictions file, and the
    initialisation they were made for; predictions made for another dataset are refused."""
    label = architecture_label(architecture)
    key = (label, float(alpha), int(seed))
    name = run_name(label, alpha_label(alpha), seed)  # the group predict_experiment named; its attributes decide
    group = read_records(path, [name]).get(name)
    if group is None or run_key(group.attrs) != key:
        raise ValueError(f"{path} has no predictions for the run {key}")
    require_same_dataset(group, dataset_sha256, path, f"the run {key}")
    return read_predictions(group), group["theta_init"]
