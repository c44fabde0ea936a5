"""Solvers: the paper's gradient descent (``gd``) and exact gradient flow (``flow``).

Each solver is a small frozen dataclass of settings with ``run(problem, thetas0)``, which trains a
batch of runs (one row of ``thetas0`` per run, all on the same problem) and returns one
``RunResult`` per run.  ``SOLVERS`` maps config names to them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

from . import codes, compiled, specialised
from .problem import Problem, RunResult
from .theta_records import ThetaRecords

FINEST_RTOL = 1e-15  # relative tolerances below float64's resolution cannot be met
MAX_CHECKPOINTS = 10_000_000  # a bound on the setting; what fits in memory is checked per run (_check_records)
MAX_RECORD_BYTES = 4 * 2**30  # beta and Theta at every checkpoint of every run of a batch
# A flow on the structured operator records Theta at fewer levels where `checkpoints` of them would take more than
# this (fc of width d at d = 1000: 200 levels of 10^6 parameters are 1.6 GB), but at least MIN_STRUCTURED_LEVELS
# (fc of depth 3 and width d, P = 2 * 10^6: 32 levels are 0.5 GB, and the run's peak stays below 1 GB). Counted at
# theta's size where ThetaRecords keeps fewer coordinates too: the run file, and a reader that builds the array, hold
# every level's theta.
THETA_RECORD_BYTES = 512 * 2**20
MIN_STRUCTURED_LEVELS = 32
# How deep a classification flow continues by default while its checks cannot decide (GradientFlow.cap). Past
# DEEP_TAU it moves on its support vectors' slow manifold (``slow_manifold``), in log tau, in seconds per tens of
# decades; the l1 biases of diag and conv networks at d = 1000 need ~1e40 to 1e50 (their gaps fall like 1/log tau).
# Beta grows like tau, and its squares must stay in float64's range.
DEFAULT_LOG_LOSS_CAP = -1e100
# A run is at a loss level tau when its measured -log L is within this of it, relative to max(1, |tau|): where the push
# to a target stops (``GradientFlow._push_to_target``), and so where a run that was pushed to DEEP_TAU starts deep.
TARGET_RTOL = 1e-9


def _require(condition: bool, message: str):
    if not condition:
        raise ValueError(message)


def _positive_int(value, name, minimum=1):
    _require(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum,
        f"{name} must be an integer >= {minimum}, got {value!r}",
    )


def _checkpoints(value, what: str) -> None:
    _positive_int(value, what, minimum=2)
    _require(value <= MAX_CHECKPOINTS, f"{what} must be at most {MAX_CHECKPOINTS}, got {value}")


def _check_records(what: str, runs: int, K: int, problem: Problem) -> None:
    """Refuse, before allocating, records that would not fit: K checkpoints of beta (d) and Theta (P)."""
    size = 8 * runs * K * (problem.network.dim + problem.network.n_params + 2)
    _require(
        size <= MAX_RECORD_BYTES,
        f"{what} = {K} for {runs} run(s) with d = {problem.network.dim} and {problem.network.n_params} parameters "
        f"would record {size / 2**30:.3g} GiB (at most {MAX_RECORD_BYTES / 2**30:g} GiB); lower {what}",
    )


def _backend(solver: str, backend, device) -> None:
    _require(backend in ("numba", "torch"), f"{solver}.backend must be 'numba' or 'torch', got {backend!r}")
    _require(
        backend == "torch" or device == "cpu",
        f"{solver}.device {device!r} needs backend 'torch' (the numba backend runs on the cpu)",
    )


def _reached(measured_tau: float, tau: float) -> bool:
    """Whether a run whose measured -log L is ``measured_tau`` is at the level tau (to TARGET_RTOL)."""
    return measured_tau >= tau - TARGET_RTOL * max(1.0, abs(tau))  # never at tau = inf (inf - inf is NaN)


def _positive_float(value, name):
    _require(
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0,
        f"{name} must be a positive finite number, got {value!r}",
    )


def _initial_parameters(problem: Problem, thetas0) -> np.ndarray:
    thetas = np.array(thetas0, dtype=np.float64, copy=True)
    if thetas.ndim == 1:
        thetas = thetas[None, :]
    _require(
        thetas.ndim == 2 and thetas.shape[1] == problem.network.n_params,
        f"initial parameters must have shape (runs, {problem.network.n_params}), got {thetas.shape}",
    )
    _require(bool(np.all(np.isfinite(thetas))), "initial parameters must be finite")
    return thetas


def _blocks(runs: int, max_block: int = 32) -> np.ndarray:
    """Split runs into blocks: at least one per thread, at most ``max_block`` runs each."""
    count = max(min(compiled.threads(), runs), -(-runs // max_block))
    return np.linspace(0, runs, count + 1).round().astype(np.int64)


PROGRESS_SECONDS = 5.0  # a long run says where it is about this often
SEGMENTS = 20  # and is driven in this many segments of its checkpoints (one when nobody listens)


class Progress:
    """Rate-limited progress lines of a long run: the step (GD) or checkpoint level (flow), log L, elapsed and,
    for GD, whose steps cost the same, the estimated time left."""

    def __init__(self, log, what: str, every: float = PROGRESS_SECONDS):
        import time

        self.log, self.what, self.every, self.clock = log, what, every, time.perf_counter
        self.start = self.last = self.clock()

    def level(self, done: int, total: int, log_loss: float) -> None:
        """A flow at checkpoint ``done`` of ``total``: no time left, as its stiff levels cost more than the first."""
        now = self.clock()
        if now - self.last < self.every or done >= total:
            return
        self.last = now
        self.log(f"{self.what}: checkpoint {done} of {total}, log L = {log_loss:.6g}, {now - self.start:.0f} s so far")

    def step(self, done: int, total: int, log_loss: float) -> None:
        now = self.clock()
        if now - self.last < self.every or done >= total:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed * (total - done) / max(done, 1)
        self.log(
            f"{self.what}: step {done} of {total} ({100 * done / total:.0f} %), log L = {log_loss:.6g}, "
            f"{elapsed:.0f} s so far, about {left:.0f} s left"
        )


def _segments(steps: np.ndarray, progress) -> list[tuple[int, int]]:
    """Checkpoint ranges [lo, hi) to run one after another; consecutive ranges share a checkpoint (the end of
    one is the start of the next). One range when no progress is wanted."""
    if progress is None or steps.size < 3:
        return [(0, steps.size)]
    cuts = np.unique(np.searchsorted(steps, np.linspace(0, steps[-1], SEGMENTS + 1)[1:-1]))
    bounds = [0, *[int(c) for c in cuts if 0 < c < steps.size - 1], steps.size - 1]
    return [(a, b + 1) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def log_spaced_steps(steps: int, count: int) -> np.ndarray:
    """Checkpoint steps: 0, then about ``count - 1`` log-spaced steps up to ``steps`` (unique)."""
    grid = np.geomspace(1, steps, max(count - 1, 1)) if steps >= 1 else np.array([])
    return np.unique(np.concatenate([[0], np.rint(grid).astype(np.int64), [steps]]))


@dataclass(frozen=True)
class GradientDescent:
    """The paper's protocol: fixed step ``lr`` for ``steps`` iterations, recorded at log-spaced steps.

    Args:
        lr: step size eta.
        steps: number of iterations T.
        checkpoints: about how many log-spaced steps to record (0 and T always included).
        loss_target: if set, a run whose final loss is above it is marked target_not_reached.
        backend: ``numba`` (compiled, parallel over runs) or ``torch`` (batched tensors, the network's
            structured operator: FFT, matrix chain). A network too large for the entry list
            (``network.structured``) runs on its operator with NumPy under ``numba``.
        device: torch device for the torch backend (``cpu``, ``cuda``).
    """

    name: ClassVar[str] = "gd"
    lr: float = 1e-3
    steps: int = 5000
    checkpoints: int = 200
    loss_target: float | None = None
    backend: str = "numba"
    device: str = "cpu"

    def __post_init__(self):
        _positive_float(self.lr, "gd.lr")
        _positive_int(self.steps, "gd.steps")
        _checkpoints(self.checkpoints, "gd.checkpoints")
        if self.loss_target is not None:
            _positive_float(self.loss_target, "gd.loss_target")
        _backend(self.name, self.backend, self.device)

    def settings(self) -> dict:
        return {"name": self.name, **asdict(self)}

    def run(self, problem: Problem, thetas0, progress=None) -> list[RunResult]:
        """Train every row of ``thetas0``. ``progress`` (a logging function, optional) gets a line about every
        PROGRESS_SECONDS of a long run: the step, log L and the time left (the run is then driven in segments
        of its checkpoints; GD is memoryless, so the bits are those of one call)."""
        thetas = _initial_parameters(problem, thetas0)
        init = thetas.copy()
        steps = log_spaced_steps(self.steps, self.checkpoints)
        runs, K, d = thetas.shape[0], steps.size, problem.network.dim
        _check_records("gd.checkpoints", runs, K, problem)
        beta = np.full((runs, K, d), np.nan)
        loss = np.full((runs, K), np.nan)
        log_loss = np.full((runs, K), np.nan)
        theta_rec = np.full((runs, K, problem.network.n_params), np.nan)
        failed_at = np.full(runs, -1, dtype=np.int64)
        if self.backend == "torch" or problem.network.structured:
            from .operator_gd import gd_batch_operator

            device = self.device if self.backend == "torch" else None
            gd_batch_operator(problem, thetas, self.lr, steps, beta, loss, log_loss, theta_rec, failed_at, device)
        else:
            thetas_t = np.ascontiguousarray(thetas.T)
            for lo, hi in _segments(steps, progress):
                records = (beta[:, lo:hi], loss[:, lo:hi], log_loss[:, lo:hi], theta_rec[:, lo:hi])
                records = tuple(np.ascontiguousarray(r) for r in records)
                failed = np.full(runs, -1, dtype=np.int64)
                here = steps[lo:hi] - steps[lo]  # the segment starts at its first checkpoint, recorded again
                if runs > 1 and not compiled.ahead_of_time() and specialised.fits(problem):
                    specialised.gd_batch(problem, thetas_t, float(self.lr), here, _blocks(runs), *records, failed)
                else:
                    compiled.kernels().gd_batch(
                        thetas_t, problem.kernel_problem, float(self.lr), here, _blocks(runs), *records, failed
                    )
                beta[:, lo:hi], loss[:, lo:hi], log_loss[:, lo:hi], theta_rec[:, lo:hi] = records
                newly = (failed >= 0) & (failed_at < 0)
                failed_at[newly] = failed[newly] + steps[lo]
                if np.all(failed_at >= 0):  # every run diverged: nothing later is a result
                    break
                if progress is not None:
                    progress.step(int(steps[hi - 1]), int(steps[-1]), float(np.nanmax(log_loss[:, hi - 1])))
            thetas = thetas_t.T
        for r in np.nonzero(failed_at >= 0)[0]:  # nothing recorded from the failing step on is a result
            late = steps >= failed_at[r]
            beta[r, late], loss[r, late], log_loss[r, late], theta_rec[r, late] = np.nan, np.nan, np.nan, np.nan
        return [
            self._result(steps, beta[r], loss[r], log_loss[r], theta_rec[r], init[r], thetas[r], failed_at[r])
            for r in range(runs)
        ]

    def _result(self, steps, beta, loss, log_loss, theta, init, final, failed_at) -> RunResult:
        status, reason = "completed", f"ran {self.steps} steps with lr = {self.lr}"
        if failed_at >= 0:
            status = "diverged"
            reason = f"the loss became non-finite at step {failed_at} (lr = {self.lr} is too large?)"
        elif self.loss_target is not None and not loss[-1] <= self.loss_target:
            status = "target_not_reached"
            reason = f"final loss {loss[-1]:.3e} is above the target {self.loss_target:.3e} after {self.steps} steps"
        return RunResult(steps, beta, loss, log_loss, theta, init, final, status, reason, steps=int(self.steps))


@dataclass(frozen=True)
class GradientFlow:
    """Exact gradient flow, integrated in the log-loss (see ``kernels``) to a loss target.

    Args:
        log_loss_target: stop when log L reaches it. Default: -1e6 for classification; for
            regression the level where ||f - y|| = residual_rtol * ||y||.
        residual_rtol: regression stopping rule (relative residual), used when no log_loss_target.
        rtol, atol: local error tolerances of the Dormand-Prince 5(4) integrator.
        max_steps: a run that has not reached its target after this many steps is marked max_steps (the
            explicit phase counts its steps; the implicit phase, its evaluations of the velocity: deep in a
            classification flow with several support vectors its steps can still shrink, and a run continued
            until its checks decide then stops with what it reached).
        checkpoints: how many loss levels to record, from the initial loss to the target.
        stiff_steps: explicit steps allowed between two recorded levels; beyond, the run is stiff
            (several support vectors; tiny alpha at depth >= 3) and carries on with an implicit
            method, scipy's Radau IIA (order 5, L-stable) with the exact Jacobian.
        stiff_rtol: Radau's relative tolerance. At 1e-10 its Newton iterations keep failing and its
            steps collapse to ~1e-5 tau (2500 steps a decade: log L = -1e8 took minutes); at 1e-7 it
            takes tens of steps a decade (-1e8 in a fraction of a second, -1e10 in seconds), and the
            direction it reaches agrees with rtol 1e-10's to ~1e-6 deg. A classification flow raises it
            to the velocity's rounding, tau * eps, and starts Radau's Newton iterations on the slow
            manifold of its support vectors (``implicit``): -1e12 then takes tens of steps a decade.
        log_loss_cap: classification: how far a run may continue past ``log_loss_target``, a decade
            of log L at a time, while a check it serves cannot decide yet or passes only by
            extrapolation (``deciding``); None: DEFAULT_LOG_LOSS_CAP. A cap at the target stops there.
        backend: ``numba`` (the compiled entry-list kernels for the paper's small networks, the structured
            operator with NumPy and scipy's solvers for larger ones, one run at a time) or ``torch``: the runs'
            explicit phase as one batch on the structured operator with torch on ``device`` (``batched_flow``),
            each run then carried on from the level it left the batch at by the structured path on the host
            (Radau, the slow manifold).
        device: torch device for the torch backend (``cpu``, ``cuda``).
    """

    name: ClassVar[str] = "flow"
    log_loss_target: float | None = None
    residual_rtol: float = 1e-12
    rtol: float = 1e-10
    atol: float = 1e-12
    max_steps: int = 1_000_000
    checkpoints: int = 200
    stiff_steps: int = 2000
    stiff_rtol: float = 1e-7
    log_loss_cap: float | None = None
    backend: str = "numba"
    device: str = "cpu"

    def __post_init__(self):
        _backend(self.name, self.backend, self.device)
        for name in ("log_loss_target", "log_loss_cap"):
            value = getattr(self, name)
            _require(
                value is None
                or (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and math.isfinite(value)
                    and value < 0
                ),
                f"flow.{name} must be a negative finite number (a log-loss below log 1 = 0), got {value!r}",
            )
        if self.log_loss_cap is not None:
            _require(
                self.log_loss_target is None or self.log_loss_cap <= self.log_loss_target,
                f"flow.log_loss_cap ({self.log_loss_cap}) must be at or below log_loss_target ({self.log_loss_target})",
            )
        for name in ("residual_rtol", "rtol", "atol", "stiff_rtol"):
            _positive_float(getattr(self, name), f"flow.{name}")
        for name in ("residual_rtol", "rtol", "stiff_rtol"):  # relative: float64 resolves no finer, 1 is no accuracy
            value = getattr(self, name)
            _require(FINEST_RTOL <= value < 1, f"flow.{name} must be in [{FINEST_RTOL:g}, 1), got {value!r}")
        _positive_int(self.max_steps, "flow.max_steps")
        _checkpoints(self.checkpoints, "flow.checkpoints")
        _positive_int(self.stiff_steps, "flow.stiff_steps")

    def settings(self) -> dict:
        return {"name": self.name, **asdict(self)}

    def target(self, problem: Problem) -> float:
        """The log-loss at which the flow stops."""
        if self.log_loss_target is not None or problem.task == "classification":
            return self._classification_target
        return float(np.log(0.5 * (self.residual_rtol * np.linalg.norm(problem.y)) ** 2))

    def cap(self, task: str) -> float | None:
        """The log-loss a classification run may continue to while its checks cannot decide
        (``log_loss_cap``, by default DEFAULT_LOG_LOSS_CAP, never above the target); None for regression,
        whose flow stops at its limit."""
        if task != "classification":
            return None
        cap = DEFAULT_LOG_LOSS_CAP if self.log_loss_cap is None else self.log_loss_cap
        return min(float(cap), self._classification_target)

    def continues(self, task: str) -> bool:
        """Whether a run of this task may continue past its target (``cap``) while its checks cannot decide."""
        cap = self.cap(task)
        return cap is not None and cap < self._classification_target

    @property
    def _classification_target(self) -> float:
        return -1e6 if self.log_loss_target is None else float(self.log_loss_target)

    def levels(self, start: float, stop: float, count: int | None = None) -> np.ndarray:
        """``count`` (default ``checkpoints``) levels of tau = -log L from ``start`` to ``stop``: linear near 0,
        logarithmic far out."""
        if start >= stop:
            return np.array([start])
        levels = np.sinh(np.linspace(np.arcsinh(start), np.arcsinh(stop), count or self.checkpoints))
        levels[0], levels[-1] = start, stop
        return levels

    def extend(
        self, problem: Problem, result: RunResult, log_loss_target: float, *, checkpoints: int = 40
    ) -> RunResult:
        """Continue a converged run from its last state down to ``log_loss_target``.

        The re-timed flow is autonomous in tau = -log L, so restarting from the final parameters
        follows the same path; the records are appended (about ``checkpoints`` more levels).
        """
        more = replace(self, log_loss_target=float(log_loss_target), checkpoints=checkpoints, log_loss_cap=None)
        (tail,) = more.run(problem, result.theta_final[None, :])
        keep = slice(1, None)  # the first level repeats the last recorded one
        return RunResult(
            np.concatenate([result.progress, tail.progress[keep]]),
            np.concatenate([result.beta, tail.beta[keep]]),
            np.concatenate([result.loss, tail.loss[keep]]),
            np.concatenate([result.log_loss, tail.log_loss[keep]]),
            ThetaRecords.joined(result.theta, tail.theta[keep]),
            result.theta_init,
            tail.theta_final,
            tail.status,
            tail.reason,
            steps=result.steps + tail.steps,
        )

    def run(self, problem: Problem, thetas0, progress=None) -> list[RunResult]:
        """Integrate every row of ``thetas0``. ``progress`` (a ``Progress``, optional) gets a line about every
        PROGRESS_SECONDS while a run is integrated in Python (the implicit phase, the structured operator)."""
        from threadpoolctl import threadpool_limits

        thetas = _initial_parameters(problem, thetas0)
        _check_records("flow.checkpoints", thetas.shape[0], self._recorded_levels(problem), problem)
        why = [self._invalid_start(problem, theta) for theta in thetas]
        valid = [r for r, w in enumerate(why) if not w]
        # One BLAS thread, as the workflow's jobs run: the stiff phase's linear algebra is small (Radau's
        # LU, Woodbury's (n+1)-systems), where a second thread costs more than it brings (fc L = 2, P = 210,
        # to -1e6 on this 2-core machine: 0.6 s on one thread, 1.3-1.9 s on two).
        with threadpool_limits(1, user_api="blas"):
            integrated = iter(self._integrate(problem, thetas[valid], progress) if valid else [])
        return [next(integrated) if not w else self._not_started(problem, theta, w) for theta, w in zip(thetas, why)]

    def _invalid_start(self, problem, theta) -> str:
        """Why the flow cannot start from theta (a non-finite loss, or no gradient), or ''."""
        velocity, log_loss = _velocity(problem, theta)
        if not np.isfinite(log_loss):
            return f"the initial log-loss is {log_loss} (data or parameters too large or too small for float64?)"
        if not np.all(np.isfinite(velocity)):
            return (
                "the initial gradient of log L is zero or not finite: the flow has nowhere to go (a stationary point)"
            )
        if self.target(problem) >= log_loss:
            return ""  # already at the target: the integration records the start and stops
        if problem.task == "regression" and self.target(problem) < -700:
            return (
                f"log_loss_target {self.target(problem):g} is below what float64 resolves for a squared loss "
                "(about -700)"
            )
        return ""

    def _not_started(self, problem, theta, why) -> RunResult:
        _, log_loss = _velocity(problem, theta)
        with np.errstate(all="ignore"):
            beta = problem.network.beta(theta)
            return RunResult(
                np.array([-log_loss]),
                beta[None, :],
                np.exp(np.array([log_loss])),
                np.array([log_loss]),
                theta[None, :],
                theta.copy(),
                theta.copy(),
                "invalid",
                why,
            )

    def _integrate(self, problem: Problem, thetas, progress=None) -> list[RunResult]:
        if self.backend == "torch":
            return self._integrate_batched(problem, thetas, progress)
        if _regression_on_operator(problem) or problem.network.structured or self._starts_deep(problem, thetas):
            return self._integrate_structured(problem, thetas, progress)
        if self._goes_deep(problem):
            # the entry list's kernels to DEEP_TAU, then the slow manifold on the structured path (``extend``)
            from ..limit_weights import DEEP_TAU

            shallow = replace(
                self, log_loss_target=-DEEP_TAU, log_loss_cap=None, checkpoints=max(2, self.checkpoints // 2)
            )
            deeper = max(2, self.checkpoints - shallow.checkpoints)
            ends = shallow._integrate(problem, thetas, progress)
            return [
                self.extend(problem, end, self.target(problem), checkpoints=deeper) if end.ok else end for end in ends
            ]
        init = thetas.copy()
        runs, K = thetas.shape[0], self.checkpoints
        stop = -self.target(problem)
        levels = np.full((runs, K), np.inf)
        for r in range(runs):
            own = self.levels(-problem.log_loss(thetas[r]), stop)
            levels[r, : own.size] = own
        flow = self._kernel(problem, thetas, levels, int(self.stiff_steps))
        beta, log_loss, reached, theta_rec = flow.beta, flow.log_loss, flow.reached, flow.theta
        status, steps, resume = flow.status, flow.steps, flow.resume
        implicit = status == codes.FLOW_STIFF
        for r in range(runs):
            last = int(np.isfinite(levels[r]).sum()) - 1
            records = (beta[r], log_loss[r], reached[r], theta_rec[r])
            if implicit[r]:
                advance = self._implicit_advance(problem, thetas[r], resume[r, 1])
                status[r] = self._through_levels(
                    problem, advance, thetas[r], int(resume[r, 0]), levels[r], records, progress
                )
            else:
                advance = self._explicit_advance(problem, thetas[r], reached[r, last])
            if status[r] == codes.FLOW_CONVERGED:
                status[r] = self._push_to_target(problem, advance, thetas[r], last, -stop, records)
            steps[r] += advance.steps
        notes = [" (stiff: finished with the implicit Radau method)" if stiff else "" for stiff in implicit]
        return self._results(levels, flow, init, thetas, -stop, notes)

    def _goes_deep(self, problem: Problem) -> bool:
        """Whether a classification flow's target is past DEEP_TAU, where it continues on its slow manifold."""
        from ..limit_weights import DEEP_TAU

        return problem.task == "classification" and -self.target(problem) > DEEP_TAU

    @staticmethod
    def _starts_deep(problem: Problem, thetas) -> bool:
        """Whether every run starts where a classification flow continues on its slow manifold (a run continued
        past DEEP_TAU), which the structured path integrates for any network (by its entry list where it has no
        structured operator)."""
        from ..limit_weights import DEEP_TAU

        return problem.task == "classification" and all(_reached(-problem.log_loss(t), DEEP_TAU) for t in thetas)

    def _recorded_levels(self, problem: Problem) -> int:
        """How many levels a run records: ``checkpoints``, or on the structured operator as many as keep Theta's
        records within THETA_RECORD_BYTES (at least MIN_STRUCTURED_LEVELS, never more than asked)."""
        if not (self.backend == "torch" or _regression_on_operator(problem) or problem.network.structured):
            return self.checkpoints
        fit = THETA_RECORD_BYTES // (8 * problem.network.n_params)
        return min(self.checkpoints, max(MIN_STRUCTURED_LEVELS, fit))

    def _integrate_structured(self, problem: Problem, thetas, progress=None) -> list[RunResult]:
        """Every run on the network's structured operator, DOP853 then the low-rank Radau method (``structured``)."""
        init = thetas.copy()
        flow, levels, stop, K = self._structured_records(problem, thetas)
        notes = []
        for r in range(thetas.shape[0]):
            advance = self._structured_advance(problem, thetas[r], levels[r, 0], stop)
            self._carry_on(problem, advance, thetas, r, 0, levels, flow, stop, progress)
            notes.append(
                _structured_note(advance.handover, advance.deep_from, "DOP853" if advance.explicit else None)
                + _fewer_levels_note(self.checkpoints, problem, K)
            )
        return self._results(levels, flow, init, thetas, -stop, notes)

    def _integrate_batched(self, problem: Problem, thetas, progress=None) -> list[RunResult]:
        """Every run's explicit phase as one batch on torch (``batched_flow``), then each on the host's structured
        path from the level it left the batch at: Radau where the batch found it stiff, the slow manifold past
        DEEP_TAU, the push of the measured loss to its target."""
        from ..limit_weights import DEEP_TAU
        from .batched_flow import batched_flow
        from .structured import FIRST_LEVEL_BUDGET, drifted, level_steps

        init = thetas.copy()
        flow, levels, stop, K = self._structured_records(problem, thetas)
        classification = problem.task == "classification"
        left = batched_flow(
            problem,
            thetas,
            levels,
            (flow.beta, flow.log_loss, flow.reached, flow.theta),
            rtol=self.rtol,
            atol=self.atol,
            level_steps=level_steps(problem.task),
            first_level_budget=FIRST_LEVEL_BUDGET,
            max_steps=self.max_steps,
            deep_tau=DEEP_TAU * (1 - TARGET_RTOL) if classification else None,  # as _reached
            drifted=drifted,
            device=self.device,
            progress=progress,
        )
        notes, batched = [], f"DOP853 batched on torch ({self.device})"
        for r, out in enumerate(left):
            thetas[r] = flow.theta[r][out.level]
            radau_step = None if out.why in ("done", "deep") else out.step  # where the NumPy path hands over
            advance = self._structured_advance(problem, thetas[r], levels[r, out.level], stop, radau_step=radau_step)
            advance.steps = out.evaluations
            self._carry_on(problem, advance, thetas, r, out.level + 1, levels, flow, stop, progress)
            notes.append(
                _structured_note(advance.handover, advance.deep_from, batched if out.evaluations > 1 else None)
                + _fewer_levels_note(self.checkpoints, problem, K)
            )
        return self._results(levels, flow, init, thetas, -stop, notes)

    def _structured_records(self, problem: Problem, thetas):
        """Empty records of runs on the structured operator (Theta's as ``ThetaRecords``), each run's levels from its
        own -log L (rows of +inf past its last), the target tau and how many levels (K)."""
        runs, K = thetas.shape[0], self._recorded_levels(problem)
        stop = -self.target(problem)
        flow = _flow_records(problem, runs, K, theta=False)
        flow.theta = [ThetaRecords(K, problem.network.n_params) for _ in range(runs)]
        levels = np.full((runs, K), np.inf)
        for r in range(runs):
            own = self.levels(-problem.log_loss(thetas[r]), stop, K)
            levels[r, : own.size] = own
        return flow, levels, stop, K

    def _carry_on(self, problem, advance, thetas, r, c, levels, flow, stop, progress) -> None:
        """Run r through its levels from index c by ``advance``, then its measured loss to the target; its status
        and steps into ``flow``."""
        records = (flow.beta[r], flow.log_loss[r], flow.reached[r], flow.theta[r])
        flow.status[r] = self._through_levels(problem, advance, thetas[r], c, levels[r], records, progress)
        if flow.status[r] == codes.FLOW_CONVERGED:
            last = int(np.isfinite(levels[r]).sum()) - 1
            flow.status[r] = self._push_to_target(problem, advance, thetas[r], last, -stop, records)
        flow.steps[r] = advance.steps
        advance.close()

    def _results(self, levels, flow, init, thetas, target, notes) -> list[RunResult]:
        results = []
        for r in range(thetas.shape[0]):
            used = slice(0, int(np.isfinite(levels[r]).sum()))  # the levels are a prefix: views, no copy of theta's
            log_loss = flow.log_loss[r][used]
            theta = flow.theta[r][used]
            if isinstance(theta, ThetaRecords) and not theta.compact:
                theta = np.asarray(theta)
            name, reason = self._status(int(flow.status[r]), int(flow.steps[r]), log_loss, target)
            results.append(
                RunResult(
                    flow.reached[r][used],
                    flow.beta[r][used],
                    np.exp(log_loss),
                    log_loss,
                    theta,
                    init[r],
                    thetas[r],
                    name,
                    reason + notes[r],
                    steps=int(flow.steps[r]),
                )
            )
        return results

    def _structured_advance(self, problem, theta, tau, stop, radau_step=None):
        """advance(goal) on the network's structured operator (``structured``), in place: DOP853 level by level
        while its steps are bounded by accuracy rather than stability (``structured.StiffnessTest``, judged at a level's
        end and past a level's budget of EXPLICIT_LEVEL_STEPS steps, a classification's CLASSIFICATION_LEVEL_STEPS) and
        the measured -log L follows tau, then the low-rank Radau method from the last such level on; a
        classification, from the first level at or past DEEP_TAU, on its slow manifold (``slow_manifold``).
        ``handover`` is the tau where Radau took over (None while explicit), ``deep_from`` where the slow manifold did.
        ``radau_step``: Radau from the start, with this first step (a run the batched explicit phase found stiff,
        ``batched_flow``)."""
        from ..limit_weights import DEEP_TAU
        from .implicit import SlowManifoldStart
        from .structured import (
            FIRST_LEVEL_BUDGET,
            ExplicitPhase,
            LowRankRadau,
            Velocity,
            drifted,
            initial_step,
            level_steps,
        )

        velocity = Velocity(problem)
        per_level = level_steps(problem.task)
        # a run continued past DEEP_TAU goes on the slow manifold at once: no explicit phase to start
        deep_start = problem.task == "classification" and _reached(tau, DEEP_TAU)
        first = None if deep_start or radau_step is not None else initial_step(velocity, theta)
        # the coordinates the flow moves in from theta (fc: the first layer in the data's row space, a tenth of theta
        # at d = 1000, n = 100), which DOP853 and Radau both integrate; at[0] is the state at the last level
        coordinates = None if deep_start else velocity.coordinates(theta)
        at = [None if deep_start else coordinates.start]

        def land(y, there=None):
            """theta (in place) and the records' coordinates at a level the run reached at y."""
            theta[:] = coordinates.theta_of(y) if there is None else there
            at[0] = y.copy()
            advance.at = (coordinates.theta_of, at[0]) if coordinates.reduced else None

        def solver(t, bound, first_step, rtol):
            # driven step by step (not solve_ivp, which keeps every step's state: GBs at P = 10^6); the solver's
            # state is its own: theta and at[0] are overwritten at the levels
            return LowRankRadau(
                lambda t, y: coordinates(y),
                t,
                at[0],
                bound,
                jac=lambda t, y: coordinates.jacobian(y),
                first_step=first_step,
                rtol=rtol,
                atol=self.atol,
                start=SlowManifoldStart(coordinates, problem.y) if problem.task == "classification" else None,
                theta_of=coordinates.theta_of,
            )

        explicit = (
            None
            if deep_start or radau_step is not None
            else ExplicitPhase(
                velocity, theta, tau, rtol=self.rtol, atol=self.atol, first_step=first, coordinates=coordinates
            )
        )
        radau, deep = [], []

        def step(goal, state):
            if deep:
                return deep[0](goal, state)
            if problem.task == "classification" and _reached(state.tau, DEEP_TAU):
                advance.deep_from = state.tau
                close()
                deep.append(self._slow_manifold_step(problem, theta, state.tau))
                advance.at = None  # the slow manifold integrates theta itself
                return deep[0](goal, state)
            if radau:
                return radau[0](goal, state)
            spent, h = 0, radau_step
            if explicit is not None:
                evaluations = explicit.evaluations
                # the first level also finds the step size and crosses the initial transient: a larger budget there
                # (bounded: a run continued from deep in a stiff flow must hand over soon)
                first_level = explicit.steps == 0
                budget = per_level * (FIRST_LEVEL_BUDGET if first_level else 1)
                y = None if explicit.stiff else explicit.to_coordinates(goal, budget=budget)
                there = None if y is None else coordinates.theta_of(y)
                if there is not None and not drifted(-problem.log_loss(there), goal):
                    land(y, there)
                    return codes.FLOW_CONVERGED, goal, explicit.evaluations - evaluations
                spent, h = explicit.evaluations - evaluations, min(explicit.step_size, first)
                explicit.close()
            advance.handover = state.tau  # theta is still the last level's state
            reached = lambda solver, y, there=None: land(y, there)  # noqa: E731
            # a regression's last decades sit at theta's rounding, where no interpolant follows the loss: its steps land
            lands = problem.task == "regression"
            radau.append(self._continued_radau_step(problem, theta, solver, h, stop, reached, lands=lands))
            status, tau, more = radau[0](goal, state)
            return status, tau, spent + more

        def close():
            if explicit is not None:
                explicit.close()
            for phase in radau + deep:
                phase.close()
            radau.clear()

        advance = _Advance(tau, step)
        advance.handover = advance.deep_from = None
        advance.explicit = explicit is not None
        advance.close = close
        return advance

    def _slow_manifold_step(self, problem, theta, tau):
        """A step function (as ``_radau_step``'s) on the flow's slow manifold from (theta, tau): its deep phase
        (``slow_manifold``), whose budget of max_steps counts its velocity evaluations."""
        from .slow_manifold import SlowManifoldPhase

        phase = SlowManifoldPhase(problem, theta, tau)

        def step(goal, state):
            if goal <= state.tau:
                return codes.FLOW_CONVERGED, state.tau, 0
            start = phase.evaluations
            there = phase.to(goal)
            spent = phase.evaluations - start
            if there is None or not np.all(np.isfinite(there)):
                return codes.FLOW_STALLED, state.tau, spent
            theta[:] = there
            if state.steps + spent > self.max_steps:
                return codes.FLOW_MAX_STEPS, goal, spent
            return codes.FLOW_CONVERGED, goal, spent

        step.close = phase.close
        return step

    @staticmethod
    def _record(problem, theta, tau, k, records, at=None) -> float:
        """Record theta at tau as checkpoint k (as the coordinates ``at`` = (theta_of, y) where given: the records
        are then ``ThetaRecords``); returns the measured log L."""
        beta, log_loss, reached, theta_rec = records
        measured = _measured_log_loss(problem, theta)
        beta[k], log_loss[k], reached[k] = problem.network.beta(theta), measured, tau
        if at is None:
            theta_rec[k] = theta
        else:
            theta_rec.record(k, *at)
        return measured

    def _through_levels(self, problem, advance, theta, c, levels, records, progress=None) -> int:
        """Carry a run on from level index c, recording at each level; the status code."""
        total = int(np.isfinite(levels).sum())
        for k in range(c, total):
            if (status := advance(levels[k])) != codes.FLOW_CONVERGED:
                return status if status == codes.FLOW_MAX_STEPS else codes.FLOW_STALLED
            measured = self._record(problem, theta, advance.tau, k, records, advance.at)
            if progress is not None:
                progress.level(k + 1, total, measured)
        return codes.FLOW_CONVERGED

    def _push_to_target(self, problem, advance, theta, last, target, records) -> int:
        """The integration variable tau and the measured -log L drift apart by the integration error:
        continue until the measured loss reaches the target (the last record is then the final state)."""
        measured, before = records[1][last], None
        for _ in range(100):
            deficit = measured - target  # how far the measured log L is above its target
            if _reached(-measured, -target):
                return codes.FLOW_CONVERGED
            if measured == before and deficit <= codes.NEAR_TARGET:
                # the push moved theta by less than its rounding (a regression's last decades: the velocity is
                # 1/|g|, tiny where L is): at the round-off floor, within a factor 2 of a residual target
                return codes.FLOW_CONVERGED
            status = advance(advance.tau + deficit)
            if status == codes.FLOW_STALLED and deficit <= codes.NEAR_TARGET:
                return codes.FLOW_CONVERGED  # at the round-off floor, within a factor 2 of a residual target
            if status != codes.FLOW_CONVERGED:
                return status
            before, measured = measured, self._record(problem, theta, advance.tau, last, records, advance.at)
        return codes.FLOW_CONVERGED if measured - target <= codes.NEAR_TARGET else codes.FLOW_STALLED

    def _explicit_advance(self, problem, theta, tau):
        """advance(goal): Dormand-Prince (the compiled kernel) from (theta, tau) to tau = goal, in place."""
        return _Advance(tau, lambda goal, state: self._explicit_step(problem, theta, goal, state))

    def _explicit_step(self, problem, theta, goal, state):
        one = theta[None, :]
        levels = np.array([[-problem.log_loss(theta) + (goal - state.tau)]])
        flow = self._kernel(problem, one, levels, int(self.max_steps))
        theta[:] = one[0]
        return int(flow.status[0]), goal, int(flow.steps[0])

    def _kernel(self, problem, thetas, levels, budget) -> SimpleNamespace:
        """The compiled flow of each row of ``thetas`` (in place) through its row of ``levels``: records
        (beta, log_loss, reached, theta), status, steps and where a stiff run stopped (resume)."""
        runs, K = levels.shape
        flow = _flow_records(problem, runs, K)
        flow.resume = np.zeros((runs, 2))
        compiled.kernels().flow_batch(
            thetas,
            problem.kernel_problem,
            levels,
            (float(self.rtol), float(self.atol)),
            (int(self.max_steps), budget),
            *vars(flow).values(),  # in the kernel's order: beta, log_loss, reached, theta, status, steps, resume
        )
        return flow

    def _implicit_advance(self, problem, theta, tau):
        """advance(goal): scipy's Radau (with the exact Jacobian) from (theta, tau) to tau = goal, in place."""
        from .implicit import ManifoldRadau, SlowManifoldStart
        from .structured import Coordinates, Velocity

        flow_velocity = compiled.kernels().flow_velocity
        start = (
            SlowManifoldStart(Coordinates(Velocity(problem), theta), problem.y)
            if problem.task == "classification"
            else None
        )

        def solver(t, goal, first_step, rtol):
            return ManifoldRadau(
                lambda t, th: flow_velocity(th, problem.kernel_problem)[0],
                t,
                theta,
                goal,
                jac=lambda t, th: problem.flow_jacobian(th),  # exact: Newton converges and steps stay long
                first_step=first_step,
                rtol=rtol,
                atol=self.atol,
                start=start,
            )

        return self._radau_advance(problem, theta, tau, solver)

    def _radau_advance(self, problem, theta, tau, make_solver, first_step=None):
        """advance(goal) by the implicit solver ``make_solver(t, goal, first_step, rtol)`` makes, driven step by
        step from (theta, tau), in place; each level starts with the step the last one ended on. A run whose
        implicit phase has evaluated its velocity max_steps times stops there (max_steps)."""
        return _Advance(tau, self._radau_step(problem, theta, make_solver, first_step))

    def _radau_step(self, problem, theta, make_solver, first_step=None, reached=None):
        """The step function of ``_radau_advance``: step(goal, state) -> (status, tau, velocity evaluations).
        ``reached(solver, y)`` puts theta where a solver stopped (default: ``solver.theta_of(y)``, in place)."""
        from .implicit import stiff_rtol

        proposal = [first_step]
        reached = reached or _theta_writer(theta)

        def step(goal, state):
            if goal <= state.tau:
                return codes.FLOW_CONVERGED, state.tau, 0
            first = None if proposal[0] is None else min(proposal[0], goal - state.tau)
            solver = make_solver(state.tau, goal, first, stiff_rtol(self.stiff_rtol, problem.task, goal))
            try:
                return integrate(solver, goal, state)
            finally:
                # scipy's solvers hold themselves in closures (their jac and fun wrappers): a reference cycle
                # that only a full garbage collection frees, and a solver lives long enough to reach the oldest
                # generation. Their arrays (~10 of theta's size) piled up level after level: +2.4 GB over a
                # regression of fc width d at d = 1000. Dropping them here frees them at once.
                solver.__dict__.clear()

        def integrate(solver, goal, state):
            budget = self.max_steps - state.steps
            while solver.status == "running" and solver.nfev <= budget:
                solver.step()
            if solver.status == "running":
                reached(solver, solver.y)
                return codes.FLOW_MAX_STEPS, solver.t, solver.nfev
            if solver.status != "finished" or not np.all(np.isfinite(solver.y)):
                return codes.FLOW_STALLED, state.tau, solver.nfev
            proposal[0] = max(solver.h_abs, solver.h_abs_old or 0.0)  # the last step may have been clamped
            reached(solver, solver.y)
            return codes.FLOW_CONVERGED, goal, solver.nfev

        step.close = lambda: None  # each level's solver is freed as it ends
        return step

    def _continued_radau_step(self, problem, theta, make_solver, first_step, bound, reached=None, lands=False):
        """Like ``_radau_step``, but one solver throughout, as ``structured.ExplicitPhase``: its steps are not cut at
        the levels (cut steps were 15-25 % of a classification's velocity evaluations at d = 1000 to log L = -1e6);
        Theta at a level inside a step comes from the step's dense output (Radau's collocation polynomial), and the
        solver lands on ``bound`` (the flow's last level) exactly; a goal past it (pushing the measured loss to its
        target) moves the bound. Where the measured -log L at a level has drifted from tau (``structured.drifted``),
        the run goes back to that level's predecessor and on with a solver a level (``_radau_step``).

        ``lands``: the solver's steps end on every level instead (its last two before a level made equal,
        ``LowRankRadau.aim_at``), for a regression: through its last decades the loss sits at theta's rounding, where
        the interpolated loss drifts at once (diag L = 2, d = 100, alpha = 1e-3 stalled without the fallback, and
        with it a regression took more steps than with a solver a level). Against a solver a level it keeps Newton's
        start from the last step and the step size's history: diag L = 3 at d = 1000, alpha = 0.5 0.99-1.07 ->
        0.80-0.92 s, 2.9 -> 2.5 s at alpha = 0.1. Its Jacobian then ages across levels, and in the last decades its
        Newton error reaches the residual (diag L = 3, alpha = 0.1: measured log L -45.4 at tau = 51.5): the drift
        check hands those levels to a solver a level, whose fresh Jacobian holds them."""
        from scipy.integrate import Radau

        from .implicit import stiff_rtol
        from .structured import drifted

        held, per_level = [], []
        reached = reached or _theta_writer(theta)

        def step(goal, state):
            if per_level:
                return per_level[0](goal, state)
            if goal <= state.tau:
                return codes.FLOW_CONVERGED, state.tau, 0
            rtol = stiff_rtol(self.stiff_rtol, problem.task, goal)
            if not held:
                held.append(make_solver(state.tau, goal if lands else max(goal, bound), first_step, rtol))
            solver = held[0]
            if lands or goal > solver.t_bound:
                solver.t_bound, solver.status = goal, "running"
            solver.tolerate(rtol)
            start, budget = solver.nfev, self.max_steps - state.steps
            while solver.status == "running" and solver.t < goal and solver.nfev - start <= budget:
                if lands:
                    solver.aim_at(goal)
                solver.step()
            spent = solver.nfev - start
            if solver.t < goal and solver.status == "running":
                reached(solver, solver.y)
                return codes.FLOW_MAX_STEPS, solver.t, spent
            if solver.t >= goal:
                # Radau's own collocation polynomial (the solver's dense_output may be the slow manifold's start)
                y = solver.y if solver.t == goal else Radau._compute_dense_output(solver)(goal)
                there = solver.theta_of(y)
                if np.all(np.isfinite(there)) and not drifted(-problem.log_loss(there), goal):
                    reached(solver, y, there)
                    return codes.FLOW_CONVERGED, goal, spent
            # theta is still the last level's state: on from there with a solver a level
            last_step = solver.h_abs
            close()
            # a regression's first_step is the hand-over's, far below the steps its landing solver reached
            restart = last_step if lands else min(last_step, first_step)
            per_level.append(self._radau_step(problem, theta, make_solver, restart, reached))
            status, tau, more = per_level[0](goal, state)
            return status, tau, spent + more

        def close():
            if held:
                held.pop().__dict__.clear()  # the solver's reference cycle (see _radau_step)

        step.close = close
        return step

    def _status(self, code, steps, log_loss, target):
        measured = log_loss[np.isfinite(log_loss)]
        where = f"log L = {measured[-1]:.6g}" if measured.size else "the initial point"
        if code == codes.FLOW_CONVERGED:
            return "converged", f"reached log L = {target:.6g} in {steps} steps"
        if code == codes.FLOW_MAX_STEPS:
            return "max_steps", f"stopped after max_steps = {self.max_steps} at {where}; target log L = {target:.6g}"
        if code == codes.FLOW_STALLED:
            return "stalled", (
                f"the step size underflowed at {where} before the target log L = {target:.6g} "
                "(a stationary point, or data this network cannot fit or separate)"
            )
        return "diverged", f"non-finite values after {steps} steps, last recorded at {where}"


def _flow_records(problem, runs, K, theta=True) -> SimpleNamespace:
    """Empty records of ``runs`` flows at K levels: beta, log_loss, reached, theta (None without ``theta``), status,
    steps (the kernel's order)."""
    return SimpleNamespace(
        beta=np.full((runs, K, problem.network.dim), np.nan),
        log_loss=np.full((runs, K), np.nan),
        reached=np.full((runs, K), np.nan),
        theta=np.full((runs, K, problem.network.n_params), np.nan) if theta else None,
        status=np.zeros(runs, dtype=np.int64),
        steps=np.zeros(runs, dtype=np.int64),
    )


def _fewer_levels_note(asked: int, problem, K: int) -> str:
    if K == asked:
        return ""
    full = 8 * asked * problem.network.n_params / 2**30
    return f" (recorded at {K} levels, not {asked}: Theta's records would take {full:.3g} GiB)"


def _structured_note(handover, deep_from=None, explicit: str | None = "DOP853") -> str:
    """The phases a structured run went through: the ``explicit`` one (None where it started past DEEP_TAU), Radau
    from ``handover``, the slow manifold from ``deep_from``."""
    phases = (
        [f"explicit {explicit} throughout" if handover is None and deep_from is None else explicit] if explicit else []
    )
    if handover is not None:
        phases.append(f"Radau with a low-rank Jacobian from log L = {-handover:.6g}")
    if deep_from is not None:
        phases.append(f"on the support vectors' slow manifold from log L = {-deep_from:.6g}")
    return f" (structured operator; {', then '.join(phases)})"


REGRESSION_OPERATOR_PARAMS = 32  # regression flows of networks above this size train on their operator


def _regression_on_operator(problem: Problem) -> bool:
    """Regression flows of networks with more than REGRESSION_OPERATOR_PARAMS parameters (and an operator)
    train on the structured operator: the entry engine's dense stiff phase stalls at small alpha (diag L = 2,
    d = 100, alpha = 1e-3: the step underflowed at log L = -36 of -52; the operator converges in 1.1 s). The
    paper's toy networks (at most 27 parameters) keep the entry engine and its bits; classification keeps it up to
    networks.PARAM_LIMIT, where the operator's deep phase is still 20x slower (fc L = 3, d = 8, to log L = -1e10)."""
    network = problem.network
    return problem.task == "regression" and network.has_operator and network.n_params > REGRESSION_OPERATOR_PARAMS


def _velocity(problem: Problem, theta):
    """(-g/|g|^2, log L) at theta: the compiled kernel on the entry list, or the structured operator."""
    if problem.network.structured:
        from .structured import Velocity

        return Velocity(problem)(theta)
    return compiled.kernels().flow_velocity(theta, problem.kernel_problem)


def _measured_log_loss(problem: Problem, theta) -> float:
    """log L at theta as ``_velocity`` measures it, without the velocity where the operator computes it (a
    pullback over theta: at fc width d, d = 1000, most of a level's cost in a regression's last decades)."""
    if problem.network.structured:
        from .structured import Velocity

        return Velocity(problem).log_loss(theta)
    return _velocity(problem, theta)[1]


def _theta_writer(theta):
    """reached(solver, y, there=None): theta in place at the solver's state y (``there``: theta there, if known)."""

    def reached(solver, y, there=None):
        theta[:] = solver.theta_of(y) if there is None else there

    return reached


class _Advance:
    """advance(goal) integrates one run's theta in place from the current tau to ``goal``, by ``step``;
    it keeps tau and counts the steps; returns a codes.FLOW_* status. ``at``: None, or (theta_of, y) where the
    run moves in fewer coordinates than theta's (``structured.Coordinates``), for the records."""

    def __init__(self, tau, step):
        self.tau, self.steps, self._step = float(tau), 0, step
        self.at = None

    def __call__(self, goal) -> int:
        status, self.tau, steps = self._step(goal, self)
        self.steps += steps
        return status


SOLVERS = {cls.name: cls for cls in (GradientDescent, GradientFlow)}


def compile_kernels() -> list[str]:
    """Compile numba's kernels (or load them from its cache) by running both solvers on a tiny problem of
    each task: where no ahead-of-time build can be made (``compiled.build``), the workflow does this
    once, before its training jobs, which would otherwise each compile them at once on an empty cache.
    Returns the compiled signatures."""
    from ..architectures import diag

    network = diag(2, depth=2)
    X = np.array([[1.0, 0.5], [-0.5, -1.0]])
    theta = np.full((1, network.n_params), 0.5)
    for task, y in (("classification", np.array([1.0, -1.0])), ("regression", np.array([1.0, 0.5]))):
        problem = Problem(network, X, y, task)
        GradientFlow(log_loss_target=-2.0 if task == "classification" else None, checkpoints=2).run(problem, theta)
        GradientDescent(lr=1e-2, steps=2, checkpoints=2).run(problem, theta)
    from . import kernels

    return [
        f"{name}{signature}"
        for name in ("flow_batch", "flow_velocity", "gd_batch")
        for signature in getattr(kernels, name).signatures
    ]


def make_solver(spec: dict):
    """Build a solver from a config entry such as ``{name: gd, lr: 1.0e-3, steps: 5000}``."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; expected one of {sorted(SOLVERS)}")
    known = {f.name for f in fields(SOLVERS[name])}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for solver {name!r}; known: {sorted(known)}")
    return SOLVERS[name](**spec)
