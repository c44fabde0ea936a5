"""The flow on torch: a batch of runs' explicit phase (``batched_flow``) against scipy's DOP853 and the entry list,
the same batch on NumPy and on torch (cpu; cuda where a GPU is present), and the hand-over to the host's solvers."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from implicit_bias import architectures
from implicit_bias.datasets import random_dataset
from implicit_bias.inits import initialize
from implicit_bias.training import codes
from implicit_bias.training import structured as structured_module
from implicit_bias.training.batched_flow import batched_flow
from implicit_bias.training.problem import Problem
from implicit_bias.training.solvers import GradientFlow
from implicit_bias.training.structured import Velocity, drifted
from implicit_bias.training.theta_records import ThetaRecords

SPECS = {
    "diag": {"name": "diag", "depth": 2},
    "diag_L3": {"name": "diag", "depth": 3},
    "conv": {"name": "conv", "depth": 3},
    "fc": {"name": "fc", "depth": 2, "widths": [3]},
    "fc_wide": {"name": "fc", "depth": 2, "widths": [6]},  # the host's Radau goes on in fewer coordinates
}
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def _problem(spec, task, d=6, n=4, runs=2):
    data = random_dataset(task, n=n, d=d, seed=1)
    network = architectures.build_network(spec, d)
    thetas = np.stack([initialize("random", network, data.X, alpha=0.5, seed=seed) for seed in range(runs)])
    return Problem(network, data.X, data.y, task), thetas


def _batch(problem, thetas, levels, device, **settings):
    """batched_flow's records and where each run left, with the flow's default tolerances and budgets."""
    runs, K = levels.shape
    records = (
        np.full((runs, K, problem.network.dim), np.nan),
        np.full((runs, K), np.nan),
        np.full((runs, K), np.nan),
        [ThetaRecords(K, problem.network.n_params) for _ in range(runs)],
    )
    settings = {
        "rtol": 1e-10,
        "atol": 1e-12,
        "level_steps": 20,
        "first_level_budget": 5,
        "max_steps": 10**9,
        "deep_tau": None,
        **settings,
    }
    left = batched_flow(problem, thetas, levels, records, drifted=drifted, device=device, **settings)
    return records, left


@pytest.mark.parametrize("spec", ["diag", "fc_wide"])
def test_the_batch_takes_the_structured_paths_dop853_steps(spec):
    """Row by row, the batch is ``structured.ExplicitPhase`` (scipy's DOP853: its tableau, error norm and step-size
    control, steps past the levels and each level from the step's dense output; fc in its row-space coordinates):
    the same velocity evaluations and theta at every level, to rounding. (Cut at the levels instead, its regressions
    took ~40 % more evaluations, and agreed with the structured path to 1e-7.)"""
    from implicit_bias.training.structured import ExplicitPhase, initial_step

    problem, thetas = _problem(SPECS[spec], "regression", d=12, n=5, runs=2)
    velocity = Velocity(problem)
    solver = GradientFlow(checkpoints=30)
    levels = np.stack([solver.levels(-velocity.log_loss(theta), 8.0 - velocity.log_loss(theta)) for theta in thetas])
    for device in (None, "cpu"):
        records, left = _batch(problem, thetas, levels, device, level_steps=10**6)
        for run, theta in enumerate(thetas):
            explicit = ExplicitPhase(
                velocity, theta, levels[run, 0], rtol=1e-10, atol=1e-12, first_step=initial_step(velocity, theta)
            )
            there = [explicit.to(goal, budget=np.inf) for goal in levels[run]]
            assert (left[run].level, left[run].why) == (levels.shape[1] - 1, "done")
            # scipy's count: its first velocity, 12 a step, 3 an interpolant (the batch: 1 at the start, as scipy's)
            assert left[run].evaluations == explicit.evaluations
            there = np.array(there)  # rounding accumulated over ~100 steps of velocities summed in other orders
            assert np.max(np.abs(np.asarray(records[3][run]) - there)) <= 1e-11 * np.max(np.abs(there))


def _assert_the_batches_agree(spec, task, device, reference_device):
    """The same batch on two devices (or NumPy, None): the same hand-overs and records, to ``tolerance``."""
    problem, thetas = _problem(SPECS[spec], task, d=8, n=5, runs=3)
    solver = GradientFlow(log_loss_target=-1e3 if task == "classification" else None, checkpoints=30)
    levels = np.stack([solver.levels(-problem.log_loss(theta), -solver.target(problem)) for theta in thetas])
    (beta_a, log_loss_a, reached_a, theta_a), left_a = _batch(problem, thetas, levels, reference_device)
    (beta_b, log_loss_b, reached_b, theta_b), left_b = _batch(problem, thetas, levels, device)
    # In fewer coordinates DOP853's rtol is 1e-12 (``structured.FEWER_COORDINATES_RTOL``), where a regression's error
    # estimates (sums of 13 stages that cancel) are at their rounding: the libraries' roundings then accept different
    # steps, and the runs agree to the integration's accuracy (1.3e-9 measured), not to rounding (1e-15 before that).
    # A regression's explicit phase goes on while its steps sit near DOP853's stability boundary (its stiffness is
    # judged once |r| <= |y| / 10: ``structured.judged_from``), where the step-size control amplifies the libraries'
    # rounding of the error norm (1e-6 apart at the first step: the estimate cancels to rtol): diag L = 3's step sizes
    # drift from 1e-7 to 1e-2 apart over 400 steps and an accept-or-reject decision flips. The same evaluations and
    # hand-overs, and records 2.4e-9 apart: the integration's own error on two grids, not rounding.
    same_steps = (spec, task) != ("fc_wide", "regression")
    tolerance = 1e-10 if task == "classification" else 1e-8
    host = Velocity(problem)
    assert [a.why for a in left_a] == [b.why for b in left_b]
    # the same levels, except where a run drifted (a regression's last decades sit at theta's rounding, which the two
    # libraries' (their sums' orders) cross a level apart) or the steps differ: there DOP853's stiffness test, on
    # different steps, may find them stability-bound a level apart
    assert all(a.level == b.level or a.why == "drifted" or not same_steps for a, b in zip(left_a, left_b))
    assert all(abs(a.level - b.level) <= 1 for a, b in zip(left_a, left_b))
    if same_steps:
        assert [a.evaluations for a in left_a] == [b.evaluations for b in left_b]
    assert any(a.level > 1 for a in left_a)  # the batch carried runs through levels
    for run in range(thetas.shape[0]):
        both = slice(0, min(left_a[run].level, left_b[run].level) + 1)
        np.testing.assert_array_equal(reached_a[run, both], reached_b[run, both])
        # each level's log L is the loss at its theta (NumPy's, for the torch records too); to L's rounding, which a
        # regression's residual near its limit (~1e-6 of f) amplifies
        for log_loss, theta in ((log_loss_a, theta_a), (log_loss_b, theta_b)):
            measured = [host.log_loss(level) for level in theta[run][both]]
            np.testing.assert_allclose(log_loss[run, both], measured, rtol=0, atol=1e-8)
        scale = np.max(np.abs(beta_a[run, both]))
        assert np.max(np.abs(beta_b[run, both] - beta_a[run, both])) <= tolerance * scale
        theta = np.asarray(theta_a[run][both])
        assert np.max(np.abs(np.asarray(theta_b[run][both]) - theta)) <= tolerance * np.max(np.abs(theta))


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("spec", ["diag_L3", "fc_wide"])
def test_the_batch_on_torch_is_the_batch_on_numpy(spec, task):
    """The same code on NumPy arrays and on torch tensors: the same steps, hand-overs and records, to rounding (fc
    in its row-space coordinates)."""
    _assert_the_batches_agree(spec, task, "cpu", None)


@pytest.mark.parametrize("device", [None, "cpu"], ids=["numpy", "torch"])
@pytest.mark.parametrize("widths", [[4], [9]], ids=["row_space", "two_layer_row_space"])
def test_a_two_layer_batch_moves_in_each_runs_row_space_coordinates(widths, device):
    """fc at depth 2 with fewer points than inputs: the batch's coordinates are each run's ``flow_coordinates``
    stacked, and its velocity, outputs and beta are theirs, row by row (beta against the entry list's at theta), for
    the runs it keeps too."""
    from implicit_bias.training.array_library import array_library
    from implicit_bias.training.batched_flow import BatchVelocity

    problem, thetas = _problem({"name": "fc", "depth": 2, "widths": widths}, "classification", d=7, n=4, runs=3)
    lib = array_library(device)
    velocity = BatchVelocity(problem, lib, thetas)
    assert velocity.reduced
    flows = [problem.network.operator.flow_coordinates(problem.X, theta) for theta in thetas]
    host = Velocity(problem)
    rng = np.random.default_rng(3)
    ys = np.stack([flow.start + 0.1 * rng.standard_normal(flow.start.size) for flow in flows])
    for rows in (np.arange(3), np.array([0, 2])):
        coordinates = velocity.coordinates.keep(lib.flags(rows))
        v, log_loss, _ = coordinates.velocity(lib.as_array(ys[rows]), velocity.loss_of)
        outputs, beta = coordinates.outputs(lib.as_array(ys[rows])), coordinates.beta(lib.as_array(ys[rows]))
        for i, run in enumerate(rows):
            theta = flows[run].theta_of(ys[run])
            np.testing.assert_allclose(lib.to_numpy(v)[i], flows[run].velocity(ys[run], host.loss_of), rtol=1e-10)
            np.testing.assert_allclose(lib.to_numpy(log_loss)[i], host.log_loss(theta), rtol=1e-12)
            np.testing.assert_allclose(lib.to_numpy(outputs)[i], problem.X @ problem.network.beta(theta), rtol=1e-10)
            np.testing.assert_allclose(lib.to_numpy(beta)[i], problem.network.beta(theta), rtol=1e-10)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS)
def test_the_torch_flow_reaches_the_entry_lists_limit(spec, task):
    """The torch backend (the batch on the network's operator, then the host's solvers) follows the flow the
    compiled entry-list kernel integrates: the same levels, beta at each within the integration tolerance."""
    problem, thetas = _problem(spec, task)
    solver = GradientFlow(log_loss_target=-1e4 if task == "classification" else None)
    reference = solver.run(problem, thetas)
    batched = replace(solver, backend="torch").run(problem, thetas)
    for ref, run in zip(reference, batched):
        assert (ref.status, run.status) == ("converged", "converged"), run.reason
        assert "structured operator; " in run.reason and "DOP853 batched on torch (cpu)" in run.reason
        # a regression's residual target may sit below theta's rounding: there it converges within NEAR_TARGET of it
        reach = codes.NEAR_TARGET if task == "regression" else 1e-6 * abs(solver.target(problem))
        assert run.log_loss[-1] <= solver.target(problem) + reach
        assert np.linalg.norm(run.beta[-1] - ref.beta[-1]) <= 1e-8 * np.linalg.norm(ref.beta[-1])
        np.testing.assert_array_equal(run.progress[:-1], ref.progress[:-1])
        scale = np.linalg.norm(ref.beta[:-1], axis=1)
        assert np.max(np.linalg.norm(run.beta[:-1] - ref.beta[:-1], axis=1) / scale) < 1e-6
        # theta at each level is the one its beta was recorded from (beta by the entry list: the batch used the operator)
        theta_beta = np.array([problem.network.beta(theta) for theta in run.theta])
        np.testing.assert_allclose(theta_beta, run.beta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_run_the_batch_finds_stiff_goes_on_with_radau_on_the_host(monkeypatch, task):
    """With no steps allowed a level every run leaves the batch at its start, before a step, and the host's low-rank
    Radau carries it from there (its first step the batch's) to the same limit."""
    problem, thetas = _problem(SPECS["diag"], task)
    solver = GradientFlow(log_loss_target=-1e4 if task == "classification" else None)
    reference = solver.run(problem, thetas)
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)
    batched = replace(solver, backend="torch").run(problem, thetas)
    for ref, run in zip(reference, batched):
        assert run.status == "converged", run.reason
        start = f"{-run.progress[0]:.6g}"
        assert run.reason.endswith(f"(structured operator; Radau with a low-rank Jacobian from log L = {start})")
        assert np.linalg.norm(run.beta[-1] - ref.beta[-1]) <= 1e-6 * np.linalg.norm(ref.beta[-1])


def test_a_run_continued_past_deep_tau_leaves_the_batch_for_the_slow_manifold():
    from implicit_bias.limit_weights import DEEP_TAU

    problem, thetas = _problem(SPECS["diag"], "classification", runs=1)
    solver = GradientFlow(log_loss_target=-2 * DEEP_TAU, backend="torch", checkpoints=20)
    (run,) = solver.run(problem, thetas)
    assert run.status == "converged", run.reason
    assert "then on the support vectors' slow manifold from log L = " in run.reason
    deeper = solver.extend(problem, run, -10 * DEEP_TAU, checkpoints=5)
    assert deeper.status == "converged", deeper.reason
    assert deeper.reason.endswith(
        f"(structured operator; on the support vectors' slow manifold from log L = {run.log_loss[-1]:.6g})"
    )
    levels = np.stack([solver.levels(-run.log_loss[-1], 10 * DEEP_TAU, 5)])
    _, (left,) = _batch(problem, run.theta_final[None], levels, "cpu", deep_tau=DEEP_TAU)
    assert (left.level, left.why, left.evaluations) == (0, "deep", 1)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"device": "cuda"}, "flow.device 'cuda' needs backend 'torch' (the numba backend runs on the cpu)"),
        ({"backend": "jax"}, "flow.backend must be 'numba' or 'torch', got 'jax'"),
    ],
)
def test_the_flow_rejects_a_backend_it_does_not_have(settings, message):
    with pytest.raises(ValueError) as error:
        GradientFlow(**settings)
    assert str(error.value) == message


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_torch_flow_on_a_missing_gpu_says_so():
    problem, thetas = _problem(SPECS["diag"], "regression", runs=1)
    with pytest.raises(ValueError) as error:
        GradientFlow(backend="torch", device="cuda").run(problem, thetas)
    assert str(error.value) == "flow.device 'cuda': torch sees no CUDA GPU on this machine"


@CUDA
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("spec", ["conv", "fc_wide"])
def test_the_batch_on_cuda_is_the_batch_on_the_cpu(spec, task):
    _assert_the_batches_agree(spec, task, "cuda", "cpu")
