"""The exact flow on a network's structured operator, for networks too large for the entry list.

The velocity is the re-timed flow of ``kernels``: with tau = -log L and g = grad log L,
d Theta / d tau = -g / |g|^2, computed with ``network.operator`` (FFT, matrix chain, elementwise) in
O(P + n d) or O(n d log d) per evaluation.

Once several points are support vectors the flow is stiff, and an explicit method crawls. Its Jacobian
is -(I - 2 g g^T/|g|^2) H / |g|^2 with H the Hessian of log L, and the stiff part of H is the loss's
curvature seen through the per-point gradients: with U = [grad f(x_1), ..., grad f(x_n)] (P x n),

    classification (softmax weights w):  H = U diag(w) U^T - g g^T + Hess f(u),
    regression (L = |r|^2 / 2):          H = U U^T / L - g g^T + Hess f(X^T r) / L.

Hess f(u) is O(1/tau) on the flow's own time scale (the slow part), so the Jacobian without it is a
rank-(n+1) matrix J = A B^T, and (a I - J)^{-1} b = (b + A (a I - B^T A)^{-1} B^T b) / a (Woodbury) costs
an (n+1) x (n+1) solve instead of a P x P one. A and B are never formed: applying them is a pullback
and a Jacobian-vector product of beta, and B^T A needs only the points' Gram matrix (``Operator.gram``,
closed-form for diag and fc), so memory stays O(P + n^2). ``LowRankRadau`` is scipy's Radau IIA (order 5,
L-stable) with its linear algebra replaced by that: simplified Newton converges with any Jacobian that
holds the stiff part, so the solution is Radau's own, to its tolerance. Points whose softmax weight is
below 1e-16 of the largest add nothing to H and are left out of U.

Most of a flow is not stiff, though (early on, and regressions until their last decades), and there an explicit
method costs a fraction of Radau's Newton iterations: ``ExplicitPhase`` integrates it with scipy's DOP853
at the flow's own rtol, and the solver hands over to Radau from the last level's state where DOP853's steps are
bounded by its stability rather than its accuracy (``StiffnessTest``: after a level most of whose steps sat at the
stability boundary, or within a level that passed its budget of EXPLICIT_LEVEL_STEPS steps with most of them at half
of it), or where the measured -log L has drifted from tau (``drifted``: a regression's residual at the rounding floor
of theta, or a stiff part the error control let through). A level over its budget whose steps accuracy bounds stays
explicit (Radau's steps would be as short, and dearer), up to EXPLICIT_LEVEL_CAP times its budget.

Both integrate the same coordinates, built once at the run's start (``Coordinates``): theta, or fewer where the
operator has them (``Operator.flow_coordinates``: fc's first layer in the data's row space, W_1 = W_1(0) + X^T B, a
tenth of theta at d = 1000, n = 100; a hundredth at depth 2 and width d, where w_2 and B's rows stay in n + 1
dimensions). There the points' outputs are linearised in those coordinates (the operator's ``linearization``), and
the low-rank Jacobian is theta's conjugated by the map to theta, with the same core B^T A.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import DOP853, Radau
from scipy.integrate._ivp import dop853_coefficients as tableau
from scipy.integrate._ivp.base import OdeSolver
from scipy.linalg import lu_factor, lu_solve

from .implicit import ManifoldStartMixin


class Velocity:
    """The re-timed flow's velocity -g/|g|^2 and log L on one problem, by the network's operator."""

    def __init__(self, problem):
        self.op = problem.network.operator
        self.problem, self.X, self.y = problem, problem.X, problem.y
        self.classification = problem.task == "classification"
        self.evaluations = 0

    def loss_of(self, f):
        """(log L, d log L / d f, the weights of the Hessian's per-point term) at the outputs f."""
        log_loss, slope, w = self._slope(f)
        return log_loss, slope, (w if w is None or self.classification else np.full(slope.size, w))

    def _slope(self, f):
        """(log L, d log L / d f, the Hessian's weights: the points' (classification) or 1/L for every point) at the
        outputs f; (+-inf, None, None) where a regression's loss is 0 or overflows."""
        if self.classification:
            margins = -self.y * f
            top = margins.max()
            e = np.exp(margins - top)
            total = e.sum()
            w = e / total
            return top + np.log(total), -self.y * w, w
        r = f - self.y
        loss = 0.5 * (r @ r)
        if not (loss > 0.0 and np.isfinite(loss)):
            return (-np.inf if loss == 0.0 else np.inf), None, None
        return np.log(loss), r / loss, 1.0 / loss

    def log_loss(self, theta) -> float:
        return self._slope(self.X @ self.op.beta(theta))[0]

    def __call__(self, theta):
        """(-g/|g|^2, log L); NaN velocity at a stationary point or an overflow."""
        self.evaluations += 1
        log_loss, r, _ = self._slope(self.X @ self.op.beta(theta))
        if r is None:
            return np.full(theta.size, np.nan), log_loss
        g = self.op.pullback(self.X.T @ r, theta)
        g2 = g @ g
        if not (g2 > 0.0 and np.isfinite(g2)):
            return np.full(theta.size, np.nan), log_loss
        return g * (-1.0 / g2), log_loss

    def jacobian(self, theta) -> LowRank:
        """The velocity's Jacobian without the slow Hess f term, as a rank-(k+1) map (k kept points)."""
        return Coordinates(self, theta).jacobian(theta)

    def coordinates(self, theta) -> Coordinates:
        """The coordinates a flow from theta moves in: fewer where the operator has them
        (``Operator.flow_coordinates``), theta itself otherwise."""
        reduced = self.op.flow_coordinates(self.X, theta)
        return Coordinates(self, theta) if reduced is None else ReducedCoordinates(self, reduced)


class Coordinates:
    """A flow integrated in theta itself: ``start``, the velocity ``(y) -> dy/dtau``, its low-rank ``jacobian(y)``,
    the points' ``outputs(y)`` and their ``linearization(y, keep)``, and ``theta_of(y)``; ``reduced`` says whether
    these are fewer coordinates than theta's."""

    reduced = False

    def __init__(self, velocity: Velocity, theta):
        self.start, self.velocity = theta.copy(), velocity

    def __call__(self, y):
        return self.velocity(y)[0]

    def outputs(self, y):
        return self.velocity.X @ self.velocity.op.beta(y)

    def linearization(self, y, keep) -> PointLinearization:
        return PointLinearization(self.velocity.op, y, self.velocity.X[keep])

    def theta_of(self, y):
        return y

    def jacobian(self, y) -> LowRank:
        """The velocity's Jacobian without the slow Hess f term, as a rank-(k+1) map (k kept points: those whose
        weight in H is at least 1e-16 of the largest; the others add nothing to it)."""
        _, r, w = self.velocity.loss_of(self.outputs(y))
        if r is None:
            return LowRank.zero()
        keep = w >= 1e-16 * w.max()
        return LowRank(self.linearization(y, keep), r[keep], w[keep])


class ReducedCoordinates(Coordinates):
    """A flow integrated in the fewer coordinates ``Operator.flow_coordinates`` gives (a fully-connected network's
    first layer in the data's row space), exactly: theta = ``theta_of(y)``; the velocity, the outputs' linearisation
    and so the Jacobian are theta's, mapped back (the velocity stays in the coordinates' range)."""

    reduced = True

    def __init__(self, velocity: Velocity, reduced):
        self.start, self.velocity, self._reduced = reduced.start, velocity, reduced

    def __call__(self, y):
        self.velocity.evaluations += 1
        return self._reduced.velocity(y, self.velocity.loss_of)

    def outputs(self, y):
        return self._reduced.outputs(y)

    def linearization(self, y, keep):
        return self._reduced.linearization(y, keep)

    def theta_of(self, y):
        return self._reduced.theta_of(y)


class PointLinearization:
    """The points' outputs f(x_i; Theta) linearised at theta, in theta's coordinates: ``pullback(a)``, the gradient
    of sum_i a_i f(x_i); ``jvp(x)``, the outputs' derivative along x; ``gram``, the gradients' Gram matrix. A
    network's fewer flow coordinates give their own (same gram: it is theta's metric). ``stacked``: the maps take
    a leading axis of vectors (as the operators do), so that a complex vector's two parts go through at once."""

    stacked = True

    def __init__(self, op, theta, X):
        self.op, self.theta, self.X = op, theta, X
        self.gram = op.gram(X, theta)

    def pullback(self, a):
        return self.op.pullback(a @ self.X, self.theta)

    def jvp(self, x):
        return self.op.beta_jvp(self.theta, x) @ self.X.T


STAGES = tableau.N_STAGES  # DOP853's 12; its K[12] is the velocity at the step's new state
EXPLICIT_LEVEL_STEPS = 20  # DOP853 steps (12 velocities each) a level may take before StiffnessTest judges it
# A classification's levels get at most this many (measured at d = 1000, n = 100 against 20 and 10, alternating: to
# -1e6, fc width d 6.0 -> 5.3 s, width 100 1.13 -> 0.88 s, diag L = 2 and conv ~3 % faster, beta within 4e-10): its
# stiff phase is its support vectors' manifold, which the low-rank Jacobian holds. A regression's early levels are not
# (``judged_from``): there Radau crawls, and handing over sooner made diag L = 3 three times slower.
CLASSIFICATION_LEVEL_STEPS = 5
FIRST_LEVEL_BUDGET = 5  # times EXPLICIT_LEVEL_STEPS on the first level (diag L = 3 regression at d = 1000: 46 steps)
# Where a level passes its budget but accuracy, not stability, bounds DOP853's steps (or a regression's stiffness is not
# judged yet: ``judged_from``), it goes on explicitly up to this many times its budget: an initial transient (diag L = 3
# regression at d = 1000, alpha = 0.1: 334 steps to tau = -3, accuracy-bound; handing it to Radau took 7.8 s against
# 3-4 s) or the saddle crossings at a small alpha (alpha = 0.01: more than 200 steps a level to tau = 0; at ten times
# its budget it went to Radau there, 25 s against 15 s).
EXPLICIT_LEVEL_CAP = 100


def level_steps(task: str) -> int:
    """The explicit steps a level of a flow of this task may take before its stiffness is judged (``StiffnessTest``)."""
    if task == "classification":
        return min(EXPLICIT_LEVEL_STEPS, CLASSIFICATION_LEVEL_STEPS)
    return EXPLICIT_LEVEL_STEPS


DRIFT = 1e-6  # measured -log L may differ from tau by this, relative to max(1, |tau|)
# DOP853's rtol, times this, in an operator's fewer coordinates (flow_coordinates): at the flow's own rtol the
# measured -log L drifted from tau sooner there (fc width 100 regression at d = 1000: at log L = -19 instead of
# -22), handing over to Radau over all of theta early (fc L = 3 of width d: 127 s instead of 64 s); at a hundredth it
# hands over where theta's DOP853 did (33 s), and the cheaper steps pay for the tighter tolerance. (Since Radau works in
# the same coordinates, the flow's own rtol and a hundredth of it measured within this machine's noise of each other,
# one run each of fc width 100 and d, L = 2 and 3: kept, the tighter.)
FEWER_COORDINATES_RTOL = 0.01


def initial_step(velocity, theta) -> float:
    """A first step in tau that moves theta by about 1 %."""
    F, _ = velocity(theta)
    first = 0.01 * np.linalg.norm(theta) / np.linalg.norm(F) if np.all(np.isfinite(F)) else 1e-6
    return first if np.isfinite(first) and first > 0 else 1e-6


class DenseSteps:
    """An explicit scipy solver driven step by step (not solve_ivp, which keeps every step's state: GBs at
    P = 10^6): ``to(goal, budget)`` steps until the solver is at or past goal and returns its state there, from the
    last step's dense output (one interpolant a step, for every goal inside it), or None where that took more than
    ``budget`` steps (and ``stiffness``, a ``StiffnessTest``, says the steps are bounded by stability) or failed."""

    def __init__(self, solver, stiffness=None):
        self.solver, self.steps, self.stiffness = solver, 0, stiffness
        self._dense, self._dense_at = None, None

    def to(self, goal, budget=np.inf):
        solver, taken, stiffness = self.solver, 0, self.stiffness
        if stiffness is not None:
            stiffness.new_level()
        while solver.t < goal:
            if taken >= budget and (stiffness is None or stiffness.over_budget(budget)):
                return None
            y_old = solver.y  # scipy's step makes a new array
            solver.step()
            taken += 1
            self.steps += 1
            if solver.status != "running" or not np.all(np.isfinite(solver.y)):
                return None
            if stiffness is not None:
                stiffness.stepped(solver, y_old)
        if stiffness is not None:
            stiffness.end_level()
        if solver.t == goal:
            return solver.y.copy()
        if self._dense_at != solver.t:  # DOP853: 3 more velocities an interpolant
            self._dense, self._dense_at = solver.dense_output(), solver.t
        return self._dense(goal)

    def close(self):
        """Free the solver's stages (DOP853: 16 of the state's size)."""
        self.solver.__dict__.clear()
        self._dense = None


class StiffnessTest:
    """Whether DOP853's steps are bounded by its stability, not its accuracy: Hairer's estimate of |h lambda| from
    a step's last two stages (the stiffness test of his DOP853 code), h |k_13 - k_12| / |y_new - y_12|, with k_12 the
    velocity at the 12th stage's state y_12 and k_13 at the new state. DOP853's stability region reaches about 6.1 on
    the negative real axis, where a stability-bound step sits (diag L = 3 regression at d = 1000: h lambda 5.7-6.2 per
    level from tau = 4.5 on, 1-3 while accuracy bounds the steps).

    Counted over a level's steps: ``stiff`` once a level of at least MIN_STEPS steps had most of them at
    STIFF_STEP or more (Radau takes over from its end); ``over_budget``: a level past its budget had most of its steps at
    BOUNDED_STEP or more, or has taken EXPLICIT_LEVEL_CAP times its budget. Steps before tau = ``judged_from`` are not
    counted as bounded (a regression's, while Radau's steps would be no longer: ``judged_from``)."""

    STIFF_STEP = 5.5  # at the boundary, to the estimate's scatter
    BOUNDED_STEP = 3.0  # stability at least halves the step accuracy would allow
    MIN_STEPS = 3
    STAGE = tableau.A[STAGES - 1, : STAGES - 1]  # the 12th stage's state: y + h * (STAGE . k_1..k_11)

    def __init__(self, judged_from=-np.inf):
        self.judged_from = judged_from
        self.stiff = False
        self.new_level()

    def new_level(self):
        self.taken = self.bounded = self.at_boundary = 0

    def stepped(self, solver, y_old):
        self.taken += 1
        if solver.t < self.judged_from:
            return
        h = solver.t - solver.t_old
        K = solver.K
        y_12 = y_old + np.dot(K[: STAGES - 1].T, self.STAGE) * h  # as scipy's rk_step formed it
        h_lambda = h_times_lambda(h, np.linalg.norm(K[STAGES] - K[STAGES - 1]), np.linalg.norm(solver.y - y_12))
        self.bounded += int(h_lambda >= self.BOUNDED_STEP)
        self.at_boundary += int(h_lambda >= self.STIFF_STEP)

    def end_level(self):
        self.stiff = self.stiff or bool(self.ends_stiff(self.taken, self.at_boundary))

    def over_budget(self, budget) -> bool:
        return bool(self.bounded_past_budget(self.taken, self.bounded, budget))

    # the rules on a level's counts, for one run (ints) or the rows of a batch (arrays: ``batched_flow``)
    @classmethod
    def ends_stiff(cls, taken, at_boundary):
        """A level of ``taken`` steps, ``at_boundary`` of them at STIFF_STEP or more, ends stiff."""
        return (taken >= cls.MIN_STEPS) & (2 * at_boundary >= taken)

    @classmethod
    def bounded_past_budget(cls, taken, bounded, budget):
        """A level past its budget, ``bounded`` of its ``taken`` steps at BOUNDED_STEP or more, stops (or at its cap)."""
        return (taken >= EXPLICIT_LEVEL_CAP * budget) | ((taken >= cls.MIN_STEPS) & (2 * bounded >= taken))


JUDGED_RESIDUAL = 0.1  # a regression's stiffness is judged once |r| <= this |y| (``judged_from``)


def judged_from(problem) -> float:
    """The tau from which a flow's stiffness is judged: a classification's from the start; a regression's once its
    residual is at most JUDGED_RESIDUAL of |y| (L = |r|^2 / 2). Before that the flow is still turning (its initial
    transient, the saddle crossings of a small alpha), and Radau's steps are no longer than DOP853's, stability-bound as
    those are, even with the exact Jacobian: diag L = 3, d = 200, n = 20, from the start to this tau, DOP853 217 and
    2,921 steps at alpha = 0.5 and 0.01, scipy's Radau with the exact dense Jacobian 708 and 3,144, with the low-rank
    one 709 and 3,161 (its left-out Hess f(X^T r) / L is not what bounds them); each Radau step costs several of
    DOP853's velocities. Measured at d = 1000 (diag L = 3): alpha = 0.01 26 -> 15 s, alpha = 0.1 4.3 -> 2.9 s, alpha =
    0.5 unchanged; judged from |r| = 0.3 |y|: 16 s and 3.8 s, from 0.03 |y|: 18 s and 2.9 s."""
    y2 = float(problem.y @ problem.y)
    if problem.task == "classification" or y2 == 0.0:
        return -np.inf
    return -np.log(0.5 * JUDGED_RESIDUAL**2 * y2)


def h_times_lambda(h, velocity_change, state_change):
    """Hairer's |h lambda| from the norms of k_13 - k_12 and y_new - y_12 (0 where the state did not move)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(state_change > 0, velocity_change / state_change, 0.0)
    return np.abs(h) * np.nan_to_num(ratio, nan=0.0, posinf=0.0)


class ExplicitPhase:
    """DOP853 on the velocity from (theta, tau), one solver throughout (its steps are not cut at the levels, which
    may be many to a step); ``to(goal)`` returns theta at goal from the step's dense output (7th order), or None
    where that took more than ``budget`` steps past the last level and stability bounds them (``StiffnessTest``), or
    failed; ``stiff`` says a level has ended with most of its steps at DOP853's stability boundary (Radau takes over).

    Where the operator has fewer coordinates the flow moves in (``Operator.flow_coordinates``: a fully-connected
    network's first layer stays in the data's row space), DOP853 integrates those (the run's own, where given: Radau
    then goes on in them from a level's state), and theta is rebuilt at the levels."""

    def __init__(self, velocity, theta, tau, *, rtol, atol, first_step, coordinates=None):
        coordinates = velocity.coordinates(theta) if coordinates is None else coordinates  # theta's own, or given
        if coordinates.reduced:
            rtol = rtol * FEWER_COORDINATES_RTOL
        self._theta_of = coordinates.theta_of
        self.solver = DOP853(
            lambda t, y: coordinates(y), tau, coordinates.start, np.inf, rtol=rtol, atol=atol, first_step=first_step
        )
        self._steps = DenseSteps(self.solver, StiffnessTest(judged_from(velocity.problem)))

    @property
    def steps(self) -> int:
        return self._steps.steps

    @property
    def stiff(self) -> bool:
        return self._steps.stiffness.stiff

    @property
    def evaluations(self) -> int:
        return self.solver.nfev

    def close(self):
        """Free the solver's stages once Radau has taken over."""
        self._steps.close()

    @property
    def step_size(self) -> float:
        return self.solver.h_abs

    def to(self, goal, budget=EXPLICIT_LEVEL_STEPS):
        there = self.to_coordinates(goal, budget)
        return there if there is None else self._theta_of(there)

    def to_coordinates(self, goal, budget=EXPLICIT_LEVEL_STEPS):
        """As ``to``, in the coordinates the phase integrates."""
        return self._steps.to(goal, budget)


def drifted(measured_tau: float, tau: float) -> bool:
    """Whether the measured -log L is off the integration variable tau by more than DRIFT (it is NaN at a
    stationary point or an overflow)."""
    return not abs(measured_tau - tau) <= DRIFT * max(1.0, abs(tau))


class LowRank:
    """J = A B^T with G = [grad f(x_i) for the kept points, g], D = diag(weights, -1),
    A = -(I - 2 g g^T/|g|^2) G / |g|^2 and B = G D, applied without forming G (P x (k+1)): G z is one
    pullback, G^T x one Jacobian-vector product of the outputs (g^T x = r^T of it, as g = sum_i r_i grad f(x_i)),
    and B^T A needs only the points' Gram matrix. ``points`` is their ``PointLinearization`` (or fewer
    coordinates' own, in which the maps are theta's mapped back: B^T A is the same)."""

    def __init__(self, points, r, w):
        self.points, self.r = points, r
        gram = points.gram  # (k, k)
        Ug = gram @ r  # U^T g, as g = U r
        g2 = r @ Ug
        G_G = np.block([[gram, Ug[:, None]], [Ug[None, :], np.array([[g2]])]])  # G^T G
        self.g = points.pullback(r)
        self.g2 = g2
        self.c = (2.0 / g2) * np.append(Ug, g2)  # (2/|g|^2) G^T g
        self.weights = np.append(w, -1.0)
        self.core = -(self.weights[:, None] * (G_G - np.outer(np.append(Ug, g2), self.c))) / g2  # B^T A
        self.size = self.core.shape[0]

    @classmethod
    def zero(cls):
        zero = cls.__new__(cls)
        zero.size = 0
        return zero

    def B_T(self, x):
        """B^T x = D G^T x (x a vector, or rows of vectors where the points' maps take them)."""
        outputs = self.points.jvp(x)
        return self.weights * np.concatenate([outputs, (outputs @ self.r)[..., None]], axis=-1)

    def A(self, z):
        """A z = -(G z - g (c . z)) / |g|^2 (z a vector, or rows of vectors as B_T's x)."""
        Gz = self.points.pullback(z[..., :-1]) + z[..., -1:] * self.g
        return -(Gz - self.g * (z @ self.c)[..., None]) / self.g2

    def dense(self) -> np.ndarray:
        """A B^T as a square matrix over the coordinates (for tests on small networks)."""
        return np.column_stack([self.A(self.B_T(e)) for e in np.eye(self.g.size)])


class _Identity:
    __array_ufunc__ = None  # numpy scalars defer to our operators (a * I - J in Radau's step)

    def __rmul__(self, a):
        return _Shifted(a, None)


class _Shifted:
    def __init__(self, a, jacobian):
        self.a, self.jacobian = a, jacobian

    def __sub__(self, jacobian):
        return _Shifted(self.a, jacobian)


class _Factor:
    """(a I - A B^T)^{-1} by Woodbury: the (k+1) x (k+1) system factored once (LU: a fifth of an inverse's cost at
    k = 100, complex a too, and Radau factors at every new step size)."""

    def __init__(self, shifted: _Shifted):
        self.a, self.J = shifted.a, shifted.jacobian
        k = self.J.size
        self.small = lu_factor(self.a * np.eye(k) - self.J.core, check_finite=False) if k else None

    def solve(self, b):
        if self.small is None:
            return b / self.a
        stacked = getattr(self.J.points, "stacked", False)
        z = lu_solve(self.small, _real_parts(self.J.B_T, b, stacked), check_finite=False)
        return (b + _real_parts(self.J.A, z, stacked)) / self.a


def _real_parts(linear, x, stacked=False):
    """A real linear map applied to a real or complex vector (the operators compute in real arithmetic); ``stacked``:
    the map takes both parts as two rows at once (one pass over the data: Radau's complex system is half its solves)."""
    if not np.iscomplexobj(x):
        return linear(x)
    if stacked:
        real, imaginary = linear(np.stack([x.real, x.imag]))
        return real + 1j * imaginary
    return linear(x.real) + 1j * linear(x.imag)


LANDING_STEPS = 2  # the steps to a level that ``LowRankRadau.aim_at`` makes equal


class LowRankRadau(ManifoldStartMixin, Radau):
    """scipy's Radau IIA with a low-rank Jacobian (``jac(t, y)`` returns ``LowRank``) and Woodbury solves.

    Its step (scipy's ``_step_impl``) forms ``MU / h * self.I - J``, factors it with ``self.lu`` and
    solves with ``self.solve_lu``; here those build and apply ``_Factor``, and no P x P matrix is made.
    ``first_step`` is required (the caller knows the scale of the flow); ``start``: where Newton starts (a
    classification flow's slow manifold, ``implicit.SlowManifoldStart``; None: scipy's own start);
    ``theta_of``: theta at a state, where the solver integrates fewer coordinates (``Coordinates``).
    """

    def __init__(
        self,
        fun,
        t0,
        y0,
        t_bound,
        *,
        jac,
        first_step,
        rtol,
        atol,
        max_step=np.inf,
        start=None,
        theta_of=None,
        **extraneous,
    ):
        OdeSolver.__init__(self, fun, t0, y0, t_bound, vectorized=False)
        if theta_of is not None:
            self.theta_of = theta_of
        self.y_old = None
        self.max_step = max_step
        self.atol = atol
        self.tolerate(rtol)
        self.f = self.fun(self.t, self.y)
        self.h_abs = min(abs(first_step), abs(t_bound - t0))
        self.h_abs_old = None
        self.error_norm_old = None
        self.sol = None
        self.jac_factor = None

        def jac_wrapped(t, y, _=None):
            self.njev += 1
            return jac(t, y)

        self.jac, self.J = jac_wrapped, jac_wrapped(t0, y0)

        def lu(shifted):
            self.nlu += 1
            return _Factor(shifted)

        self.lu = lu
        self.solve_lu = lambda factor, b: factor.solve(b)
        self.I = _Identity()
        self.current_jac = True
        self.LU_real = None
        self.LU_complex = None
        self.Z = None
        self.start_on(start)

    def tolerate(self, rtol):
        """Set the relative tolerance, and Newton's with it as scipy's Radau derives it (a solver carried across
        levels takes each level's, ``stiff_rtol``)."""
        self.rtol = rtol
        self.newton_tol = max(10 * np.finfo(float).eps / rtol, min(0.03, rtol**0.5))

    def aim_at(self, goal):
        """Make the steps left to ``goal`` equal where at most LANDING_STEPS of the proposed one reach it, so that the
        solver lands on goal (its t_bound) without the sliver of a step scipy would clamp there: a sliver costs a
        whole Newton solve, and its size drags the next proposal down (diag L = 3 regression at d = 1000: 3 steps a
        level where 2 do)."""
        remaining = goal - self.t
        if not self.h_abs < remaining:
            return  # one step, clamped at t_bound
        steps = np.ceil(remaining / self.h_abs)
        if steps <= LANDING_STEPS and remaining / steps != self.h_abs:
            self.h_abs = remaining / steps
            self.LU_real = self.LU_complex = None  # factored for the step it replaces
