"""Lemma 5.1: p' = p^{L-2} q, q' = p^{L-1}, p(0) = 1, q(0) = 0, and h_L = p^{L-1} q.

p^2 - q^2 = 1 is conserved, so q' = (1 + q^2)^{(L-1)/2} and
    t(q) = int_0^q (1 + u^2)^{-(L-1)/2} du = q 2F1(1/2, (L-1)/2; 3/2; -q^2),
the interval of existence is (-c_L, c_L) with c_L = t(inf), h_L(t) = (1 + q^2)^{(L-1)/2} q, and
int_0^t h_L = q^2 / 2, hence H_L(s) = int_0^s h_L^{-1} = s h_L^{-1}(s) - q(h_L^{-1}(s))^2 / 2.
L = 2: q = sinh t, h_2 = sinh(2t)/2, c_2 = inf.  L = 3: q = tan t, c_3 = pi/2.
All functions are vectorised and accurate to a few ulps (far from c_L); for |q| > 1 the tail
c_L - t(q) = q^{-(L-2)}/(L-2) 2F1((L-1)/2, (L-2)/2; L/2; -1/q^2) avoids cancellation near c_L.
"""

from __future__ import annotations

import numpy as np

# scipy.special is imported where used: it costs 0.2 s, and most jobs that import the claims never get here.


def _check_depth(L):
    if not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"depth L must be an integer >= 2, got {L!r}")


def c_limit(L: int) -> float:
    """c_L: h_L lives on (-c_L, c_L). c_2 = inf, c_3 = pi/2."""
    _check_depth(L)
    if L == 2:
        return np.inf
    from scipy.special import gamma

    return float(np.sqrt(np.pi) / 2 * gamma((L - 2) / 2) / gamma((L - 1) / 2))


def _tail(q, L):
    """c_L - t(q) for q > 0 (L >= 3)."""
    from scipy.special import hyp2f1

    a = (L - 1) / 2
    return q ** (-(L - 2)) / (L - 2) * hyp2f1(a, (L - 2) / 2, L / 2, -1.0 / q**2)


def time_of_q(q, L: int):
    """t(q), the time at which q_L reaches q."""
    _check_depth(L)
    q = np.asarray(q, dtype=np.float64)
    if L == 2:
        return np.arcsinh(q)
    if L == 3:
        return np.arctan(q)
    from scipy.special import hyp2f1

    aq = np.abs(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.where(aq > 1, c_limit(L) - _tail(np.maximum(aq, 1.0), L), 0.0)
    near = aq * hyp2f1(0.5, (L - 1) / 2, 1.5, -(np.minimum(aq, 1.0) ** 2))
    return np.sign(q) * np.where(aq > 1, far, near)


def q_of_time(t, L: int):
    """q_L(t) on (-c_L, c_L): the inverse of ``time_of_q`` (+-inf at +-c_L, nan beyond)."""
    _check_depth(L)
    t = np.asarray(t, dtype=np.float64)
    if L == 2:
        return np.sinh(t)
    if L == 3:
        with np.errstate(invalid="ignore"):
            return np.where(
                np.abs(t) < np.pi / 2, np.tan(t), np.where(np.abs(t) == np.pi / 2, np.sign(t) * np.inf, np.nan)
            )
    c, a = c_limit(L), (L - 1) / 2
    at = np.abs(t)
    q = np.full(t.shape, np.nan)
    q[at == c] = np.inf
    t_one = float(time_of_q(1.0, L))
    # |q| <= 1: t(q) is concave on q > 0 with t(q) <= q, so Newton from q = t rises to the root.
    small = at <= t_one
    x = at[small].copy()
    for _ in range(60):
        step = (time_of_q(x, L) - at[small]) * (1 + x * x) ** a
        x -= step
        if np.all(np.abs(step) <= 1e-16 * np.maximum(x, 1e-300)):
            break
    q[small] = x
    # |q| > 1: solve log tail(q) = log(c - t) in w = log q, safeguarded by a bracket.
    large = (at > t_one) & (at < c)
    if np.any(large):
        target = np.log(c - at[large])
        lo = np.zeros(target.shape)
        hi = -(target + np.log(L - 2)) / (L - 2) + 1.0  # tail(q) < q^{-(L-2)}/(L-2)
        w = 0.5 * (lo + hi)
        for _ in range(200):
            qq = np.exp(w)
            tail = _tail(qq, L)
            value = np.log(tail) - target  # decreasing in w
            lo = np.where(value > 0, w, lo)
            hi = np.where(value > 0, hi, w)
            newton = w + value * tail / (qq * (1 + qq * qq) ** -a)
            outside = (newton <= lo) | (newton >= hi)
            w_new = np.where(outside, 0.5 * (lo + hi), newton)
            if np.all(np.abs(w_new - w) <= 1e-15 * np.maximum(np.abs(w), 1.0)):
                w = w_new
                break
            w = w_new
        q[large] = np.exp(w)
    return np.sign(t) * q


def h(t, L: int):
    """h_L(t) = p^{L-1} q = (1 + q^2)^{(L-1)/2} q."""
    q = q_of_time(t, L)
    return (1 + q * q) ** ((L - 1) / 2) * q


def h_derivative(t, L: int):
    """h_L'(t) = (1 + q^2)^{L-2} (1 + L q^2)."""
    q = q_of_time(t, L)
    return (1 + q * q) ** (L - 2) * (1 + L * q * q)


def _q_of_h(s, L):
    """The q with (1 + q^2)^{(L-1)/2} q = s."""
    s = np.asarray(s, dtype=np.float64)
    if L == 2:  # q^2 (1 + q^2) = s^2
        return np.sign(s) * np.sqrt(2 * s * s / (1 + np.sqrt(1 + 4 * s * s)))
    a = (L - 1) / 2
    target = np.abs(s)
    # g(q) = q (1+q^2)^a - s is increasing and convex on q > 0; start right of the root.
    x = np.minimum(target, target ** (1 / L))
    for _ in range(200):
        step = (x * (1 + x * x) ** a - target) / ((1 + x * x) ** (a - 1) * (1 + L * x * x))
        x = x - step
        if np.all(np.abs(step) <= 1e-16 * np.maximum(x, 1e-300)):
            break
    return np.sign(s) * x


def h_inverse(s, L: int):
    """h_L^{-1}(s), defined for every real s."""
    _check_depth(L)
    return time_of_q(_q_of_h(s, L), L)


def H(s, L: int):
    """H_L(s) = int_0^s h_L^{-1}(u) du = s h_L^{-1}(s) - q^2 / 2."""
    _check_depth(L)
    q = _q_of_h(s, L)
    return np.asarray(s) * time_of_q(q, L) - q * q / 2
