"""The install files agree with each other, and CI runs what the README tells users to run."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"torch": "pytorch"}


def _split(requirement):
    name, bounds = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement.split("#")[0].replace(" ", "")).groups()
    return name.lower(), bounds


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    expected = {CONDA_NAMES.get(name, name): bounds for name, bounds in map(_split, wanted)}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = dict(_split(item) for item in conda if isinstance(item, str) and not item.startswith(("python", "pip")))
    assert listed == expected


def test_the_rules_conda_environment_lists_the_runtime_dependencies():
    """workflow/envs/runtime.yaml (--use-conda): pyproject's dependencies, less what only the driver needs."""
    driver_only = {"snakemake", "pygments"}  # Snakemake and its --report run outside the rules' environment
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = {CONDA_NAMES.get(n, n): b for n, b in map(_split, project["dependencies"]) if n not in driver_only}
    conda = yaml.safe_load((ROOT / "workflow" / "envs" / "runtime.yaml").read_text())["dependencies"]
    listed = dict(_split(item) for item in conda if isinstance(item, str) and not item.startswith("python"))
    assert listed == expected


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"^(pip install .*&& python -m pytest.*)$", readme, re.MULTILINE).group(1)
    assert test_command in ci


def test_torch_is_pinned_to_the_cpu_build_everywhere_it_is_installed():
    for path in ("README.md", ".ci/run"):
        assert "torch==2.13.0" in (ROOT / path).read_text(), path


def test_the_code_is_lint_clean_and_formatted():
    """ruff (pyflakes, pycodestyle errors, isort, bugbear, pyupgrade) and ruff format, as configured in pyproject.toml."""
    import shutil
    import subprocess

    ruff = shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pip install -e '.[test]')"
    paths = ["src", "tests", "benchmarks"]
    check = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    formatted = subprocess.run([ruff, "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout[-3000:]


def test_the_citation_and_the_licence_match_the_package():
    import implicit_bias

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == implicit_bias.__version__
    licence = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert citation["license"] == licence == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    paper = citation["preferred-citation"]
    assert paper["title"] == "A unifying view on implicit bias in training linear neural networks"
    assert [a["family-names"] for a in paper["authors"]] == ["Yun", "Krishnan", "Mobahi"] and paper["year"] == 2021
