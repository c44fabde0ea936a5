"""The implicit (Radau IIA) phase of a classification flow, deep in the loss: where Newton starts, and how
finely the velocity can be resolved.

Once several points are support vectors, the flow keeps their margins equal up to O(1) offsets (the log of
their softmax weights) while the margins themselves grow like tau = -log L: the state moves along a slow
manifold that attracts on a time scale of O(1) in tau. scipy's Radau starts each step's Newton iteration
from the previous step's collocation polynomial, which misses that manifold by about h^2/tau in the margins
(L = 2); the weights are exponential in the margins, so the iteration fails and the step is halved, until
h ~ sqrt(tau): the steps per decade of tau grew without bound (docs/results.md, "How deep a classification
flow goes"). ``SlowManifoldStart`` starts it on the manifold instead, from tau = DEEP on: each stage's state is
the current one corrected (Gauss-Newton along the support vectors' margin gradients) to margins that have all grown by the
stage's time, their offsets kept. The collocation solution Newton converges to is Radau's own; only its start
moves.

The velocity itself is computed from margins of size tau, so its relative rounding is about tau * eps;
``stiff_rtol`` keeps Radau's tolerance above it (``ROUNDING`` times that), or the error estimate and Newton
chase the rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import Radau

ROUNDING = 1.0  # Radau's rtol >= ROUNDING * tau * eps (the velocity's relative rounding)
# Newton starts on the manifold from this tau on. Before, scipy's own start converges (the margins' miss is small
# against the weights' scale), and early, when most points still carry weight, the start would move them all:
# digits 0/1 (360 points), fc L = 2 to -1e6 took 136 s with it from the start, 8 s without.
DEEP = 1e7
ACTIVE = 1e-8  # points whose softmax weight is above this fraction of the largest hold the manifold
MARGIN_TOLERANCE = 1e-3  # a stage's margins are put on their targets to this (absolute: weights to 0.1 %)
MAX_ITERATIONS = 20


def stiff_rtol(rtol: float, task: str, tau: float) -> float:
    """Radau's relative tolerance for a classification flow at tau: ``rtol``, or the velocity's rounding."""
    if task != "classification":
        return rtol
    return max(rtol, ROUNDING * abs(tau) * np.finfo(float).eps)


class SlowManifoldStart:
    """Newton's start for Radau's stages on a classification flow's slow manifold (see the module), in the
    coordinates the solver integrates (``structured.Coordinates``: theta, or fewer)."""

    def __init__(self, coordinates, labels):
        self.coordinates, self.labels = coordinates, labels  # margin_i = labels_i f(x_i)

    def stages(self, t, state, times) -> np.ndarray:
        """States at ``times`` (columns, as scipy's dense output gives them) to start Newton from: the state with
        the active points' margins moved up by (time - t), their differences kept."""
        margins = self.labels * self.coordinates.outputs(state)
        active = np.nonzero(np.exp(margins.min() - margins) > ACTIVE)[0]
        out = np.empty((state.size, len(times)))
        for j, time in enumerate(times):
            out[:, j] = self._onto(state, active, margins[active] + (time - t))
        return out

    def _onto(self, state, active, target) -> np.ndarray:
        """The state moved along the active margins' gradients until they are at target (Gauss-Newton; margins
        are polynomials of degree L in theta). Where it cannot get there, the best point reached: Newton decides."""
        tolerance = MARGIN_TOLERANCE + 10 * np.finfo(float).eps * np.max(np.abs(target))
        signs = self.labels[active]
        for _ in range(MAX_ITERATIONS):
            miss = signs * self.coordinates.outputs(state)[active] - target
            if not np.all(np.isfinite(miss)) or np.max(np.abs(miss)) <= tolerance:
                break
            points = self.coordinates.linearization(state, active)
            step = np.linalg.lstsq(signs[:, None] * points.gram * signs[None, :], miss, rcond=None)[0]
            state = state - points.pullback(signs * step)
        return state


class ManifoldStartMixin:
    """For a subclass of scipy's Radau: each step's Newton iteration starts from ``start.stages`` (a
    ``SlowManifoldStart``, set by the caller before the first step; None keeps scipy's own start). scipy reads
    the start from the dense output of the last step (``Z0 = sol(t + h C) - y``), which is all this replaces:
    nothing here asks for dense output."""

    start: SlowManifoldStart | None = None

    @staticmethod
    def theta_of(y):
        """Theta at the solver's state y (theta itself; a solver in fewer coordinates maps them back)."""
        return y

    def start_on(self, start: SlowManifoldStart | None):
        """Start every Newton iteration from ``start`` (None: scipy's own start), the first step's too."""
        self.start = start
        if start is not None and self.t >= DEEP:
            self.sol = self._compute_dense_output()
        return self

    def _compute_dense_output(self):
        if self.start is None or self.t < DEEP:
            return super()._compute_dense_output()
        t, theta, start = self.t, self.y.copy(), self.start
        return lambda times: start.stages(t, theta, np.atleast_1d(times))


class ManifoldRadau(ManifoldStartMixin, Radau):
    """scipy's Radau IIA (the exact Jacobian) with its Newton iterations started by ``start``; for solve_ivp's
    ``method``, with ``start`` among its options."""

    def __init__(self, *args, start: SlowManifoldStart | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_on(start)
