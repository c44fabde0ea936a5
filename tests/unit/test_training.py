"""Training: GD steps, exact flow, their agreement, determinism, and honest failure statuses."""

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.inits import initialize
from implicit_bias.training import GradientDescent, GradientFlow, Problem, log_spaced_steps, make_solver

PAPER_X, PAPER_Y = np.array([[1.0, 2.0]]), np.array([1.0])
CLASS_X, CLASS_Y = np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0])


@pytest.mark.parametrize("task,X,y", [("regression", PAPER_X, PAPER_Y), ("classification", CLASS_X, CLASS_Y)])
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_one_gd_step_is_theta_minus_lr_gradient(rng, task, X, y, backend):
    net = conv(2, depth=3)
    problem = Problem(net, X, y, task)
    theta = rng.normal(size=net.n_params)
    (result,) = GradientDescent(lr=0.01, steps=1, checkpoints=2, backend=backend).run(problem, theta)
    np.testing.assert_allclose(result.theta_final, theta - 0.01 * problem.loss_gradient(theta), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(result.beta[0], net.beta(theta), rtol=1e-13)
    assert result.log_loss[1] == pytest.approx(problem.log_loss(result.theta_final), rel=1e-12)


def test_torch_backend_matches_the_compiled_kernel(rng):
    net = fc(3, depth=3, widths=[2, 4])
    problem = Problem(net, rng.normal(size=(2, 3)), np.array([1.0, -1.0]), "classification")
    thetas = 0.5 * rng.normal(size=(3, net.n_params))
    compiled = GradientDescent(lr=0.05, steps=300, checkpoints=20).run(problem, thetas)
    batched = GradientDescent(lr=0.05, steps=300, checkpoints=20, backend="torch").run(problem, thetas)
    for a, b in zip(compiled, batched):
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(a.theta_final, b.theta_final, rtol=1e-11, atol=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("spec", [{"name": "conv", "depth": 3}, {"name": "fc", "depth": 2, "widths": [5]}])
def test_gd_on_cuda_is_gd_on_the_cpu(rng, spec):
    """The torch backend on a GPU: the same operators (cuFFT, cuBLAS), to 1e-10 after 300 steps."""
    from implicit_bias.architectures import build_network

    net = build_network(spec, 6)
    problem = Problem(net, rng.normal(size=(4, 6)), np.array([1.0, -1.0, 1.0, -1.0]), "classification")
    thetas = 0.5 * rng.normal(size=(3, net.n_params))
    on_cpu = GradientDescent(lr=0.05, steps=300, checkpoints=20, backend="torch").run(problem, thetas)
    on_gpu = GradientDescent(lr=0.05, steps=300, checkpoints=20, backend="torch", device="cuda").run(problem, thetas)
    for a, b in zip(on_cpu, on_gpu):
        np.testing.assert_allclose(b.beta, a.beta, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(b.theta_final, a.theta_final, rtol=1e-10, atol=1e-13)


def _beta_at_level(result, level):
    """Linear interpolation of GD's beta where its log-loss crosses ``level``."""
    k = int(np.nonzero(result.log_loss <= level)[0][0])
    s = (result.log_loss[k - 1] - level) / (result.log_loss[k - 1] - result.log_loss[k])
    return (1 - s) * result.beta[k - 1] + s * result.beta[k]


@pytest.mark.parametrize(
    "net,task,X,y,level",
    [
        (fc(2, depth=2), "regression", PAPER_X, PAPER_Y, -8.0),
        (diag(2, depth=3), "classification", CLASS_X, CLASS_Y, -4.0),
    ],
    ids=["fc-regression", "diag3-classification"],
)
def test_small_step_gd_approaches_the_flow_in_proportion_to_lr(net, task, X, y, level):
    problem = Problem(net, X, y, task)
    theta = initialize("paper", net, X, alpha=0.8, seed=0)
    (flow,) = GradientFlow(log_loss_target=level).run(problem, theta)
    assert flow.status == "converged"
    errors = []
    for lr in (4e-3, 2e-3, 1e-3):
        steps = int(40 / lr)
        (gd,) = GradientDescent(lr=lr, steps=steps, checkpoints=20 * steps).run(problem, theta)
        np.testing.assert_array_equal(np.diff(gd.progress[:-1]), 1)  # every step is recorded
        errors.append(np.linalg.norm(_beta_at_level(gd, level) - flow.beta[-1]))
    ratios = errors[0] / errors[1], errors[1] / errors[2]
    assert all(1.8 < r < 2.2 for r in ratios), (errors, ratios)


def test_flow_agrees_with_an_independent_integrator_in_real_time(rng):
    """Plain gradient flow dTheta/dt = -grad L by scipy's DOP853 reaches the same limit point."""
    net = diag(3, depth=3)
    X, y = rng.normal(size=(2, 3)), np.array([0.7, -0.4])
    problem = Problem(net, X, y, "regression")
    theta = initialize("theorem4", net, X, alpha=0.7, seed=1)
    (flow,) = GradientFlow().run(problem, theta)
    ivp = solve_ivp(lambda t, th: -problem.loss_gradient(th), (0, 2000), theta, method="DOP853", rtol=1e-12, atol=1e-14)
    assert ivp.success
    np.testing.assert_allclose(flow.beta[-1], net.beta(ivp.y[:, -1]), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("w1,w2,x,y", [(0.9, 0.1, 2.0, 3.0), (0.3, -0.2, -1.0, 0.5), (2.0, 1.5, 0.5, -4.0)])
def test_flow_limit_of_a_scalar_two_layer_net_in_closed_form(w1, w2, x, y):
    """f = w1 w2 x: w1^2 - w2^2 = c is conserved, so w1 w2 -> p = y/x with w1^2 = (c + sqrt(c^2 + 4 p^2)) / 2."""
    problem = Problem(diag(1, depth=2), np.array([[x]]), np.array([y]), "regression")
    (flow,) = GradientFlow().run(problem, np.array([w1, w2]))
    c, p = w1**2 - w2**2, y / x
    a = np.sign(w1) * np.sqrt((c + np.sqrt(c**2 + 4 * p**2)) / 2)
    np.testing.assert_allclose(flow.theta_final, [a, p / a], rtol=1e-9)
    assert flow.status == "converged"


def test_regression_flow_stops_at_its_residual_tolerance(rng):
    net = conv(4, depth=2, filters=[2])
    X, y = rng.normal(size=(2, 4)), rng.normal(size=2)
    (run,) = GradientFlow(residual_rtol=1e-12).run(
        Problem(net, X, y, "regression"), 0.5 * rng.normal(size=net.n_params)
    )
    assert run.status == "converged"
    relative_residual = np.linalg.norm(X @ run.beta[-1] - y) / np.linalg.norm(y)
    assert 0.5e-12 < relative_residual < 1.5e-12


def test_classification_flow_reaches_log_loss_minus_a_million_and_the_l1_direction():
    """Diagonal 2-layer net on the Section 6 data: the l1 max-margin direction is [0, 0.5]/0.5."""
    problem = Problem(diag(2, depth=2), CLASS_X, CLASS_Y, "classification")
    theta = initialize("theorem2", problem.network, CLASS_X, alpha=0.5, seed=0)
    (run,) = GradientFlow().run(problem, theta)
    assert run.status == "converged"
    assert run.log_loss[-1] == pytest.approx(-1e6, rel=1e-8)
    assert run.progress[-1] == 1e6
    direction = run.beta[-1] / np.linalg.norm(run.beta[-1])
    assert np.arccos(min(1.0, direction @ [0.0, 1.0])) < 1e-4
    assert np.all(np.diff(run.log_loss) < 0)


def test_same_seed_gives_bitwise_identical_results_alone_or_in_a_batch(rng):
    net = fc(2, depth=2)
    problem = Problem(net, CLASS_X, CLASS_Y, "classification")
    thetas = np.stack([initialize("paper", net, CLASS_X, alpha=0.5, seed=s) for s in range(4)])
    for solver in (GradientDescent(lr=1e-3, steps=2000), GradientFlow(log_loss_target=-1e3)):
        batch = solver.run(problem, thetas)
        again = solver.run(problem, thetas)
        alone = solver.run(problem, thetas[2])
        for a, b in zip(batch, again):
            np.testing.assert_array_equal(a.beta, b.beta)
            np.testing.assert_array_equal(a.theta_final, b.theta_final)
        np.testing.assert_array_equal(batch[2].beta, alone[0].beta)


@pytest.mark.parametrize(
    "task,X,y,lr",
    [
        ("classification", CLASS_X, CLASS_Y, 1e-2),
        ("regression", PAPER_X, PAPER_Y, 1e-2),
        ("regression", PAPER_X, PAPER_Y, 3.0),
    ],
)
def test_a_run_alone_in_a_block_and_in_a_generated_block_takes_identical_steps(rng, task, X, y, lr):
    """Three loops run GD: a run alone (_gd_run), a block of runs (_gd_block), and a block kernel generated
    for the network (specialised). They must compute exactly the same, for a depth-3 network (the prefix
    and suffix products), and find a divergence at the same step (lr = 3)."""
    from implicit_bias.training import kernels, specialised

    problem = Problem(fc(2, depth=3), X, y, task)
    assert specialised.fits(problem)
    runs, P = 3, problem.network.n_params
    theta0 = 0.7 * rng.standard_normal(P)
    steps = log_spaced_steps(400, 30)

    def records():
        return (
            np.tile(theta0, (runs, 1)).T.copy(),  # one run, three times, a column each
            np.full((runs, steps.size, X.shape[1]), np.nan),
            np.full((runs, steps.size), np.nan),
            np.full((runs, steps.size), np.nan),
            np.full((runs, steps.size, P), np.nan),
            np.full(runs, -1),
        )

    generic, generated = records(), records()
    blocks = np.array([0, 1, 3])  # a run alone, then a block of two
    thetas_t, *rest = generic
    kernels.gd_batch(thetas_t, problem.kernel_problem, lr, steps, blocks, *rest)
    thetas_t, *rest = generated
    specialised.gd_batch(problem, thetas_t, lr, steps, blocks, *rest)
    for mine, theirs in zip((generic[0].T, *generic[1:]), (generated[0].T, *generated[1:])):  # runs first
        np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(mine[0], mine[1])  # alone == in a block
        np.testing.assert_array_equal(mine[0], mine[2])
    failed_at = generic[-1]
    assert (failed_at[0] > 0) == (lr == 3.0)


def test_a_generated_kernel_kept_on_disk_serves_a_new_process_and_a_large_network_keeps_the_generic_one(tmp_path):
    """A second process finds the kept source and numba's build of it (by the module's name) and trains
    the same bits as the generic kernel here."""
    from implicit_bias.training import kernels, specialised

    script = (
        "import numpy as np\n"
        "from implicit_bias.architectures import conv\n"
        "from implicit_bias.training import GradientDescent, Problem\n"
        f"X, y = np.array({CLASS_X.tolist()}), np.array({CLASS_Y.tolist()})\n"
        "runs = GradientDescent(lr=0.01, steps=300).run(Problem(conv(2, depth=2), X, y, 'classification'), "
        "np.full((2, 4), 0.3))\n"
        "print(repr(runs[1].theta_final.tolist()))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    outputs = [  # the first generates and compiles, the second loads both
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    (generated,) = (tmp_path / "implicit_bias" / "gd_specialised").glob("gd_*.py")  # generated once
    source = generated.read_text()
    lines = source.splitlines(keepends=True)
    generated.write_text("".join(lines[: len(lines) - 3]))  # truncated, still valid Python
    outputs.append(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True))
    assert generated.read_text() == source  # a file that is not what its name says is written again
    problem = Problem(conv(2, depth=2), CLASS_X, CLASS_Y, "classification")
    thetas_t, steps = np.full((4, 1), 0.3), np.array([0, 300])  # the same run, by the generic kernel
    records = (np.empty((1, 2, 2)), np.empty((1, 2)), np.empty((1, 2)), np.empty((1, 2, 4)), np.full(1, -1))
    kernels.gd_batch(thetas_t, problem.kernel_problem, 0.01, steps, np.array([0, 1]), *records)
    for done in outputs:
        assert ast.literal_eval(done.stdout) == thetas_t[:, 0].tolist()
    wide = Problem(fc(20, depth=2, widths=[20]), np.ones((2, 20)), np.array([1.0, -1.0]), "classification")
    assert not specialised.fits(wide)  # 400 parameters: straight-line code would take long to compile


def test_a_diverging_gd_run_is_recorded_as_diverged():
    problem = Problem(fc(2, depth=2), PAPER_X, PAPER_Y, "regression")
    (run,) = GradientDescent(lr=10.0, steps=1000).run(
        problem, initialize("paper", problem.network, PAPER_X, alpha=1.0, seed=0)
    )
    assert run.status == "diverged" and not run.ok
    assert run.reason.startswith("the loss became non-finite at step ")
    assert np.isnan(run.log_loss[-1]) and np.isfinite(run.log_loss[0])


def test_gd_below_its_loss_target_is_flagged():
    problem = Problem(fc(2, depth=2), PAPER_X, PAPER_Y, "regression")
    (run,) = GradientDescent(lr=1e-3, steps=10, loss_target=1e-12).run(
        problem, initialize("paper", problem.network, PAPER_X, alpha=1.0, seed=0)
    )
    assert run.status == "target_not_reached"


def test_flow_that_runs_out_of_steps_says_so():
    problem = Problem(diag(2, depth=2), CLASS_X, CLASS_Y, "classification")
    (run,) = GradientFlow(max_steps=3).run(problem, initialize("theorem2", problem.network, CLASS_X, alpha=1.0, seed=0))
    assert run.status == "max_steps"
    assert run.reason.startswith("stopped after max_steps = 3 at log L = ")


def test_flow_on_inseparable_data_does_not_claim_convergence():
    problem = Problem(diag(1, depth=2), np.array([[1.0], [1.0]]), np.array([1.0, -1.0]), "classification")
    (run,) = GradientFlow(max_steps=20000).run(problem, np.array([0.5, 0.1]))
    assert run.status in ("stalled", "max_steps")
    assert np.nanmin(run.log_loss) >= np.log(2) - 1e-12  # e^{-f} + e^{f} >= 2


def test_log_spaced_checkpoints_include_both_ends():
    steps = log_spaced_steps(2_000_000, 100)
    assert steps[0] == 0 and steps[-1] == 2_000_000 and np.all(np.diff(steps) > 0)
    assert 80 < steps.size <= 101


def test_records_that_would_not_fit_in_memory_are_refused_before_training():
    problem = Problem(fc(2, depth=2), PAPER_X, PAPER_Y, "regression")  # d = 2, P = 6: 80 bytes a checkpoint
    with pytest.raises(ValueError) as error:
        GradientFlow(checkpoints=10**7).run(problem, np.full((8, 6), 0.1))
    assert str(error.value) == (
        "flow.checkpoints = 10000000 for 8 run(s) with d = 2 and 6 parameters would record 5.96 GiB (at most 4 GiB); "
        "lower flow.checkpoints"
    )
    with pytest.raises(ValueError, match=r"^gd.checkpoints = \d+ for 64 run\(s\) with d = 2 and 6 parameters would"):
        GradientDescent(lr=1e-3, steps=10**7, checkpoints=10**7).run(problem, np.full((64, 6), 0.1))


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"name": "adam"}, "unknown solver 'adam'; expected one of ['flow', 'gd']"),
        ({"name": "gd", "learning_rate": 0.1}, "unknown setting(s) ['learning_rate'] for solver 'gd'"),
        ({"name": "gd", "lr": -1.0}, "gd.lr must be a positive finite number, got -1.0"),
        ({"name": "gd", "steps": 0}, "gd.steps must be an integer >= 1, got 0"),
        ({"name": "gd", "steps": 10.5}, "gd.steps must be an integer >= 1, got 10.5"),
        ({"name": "gd", "device": "cuda"}, "gd.device 'cuda' needs backend 'torch'"),
        ({"name": "flow", "rtol": 2.0}, "flow.rtol must be in [1e-15, 1), got 2.0"),
        ({"name": "flow", "residual_rtol": 1.0}, "flow.residual_rtol must be in [1e-15, 1), got 1.0"),
        ({"name": "flow", "residual_rtol": 1e-300}, "flow.residual_rtol must be in [1e-15, 1), got 1e-300"),
        ({"name": "gd", "checkpoints": 10**8}, "gd.checkpoints must be at most 10000000, got 100000000"),
        ({"name": "flow", "max_steps": 0}, "flow.max_steps must be an integer >= 1, got 0"),
        (
            {"name": "flow", "log_loss_target": 5.0},
            "flow.log_loss_target must be a negative finite number (a log-loss below log 1 = 0), got 5.0",
        ),
        (
            {"name": "flow", "log_loss_cap": 0.0},
            "flow.log_loss_cap must be a negative finite number (a log-loss below log 1 = 0), got 0.0",
        ),
        (
            {"name": "flow", "log_loss_target": -1e6, "log_loss_cap": -1e3},
            "flow.log_loss_cap (-1000.0) must be at or below log_loss_target (-1000000.0)",
        ),
        ({"name": "flow", "stiff_rtol": 0.0}, "flow.stiff_rtol must be a positive finite number, got 0.0"),
    ],
)
def test_bad_solver_settings_are_rejected(spec, message):
    with pytest.raises(ValueError) as error:
        make_solver(spec)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    "X,y,task,message",
    [
        (CLASS_X, np.array([1.0, 0.0]), "classification", "classification labels y must be +1 or -1"),
        (CLASS_X, np.array([1.0]), "regression", "y must have one value per row of X (2), got shape (1,)"),
        (np.array([[1.0, np.nan]]), PAPER_Y, "regression", "X and y must be finite (no NaN or inf)"),
        (PAPER_X, PAPER_Y, "ranking", "task must be one of ('classification', 'regression'), got 'ranking'"),
    ],
)
def test_bad_problems_are_rejected(X, y, task, message):
    with pytest.raises(ValueError) as error:
        Problem(diag(2, depth=2), X, y, task)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "task,X,y",
    [
        ("regression", np.array([[0.3, -1.2, 0.5], [1.0, 0.2, -0.4]]), np.array([0.5, -1.0])),
        ("classification", CLASS_X, CLASS_Y),
    ],
)
def test_the_implicit_continuation_agrees_with_the_explicit_flow(task, X, y):
    """Forcing the hand-over to Radau from the start gives the explicit integrator's results."""
    net = diag(X.shape[1], depth=2)
    problem = Problem(net, X, y, task)
    theta = initialize("theorem2" if task == "classification" else "theorem4", net, X, alpha=0.7, seed=1)
    target = -1e3 if task == "classification" else None
    (explicit,) = GradientFlow(log_loss_target=target).run(problem, theta)
    (implicit,) = GradientFlow(log_loss_target=target, stiff_steps=1).run(problem, theta)
    assert explicit.status == implicit.status == "converged"
    assert "implicit Radau" in implicit.reason and "implicit" not in explicit.reason
    np.testing.assert_allclose(implicit.beta[-1], explicit.beta[-1], rtol=1e-7)
    # the same levels (the last may differ: each continues until the measured loss meets the target)
    np.testing.assert_allclose(implicit.progress[:-1], explicit.progress[:-1], rtol=1e-12)


def test_a_stiff_regression_run_reaches_its_target_and_the_theorem4_limit():
    """diag, L = 3, alpha = 1e-3: explicit steps stall near the end; the implicit method finishes."""
    from implicit_bias.theory.regression import theorem4_rho

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(2, 5)), rng.normal(size=2)
    net = diag(5, depth=3)
    theta = initialize("theorem4", net, X, alpha=1e-3, seed=0)
    (run,) = GradientFlow().run(Problem(net, X, y, "regression"), theta)
    assert run.status == "converged" and "implicit Radau" in run.reason
    rho = theorem4_rho(X, y, np.eye(5), net.unflatten(theta)[0] / 1e-3, alpha=1e-3, L=3)
    assert np.linalg.norm(run.beta[-1] - rho) / np.linalg.norm(rho) < 1e-6


@pytest.mark.parametrize(
    "task,net",
    [
        ("classification", conv(4, depth=3)),
        ("classification", fc(3, depth=3)),
        ("classification", conv(3, depth=2, filters=[2])),
        ("regression", diag(5, depth=3)),
    ],
    ids=["conv3", "fc3", "conv-k2", "diag3-regression"],
)
def test_the_flow_jacobian_is_the_derivative_of_the_velocity(task, net, rng):
    """Radau gets the exact Jacobian of -g/|g|^2; central differences of the compiled velocity agree."""
    from implicit_bias.training import kernels

    X = rng.normal(size=(3, net.dim))
    y = np.sign(X @ rng.normal(size=net.dim)) if task == "classification" else rng.normal(size=3)
    problem = Problem(net, X, y, task)
    theta = initialize("random", net, X, alpha=1.3, seed=2)
    args = problem.kernel_problem
    h = 1e-6
    numeric = np.column_stack(
        [
            (kernels.flow_velocity(theta + h * e, args)[0] - kernels.flow_velocity(theta - h * e, args)[0]) / (2 * h)
            for e in np.eye(theta.size)
        ]
    )
    exact = problem.flow_jacobian(theta)
    assert np.abs(exact - numeric).max() < 1e-7 * np.abs(numeric).max()


def test_extending_a_flow_follows_the_same_path():
    """The re-timed flow is autonomous in tau: stopping at -1e3 and extending to -1e5 lands where a
    run straight to -1e5 does, and the records continue without a gap."""
    net = diag(2, depth=2)
    problem = Problem(net, CLASS_X, CLASS_Y, "classification")
    theta = initialize("theorem2", net, CLASS_X, alpha=0.7, seed=1)
    solver = GradientFlow(log_loss_target=-1e3)
    (short,) = solver.run(problem, theta)
    extended = solver.extend(problem, short, -1e5)
    (direct,) = GradientFlow(log_loss_target=-1e5).run(problem, theta)
    assert extended.status == "converged" and extended.log_loss[-1] == pytest.approx(-1e5, rel=1e-9)
    np.testing.assert_allclose(extended.beta[-1], direct.beta[-1], rtol=1e-8)
    assert np.all(np.diff(extended.progress) > 0) and extended.progress[short.progress.size - 1] == short.progress[-1]


@pytest.mark.parametrize("runs", [1, 3])
def test_gd_driven_in_segments_for_progress_lines_computes_the_same_bits(runs):
    """A long GD run logs where it is; it is then run checkpoint segment by segment, which must change nothing."""
    from implicit_bias.training.solvers import Progress

    problem = Problem(conv(2, depth=3), CLASS_X, CLASS_Y, "classification")
    thetas = np.stack([initialize("random", problem.network, CLASS_X, alpha=0.5, seed=s) for s in range(runs)])
    solver = GradientDescent(lr=0.05, steps=3000, checkpoints=60)
    lines = []
    whole = solver.run(problem, thetas)
    segmented = solver.run(problem, thetas, progress=Progress(lines.append, "GD", every=0.0))
    for a, b in zip(whole, segmented):
        assert (a.status, a.reason) == (b.status, b.reason)
        for x, y in zip(
            (a.beta, a.loss, a.log_loss, a.theta, a.theta_final), (b.beta, b.loss, b.log_loss, b.theta, b.theta_final)
        ):
            np.testing.assert_array_equal(x, y)
    assert lines and lines[0].startswith("GD: step ") and " of 3000 (" in lines[0] and "s left" in lines[-1]


def test_a_diverging_gd_run_in_segments_diverges_at_the_same_step():
    from implicit_bias.training.solvers import Progress

    problem = Problem(fc(2, depth=2), PAPER_X, PAPER_Y, "regression")
    theta = np.full((1, 6), 1.0)
    (whole,) = GradientDescent(lr=10.0, steps=1000).run(problem, theta)
    (segmented,) = GradientDescent(lr=10.0, steps=1000).run(problem, theta, progress=Progress(print, "GD", every=1e9))
    assert whole.status == segmented.status == "diverged" and whole.reason == segmented.reason
    np.testing.assert_array_equal(whole.theta_final, segmented.theta_final)
    np.testing.assert_array_equal(whole.log_loss, segmented.log_loss)


def test_a_plain_classification_flow_continues_to_the_default_cap_and_a_cap_at_the_target_stops_there():
    """What a new user writes, {name: flow}, continues while its checks cannot decide (issue: passes were
    extrapolated from -1e6); a cap at the target, or a target below the default cap, stops at the target."""
    from implicit_bias.training.solvers import DEFAULT_LOG_LOSS_CAP

    plain = make_solver({"name": "flow"})
    assert plain.cap("classification") == DEFAULT_LOG_LOSS_CAP == -1e100 and plain.continues("classification")
    assert plain.cap("regression") is None and not plain.continues("regression")
    at_target = make_solver({"name": "flow", "log_loss_target": -1e4, "log_loss_cap": -1e4})
    assert at_target.cap("classification") == -1e4 and not at_target.continues("classification")
    deep = make_solver({"name": "flow", "log_loss_target": -1e120})
    assert deep.cap("classification") == -1e120 and not deep.continues("classification")
    assert make_solver({"name": "flow", "log_loss_cap": -1e30}).cap("classification") == -1e30


def test_the_flow_integrates_on_one_blas_thread_and_gives_the_pool_back(monkeypatch):
    """The library's flow runs its small dense linear algebra on one BLAS thread, as the workflow's jobs do
    (environment variables there), and leaves the caller's thread pool as it found it."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from implicit_bias.training import solvers

    seen = []
    integrate = solvers.GradientFlow._integrate

    def spy(self, *args, **kwargs):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return integrate(self, *args, **kwargs)

    monkeypatch.setattr(solvers.GradientFlow, "_integrate", spy)
    problem = Problem(diag(2, depth=2), CLASS_X, CLASS_Y, "classification")

    def pools():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"):  # every pool that can have two (some libraries' have one)
        before = pools()
        (result,) = GradientFlow(log_loss_target=-10.0).run(problem, np.array([0.5, 0.5, 0.2, 0.1]))
        after = pools()
    assert seen and set(seen) == {1}
    assert result.status == "converged"
    assert 2 in before and after == before
