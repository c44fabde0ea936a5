"""Interrupted jobs, determinism, and gating on failed checks — on the real workflow."""

import subprocess
import time
from pathlib import Path

import pandas as pd
import yaml

from tests.helpers import ROOT, TINY, assert_same_data, snakemake

SLOW = {  # one GD run long enough (~1 s) to be killed while it trains
    "task": "classification",
    "data": {"paper": "paper_classification"},
    "architectures": [{"name": "diag", "depth": 2}],
    "alphas": [0.5],
    "seeds": [0],
    "init": "paper",
    "solver": {"name": "gd", "lr": 5.0e-4, "steps": 15_000_000},
    "claims": ["figure3"],
}


def config_with_slow_run():
    config = yaml.safe_load(TINY.read_text())
    config["experiments"]["slow"] = SLOW
    return config


def prepare(workdir: Path, config: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def training_process(root_pid: int, output: str):
    """The Python process writing ``output`` (a run file's path: run names repeat across experiments)
    among the descendants of ``root_pid`` (the snakemake this test started), never a process of someone
    else's that happens to match a pattern."""
    import psutil

    try:
        descendants = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for process in descendants:
        try:
            command = process.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if (
            command[:3]
            and "python" in command[0]
            and command[1:4] == ["-m", "implicit_bias", "train"]
            and output in command
        ):
            return process
    return None


def test_a_killed_training_job_leaves_no_result_and_a_rerun_completes_identically(tmp_path):
    config = config_with_slow_run()
    clean = prepare(tmp_path / "clean", config)
    done = snakemake(clean)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = prepare(tmp_path / "killed", config)
    target = killed / "results" / "slow" / "runs" / "diag_L2_a0.5_s0.nc"
    command = ["snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(killed), "--cores", "2"]
    workflow = subprocess.Popen(  # asked for the slow run alone, so that it starts at once, whatever the job order
        [*command, str(target.relative_to(killed))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    trainer, deadline = None, time.monotonic() + 120
    while trainer is None and time.monotonic() < deadline:
        trainer = training_process(workflow.pid, str(target.relative_to(killed)))
        time.sleep(0.05)
    if trainer is None:  # say why: the workflow's own account of what it ran
        workflow.kill()
        raise AssertionError(f"the slow training job never started:\n{workflow.communicate()[0][-3000:]}")
    trainer.kill()  # the trainer itself (SIGKILL), not the shell that runs it
    output, _ = workflow.communicate(timeout=300)
    assert workflow.returncode != 0, output[-2000:]
    assert not target.exists()  # nothing that reads as a result

    resumed = snakemake(killed, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert target.exists()
    assert_same_data(clean / "results", killed / "results")


def test_the_same_config_twice_gives_identical_results(tmp_path):
    first = prepare(tmp_path / "first", yaml.safe_load(TINY.read_text()))
    second = prepare(tmp_path / "second", yaml.safe_load(TINY.read_text()))
    for workdir in (first, second):
        done = snakemake(workdir)
        assert done.returncode == 0, done.stderr[-3000:]
    assert_same_data(first / "results", second / "results")
    checks = [pd.read_csv(w / "results" / "report" / "claims.csv") for w in (first, second)]
    pd.testing.assert_frame_equal(checks[0], checks[1])


def test_failed_checks_fail_the_workflow_when_asked(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["fail_on_failed_checks"] = True
    short = {
        **config["experiments"]["my_point"],
        "architectures": [{"name": "diag", "depth": 2}],
        "alphas": [0.1],
        "seeds": [0],
        "solver": {"name": "gd", "lr": 1.0e-3, "steps": 20},
    }
    config["experiments"] = {"short_gd": short}
    workdir = prepare(tmp_path / "gated", config)
    done = snakemake(workdir)
    assert done.returncode != 0
    claims = pd.read_csv(workdir / "results" / "report" / "claims.csv")
    assert (claims["status"] == "fail").any()  # 20 GD steps stop far from Theorem 5's limit
    report = (workdir / "results" / "report" / "report.md").read_text()
    assert "1 refuted" in report.splitlines()[2]
    assert "FAILED theorem5 short_gd diag" in (workdir / "results" / "logs" / "gate.log").read_text()
