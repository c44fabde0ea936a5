"""A classification flow's deep phase: its limit on the support vectors' slow manifold, in scaled coordinates.

Deep in a classification flow (tau = -log L large) the softmax weights p_i ~ exp(-m_i) of the margins
m_i = y_i f(x_i; Theta) depend on margin differences of order 1 between numbers of order tau: float64 resolves
them to tau * eps (at tau = 1e12, 1e-4), and the flow is stiff, its support vectors' margins held together on a
slow manifold. Its limit as tau -> infinity is a differential-algebraic equation without either problem. Where the
margins of the active points rise together, d m_i / d tau = 1, the velocity d Theta / d tau = g / |g|^2 with
g = sum_i p_i grad m_i becomes J_A^T w, where J_A holds the active points' margin gradients and w >= 0 solves

    min_w  w^T G w / 2 - 1^T w,    G = J_A J_A^T,                                    (the points' Gram matrix)

(the KKT conditions say: a point with w_i > 0 rises at rate exactly 1, one with w_i = 0 at least at rate 1; p is w
normalised). Every linear tensor network is homogeneous of degree L in Theta, so in phi = Theta / tau^(1/L) and
s = log tau the equation is autonomous,

    d phi / d s = J_A(phi)^T w(phi) - phi / L,

the normalised margins m_i(phi) relax to 1 at rate 1 (d m_i / d s = 1 - m_i on the support) and nothing grows:
s = log tau reaches tau = 1e30 in a few units, and the margins' ties are constraints, not differences to resolve.
The difference from the flow is of order 1/tau relative (the margins' order-1 spread), below float64's resolution
of Theta from tau = 1e16 on.

Which points are active is not decided by a threshold, which would make the velocity jump as a point enters
(``limit_weights.manifold_program`` says how). Against the flow integrated with the low-rank Radau method on Corollary
2's d = 1000, n = 100 instance (diag L = 2, 60 support vectors, tau = 1e8 to 2e9: the Radau method took 584 s), the
directions agree to 3e-6 degrees, beta to 5e-8 relative (tests/unit/test_slow_manifold.py compares on small ones).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import DOP853

from ..limit_weights import manifold_program
from .structured import DenseSteps

__all__ = ["SlowManifoldPhase"]

RTOL = 1e-9  # DOP853's relative tolerance in phi (the model's own error is ~1e-7 relative, at capture)
ATOL = 1e-13


class SlowManifoldPhase:
    """The deep phase from (theta, tau): DOP853 on phi in s = log tau. ``to(goal)`` returns Theta at tau = goal
    (from the step's dense output), or None where the integration failed; ``evaluations`` counts the velocities
    (each a quadratic program)."""

    def __init__(self, problem, theta, tau):
        self.op = problem.network.operator
        self.depth = problem.network.depth
        self.Xy = problem.X * problem.y[:, None]
        self.evaluations = 0
        phi = theta / tau ** (1.0 / self.depth)
        self._steps = DenseSteps(
            DOP853(self._velocity, np.log(tau), phi, np.inf, rtol=RTOL, atol=ATOL, first_step=1e-3)
        )

    def _velocity(self, s, phi):
        self.evaluations += 1
        _, velocity = manifold_program(self.op, self.Xy, phi)
        if velocity is None:
            return np.full(phi.size, np.nan)  # a wild trial stage: DOP853 rejects the step
        return velocity - phi / self.depth

    def to(self, goal):
        phi = self._steps.to(np.log(goal))
        return None if phi is None else goal ** (1.0 / self.depth) * phi

    def close(self):
        self._steps.close()
