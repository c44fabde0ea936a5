"""The command line and the run files it writes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from implicit_bias.architectures import conv, diag
from implicit_bias.cli import main
from implicit_bias.datasets import Dataset, paper_regression
from implicit_bias.inits import initialize
from implicit_bias.netcdf import write_netcdf
from implicit_bias.runs import train_run
from implicit_bias.training import GradientFlow, Problem


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "implicit_bias", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_verbs_and_each_verb_has_help(tmp_path):
    top = run_cli("--help", cwd=tmp_path)
    assert top.returncode == 0
    for verb in ("dataset", "train"):
        assert verb in top.stdout
        assert run_cli(verb, "--help", cwd=tmp_path).returncode == 0


@pytest.fixture
def dataset_file(tmp_path):
    path = tmp_path / "dataset.nc"
    assert (
        main(
            [
                "-q",
                "dataset",
                "--inline",
                json.dumps({"task": "regression", "X": [[0.3, -1.2, 0.5, 2.0, -0.7]], "y": [0.8]}),
                "--output",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_train_writes_a_self_describing_run_file(tmp_path, dataset_file):
    out = tmp_path / "runs" / "run.nc"
    done = run_cli(
        "train",
        "--dataset",
        str(dataset_file),
        "--architecture",
        '{"name": "conv", "depth": 2, "filters": [3]}',
        "--init",
        "theorem5",
        "--alpha",
        "0.1",
        "--seed",
        "1",
        "--solver",
        '{"name": "flow"}',
        "--experiment",
        "my_point",
        "--config",
        '{"alphas": [0.1]}',
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "converged" in done.stderr
    ds = xr.open_dataset(out)
    for key, value in {
        "experiment": "my_point",
        "task": "regression",
        "architecture": "conv",
        "depth": 2,
        "alpha": 0.1,
        "seed": 1,
        "solver": "flow",
        "status": "converged",
        "init": "theorem5",
    }.items():
        assert ds.attrs[key] == value
    assert json.loads(ds.attrs["solver_settings"])["residual_rtol"] == 1e-12
    assert json.loads(ds.attrs["config"]) == {"alphas": [0.1]}
    assert ds.attrs["package_version"] == "0.1.0" and ds.attrs["git_commit"] and ds.attrs["created_at"]
    for name in ("beta", "loss", "log_loss", "theta_init_1", "theta_init_2", "theta_final_1", "theta_final_2"):
        assert {"units", "long_name"} <= set(ds[name].attrs), name
    assert ds["beta"].dims == ("checkpoint", "coef") and ds["theta_final_1"].shape == (3,)
    # the file holds what the library computes for the same settings
    net = conv(5, depth=2, filters=[3])
    X = np.array([[0.3, -1.2, 0.5, 2.0, -0.7]])
    theta0 = initialize("theorem5", net, X, alpha=0.1, seed=1)
    (expected,) = GradientFlow().run(Problem(net, X, np.array([0.8]), "regression"), theta0)
    np.testing.assert_array_equal(ds["beta"].values, expected.beta)
    np.testing.assert_array_equal(np.concatenate([ds["theta_final_1"], ds["theta_final_2"]]), expected.theta_final)
    assert not list(out.parent.glob(".*.tmp"))


def test_train_runs_a_flow_on_torch(tmp_path, dataset_file):
    """A training job with ``backend: torch`` for the flow: the run file says so, and holds what the library computes
    for the same settings, bit for bit."""
    out = tmp_path / "run.nc"
    solver = {"name": "flow", "backend": "torch", "device": "cpu"}
    architecture = {"name": "diag", "depth": 3}
    args = ["train", "--dataset", str(dataset_file), "--architecture", json.dumps(architecture), "--init", "random"]
    args += ["--alpha", "0.5", "--seed", "2", "--solver", json.dumps(solver), "--output", str(out)]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ds = xr.open_dataset(out)
    assert ds.attrs["status"] == "converged"
    assert "DOP853 batched on torch (cpu)" in ds.attrs["reason"]
    assert json.loads(ds.attrs["solver_settings"])["backend"] == "torch"
    net = diag(5, depth=3)
    X = np.array([[0.3, -1.2, 0.5, 2.0, -0.7]])
    theta0 = initialize("random", net, X, alpha=0.5, seed=2)
    (expected,) = GradientFlow(backend="torch").run(Problem(net, X, np.array([0.8]), "regression"), theta0)
    np.testing.assert_array_equal(ds["beta"].values, expected.beta)


def test_a_diverging_run_is_written_with_its_status(tmp_path):
    run = train_run(
        paper_regression(),
        architecture={"name": "fc", "depth": 2},
        init="paper",
        alpha=1.0,
        seed=0,
        solver={"name": "gd", "lr": 10.0, "steps": 100},
    )
    assert run.attrs["status"] == "diverged"
    assert run.attrs["reason"].startswith("the loss became non-finite at step")
    assert np.isnan(run["log_loss"][-1])


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--architecture", '{"name": "conv", "depth": 2, "filters": [7]}'],
            "error: conv: each filter size must satisfy 1 <= k_l <= d = 5; got [7]",
        ),
        (["--init", "xavier"], "error: unknown init scheme 'xavier'"),
        (["--solver", '{"name": "gd", "lr": 0}'], "error: gd.lr must be a positive finite number, got 0"),
        (["--alpha", "-1"], "error: alpha must be a positive finite number, got -1.0"),
        (
            ["--seed", str(2**63)],
            "python -m implicit_bias train: error: argument --seed: a seed must be in [0, 2^63), got 9223372036854775808",
        ),
        (
            ["--solver", '{"name": "flow", "residual_rtol": 1.0}'],
            "error: flow.residual_rtol must be in [1e-15, 1), got 1.0",
        ),
    ],
)
def test_bad_train_arguments_fail_with_a_clear_message_and_no_file(tmp_path, dataset_file, args, message):
    base = {
        "--architecture": '{"name": "fc", "depth": 2}',
        "--init": "random",
        "--alpha": "1",
        "--seed": "0",
        "--solver": '{"name": "flow"}',
    }
    base.update(dict(zip(args[::2], args[1::2])))
    out = tmp_path / "run.nc"
    done = run_cli(
        "train",
        "--dataset",
        str(dataset_file),
        *[x for kv in base.items() for x in kv],
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(message)
    assert not out.exists()


def test_an_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    ds = Dataset(np.ones((1, 2)), np.ones(1), "regression").record().to_xarray()

    def crash(self, path, **kwargs):
        open(path, "wb").write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(KeyboardInterrupt):
        write_netcdf(ds, tmp_path / "d.nc")
    assert list(tmp_path.iterdir()) == []


def corollary2_experiment(solver) -> dict:
    """An experiment's config entry: one diag L = 2 run at alpha 1 from a Theorem 2 init, checked for Corollary 2."""
    return {
        "claims": ["corollary2"],
        "architectures": [{"name": "diag", "depth": 2}],
        "alphas": [1.0],
        "seeds": [0],
        "init": "theorem2",
        "solver": solver,
    }


def test_a_capped_classification_run_continues_and_its_tails_are_drawn(tmp_path):
    """train with log_loss_cap continues past its target while a check is inconclusive and says why it
    stopped; check writes the series behind its tail verdicts, and figures draws them."""
    data = tmp_path / "data.nc"
    rng = np.random.default_rng(3)  # an instance whose l1, DFT-l1 and l2 max-margin directions differ
    X = rng.normal(size=(3, 4))
    y = np.sign(X @ rng.normal(size=4))
    assert (
        main(
            [
                "-q",
                "dataset",
                "--inline",
                json.dumps({"task": "classification", "X": X.tolist(), "y": y.tolist()}),
                "--output",
                str(data),
            ]
        )
        == 0
    )
    solver = {"name": "flow", "log_loss_target": -1e1, "log_loss_cap": -1e7}
    run, predictions = tmp_path / "runs" / "r.nc", tmp_path / "predictions.nc"
    assert (
        main(
            [
                "-q",
                "train",
                "--dataset",
                str(data),
                "--architecture",
                json.dumps({"name": "diag", "depth": 2}),
                "--init",
                "theorem2",
                "--alpha",
                "1",
                "--seed",
                "0",
                "--solver",
                json.dumps(solver),
                "--claims",
                "corollary2",
                "--output",
                str(run),
            ]
        )
        == 0
    )
    trained = xr.open_dataset(run)
    assert trained["log_loss"].values[-1] < -1e1  # continued past its target
    assert trained.attrs["stop_reason"].startswith("nothing left that training could decide at log L")
    spec = corollary2_experiment(solver)
    predict = ["-q", "predict", "--dataset", str(data), "--experiment", "adhoc", "--spec", json.dumps(spec)]
    assert main([*predict, "--output", str(predictions)]) == 0
    checks, tails = tmp_path / "checks.csv", tmp_path / "tails.nc"
    assert (
        main(
            [
                "-q",
                "check",
                "--dataset",
                str(data),
                "--runs",
                str(run),
                "--predictions",
                str(predictions),
                "--claims",
                "corollary2",
                "--output",
                str(checks),
                "--tails",
                str(tails),
            ]
        )
        == 0
    )
    series = xr.open_dataset(tails)
    assert list(series["role"].values) == ["claim", "control", "control"]  # the l2 and DFT-l1 controls
    assert list(series["status"].values) == ["pass", "rejected", "rejected"]
    summary = tmp_path / "summary.nc"
    assert (
        main(
            [
                "-q",
                "summarize",
                "--experiment",
                "adhoc",
                "--dataset",
                str(data),
                "--runs",
                str(run),
                "--predictions",
                str(predictions),
                "--output",
                str(summary),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "figures",
                "--summary",
                str(summary),
                "--tails",
                str(tails),
                "--name",
                "adhoc",
                "--kind",
                "tail_fits",
                "--png",
                str(tmp_path / "figures" / "tails.png"),
                "--pdf",
                str(tmp_path / "tails.pdf"),
            ]
        )
        == 0
    )
    assert (tmp_path / "figures" / "tails.png").stat().st_size > 10_000
    assert (tmp_path / "tails.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664)])
def test_result_files_get_the_mode_the_umask_allows(tmp_path, umask, mode):
    import os

    import pandas as pd

    from implicit_bias.files import write_csv

    previous = os.umask(umask)
    try:
        netcdf = write_netcdf(xr.Dataset({"a": ("x", np.arange(3.0))}), tmp_path / "a.nc")
        table = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv")
    finally:
        os.umask(previous)
    assert (netcdf.stat().st_mode & 0o777, table.stat().st_mode & 0o777) == (mode, mode)


def test_a_corrupted_run_file_is_named_in_the_error(tmp_path, capsys):
    broken = tmp_path / "run.nc"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    code = main(
        [
            "-q",
            "summarize",
            "--experiment",
            "e",
            "--dataset",
            str(broken),
            "--runs",
            str(broken),
            "--output",
            str(tmp_path / "s.nc"),
        ]
    )
    assert code == 2
    message = capsys.readouterr().err
    assert message.startswith(f"error: could not read {broken}") and "corrupted or truncated" in message


def test_the_report_says_which_runs_did_not_finish(tmp_path):
    from implicit_bias.report import write_report

    status = np.array([[["converged", "stalled"]]], dtype=object)
    summary = xr.Dataset(
        {
            "status": (("architecture", "alpha", "seed"), status),
            "reason": (
                ("architecture", "alpha", "seed"),
                np.array([[["", "the step size underflowed"]]], dtype=object),
            ),
        },
        coords={"architecture": ["diag_L2"], "alpha": [0.5], "seed": [0, 1]},
        attrs={"experiment": "e"},
    )
    write_netcdf(summary, tmp_path / "summary.nc")
    checks = tmp_path / "checks.csv"
    checks.write_text(
        "claim,experiment,architecture,depth,alpha,seed,metric,value,tolerance,status,reason\n"
        "lemma5_1,theory,-,2,,-1,m,0.0,1e-9,pass,r\n"
    )
    report = tmp_path / "report"
    counts = write_report(
        [checks],
        [],
        [],
        claims=report / "claims.csv",
        markdown=report / "report.md",
        html=report / "report.html",
        summary_paths=[tmp_path / "summary.nc"],
    )
    assert counts["unfinished_runs"] == 1
    text = (report / "report.md").read_text()
    assert "1 runs did not finish (below)" in text.splitlines()[2]
    assert "| e | diag_L2 | 0.5 | 1 | stalled | the step size underflowed |" in text
    # no benchmark files (runs not made by the workflow): said so, not "fastest nan s"
    assert "Training jobs: no timings (no per-job benchmark files: the runs were not made by the workflow)." in text


def test_compile_builds_the_kernels_a_training_job_then_uses(tmp_path, dataset_file):
    """The compile job's manifest names its module; a training job given it (data read from its file)
    trains with that build and writes the same data as with numba's kernels."""
    import netCDF4

    from implicit_bias.training import compiled

    manifest = tmp_path / "kernels" / "kernels.json"
    assert main(["-q", "compile", "--output", str(manifest)]) == 0
    described = json.loads(manifest.read_text())
    assert (manifest.parent / described["module"]).is_file()
    assert list(described["signatures"]) == ["flow_batch", "flow_velocity", "gd_batch"]
    args = ["-q", "train", "--dataset", str(dataset_file), "--architecture", '{"name": "conv", "depth": 2}']
    args += ["--init", "random", "--alpha", "0.5", "--seed", "0", "--solver", '{"name": "flow"}']
    try:
        assert main([*args, "--kernels", str(manifest), "--output", str(tmp_path / "built.nc")]) == 0
        assert compiled.kernels().__name__ == compiled.MODULE
    finally:
        compiled.use(None)
    assert main([*args, "--output", str(tmp_path / "numba.nc")]) == 0
    with netCDF4.Dataset(tmp_path / "built.nc") as built, netCDF4.Dataset(tmp_path / "numba.nc") as by_numba:
        for name in ("beta", "theta", "log_loss", "progress", "theta_final_1", "theta_final_2"):
            np.testing.assert_array_equal(built[name][:], by_numba[name][:])


def test_figure_code_leaves_out_scipy_and_leaves_it_importable():
    """seaborn would import scipy.stats (0.5 s of a figure job) for a KDE and scipy.cluster (0.2 s) for a
    clustermap, neither of which a figure draws; the module imports seaborn without them, and both can
    still be imported afterwards."""
    script = (
        "import sys, implicit_bias.figures; print(any(m.startswith('scipy') for m in sys.modules)); "
        "import scipy.stats, scipy.cluster.hierarchy; print(scipy.stats.norm.cdf(0.0)); "
        "print(scipy.cluster.hierarchy.linkage([[0.0], [1.0]])[0, 2])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "0.5", "1.0"]


def test_predictions_made_for_other_data_are_refused_by_check_and_by_deciding_training(tmp_path, capsys):
    """Only architecture, alpha, seed and theta(0) were compared: predictions for other data were accepted and
    the report refuted a true claim at 90 degrees. Both files now record the data's sha256."""
    X = [[1.0, 0.5], [-0.5, -1.0], [0.8, 1.2]]
    ours, other = tmp_path / "ours.nc", tmp_path / "other.nc"
    for path, y in ((ours, [1, -1, 1]), (other, [1, -1, -1])):
        data = json.dumps({"task": "classification", "X": X, "y": y})
        assert main(["-q", "dataset", "--inline", data, "--output", str(path)]) == 0
    solver = {"name": "flow", "log_loss_target": -1e1, "log_loss_cap": -1e3}
    spec = corollary2_experiment(solver)
    for data, out in ((ours, "ours_predictions.nc"), (other, "other_predictions.nc")):
        predict = ["-q", "predict", "--dataset", str(data), "--experiment", "e", "--spec", json.dumps(spec)]
        assert main([*predict, "--output", str(tmp_path / out)]) == 0
    train = ["-q", "train", "--dataset", str(ours), "--architecture", '{"name": "diag", "depth": 2}']
    train += ["--init", "theorem2", "--alpha", "1", "--seed", "0", "--solver", json.dumps(solver)]
    run = tmp_path / "run.nc"
    assert main([*train, "--output", str(run)]) == 0
    sha = {path: Dataset.read(path).content_sha256[:16] for path in (ours, other)}
    wrong = tmp_path / "other_predictions.nc"
    capsys.readouterr()
    assert (
        main([*train, "--claims", "corollary2", "--predictions", str(wrong), "--output", str(tmp_path / "r2.nc")]) == 2
    )
    assert capsys.readouterr().err == (
        f"error: {wrong} was made for the dataset with sha256 {sha[other]}, but the run ('diag_L2', 1.0, 0) is on "
        f"the dataset with sha256 {sha[ours]}: rerun predict for this data\n"
    )
    assert not (tmp_path / "r2.nc").exists()
    check = ["-q", "check", "--runs", str(run), "--claims", "corollary2", "--output", str(tmp_path / "c.csv")]
    assert main([*check, "--dataset", str(ours), "--predictions", str(wrong)]) == 2
    assert capsys.readouterr().err == (
        f"error: {wrong} was made for the dataset with sha256 {sha[other]}, but {run} is on the dataset with "
        f"sha256 {sha[ours]}: rerun predict for this data\n"
    )
    assert main([*check, "--dataset", str(other), "--predictions", str(wrong)]) == 2
    assert capsys.readouterr().err == (
        f"error: {run} was trained on the dataset with sha256 {sha[ours]}, but {other} has sha256 {sha[other]}: "
        "retrain, or check it against its own dataset\n"
    )
    assert main([*check, "--dataset", str(ours), "--predictions", str(tmp_path / "ours_predictions.nc")]) == 0


def test_version_and_a_mistyped_choice_get_one_line_with_the_fix(capsys):
    import implicit_bias

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"python -m implicit_bias {implicit_bias.__version__}\n"
    with pytest.raises(SystemExit) as done:
        main(["check", "--claims", "theorem99", "--output", "x.csv"])
    err = capsys.readouterr().err.splitlines()[-1]
    assert done.value.code == 2
    assert err.startswith(
        "python -m implicit_bias check: error: argument --claims: unknown claim 'theorem99'; did you mean 'theorem6'? "
        "choose from lemma5_1, theorem1,"
    )
    with pytest.raises(SystemExit):
        main(["figures", "--summary", "s.nc", "--name", "n", "--kind", "tail_fit"])
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m implicit_bias figures: error: argument --kind: unknown figure 'tail_fit'; did you mean "
        "'tail_fits'? choose from trajectories, alpha_sweep, direction_error, agreement, tail_fits, forest, rich_kernel, limit_images"
    )


def test_provenance_names_the_commit_and_says_when_the_code_differs_from_it(tmp_path):
    import shutil
    from pathlib import Path

    import implicit_bias

    source = Path(implicit_bias.__file__).parent
    shutil.copytree(source, tmp_path / "src" / "implicit_bias", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run(git + command, check=True, capture_output=True)
    head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    ask = [sys.executable, "-c", "from implicit_bias.provenance import git_commit; print(git_commit())"]
    env = {k: v for k, v in os.environ.items() if k != "IMPLICIT_BIAS_GIT_COMMIT"}
    env["PYTHONPATH"] = str(tmp_path / "src")
    assert subprocess.run(ask, capture_output=True, text=True, env=env).stdout.strip() == head
    (tmp_path / "src" / "implicit_bias" / "labels.py").write_text("# edited\n", encoding="utf-8")
    assert subprocess.run(ask, capture_output=True, text=True, env=env).stdout.strip() == head + "-dirty"


def test_the_pages_maths_renders_sub_and_superscripts_and_leaves_identifiers_alone():
    from implicit_bias.report_html import maths

    assert maths("h_L = p^{L-1} q, |c_L − ∫₀^∞ (1+u²)^{−(L−1)/2} du|") == (
        "h<sub>L</sub> = p<sup>L-1</sup> q, |c<sub>L</sub> − ∫₀<sup>∞</sup> (1+u²)<sup>−(L−1)/2</sup> du|"
    )
    assert maths("h_(L+1) in place of h_L; Q_{L,α,η̄}; a + c·τ^-p; x < y") == (
        "h<sub>L+1</sub> in place of h<sub>L</sub>; Q<sub>L,α,η̄</sub>; a + c·τ<sup>-p</sup>; x &lt; y"
    )
    assert maths("fc_L2 on orthogonal_classification") == "fc_L2 on orthogonal_classification"
    from implicit_bias.report_html import _measured

    assert _measured("c_(L+1) in place of c_L: 0.0776 — theory_x, diag_L2") == (
        "c<sub>L+1</sub> in place of c<sub>L</sub>: 0.0776 — theory_x, diag_L2"
    )
