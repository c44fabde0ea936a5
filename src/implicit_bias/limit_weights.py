"""The loss weights a classification flow puts on the points in its limit, and the quadratic program they solve.

Deep in a classification flow the softmax weights p_i ~ exp(-m_i) of the margins m_i = y_i f(x_i; Theta) depend on
differences of order 1 between numbers of order tau = -log L, which float64 resolves to tau * eps only. In the limit
tau -> infinity they solve a quadratic program on the margins' gradients J (``manifold_program``); the flow's deep
phase (``training.slow_manifold``) moves by it, and Theorem 1's u = X^T r / |X^T r| is computed with it where the
run's records come from that phase (tau >= DEEP_TAU).

Which points take part is not decided by a threshold (a point's entering would make the velocity jump): each point's
constraint is d m_i / d s >= 1 - m_i - CAPTURE_RATE * (m_i - min m - CAPTURE_BAND)_+ in the normalised margins
(s = log tau), so that a point within CAPTURE_BAND of the lowest normalised margin is held on the manifold, one
further above may approach at a rate that falls to 0 as it arrives, and the solution is a continuous function of
Theta. A point is so captured about CAPTURE_BAND early in its normalised margin.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

# A classification flow continues on its slow manifold from the first level at or beyond this tau. Where it hands over
# trades the manifold's model error (order 1/tau) against Radau's cost with many support vectors: on Corollary 2's
# d = 1000 instance, from 1e7 to 1e8 the manifold took 2.3 s against Radau's 6.3 s (29 s for conv), and met Radau's
# beta at 1e8 to 1.6e-7 (from 1e6: 1.1e-6, but slower than Radau there, 11 s against 1.5 s).
DEEP_TAU = 1e7
CAPTURE_BAND = 1e-6  # normalised margins this close to the lowest one are on the manifold
CAPTURE_RATE = 1e6  # how fast a point above the band may still approach it, per unit of its distance


def limit_weights(op, X, y, theta) -> np.ndarray:
    """The loss weights p (summing to 1) that the flow's limit puts on the points at theta: the softmax weights
    where float64 cannot resolve them, from the slow manifold's quadratic program."""
    Xy = X * y[:, None]
    lowest = (Xy @ op.beta(theta)).min()  # scaled so that the lowest margin is 1, as on the manifold
    weights, _ = manifold_program(op, Xy, theta / lowest ** (1.0 / len(op.shape)))
    return weights / weights.sum()


def _least_squares_form(gram, b):
    """(R, t) with |R w - t|^2 / 2 = w^T G w / 2 - b^T w + const: G = R^T R by Cholesky (a 1e-14 ridge), or, where
    rounding leaves G indefinite (points whose gradients are dependent), by its eigenvalues clipped at the ridge."""
    ridge = 1e-14 * np.trace(gram) / gram.shape[0]
    try:
        R = np.linalg.cholesky(gram + ridge * np.eye(gram.shape[0])).T
        return np.ascontiguousarray(R), solve_triangular(R, b, trans="T")
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh((gram + gram.T) / 2)
        root = np.sqrt(np.maximum(values, ridge))
        return np.ascontiguousarray(root[:, None] * vectors.T), (vectors.T @ b) / root


def manifold_program(op, Xy, phi):
    """(w over all points, the velocity J_A^T w) at phi (normalised margins near 1): the quadratic program
    min w^T G w / 2 - b^T w over w >= 0 with the capture constraints' b. It is solved on the points whose constraint
    can bind (those near the lowest margin: their Gram matrix has full rank where all n points' may not, n > P), and
    again with any other point whose margin the solution would lower faster than its constraint allows."""
    from scipy.optimize import nnls  # here: scipy.optimize costs 0.3 s to import, and only deep runs get here

    margins = Xy @ op.beta(phi)
    if not np.all(np.isfinite(margins)):
        return None, None
    bound = 1.0 - CAPTURE_RATE * np.maximum(margins - margins.min() - CAPTURE_BAND, 0.0)
    active = bound > -1.0
    while True:
        rows = Xy[active]
        gram = op.gram(rows, phi)
        R, target = _least_squares_form(gram, bound[active])
        w_active, _ = nnls(R, target)
        velocity = op.pullback(rows.T @ w_active, phi[None, :])[0]
        rates = Xy @ op.beta_jvp(phi[None, :], velocity[None, :])[0]  # (G w)_i for every point
        violated = ~active & (rates < bound - 1e-9)
        if not violated.any():
            break
        active |= violated
    weights = np.zeros(Xy.shape[0])
    weights[active] = w_active
    return weights, velocity
