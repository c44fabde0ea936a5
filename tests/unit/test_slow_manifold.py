"""A classification flow's deep phase (its limit on the support vectors' slow manifold) against the flow itself."""

import numpy as np
import pytest

from implicit_bias import architectures
from implicit_bias import limit_weights as limit_weights_module
from implicit_bias.datasets import random_dataset
from implicit_bias.inits import initialize
from implicit_bias.limit_weights import DEEP_TAU, limit_weights, manifold_program
from implicit_bias.theory import classification as mm
from implicit_bias.training import slow_manifold
from implicit_bias.training.problem import Problem
from implicit_bias.training.slow_manifold import SlowManifoldPhase
from implicit_bias.training.solvers import GradientFlow

SPECS = [{"name": "diag", "depth": 2}, {"name": "conv", "depth": 3}, {"name": "fc", "depth": 2, "widths": [3]}]


def _problem(spec, d=6, n=4):
    data = random_dataset("classification", n=n, d=d, seed=1)
    network = architectures.build_network(spec, d)
    return Problem(network, data.X, data.y, "classification"), initialize("random", network, data.X, alpha=0.5, seed=0)


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_the_slow_manifold_phase_follows_the_flow(spec):
    """From log L = -1e4 or -1e5 to -1e7, the deep phase reaches the beta that the flow itself (DOP853 and Radau
    on the entry list, Radau at rtol 1e-7) reaches, to 1e-6 relative."""
    problem, theta = _problem(spec)
    (reference,) = GradientFlow(log_loss_target=-1e7).run(problem, theta)
    assert reference.status == "converged"
    for tau in (1e4, 1e5):
        (start,) = GradientFlow(log_loss_target=-tau).run(problem, theta)
        there = SlowManifoldPhase(problem, start.theta_final, -start.log_loss[-1]).to(-reference.log_loss[-1])
        error = np.linalg.norm(problem.network.beta(there) - reference.beta[-1]) / np.linalg.norm(reference.beta[-1])
        assert error < 1e-6, (tau, error)


def _deep_state(spec, tau=1e7):
    problem, theta = _problem(spec)
    (run,) = GradientFlow(log_loss_target=-tau).run(problem, theta)
    return problem, run.theta_final


@pytest.mark.parametrize("spec", SPECS, ids=[s["name"] for s in SPECS])
def test_the_limit_weights_solve_the_manifolds_program_and_are_the_softmax_weights(spec):
    """At log L = -1e7 (DEEP_TAU, where float64 still resolves the softmax weights, to ~1e-9): the program's weights
    are the softmax weights to 1e-5, and they satisfy its KKT conditions, checked with the margins' gradients from the
    entry list: a point with weight rises at its bound's rate (1 on the manifold), none slower than its bound."""
    problem, theta = _deep_state(spec)
    network, X, y = problem.network, problem.X, problem.y
    margins = y * (X @ network.beta(theta))
    softmax = np.exp(-(margins - margins.min()))
    assert np.abs(limit_weights(network.operator, X, y, theta) - softmax / softmax.sum()).max() < 1e-5

    phi = theta / margins.min() ** (1 / network.depth)
    weights, velocity = manifold_program(network.operator, X * y[:, None], phi)
    J = np.array([y_i * network.gradient(x_i, phi) for x_i, y_i in zip(X, y)])  # margin gradients, entry list
    assert np.allclose(velocity, J.T @ weights, rtol=1e-10, atol=1e-12)
    rates = J @ velocity
    scaled = margins / margins.min()
    bound = 1 - limit_weights_module.CAPTURE_RATE * np.maximum(scaled - 1 - limit_weights_module.CAPTURE_BAND, 0)
    assert np.all(weights >= 0) and weights.max() > 0
    assert np.allclose(rates[weights > 0], bound[weights > 0], atol=1e-8)
    assert np.all(rates >= bound - 1e-8)


def test_a_flow_continued_past_deep_tau_reaches_corollary_2s_l1_max_margin():
    """Corollary 2 (diag L = 2: the l1 max-margin direction), whose optimality gap falls like 1/log tau: at
    log L = -1e6 it is still above the claim's tolerance (1e-3); on to -1e60 (the entry list's kernels to DEEP_TAU,
    then the slow manifold), the measured log L stays on the flow's levels and the gap falls below it."""
    problem, theta = _problem({"name": "diag", "depth": 2}, d=12, n=6)
    X, y = problem.X, problem.y
    optimum = np.abs(mm.transformed_l1_max_margin(X, y, np.eye(12))).sum()

    def gap(beta):
        return abs(np.abs(mm.normalized_margin_direction(beta, X, y)).sum() - optimum) / optimum

    (shallow,) = GradientFlow(log_loss_target=-1e6).run(problem, theta)
    (deep,) = GradientFlow(log_loss_target=-1e60, checkpoints=60).run(problem, theta)
    assert deep.status == "converged" and "slow manifold from log L" in deep.reason
    on_manifold = deep.progress > 2 * DEEP_TAU
    assert on_manifold.sum() > 20
    assert np.allclose(deep.log_loss[on_manifold], -deep.progress[on_manifold], rtol=1e-8)
    assert gap(shallow.beta[-1]) > 1e-3
    assert gap(deep.beta[-1]) < 1e-3
    # continued from there (as the workflow does, a decade at a time) it is on the manifold from its first level on
    further = GradientFlow(log_loss_target=-1e61).extend(problem, deep, -1e61)
    assert further.status == "converged"
    assert "(structured operator; on the support vectors' slow manifold from log L = -1e+60)" in further.reason


def test_the_program_solves_by_eigenvalues_where_cholesky_fails(monkeypatch):
    """Where rounding leaves the points' Gram matrix indefinite (dependent gradients), the program is solved through
    its eigenvalues instead: the same weights and velocity as by Cholesky, where both apply."""
    problem, theta = _deep_state({"name": "diag", "depth": 2})
    network, X, y = problem.network, problem.X, problem.y
    phi = theta / (y * (X @ network.beta(theta))).min() ** 0.5
    by_cholesky = manifold_program(network.operator, X * y[:, None], phi)

    def indefinite(matrix):
        raise np.linalg.LinAlgError("Matrix is not positive definite")

    monkeypatch.setattr(np.linalg, "cholesky", indefinite)
    by_eigenvalues = manifold_program(network.operator, X * y[:, None], phi)
    for a, b in zip(by_cholesky, by_eigenvalues):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_the_slow_manifold_does_not_depend_on_its_capture_band(monkeypatch):
    """The capture band is a numerical device (points that close to the lowest normalised margin are held on the
    manifold): with a band 1000x narrower (and an rtol 1000x tighter, so that the integration's own noise stays below
    it) the flow from -1e7 reaches the same beta at -1e14, and the same Theorem 1 residual (u from the limit's
    weights, each with its own band)."""
    problem, theta = _deep_state({"name": "diag", "depth": 2}, tau=1e7)
    network, X, y = problem.network, problem.X, problem.y
    tau = -problem.log_loss(theta)
    ends = []
    for band, rtol in ((1e-6, 1e-9), (1e-9, 1e-12)):
        monkeypatch.setattr(limit_weights_module, "CAPTURE_BAND", band)
        monkeypatch.setattr(slow_manifold, "RTOL", rtol)
        monkeypatch.setattr(slow_manifold, "ATOL", rtol * 1e-4)
        there = SlowManifoldPhase(problem, theta, tau).to(1e14)
        ends.append((network.beta(there), mm.singular_vector_residual(network, there, X, y)))
    (beta, residual), (narrow_beta, narrow_residual) = ends
    assert np.linalg.norm(beta - narrow_beta) / np.linalg.norm(beta) < 1e-6
    assert narrow_residual == pytest.approx(residual, rel=1e-3, abs=1e-9)
