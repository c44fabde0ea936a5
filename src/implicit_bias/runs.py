"""One training run from settings to a self-describing dataset (what ``train`` writes)."""

from __future__ import annotations

import json

import numpy as np

from .architectures import build_network
from .datasets import Dataset
from .inits import describe_init, initialize, read_init_file, resolve_scheme
from .labels import architecture_label
from .netcdf import Record
from .networks import LinearTensorNetwork
from .training import Problem, RunResult, make_solver


def network_for(spec: dict, dataset: Dataset) -> LinearTensorNetwork:
    """Build the architecture ``spec`` for this dataset (matrix sensing takes the data's eigenbasis)."""
    return build_network(spec, dataset.X.shape[1], data_settings={"basis": dataset.basis})


def initial_state(dataset: Dataset, *, architecture: dict, init: str | dict, alpha: float, seed: int):
    """(network, scheme used, note, flat v(0)) of a run: what training starts from and predictions are for.

    The configured scheme falls back to ``random`` where it cannot serve the network (see
    ``inits.resolve_scheme``); one function for both, so a run and its prediction cannot disagree.
    """
    network = network_for(architecture, dataset)
    labels = dataset.y if dataset.task == "classification" else None
    scheme, note = resolve_scheme(init, network, dataset.X, labels)
    return network, scheme, note, initialize(scheme, network, dataset.X, alpha=alpha, seed=seed, y=labels)


def train_run(
    dataset: Dataset,
    *,
    architecture: dict,
    init: str | dict,
    alpha: float,
    seed: int,
    solver: dict,
    experiment: str = "adhoc",
    config: dict | None = None,
    decide=None,
    log=None,
) -> Record:
    """Train one (architecture, alpha, seed) and return its run file's content (see docs/results.md).

    With ``decide`` (``deciding.decider``), a classification flow continues past its target, down to its
    cap (``GradientFlow.cap``), while a check it serves is inconclusive or passes only by extrapolation;
    ``stop_reason`` says why it stopped.
    """
    network, scheme, note, theta0 = initial_state(dataset, architecture=architecture, init=init, alpha=alpha, seed=seed)
    problem = Problem(network, dataset.X, dataset.y, dataset.task)
    solver_obj = make_solver(solver)
    if log is not None:  # a long run says where it is
        from .training.solvers import Progress

        (result,) = solver_obj.run(
            problem, theta0[None, :], progress=Progress(log, "GD" if solver_obj.name == "gd" else "flow")
        )
    else:
        (result,) = solver_obj.run(problem, theta0[None, :])
    if not result.ok:
        stop_reason = result.reason
    elif solver_obj.name == "gd":
        stop_reason = f"ran its {solver_obj.steps} steps (the paper's protocol: a fixed number of steps)"
    else:
        stop_reason = f"reached the flow's target log L = {solver_obj.target(problem):.4g}"
    if decide is not None and solver_obj.name == "flow" and solver_obj.continues(dataset.task):
        result, stop_reason = decide(
            solver_obj,
            problem,
            result,
            dataset,
            alpha=alpha,
            seed=seed,
            init=describe_init(init),
            experiment=experiment,
            log=log,
        )
    attrs = {
        "experiment": experiment,
        "task": dataset.task,
        "dataset": dataset.name,
        "data_sha256": dataset.source_sha256,
        "dataset_sha256": dataset.content_sha256,
        "architecture": network.name,
        "architecture_settings": json.dumps({k: v for k, v in architecture.items() if k != "basis_tensors"}),
        "architecture_label": architecture_label(architecture),
        "depth": network.depth,
        "alpha": float(alpha),
        "seed": int(seed),
        "init": describe_init(init),
        "init_applied": "given" if isinstance(scheme, dict) else scheme,
        "init_note": note,
        "init_sha256": read_init_file(init["file"])[1] if isinstance(init, dict) and "file" in init else "",
        "solver": solver_obj.name,
        "solver_settings": json.dumps(solver_obj.settings(), sort_keys=True),
        "status": result.status,
        "reason": result.reason,
        "stop_reason": stop_reason,
        "steps": result.steps,
        "config": json.dumps(config if config is not None else {}, sort_keys=True, default=str),
    }
    return run_record(result, network, solver_obj.name, attrs)


def run_record(result: RunResult, network: LinearTensorNetwork, solver: str, attrs: dict) -> Record:
    """The run file's content (docs/results.md)."""
    progress_attrs = (
        {"long_name": "gradient descent step", "units": "1"}
        if solver == "gd"
        else {"long_name": "level -log L reached by the exact flow", "units": "1"}
    )
    data = {
        "progress": (("checkpoint",), np.asarray(result.progress, dtype=np.float64), progress_attrs),
        "beta": (("checkpoint", "coef"), result.beta, {"long_name": "linear coefficients beta(Theta)", "units": "1"}),
        "loss": (("checkpoint",), result.loss, {"long_name": "training loss L(Theta)", "units": "1"}),
        "log_loss": (("checkpoint",), result.log_loss, {"long_name": "natural log of the training loss", "units": "1"}),
    }
    data["theta"] = (
        ("checkpoint", "param"),
        result.theta,
        {"long_name": "all parameters (v_1, ..., v_L) concatenated", "units": "1"},
    )
    for l, (init, final) in enumerate(
        zip(network.unflatten(result.theta_init), network.unflatten(result.theta_final)), 1
    ):
        dim = f"param_{l}"
        data[f"theta_init_{l}"] = ((dim,), init, {"long_name": f"initial parameters v_{l}(0)", "units": "1"})
        data[f"theta_final_{l}"] = ((dim,), final, {"long_name": f"final parameters v_{l}", "units": "1"})
    return Record(data, attrs)
