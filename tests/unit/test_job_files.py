"""What jobs hand each other — predictions, check rows, tails — reads back exactly, and the jobs that
read them need neither cvxpy nor pandas nor xarray (the programs are solved once, by predict)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from implicit_bias.checking import check_files, tails_record, write_checks
from implicit_bias.cli import main
from implicit_bias.datasets import paper_classification
from implicit_bias.labels import architecture_label
from implicit_bias.netcdf import Record
from implicit_bias.predictions import planned_run, read_predictions, read_predictions_file
from implicit_bias.theory import COLUMNS, predict

SOLVER = {"name": "flow", "log_loss_target": -1e4, "log_loss_cap": -1e8}
CLAIMS = ["corollary1", "corollary2", "figure3_loss_gap"]
SPEC = {
    "task": "classification",
    "architectures": [{"name": "diag", "depth": 2}, {"name": "fc", "depth": 2}],
    "alphas": [0.5],
    "seeds": [0],
    "init": "paper",
    "solver": SOLVER,
    "claims": CLAIMS,
}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """The paper's classification data, its predictions file, and a diag run that continued until its
    checks could decide, trained with the predictions file."""
    folder = tmp_path_factory.mktemp("experiment")
    paper_classification().write(folder / "dataset.nc")
    assert main(["-q", "predict", "--dataset", str(folder / "dataset.nc"), "--experiment", "e"]
                + ["--spec", json.dumps(SPEC), "--output", str(folder / "predictions.nc")]) == 0  # fmt: skip
    return folder


def train_arguments(folder, output, init="paper"):
    return ["-q", "train", "--dataset", str(folder / "dataset.nc"), "--architecture", '{"name": "diag", "depth": 2}',
            "--init", init, "--alpha", "0.5", "--seed", "0", "--solver", json.dumps(SOLVER), "--experiment", "e",
            "--claims", *CLAIMS, "--output", str(output)]  # fmt: skip


def test_a_predictions_file_gives_back_every_prediction_and_its_alternatives_exactly(experiment):
    read = read_predictions_file(experiment / "predictions.nc")
    assert sorted(read) == [("diag_L2", 0.5, 0), ("fc_L2", 0.5, 0)]
    for architecture in SPEC["architectures"]:
        run = planned_run(
            paper_classification(), architecture=architecture, init="paper", alpha=0.5, seed=0, solver=SOLVER,
            experiment="e",
        )  # fmt: skip
        again = read_predictions(read[(architecture_label(architecture), 0.5, 0)])
        assert list(again) == CLAIMS
        for claim in CLAIMS:
            a, b = again[claim], predict(claim, run)
            assert (a.applicable, a.reason, a.info, a.error) == (b.applicable, b.reason, b.info, b.error)
            if b.beta is not None:
                np.testing.assert_array_equal(a.beta, b.beta)
            assert list(a.alternatives) == list(b.alternatives)  # in the order the check lists its controls
            for name in a.alternatives:
                np.testing.assert_array_equal(a.alternatives[name], b.alternatives[name])
    fc, diag = (read_predictions(read[(label, 0.5, 0)]) for label in ("fc_L2", "diag_L2"))
    assert list(fc["corollary1"].alternatives) == ["l1 max-margin", "DFT-domain l1 max-margin"]
    assert list(diag["corollary2"].alternatives) == ["l2 max-margin", "DFT-domain l1 max-margin"]
    # the l1 problem's solution is Corollary 2's prediction; Corollary 1 carries it as a wrong answer
    np.testing.assert_array_equal(fc["corollary1"].alternatives["l1 max-margin"], diag["corollary2"].beta)


def test_a_predictions_file_without_the_controls_answers_is_refused(experiment):
    """An older version's file has no alternatives: read as none, its checks would pass without controls."""
    group = next(iter(read_predictions_file(experiment / "predictions.nc").values()))
    del group.variables["alternatives"]
    with pytest.raises(ValueError) as error:
        read_predictions(group)
    assert (
        str(error.value) == "a predictions file without the controls' alternatives (an older version's): rerun predict"
    )


def imported_modules(args) -> set:
    """The heavy modules a verb's job imports (run in a fresh interpreter, as the workflow runs it)."""
    code = (
        "import sys\nfrom implicit_bias.cli import main\n"
        f"assert main({args!r}) == 0\n"
        "print(' '.join(m for m in ('cvxpy', 'pandas', 'xarray', 'scipy.optimize') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


def test_training_with_the_predictions_file_continues_exactly_as_when_it_predicts_itself(experiment, tmp_path):
    with_file = train_arguments(experiment, tmp_path / "with.nc") + [
        "--predictions",
        str(experiment / "predictions.nc"),
    ]
    assert imported_modules(with_file) == set()
    assert main(train_arguments(experiment, tmp_path / "alone.nc")) == 0
    a, b = Record.read(tmp_path / "with.nc"), Record.read(tmp_path / "alone.nc")
    assert a.attrs["stop_reason"] == b.attrs["stop_reason"]
    # it stopped because every check decided, with every pass reached (below), not at the cap
    assert a.attrs["stop_reason"].startswith("nothing left that training could decide at log L = ")
    assert SOLVER["log_loss_cap"] < a["log_loss"][-1] < SOLVER["log_loss_target"]
    for name in ("beta", "log_loss", "theta"):
        np.testing.assert_array_equal(a[name], b[name])


def test_training_refuses_predictions_made_for_another_initialisation(experiment, tmp_path, capsys):
    arguments = train_arguments(experiment, tmp_path / "run.nc", init="random")
    assert main(arguments + ["--predictions", str(experiment / "predictions.nc")]) == 2
    assert capsys.readouterr().err == "error: the run and its predictions start from different initialisations\n"
    assert not (tmp_path / "run.nc").exists()


def test_training_names_a_run_the_predictions_file_lacks(experiment, tmp_path, capsys):
    arguments = train_arguments(experiment, tmp_path / "run.nc")
    arguments[arguments.index("--seed") + 1] = "7"
    assert main(arguments + ["--predictions", str(experiment / "predictions.nc")]) == 2
    assert capsys.readouterr().err == (
        f"error: {experiment / 'predictions.nc'} has no predictions for the run ('diag_L2', 0.5, 7)\n"
    )


@pytest.fixture(scope="module")
def checked(experiment, tmp_path_factory):
    """The check job's outputs for the run trained with the predictions file."""
    folder = tmp_path_factory.mktemp("checked")
    run = folder / "diag_L2_a0.5_s0.nc"
    assert main(train_arguments(experiment, run) + ["--predictions", str(experiment / "predictions.nc")]) == 0
    args = ["-q", "check", "--dataset", str(experiment / "dataset.nc"), "--runs", str(run),
            "--predictions", str(experiment / "predictions.nc"), "--claims", *CLAIMS,
            "--output", str(folder / "checks.csv"), "--tails", str(folder / "tails.nc")]  # fmt: skip
    assert imported_modules(args) == set()
    rows = check_files(CLAIMS, dataset=experiment / "dataset.nc", runs=[run], predictions=experiment / "predictions.nc")
    return folder, rows


def test_a_check_job_writes_its_rows_as_pandas_would(checked, tmp_path):
    folder, rows = checked
    assert {r.role for r in rows} == {"claim", "control"} and any(np.isnan(r.rate) for r in rows)
    by_pandas = tmp_path / "pandas.csv"
    pd.DataFrame([r.row() for r in rows], columns=COLUMNS).to_csv(by_pandas, index=False)
    assert (folder / "checks.csv").read_text() == by_pandas.read_text()
    write_checks(rows, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_text() == by_pandas.read_text()
    with open(folder / "checks.csv") as handle:
        assert next(csv.reader(handle)) == COLUMNS


def test_a_tails_file_reads_alike_with_xarray(checked):
    import xarray as xr

    folder, rows = checked
    traced = [r for r in rows if r.trace is not None]
    with xr.open_dataset(folder / "tails.nc") as tails:
        assert tails.sizes["series"] == len(traced) > 0
        assert tails["claim"].values.tolist() == [r.claim for r in traced]
        assert tails["alternative"].values.tolist() == [r.alternative for r in traced]
        np.testing.assert_array_equal(tails["tolerance"].values, [r.tolerance for r in traced])
        first = traced[0].trace
        keep = np.isfinite(first.values)
        np.testing.assert_array_equal(tails["value"].values[0, : keep.sum()], first.values[keep])
    empty = tails_record([], "none")
    assert empty.sizes() == {"series": 0, "point": 0}


def test_training_that_continues_until_its_checks_decide_ends_with_every_pass_reached(checked):
    """The run continued past its target until no pass rested on the fitted limit alone."""
    folder, rows = checked
    passes = [r for r in rows if r.role == "claim" and r.status == "pass"]
    assert passes and {r.evidence for r in passes} == {"reached"}
    assert all(r.value_at_end <= r.tolerance for r in passes)
