"""Which source files each verb runs (sources.py): what the workflow declares as each rule's code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from implicit_bias.sources import PACKAGE, verb_sources

VERBS = ("dataset", "config", "compile", "train", "predict", "check", "summarize", "figures", "report", "gate")
DOCS_VERBS = ("claims",)  # no rule runs it: it writes docs/claims.md, which no result depends on


def relative(paths):
    return {str(Path(p).relative_to(PACKAGE)) for p in paths}


def test_training_runs_no_claim_code_unless_it_continues_until_the_checks_decide():
    plain, deciding = relative(verb_sources("train")), relative(verb_sources("train", conditional=True))
    assert {"runs.py", "training/kernels.py", "inits.py", "networks.py"} <= plain
    assert not any(p.startswith("theory/") for p in plain) and "deciding.py" not in plain
    assert {"deciding.py", "theory/registry.py", "theory/judging.py"} <= deciding


def test_figures_and_summaries_run_neither_training_nor_theory():
    for verb in ("figures", "summarize"):
        files = relative(verb_sources(verb))
        assert not any(p.startswith(("training/", "theory/")) for p in files), (verb, files)


def test_every_module_of_the_package_is_some_verbs_code():
    """A module no verb reaches would be edited without rerunning anything."""
    reached = set().union(*(relative(verb_sources(v, conditional=True)) for v in VERBS + DOCS_VERBS))
    on_disk = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    # the workflow's own helpers, run when it loads: which files exist, not what a job computes
    assert on_disk - reached <= {"sources.py", "experiments.py"}


@pytest.mark.parametrize(
    "verb,args",
    [
        ("dataset", ["--paper", "paper_regression", "--output", "{tmp}/d.nc"]),
        (
            "train",
            [
                "--dataset",
                "{tmp}/d.nc",
                "--architecture",
                '{"name": "diag", "depth": 2}',
                "--init",
                "paper",
                "--alpha",
                "0.5",
                "--seed",
                "0",
                "--solver",
                '{"name": "flow"}',
                "--output",
                "{tmp}/r.nc",
            ],
        ),
    ],
)
def test_what_a_verb_imports_when_it_runs_is_within_its_declared_code(tmp_path, verb, args):
    """Run the verb and list the package modules it loaded: all of them are in its declared code."""
    if verb == "train":
        subprocess.run(
            [
                sys.executable,
                "-m",
                "implicit_bias",
                "-q",
                "dataset",
                "--paper",
                "paper_regression",
                "--output",
                str(tmp_path / "d.nc"),
            ],
            check=True,
            timeout=120,
        )
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    script = (
        "import json, sys; from implicit_bias.cli import main; code = main(sys.argv[1:]); "
        "print(json.dumps(sorted(sys.modules))); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "-q", verb, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = [m for m in modules if m.split(".")[0] == "implicit_bias"]
    files = {str(Path(*m.split(".")[1:]).with_suffix(".py")) if m != "implicit_bias" else "__init__.py" for m in loaded}
    files = {f if (PACKAGE / f).exists() else str(Path(f).with_suffix("") / "__init__.py") for f in files}
    declared = relative(verb_sources(verb))
    assert files <= declared, files - declared
    if verb == "train":  # training needs neither the claims nor cvxpy nor matplotlib
        assert not any(f.startswith("theory/") for f in files)
        assert not {"cvxpy", "matplotlib"} & {m.split(".")[0] for m in modules}


def test_jobs_import_the_package_the_workflow_loaded():
    from implicit_bias.sources import PACKAGE, put_package_on_pythonpath

    environ = {"PYTHONPATH": f"/elsewhere{os.pathsep}{PACKAGE.parent}"}
    put_package_on_pythonpath(environ)
    assert environ["PYTHONPATH"] == f"{PACKAGE.parent}{os.pathsep}/elsewhere"
    empty = {}
    put_package_on_pythonpath(empty)
    assert empty["PYTHONPATH"] == str(PACKAGE.parent)
