"""The Snakemake workflow on a tiny config: end to end, rerun behaviour, lint, bad configs."""

import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import xarray as xr
import yaml

from tests.helpers import ROOT, TINY, job_counts, snakemake


def test_tiny_config_runs_end_to_end(finished):
    results = finished / "results"
    summary = xr.open_dataset(results / "my_point" / "summary.nc")
    assert set(summary["beta"].dims) == {"architecture", "alpha", "seed", "checkpoint", "coef"}
    assert list(summary["architecture"].values) == ["conv_L2_k3", "diag_L3", "fc_L2_w3"]
    assert list(summary["alpha"].values) == [0.1, 1.0] and list(summary["seed"].values) == [0, 1]
    assert {"units", "long_name"} <= set(summary["beta"].attrs)
    assert {"config", "package_version", "git_commit", "created_at"} <= set(summary.attrs)
    assert set(summary["status"].values.ravel()) == {"converged"}
    claims = pd.read_csv(results / "report" / "claims.csv")
    theorem5 = claims[(claims["claim"] == "theorem5") & (claims["role"] == "claim")]
    assert len(theorem5) == 12
    # Theorem 5 covers the 2-layer networks; the depth-3 diagonal one is outside its setting
    assert set(theorem5[theorem5["depth"] == 2]["status"]) == {"pass"}
    assert set(theorem5[theorem5["depth"] == 3]["status"]) == {"not-applicable"}
    controls = claims[(claims["claim"] == "theorem5") & (claims["role"] == "control")]
    assert set(controls["status"]) == {"rejected"} and len(controls) == 8 * 2  # 2 controls per applicable run
    lemma = claims[claims["claim"] == "lemma5_1"]
    assert set(lemma[lemma["role"] == "claim"]["status"]) == {"pass"}
    assert set(lemma[lemma["role"] == "control"]["status"]) == {"rejected"}
    loss_gap = claims[(claims["claim"] == "figure3_loss_gap") & (claims["role"] == "claim")]
    assert set(loss_gap["status"]) <= {"pass", "inconclusive"}  # correct runs never fail
    assert set(claims[claims["claim"] == "figure3"]["status"]) == {"observation"}
    report = (results / "report" / "report.md").read_text()
    assert report.splitlines()[2].startswith("**") and "claims verified" in report.splitlines()[2]
    assert (results / "report" / "report.html").exists()
    for kind in ("agreement", "trajectories", "direction_error"):
        assert (results / "figures" / f"paper_classification_{kind}.png").exists()
    assert yaml.safe_load((results / "run_config.yaml").read_text())["experiments"]["my_point"]["seeds"] == [0, 1]
    assert (results / "logs" / "train" / "my_point" / "conv_L2_k3_a0.1_s0.log").read_text().count("converged") == 1
    assert (results / "benchmarks" / "train" / "my_point" / "conv_L2_k3_a0.1_s0.tsv").exists()


def test_a_browsable_report_archive_is_built(finished, tmp_path):
    done = snakemake(finished, "--report", str(tmp_path / "report.zip"))
    assert done.returncode == 0, done.stderr[-2000:]
    import zipfile

    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    assert any(n.endswith("claims.csv") for n in names) and any(n.endswith("my_point_agreement.png") for n in names)


def test_nothing_to_do_after_a_complete_run(finished):
    dry = snakemake(finished, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr


def test_adding_an_alpha_reruns_only_the_new_runs_and_what_aggregates_them(finished, tmp_path):
    """Except where runs read their experiment's predictions (training until the checks decide): the
    rewritten predictions file retrains the runs already there (workflow/rules/common.smk says why)."""
    config = yaml.safe_load(TINY.read_text())
    config["experiments"]["my_point"]["alphas"].append(0.5)
    config["experiments"]["paper_classification"]["seeds"].append(2)
    config_path = tmp_path / "more.yaml"
    config_path.write_text(yaml.safe_dump(config))
    dry = snakemake(finished, "-n", "--configfile", str(config_path))
    assert dry.returncode == 0, dry.stderr[-2000:]
    counts = job_counts(dry.stdout)
    assert counts["train"] == 3 * 2 + 3  # three architectures x two seeds at the new alpha; all seeds of one
    assert counts.get("dataset", 0) == 0
    assert {k: counts.get(k, 0) for k in ("predict", "check", "summarize")} == {
        "predict": 2,
        "check": 2,
        "summarize": 2,
    }


def dry_run_after_editing(workdir, module: str) -> dict:
    """Job counts of a dry run after ``module`` (a path under src/implicit_bias) changed.

    The edit is real (a comment line, removed afterwards): Snakemake >= 9.18 compares checksums of
    small inputs, so a mere touch reruns nothing.
    """
    code = ROOT / "src" / "implicit_bias" / module
    text, before = code.read_text(), code.stat()
    try:
        code.write_text(text + "# an edit\n")
        os.utime(code, (before.st_atime, time.time() + 60))  # newer than every output, however old the checkout
        dry = snakemake(workdir, "-n")
    finally:
        code.write_text(text)
        os.utime(code, (before.st_atime, before.st_mtime))
    assert dry.returncode == 0, dry.stderr[-2000:]
    return job_counts(dry.stdout)


def test_editing_figure_code_reruns_figures_and_report_only(finished):
    counts = dry_run_after_editing(finished, "figures.py")
    assert set(counts) == {"figures", "report", "gate", "all"}, counts  # gate: on by default


def test_editing_a_module_reruns_exactly_what_it_can_change(finished):
    """A theory edit reruns predictions, checks and what aggregates them, and training only where runs
    continue until their checks decide (paper_classification's two); a kernel edit retrains every run;
    an init edit too (it sets where runs start)."""
    theory = dry_run_after_editing(finished, "theory/judging.py")
    assert theory.get("train") == 2 and "dataset" not in theory, theory
    assert {"predict", "check", "theory_checks", "summarize", "figures", "report"} <= set(theory), theory
    for module in ("training/kernels.py", "inits.py"):
        counts = dry_run_after_editing(finished, module)
        assert counts.get("train") == 14, (module, counts)  # every run of the tiny config
        assert counts.get("compile_kernels", 0) == (module == "training/kernels.py"), (module, counts)
        assert counts.get("dataset", 0) == 0 and "check" in counts, (module, counts)


def test_forcerun_reruns_one_rule_and_its_consumers(finished):
    counts = job_counts(snakemake(finished, "-n", "--forcerun", "summarize").stdout)
    assert "train" not in counts and counts["summarize"] == 2


def test_lint_has_no_remarks_and_snakefiles_are_formatted():
    lint = subprocess.run(["snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout[-2000:]
    files = [str(ROOT / "Snakefile"), *map(str, sorted((ROOT / "workflow" / "rules").glob("*.smk")))]
    fmt = subprocess.run(["snakefmt", "--check", *files], capture_output=True, text=True, timeout=120)
    assert fmt.returncode == 0, fmt.stderr


@pytest.mark.parametrize(
    "edit,message",
    [
        (
            lambda c: c["experiments"]["my_point"].update(alphs=[1.0]),
            "invalid config: experiments.my_point: unknown key 'alphs'; did you mean 'alphas'? known keys: task,",
        ),
        (lambda c: c["experiments"]["my_point"].update(alphas=[0.0]), "0.0 is less than or equal to the minimum of 0"),
        (
            lambda c: c["experiments"]["my_point"]["architectures"].append(
                {"name": "conv", "depth": 2, "filters": [9]}
            ),
            "invalid config: experiments.my_point.architectures[3]: conv: each filter size must satisfy 1 <= k_l <= d = 5; got [9]",
        ),
        (
            lambda c: c["experiments"]["my_point"].update(claims=["corollary1"]),
            "invalid config: experiments.my_point.claims: corollary1 is about classification, but this experiment is regression",
        ),
    ],
)
def test_a_bad_config_stops_before_any_job(tmp_path, edit, message):
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "-n")
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert len((done.stdout + done.stderr).splitlines()) < 15  # the line that matters, not the whole schema
    assert not (tmp_path / "results").exists()


def test_a_deleted_checks_file_reruns_the_check_and_the_report(finished):
    checks = finished / "results" / "my_point" / "checks.csv"
    saved = checks.read_bytes()
    checks.unlink()
    try:
        counts = job_counts(snakemake(finished, "-n").stdout)
    finally:
        checks.write_bytes(saved)
    assert counts.get("check") == 1 and counts.get("report") == 1, counts


def test_a_data_file_is_an_input_of_its_dataset(tmp_path):
    """Editing a researcher's data file reruns its dataset and what depends on it."""
    data = tmp_path / "point.csv"
    data.write_text("x1,x2,x3,x4,x5,y\n0.3,-1.2,0.5,2.0,-0.7,0.8\n")
    config = yaml.safe_load(TINY.read_text())
    config["experiments"] = {"from_file": {**config["experiments"]["my_point"], "data": {"file": "point.csv"}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "results/from_file/dataset.nc")
    assert done.returncode == 0, done.stderr[-2000:]
    stamp = data.stat().st_mtime_ns
    data.write_text("x1,x2,x3,x4,x5,y\n0.3,-1.2,0.5,2.0,-0.7,0.9\n")
    counts = job_counts(snakemake(tmp_path, "-n", "results/from_file/dataset.nc").stdout)
    assert counts.get("dataset") == 1, counts
    os.utime(data, ns=(stamp, stamp))  # new content, the old modification time (cp -p, rsync -t)
    counts = job_counts(snakemake(tmp_path, "-n", "results/from_file/dataset.nc").stdout)
    assert counts.get("dataset") == 1, counts


def test_an_init_file_is_an_input_of_training_and_predictions(tmp_path):
    """Editing a researcher's init file reruns the runs and predictions that start from it."""
    import numpy as np

    np.savez(tmp_path / "v.npz", v_1=np.ones(5), v_2=np.ones(5), v_3=np.zeros(5))
    config = yaml.safe_load(TINY.read_text())
    config["experiments"] = {
        "own_init": {
            **config["experiments"]["my_point"],
            "architectures": [{"name": "diag", "depth": 3}],
            "alphas": [0.5],
            "seeds": [0],
            "init": {"file": "v.npz"},
            "claims": ["theorem4"],
        }
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/own_init/runs/diag_L3_a0.5_s0.nc", "results/own_init/predictions.nc"]
    done = snakemake(tmp_path, *targets)
    assert done.returncode == 0, done.stderr[-2000:]
    predictions = xr.open_dataset(tmp_path / targets[1], group="diag_L3_a0.5_s0")
    assert predictions["applicable"].values.tolist() == [1]  # Theorem 4's premise holds for these vectors
    stamp = (tmp_path / "v.npz").stat().st_mtime_ns
    np.savez(tmp_path / "v.npz", v_1=np.ones(5), v_2=2 * np.ones(5), v_3=np.zeros(5))
    os.utime(tmp_path / "v.npz", ns=(stamp, stamp))  # new content, the old modification time
    counts = job_counts(snakemake(tmp_path, "-n", *targets).stdout)
    assert counts.get("train") == 1 and counts.get("predict") == 1, counts


def test_snakemake_reads_the_default_profile(tmp_path):
    """Snakemake looks for profiles/default beside the Snakefile (the root link to workflow/profiles):
    without it the rerun policy, keep-going and the scheduler settings would silently not apply."""
    script = (
        "from snakemake.cli import parse_args; "
        f"_, args = parse_args(['--cores', '1', '--snakefile', {str(ROOT / 'Snakefile')!r}]); "
        "print(args.scheduler, args.keep_going, args.max_jobs_per_timespan.timespan, "
        "sorted(t.name for t in args.rerun_triggers))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "greedy True 3.0 ['CODE', 'INPUT', 'MTIME', 'PARAMS']"
