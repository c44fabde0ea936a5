"""The ahead-of-time build of the kernels (training.compiled): the same bits as numba's, no numba at
training time, and clear refusals of a build that does not fit."""

import json
import subprocess
import sys

import numpy as np
import pytest

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.inits import initialize
from implicit_bias.training import GradientDescent, GradientFlow, Problem, compile_kernels, compiled
from implicit_bias.training.cache import build_key, file_sha256, kernel_sources

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
    described = compiled.build(path, fallback=compile_kernels)
    assert described["module"] is not None, described.get("reason")
    yield path
    compiled.use(None)


def test_a_second_build_of_the_same_source_comes_from_the_cache(manifest, build_cache, tmp_path, monkeypatch):
    def must_not_build(directory):
        raise AssertionError("built again")

    monkeypatch.setattr(compiled, "_build_module", must_not_build)
    said = []
    again = compiled.build(tmp_path / "kernels.json", log=pytest.fail, say=said.append, fallback=compile_kernels)
    assert said == [f"kept build for this key found: {build_cache / f'{compiled.MODULE}.{build_key()[:16]}.so'}"]
    first = json.loads(manifest.read_text())
    assert again == first
    assert (tmp_path / again["module"]).read_bytes() == (manifest.parent / first["module"]).read_bytes()
    kept = f"{compiled.MODULE}.{build_key()[:16]}.so"
    assert sorted(p.name for p in build_cache.iterdir()) == [kept, kept + ".sha256"]
    assert (build_cache / (kept + ".sha256")).read_text() == file_sha256(build_cache / kept) + "\n"


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
    stale.write_text(json.dumps({**described, "sources_sha256": "0" * 64}))
    (tmp_path / described["module"]).symlink_to(manifest.parent / described["module"])
    with pytest.raises(ValueError) as error:
        compiled.load(stale)
    assert str(error.value) == (
        f"the kernels in {stale} were built from another version of their sources (cache.py, codes.py, kernels.py); "
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
    described = compiled.build(tmp_path / "kernels.json", log=said.append, fallback=compile_kernels)
    assert described["module"] is None and described["reason"] == "OSError: gcc: command not found"
    assert said == [
        "no ahead-of-time build (OSError: gcc: command not found); compiling numba's kernels into its cache"
    ]
    assert [s.split("(")[0] for s in described["signatures"]] == ["flow_batch", "flow_velocity", "gd_batch"]
    assert compiled.use(tmp_path / "kernels.json") is False
    assert compiled.kernels().__name__ == "implicit_bias.training.kernels"


def test_the_build_key_covers_every_source_the_kernels_import():
    """codes.py's constants are compiled in: an edit there must change the key, like one of kernels.py."""
    assert [p.name for p in kernel_sources()] == ["cache.py", "codes.py", "kernels.py"]


def test_an_edit_of_the_constants_changes_the_key_and_a_comment_elsewhere_does_not(tmp_path, monkeypatch):
    from implicit_bias.training import cache

    copy = tmp_path / "training"
    copy.mkdir()
    for path in cache.TRAINING.glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(cache, "TRAINING", copy)
    monkeypatch.setattr(cache, "KERNELS", copy / "kernels.py")

    def key():
        cache.sources_sha256.cache_clear()
        cache.build_key.cache_clear()
        return cache.build_key()

    original = key()
    assert original == build_key()  # the copy is the same source
    (copy / "solvers.py").write_text((copy / "solvers.py").read_text() + "# a comment\n")
    assert key() == original  # solvers.py is not compiled into the kernels
    codes = (copy / "codes.py").read_text()
    swapped = codes.replace("CLASSIFICATION = 0\nREGRESSION = 1", "CLASSIFICATION = 1\nREGRESSION = 0")
    assert swapped != codes
    (copy / "codes.py").write_text(swapped)
    assert key() != original
    cache.sources_sha256.cache_clear()
    cache.build_key.cache_clear()


def test_a_damaged_cached_build_is_built_again_and_said(manifest, build_cache, tmp_path, monkeypatch):
    kept = build_cache / f"{compiled.MODULE}.{build_key()[:16]}.so"
    good = kept.read_bytes()
    kept.write_bytes(good[: len(good) // 2])  # a truncated copy (a full disk, a killed copy)
    built = []

    def build(directory):
        built.append(directory)
        (directory / (compiled.MODULE + ".so")).write_bytes(good)
        return compiled.MODULE + ".so"

    monkeypatch.setattr(compiled, "_build_module", build)
    said, progress = [], []
    described = compiled.build(
        tmp_path / "kernels.json", log=said.append, say=progress.append, fallback=compile_kernels
    )
    assert built == [tmp_path]
    assert progress[0].startswith(f"no kept build for key {build_key()[:16]} in {build_cache}: building the kernels")
    assert said == [
        f"the cached build {kept} does not match its recorded sha256 (damaged or incomplete); building again"
    ]
    assert kept.read_bytes() == good and described["module_sha256"] == file_sha256(kept)


def test_a_module_that_does_not_match_its_manifest_is_refused(manifest, tmp_path):
    described = json.loads(manifest.read_text())
    copy = tmp_path / "kernels.json"
    copy.write_text(json.dumps(described))
    module = tmp_path / described["module"]
    module.write_bytes((manifest.parent / described["module"]).read_bytes()[:1000])
    with pytest.raises(ValueError) as error:
        compiled.load(copy)
    assert str(error.value) == (
        f"the kernels module {module} does not match the sha256 in {copy}; "
        f"rebuild it with: python -m implicit_bias compile --output {copy}"
    )


@pytest.mark.parametrize("name", ["/tmp/evil.so", "../evil.so", "sub/implicit_bias_training_kernels.so", 3])
def test_a_manifest_naming_a_module_elsewhere_is_refused(manifest, tmp_path, name):
    described = json.loads(manifest.read_text())
    copy = tmp_path / "kernels.json"
    copy.write_text(json.dumps({**described, "module": name}))
    with pytest.raises(ValueError) as error:
        compiled.load(copy)
    assert str(error.value) == (
        f"the kernels manifest {copy} names {name!r}, not a module file beside it; "
        f"rebuild it with: python -m implicit_bias compile --output {copy}"
    )


def test_a_silent_compiler_call_gets_heartbeat_lines_that_stop_with_it():
    import time

    from implicit_bias.training.compiled import heartbeat

    lines = []
    with heartbeat(lines.append, "building the kernels", every=0.02):
        time.sleep(0.3)
    count = len(lines)
    time.sleep(0.1)
    assert count >= 2 and len(lines) == count  # nothing after the block
    assert lines[0].startswith("building the kernels: ") and lines[0].endswith(" s so far")


def test_the_build_module_imports_no_solver():
    """compiled <-> solvers was an import circle (the build's fallback imported the solvers that import it):
    the fallback is passed in now, and compiled.py names no module of the solvers."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(compiled.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"solvers", "specialised", "operator_gd"}, imported
