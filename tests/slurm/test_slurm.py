"""The workflow through a real single-node Slurm (brought up by cluster.sh), against a local run.

Needs root and Debian's slurm-wlm, munge, mariadb-server and slurmdbd (.ci/run installs them);
skipped where they are missing. Bounded: the client runs under `timeout -k`.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, assert_same_data, snakemake

HERE = Path(__file__).parent
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
TARGETS = ["results/my_point/checks.csv", "results/my_point/summary.nc"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(d) or Path(f"/usr/sbin/{d}").exists() for d in DAEMONS),
    reason="needs root and slurm-wlm, munge, mariadb-server and slurmdbd (apt-get install)",
)


@pytest.fixture(scope="module")
def cluster():
    state = Path(tempfile.mkdtemp(prefix="implicit-bias-slurm-"))  # not under pytest's 0700 folders: munge needs o+x
    up = subprocess.run([str(HERE / "cluster.sh"), "up", str(state)], capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield state
    finally:
        subprocess.run([str(HERE / "cluster.sh"), "down", str(state)], timeout=60)
        shutil.rmtree(state, ignore_errors=True)


def through_slurm(workdir, *targets, options=()):
    return subprocess.run(
        [
            "timeout",
            "-k",
            "10",
            "150",
            "snakemake",
            *targets,
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            "--profile",
            str(ROOT / "workflow" / "profiles" / "slurm"),
            "--slurm-no-account",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--cores",
            "2",
            *options,
            "--resources",
            "mem_mb=4000",
        ],
        capture_output=True,
        text=True,
        timeout=170,
    )


def sacct_states(job_ids):
    out = subprocess.run(
        ["sacct", "-a", "-X", "-n", "-P", "--format=JobIDRaw,State", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return dict(line.split("|")[:2] for line in out.split())


def submitted(log_text):
    """Slurm job ids Snakemake reports, and how many of them were group jobs."""
    ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log_text)
    return ids, len(re.findall(r"Group job training", log_text))


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The Slurm test config run locally and through Slurm: (local folder, Slurm folder, Slurm log)."""
    local, remote = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("through-slurm")
    for workdir in (local, remote):
        shutil.copy(HERE / "config.yaml", workdir / "config.yaml")
    done = snakemake(local, *TARGETS)
    assert done.returncode == 0, done.stderr[-2000:]
    run = through_slurm(remote, *TARGETS)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return local, remote, run.stdout + run.stderr


def test_every_job_goes_through_slurm_and_matches_a_local_run(runs):
    local, remote, log = runs
    ids, groups = submitted(log)
    # dataset, compile_kernels, predict, check, summarize and one bundle of the four training jobs
    assert groups == 1 and len(ids) == 6, log[-3000:]
    states = sacct_states(ids)
    assert set(states) == set(ids) and set(states.values()) == {"COMPLETED"}, states
    assert_same_data(local / "results", remote / "results")


def test_a_failing_job_is_reported_failed_and_fails_the_workflow(runs):
    _, workdir, _ = runs
    broken = workdir / "results" / "my_point" / "runs" / "diag_L2_a1_s0.nc"
    broken.write_bytes(b"not a NetCDF file")  # newer than checks.csv: the check job reruns, and fails
    run = through_slurm(workdir, "results/my_point/checks.csv", options=["--retries", "0"])  # the profile retries twice
    log = run.stdout + run.stderr
    assert run.returncode != 0
    ids, _ = submitted(log)
    assert ids and set(sacct_states(ids).values()) == {"FAILED"}, log[-3000:]


def test_a_gpu_request_reaches_the_training_jobs(cluster, tmp_path):
    """No GPU here: check the configuration path — the device option validates and the training
    jobs carry the GPU request the profile documents."""
    import yaml

    from implicit_bias.training import make_solver

    solver = {"name": "gd", "lr": 1.0e-3, "steps": 100, "backend": "torch", "device": "cuda"}
    assert make_solver(solver).device == "cuda"
    config = yaml.safe_load((HERE / "config.yaml").read_text())
    config["experiments"]["my_point"]["solver"] = solver
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    dry = through_slurm(tmp_path, *TARGETS, options=["-n", "--set-resources", "train:slurm_extra='--gres=gpu:1'"])
    log = dry.stdout + dry.stderr
    assert dry.returncode == 0, log[-3000:]
    # the four training jobs, and only they, carry the request
    assert log.count("rule train:") == 4 and log.count("slurm_extra=--gres=gpu:1") == 4, log[-3000:]
