"""Mutation tests of the checks: a plausible wrong prediction, put in place of the theory code the real
prediction runs, must be refuted (fail) on the same runs on which the correct one passes — not merely
left inconclusive. Each mutation is one edit someone could make by mistake: a wrong exponent, a wrong
power of alpha, the wrong norm, the wrong transform or normalisation, a wrong sign, a regularised
program in place of the exact one."""

import numpy as np
import pytest

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.decompositions import OrthogonalDecomposition
from implicit_bias.theory import check_runs, lemma5_1, regression
from implicit_bias.theory import classification as mm
from implicit_bias.theory.claims import classification as claims_classification
from implicit_bias.theory.claims import regression as claims_regression
from tests.unit.test_claims import (
    DECIDING,
    SWEEP,
    assert_all_pass,
    even_data,
    full_support_point,
    separable,
    underdetermined,
    views,
)

THEOREM4_RHO = regression.theorem4_rho


def refuted(rows, claim):
    own = [r for r in rows if r.claim == claim and r.role == "claim" and r.status != "not-applicable"]
    assert own, f"no applicable {claim} row"
    assert {r.status for r in own} == {"fail"}, [(r.status, r.value, r.reason[:120]) for r in own]


def theorem4_with(**changes):
    """Theorem 4's dual solved with a mutated argument (alpha, or L)."""

    def mutated(X, y, S, eta_bar, *, alpha, L, **kwargs):
        args = {"alpha": alpha, "L": L}
        args.update({k: f(args) for k, f in changes.items()})
        return THEOREM4_RHO(X, y, S, eta_bar, **args, **kwargs)

    return mutated


def ridge(X, y, S, eta_bar, *, alpha, L, **kwargs):
    """A regularised interpolant in place of Theorem 4's exact program (ridge 1e-2, in rho-coordinates)."""
    A = X @ S.T
    return A.T @ np.linalg.solve(A @ A.T + 1e-2 * np.eye(A.shape[0]), y)


@pytest.fixture(scope="module")
def diag_regression():
    return views(underdetermined(3, 2, 5), diag(5, depth=2), "theorem4", [0.1, 0.5], [0])  # not 1: 1^2 = 1


@pytest.mark.parametrize(
    "name,mutation",
    [
        ("alpha squared", theorem4_with(alpha=lambda a: a["alpha"] ** 2)),
        ("twice alpha", theorem4_with(alpha=lambda a: 2 * a["alpha"])),
        ("depth L + 1", theorem4_with(L=lambda a: a["L"] + 1)),
        ("ridge in place of the exact program", ridge),
    ],
)
def test_a_wrong_theorem4_is_refuted(diag_regression, monkeypatch, name, mutation):
    assert_all_pass(check_runs(["theorem4"], diag_regression), ["theorem4"])  # the correct one passes here
    monkeypatch.setattr(regression, "theorem4_rho", mutation)
    refuted(check_runs(["theorem4", "corollary5"], diag_regression), "theorem4")


def test_corollary6_with_the_displayed_normalisation_is_refuted(monkeypatch):
    runs = views(even_data(5, 2, 5), conv(5, depth=2), "theorem4", [0.5], [0])
    assert_all_pass(check_runs(["corollary6"], runs), ["corollary6"])
    real = claims_regression._decomposition

    def unscaled(run):  # S = Re F, without d^{(L-1)/2}: the corollary as displayed
        found = real(run)
        return OrthogonalDecomposition(found.S / run.network.dim ** ((run.network.depth - 1) / 2), found.U)

    monkeypatch.setattr(claims_regression, "_decomposition", unscaled)
    refuted(check_runs(["corollary6"], runs), "corollary6")


def test_a_wrong_sign_in_theorem5_is_refuted(monkeypatch):
    from implicit_bias.datasets import paper_regression

    runs = views(paper_regression(), fc(2, depth=2), "theorem5", [0.5], [0, 1])
    assert_all_pass(check_runs(["theorem5"], runs), ["theorem5"])
    real = regression.theorem5_limit

    def flipped(*args, **kwargs):
        v1, v2, *rest = real(*args, **kwargs)
        return (-v1, v2, *rest)

    monkeypatch.setattr(regression, "theorem5_limit", flipped)
    refuted(check_runs(["theorem5"], runs), "theorem5")


@pytest.mark.parametrize("wrong", ["l1 max-margin", "DFT-domain l1 max-margin"])
def test_corollary1_with_the_wrong_norm_is_refuted(monkeypatch, wrong):
    runs = views(separable(3, 3, 4), fc(4, depth=2), "random", [0.5], [0], solver=DECIDING, decide=["corollary1"])
    assert_all_pass(check_runs(["corollary1"], runs), ["corollary1"])
    from implicit_bias.decompositions import dft_matrix

    S = np.eye(4) if wrong == "l1 max-margin" else dft_matrix(4)
    monkeypatch.setattr(mm, "l2_max_margin", lambda X, y: mm.transformed_l1_max_margin(X, y, S))
    refuted(check_runs(["corollary1"], runs), "corollary1")


def test_corollary2_with_another_transform_in_place_of_the_identity_is_refuted(monkeypatch):
    net = diag(4, depth=2)  # the instance test_claims verifies Corollary 2 on
    runs = views(separable(3, 3, 4), net, "theorem2", [0.3, 1.0], [0, 1], solver=DECIDING, decide=["corollary2"])
    assert_all_pass(check_runs(["corollary2"], runs), ["corollary2"])
    T = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]  # an orthogonal S that is not I
    wrong = OrthogonalDecomposition(T, (np.eye(4),) * 2)
    real = claims_classification.orthogonal_decomposition
    monkeypatch.setattr(
        claims_classification,
        "orthogonal_decomposition",
        lambda network, **kw: wrong if network.name == "diag" else real(network, **kw),
    )
    refuted(check_runs(["corollary2"], runs), "corollary2")


def test_lemma5_1_with_the_neighbouring_depth_is_refuted(monkeypatch):
    real = lemma5_1.h
    monkeypatch.setattr(lemma5_1, "h", lambda t, L: real(t, L + 1))
    rows = check_runs(["lemma5_1"], [], depths=[2, 3])
    errors = [r for r in rows if r.role == "claim" and r.metric.startswith("max relative error of h_L")]
    assert errors and {r.status for r in errors} == {"fail"}


@pytest.fixture(scope="module")
def full_support_runs():
    return views(full_support_point(), diag(4, depth=3), "full_support", [0.3, 1.0], [0], solver=DECIDING)


@pytest.mark.parametrize("wrong", [2, 1, 4], ids=["l1", "l2", "exponent 2/4"])
def test_a_wrong_exponent_in_place_of_l_two_thirds_at_depth_3_is_refuted(full_support_runs, monkeypatch, wrong):
    """On a limit with more support than active constraints (init full_support) stationarity tells exponents
    apart: l1, l2 or l_(2/4) in place of l_(2/3) is refuted. (On limits whose support is no larger than their
    active set every exponent is stationary, and the check says so instead of using them as controls.)"""
    assert_all_pass(check_runs(["corollary2"], full_support_runs), ["corollary2"])
    real = mm.kkt_residual
    monkeypatch.setattr(
        mm, "kkt_residual", lambda beta, X, y, T, power, **kw: real(beta, X, y, T, wrong if power == 3 else power, **kw)
    )
    refuted(check_runs(["corollary2"], full_support_runs), "corollary2")


def _theorem6_with_a_ridge(monkeypatch, ridge):
    runs = views(underdetermined(8, 2, 3), fc(3, depth=2), "theorem6", SWEEP, [0])
    assert_all_pass(check_runs(["theorem6"], runs), ["theorem6"])
    monkeypatch.setattr(
        regression, "min_norm_solution", lambda X, y: X.T @ np.linalg.solve(X @ X.T + ridge * np.eye(len(y)), y)
    )
    return [r for r in check_runs(["theorem6"], runs) if "6.2" in r.metric]


def test_a_ridge_in_place_of_theorem_6_2s_min_norm_interpolant_is_refuted(monkeypatch):
    """Judged at the smallest alpha any ridge was only inconclusive (a shrinking distance kept it open); fitted
    by an offset plus a power over the sweep, the offset a ridge of 0.1 leaves refutes it."""
    refuted(_theorem6_with_a_ridge(monkeypatch, 1e-1), "theorem6")


def test_a_small_ridge_in_place_of_theorem_6_2s_min_norm_interpolant_is_refuted(monkeypatch):
    """A ridge of 1e-2 leaves the distance at 4.8e-3 from alpha = 1e-3 down to 1e-4 (flat to 1e-4 relative),
    4.8x the tolerance: within the 10x margin a fitted offset needs, but a sweep that has levelled off is measured."""
    rows = _theorem6_with_a_ridge(monkeypatch, 1e-2)
    refuted(rows, "theorem6")
    assert "the distance has stopped shrinking" in next(r.reason for r in rows if r.role == "claim")
