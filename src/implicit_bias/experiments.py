"""Experiments as the config describes them: their datasets, run labels and validation.

An experiment (one entry of ``experiments:`` in config.yaml) is a task, data, a list of
architectures, alphas, seeds, an init scheme, a solver and the claims to check. Everything here
runs at workflow load time too, so a bad config stops before any job with a message naming the
key.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import architectures
from .architectures import ARCHITECTURES, build_network
from .datasets import DataError, Dataset, validate_data
from .inits import INITS, given_directions
from .labels import alpha_label, architecture_label
from .theory import CLAIMS
from .training import make_solver

# folders the workflow writes beside the experiments' under results/: no experiment may take their names
RESERVED_NAMES = ("theory", "figures", "report", "logs", "benchmarks")
DEVICE = r"^(cpu|mps|cuda(:[0-9]+)?)$"


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the key."""


def _fail(key, message):
    raise ConfigError(f"{key}: {message}")


def full_schema(schema: dict) -> dict:
    """workflow/schemas/config.schema.yaml with its ``architecture`` stub replaced by what the architectures
    declare (``architectures.config_schema``: their names and settings), so that a new architecture is its
    module alone."""
    if "architecture" not in schema.get("$defs", {}):
        return schema
    return {**schema, "$defs": {**schema["$defs"], "architecture": architectures.config_schema()}}


def schema_problems(config: dict, schema: dict) -> list[str]:
    """What the JSON schema refuses in ``config``, one line each: the key, what is wrong, and for an unknown
    key the closest known one (Snakemake's own validation prints the whole schema before the line that matters).
    An architecture entry is checked against its module's declared settings (``full_schema``)."""
    import difflib

    import jsonschema

    problems, validator = [], jsonschema.Draft202012Validator(full_schema(schema))
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path)):
        key = ".".join(map(str, error.absolute_path)) or "(top level)"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list((error.schema.get("properties") or {}).keys())
            for unknown in sorted(set(error.instance) - set(known)):
                close = difflib.get_close_matches(str(unknown), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems.append(f"{key}: unknown key {unknown!r}; {hint}known keys: {', '.join(known)}")
            continue
        problems.append(f"{key}: {error.message}")
    return problems


def validate_results(path: str, *, cwd=None, outside_allowed: bool = False) -> str:
    """The results folder: not empty, not the filesystem's root, no wildcard braces, and inside the
    working directory unless ``outside_allowed`` (two workdirs sharing one results folder are not
    locked against each other by Snakemake: each has its own lock)."""
    if not isinstance(path, str) or not path.strip():
        _fail("results", "must name a folder (an empty path would write into the working directory's parent tree)")
    if path.strip("/") == "":
        _fail("results", f"{path!r} is the filesystem's root; name a folder of its own")
    if "{" in path or "}" in path:
        _fail("results", f"{path!r} contains '{{' or '}}', which Snakemake reads as wildcards")
    if cwd is not None and not outside_allowed:
        from pathlib import Path

        inside = Path(cwd).resolve()
        resolved = (inside / path).resolve()
        if resolved != inside and inside not in resolved.parents:
            _fail(
                "results",
                f"{path!r} is outside the working directory {str(inside)!r}: another workdir could write "
                "the same files unlocked; set results_outside_workdir: true if it is private to this one",
            )
    return path


# --- runs ---------------------------------------------------------------------------------------------
def run_ids(spec: dict) -> list[tuple[str, str, str]]:
    """(architecture label, alpha label, seed) of every run of an experiment."""
    return [
        (architecture_label(a), alpha_label(alpha), str(seed))
        for a in spec["architectures"]
        for alpha in spec["alphas"]
        for seed in spec["seeds"]
    ]


def alpha_by_label(spec: dict, label: str) -> float:
    """The configured alpha (exactly, not its rounded file label) whose label is ``label``."""
    for alpha in spec["alphas"]:
        if alpha_label(alpha) == label:
            return float(alpha)
    raise ConfigError(f"no alpha labelled {label!r}")


def architecture_by_label(spec: dict, label: str) -> dict:
    for a in spec["architectures"]:
        if architecture_label(a) == label:
            return a
    raise ConfigError(f"no architecture labelled {label!r}")


def continues_until_decided(spec: dict) -> bool:
    """Whether the experiment's runs continue past their target while a check of its claims cannot decide
    (a classification flow whose cap lies below its target, ``GradientFlow.cap``): its training jobs then
    read its predictions and run its claims' code."""
    solver = make_solver(spec["solver"])
    return solver.name == "flow" and solver.continues(spec["task"])


def _validate_init(key: str, spec: dict, networks: dict):
    """A scheme name, or given directions that fit every architecture (then one seed: they do not vary)."""
    init = spec.get("init")
    if not isinstance(init, dict):
        if init not in INITS:
            _fail(f"{key}.init", f"unknown init scheme {init!r}; expected one of {sorted(INITS)}")
        return
    for label, network in networks.items():
        try:
            given_directions(init, network)
        except ValueError as error:
            _fail(f"{key}.init", f"{error} (architecture {label})")
    if len(spec.get("seeds", [])) > 1:
        _fail(
            f"{key}.seeds",
            f"given initial directions are the same for every seed, so seeds {spec['seeds']} would repeat one run; "
            "give one seed",
        )


# --- validation beyond the JSON schema -------------------------------------------------------------
def validate_experiment(name: str, spec: dict) -> Dataset:
    """Check what a schema cannot: data shapes and values, architectures against the data, claims
    against the task. Returns the dataset. Raises ConfigError naming the key."""
    key = f"experiments.{name}"
    if name in RESERVED_NAMES:
        _fail(
            key,
            f"the name {name!r} is the workflow's own folder under results/; choose another "
            f"(reserved: {', '.join(RESERVED_NAMES)})",
        )
    try:
        dataset = validate_data(name, spec)
    except DataError as error:
        _fail(error.key, error.message)
    n, d = dataset.X.shape
    networks = {}
    for i, arch in enumerate(spec.get("architectures", [])):
        akey = f"{key}.architectures[{i}]"
        if arch.get("name") not in ARCHITECTURES:
            _fail(f"{akey}.name", f"unknown architecture {arch.get('name')!r}; expected one of {sorted(ARCHITECTURES)}")
        try:
            networks[architecture_label(arch)] = build_network(arch, d, data_settings={"basis": dataset.basis})
        except (ValueError, TypeError) as error:
            _fail(akey, str(error))
    labels = [architecture_label(a) for a in spec.get("architectures", [])]
    if len(set(labels)) != len(labels):
        _fail(f"{key}.architectures", f"two architectures share a label: {labels}")
    alphas = spec.get("alphas", [])
    for alpha in alphas:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
            _fail(f"{key}.alphas", f"every alpha must be a positive finite number, got {alpha!r}")
    if len({alpha_label(a) for a in alphas}) != len(alphas):
        _fail(
            f"{key}.alphas",
            f"duplicate values {alphas}, or values that round to the same file label "
            f"{[alpha_label(a) for a in alphas]} (6 significant digits)",
        )
    seeds = spec.get("seeds", [])
    if len(set(seeds)) != len(seeds):
        _fail(f"{key}.seeds", f"duplicate seeds {seeds}")
    _validate_init(key, spec, networks)
    try:
        solver = make_solver(spec.get("solver", {}))
    except ValueError as error:
        _fail(f"{key}.solver", str(error))
    device = spec.get("solver", {}).get("device", "cpu")
    if not (isinstance(device, str) and re.match(DEVICE, device)):
        _fail(f"{key}.solver.device", f"expected cpu, cuda, cuda:N or mps, got {device!r}")
    target = getattr(solver, "log_loss_target", None)
    if spec.get("task") == "regression" and target is not None and target < -700:
        _fail(
            f"{key}.solver.log_loss_target",
            f"{target:g} is below what float64 resolves for a squared loss (about -700); use residual_rtol instead",
        )
    _validate_claims(key, spec, dataset)
    return dataset


def _validate_claims(key, spec, dataset):
    """Each claim against the experiment, from its declaration in the registry."""
    n = dataset.X.shape[0]
    for claim_id in spec.get("claims", []):
        if claim_id not in CLAIMS:
            _fail(f"{key}.claims", f"unknown claim {claim_id!r}; expected one of {list(CLAIMS)}")
        claim = CLAIMS[claim_id]
        if claim.theory_only:
            continue
        scope = claim.scope
        if scope.task and scope.task != spec["task"]:
            _fail(f"{key}.claims", f"{claim_id} is about {scope.task}, but this experiment is {spec['task']}")
        if not any(scope.serves(a) for a in spec.get("architectures", [])):
            _fail(
                f"{key}.claims",
                f"{claim_id} cannot be served by any of this experiment's architectures "
                f"({', '.join(architecture_label(a) for a in spec.get('architectures', []))})",
            )
        if scope.single_point and n != 1:
            _fail(f"{key}.claims", f"{claim_id} is about a single data point, the data have n = {n}")
        if scope.full_row_rank and np.linalg.matrix_rank(dataset.X) < n:
            _fail(
                f"{key}.data",
                f"{claim_id} needs X of full row rank (n <= d, independent rows); rank {np.linalg.matrix_rank(dataset.X)} < n = {n}",
            )
