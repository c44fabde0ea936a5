"""The implicit phase deep in a classification flow: Newton's start on the slow manifold, the tolerance above
the velocity's rounding, and what they reach."""

import numpy as np
import pytest

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.geometry import angle_degrees
from implicit_bias.inits import initialize
from implicit_bias.training import GradientFlow, Problem, implicit
from implicit_bias.training.structured import Velocity

EPS = np.finfo(float).eps


def three_support_vectors():
    """diag L = 2 on 6 random points in d = 4: three support vectors, the flow stiff from log L ~ -1e3."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 6))
    y = np.sign(X @ rng.standard_normal(6))
    problem = Problem(diag(6, depth=2), X, y, "classification")
    return problem, initialize("random", problem.network, X, alpha=0.2, seed=4)


def scipys_start(monkeypatch):
    """The implicit phase as it was: scipy's Newton start (the last step's polynomial) and rtol = stiff_rtol."""
    monkeypatch.setattr(implicit, "SlowManifoldStart", lambda coordinates, labels: None)
    monkeypatch.setattr(implicit, "ROUNDING", 0.0)


def test_the_tolerance_stays_above_the_velocitys_rounding():
    assert implicit.stiff_rtol(1e-7, "classification", 1e6) == 1e-7
    assert implicit.stiff_rtol(1e-7, "classification", 1e12) == pytest.approx(1e12 * EPS)
    assert implicit.stiff_rtol(1e-7, "regression", 1e12) == 1e-7  # a residual target, no softmax weights


def test_the_velocity_rounds_to_tau_eps():
    """Why: the velocity is computed from margins of size tau; an eps-relative change of theta moves it by
    about tau * eps (measured here at tau = 1e8), which no tolerance below that can resolve."""
    from implicit_bias.training.solvers import _velocity

    problem, theta = three_support_vectors()
    (deep,) = GradientFlow(log_loss_target=-1e8).run(problem, theta[None])
    base, _ = _velocity(problem, deep.theta_final)
    rng = np.random.default_rng(0)
    moved = [
        np.linalg.norm(_velocity(problem, deep.theta_final * (1 + EPS * rng.standard_normal(12)))[0] - base)
        / np.linalg.norm(base)
        for _ in range(10)
    ]
    assert 1e-2 * 1e8 * EPS < np.median(moved) < 1e2 * 1e8 * EPS


@pytest.mark.parametrize("space", ["theta", "row_space"])
def test_each_stage_starts_with_the_support_vectors_margins_grown_by_its_time(space):
    """In theta, and in the coordinates a fully-connected flow moves in (its first layer in the data's row space),
    where Radau integrates it: the stages' states, mapped to theta, have the margins asked for."""
    problem, theta = three_support_vectors()
    if space == "row_space":
        problem = Problem(fc(6, depth=2, widths=[3]), problem.X, problem.y, "classification")
        theta = initialize("random", problem.network, problem.X, alpha=0.2, seed=4)
    (deep,) = GradientFlow(log_loss_target=-1e8).run(problem, theta[None])
    t, at = -deep.log_loss[-1], deep.theta_final
    coordinates = Velocity(problem).coordinates(at)
    assert coordinates.reduced == (space == "row_space")
    state = coordinates.start
    start = implicit.SlowManifoldStart(coordinates, problem.y)
    signed = problem.y[:, None] * problem.X
    margins = signed @ problem.network.beta(at)
    active = np.exp(margins.min() - margins) > implicit.ACTIVE
    assert 2 <= active.sum() < margins.size  # several support vectors, and a point that is not one
    times = t + np.array([0.01, 0.1, 0.3]) * t
    stages = start.stages(t, state, times)
    for column, time in zip(stages.T, times):
        moved = signed @ problem.network.beta(coordinates.theta_of(column))
        np.testing.assert_allclose(moved[active], margins[active] + (time - t), atol=2 * implicit.MARGIN_TOLERANCE)
        assert np.all(moved[~active] > moved[active].max())  # the others are left where they go
    np.testing.assert_array_equal(start.stages(t, state, [t])[:, 0], state)  # at the step's start: the state


def test_where_both_go_the_flow_is_the_same_with_either_start(monkeypatch):
    """The start moves Newton's first iterate, not the collocation solution it converges to."""
    problem, theta = three_support_vectors()
    (ours,) = GradientFlow(log_loss_target=-1e9).run(problem, theta[None])
    scipys_start(monkeypatch)
    (theirs,) = GradientFlow(log_loss_target=-1e9).run(problem, theta[None])
    assert ours.status == theirs.status == "converged"
    assert angle_degrees(ours.beta[-1], theirs.beta[-1]) < 1e-4


def test_a_stiff_flow_goes_on_past_minus_1e10_at_a_fraction_of_the_cost(monkeypatch):
    """With scipy's start the evaluations per decade of tau grew about fivefold a decade (-1e11 took 4e5, -1e12 did
    not end in 300 s); from -1e10 to -3e10 they are now a tenth or less of scipy's, and the direction goes on
    converging smoothly to -1e12. (Radau all the way: the slow manifold's phase, which takes over past DEEP_TAU, is
    moved out of reach.)"""
    from implicit_bias import limit_weights

    monkeypatch.setattr(limit_weights, "DEEP_TAU", np.inf)

    def evaluations(target):
        (result,) = GradientFlow(log_loss_target=target).run(problem, theta[None])
        assert result.status == "converged", result.reason
        return result

    problem, theta = three_support_vectors()
    flows = {t: evaluations(t) for t in (-1e10, -3e10, -1e11, -1e12)}
    ours = flows[-3e10].steps - flows[-1e10].steps
    scipys_start(monkeypatch)
    theirs = evaluations(-3e10).steps - evaluations(-1e10).steps
    assert ours < theirs / 10
    # beta's dying coordinate shrinks by the same factor each decade (~tau^-0.32): no jump where rtol loosens
    dying = [flows[t].beta[-1][1] / np.linalg.norm(flows[t].beta[-1]) for t in (-1e10, -1e11, -1e12)]
    assert dying[1] / dying[0] == pytest.approx(dying[2] / dying[1], rel=0.02)


def test_a_structured_flow_uses_the_start_too(monkeypatch):
    from implicit_bias import networks

    monkeypatch.setattr(networks, "ENTRY_LIMIT", 0)
    monkeypatch.setattr(networks, "PARAM_LIMIT", 0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 6))
    problem = Problem(conv(6, depth=2), X, np.sign(X @ rng.standard_normal(6)), "classification")
    assert problem.network.structured
    theta = initialize("random", problem.network, X, alpha=0.5, seed=0)
    (ours,) = GradientFlow(log_loss_target=-1e8).run(problem, theta[None])
    scipys_start(monkeypatch)
    (theirs,) = GradientFlow(log_loss_target=-1e8).run(problem, theta[None])
    assert ours.status == theirs.status == "converged"
    assert angle_degrees(ours.beta[-1], theirs.beta[-1]) < 1e-4
