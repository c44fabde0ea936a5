"""Config validation and the helpers every rule uses.

The config is validated against workflow/schemas/config.schema.yaml (defaults filled in), then
each experiment against its data (implicit_bias.experiments.validate_experiment), when the
workflow loads: a bad config stops before any job, with a message naming the key.
"""

import hashlib
import json
import math
import os
import shlex

import yaml

from snakemake.utils import validate

from implicit_bias.experiments import (
    ConfigError,
    alpha_by_label,
    architecture_by_label,
    continues_until_decided,
    run_ids,
    schema_problems,
    validate_experiment,
    validate_results,
)
from implicit_bias.labels import run_name
from implicit_bias.sources import put_package_on_pythonpath, verb_sources

# the schema's problems first, one line each (snakemake's validate prints the whole schema), then its defaults
_problems = schema_problems(
    config, yaml.safe_load(open(workflow.source_path("../schemas/config.schema.yaml")))
)
if _problems:
    raise WorkflowError(
        "invalid config: "
        + "\n".join(_problems)
        + "\n(every key is documented in workflow/schemas/config.schema.yaml)"
    )
validate(config, "../schemas/config.schema.yaml")

try:
    RESULTS = validate_results(
        config["results"],
        cwd=os.getcwd(),
        outside_allowed=config["results_outside_workdir"],
    )
except ConfigError as _error:
    raise WorkflowError(f"invalid config: {_error}")
# For --use-conda: the runtime dependencies only. The default profile leaves software-env out of the
# rerun triggers, so that a dependency bump does not retrain everything.
ENVIRONMENT = "../envs/runtime.yaml"
put_package_on_pythonpath(os.environ)
# Every job is single-threaded (training sets NUMBA_NUM_THREADS from its threads): BLAS thread pools
# would only spin, costing about 0.25 CPU-s a job at start-up (benchmarks/pipeline.py).
shell.prefix(
    "set -euo pipefail; export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1; "
)
EXPERIMENTS = config["experiments"]
DATASETS = {}
for _name, _spec in EXPERIMENTS.items():
    try:
        DATASETS[_name] = validate_experiment(_name, _spec)
    except ConfigError as _error:
        raise WorkflowError(f"invalid config: {_error}")


def as_json(value):
    return json.dumps(value, sort_keys=True)


def run_files(experiment):
    return [
        f"{RESULTS}/{experiment}/runs/{run_name(label, alpha, seed)}.nc"
        for label, alpha, seed in run_ids(EXPERIMENTS[experiment])
    ]


def train_benchmarks():
    return [
        f"{RESULTS}/benchmarks/train/{experiment}/{run_name(label, alpha, seed)}.tsv"
        for experiment in EXPERIMENTS
        for label, alpha, seed in run_ids(EXPERIMENTS[experiment])
    ]


def figure_kinds(experiment):
    spec = EXPERIMENTS[experiment]
    if spec.get("figures"):
        return spec["figures"]
    kinds = ["agreement"]
    if DATASETS[experiment].X.shape[1] == 2:
        kinds.append("trajectories")
    if spec["task"] == "classification":
        kinds.append("direction_error")
        if spec["solver"]["name"] == "flow":
            kinds += ["tail_fits", "forest"]
    if {"remark4", "theorem6"} & set(spec["claims"]):
        kinds.append("alpha_sweep")
    data = DATASETS[experiment]
    if data.task == "regression" and data.beta_star is not None:
        kinds.append("rich_kernel")
    if (
        data.task == "classification"
        and data.X.shape[1] >= 16
        and math.isqrt(data.X.shape[1]) ** 2 == data.X.shape[1]
    ):
        kinds.append("limit_images")
    return kinds


def figure_files(experiment):
    return [
        f"{RESULTS}/figures/{experiment}_{kind}.{ext}"
        for kind in figure_kinds(experiment)
        for ext in ("png", "pdf")
    ]


def run_config(wildcards):
    """What a run depends on, stored in its file: not the whole experiment, so that adding an
    alpha or a seed leaves existing runs untouched."""
    spec = EXPERIMENTS[wildcards.experiment]
    return {
        "experiment": wildcards.experiment,
        "task": spec["task"],
        "data": spec["data"],
        "architecture": architecture_by_label(spec, wildcards.architecture),
        "init": spec["init"],
        "alpha": alpha_by_label(spec, wildcards.alpha),
        "seed": int(wildcards.seed),
        "solver": spec["solver"],
    }


def library_code(verb, experiment=None):
    """The package's source files a verb runs (from its import graph): inputs of the rule that
    calls it, so that editing a module reruns exactly the results it can change. Training runs the
    claims' code too where it continues until the checks decide (classification flows).
    """
    deciding = experiment is not None and bool(claims_deciding_training(experiment))
    return verb_sources(verb, conditional=deciding)


def data_files(experiment):
    """An experiment's data file (data: {file: ...}), an input of its dataset: editing it reruns what
    depends on it."""
    data = EXPERIMENTS[experiment]["data"]
    return [data["file"]] if "file" in data else []


def file_digests(paths):
    """The sha256 of each file, a param of the rules that read them: a content change reruns them even when
    the file's modification time was kept (cp -p, rsync -t), which Snakemake's mtime check cannot see.
    """
    return {path: hashlib.sha256(open(path, "rb").read()).hexdigest() for path in paths}


def init_files(experiment):
    """An experiment's init file (init: {file: ...}), an input of its training and prediction jobs."""
    init = EXPERIMENTS[experiment]["init"]
    return [init["file"]] if isinstance(init, dict) and "file" in init else []


def init_argument(experiment):
    """--init: a scheme name, or the given directions as JSON."""
    init = EXPERIMENTS[experiment]["init"]
    return as_json(init) if isinstance(init, dict) else init


def claims_deciding_training(experiment):
    """The claims a run continues for (a classification flow, down to its log_loss_cap): none where
    training stops at its target, so that editing the claims of such an experiment does not retrain it.
    """
    spec = EXPERIMENTS[experiment]
    return spec["claims"] if continues_until_decided(spec) else []


def deciding_predictions(experiment):
    """The experiment's predictions, for training that continues until its checks decide: it reads its
    run's predictions there instead of solving the claims' programs again (cvxpy's import alone cost 0.5
    CPU-s a job). Not ancient(): Snakemake then skips the job's own reasons (its code, params) whenever the
    predict job reruns. The price: adding a run to such an experiment rewrites its predictions and so
    retrains its other runs (identically; each costs a fraction of a second)."""
    return (
        [f"{RESULTS}/{experiment}/predictions.nc"]
        if claims_deciding_training(experiment)
        else []
    )


def predictions_argument(input) -> str:
    """train's --predictions option, where the job has the predictions file as input."""
    return (
        f"--predictions {shlex.quote(input.predictions[0])}"
        if input.predictions
        else ""
    )


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),
    architecture="[A-Za-z0-9_-]+?",
    alpha="[0-9][0-9.e+-]*",
    seed="[0-9]+",
    kind="trajectories|alpha_sweep|direction_error|agreement|tail_fits|forest|rich_kernel|limit_images",
