"""Training on the structured operators (networks too large for the entry list) against the entry list."""

import numpy as np
import pytest

from implicit_bias import architectures, networks
from implicit_bias.datasets import random_dataset
from implicit_bias.inits import initialize
from implicit_bias.training import structured as structured_module
from implicit_bias.training.problem import Problem
from implicit_bias.training.solvers import GradientDescent, GradientFlow
from implicit_bias.training.structured import Velocity

SPECS = [
    {"name": "diag", "depth": 2},
    {"name": "conv", "depth": 3},
    {"name": "fc", "depth": 2, "widths": [3]},
    {"name": "fc", "depth": 2, "widths": [6]},  # wider than n + 1 = 5: TwoLayerRowSpaceFlow
]
SPEC_IDS = ["diag", "conv", "fc", "fc_wide"]


def _problem(spec, task, d=6, n=4):
    data = random_dataset(task, n=n, d=d, seed=1)
    network = architectures.build_network(spec, d)
    return Problem(network, data.X, data.y, task), initialize("random", network, data.X, alpha=0.5, seed=0)


def _log_loss_rounding(problem, run, target) -> float:
    """How far a regression's measured log L at ``target`` is off by the rounding of its outputs f = X beta: d log L =
    2 |d r| / |r| with |d r| = eps |(|X| |beta|)| (0 for a classification, whose log L is not a residual's). The
    push to the target moves theta by the velocity, |r| / |grad|, times the deficit: at a residual of 1e-12 |y| a
    fraction of theta's last bit, and the measured loss ends wherever its rounding has it (conv L = 3 here: 1e-4
    short of -53.5, its rounding 1.4e-3)."""
    if problem.task != "regression":
        return 0.0
    f_rounding = np.finfo(float).eps * np.linalg.norm(np.abs(problem.X) @ np.abs(run.beta[-1]))
    return 2 * f_rounding / np.sqrt(2 * np.exp(target))


def _structured(monkeypatch):
    monkeypatch.setattr(networks, "ENTRY_LIMIT", 0)  # every network with an operator now uses it
    monkeypatch.setattr(networks, "PARAM_LIMIT", 0)


@pytest.mark.parametrize("radau", [False, True], ids=["explicit", "radau"])
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_structured_flow_reaches_the_entry_lists_limit(monkeypatch, spec, task, radau):
    """Both phases of the structured flow (DOP853, and the low-rank Radau it hands over to: forced from the
    second level on by a budget of no steps a level) reach the entry list's limit."""
    problem, theta = _problem(spec, task)
    solver = GradientFlow(log_loss_target=-1e4 if task == "classification" else None)
    (reference,) = solver.run(problem, theta)
    _structured(monkeypatch)
    if radau:
        monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)
    assert problem.network.structured
    (structured,) = solver.run(problem, theta)
    assert (reference.status, structured.status) == ("converged", "converged")
    assert "structured operator; " in structured.reason
    if radau:
        assert "DOP853, then Radau with a low-rank Jacobian from log L = " in structured.reason
    target = solver.target(problem)
    assert structured.log_loss[-1] <= target + max(1e-6 * abs(target), _log_loss_rounding(problem, structured, target))
    error = np.linalg.norm(structured.beta[-1] - reference.beta[-1]) / np.linalg.norm(reference.beta[-1])
    assert error < 1e-8
    # every level on the way, Radau's interpolated ones too, is where the entry list's flow was at that tau
    # (the last is where each pushed its measured loss to the target)
    assert np.array_equal(structured.progress[:-1], reference.progress[:-1])
    scale = np.linalg.norm(reference.beta[:-1], axis=1)
    assert np.max(np.linalg.norm(structured.beta[:-1] - reference.beta[:-1], axis=1) / scale) < 1e-6
    # and so is theta, rebuilt from the coordinates the flow moved in where they are fewer (fc: ThetaRecords)
    theta, scale = np.asarray(structured.theta)[:-1], np.linalg.norm(reference.theta[:-1], axis=1)
    assert np.max(np.linalg.norm(theta - reference.theta[:-1], axis=1) / scale) < 1e-6


ROW_SPACE_WIDTHS = {"L2": [4], "L2_wide": [7], "L3": [5, 4], "L4": [3, 5, 2]}  # n = 4: wide is above n + 1


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("widths", ROW_SPACE_WIDTHS.values(), ids=ROW_SPACE_WIDTHS)
def test_a_fully_connected_flow_moves_its_first_layer_in_the_data_row_space(task, widths):
    """W_1 = W_1(0) + X^T B: the explicit phase integrates B (n x d_2) and the other layers (at depth 2 and wider
    than n + 1, B = C Q^T and w_2 = Q a with Q a basis of span(w_2(0), W_1(0)^T X^T)), and its velocity is the full
    one's, mapped through the coordinates' linear map T (theta = theta(0) + T xi), at any point."""
    data = random_dataset(task, n=4, d=9, seed=1)
    network = architectures.build_network({"name": "fc", "depth": len(widths) + 1, "widths": widths}, 9)
    problem = Problem(network, data.X, data.y, task)
    theta = initialize("random", network, data.X, alpha=0.7, seed=0)
    velocity = Velocity(problem)
    flow = network.operator.flow_coordinates(data.X, theta)
    np.testing.assert_array_equal(flow.theta_of(flow.start), theta)
    xi = flow.start + 0.1 * np.random.default_rng(0).standard_normal(flow.start.size)
    at = flow.theta_of(xi)
    T = np.column_stack([flow.theta_of(xi + e) - at for e in np.eye(xi.size)])
    mapped, full = T @ flow.velocity(xi, velocity.loss_of), velocity(at)[0]
    assert np.abs(mapped - full).max() < 1e-12 * np.abs(full).max()
    n, width = data.X.shape[0], widths[0]
    if len(widths) == 1 and width > n + 1:
        assert flow.start.size == n * (n + 1) + n + 1
    else:
        assert flow.start.size == network.n_params - (9 - n) * width
    square = random_dataset(task, n=9, d=9, seed=1)  # no fewer points than inputs: nothing to gain
    assert network.operator.flow_coordinates(square.X, theta) is None


@pytest.mark.parametrize("widths", ROW_SPACE_WIDTHS.values(), ids=ROW_SPACE_WIDTHS)
def test_the_row_space_linearization_is_thetas_mapped_back(widths):
    """Radau integrates a fully-connected flow in the row-space coordinates too: their low-rank Jacobian is theta's
    conjugated by the coordinates' map T (theta = theta0 + T xi), J_xi = T^+ J_theta T, and the kept points'
    outputs, gradients and Gram matrix are theta's (computed there by the operator)."""
    data = random_dataset("classification", n=4, d=9, seed=1)
    network = architectures.build_network({"name": "fc", "depth": len(widths) + 1, "widths": widths}, 9)
    problem = Problem(network, data.X, data.y, "classification")
    theta = initialize("random", network, data.X, alpha=0.7, seed=0)
    coordinates = Velocity(problem).coordinates(theta)
    assert coordinates.reduced
    xi = coordinates.start + 0.1 * np.random.default_rng(0).standard_normal(coordinates.start.size)
    at = coordinates.theta_of(xi)
    keep = np.array([0, 2, 3])
    ours, theirs = (
        coordinates.linearization(xi, keep),
        structured_module.PointLinearization(network.operator, at, data.X[keep]),
    )
    np.testing.assert_allclose(coordinates.outputs(xi), data.X @ network.beta(at), rtol=1e-12)
    np.testing.assert_allclose(ours.gram, theirs.gram, rtol=1e-12)
    T = np.column_stack([coordinates.theta_of(xi + e) - at for e in np.eye(xi.size)])  # the linear part of theta_of
    a = np.array([0.3, -1.2, 0.7])
    np.testing.assert_allclose(T @ ours.pullback(a), theirs.pullback(a), rtol=1e-10, atol=1e-12)
    x = np.random.default_rng(1).standard_normal(xi.size)
    np.testing.assert_allclose(ours.jvp(x), theirs.jvp(T @ x), rtol=1e-10)
    reduced, full = coordinates.jacobian(xi).dense(), Velocity(problem).jacobian(at).dense()
    np.testing.assert_allclose(T @ reduced, full @ T, atol=1e-10 * np.abs(full).max())


def test_a_drifting_explicit_phase_hands_over_to_radau():
    """A regression's residual reaches theta's rounding floor under DOP853 (its measured -log L stops following
    tau): the flow hands over to Radau at the first level that drifted, and still reaches its target."""
    data = random_dataset("regression", n=20, d=100, seed=0)
    network = architectures.build_network({"name": "conv", "depth": 2}, 100)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    solver = GradientFlow()
    (run,) = solver.run(problem, theta)
    assert run.status == "converged" and "then Radau with a low-rank Jacobian from log L = " in run.reason
    handover = float(run.reason.split("from log L = ")[1].rstrip(")"))
    assert -handover < -solver.target(problem)  # it handed over before the end
    assert run.log_loss[-1] <= solver.target(problem) + 1e-9 * abs(solver.target(problem))
    k = int(np.argmin(np.abs(run.progress + handover)))  # the level it handed over from
    assert run.progress[k] == pytest.approx(-handover, rel=1e-5)
    velocity = Velocity(problem)
    first = structured_module.initial_step(velocity, theta)
    explicit = structured_module.ExplicitPhase(
        velocity, theta, run.progress[0], rtol=solver.rtol, atol=solver.atol, first_step=first
    )
    for level in run.progress[1 : k + 1]:
        assert not structured_module.drifted(-problem.log_loss(explicit.to(level, budget=10**6)), level)
    after = run.progress[k + 1]
    assert structured_module.drifted(-problem.log_loss(explicit.to(after, budget=10**6)), after)


def _dop853_on(rate, levels_apart=0.1):
    """DenseSteps with the stiffness test over DOP853 on y' = -rate * y (three components), as the explicit phase."""
    from scipy.integrate import DOP853

    solver = DOP853(lambda t, y: -rate * y, 0.0, np.ones(3), np.inf, rtol=1e-10, atol=1e-12, first_step=1e-3 / rate)
    return structured_module.DenseSteps(solver, structured_module.StiffnessTest()), levels_apart


def test_the_stiffness_estimate_is_h_lambda_on_a_linear_flow(monkeypatch):
    """Hairer's estimate h |k_13 - k_12| / |y_new - y_12| is h |lambda| exactly on y' = lambda y (k = lambda y)."""
    steps, _ = _dop853_on(rate=7.0)
    estimates = []
    real = structured_module.StiffnessTest.stepped

    def stepped(test, solver, y_old):
        real(test, solver, y_old)
        h = solver.t - solver.t_old
        y_12 = y_old + np.dot(solver.K[:11].T, test.STAGE) * h
        change = np.linalg.norm(solver.K[12] - solver.K[11]), np.linalg.norm(solver.y - y_12)
        estimates.append((structured_module.h_times_lambda(h, *change), 7.0 * h))

    monkeypatch.setattr(structured_module.StiffnessTest, "stepped", stepped)
    steps.to(0.5)
    estimate, exact = np.array(estimates).T
    assert estimate[0] == 0.0  # the first step (h lambda = 1e-3) moved y_12 and y_new apart by less than rounding
    resolved = exact >= 0.05  # past the first steps, whose differences are at rounding
    assert resolved.sum() > 3
    np.testing.assert_allclose(estimate[resolved], exact[resolved], rtol=1e-6)


def test_a_stability_bound_level_hands_over_and_an_accuracy_bound_one_goes_on():
    """y' = -10^4 y: DOP853's steps sit at its stability boundary (h lambda ~ 6), so a level past its budget stops
    (None: Radau takes over) and the test calls the flow stiff. y' = -y: accuracy bounds them (h lambda < 1), so a
    level past its budget goes on explicitly and reaches its goal."""
    stiff, apart = _dop853_on(rate=1e4)
    assert stiff.to(apart, budget=np.inf) is not None
    assert stiff.stiffness.stiff  # most of that level's steps at the boundary
    assert stiff.to(2 * apart, budget=20) is None  # past its budget, bounded by stability
    smooth, apart = _dop853_on(rate=1.0, levels_apart=1.0)
    there = smooth.to(apart, budget=1)
    assert 1 < smooth.steps <= structured_module.EXPLICIT_LEVEL_CAP
    np.testing.assert_allclose(there, np.exp(-1.0), rtol=1e-8)
    assert not smooth.stiffness.stiff  # (the cap: test_a_level_past_its_budget_hands_over_once_stability_halves...)


def test_a_level_past_its_budget_hands_over_once_stability_halves_its_steps():
    """Steps at h lambda = 4 (stability halves them; not at the boundary): a level past its budget hands over, but is
    not stiff at its end (4 < STIFF_STEP); at h lambda = 2 it goes on, to EXPLICIT_LEVEL_CAP times its budget."""
    from types import SimpleNamespace

    def steps_at(h_lambda, count):
        v = np.array([1.0, -2.0, 0.5])
        K = np.zeros((13, 3))
        K[12] = h_lambda * v  # k_13 - k_12 = h_lambda (y_new - y_12) with h = 1: y_12 = y_old, as k_1..k_11 are 0
        test = structured_module.StiffnessTest()
        for _ in range(count):
            test.stepped(SimpleNamespace(t=1.0, t_old=0.0, K=K, y=v), np.zeros(3))
        return test

    halved = steps_at(4.0, 20)
    assert halved.over_budget(20) is True
    halved.end_level()
    assert not halved.stiff
    assert steps_at(2.0, 20).over_budget(20) is False
    assert steps_at(2.0, 20 * structured_module.EXPLICIT_LEVEL_CAP).over_budget(20) is True
    at_boundary = steps_at(6.0, 3)
    at_boundary.end_level()
    assert at_boundary.stiff


def test_an_accuracy_bound_level_past_its_budget_stays_explicit_in_a_flow(monkeypatch):
    """diag L = 3's regression from alpha = 0.1: levels take more than their budget of DOP853 steps before its residual
    is a tenth of |y| (``judged_from``: there its stiffness is not judged, Radau's steps being no longer), and
    the flow goes on explicitly through them (a step count alone handed such levels to Radau, whose steps there are
    shorter and dearer); it hands over later, and converges."""
    data = random_dataset("regression", n=30, d=60, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 3}, 60)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.1, seed=0)
    past_budget = []  # the levels DOP853 reached in more steps than their budget
    real = structured_module.ExplicitPhase.to_coordinates

    def counted(self, goal, budget=structured_module.EXPLICIT_LEVEL_STEPS):
        before = self.steps
        there = real(self, goal, budget)
        if there is not None and self.steps - before > budget:
            past_budget.append(goal)
        return there

    monkeypatch.setattr(structured_module.ExplicitPhase, "to_coordinates", counted)
    (run,) = GradientFlow().run(problem, theta)
    assert run.status == "converged"
    assert past_budget
    handover = -float(run.reason.split("then Radau with a low-rank Jacobian from log L = ")[1].rstrip(")"))
    assert handover >= past_budget[-1] - 1e-5 * abs(past_budget[-1])  # the reason's 6 digits


def test_a_regressions_stiffness_is_judged_once_its_residual_is_a_tenth_of_y():
    """judged_from is the tau = -log L at which |r| = |y| / 10: on X = I, beta = 0.9 y has that residual, and its loss
    (the problem's own) is there; a classification is judged from the start. Steps before it are not counted: a level
    at the stability boundary there is neither stiff nor over its budget (until the cap)."""
    from types import SimpleNamespace

    d = 4
    network = architectures.build_network({"name": "diag", "depth": 2}, d)
    y = np.array([1.0, -2.0, 0.5, 3.0])
    problem = Problem(network, np.eye(d), y, "regression")
    theta = np.concatenate([np.sqrt(np.abs(0.9 * y)), np.sign(y) * np.sqrt(np.abs(0.9 * y))])  # beta = 0.9 y
    np.testing.assert_allclose(network.beta(theta), 0.9 * y)
    assert structured_module.judged_from(problem) == pytest.approx(-problem.log_loss(theta), rel=1e-12)
    classification = Problem(network, np.eye(d), np.sign(y), "classification")
    assert structured_module.judged_from(classification) == -np.inf

    v = np.array([1.0, -2.0, 0.5])
    K = np.zeros((13, 3))
    K[12] = 6.0 * v  # h lambda = 6 (as in test_a_level_past_its_budget_hands_over_once_stability_halves_its_steps)
    test = structured_module.StiffnessTest(judged_from=5.0)
    for t in (2.0, 3.0, 4.0, 5.0):  # three steps before tau = 5, one at it
        test.stepped(SimpleNamespace(t=t, t_old=t - 1.0, K=K, y=v), np.zeros(3))
    assert (test.taken, test.bounded, test.at_boundary) == (4, 1, 1)
    assert not test.over_budget(2)
    test.end_level()
    assert not test.stiff


def test_low_rank_jacobian_is_the_exact_one_without_the_slow_term(monkeypatch):
    """At a late point of a classification flow the exact Jacobian (entry list, dense) and the low-rank one
    differ only by the Hess f(u) term, O(1/tau) against O(1) eigenvalues."""
    problem, theta = _problem({"name": "diag", "depth": 2}, "classification")
    (run,) = GradientFlow(log_loss_target=-1e4).run(problem, theta)
    theta = run.theta_final
    exact = problem.flow_jacobian(theta)
    _structured(monkeypatch)
    approx = Velocity(problem).jacobian(theta).dense()
    assert np.abs(np.linalg.eigvals(exact)).max() > 0.1
    assert np.abs(np.linalg.eigvals(exact - approx)).max() < 1e-3


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_gd_on_the_operator_is_gd_on_the_entry_list(monkeypatch, spec, task):
    problem, theta = _problem(spec, task)
    solver = GradientDescent(lr=1e-2, steps=300, checkpoints=10)
    (reference,) = solver.run(problem, theta)
    (torch_run,) = GradientDescent(lr=1e-2, steps=300, checkpoints=10, backend="torch").run(problem, theta)
    _structured(monkeypatch)
    (numpy_run,) = solver.run(problem, theta)
    for run in (numpy_run, torch_run):
        np.testing.assert_allclose(run.theta, reference.theta, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(run.log_loss, reference.log_loss, rtol=1e-10)


def test_gd_on_the_operator_stops_a_diverging_run(monkeypatch):
    problem, theta = _problem({"name": "conv", "depth": 2}, "regression")
    _structured(monkeypatch)
    (run,) = GradientDescent(lr=50.0, steps=200, checkpoints=20).run(problem, theta * 10)
    assert run.status == "diverged" and "non-finite at step" in run.reason
    assert np.all(np.isfinite(run.theta_final))


def test_a_network_of_a_billion_entries_trains_without_listing_them():
    data = random_dataset("regression", n=20, d=1000, seed=0)
    network = architectures.conv(1000, depth=3)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    (run,) = GradientDescent(lr=1e-4, steps=3, checkpoints=2).run(problem, theta)
    assert run.status == "completed" and run.log_loss[-1] < run.log_loss[0]
    assert "_entries" not in vars(network)


def test_a_small_alpha_regression_of_a_mid_sized_network_reaches_theorem4s_limit():
    """diag L = 2 at d = 100 (200 parameters), alpha = 1e-3, Woodworth's data: the entry engine's dense stiff
    phase stalled (step size underflow at log L = -36 of -52); a regression flow of a network over
    REGRESSION_OPERATOR_PARAMS parameters trains on its operator, converges, and meets Theorem 4's limit."""
    from implicit_bias.theory.regression import theorem4_rho
    from implicit_bias.training.solvers import REGRESSION_OPERATOR_PARAMS

    data = random_dataset("sparse_regression", n=50, d=100, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 2}, 100)
    assert not network.structured and network.n_params > REGRESSION_OPERATOR_PARAMS
    theta = initialize("uniform", network, data.X, alpha=1e-3, seed=0)
    (run,) = GradientFlow().run(Problem(network, data.X, data.y, "regression"), theta)
    assert run.status == "converged" and "structured operator" in run.reason
    predicted = theorem4_rho(data.X, data.y, np.eye(100), np.ones(100), alpha=1e-3, L=2)
    assert np.linalg.norm(run.beta[-1] - predicted) / np.linalg.norm(predicted) < 1e-6


def test_a_flow_on_the_operator_logs_its_checkpoints_and_keeps_its_bits():
    """Progress lines (every checkpoint here) are only read off the records: the run is the same to the bit."""
    from implicit_bias.training.solvers import Progress

    data = random_dataset("sparse_regression", n=50, d=100, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 2}, 100)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("uniform", network, data.X, alpha=1.0, seed=0)
    lines = []
    (quiet,) = GradientFlow(checkpoints=20).run(problem, theta)
    (told,) = GradientFlow(checkpoints=20).run(problem, theta, progress=Progress(lines.append, "flow", every=0.0))
    np.testing.assert_array_equal(quiet.beta, told.beta)
    np.testing.assert_array_equal(quiet.theta_final, told.theta_final)
    assert len(lines) == 19  # checkpoints 1 .. 19 of 20 recorded (the last ends the run: no line)
    assert lines[0].startswith("flow: checkpoint 1 of 20, log L = ") and lines[-1].endswith(" s so far")
    assert f"log L = {told.log_loss[18]:.6g}, " in lines[-1]


def test_a_classifications_radau_steps_are_not_cut_at_the_levels(monkeypatch):
    """One low-rank Radau solver carries a classification flow past the levels, which it interpolates (its
    collocation polynomial), and reaches the same limit as a solver a level, whose steps were cut at each:
    recording 200 levels costs exactly the velocity evaluations of recording 20 (a solver a level: 1.6x)."""
    from implicit_bias.training.solvers import GradientFlow as Flow

    data = random_dataset("classification", n=10, d=300, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 2}, 300)
    problem = Problem(network, data.X, data.y, "classification")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)  # Radau from the first level on
    target = -1e4
    few, many = (GradientFlow(checkpoints=K, log_loss_target=target).run(problem, theta)[0] for K in (20, 200))
    per_level = lambda self, problem, theta, make, first, bound, reached, lands=False: self._radau_step(  # noqa: E731
        problem, theta, make, first, reached
    )
    monkeypatch.setattr(Flow, "_continued_radau_step", per_level)
    (cut,) = GradientFlow(checkpoints=200, log_loss_target=target).run(problem, theta)
    assert few.status == many.status == cut.status == "converged" and "then Radau" in many.reason
    assert few.steps == many.steps < cut.steps / 1.5
    relative = np.linalg.norm(many.beta - cut.beta, axis=1) / np.linalg.norm(cut.beta, axis=1)
    assert relative[-1] < 1e-8 and relative.max() < 1e-6, relative
    # where the interpolated loss drifts from tau, the run goes on from the last level with a solver a level
    monkeypatch.undo()
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)
    drifts = iter([False] * 50 + [True])
    monkeypatch.setattr(structured_module, "drifted", lambda measured, tau: next(drifts, False))
    (fell_back,) = GradientFlow(checkpoints=200, log_loss_target=target).run(problem, theta)
    assert next(drifts, None) is None  # the drift was met
    assert fell_back.status == "converged" and fell_back.steps > many.steps
    assert np.linalg.norm(fell_back.beta[-1] - cut.beta[-1]) / np.linalg.norm(cut.beta[-1]) < 1e-8


def test_a_regressions_radau_steps_land_on_the_levels(monkeypatch):
    """One low-rank Radau solver carries a regression through its levels, its steps ending on each (the last two
    before a level made equal, ``LowRankRadau.aim_at``): the same flow as a solver a level, through the same levels,
    for a quarter fewer velocity evaluations (no sliver of a step at each level, each Newton solve started from the
    last step's polynomial: 3483 against 4753; 4299 with scipy's own last steps). Where the measured loss drifts
    from tau, the run goes on from the last level with a solver a level."""
    from implicit_bias.training.solvers import GradientFlow as Flow

    data = random_dataset("regression", n=10, d=30, seed=1)
    network = architectures.build_network({"name": "diag", "depth": 2}, 30)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)  # Radau from the first level on
    (landed,) = GradientFlow().run(problem, theta)
    with monkeypatch.context() as patch:
        per_level = lambda self, problem, theta, make, first, bound, reached, lands=False: self._radau_step(  # noqa: E731
            problem, theta, make, first, reached
        )
        patch.setattr(Flow, "_continued_radau_step", per_level)
        (cut,) = GradientFlow().run(problem, theta)
    assert landed.status == cut.status == "converged" and "then Radau" in landed.reason
    assert np.array_equal(landed.progress[:-1], cut.progress[:-1])  # landed on every level
    assert landed.steps < 0.85 * cut.steps, (landed.steps, cut.steps)
    relative = np.linalg.norm(landed.beta - cut.beta, axis=1) / np.linalg.norm(cut.beta, axis=1)
    assert relative[-1] < 1e-8 and relative.max() < 1e-7, relative  # Radau's rtol is 1e-7
    drifts = iter([False] * 50 + [True])
    monkeypatch.setattr(structured_module, "drifted", lambda measured, tau: next(drifts, False))
    (fell_back,) = GradientFlow().run(problem, theta)
    assert next(drifts, None) is None  # the drift was met
    assert fell_back.status == "converged" and landed.steps < fell_back.steps < cut.steps
    assert np.linalg.norm(fell_back.beta[-1] - cut.beta[-1]) / np.linalg.norm(cut.beta[-1]) < 1e-8


def test_radau_aims_its_last_two_steps_at_a_level():
    """aim_at makes the steps left to a level equal where at most two of the proposed step reach it (and drops the
    factors of the step it replaces); a step that reaches it alone is left to scipy's clamp, and a level three or
    more steps away is left to the error control."""
    from types import SimpleNamespace

    def aimed(t, h, goal):
        solver = SimpleNamespace(t=t, h_abs=h, LU_real="lu", LU_complex="lu")
        structured_module.LowRankRadau.aim_at(solver, goal)
        return solver.h_abs, solver.LU_real is None and solver.LU_complex is None

    assert aimed(1.0, 0.3, 1.5) == (0.25, True)  # two steps: 0.3 and a sliver of 0.2 become 0.25 and 0.25
    assert aimed(1.0, 0.4, 1.5) == (0.25, True)
    assert aimed(1.0, 0.25, 1.5) == (0.25, False)  # already equal: its factors stay
    assert aimed(1.0, 0.6, 1.5) == (0.6, False)  # one step: scipy clamps it at the level
    assert aimed(1.0, 0.2, 1.5) == (0.2, False)  # three steps away


def test_the_implicit_phase_frees_its_solver(monkeypatch):
    """scipy's solvers sit in reference cycles (closures over themselves): unless their arrays are dropped, each
    run's solver lingers until a full garbage collection (a solver per level piled up ~10 copies of theta a
    level, 2.4 GB at P = 10^6). Memory beyond the records stays under 200 copies of theta over 100 Radau levels."""
    import tracemalloc

    data = random_dataset("regression", n=10, d=3000, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 2}, 3000)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 0)  # Radau from the second level on
    tracemalloc.start()
    try:
        (run,) = GradientFlow(checkpoints=100).run(problem, theta)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.status == "converged" and "then Radau" in run.reason
    records = run.theta.nbytes + run.beta.nbytes
    assert peak - records < 200 * theta.nbytes, (peak - records) / theta.nbytes


def test_a_flow_continued_deep_in_a_stiff_phase_hands_over_at_its_first_level(monkeypatch):
    """The explicit phase's first level gets FIRST_LEVEL_BUDGET times a level's steps (it finds the step size
    and crosses the initial transient), not an unbounded budget: a classification continued from deep in its
    stiff phase (the workflow continues runs a decade at a time) hands over to Radau at once. Unbounded, conv
    L = 2 at d = 1000 spent minutes of DOP853 steps from -1e7 on."""
    problem, theta = _problem({"name": "diag", "depth": 2}, "classification")
    _structured(monkeypatch)
    solver = GradientFlow(log_loss_target=-1e4)
    (run,) = solver.run(problem, theta)
    explicit_steps = []
    real = structured_module.ExplicitPhase.to_coordinates

    def counted(self, goal, budget=structured_module.EXPLICIT_LEVEL_STEPS):
        explicit_steps.append(budget)
        return real(self, goal, budget)

    monkeypatch.setattr(structured_module.ExplicitPhase, "to_coordinates", counted)
    monkeypatch.setattr(structured_module, "EXPLICIT_LEVEL_STEPS", 1)
    continued = solver.extend(problem, run, -1e5)
    assert continued.status == "converged"
    assert explicit_steps[0] == structured_module.FIRST_LEVEL_BUDGET
    assert "then Radau with a low-rank Jacobian from log L = -10000)" in continued.reason


def test_a_flow_pushed_to_within_its_tolerance_of_deep_tau_goes_on_deep():
    """A classification past DEEP_TAU runs to DEEP_TAU, then on from there on the slow manifold. Its push stops within
    TARGET_RTOL of -DEEP_TAU, on either side: a run that stopped a hair short of it was not "deep", went to DEEP_TAU
    again, stopped where it was, and so on until Python's recursion limit (diag L = 3, d = 30, seeds 1 and 2). It is
    deep where it is within the push's tolerance, on both backends."""
    from implicit_bias.limit_weights import DEEP_TAU

    data = random_dataset("classification", n=10, d=30, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 3}, 30)
    problem = Problem(network, data.X, data.y, "classification")
    thetas = np.stack([initialize("random", network, data.X, alpha=0.5, seed=seed) for seed in (1, 2)])
    # the first half of a run to -2 DEEP_TAU (its checkpoints' half: GradientFlow._integrate), where a push stops short
    shallow = GradientFlow(log_loss_target=-DEEP_TAU, checkpoints=100).run(problem, thetas)
    assert any(-run.log_loss[-1] < DEEP_TAU for run in shallow)
    for run in GradientFlow(log_loss_target=-2 * DEEP_TAU).run(problem, thetas):
        assert run.status == "converged", run.reason
    for backend in ("numba", "torch"):
        for run in shallow:
            deeper = GradientFlow(backend=backend).extend(problem, run, -2 * DEEP_TAU, checkpoints=5)
            assert deeper.status == "converged", deeper.reason
            deep_from = f"{run.log_loss[-1]:.6g}"
            assert deeper.reason.endswith(
                f"(structured operator; on the support vectors' slow manifold from log L = {deep_from})"
            )


def test_a_large_network_records_theta_at_fewer_levels_within_the_memory_bound(monkeypatch):
    """Theta's records of a structured flow stay within THETA_RECORD_BYTES (fc of width d at d = 1000: 67 levels
    instead of 200, 0.5 instead of 1.6 GB), never below MIN_STRUCTURED_LEVELS; the reason says so, and the limit
    is the same."""
    from implicit_bias.training import solvers

    data = random_dataset("regression", n=10, d=1000, seed=0)
    network = architectures.build_network({"name": "diag", "depth": 2}, 1000)
    problem = Problem(network, data.X, data.y, "regression")
    theta = initialize("random", network, data.X, alpha=0.5, seed=0)
    (full,) = GradientFlow().run(problem, theta)
    monkeypatch.setattr(solvers, "THETA_RECORD_BYTES", 60 * theta.nbytes)
    (fewer,) = GradientFlow().run(problem, theta)
    assert full.theta.shape[0] == 200 and fewer.theta.shape[0] == 60
    assert "(recorded at 60 levels, not 200: Theta's records would take " in fewer.reason
    target = GradientFlow().target(problem)
    assert fewer.status == "converged" and fewer.log_loss[-1] <= target + 1e-6 * abs(target)
    assert np.linalg.norm(fewer.beta[-1] - full.beta[-1]) / np.linalg.norm(full.beta[-1]) < 1e-8
    monkeypatch.setattr(solvers, "THETA_RECORD_BYTES", theta.nbytes)
    (floor,) = GradientFlow().run(problem, theta)
    assert floor.theta.shape[0] == solvers.MIN_STRUCTURED_LEVELS


@pytest.mark.parametrize("short", [0.5, 2.0], ids=["within_a_factor_2", "further"])
def test_a_push_that_leaves_theta_where_it_was_is_at_the_round_off_floor(short):
    """Pushing the measured loss to its target: where a push leaves theta unchanged (a regression's last decades,
    whose velocity 1/|g| moves theta by less than its rounding) the run is at the floor. Within a factor 2 of a
    residual target (NEAR_TARGET in log L) that is convergence after one such push, not a hundred; further off,
    the pushes go on and the run stalls."""
    from implicit_bias.training import codes

    problem, theta = _problem({"name": "fc", "depth": 2, "widths": [3]}, "regression")
    measured = problem.log_loss(theta)
    target = measured - short * codes.NEAR_TARGET
    pushes = []

    def advance(goal):  # a push that moves theta by nothing
        pushes.append(goal)
        advance.tau = goal
        return codes.FLOW_CONVERGED

    advance.tau, advance.at = -measured, None  # records theta itself, not fewer coordinates
    records = (np.zeros((1, 6)), np.array([measured]), np.zeros(1), np.zeros((1, theta.size)))
    status = GradientFlow()._push_to_target(problem, advance, theta, 0, target, records)
    if short < 1:
        assert (status, len(pushes)) == (codes.FLOW_CONVERGED, 1)  # the first push shows theta does not move
    else:
        assert (status, len(pushes)) == (codes.FLOW_STALLED, 100)


def test_a_flow_in_fewer_coordinates_records_theta_in_them(monkeypatch, tmp_path):
    """A fully-connected flow keeps theta at its levels as the coordinates it moved in (``ThetaRecords``: at d = 1000,
    width d, a hundredth of theta's 0.5 GB) and rebuilds theta where it is read: the network's beta there is the beta
    recorded at that level, the last level is the final state, the run file holds the same theta, and a continued run
    keeps the records of both parts."""
    from implicit_bias.netcdf import Record
    from implicit_bias.runs import run_record
    from implicit_bias.training.theta_records import ThetaRecords

    _structured(monkeypatch)
    for task in ("regression", "classification"):
        problem, theta = _problem({"name": "fc", "depth": 2, "widths": [6]}, task, d=12, n=4)
        solver = GradientFlow(log_loss_target=-1e3 if task == "classification" else None, checkpoints=30)
        (run,) = solver.run(problem, theta)
        assert run.status == "converged" and isinstance(run.theta, ThetaRecords) and run.theta.compact
        rebuilt = np.asarray(run.theta)
        assert rebuilt.shape == (len(run.beta), problem.network.n_params)
        np.testing.assert_allclose([problem.network.beta(t) for t in rebuilt], run.beta, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(run.theta[-1], run.theta_final)
        np.testing.assert_array_equal(run.theta[0], theta)
        path = run_record(run, problem.network, "flow", {}).write(tmp_path / f"{task}.nc")
        np.testing.assert_array_equal(Record.read(path)["theta"], rebuilt)
    continued = solver.extend(problem, run, -1e4)
    assert isinstance(continued.theta, ThetaRecords) and len(continued.theta) == len(continued.beta)
    np.testing.assert_array_equal(np.asarray(continued.theta)[: len(rebuilt)], rebuilt)
    np.testing.assert_allclose([problem.network.beta(t) for t in continued.theta], continued.beta, rtol=1e-12)


def test_theta_records_read_like_an_array():
    """Levels never recorded read NaN; slices, iteration and joining keep each level's theta; records without fewer
    coordinates join into a plain array."""
    from implicit_bias.training.theta_records import ThetaRecords

    records = ThetaRecords(4, 3)
    records[0] = np.arange(3.0)
    records.record(1, lambda y: np.concatenate([y, [y.sum()]]), np.array([1.0, 2.0]))
    assert records.compact and records.shape == (4, 3) and len(records) == 4
    expected = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [np.nan] * 3, [np.nan] * 3])
    np.testing.assert_array_equal(np.asarray(records), expected)
    np.testing.assert_array_equal(np.asarray(records[1:3]), expected[1:3])
    np.testing.assert_array_equal(records[-3], expected[1])
    np.testing.assert_array_equal(np.array(list(records)), expected)
    np.testing.assert_array_equal(records[[0, 1]], expected[:2])
    joined = ThetaRecords.joined(records[:2], np.ones((2, 3)))
    assert isinstance(joined, ThetaRecords)
    np.testing.assert_array_equal(np.asarray(joined), np.vstack([expected[:2], np.ones((2, 3))]))
    plain = ThetaRecords(1, 3)
    plain[0] = np.zeros(3)
    assert not plain.compact
    both = ThetaRecords.joined(plain, np.ones((1, 3)))
    assert type(both) is np.ndarray
    np.testing.assert_array_equal(both, [[0.0] * 3, [1.0] * 3])
