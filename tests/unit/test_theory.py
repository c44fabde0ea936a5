"""Predictions against closed forms and independent computations."""

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp
from scipy.optimize import minimize

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.decompositions import dft_matrix
from implicit_bias.theory import classification as cls
from implicit_bias.theory import lemma5_1, regression
from implicit_bias.theory.claims.observations import check_theory_lemma5_1

X1, Y1 = np.array([[1.0, 2.0]]), np.array([1.0])
X3, Y3 = np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0])


# --- Lemma 5.1 ------------------------------------------------------------------------------------
def test_h2_is_sinh_2t_over_2_and_c3_is_half_pi():
    t = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(lemma5_1.h(t, 2), np.sinh(2 * t) / 2, rtol=1e-14)
    assert lemma5_1.c_limit(3) == pytest.approx(np.pi / 2, rel=1e-15)
    assert lemma5_1.c_limit(4) == pytest.approx(1.0, rel=1e-15)
    assert lemma5_1.c_limit(2) == np.inf
    np.testing.assert_allclose(
        lemma5_1.h(np.array([0.3, -1.2]), 3), np.tan([0.3, -1.2]) / np.cos([0.3, -1.2]) ** 2, rtol=1e-13
    )


@pytest.mark.parametrize("L", [2, 3, 4, 5, 7])
def test_h_matches_a_high_accuracy_ode_solve(L):
    c = lemma5_1.c_limit(L)
    t_max = 2.5 if L == 2 else 0.95 * c
    solution = solve_ivp(
        lambda t, z: [z[0] ** (L - 2) * z[1], z[0] ** (L - 1)],
        (0, t_max),
        [1.0, 0.0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-15,
        dense_output=True,
    )
    t = np.linspace(0, t_max, 50)
    p, q = solution.sol(t)
    np.testing.assert_allclose(lemma5_1.h(t, L), p ** (L - 1) * q, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(p**2 - q**2, 1, rtol=1e-10)  # the conserved quantity the closed form uses


@pytest.mark.parametrize("L", [2, 3, 4, 6])
def test_inverse_and_integral_of_h(L):
    s = np.array([-1e6, -3.0, -1e-4, 0.0, 2e-3, 0.7, 40.0, 1e9])
    np.testing.assert_allclose(lemma5_1.h(lemma5_1.h_inverse(s, L), L), s, rtol=1e-9, atol=1e-300)
    for upper in (0.5, 3.0, -2.0):
        integral = quad(lambda u: lemma5_1.h_inverse(u, L), 0, upper, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        assert lemma5_1.H(upper, L) == pytest.approx(integral, rel=1e-11)


def test_h_is_odd_and_increasing_and_blows_up_at_c():
    for L in (3, 5):
        c = lemma5_1.c_limit(L)
        t = np.linspace(-0.999 * c, 0.999 * c, 1001)
        values = lemma5_1.h(t, L)
        assert np.all(np.diff(values) > 0)
        np.testing.assert_array_equal(lemma5_1.h(-t, L), -values)
        assert lemma5_1.h(c * (1 - 1e-9), L) > 1e8
        assert np.isnan(lemma5_1.h(np.array([1.01 * c]), L)[0])


def test_lemma5_1_check_passes_at_several_depths():
    rows = check_theory_lemma5_1(depths=(2, 3, 4, 5))
    claims = [r for r in rows if r.role == "claim"]
    assert claims and all(r.status == "pass" for r in claims), [
        (r.metric, r.value) for r in claims if r.status != "pass"
    ]
    # the neighbouring depth's h_{L+1} and c_{L+1} are rejected, by far
    controls = [r for r in rows if r.role == "control"]
    assert len(controls) == 4 + 3 and all(r.status == "rejected" and r.value > 1e3 * r.tolerance for r in controls)


# --- Section 6 exact answers -----------------------------------------------------------------------
def test_section6_min_norm_and_max_margin_points():
    """x = [1, 2], y = 1: l2 -> [0.2, 0.4], l1 -> [0, 0.5], DFT l1 -> [1/3, 1/3]; the classification data agree."""
    np.testing.assert_allclose(regression.min_norm_solution(X1, Y1), [0.2, 0.4], rtol=1e-14)
    for X, y in ((X1, Y1), (X3, Y3)):
        np.testing.assert_allclose(cls.l2_max_margin(X, y), [0.2, 0.4], atol=1e-7)
        np.testing.assert_allclose(cls.transformed_l1_max_margin(X, y, np.eye(2)), [0.0, 0.5], atol=1e-7)
        np.testing.assert_allclose(cls.transformed_l1_max_margin(X, y, dft_matrix(2)), [1 / 3, 1 / 3], atol=1e-7)
    l1, l2 = regression.weighted_norm_limits(X1, Y1, np.eye(2), np.ones(2), L=2)
    np.testing.assert_allclose(l1, [0.0, 0.5], atol=1e-7)
    np.testing.assert_allclose(l2, [0.2, 0.4], rtol=1e-12)


# --- Theorem 4 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("alpha", [0.3, 1.0, 3.0])
def test_theorem4_dual_newton_solves_the_primal(L, alpha):
    """Compare with SLSQP on min Q(rho) s.t. A rho = y, an independent solver of the primal."""
    rng = np.random.default_rng(3)
    X, y, eta = rng.normal(size=(2, 4)), rng.normal(size=2), rng.uniform(0.5, 1.5, size=4)
    rho = regression.theorem4_rho(X, y, np.eye(4), eta, alpha=alpha, L=L)

    def Q(r):
        return alpha**2 * np.sum(eta**2 * lemma5_1.H(r / (alpha**L * eta**L), L))

    primal = minimize(
        Q,
        np.linalg.pinv(X) @ y,
        constraints=[{"type": "eq", "fun": lambda r: X @ r - y}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 500},
    )
    np.testing.assert_allclose(X @ rho, y, atol=1e-12)
    np.testing.assert_allclose(rho, primal.x, atol=1e-6)
    assert Q(rho) <= Q(primal.x) + 1e-12


@pytest.mark.parametrize("L", [2, 3, 4])
def test_theorem4_interpolates_between_weighted_l1_and_l2(L):
    rng = np.random.default_rng(4)
    X, y, eta = rng.normal(size=(2, 5)), rng.normal(size=2), rng.uniform(0.5, 1.5, size=5)
    l1, l2 = regression.weighted_norm_limits(X, y, np.eye(5), eta, L=L)
    large = regression.theorem4_rho(X, y, np.eye(5), eta, alpha=1e3, L=L)
    np.testing.assert_allclose(large, l2, rtol=1e-4, atol=1e-5)
    small = regression.theorem4_rho(X, y, np.eye(5), eta, alpha=1e-3, L=L)
    distance_small = np.linalg.norm(small - l1) / np.linalg.norm(l1)
    assert distance_small < (0.05 if L == 2 else 1e-6)  # L = 2 approaches l1 only like 1/log(1/alpha)


def test_theorem4_rejects_rank_deficient_data():
    with pytest.raises(ValueError, match="full row rank"):
        regression.theorem4_rho(np.ones((2, 3)), np.ones(2), np.eye(3), np.ones(3), alpha=1.0, L=2)


# --- Theorem 5 -------------------------------------------------------------------------------------
def test_theorem5_g_inverse_and_the_limit_fits_the_data():
    net = conv(5, depth=2, filters=[3])
    x, y = np.array([0.3, -1.2, 0.5, 2.0, -0.7]), 0.8
    rng = np.random.default_rng(5)
    v1_bar, v2_bar = rng.normal(size=3), 0.1 * rng.normal(size=5)
    for alpha in (0.01, 0.5, 2.0):
        v1, v2, nu = regression.theorem5_limit(net.data_tensor(x), y, v1_bar, v2_bar, alpha=alpha)
        U1, s, U2t = np.linalg.svd(net.data_tensor(x), full_matrices=False)
        a, b = U1.T @ v1_bar, U2t @ v2_bar
        g = np.sum(s * ((a * a + b * b) / 2 * np.sinh(2 * s * nu) + a * b * np.cosh(2 * s * nu)))
        assert g == pytest.approx(y / alpha**2, rel=1e-12)  # g(g^{-1}(y / alpha^2)) = y / alpha^2
        assert v1 @ net.data_tensor(x) @ v2 == pytest.approx(y, rel=1e-10)  # a global minimum


# --- classification helpers ------------------------------------------------------------------------
def test_kkt_residual_is_zero_at_a_stationary_point_and_not_elsewhere():
    assert cls.kkt_residual([0.0, 1.0], X3, Y3, np.eye(2), 2) < 1e-12
    assert cls.kkt_residual([0.0, 1.0], X3, Y3, np.eye(2), 3) < 1e-12
    assert cls.kkt_residual([0.2, 0.4], X3, Y3, np.eye(2), 2) > 0.1  # the l2 solution is not l1-stationary
    z = cls.transformed_l1_max_margin(X3, Y3, dft_matrix(2))
    assert cls.kkt_residual(z, X3, Y3, np.sqrt(2) * dft_matrix(2), 2) < 1e-6


def test_singular_vector_residual_is_zero_on_singular_vectors():
    net = diag(2, depth=2)
    # beta along e_2 for the l1 direction: v_1 = v_2 = e_2 scaled; u = X^T r direction is -e_2-ish
    theta = np.array([0.0, 30.0, 0.0, 30.0])
    assert cls.singular_vector_residual(net, theta, X3, Y3) < 1e-12
    assert cls.singular_vector_residual(net, np.array([1.0, 3.0, 2.0, 3.0]), X3, Y3) > 0.1


def test_corollary4_directions():
    x = np.array([1.0, 2.0, 0.5, 3.0])
    np.testing.assert_allclose(cls.corollary4_direction(x, -1.0, 1), -x)
    left, right = np.roll(x, -1), np.roll(x, 1)
    assert x @ left == 7.5  # positive autocorrelation: the low-pass filter
    np.testing.assert_allclose(cls.corollary4_direction(x, 1.0, 2), 2 * x + left + right)
    high = np.array([1.0, -2.0, 1.0, -2.0])
    np.testing.assert_allclose(cls.corollary4_direction(high, 1.0, 2), 2 * high - np.roll(high, -1) - np.roll(high, 1))
    with pytest.raises(ValueError, match="needs x\\^T x← != 0"):
        cls.corollary4_direction(np.array([1.0, 2.0, -1.0, 0.5]), 1.0, 2)


def test_theorem3_picks_the_top_singular_pair():
    net = conv(4, depth=2, filters=[2])
    x = np.array([1.0, -2.0, 0.5, 3.0])
    v1, v2 = cls.theorem3_directions(net, x, -1.0)
    M = net.data_tensor(x)
    U, s, Vt = np.linalg.svd(M)
    assert abs(abs(v1 @ U[:, 0]) / np.linalg.norm(v1) - 1) < 1e-12
    assert abs(abs(v2 @ Vt[0]) / np.linalg.norm(v2) - 1) < 1e-12
    assert np.sign(v1 @ M @ v2) == -1  # the sign of y
    with pytest.raises(ValueError, match="repeated"):
        cls.theorem3_directions(fc(3, depth=2), np.array([1.0, 2.0, 3.0]), 1.0)


def test_a_program_is_solved_once_per_process_and_answers_as_solving_again_would():
    from implicit_bias.theory.memo import once_per_problem

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(4, 3)), np.array([1.0, -1.0, 1.0, -1.0])
    S = dft_matrix(3)
    kept = cls.transformed_l1_max_margin(X, y, S)
    again = cls.transformed_l1_max_margin(X.copy(), y.copy(), S.copy())  # equal by value, other objects
    fresh = cls.transformed_l1_max_margin.__wrapped__(X, y, S)  # cvxpy and Clarabel, solving anew
    np.testing.assert_array_equal(kept, fresh)
    np.testing.assert_array_equal(again, fresh)
    again[0] = 99.0  # each caller owns its answer
    np.testing.assert_array_equal(cls.transformed_l1_max_margin(X, y, S), fresh)
    l1, l2 = regression.weighted_norm_limits(X[:2], y[:2], np.eye(3), [1.0, 2.0, 0.5], L=3)
    np.testing.assert_array_equal(
        l1, regression.weighted_norm_limits.__wrapped__(X[:2], y[:2], np.eye(3), [1.0, 2.0, 0.5], L=3)[0]
    )

    calls = []

    @once_per_problem
    def solve(a, *, scale):
        calls.append(1)
        if scale < 0:
            raise ValueError("infeasible")
        return scale * np.asarray(a), np.asarray(a)

    solve([1.0, 2.0], scale=2)
    solve(np.array([1.0, 2.0]), scale=2)
    assert len(calls) == 1
    solve([1.0, 2.0], scale=3)
    solve([1.0, 2.5], scale=2)
    assert len(calls) == 3
    for _ in range(2):  # a failure is not kept: it raises each time
        with pytest.raises(ValueError, match="infeasible"):
            solve([1.0], scale=-1)
    assert len(calls) == 5
