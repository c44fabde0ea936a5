"""A sweep's flows as one batch on the network's operator: DOP853 with a step size per run, on torch (cpu, cuda) or
NumPy, each run landing on its own levels.

``GradientFlow``'s structured path (``structured``) integrates one run at a time with scipy's solvers. This is its
explicit phase for a batch of runs at once, so that on a GPU a sweep is one batch: the same re-timed velocity
-g/|g|^2 in tau = -log L (``BatchVelocity``), DOP853's tableau and step-size control as scipy's, a step size per
run, a step cut short where it would pass the run's next level (so every level is landed on, not interpolated),
and the structured path's hand-over rules. A run leaves the batch at the last level it landed on when

- it has landed on its last level (``done``);
- it is a classification at or past DEEP_TAU, where the flow goes on on its support vectors' slow manifold
  (``deep``);
- a level took more than its budget of steps (``stiff``: several support vectors, a regression's last decades),
  its measured -log L drifted from tau (``drifted``), its step underflowed or its velocity was not finite
  (``failed``), or it spent max_steps velocity evaluations (``max_steps``),

and the caller carries it on from there on the host (the low-rank Radau method, the slow manifold, the push of the
measured loss to its target). The steps differ from scipy's DOP853 in the structured path (which steps past the
levels and interpolates), so the two agree to the integration tolerance; the same batch on NumPy and on torch agree
to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate._ivp import dop853_coefficients as tableau

from .array_library import array_library

STAGES = tableau.N_STAGES  # 12 (and the 13th, the velocity at the new state, is the next step's first)
A = tableau.A[:STAGES, :STAGES]
B = tableau.B
E3, E5 = tableau.E3, tableau.E5  # on the 13 stages
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


@dataclass
class Left:
    """Where a run left the batch: the last ``level`` (index) it landed on, its step size there, the velocity
    evaluations it spent and why it left (``done``, ``deep``, ``stiff``, ``drifted``, ``failed``, ``max_steps``)."""

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
        self.rows = [lib.as_array(A[s, :s]) for s in range(STAGES)]
        self.weights, self.error5, self.error3 = lib.as_array(B), lib.as_array(E5), lib.as_array(E3)


def _attempt(velocity, tableau, y, K, h, rtol, atol):
    """One DOP853 step of size h (per row) from y, whose velocity is K[0]: the stages into K (K[STAGES], the velocity
    at the new state), the new state, and on the host its log L and the error norm (scipy's ``_estimate_error_norm``)."""
    lib = tableau.lib
    h_column = lib.as_array(h)[:, None]
    for s in range(1, STAGES):
        K[s] = velocity(y + h_column * _combined(tableau.rows[s], K))[0]
    y_new = y + h_column * _combined(tableau.weights, K)
    K[STAGES], log_loss = velocity(y_new)
    scale = atol + lib.maximum(lib.abs(y), lib.abs(y_new)) * rtol
    err5 = ((_combined(tableau.error5, K) / scale) ** 2).sum(-1)
    err3 = ((_combined(tableau.error3, K) / scale) ** 2).sum(-1)
    # what the host decides on, in one copy (on a GPU each copy waits for the device)
    err5, err3, log_loss = lib.to_numpy(lib.stack([err5, err3, log_loss]))
    with np.errstate(divide="ignore", invalid="ignore"):
        size = y.shape[1]
        error = np.where((err5 == 0) & (err3 == 0), 0.0, h * err5 / np.sqrt((err5 + 0.01 * err3) * size))
    return y_new, log_loss, error


def _step_control(error, h, proposed, lands, rejected):
    """scipy's control of each row's step size (``rk.RungeKutta._step_impl``): whether its step of size h is accepted
    (error < 1; NaN is not) and the next step size. A step cut short to land on a level (``lands``) keeps the longer
    step it was proposed where its error allows growth."""
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = SAFETY * error**ERROR_EXPONENT
        growth = np.where(error == 0, MAX_FACTOR, np.minimum(MAX_FACTOR, factor))
        shrink = np.maximum(MIN_FACTOR, np.nan_to_num(factor, nan=MIN_FACTOR))
    growth = np.where(rejected, np.minimum(1.0, growth), growth)  # no growth right after a rejected attempt
    grown = np.where(lands & (growth >= 1), np.maximum(h * growth, proposed), h * growth)
    accepted = error < 1
    return accepted, np.where(accepted, grown, h * shrink)


class _Batch:
    """The runs still in the batch: their state on the device (rows of y, and DOP853's 13 stages K, of which K[0] is
    the velocity at y; the velocity's coordinates, which may hold matrices of each run's) and their bookkeeping on the
    host, one entry per row; ``runs`` maps a row to its run."""

    def __init__(self, runs, y, K, tau, step, velocity):
        self.runs, self.y, self.K, self.velocity = runs, y, K, velocity
        self.tau, self.step = tau, step
        size = runs.size
        self.next = np.ones(size, dtype=np.int64)  # the level each row is heading for
        self.on_level = np.zeros(size, dtype=np.int64)  # accepted steps since its last level
        self.budget = np.zeros(size, dtype=np.int64)
        self.evaluations = np.ones(size, dtype=np.int64)
        self.rejected = np.zeros(size, dtype=bool)  # the last attempt was rejected (no growth on the next accepted)

    def keep(self, rows, lib):
        if rows.all():
            return
        for name in ("runs", "tau", "step", "next", "on_level", "budget", "evaluations", "rejected"):
            setattr(self, name, getattr(self, name)[rows])
        index = lib.flags(np.nonzero(rows)[0])
        self.y, self.K = self.y[index], self.K[:, index]
        self.velocity.coordinates = self.velocity.coordinates.keep(index)


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
    """Integrate every row of ``thetas`` (R, P; NumPy) through its row of ``levels`` (R, K; +inf past a run's last), from
    tau = levels[:, 0], recording each level landed on in ``records`` = (beta (R, K, d), log_loss (R, K),
    reached (R, K), theta: a (K, P) record per run). ``level_steps``: the steps a level may take
    (``first_level_budget`` times that on the first); ``deep_tau``: a classification leaves at or past it (None: no
    such bound); ``drifted(measured_tau, tau)``: the structured path's drift test. Returns where each run left."""
    from .structured import FEWER_COORDINATES_RTOL

    lib = array_library(device, "flow.device")
    velocity = BatchVelocity(problem, lib, thetas)
    coordinates = velocity.coordinates
    theta_of = coordinates.theta_of  # by run
    if velocity.reduced:  # as the structured path's DOP853 in fewer coordinates (``structured.ExplicitPhase``)
        rtol = rtol * FEWER_COORDINATES_RTOL
    beta_rec, log_loss_rec, reached_rec, theta_rec = records
    count = np.isfinite(levels).sum(axis=1)
    runs = thetas.shape[0]
    y = coordinates.start
    F, log_loss = velocity(y)

    def record(batch, rows, level, log_loss, y):
        """Level ``level[i]`` reached by each row in ``rows`` (a mask), at the given log L (NumPy) and state."""
        where = np.nonzero(rows)[0]
        if not where.size:
            return
        index = lib.flags(where)
        beta = lib.to_numpy(velocity.coordinates.beta(y)[index])
        log_loss, y = log_loss[where], lib.to_numpy(y[index])
        for i, row in enumerate(where):
            run, k = batch.runs[row], level[row]
            beta_rec[run, k], log_loss_rec[run, k], reached_rec[run, k] = beta[i], log_loss[i], levels[run, k]
            if theta_of is None:
                theta_rec[run][k] = y[i]
            else:
                theta_rec[run].record(k, theta_of[run], y[i])

    # the first step moves theta by about 1 % (``structured.initial_step``): |d theta / d tau| = 1 / |g|
    g2 = lib.to_numpy(coordinates.velocity(y, velocity.loss_of)[2])
    with np.errstate(invalid="ignore"):
        norms = np.linalg.norm(thetas, axis=1) * np.sqrt(g2)
    first = np.where(np.isfinite(norms) & (norms > 0), 0.01 * norms, 1e-6)
    K = lib.empty((STAGES + 1, *y.shape))
    K[0] = F
    batch = _Batch(np.arange(runs), y, K, levels[:, 0].astype(np.float64), first, velocity)
    batch.budget[:] = level_steps * first_level_budget
    record(batch, np.ones(runs, dtype=bool), np.zeros(runs, dtype=np.int64), lib.to_numpy(log_loss), y)
    left: list[Left | None] = [None] * runs

    def leave(rows, why):
        for row in np.nonzero(rows)[0]:
            run = batch.runs[row]
            left[run] = Left(int(batch.next[row] - 1), float(batch.step[row]), int(batch.evaluations[row]), why)

    done = count[batch.runs] <= 1
    deep = np.zeros(runs, dtype=bool) if deep_tau is None else batch.tau >= deep_tau
    leave(done, "done")
    leave(deep & ~done, "deep")
    batch.keep(~(done | deep), lib)
    tableau = _Tableau(lib)
    while batch.runs.size:
        goal = levels[batch.runs, batch.next]
        gap = goal - batch.tau
        lands = batch.step >= gap
        h = np.where(lands, gap, batch.step)
        min_step = 10 * np.abs(np.nextafter(batch.tau, np.inf) - batch.tau)
        underflow = h < min_step
        if underflow.any():
            leave(underflow, "failed")
            batch.keep(~underflow, lib)
            continue
        y_new, log_loss, error = _attempt(velocity, tableau, batch.y, batch.K, h, rtol, atol)
        batch.evaluations += STAGES
        accepted, batch.step = _step_control(error, h, batch.step, lands, batch.rejected)
        batch.rejected = ~accepted
        batch.tau = np.where(accepted, np.where(lands, goal, batch.tau + h), batch.tau)
        keep = lib.flags(accepted)[:, None]
        batch.y = lib.where(keep, y_new, batch.y)
        batch.K[0] = lib.where(keep, batch.K[STAGES], batch.K[0])  # the velocity at the state each row is now at

        landed = accepted & lands
        measured = -log_loss
        off = landed & np.array([drifted(m, g) for m, g in zip(measured, goal)])
        landed &= ~off
        record(batch, landed, batch.next, log_loss, batch.y)
        batch.next += landed
        batch.on_level = np.where(landed, 0, batch.on_level + accepted)
        batch.budget = np.where(landed, level_steps, batch.budget)
        if progress is not None and landed.any():
            progress.level(int(batch.next.min()), int(count.max()), float(-measured[landed].min()))

        done = batch.next >= count[batch.runs]
        deep = landed & ~done & (batch.tau >= deep_tau) if deep_tau is not None else np.zeros_like(done)
        stiff = ~landed & (batch.on_level >= batch.budget)
        spent = ~(done | deep | off | stiff) & (batch.evaluations > max_steps)
        for rows, why in (
            (done, "done"),
            (deep, "deep"),
            (off, "drifted"),
            (stiff & ~off, "stiff"),
            (spent, "max_steps"),
        ):
            leave(rows, why)
        batch.keep(~(done | deep | off | stiff | spent), lib)
    return left
