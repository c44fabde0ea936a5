"""The ahead-of-time build of the kernels (training.compiled): the same bits as numba's, no numba at
training time, and clear refusals of a build that does not fit."""

import json
import subprocess
import sys

import numpy as np
import pytest

from implicit_bias.inits import initialize
from implicit_bias.networks import conv, diag, fc
from implicit_bias.training import GradientDescent, GradientFlow, Problem, compiled

CLASS_X = np.array([[1.0, 0.4, -0.2], [0.3, 1.1, 0.5], [-0.9, -0.3, 0.2], [-0.2, -1.0, -0.6]])
CLASS_Y = np.array([1.0, 1.0, -1.0, -1.0])
REG_X = np.array([[0.3, -1.2, 0.5], [1.0, 0.2, -0.4]])
REG_Y = np.array([0.5, -1.0])


@pytest.fixture(scope="module")
def build_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled, "cache_directory", lambda: cache)
        yield cache


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, build_cache):
    path = tmp_path_factory.mktemp("kernels") / "kernels.json"
    described = compiled.build(path)
    assert described["module"] is not None, described.get("reason")
    yield path
    compiled.use(None)


def test_a_second_build_of_the_same_source_comes_from_the_cache(manifest, build_cache, tmp_path, monkeypatch):
    def must_not_build(directory):
        raise AssertionError("built again")

    monkeypatch.setattr(compiled, "_build_module", must_not_build)
    again = compiled.build(tmp_path / "kernels.json", log=pytest.fail)
    first = json.loads(manifest.read_text())
    assert again == first
    assert (tmp_path / again["module"]).read_bytes() == (manifest.parent / first["module"]).read_bytes()
    assert [p.name.split(".")[0] for p in build_cache.iterdir()] == [compiled.MODULE]


def _fields(result):
    return [result.progress, result.beta, result.loss, result.log_loss, result.theta, result.theta_final]


CASES = {
    "gd-classification-conv3": (GradientDescent(lr=0.05, steps=300), conv(3, depth=3), "classification"),
    "gd-regression-fc2": (GradientDescent(lr=0.05, steps=300), fc(3, depth=2), "regression"),
    "flow-classification-diag2": (GradientFlow(log_loss_target=-1e3), diag(3, depth=2), "classification"),
    "flow-regression-fc3": (GradientFlow(), fc(3, depth=3), "regression"),
    # every level by Radau, whose velocity is the module's flow_velocity
    "radau-classification-diag2": (
        GradientFlow(log_loss_target=-50.0, stiff_steps=1),
        diag(3, depth=2),
        "classification",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_build_computes_the_same_bits_as_numba(manifest, case):
    solver, net, task = CASES[case]
    X, y = (CLASS_X, CLASS_Y) if task == "classification" else (REG_X, REG_Y)
    problem = Problem(net, X, y, task)
    thetas = np.stack([initialize("random", net, X, alpha=a, seed=s) for a, s in ((0.5, 0), (1.0, 1))])
    compiled.use(None)
    by_numba = solver.run(problem, thetas)
    assert compiled.use(manifest)
    try:
        by_build = solver.run(problem, thetas)
    finally:
        compiled.use(None)
    if case.startswith("radau"):
        assert all("implicit Radau" in run.reason for run in by_build)
    for numba_run, built_run in zip(by_numba, by_build):
        assert (built_run.status, built_run.reason) == (numba_run.status, numba_run.reason)
        for ours, theirs in zip(_fields(built_run), _fields(numba_run)):
            np.testing.assert_array_equal(ours, theirs)


def test_a_training_job_with_the_build_never_imports_numba(manifest, tmp_path):
    data = {"task": "classification", "X": [[1.0, 0.5], [-0.5, -1.0], [0.8, 1.2]], "y": [1, -1, 1]}
    code = f"""
import sys
from implicit_bias.cli import main
code = main(["-q", "dataset", "--inline", '{json.dumps(data)}', "--output", "{tmp_path}/d.nc"])
assert code == 0, code
code = main(["-q", "train", "--dataset", "{tmp_path}/d.nc", "--architecture", '{{"name": "diag", "depth": 2}}',
             "--init", "random", "--alpha", "0.5", "--seed", "0", "--solver", '{{"name": "flow", "log_loss_target": -100}}',
             "--kernels", "{manifest}", "--output", "{tmp_path}/run.nc"])
assert code == 0, code
print("numba" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_build_from_other_source_is_refused(manifest, tmp_path):
    described = json.loads(manifest.read_text())
    stale = tmp_path / "kernels.json"
    stale.write_text(json.dumps({**described, "source_sha256": "0" * 64}))
    (tmp_path / described["module"]).symlink_to(manifest.parent / described["module"])
    with pytest.raises(ValueError) as error:
        compiled.load(stale)
    assert str(error.value) == (
        f"the kernels in {stale} were built from another version of kernels.py; "
        f"rebuild it with: python -m implicit_bias compile --output {stale}"
    )


def test_a_missing_module_is_named(manifest, tmp_path):
    described = json.loads(manifest.read_text())
    alone = tmp_path / "kernels.json"
    alone.write_text(json.dumps(described))
    with pytest.raises(
        ValueError, match=f"the kernels module {tmp_path / described['module']} named by {alone} is missing"
    ):
        compiled.load(alone)


def test_without_a_build_the_manifest_says_why_and_training_uses_numba(tmp_path, monkeypatch):
    def no_compiler(directory):
        raise OSError("gcc: command not found")

    monkeypatch.setattr(compiled, "_build_module", no_compiler)
    monkeypatch.setattr(compiled, "cache_directory", lambda: tmp_path / "empty-cache")
    said = []
    described = compiled.build(tmp_path / "kernels.json", log=said.append)
    assert described["module"] is None and described["reason"] == "OSError: gcc: command not found"
    assert said == [
        "no ahead-of-time build (OSError: gcc: command not found); compiling numba's kernels into its cache"
    ]
    assert [s.split("(")[0] for s in described["signatures"]] == ["flow_batch", "flow_velocity", "gd_batch"]
    assert compiled.use(tmp_path / "kernels.json") is False
    assert compiled.kernels().__name__ == "implicit_bias.training.kernels"
