"""Limit points of gradient flow in underdetermined regression (Section 5, Appendix A.4).

- Theorem 4 (and Corollaries 5-7): beta -> S^T rho, rho = argmin Q_{L,alpha,eta̅}(rho) s.t. X S^T rho = y.
  Solved through its dual in n variables (Appendix F.2): rho(nu) = alpha^L |eta̅|^L h_L(z),
  z = alpha^{L-2} |eta̅|^{L-2} (S X^T nu), and nu minimises the convex
  Phi(nu) = sum_j alpha^2 eta̅_j^2 q_L(z_j)^2 / 2 - nu^T y, whose gradient is X S^T rho(nu) - y.
  Damped Newton with backtracking keeps z inside (-c_L, c_L).
- Remark 4: the alpha -> 0 and alpha -> inf limits, weighted l1 and weighted l2 (cvxpy).
- Theorem 5: the closed-form limit of a 2-layer network on one data point, through g^{-1}(y / alpha^2).
- Theorem 6: the minimum l2-norm solution X^T (X X^T)^{-1} y.
"""

from __future__ import annotations

import numpy as np

from . import lemma5_1
from .convex import cvxpy
from .memo import once_per_problem


def theorem4_rho(X, y, S, eta_bar, *, alpha: float, L: int, tol: float = 1e-14, max_iter: int = 500):
    """rho^infinity of Theorem 4 (real S). Returns rho (m,).

    Raises:
        ValueError: if X S^T does not have full row rank, or Newton does not converge.
    """
    return _theorem4_dual(X, y, S, eta_bar, alpha=alpha, L=L, tol=tol, max_iter=max_iter)[0]


def theorem4_path(X, y, S, eta_bar, *, log10_alphas, L: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """rho^infinity along a sequence of alphas, given by their log10, each solve started from the previous
    dual point (scaled by the ratio of log 1/alpha, the size the dual grows with as alpha -> 0).

    At extreme alphas the dual is flat near 0 and steep beyond, and Newton from 0 stalls; following
    the path in small steps goes much further. At L = 2 the dual is evaluated in log alpha
    (``log_alpha``), so the path goes on past float64's range of alpha itself (1e-308): Q's minimiser
    approaches the l1 end only like 1/log(1/alpha). At L >= 3 the path stops where float64 no longer
    resolves the dual (h_L's pole, near alpha = 1e-4 .. 1e-5, by when the limit is reached to ~1e-9).
    Returns (the log10 alphas reached, rho at each).
    """
    nu, previous, reached, path = None, None, [], []
    for log10_alpha in log10_alphas:
        log_alpha = float(log10_alpha) * np.log(10)
        if nu is not None and L == 2 and previous < 0 and log_alpha < 0:
            nu = nu * (log_alpha / previous)
        try:
            if L == 2:
                rho, nu = _theorem4_dual(X, y, S, eta_bar, log_alpha=log_alpha, L=L, nu0=nu)
            else:
                rho, nu = _theorem4_dual(X, y, S, eta_bar, alpha=10.0**log10_alpha, L=L, nu0=nu)
        except ValueError:
            if not path:
                raise
            break
        previous = log_alpha
        reached.append(float(log10_alpha))
        path.append(rho)
    return np.array(reached), path


def _theorem4_dual(X, y, S, eta_bar, *, L, alpha=None, log_alpha=None, tol=1e-14, max_iter=500, nu0=None):
    """Newton on Theorem 4's convex dual: (rho, nu). At L = 2, ``log_alpha`` in place of ``alpha``
    evaluates it in exponents (alpha^2 = exp(2 log alpha) need not be a float64)."""
    X, y, S, eta = (np.asarray(a, dtype=np.float64) for a in (X, y, S, eta_bar))
    A = X @ S.T  # (n, m)
    if np.linalg.matrix_rank(A) < A.shape[0]:
        raise ValueError("Theorem 4 needs X S^T of full row rank (an exactly solvable regression problem)")
    if log_alpha is not None:
        if L != 2:
            raise ValueError("log_alpha is for L = 2 only")
        evaluate, curvature = _depth2_in_exponents(A, y, eta, log_alpha)
    else:
        evaluate, curvature = _dual_in_alpha(A, y, eta, alpha, L)

    nu = np.zeros(A.shape[0]) if nu0 is None else np.asarray(nu0, dtype=np.float64)
    value, rho, residual = evaluate(nu)
    if rho is None:  # a start outside the domain (|z| >= c_L): from 0 instead
        nu = np.zeros(A.shape[0])
        value, rho, residual = evaluate(nu)
    target = tol * max(np.linalg.norm(y), 1e-300)
    accepted = 1e-9 * max(np.linalg.norm(y), 1e-300)
    for _ in range(max_iter):
        norm = np.linalg.norm(residual)
        if norm <= target:
            return rho, nu
        hessian = (A * curvature(nu)) @ A.T
        step = np.linalg.solve(hessian, -residual)
        # Backtrack until Phi decreases (Armijo) or, near the solution where Phi is flat to
        # rounding, the residual does.
        t = 1.0
        while t >= 1e-12:
            new_value, new_rho, new_residual = evaluate(nu + t * step)
            with np.errstate(over="ignore"):  # a trial far out (alpha = 1e100) may square past float64: rejected
                if new_rho is not None and (
                    new_value <= value + 1e-4 * t * (residual @ step)
                    or np.linalg.norm(new_residual) < (1 - 1e-4 * t) * np.linalg.norm(residual)
                ):
                    break
            t /= 2
        if t < 1e-12:
            break  # no progress at machine precision: the residual is as small as it gets
        nu, value, rho, residual = nu + t * step, new_value, new_rho, new_residual
        if norm <= accepted and np.linalg.norm(residual) > norm / 2:
            break  # Newton converges quadratically: a step that does not halve the residual met its rounding
    if np.linalg.norm(residual) > accepted:
        raise ValueError(f"Theorem 4 dual Newton did not converge (residual {np.linalg.norm(residual):.3e})")
    return rho, nu


def _dual_in_alpha(A, y, eta, alpha, L):
    """Phi's (value, rho, residual) and the diagonal of its curvature in rho, for a float64 alpha."""
    weight = alpha**2 * eta**2
    scale = alpha ** (L - 2) * np.abs(eta) ** (L - 2)
    amplitude = alpha**L * np.abs(eta) ** L
    c = lemma5_1.c_limit(L)

    def evaluate(nu):
        """(Phi(nu), rho(nu), residual), with Phi = inf outside the domain |z| < c_L."""
        z = scale * (A.T @ nu)
        if np.any(np.abs(z) >= c):
            return np.inf, None, None
        with np.errstate(over="ignore", invalid="ignore"):
            q = lemma5_1.q_of_time(z, L)
            value = float(np.sum(weight * q * q) / 2 - nu @ y)
            rho = amplitude * lemma5_1.h(z, L)
        if not np.isfinite(value) or not np.all(np.isfinite(rho)):
            return np.inf, None, None
        return value, rho, A @ rho - y

    def curvature(nu):
        return amplitude * scale * lemma5_1.h_derivative(scale * (A.T @ nu), L)

    return evaluate, curvature


def _depth2_in_exponents(A, y, eta, log_alpha):
    """The same at L = 2 with alpha^2 eta^2 folded into one exponential, E = alpha^2 eta^2 e^{2|z|}, and the
    rest by expm1 (accurate for small z too): rho = sign(z) E (1 - e^{-4|z|})/4, curvature E (1 + e^{-4|z|})/2,
    Phi = sum E expm1(-2|z|)^2 / 8 - nu^T y (alpha^2 eta^2 sinh(2z)/2, cosh(2z), sinh(z)^2/2)."""
    with np.errstate(divide="ignore"):
        offset = 2 * log_alpha + 2 * np.log(np.abs(eta))  # log(alpha^2 eta^2); -inf where eta = 0

    def parts(nu):
        z = A.T @ nu
        with np.errstate(over="ignore"):
            return np.sign(z), np.exp(offset + 2 * np.abs(z)), np.abs(z)

    def evaluate(nu):
        sign, E, size = parts(nu)
        with np.errstate(invalid="ignore"):
            value = float(np.sum(E * np.expm1(-2 * size) ** 2) / 8 - nu @ y)
            rho = sign * E * -np.expm1(-4 * size) / 4
        if not np.isfinite(value) or not np.all(np.isfinite(rho)):
            return np.inf, None, None
        return value, rho, A @ rho - y

    def curvature(nu):
        _, E, size = parts(nu)
        return E * (1 + np.exp(-4 * size)) / 2

    return evaluate, curvature


@once_per_problem
def weighted_norm_limits(X, y, S, eta_bar, *, L: int):
    """Remark 4: (argmin sum |rho_j| / |eta̅_j|^{L-2}, argmin sum rho_j^2 / eta̅_j^{2L-2}) s.t. X S^T rho = y."""
    cp = cvxpy()

    A = np.asarray(X) @ np.asarray(S).T
    eta = np.abs(np.asarray(eta_bar, dtype=np.float64))
    rho = cp.Variable(A.shape[1])
    l1 = cp.Problem(cp.Minimize(cp.norm1(cp.multiply(eta ** -(L - 2), rho))), [A @ rho == y])
    l1.solve(solver=cp.CLARABEL)
    rho_l1 = np.array(rho.value)
    # weighted l2 in closed form: rho = W A^T (A W A^T)^{-1} y with W = diag(eta^{2L-2})
    W = eta ** (2 * L - 2)
    rho_l2 = W * (A.T @ np.linalg.solve((A * W) @ A.T, y))
    if l1.status != cp.OPTIMAL:
        raise ValueError(f"weighted l1 problem: cvxpy status {l1.status}")
    return rho_l1, rho_l2


def theorem5_limit(M, y, v1_bar, v2_bar, *, alpha: float, rtol: float = 1e-12):
    """Theorem 5: the limit points (v_1^inf, v_2^inf) for the data matrix M = M(x) of one point.

    g(nu) = sum_j s_j ((a_j^2 + b_j^2)/2 sinh(2 s_j nu) + a_j b_j cosh(2 s_j nu)), a = U_1^T v̄_1,
    b = U_2^T v̄_2, is increasing; nu* = g^{-1}(y / alpha^2) is found by a bracketed root.
    """
    U1, s, U2t = np.linalg.svd(np.asarray(M, dtype=np.float64), full_matrices=False)
    keep = s > rtol * s.max()
    U1, s, U2 = U1[:, keep], s[keep], U2t[keep].T
    a, b = U1.T @ v1_bar, U2.T @ v2_bar

    def g(nu):
        return float(np.sum(s * ((a * a + b * b) / 2 * np.sinh(2 * s * nu) + a * b * np.cosh(2 * s * nu))))

    target = y / alpha**2
    lo, hi = -1.0, 1.0
    while g(lo) > target:
        lo *= 2
    while g(hi) < target:
        hi *= 2
    from scipy.optimize import brentq  # here: scipy.optimize costs 0.3 s to import, and few jobs get here

    nu = brentq(lambda v: g(v) - target, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    ch, sh = np.cosh(nu * s), np.sinh(nu * s)
    v1 = alpha * U1 @ (a * ch + b * sh) + alpha * (v1_bar - U1 @ a)
    v2 = alpha * U2 @ (a * sh + b * ch) + alpha * (v2_bar - U2 @ b)
    return v1, v2, nu


@once_per_problem
def transformed_l1_interpolant(X, y, S) -> np.ndarray:
    """argmin sum_j |[S beta]_j| s.t. X beta = y (S may be complex: moduli); S = I is the min-l1 point."""
    cp = cvxpy()

    beta = cp.Variable(np.shape(X)[1])
    S = np.asarray(S)
    objective = cp.sum(cp.abs(S @ beta)) if np.iscomplexobj(S) else cp.norm1(S @ beta)
    problem = cp.Problem(cp.Minimize(objective), [np.asarray(X) @ beta == np.asarray(y)])
    problem.solve(solver=cp.CLARABEL)
    if problem.status != cp.OPTIMAL:
        raise ValueError(f"l1 interpolation problem: cvxpy status {problem.status}")
    return np.array(beta.value)


def min_norm_solution(X, y):
    """Theorem 6.2: X^T (X X^T)^{-1} y."""
    X = np.asarray(X, dtype=np.float64)
    return X.T @ np.linalg.solve(X @ X.T, np.asarray(y, dtype=np.float64))
