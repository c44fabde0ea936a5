"""Bad configs are rejected with a message naming the key and the expected form.

Two layers, as the workflow applies them when it loads: the JSON schema
(workflow/schemas/config.schema.yaml), then implicit_bias.experiments.validate_experiment for what a
schema cannot see (shapes, values, separability, rank, which claims the networks can serve).
"""

import copy
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from implicit_bias.experiments import ConfigError, full_schema, validate_experiment

SCHEMA_FILE = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml").read_text()
)
SCHEMA = full_schema(SCHEMA_FILE)  # what the workflow validates with: the architectures' declarations filled in

REGRESSION = {
    "task": "regression",
    "data": {"X": [[0.3, -1.2, 0.5, 2.0, -0.7]], "y": [0.8]},
    "architectures": [{"name": "conv", "depth": 2, "filters": [3]}, {"name": "diag", "depth": 3}],
    "alphas": [0.1, 1.0],
    "seeds": [0, 1],
    "init": "theorem5",
    "solver": {"name": "flow"},
    "claims": ["theorem5"],
}
CLASSIFICATION = {
    "task": "classification",
    "data": {"X": [[1.0, 2.0], [0.0, -3.0]], "y": [1, -1]},
    "architectures": [{"name": "diag", "depth": 2}],
    "alphas": [0.5],
    "seeds": [0],
    "init": "paper",
    "solver": {"name": "gd", "lr": 5.0e-4, "steps": 100},
    "claims": ["corollary2"],
}

# Woodworth et al.'s depth-3 diagonal model with its own init: v̄_1 = v̄_2 = 1, v̄_3 = 0 (a Theorem 4 init)
WOODWORTH = {
    **REGRESSION,
    "architectures": [{"name": "diag", "depth": 3}],
    "seeds": [0],
    "init": {"vectors": [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]},
    "claims": ["theorem4"],
}


def edited(base, path, value):
    spec = copy.deepcopy(base)
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


def schema_errors(spec, top=None):
    config = {"experiments": {"exp": spec}, **(top or {})}
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(config)
    ]


SCHEMA_CASES = [
    (
        "init with both vectors and a file",
        edited(REGRESSION, ["init"], {"vectors": [[1.0], [1.0]], "file": "v.npz"}),
        "experiments.exp.init: {'vectors': [[1.0], [1.0]], 'file': 'v.npz'} is not valid",
    ),
    ("unknown task", edited(REGRESSION, ["task"], "ranking"), "experiments.exp.task: 'ranking' is not one of"),
    (
        "unknown architecture",
        edited(REGRESSION, ["architectures"], [{"name": "resnet", "depth": 2}]),
        "experiments.exp.architectures.0.name: 'resnet' is not one of",
    ),
    (
        "unknown claim",
        edited(REGRESSION, ["claims"], ["theorem9"]),
        "experiments.exp.claims.0: 'theorem9' is not one of",
    ),
    (
        "depth < 2",
        edited(REGRESSION, ["architectures"], [{"name": "diag", "depth": 1}]),
        "experiments.exp.architectures.0.depth: 1 is less than the minimum of 2",
    ),
    (
        "alpha = 0",
        edited(REGRESSION, ["alphas"], [0.0]),
        "experiments.exp.alphas.0: 0.0 is less than or equal to the minimum of 0",
    ),
    (
        "alpha < 0",
        edited(REGRESSION, ["alphas"], [-1.0]),
        "experiments.exp.alphas.0: -1.0 is less than or equal to the minimum of 0",
    ),
    (
        "alpha not a number",
        edited(REGRESSION, ["alphas"], ["big"]),
        "experiments.exp.alphas.0: 'big' is not of type 'number'",
    ),
    ("duplicate seeds", edited(REGRESSION, ["seeds"], [0, 0]), "experiments.exp.seeds: [0, 0] has non-unique elements"),
    (
        "typo in an experiment key",
        {**REGRESSION, "alphs": [1.0]},
        "experiments.exp: Additional properties are not allowed ('alphs' was unexpected)",
    ),
    (
        "typo in a solver key",
        edited(REGRESSION, ["solver"], {"name": "gd", "learning_rate": 0.1}),
        "experiments.exp.solver: Additional properties are not allowed ('learning_rate' was unexpected)",
    ),
    (
        "lr <= 0",
        edited(REGRESSION, ["solver"], {"name": "gd", "lr": 0}),
        "experiments.exp.solver.lr: 0 is less than or equal to the minimum of 0",
    ),
    (
        "steps = 0",
        edited(REGRESSION, ["solver"], {"name": "gd", "steps": 0}),
        "experiments.exp.solver.steps: 0 is less than the minimum of 1",
    ),
    (
        "rtol >= 1",
        edited(REGRESSION, ["solver"], {"name": "flow", "rtol": 1.0}),
        "experiments.exp.solver.rtol: 1.0 is greater than or equal to the maximum of 1",
    ),
    (
        "residual_rtol >= 1 (an untrained run would read as converged)",
        edited(REGRESSION, ["solver"], {"name": "flow", "residual_rtol": 1.0}),
        "experiments.exp.solver.residual_rtol: 1.0 is greater than or equal to the maximum of 1",
    ),
    (
        "residual_rtol below float64's resolution",
        edited(REGRESSION, ["solver"], {"name": "flow", "residual_rtol": 1e-300}),
        "experiments.exp.solver.residual_rtol: 1e-300 is less than the minimum of 1e-15",
    ),
    (
        "checkpoints beyond memory",
        edited(REGRESSION, ["solver"], {"name": "gd", "checkpoints": 100_000_000}),
        "experiments.exp.solver.checkpoints: 100000000 is greater than the maximum of 10000000",
    ),
    (
        "seed >= 2^63",
        edited(REGRESSION, ["seeds"], [2**63]),
        "experiments.exp.seeds.0: 9223372036854775808 is greater than the maximum of 9223372036854775807",
    ),
    (
        "unknown solver",
        edited(REGRESSION, ["solver"], {"name": "adam"}),
        "experiments.exp.solver.name: 'adam' is not one of ['gd', 'flow']",
    ),
    (
        "unknown init",
        edited(REGRESSION, ["init"], "xavier"),
        "experiments.exp.init: 'xavier' is not valid under any of the given schemas",
    ),
    (
        "typo in an architecture key",
        edited(REGRESSION, ["architectures"], [{"name": "conv", "depth": 2, "filter": [3]}]),
        "experiments.exp.architectures.0: Additional properties are not allowed ('filter' was unexpected)",
    ),
    (
        "unknown random kind",
        edited(REGRESSION, ["data"], {"random": {"kind": "images", "n": 2, "d": 3}}),
        "experiments.exp.data: {'random': {'kind': 'images', 'n': 2, 'd': 3}} is not valid under any of the given schemas",
    ),
    (
        "missing claims",
        {k: v for k, v in REGRESSION.items() if k != "claims"},
        "experiments.exp: 'claims' is a required property",
    ),
]


@pytest.mark.parametrize("name,spec,message", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_the_schema_rejects(name, spec, message):
    errors = schema_errors(spec)
    assert any(e.startswith(message) for e in errors), errors


def test_the_schema_rejects_unknown_top_level_keys_and_accepts_the_examples():
    assert schema_errors(REGRESSION, {"result": "out"}) == [
        ": Additional properties are not allowed ('result' was unexpected)"
    ]
    assert schema_errors(REGRESSION) == [] and schema_errors(CLASSIFICATION) == []


LIBRARY_CASES = [
    (
        "init vectors for another depth",
        edited(WOODWORTH, ["init"], {"vectors": [[1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]}),
        "experiments.exp.init: 2 initial vectors given; diag(d=5, k=(5, 5, 5)) has L = 3 layers (architecture diag_L3)",
    ),
    (
        "init vector of the wrong length",
        edited(WOODWORTH, ["init"], {"vectors": [[1, 1, 1, 1, 1], [1, 1, 1], [0, 0, 0, 0, 0]]}),
        "experiments.exp.init: v_2 has shape (3,); layer 2 of diag(d=5, k=(5, 5, 5)) has k_2 = 5 entries",
    ),
    (
        "init vectors all zero",
        edited(WOODWORTH, ["init"], {"vectors": [[0] * 5] * 3}),
        "experiments.exp.init: every initial vector is zero: the flow has nowhere to start",
    ),
    (
        "init file missing",
        edited(WOODWORTH, ["init"], {"file": "no/such/init.npz"}),
        "experiments.exp.init: no/such/init.npz: no such init file",
    ),
    (
        "given init with several seeds",
        edited(WOODWORTH, ["seeds"], [0, 1]),
        "experiments.exp.seeds: given initial directions are the same for every seed, so seeds [0, 1] would repeat "
        "one run; give one seed",
    ),
    (
        "filter longer than d",
        edited(REGRESSION, ["architectures"], [{"name": "conv", "depth": 2, "filters": [7]}]),
        "experiments.exp.architectures[0]: conv: each filter size must satisfy 1 <= k_l <= d = 5; got [7]",
    ),
    (
        "widths of the wrong count",
        edited(REGRESSION, ["architectures"], [{"name": "fc", "depth": 3, "widths": [2]}]),
        "experiments.exp.architectures[0]: fc: widths must list the hidden widths d_2..d_L, 2 value(s) for depth 3; got [2]",
    ),
    (
        "X and y of different lengths",
        edited(REGRESSION, ["data"], {"X": [[1.0, 2.0]], "y": [1.0, 2.0]}),
        "experiments.exp.data.y: expected one value per row of X (1), got [1.0, 2.0]",
    ),
    (
        "ragged X",
        edited(REGRESSION, ["data"], {"X": [[1.0, 2.0], [1.0]], "y": [1.0, 2.0]}),
        "experiments.exp.data.X: rows have different lengths [1, 2] (ragged)",
    ),
    (
        "NaN in X",
        edited(REGRESSION, ["data"], {"X": [[1.0, math.nan, 0.0, 1.0, 2.0]], "y": [1.0]}),
        "experiments.exp.data: X and y must be finite numbers (no NaN, inf or text)",
    ),
    (
        "inf in y",
        edited(REGRESSION, ["data"], {"X": [[1.0, 2.0, 0.0, 1.0, 2.0]], "y": [math.inf]}),
        "experiments.exp.data: X and y must be finite numbers (no NaN, inf or text)",
    ),
    (
        "labels not +-1",
        edited(CLASSIFICATION, ["data"], {"X": [[1.0, 2.0], [0.0, -3.0]], "y": [1, 0]}),
        "experiments.exp.data.y: classification labels must be +1 or -1",
    ),
    (
        "inseparable data",
        edited(CLASSIFICATION, ["data"], {"X": [[1.0, 2.0], [1.0, 2.0]], "y": [1, -1]}),
        "experiments.exp.data: classification data are not linearly separable",
    ),
    (
        "rank-deficient X",
        {
            **edited(REGRESSION, ["data"], {"X": [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]], "y": [1.0, 2.0]}),
            "architectures": [{"name": "diag", "depth": 2}],
            "init": "theorem4",
            "claims": ["theorem4"],
        },
        "experiments.exp.data: theorem4 needs X of full row rank (n <= d, independent rows); rank 1 < n = 2",
    ),
    (
        "n > d",
        {
            **edited(REGRESSION, ["data"], {"X": [[1.0, 2.0], [0.0, 1.0], [1.0, 1.0]], "y": [1.0, 2.0, 3.0]}),
            "architectures": [{"name": "fc", "depth": 2}],
            "init": "theorem6",
            "claims": ["theorem6"],
        },
        "experiments.exp.data: theorem6 needs X of full row rank (n <= d, independent rows); rank 2 < n = 3",
    ),
    (
        "a claim no network can serve",
        edited(REGRESSION, ["architectures"], [{"name": "diag", "depth": 3}]),
        "experiments.exp.claims: theorem5 cannot be served by any of this experiment's architectures (diag_L3)",
    ),
    (
        "a claim of the other task",
        edited(REGRESSION, ["claims"], ["corollary1"]),
        "experiments.exp.claims: corollary1 is about classification, but this experiment is regression",
    ),
    (
        "a single-point claim on two points",
        {
            **edited(
                REGRESSION, ["data"], {"X": [[1.0, 2.0, 0.0, 1.0, 2.0], [0.0, 1.0, 1.0, 0.0, 1.0]], "y": [1.0, 2.0]}
            )
        },
        "experiments.exp.claims: theorem5 is about a single data point, the data have n = 2",
    ),
    ("duplicate alphas", edited(REGRESSION, ["alphas"], [1.0, 1]), "experiments.exp.alphas: duplicate values [1.0, 1]"),
    (
        "task and data disagree",
        edited(CLASSIFICATION, ["data"], {"paper": "paper_regression"}),
        "experiments.exp.task: is 'classification' but the data are for 'regression'",
    ),
    (
        "an architecture label used twice",
        edited(REGRESSION, ["architectures"], [{"name": "diag", "depth": 2}, {"name": "diag", "depth": 2}]),
        "experiments.exp.architectures: two architectures share a label: ['diag_L2', 'diag_L2']",
    ),
    (
        "alphas that round to one label",
        edited(REGRESSION, ["alphas"], [2.0, 2.0000001]),
        "experiments.exp.alphas: duplicate values [2.0, 2.0000001], or values that round to the same file label ['2', '2']",
    ),
    (
        "data too large for float64 training",
        edited(REGRESSION, ["data"], {"X": [[1e200, 2.0, 0.5, 1.0, 1.0]], "y": [1.0]}),
        "experiments.exp.data: values range from 0.5 to 1e+200 in magnitude; training needs them within 1e-100..1e+100",
    ),
    (
        "data too small",
        edited(REGRESSION, ["data"], {"X": [[1e-200, 2e-200, 1e-200, 1e-200, 1e-200]], "y": [1.0]}),
        "experiments.exp.data: values range from 1e-200 to 1 in magnitude",
    ),
    (
        "an all-zero point",
        edited(REGRESSION, ["data"], {"X": [[0.0, 0.0, 0.0, 0.0, 0.0]], "y": [1.0]}),
        "experiments.exp.data.X: row 0 is all zeros: f(0) = 0 for every network",
    ),
    (
        "a regression target below float64",
        edited(REGRESSION, ["solver"], {"name": "flow", "log_loss_target": -1e300}),
        "experiments.exp.solver.log_loss_target: -1e+300 is below what float64 resolves for a squared loss",
    ),
    (
        "a positive log-loss target",
        edited(REGRESSION, ["solver"], {"name": "flow", "log_loss_target": 5.0}),
        "experiments.exp.solver: flow.log_loss_target must be a negative finite number (a log-loss below log 1 = 0), got 5.0",
    ),
    (
        "an unknown device",
        edited(CLASSIFICATION, ["solver"], {"name": "gd", "backend": "torch", "device": "gpu0"}),
        "experiments.exp.solver.device: expected cpu, cuda, cuda:N or mps, got 'gpu0'",
    ),
]


def test_an_experiment_may_not_take_a_folder_name_of_the_workflow():
    with pytest.raises(ConfigError) as error:
        validate_experiment("theory", REGRESSION)
    assert str(error.value).startswith(
        "experiments.theory: the name 'theory' is the workflow's own folder under results/"
    )


def test_every_config_snippet_in_the_readme_is_valid():
    """The README's experiment, its data forms and the generic architecture as written there."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)]
    experiments = {k: v for b in blocks for k, v in (b or {}).get("experiments", {}).items()}
    assert experiments
    for name, spec in experiments.items():
        assert not schema_errors(spec), name
        validate_experiment(name, spec)
    uses = {
        "paper_regression": ("regression", "figure1", "paper", "fc"),
        "classification": ("classification", "theorem1", "random", "diag"),
    }
    found = re.findall(r"`(\{(?:paper|random): .*?\})`", readme)
    assert len(found) == 2, found
    for data in map(yaml.safe_load, found):
        task, claim, init, net = uses[data.get("paper") or data["random"]["kind"]]
        spec = {
            **REGRESSION,
            "task": task,
            "data": data,
            "claims": [claim],
            "init": init,
            "architectures": [{"name": net, "depth": 2}],
            "solver": {"name": "flow"},
        }
        assert not schema_errors(spec), data
        validate_experiment("readme", spec)
    generic = re.search(r"`\{name: generic, depth: L, basis_tensors: \[\.\.\.\]\}`", readme)
    assert generic, "the README's generic architecture form"
    basis = [[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]]  # diag in d = 2, as basis tensors
    spec = {
        **REGRESSION,
        "data": {"X": [[1.0, 2.0]], "y": [1.0]},
        "init": "theorem5",
        "architectures": [{"name": "generic", "depth": 2, "basis_tensors": basis}],
    }
    assert not schema_errors(spec)
    validate_experiment("generic", spec)


@pytest.mark.parametrize("name,spec,message", LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES])
def test_the_library_rejects(name, spec, message):
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", spec)
    assert str(error.value).startswith(message)


def test_only_some_architectures_covered_is_accepted():
    """theorem5 serves the 2-layer conv; the depth-3 diag gets not-applicable rows, not an error."""
    assert validate_experiment("exp", REGRESSION).X.shape == (1, 5)


def test_the_schema_allows_every_solver_setting_and_no_other():
    from dataclasses import fields

    from implicit_bias.training import SOLVERS

    allowed = set(SCHEMA["$defs"]["experiment"]["properties"]["solver"]["properties"]) - {"name"}
    settings = {f.name for cls in SOLVERS.values() for f in fields(cls)}
    assert allowed == settings


@pytest.mark.parametrize(
    "path,message",
    [
        ("", "results: must name a folder"),
        ("/", "results: '/' is the filesystem's root; name a folder of its own"),
        ("//", "results: '//' is the filesystem's root"),
        ("res{x}", "results: 'res{x}' contains '{' or '}', which Snakemake reads as wildcards"),
    ],
)
def test_a_results_path_that_would_write_elsewhere_is_refused(path, message):
    from implicit_bias.experiments import validate_results

    with pytest.raises(ConfigError) as error:
        validate_results(path)
    assert str(error.value).startswith(message)


def test_a_results_folder_outside_the_workdir_needs_a_flag(tmp_path):
    from implicit_bias.experiments import validate_results

    workdir = tmp_path / "work"
    workdir.mkdir()
    assert validate_results("results", cwd=workdir) == "results"
    assert validate_results(str(workdir / "out"), cwd=workdir)
    with pytest.raises(ConfigError) as error:
        validate_results(str(tmp_path / "elsewhere"), cwd=workdir)
    assert str(error.value).startswith(f"results: '{tmp_path / 'elsewhere'}' is outside the working directory")
    with pytest.raises(ConfigError):
        validate_results("../elsewhere", cwd=workdir)
    assert validate_results(str(tmp_path / "elsewhere"), cwd=workdir, outside_allowed=True)


# --- a researcher's data from a file ----------------------------------------------------------------------
def _csv(path, text):
    path.write_text(text)
    return str(path)


def test_data_from_a_csv_npz_or_netcdf_file_is_the_same_dataset(tmp_path):
    import hashlib

    import numpy as np

    from implicit_bias.datasets import Dataset

    X, y = np.array([[0.3, -1.2, 0.5, 2.0, -0.7]]), np.array([0.8])
    csv = _csv(tmp_path / "d.csv", "x1,x2,x3,x4,x5,y\n0.3,-1.2,0.5,2.0,-0.7,0.8\n")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    Dataset(X, y, "regression").write(tmp_path / "d.nc")
    for path in (csv, tmp_path / "d.npz", tmp_path / "d.nc"):
        dataset = validate_experiment("exp", {**REGRESSION, "data": {"file": str(path)}})
        np.testing.assert_array_equal(dataset.X, X)
        np.testing.assert_array_equal(dataset.y, y)
        assert dataset.source_sha256 == hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("header.csv", "a,b,y\n1,2,3\n", "the header must be x1,...,xd,y; got a,b,y"),
        ("text.csv", "x1,x2,x3,x4,x5,y\n0.3,-1.2,zero,2.0,-0.7,0.8\n", "line 2 has a value that is not a number"),
        ("short.csv", "x1,x2,x3,x4,x5,y\n0.3,-1.2,2.0,-0.7,0.8\n", "line 2 has 5 values, the header 6"),
        ("nan.csv", "x1,x2,x3,x4,x5,y\n0.3,-1.2,nan,2.0,-0.7,0.8\n", "data point 1 has a value that is not finite"),
        ("data.txt", "1 2 3\n", "expected a .csv, .npz or .nc file"),
    ],
)
def test_a_bad_data_file_is_refused_naming_the_file_and_line(tmp_path, name, text, message):
    path = _csv(tmp_path / name, text)
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", {**REGRESSION, "data": {"file": path}})
    assert str(error.value).startswith(f"experiments.exp.data.file: {path}: {message}")


def test_classification_labels_from_a_file_are_checked(tmp_path):
    path = _csv(tmp_path / "c.csv", "x1,x2,y\n1.0,2.0,1\n0.0,-3.0,0\n")
    spec = {**CLASSIFICATION, "data": {"file": path}}
    assert not schema_errors(spec)
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", spec)
    assert str(error.value) == "experiments.exp.data.y: classification labels must be +1 or -1"


def test_a_researchers_own_init_is_accepted_inline_and_from_a_file(tmp_path):
    assert not schema_errors(WOODWORTH)
    validate_experiment("woodworth", WOODWORTH)
    np.savez(tmp_path / "v.npz", v_1=np.ones(5), v_2=np.ones(5), v_3=np.zeros(5))
    from_file = edited(WOODWORTH, ["init"], {"file": str(tmp_path / "v.npz")})
    assert not schema_errors(from_file)
    validate_experiment("woodworth", from_file)


@pytest.mark.parametrize(
    "arrays,message",
    [
        (
            {"v_1": np.ones(5), "v_3": np.zeros(5)},
            "expected arrays named v_1 .. v_L (one per layer), got ['v_1', 'v_3']",
        ),
        ({"v_1": np.ones(5), "v_2": np.ones(5), "v_3": [np.nan] * 5}, "v_3 holds non-finite values (NaN or inf)"),
        ({"v_1": np.ones(5), "v_2": np.ones((5, 1)), "v_3": np.zeros(5)}, "v_2 has shape (5, 1); layer 2"),
    ],
)
def test_a_bad_init_file_is_refused_naming_the_file(tmp_path, arrays, message):
    path = tmp_path / "v.npz"
    np.savez(path, **arrays)
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", edited(WOODWORTH, ["init"], {"file": str(path)}))
    assert str(error.value).startswith("experiments.exp.init: ") and message in str(error.value)


# --- files are read the way their format defines --------------------------------------------------------
def _nc(path, *, X=None, dims=("sample", "feature"), task="regression", fill=None, basis=None):
    import netCDF4

    X = np.array([[0.3, -1.2, 0.5], [1.0, 2.0, -0.7]]) if X is None else X
    with netCDF4.Dataset(path, "w") as nc:
        if task is not None:
            nc.task = task
        for name, size in zip(dims, X.shape):
            nc.createDimension(name, size)
        if "sample" not in dims:
            nc.createDimension("sample", X.shape[1])
        if "feature" not in nc.dimensions:
            nc.createDimension("feature", X.shape[0])
        variable = nc.createVariable("X", "f8", dims, fill_value=fill)
        variable[...] = X
        nc.createVariable("y", "f8", ("sample",))[...] = np.arange(1.0, nc.dimensions["sample"].size + 1)
        if basis is not None:
            nc.createDimension("eigenvector", basis.shape[1])
            nc.createVariable("basis", "f8", ("feature", "eigenvector"))[...] = basis
    return path


def _unwritten(path):
    import netCDF4

    with netCDF4.Dataset(path, "w") as nc:
        nc.task = "regression"
        nc.createDimension("sample", 2)
        nc.createDimension("feature", 3)
        nc.createVariable("X", "f8", ("sample", "feature"))[0, :] = [1.0, 2.0, 3.0]  # row 1 left unwritten
        nc.createVariable("y", "f8", ("sample",))[...] = [1.0, 2.0]
    return path


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path


BAD_FILES = [
    (
        "a fill value in X",
        lambda t: _nc(t / "f.nc", X=np.array([[0.3, -9999.0, 0.5], [1.0, 2.0, -0.7]]), fill=-9999.0),
        "X has missing values (its fill value) at index (0, 1); expected data",
    ),
    ("an unwritten row (netCDF's default fill)", lambda t: _unwritten(t / "u.nc"), "X has missing values (its fill"),
    (
        "X stored (feature, sample)",
        lambda t: _nc(t / "t.nc", X=np.ones((3, 3)), dims=("feature", "sample")),
        "X has dimensions ('feature', 'sample'); expected ('sample', 'feature') (by name)",
    ),
    ("no task", lambda t: _nc(t / "n.nc", task=None), "no attribute task (classification or regression)"),
    (
        "classification data for a regression experiment",
        lambda t: _nc(t / "c.nc", task="classification"),
        "holds classification data (its attribute task), but the experiment is regression",
    ),
    (
        "complex X in an npz",
        lambda t: _npz(t / "c.npz", X=np.ones((1, 5)) * (1 + 1j), y=np.ones(1)),
        "X holds complex values; expected real numbers",
    ),
    ("an empty npz", lambda t: _bytes(t / "e.npz", b""), "not a readable .npz archive"),
    (
        "a .npy renamed .npz",
        lambda t: _bytes(t / "a.npz", (np.save(t / "a.npy", np.ones(3)), (t / "a.npy").read_bytes())[1]),
        "one array (a .npy file), not an .npz archive of X and y (np.savez)",
    ),
    (
        "an object array in an npz",
        lambda t: _npz(t / "o.npz", X=np.array([[1, "a"]], dtype=object), y=np.ones(1)),
        "cannot read X and y (Object arrays cannot be loaded when allow_pickle=False)",
    ),
    ("1_0 in a CSV", lambda t: _bytes(t / "u.csv", b"x1,x2,y\n1_0,2,3\n"), "line 2 has a value that is not a number"),
    ("Latin-1 CSV", lambda t: _bytes(t / "l.csv", "x1,x2,y\n1,2,3 \xe9\n".encode("latin-1")), "not UTF-8 text"),
]


@pytest.mark.parametrize("name,make,message", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_data_file_is_read_as_its_format_defines_or_refused(tmp_path, name, make, message):
    path = make(tmp_path)
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", {**REGRESSION, "data": {"file": str(path)}})
    assert str(error.value).startswith(f"experiments.exp.data.file: {path}: {message}"), str(error.value)


def test_a_csv_with_a_byte_order_mark_and_a_sensing_netcdf_with_its_basis_are_read(tmp_path):
    from implicit_bias.datasets import random_dataset, read_data_file

    path = _bytes(tmp_path / "b.csv", "\ufeffx1,x2,y\n1,2,3\n".encode())
    np.testing.assert_array_equal(read_data_file(path, "regression").X, [[1.0, 2.0]])
    sensing = random_dataset("sensing", n=2, d=3, seed=1)
    sensing.write(tmp_path / "s.nc")  # as the dataset verb writes it
    read = read_data_file(tmp_path / "s.nc", "regression")
    np.testing.assert_array_equal(read.basis, sensing.basis)  # the basis was dropped: matrix sensing used Q = I
    np.testing.assert_array_equal(read.X, sensing.X)


def test_a_complex_init_file_is_refused(tmp_path):
    path = tmp_path / "v.npz"
    np.savez(path, v_1=np.ones(5), v_2=np.ones(5) * 1j, v_3=np.zeros(5))
    with pytest.raises(ConfigError) as error:
        validate_experiment("exp", edited(WOODWORTH, ["init"], {"file": str(path)}))
    assert str(error.value).startswith(
        f"experiments.exp.init: {path}: v_2 holds complex128 values; expected real numbers"
    )


def test_the_dataset_job_checks_the_data_again(tmp_path, capsys):
    """Data replaced after the workflow loaded: the job refuses them as config validation would have."""
    from implicit_bias.cli import main

    path = tmp_path / "c.csv"
    path.write_text("x1,x2,y\n1.0,2.0,1\n0.0,-3.0,-1\n")
    spec = {"task": "classification", "data": {"file": str(path)}}
    assert (
        main(["-q", "dataset", "--spec", json.dumps(spec), "--experiment", "exp", "--output", str(tmp_path / "d.nc")])
        == 0
    )
    path.write_text("x1,x2,y\n1.0,2.0,1\n1.0,2.0,-1\n")  # the same point with both labels
    capsys.readouterr()
    assert (
        main(["-q", "dataset", "--spec", json.dumps(spec), "--experiment", "exp", "--output", str(tmp_path / "e.nc")])
        == 2
    )
    assert capsys.readouterr().err == (
        "error: experiments.exp.data: classification data are not linearly separable (every theorem assumes they are)\n"
    )
    assert not (tmp_path / "e.nc").exists()


def test_a_large_data_file_is_parsed_and_validated_once_per_content(tmp_path, monkeypatch):
    """A 41 MB CSV was parsed again at every invocation (-n included): above LARGE_FILE the validated arrays
    are kept in the user's cache, keyed by the file's sha256."""
    from implicit_bias import datasets

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3000, 20)), rng.standard_normal(3000)
    path = tmp_path / "big.csv"
    header = ",".join([f"x{j}" for j in range(1, 21)] + ["y"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g", header=header, comments="")
    assert path.stat().st_size > datasets.LARGE_FILE
    spec = {"task": "regression", "data": {"file": str(path)}}
    first = datasets.validate_data("big", spec)
    parsed = []
    monkeypatch.setattr(datasets, "_read_csv", lambda p: parsed.append(p) or (X, y))
    again = datasets.validate_data("big", spec)
    assert parsed == []  # from the cache
    np.testing.assert_array_equal(again.X, first.X)
    np.testing.assert_array_equal(again.y, y)
    assert again.source_sha256 == first.source_sha256
    with open(path, "a") as handle:  # new content: parsed and validated again
        handle.write(",".join(["1"] * 21) + "\n")
    datasets.validate_data("big", spec)
    assert parsed == [path]


def test_schema_problems_are_one_line_each_with_the_closest_key():
    from implicit_bias.experiments import schema_problems

    config = {"experiments": {"exp": {**REGRESSION, "alphs": [1.0], "solver": {"name": "flow", "rtoll": 1e-9}}}}
    assert schema_problems(config, SCHEMA) == [
        "experiments.exp: unknown key 'alphs'; did you mean 'alphas'? known keys: task, data, architectures, alphas, "
        "seeds, init, solver, claims, figures",
        "experiments.exp.solver: unknown key 'rtoll'; did you mean 'rtol'? known keys: "
        + ", ".join(SCHEMA["$defs"]["experiment"]["properties"]["solver"]["properties"]),
    ]
    assert schema_problems({"experiments": {"exp": REGRESSION}}, SCHEMA) == []


def test_the_workflow_checks_architecture_entries_against_the_architectures_own_declarations():
    """The schema file has a stub for an architecture entry; what a name may be and which settings it takes come
    from the modules of implicit_bias.architectures, filled in when the workflow validates (schema_problems)."""
    from implicit_bias.experiments import schema_problems

    def problems(architecture):
        return schema_problems(
            {"experiments": {"exp": edited(REGRESSION, ["architectures"], [architecture])}}, SCHEMA_FILE
        )

    assert problems({"name": "conv", "depth": 2, "filter": [3]}) == [
        "experiments.exp.architectures.0: unknown key 'filter'; did you mean 'filters'? known keys: name, depth, "
        "filters, widths, kind, seed, basis_tensors"
    ]
    assert problems({"name": "resnet", "depth": 2})[0].startswith(
        "experiments.exp.architectures.0.name: 'resnet' is not one of ['diag', 'conv', 'fc', 'matrix_sensing'"
    )
    assert problems({"name": "fc", "depth": 2, "widths": [0]}) == [
        "experiments.exp.architectures.0.widths.0: 0 is less than the minimum of 1"
    ]


def test_schema_defaults_never_reach_data_of_another_kind():
    """Snakemake validates with set_default=True, filling in the defaults of every oneOf branch that has them:
    a default beside `sklearn` was added to inline X/y data, which then matched no branch and stopped the
    default config. Every shipped config validates as Snakemake does, and its data keep their own keys (a branch's
    defaults inside its own object, e.g. random's margin, are fine)."""
    import copy
    from pathlib import Path

    import yaml
    from snakemake.utils import validate

    root = Path(__file__).parents[2]
    schema = root / "workflow" / "schemas" / "config.schema.yaml"
    shipped = [root / "config.yaml", *sorted((root / "config").glob("*.yaml"))]
    shipped += [root / "tests" / "workflow" / "tiny_config.yaml", root / "tests" / "slurm" / "config.yaml"]
    for path in shipped:
        config = yaml.safe_load(path.read_text())
        before = copy.deepcopy(config["experiments"])
        validate(config, str(schema))
        for name, spec in config["experiments"].items():
            assert set(spec["data"]) == set(before[name]["data"]), (path.name, name)
