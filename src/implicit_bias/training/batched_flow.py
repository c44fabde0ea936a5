"""A sweep's flows as one batch on the network's operator: DOP853 with a step size per run, on torch (cpu, cuda) or
NumPy.

``GradientFlow``'s structured path (``structured``) integrates one run at a time with scipy's solvers. This is its
explicit phase for a batch of runs at once, so that on a GPU a sweep is one batch: the same re-timed velocity
-g/|g|^2 in tau = -log L (``BatchVelocity``), in the same coordinates, and scipy's DOP853 as ``structured.ExplicitPhase``
drives it, row by row: its tableau, error norm and step-size control, steps not cut at the levels, a level inside a
step read from the step's dense output (7th order), and the structured path's hand-over rules. So each run takes the
steps that path takes, and the two agree to rounding (while no accept-or-reject decision sits at it). A run leaves
the batch at the last level it reached when

- it has reached its last level (``done``);
- it is a classification at or past DEEP_TAU, where the flow goes on on its support vectors' slow manifold
  (``deep``);
- its steps are bounded by DOP853's stability (``stiff``: several support vectors, a regression's last decades; the
  structured path's ``StiffnessTest``: a level with most of its steps at the stability boundary, or one past its
  budget with most of them at half of it or past EXPLICIT_LEVEL_CAP times its budget), its measured -log L drifted
  from tau (``drifted``), its step underflowed or its velocity was not finite (``failed``), or it spent max_steps
  velocity evaluations (``max_steps``),

and the caller carries it on from there on the host (the low-rank Radau method, the slow manifold, the push of the
measured loss to its target).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from scipy.integrate._ivp import dop853_coefficients as tableau

from .array_library import array_library
from .structured import (
    FEWER_COORDINATES_RTOL,
    STAGES,  # 12 (and the 13th, the velocity at the new state, is the next step's first)
    StiffnessTest,
    h_times_lambda,
    judged_from,
)

EXTENDED = tableau.N_STAGES_EXTENDED  # 16: three more stages for a step's dense output
A = tableau.A  # rows 13-15: the dense output's extra stages
B = tableau.B
E3, E5 = tableau.E3, tableau.E5  # on the 13 stages
D = tableau.D  # the dense output's higher coefficients, on the 16 stages
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0  # scipy's step-size control (scipy.integrate._ivp.rk)
ERROR_EXPONENT = -1.0 / 8.0  # DOP853's error estimator is of order 7


class ThetaCoordinates:
    """A batch moving in theta itself (rows of ``start``), by the network's operator: the protocol of
    ``Operator.batched_flow_coordinates``."""

    theta_of = None

    def __init__(self, op, X, thetas):
        self.op, self.X, self.start = op, X, thetas

    def outputs(self, theta):
        return self.beta(theta) @ self.X.T

    def beta(self, theta):
        return self.op.beta(theta)

    def keep(self, index):
        return self  # nothing of a run's own

    def velocity(self, theta, loss_of):
        log_loss, r = loss_of(self.outputs(theta))
        g = self.op.pullback(r @ self.X, theta)
        g2 = (g * g).sum(-1)
        return -g / g2[:, None], log_loss, g2


class BatchVelocity:
    """The re-timed flow's velocity -g/|g|^2 and log L for a batch of runs, in the array library ``lib``
    (``array_library``), in the coordinates the batch moves in: the operator's fewer ones where it has them
    (``Operator.batched_flow_coordinates``: a two-layer fc network's row space), else theta; NaN velocity where
    |g|^2 is zero or not finite."""

    def __init__(self, problem, lib, thetas):
        op = problem.network.operator
        reduced = op.batched_flow_coordinates(problem.X, thetas, lib)
        self.coordinates = reduced or ThetaCoordinates(op, lib.as_array(problem.X), lib.as_array(thetas))
        self.reduced = reduced is not None
        self.lib, self.y = lib, lib.as_array(problem.y)
        self.classification = problem.task == "classification"

    def loss_of(self, f):
        """(log L, d log L / d f) at the outputs f (runs, n)."""
        lib = self.lib
        if self.classification:
            margins = -self.y * f
            top = lib.amax(margins)
            e = lib.exp(margins - top[:, None])
            total = e.sum(-1)
            return top + lib.log(total), -self.y * (e / total[:, None])
        residual = f - self.y
        loss = 0.5 * (residual * residual).sum(-1)
        return self.lib.log(loss), residual / loss[:, None]

    def __call__(self, y):
        v, log_loss, g2 = self.coordinates.velocity(y, self.loss_of)
        bad = ~((g2 > 0) & self.lib.isfinite(g2))
        return self.lib.where(bad[:, None], v * float("nan"), v), log_loss

    def keep(self, index):
        """This velocity for the rows ``index`` (an index array of the library's) only."""
        kept = copy.copy(self)
        kept.coordinates = self.coordinates.keep(index)
        return kept


@dataclass
class Left:
    """Where a run left the batch: the last ``level`` (index) it reached, the first step Radau takes from there (the
    structured path's: the step size it had, at most its first), the velocity evaluations it spent, and why it left
    (``done``, ``deep``, ``stiff``, ``drifted``, ``failed``, ``max_steps``)."""

    level: int
    step: float
    evaluations: int
    why: str


def _combined(coefficients, K):
    """sum_j coefficients[j] K[j] over the first len(coefficients) stages: one matrix-vector product, as scipy's."""
    count = coefficients.shape[0]
    return (coefficients @ K[:count].reshape(count, -1)).reshape(K.shape[1:])


class _Tableau:
    """DOP853's coefficients in the array library, on the device once (a host array in a step is a copy to the
    device, and a wait, each time)."""

    def __init__(self, lib):
        self.lib = lib
        self.rows = [lib.as_array(A[s, :s]) for s in range(EXTENDED)]
        self.weights, self.error5, self.error3 = lib.as_array(B), lib.as_array(E5), lib.as_array(E3)
        self.dense = lib.as_array(D)


def _interpolant(velocity, tableau, y_old, y_new, K, h):
    """The step's dense output (scipy's ``DOP853._dense_output_impl``) for rows y_old -> y_new of size h, whose
    stages are K (the first 13 of 16; K[0] the velocity at y_old, K[12] at y_new): the three more stages and the
    polynomial's coefficients F (7, rows, p)."""
    lib = tableau.lib
    h_column = lib.as_array(h)[:, None]
    K = lib.stack([*K, *([K[0]] * (EXTENDED - STAGES - 1))])  # room for the three extra stages
    for s in range(STAGES + 1, EXTENDED):
        K[s] = velocity(y_old + h_column * _combined(tableau.rows[s], K))[0]
    delta = y_new - y_old
    higher = h_column * (tableau.dense @ K.reshape(EXTENDED, -1)).reshape(-1, *y_old.shape)
    return lib.stack([delta, h_column * K[0] - delta, 2 * delta - h_column * (K[STAGES] + K[0]), *higher])


def _interpolated(lib, F, y_old, x):
    """The dense output at the fractions x (per row) of the step (scipy's ``Dop853DenseOutput``)."""
    x = lib.as_array(x)[:, None]
    y = 0.0 * y_old
    for i in range(F.shape[0]):
        y = y + F[F.shape[0] - 1 - i]
        y = y * x if i % 2 == 0 else y * (1 - x)
    return y + y_old


def _attempt(velocity, tableau, y, K, h, rtol, atol):
    """One DOP853 step of size h (per row) from y, whose velocity is K[0]: the stages into K (K[STAGES], the velocity
    at the new state), the new state, and on the host its log L, the error norm (scipy's ``_estimate_error_norm``) and
    Hairer's |h lambda| (``structured.StiffnessTest``)."""
    lib = tableau.lib
    h_column = lib.as_array(h)[:, None]
    for s in range(1, STAGES):
        stage = y + h_column * _combined(tableau.rows[s], K)
        K[s] = velocity(stage)[0]
    y_new = y + h_column * _combined(tableau.weights, K)
    K[STAGES], log_loss = velocity(y_new)
    scale = atol + lib.maximum(lib.abs(y), lib.abs(y_new)) * rtol
    err5 = ((_combined(tableau.error5, K) / scale) ** 2).sum(-1)
    err3 = ((_combined(tableau.error3, K) / scale) ** 2).sum(-1)
    velocity_change = lib.sqrt(((K[STAGES] - K[STAGES - 1]) ** 2).sum(-1))  # stage is the 12th stage's state
    state_change = lib.sqrt(((y_new - stage) ** 2).sum(-1))
    # what the host decides on, in one copy (on a GPU each copy waits for the device)
    err5, err3, log_loss, velocity_change, state_change = lib.to_numpy(
        lib.stack([err5, err3, log_loss, velocity_change, state_change])
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        size = y.shape[1]
        error = np.where((err5 == 0) & (err3 == 0), 0.0, h * err5 / np.sqrt((err5 + 0.01 * err3) * size))
    return y_new, log_loss, error, h_times_lambda(h, velocity_change, state_change)


def _step_control(error, h, rejected):
    """scipy's control of each row's step size (``rk.RungeKutta._step_impl``): whether its step of size h is accepted
    (error < 1; NaN is not) and the next step size."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = SAFETY * error**ERROR_EXPONENT
        growth = np.where(error == 0, MAX_FACTOR, np.minimum(MAX_FACTOR, factor))
        shrink = np.maximum(MIN_FACTOR, np.nan_to_num(factor, nan=MIN_FACTOR))
    growth = np.where(rejected, np.minimum(1.0, growth), growth)  # no growth right after a rejected attempt
    accepted = error < 1
    return accepted, h * np.where(accepted, growth, shrink)


class _Batch:
    """The runs still in the batch: their state on the device (rows of y, and DOP853's 13 stages K, of which K[0] is
    the velocity at y; the velocity, whose coordinates may hold matrices of each run's) and their bookkeeping on the
    host, one entry per row; ``runs`` maps a row to its run."""

    def __init__(self, y, K, tau, first, velocity):
        size = tau.size
        self.runs, self.y, self.K, self.velocity = np.arange(size), y, K, velocity
        self.tau, self.step, self.first = tau, first.copy(), first
        self.next = np.zeros(size, dtype=np.int64)  # the level each row is heading for
        self.on_level = np.zeros(size, dtype=np.int64)  # steps since its last level
        self.budget = np.zeros(size, dtype=np.int64)
        self.evaluations = np.ones(size, dtype=np.int64)
        self.rejected = np.zeros(size, dtype=bool)  # the last attempt was rejected (no growth on the next accepted)
        # ``structured.StiffnessTest``'s counts over the steps since the last level, and its verdict
        self.bounded = np.zeros(size, dtype=np.int64)
        self.at_boundary = np.zeros(size, dtype=np.int64)
        self.stiff = np.zeros(size, dtype=bool)

    def keep(self, rows, lib):
        if rows.all():
            return
        for name in BOOKKEEPING:
            setattr(self, name, getattr(self, name)[rows])
        index = lib.flags(np.nonzero(rows)[0])
        self.y, self.K = self.y[index], self.K[:, index]
        self.velocity = self.velocity.keep(index)


BOOKKEEPING = (
    "runs", "tau", "step", "first", "next", "on_level", "budget", "evaluations", "rejected", "bounded", "at_boundary",
    "stiff",
)  # fmt: skip


def batched_flow(
    problem,
    thetas,
    levels,
    records,
    *,
    rtol: float,
    atol: float,
    level_steps: int,
    first_level_budget: int,
    max_steps: int,
    deep_tau: float | None,
    drifted,
    device=None,
    progress=None,
) -> list[Left]:
    """Integrate every row of ``thetas`` (R, P; NumPy) through its row of ``levels`` (R, K; +inf past a run's last),
    from tau = levels[:, 0], recording each level reached in ``records`` = (beta (R, K, d), log_loss (R, K),
    reached (R, K), theta: a (K, P) record per run). ``level_steps``: the steps a level may take before its stiffness
    is judged (``first_level_budget`` times that on the first); ``deep_tau``: a classification leaves at the first
    level at or past it (None: no such bound); ``drifted(measured_tau, tau)``: the structured path's drift test.
    Returns where each run left."""
    lib = array_library(device, "flow.device")
    test, judged_from_tau = StiffnessTest, judged_from(problem)  # its thresholds, and from where it counts
    velocity = BatchVelocity(problem, lib, thetas)
    theta_of = velocity.coordinates.theta_of  # by run
    if velocity.reduced:  # as the structured path's DOP853 in fewer coordinates (``structured.ExplicitPhase``)
        rtol = rtol * FEWER_COORDINATES_RTOL
    beta_rec, log_loss_rec, reached_rec, theta_rec = records
    count = np.isfinite(levels).sum(axis=1)
    runs = thetas.shape[0]
    y = velocity.coordinates.start
    F, log_loss = velocity(y)
    # the first step moves theta by about 1 % (``structured.initial_step``): |d theta / d tau| = 1 / |g|
    g2 = lib.to_numpy(velocity.coordinates.velocity(y, velocity.loss_of)[2])
    with np.errstate(invalid="ignore"):
        norms = np.linalg.norm(thetas, axis=1) * np.sqrt(g2)
    first = np.where(np.isfinite(norms) & (norms > 0), 0.01 * norms, 1e-6)
    K = lib.empty((STAGES + 1, *y.shape))
    K[0] = F
    batch = _Batch(y, K, levels[:, 0].astype(np.float64), first, velocity)
    tableau = _Tableau(lib)
    left: list[Left | None] = [None] * runs

    def record(rows, states, log_loss, beta):
        """Each of ``rows`` (the batch's) at its next level, at ``states`` (theirs, in order), log L and beta (NumPy)."""
        states = lib.to_numpy(states)
        for i, row in enumerate(rows):
            run, k = batch.runs[row], batch.next[row]
            beta_rec[run, k], log_loss_rec[run, k], reached_rec[run, k] = beta[i], log_loss[i], levels[run, k]
            if theta_of is None:
                theta_rec[run][k] = states[i]
            else:
                theta_rec[run].record(k, theta_of[run], states[i])
        batch.stiff[rows] |= test.ends_stiff(batch.on_level[rows], batch.at_boundary[rows])
        batch.next[rows] += 1
        batch.on_level[rows] = batch.bounded[rows] = batch.at_boundary[rows] = 0
        batch.budget[rows] = level_steps

    def levels_in_step(y_old, y_new, h, tau_old):
        """Record the levels each row's accepted step passed, read from the step's dense output as
        ``structured.ExplicitPhase`` reads them, up to the first at or past deep_tau; the rows whose measured -log L
        drifted from a level (they stay at the level before)."""
        off = np.zeros(batch.runs.size, dtype=bool)
        ahead = batch.next < count[batch.runs]
        goal = levels[batch.runs, np.where(ahead, batch.next, 0)]
        crossing = np.nonzero(ahead & (batch.tau > tau_old) & (goal <= batch.tau))[0]
        if not crossing.size:
            return off
        index = lib.flags(crossing)
        y_from = y_old[index]
        F = _interpolant(batch.velocity.keep(index), tableau, y_from, y_new[index], batch.K[:, index], h[crossing])
        batch.evaluations[crossing] += EXTENDED - STAGES - 1
        at = np.arange(crossing.size)  # the crossing rows still passing levels in this step
        while at.size:
            rows, part = crossing[at], lib.flags(at)
            goal = levels[batch.runs[rows], batch.next[rows]]
            states = _interpolated(lib, F[:, part], y_from[part], (goal - tau_old[rows]) / h[rows])
            coordinates = batch.velocity.keep(lib.flags(rows)).coordinates  # these rows' own (fc: their matrices)
            log_loss = lib.to_numpy(batch.velocity.loss_of(coordinates.outputs(states))[0])
            beta = lib.to_numpy(coordinates.beta(states))
            drift = np.array([drifted(-value, tau) for value, tau in zip(log_loss, goal)], dtype=bool)
            off[rows[drift]] = True
            good = np.nonzero(~drift)[0]
            if not good.size:
                break
            record(rows[good], states[lib.flags(good)], log_loss[good], beta[good])
            rows = rows[good]
            ahead = batch.next[rows] < count[batch.runs[rows]]
            last = levels[batch.runs[rows], batch.next[rows] - 1]
            goal = levels[batch.runs[rows], np.where(ahead, batch.next[rows], 0)]
            past = np.zeros(rows.size, dtype=bool) if deep_tau is None else last >= deep_tau
            at = at[good][ahead & ~past & ~batch.stiff[rows] & (goal <= batch.tau[rows])]  # stiff: Radau from here
        return off

    def leave(rows, why):
        for row in np.nonzero(rows)[0]:
            step = min(batch.step[row], batch.first[row])  # the structured path's first Radau step
            left[batch.runs[row]] = Left(int(batch.next[row] - 1), float(step), int(batch.evaluations[row]), why)

    def finished():
        """Rows past their last level, or at a level at or past deep_tau: they leave."""
        done = batch.next >= count[batch.runs]
        last = levels[batch.runs, batch.next - 1]
        deep = ~done & (last >= deep_tau) if deep_tau is not None else np.zeros_like(done)
        leave(done, "done")
        leave(deep, "deep")
        return done | deep

    record(np.arange(runs), y, lib.to_numpy(log_loss), lib.to_numpy(velocity.coordinates.beta(y)))  # level 0
    batch.budget[:] = level_steps * first_level_budget
    batch.keep(~finished(), lib)
    while batch.runs.size:
        # as ExplicitPhase: no more steps once a level has ended stiff or taken its budget bounded by stability (or its
        # cap), or with a step below scipy's least
        steps = batch.on_level
        over = (steps >= batch.budget) & test.bounded_past_budget(steps, batch.bounded, batch.budget)
        stiff = batch.stiff | over
        underflow = ~stiff & (batch.step < 10 * np.abs(np.nextafter(batch.tau, np.inf) - batch.tau))
        spent = ~(stiff | underflow) & (batch.evaluations > max_steps)
        if (stiff | underflow | spent).any():
            for rows, why in ((stiff, "stiff"), (underflow, "failed"), (spent, "max_steps")):
                leave(rows, why)
            batch.keep(~(stiff | underflow | spent), lib)
            continue
        h, tau, y_old = batch.step, batch.tau, batch.y
        y_new, log_loss, error, h_lambda = _attempt(batch.velocity, tableau, y_old, batch.K, h, rtol, atol)
        batch.evaluations += STAGES
        accepted, batch.step = _step_control(error, h, batch.rejected)
        batch.rejected = ~accepted
        batch.tau = np.where(accepted, tau + h, tau)
        batch.on_level += accepted
        judged = accepted & (batch.tau >= judged_from_tau)
        batch.bounded += judged & (h_lambda >= test.BOUNDED_STEP)
        batch.at_boundary += judged & (h_lambda >= test.STIFF_STEP)
        off = levels_in_step(y_old, y_new, h, tau)
        keep = lib.flags(accepted)[:, None]
        batch.y = lib.where(keep, y_new, y_old)
        batch.K[0] = lib.where(keep, batch.K[STAGES], batch.K[0])  # the velocity at the state each row is now at
        if progress is not None:
            progress.level(int(batch.next.min()), int(count.max()), float(np.nanmax(log_loss)))
        leave(off, "drifted")
        batch.keep(~(finished() | off), lib)
    return left
