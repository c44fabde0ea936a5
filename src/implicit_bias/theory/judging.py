"""How a measured quantity becomes a verdict: tolerances, the tail fit, and the control rule.

Two kinds of metric:
- A *limit* (regression): the flow converges exponentially to its limit point, so the relative
  error at the end is the measurement. Tolerance 1e-6 for the flow (rtol 1e-10 and a final residual
  of 1e-12; its limits agree with independent integrators to ~1e-8), 10 lr for GD (a fixed step
  shifts the limit by O(lr)).
- A quantity that must *vanish* as tau = -log L -> inf (classification: an angle to a predicted
  direction, an optimality gap, a KKT or singular-vector residual). These converge slowly and at
  rates that differ by instance (tau^-1/2 and tau^-1 on the paper's runs, tau^-(1 - s2/s1)/2 for
  Theorem 3), so the value wherever the run stopped decides nothing. The tail of the run is fitted
  by ``a + c tau^-p`` (``fit_tail``), and the extrapolated limit ``a`` (with its uncertainty) is
  judged: within the tolerance of 0 passes, clearly beyond it fails, straddling it is inconclusive.

Controls: every claim row is accompanied by rows for plausible wrong predictions, measured with
the same metric and tolerance. A control must come out ``rejected``; one that is ``not-rejected``
(on this instance it coincides with the prediction, or the run cannot tell them apart yet) makes
the claim row ``inconclusive``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import RESOLVED, Check, RunView, where

# tolerances on the extrapolated limit of a vanishing quantity (and why)
ANGLE_DEGREES = 0.1  # a direction claim: limit within 0.1 deg of the prediction
RELATIVE_GAP = 1e-3  # L = 2 max-margin problems: relative optimality gap of the limit direction
KKT = 1e-2  # L >= 3 stationarity residual (relative norm of the projected Lagrangian gradient)
SINGULAR_RESIDUAL = 2e-3  # Theorem 1: ||v/|v| - g/|g| || (2e-3 ~ 0.1 deg)
# limits of regression flows: rtol 1e-10, final residual 1e-12, independent integrators agree to ~1e-8
FLOW_RELATIVE = 1e-6

TAIL_DECADES = 2.0  # the tail: the last two decades of tau (at least TAIL_POINTS checkpoints)
TAIL_POINTS = 8
SIGMAS = 2.0  # a limit is decided when it is this many uncertainties from the tolerance
# A refutation of a proven theorem needs the limit an order of magnitude beyond the tolerance: a
# slower second mode (e.g. Theorem 1's residual on a full conv, ~tau^-0.06 under a tau^-0.7 one)
# looks like a small constant offset over two decades, and must not read as a counterexample.
FAIL_MARGIN = 10.0
SETTLED_JITTER = 1e-6  # a settled tail does not increase between checkpoints by more than this (relative)
SETTLED_NEAR = 0.1  # or it ends this close to its fitted limit (relative)
# candidate p: slower rates cannot be told from a constant; fast ones let a quantity that drops to
# its floor within the tail (e.g. a KKT residual once the support has settled) be fitted too
_RATES = np.geomspace(0.02, 20.0, 200)


@dataclass(frozen=True)
class Tail:
    """The fit ``value ~ limit + c tau^-rate`` over the tail of a run."""

    limit: float
    uncertainty: float
    rate: float
    coefficient: float  # c, with tau measured in units of tau_end
    rising: bool  # c < 0: the quantity grows towards its limit
    end: float  # the measured value at the last checkpoint
    tau_start: float
    tau_end: float

    def curve(self, tau) -> np.ndarray:
        """The fitted a + c (tau / tau_end)^-p."""
        return self.limit + self.coefficient * (np.asarray(tau, dtype=float) / self.tau_end) ** -self.rate

    def describe(self, unit: str = "", axis: str = "tau") -> str:
        unit = f" {unit}" if unit else ""
        return (
            f"tail fit over {axis} = {self.tau_start:.3g}..{self.tau_end:.3g}: limit {self.limit:.3g} "
            f"± {self.uncertainty:.2g}{unit}, approached {'from below' if self.rising else 'from above'} like "
            f"{axis}^-{self.rate:.3g}; {self.end:.3g}{unit} at the end"
        )


def tail_indices(tau: np.ndarray) -> np.ndarray:
    """Checkpoints of the tail: tau >= tau_end / 10^TAIL_DECADES, at least TAIL_POINTS of them."""
    tau = np.asarray(tau, dtype=float)
    inside = np.nonzero(tau >= tau[-1] / 10**TAIL_DECADES)[0]
    start = min(inside[0], max(tau.size - TAIL_POINTS, 0))
    return np.arange(start, tau.size)


def _fit(x, values):
    """Least squares of values ~ a + c x^-p over the candidate p: (a, c, p, RSS, all a, all RSS)."""
    design = np.ones((x.size, 2))
    best = None
    limits, residuals = np.empty(_RATES.size), np.empty(_RATES.size)
    for i, p in enumerate(_RATES):
        design[:, 1] = x**-p
        coef, *_ = np.linalg.lstsq(design, values, rcond=None)
        rss = float(np.sum((design @ coef - values) ** 2))
        limits[i], residuals[i] = coef[0], rss
        if best is None or rss < best[3]:
            best = (coef[0], coef[1], p, rss)
    return (*best, limits, residuals)


def fit_tail(tau, values, *, logarithmic: bool = False) -> Tail:
    """Fit ``values ~ a + c tau^-p`` on the tail of (tau, values) and say how sure ``a`` is.
    ``logarithmic``: fit ``a + c (log tau)^-p`` instead (the same tail points), an approach slower than any
    power of tau (diagonal networks' l1 bias at d = 1000: the gap falls by a third from tau = 1e5 to 1e8).

    The uncertainty of the limit ``a`` is the largest of: its least-squares standard error at the
    best p; the spread of ``a`` over the rates p that fit about as well (profile); how far the
    limit moves when only the last half of the tail is fitted (a fit that has not reached the
    asymptotic regime moves); and, the quantities being non-negative, how far below zero ``a`` is.
    Fewer than four points leave it infinite.
    """
    tau, values = np.asarray(tau, dtype=float), np.asarray(values, dtype=float)
    keep = tail_indices(tau)
    tau, values = tau[keep], values[keep]
    ok = np.isfinite(values) & np.isfinite(tau) & (tau > 0)
    tau, values = tau[ok], values[ok]
    end = float(values[-1]) if values.size else np.nan
    if values.size < 4:
        return Tail(
            end,
            np.inf,
            np.nan,
            np.nan,
            False,
            end,
            float(tau[0]) if tau.size else np.nan,
            float(tau[-1]) if tau.size else np.nan,
        )
    x = np.log(tau) / np.log(tau[-1]) if logarithmic and tau[0] > 1 else tau / tau[-1]
    a, c, p, rss, limits, residuals = _fit(x, values)
    noise = rss / (values.size - 2)
    design = np.column_stack([np.ones_like(x), x**-p])
    standard_error = float(np.sqrt(noise * np.linalg.pinv(design.T @ design)[0, 0]))
    profile = float(np.max(np.abs(limits[residuals <= rss + SIGMAS**2 * noise] - a)))
    half = x >= np.sqrt(x[0])
    moved = 0.0
    if half.sum() >= 4:
        moved = abs(_fit(x[half] / x[half][-1], values[half])[0] - a)
    scale = max(np.max(np.abs(values)), 1e-300)
    # the quantities judged here are non-negative: a negative limit measures how badly the model fits
    misfit = max(-a, 0.0)
    uncertainty = max(standard_error, profile, moved, misfit, 1e-12 * scale)
    return Tail(float(a), float(uncertainty), float(p), float(c), bool(c < 0), end, float(tau[0]), float(tau[-1]))


@dataclass(frozen=True)
class Trace:
    """The series a tail verdict was drawn from (for the tail_fits figure): x, values and the fit."""

    x: np.ndarray
    values: np.ndarray
    tail: Tail
    slow: Tail | None = None  # the logarithmic fit, where it kept a refutation from being drawn

    @property
    def settled(self) -> bool:
        """Whether the tail has settled: it has come close to its fitted limit (within SETTLED_NEAR of it at the
        end of the run), or it decreases monotonically (beyond rounding). A tail that is still rising, or goes up
        and down, far from its limit is a transient (the direction of X^T r still moving, cf. Remark 1), not a
        limit: it cannot refute."""
        tail = self.tail
        if abs(tail.end - tail.limit) <= SETTLED_NEAR * abs(tail.limit):
            return True
        values = self.values[np.isfinite(self.values)]
        if tail.rising or values.size < 2:
            return False
        return bool(np.max(np.diff(values)) <= SETTLED_JITTER * np.max(np.abs(values)))


def with_controls(row: Check, controls: list[Check]) -> list[Check]:
    """A passing claim row becomes inconclusive when a control was not rejected; a pass is labelled
    reached (its value at the end of the run meets the tolerance) or extrapolated (only its fitted limit does)."""
    kept = [c for c in controls if c.status == "not-rejected"]
    if row.status == "pass" and kept:
        row.status = "inconclusive"
        row.reason = (
            f"the control(s) {', '.join(c.alternative for c in kept)} were not rejected: on this "
            f"instance the check cannot tell the prediction from them; " + row.reason
        )
    if row.status == "pass":
        end = row.value_at_end if np.isfinite(row.value_at_end) else row.value
        row.evidence = "reached" if end <= row.tolerance else "extrapolated"
    return [row, *controls]


def decades_to_tolerance(tail: Tail, tolerance: float) -> float:
    """How many decades of x past the end of the run the fitted curve needs to come down to the
    tolerance: 0 when the value at the end meets it already, inf when the fit never does."""
    if tail.end <= tolerance:
        return 0.0
    gap = tolerance - tail.limit
    if not (gap > 0 and tail.coefficient > 0 and tail.rate > 0):
        return float("inf")
    return max(float(np.log10(tail.coefficient / gap) / tail.rate), 0.0)


def _tail_evidence(tail: Tail, tolerance: float, tau_axis: bool) -> dict:
    """The evidence columns of a tail-judged row."""
    return dict(
        limit=tail.limit,
        limit_uncertainty=tail.uncertainty,
        value_at_end=tail.end,
        log_loss_at_end=-tail.tau_end if tau_axis else np.nan,
        decades_extrapolated=decades_to_tolerance(tail, tolerance),
    )


def judge_series(
    claim,
    place: dict,
    metric: str,
    x,
    values,
    *,
    tolerance: float,
    unit: str = "",
    controls: dict | None = None,
    why: str = "",
    needs: str = "",
    tau_axis: bool = True,
    at_end: float | None = None,
) -> list[Check]:
    """Rows for a quantity that must vanish as x -> inf (x = tau, or 1/alpha for a sweep: ``tau_axis``
    False): ``values`` for the prediction and ``controls[name]`` for each wrong prediction, all at the
    points ``x``. ``at_end``: the prediction's value at the end of training where that is not the series'
    last point (a group of runs that ended at different tau, measured at each run's own end).

    The claim passes when the tail's extrapolated limit is within ``tolerance`` of zero by SIGMAS
    uncertainties; it fails when the limit is beyond FAIL_MARGIN times the tolerance by as much (a
    transient bump is not fitted by the model, and its uncertainty keeps it inconclusive); otherwise
    it is inconclusive, and ``needs`` says what would decide it. A control is rejected when its limit
    is beyond the tolerance by SIGMAS uncertainties.
    """
    own = fit_tail(x, values)
    x = np.asarray(x, dtype=float)
    trace = Trace(x, np.asarray(values, dtype=float), own)
    low, high = own.limit - SIGMAS * own.uncertainty, own.limit + SIGMAS * own.uncertainty
    axis = "tau" if tau_axis else "1/alpha"
    described = own.describe(unit, axis) + (f"; {why}" if why else "")
    slow = fit_tail(x, values, logarithmic=True) if tau_axis and high > tolerance else None
    slow_could_vanish = slow is not None and _slow_could_vanish(slow, tolerance)
    if slow_could_vanish:  # training further could still decide it (deciding.py continues the flow)
        trace = Trace(trace.x, trace.values, own, slow)
    reached = _reached(x, values, own, tolerance)
    if high <= tolerance or reached:
        status = "pass"
        if reached and high > tolerance:
            described += (
                f"; the value at the end, {own.end:.3g}, meets the tolerance and the tail has only decreased: its "
                "limit is no larger (the fit, which the drop does not follow, decides nothing more)"
            )
    elif low > FAIL_MARGIN * tolerance and trace.settled and not slow_could_vanish:
        status = "fail"
    elif not tau_axis and (level := _sweep_levelled_off(x, values, tolerance)):
        status = "fail"
        described += (
            f"; the distance has stopped shrinking: its last {SWEEP_PLATEAU_POINTS} values, over "
            f"{level:.2g} decades of alpha, stay within {PLATEAU:.0%} of {own.end:.3g}, above the tolerance (an "
            "approach to 0, even like 1/log(1/alpha), moves by more over a decade)"
        )
    else:
        status = "inconclusive"
        if low > FAIL_MARGIN * tolerance and not trace.settled:
            described += "; the tail is still rising or not monotone (a transient, not a limit): it cannot refute"
        elif low > FAIL_MARGIN * tolerance:
            described += (
                f"; a logarithmic approach a + c (log tau)^-q fits the tail too, with limit {slow.limit:.3g} ± "
                f"{slow.uncertainty:.2g}: the tail cannot tell a slow approach from a wrong limit, so it cannot refute"
            )
        described += f"; {needs}" if np.isfinite(own.uncertainty) else "; too few points in the tail to fit"
    row = Check(
        claim,
        metric=metric,
        value=max(own.limit, 0.0) if np.isfinite(own.limit) else own.limit,
        tolerance=tolerance,
        status=status,
        reason=described,
        rate=own.rate,
        trace=trace,
        **_tail_evidence(own, tolerance, tau_axis),
        **place,
    )
    if at_end is not None:
        row.value_at_end = float(at_end)
        row.decades_extrapolated = 0.0 if at_end <= tolerance else row.decades_extrapolated
    rows = []
    for name, series in (controls or {}).items():
        other = fit_tail(x, series)
        rejected = other.limit - SIGMAS * other.uncertainty > tolerance or _left_behind(x, series, other, tolerance)
        rows.append(
            Check(
                claim,
                metric=metric,
                value=max(other.limit, 0.0) if np.isfinite(other.limit) else other.limit,
                tolerance=tolerance,
                status="rejected" if rejected else "not-rejected",
                reason=other.describe(unit, axis),
                role="control",
                alternative=name,
                rate=other.rate,
                trace=Trace(x, np.asarray(series, dtype=float), other),
                **_tail_evidence(other, tolerance, tau_axis),
                **place,
            )
        )
    return with_controls(row, rows)


def _monotone_tail(x, values, direction: int) -> bool:
    """Whether the tail of ``values`` never moves against ``direction`` (-1: down, +1: up) beyond rounding."""
    tail = np.asarray(values, dtype=float)[tail_indices(x)]
    tail = tail[np.isfinite(tail)]
    if tail.size < TAIL_POINTS:
        return False
    return bool(np.max(-direction * np.diff(tail)) <= SETTLED_JITTER * np.max(np.abs(tail)))


def _reached(x, values, tail: Tail, tolerance: float) -> bool:
    """A measured pass: the value at the end meets the tolerance and the tail has only decreased, so the
    (non-negative) limit lies between 0 and it, whatever a + c tau^-p makes of the tail (a quantity that drops to
    its floor within the tail, e.g. when the direction reaches a vertex of the l1 ball, fits badly)."""
    return bool(np.isfinite(tail.end) and tail.end <= tolerance and _monotone_tail(x, values, -1))


PLATEAU = 0.01  # a tail whose last TAIL_POINTS values stay this close to its end value (relative) has levelled off


def _left_behind(x, series, tail: Tail, tolerance: float) -> bool:
    """A measured rejection of a control: its value at the end is beyond the tolerance and its tail has only
    increased (its limit is no smaller), or it has levelled off FAIL_MARGIN times beyond the tolerance (its last
    TAIL_POINTS values within PLATEAU of the end: the direction it is measured at has stopped moving, e.g. at a
    vertex of the l1 ball, where a + c tau^-p fits the kink badly)."""
    if not (np.isfinite(tail.end) and tail.end > tolerance):
        return False
    values = np.asarray(series, dtype=float)[tail_indices(x)]
    last = values[np.isfinite(values)][-TAIL_POINTS:]
    level = (
        last.size == TAIL_POINTS
        and tail.end > FAIL_MARGIN * tolerance
        and bool(np.max(np.abs(last - tail.end)) <= PLATEAU * tail.end)
    )
    return level or _monotone_tail(x, series, +1)


SWEEP_PLATEAU_POINTS = 3  # a sweep has levelled off when its last 3 values, a decade of alpha or more, stay flat


def _sweep_levelled_off(x, values, tolerance: float) -> float:
    """A measured refutation in an alpha sweep: the values at the smallest alphas (largest x = 1/alpha) stay within
    PLATEAU of the last over at least a decade, and above the tolerance by more than their spread. The decades they
    span, or 0. (A tail in tau needs FAIL_MARGIN instead: a slow second mode looks like a constant there.)"""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    x, values = np.asarray(x, dtype=float)[finite], values[finite]
    if values.size < SWEEP_PLATEAU_POINTS:
        return 0.0
    last, span = values[-SWEEP_PLATEAU_POINTS:], np.log10(x[-1] / x[-SWEEP_PLATEAU_POINTS])
    spread = float(np.max(np.abs(last - last[-1])))
    flat = spread <= PLATEAU * last[-1] and last[-1] - SIGMAS * spread > tolerance
    return float(span) if flat and span >= 1 else 0.0


def _slow_could_vanish(slow: Tail, tolerance: float) -> bool:
    """Whether the logarithmic fit leaves a limit below the refutation margin possible."""
    return bool(np.isfinite(slow.limit) and slow.limit - SIGMAS * slow.uncertainty <= FAIL_MARGIN * tolerance)


def judge_vanishing(
    claim,
    run: RunView,
    metric: str,
    measure,
    *,
    tolerance: float,
    unit: str = "",
    controls: dict | None = None,
    why: str = "",
) -> list[Check]:
    """``judge_series`` over the run's tail in tau = -log L: ``measure(k)`` is the quantity at
    checkpoint k for the prediction, ``controls[name](k)`` for each wrong prediction."""
    tau = run.tau
    ks = tail_indices(tau)

    def series(fn):
        values = np.full(tau.size, np.nan)
        for k in ks:
            values[k] = fn(k)
        return values

    return judge_series(
        claim,
        where(run),
        metric,
        tau,
        series(measure),
        tolerance=tolerance,
        unit=unit,
        controls={name: series(fn) for name, fn in (controls or {}).items()},
        why=why,
        needs="the run cannot decide yet: continue the flow to a lower log-loss (solver log_loss_cap)",
    )


def _straddles(row: Check) -> bool:
    """A tail verdict that more training could still move: its limit's band crosses the tolerance."""
    if row.trace is None:
        return False
    tail = row.trace.tail
    return not (
        tail.limit + SIGMAS * tail.uncertainty <= row.tolerance
        or tail.limit - SIGMAS * tail.uncertainty > row.tolerance
    )


def coincides(control: Check) -> bool:
    """Whether a control's wrong answer is right on this run too: its tail's limit is within the tolerance by
    SIGMAS uncertainties, as a passing prediction's would be. Such a control can decide nothing; a check
    replaces it with another plausible wrong answer where it has one."""
    tail = control.trace.tail if control.trace is not None else None
    return tail is not None and bool(tail.limit + SIGMAS * tail.uncertainty <= control.tolerance)


def training_could_decide(rows: list[Check]) -> bool:
    """Whether a claim row among ``rows`` (each followed by its controls) could be decided, or its pass
    reached, by training further: an inconclusive row whose own tail, or a control's, is not yet decided
    either way, or a pass that only the fitted limit meets (extrapolated: the value at the end of the
    run is still above the tolerance), or a fail that a tail fit found: it stands only where training cannot
    go on (the cap), since a value still falling may be on its way to the limit slower than the fit can see
    (Corollary 2's l1 gap at d = 100 fitted a limit of 0.0137 over tau = 1e8..1e10, and passed at 1e35). A
    control that clearly coincides with the prediction stays coincident however long the run."""
    for i, row in enumerate(rows):
        if row.role == "claim" and row.status == "pass" and row.evidence == "extrapolated":
            return True
        if row.role == "claim" and row.status == "fail" and row.trace is not None:
            return True
        if row.role != "claim" or row.status != "inconclusive":
            continue
        controls = []
        for other in rows[i + 1 :]:
            if other.role != "control":
                break
            controls.append(other)
        unsettled = row.trace is not None and (not row.trace.settled or row.trace.slow is not None)
        if unsettled or _straddles(row) or any(_straddles(c) for c in controls):
            return True
    return False


def judge_limit(
    claim,
    run,
    metric: str,
    error: float,
    *,
    tolerance: float,
    why: str,
    controls: dict | None = None,
    unresolved: str | None = None,
) -> list[Check]:
    """Rows for a limit point: ``error`` of the prediction, ``controls[name]`` the errors of the
    wrong predictions; each is within ``tolerance`` or not. ``run`` is a RunView or, for a row
    about a group of runs, its location (a dict of experiment, architecture, depth, alpha, seed).
    ``unresolved``: why the run's end point cannot be judged at this tolerance (the claim row is then
    inconclusive, whatever its value)."""
    place = run if isinstance(run, dict) else where(run)
    passed = bool(np.isfinite(error) and error <= tolerance)
    end = {} if isinstance(run, dict) else {"log_loss_at_end": float(run.log_loss[run.final])}
    row = Check(
        claim,
        metric=metric,
        value=float(error),
        tolerance=float(tolerance),
        status="inconclusive" if unresolved else "pass" if passed else "fail",
        reason=f"{unresolved}; {why}" if unresolved else why,
        limit=float(error),
        value_at_end=float(error),
        decades_extrapolated=0.0,
        **end,
        **place,
    )
    rows = [
        Check(
            claim,
            metric=metric,
            value=float(e),
            tolerance=float(tolerance),
            status="rejected" if np.isfinite(e) and e > tolerance else "not-rejected",
            reason=f"{e / tolerance:.3g} times the tolerance" if np.isfinite(e) else "not computable",
            role="control",
            alternative=name,
            limit=float(e),
            value_at_end=float(e),
            **end,
            **place,
        )
        for name, e in (controls or {}).items()
    ]
    return with_controls(row, rows)


def regression_tolerance(run: RunView) -> tuple[float, str]:
    """The tolerance of a regression run's limit point and why, with the settings it was trained with."""
    if run.solver.get("name") == "gd":
        lr = float(run.solver["lr"])
        return 10 * lr, f"GD with lr = {lr:g} stops O(lr) away from the flow's limit; tolerance 10 lr"
    rtol, residual = float(run.solver.get("rtol", np.nan)), run.relative_residual
    return FLOW_RELATIVE, (
        f"the flow's limit point is accurate to ~1e-8 when integrated at rtol <= {RESOLVED:g} and stopped at a "
        f"relative residual <= {RESOLVED:g} (this run: rtol {rtol:g}, residual {residual:.2g}"
        + (
            "; it stalled there, at float64's floor, past what its limit point needs)"
            if run.stalled_past_resolution
            else ")"
        )
    )


def unresolved_limit(run: RunView) -> str | None:
    """Why a regression flow's end point does not resolve its limit to FLOW_RELATIVE, or None (GD: None,
    its tolerance is its own)."""
    if run.solver.get("name") == "gd":
        return None
    rtol, residual = float(run.solver.get("rtol", np.nan)), run.relative_residual
    if residual <= RESOLVED and rtol <= RESOLVED:
        return None
    return (
        f"the run ended at a relative residual of {residual:.2g} with rtol {rtol:g}: its end point does not resolve "
        f"the limit to {FLOW_RELATIVE:g} (train with residual_rtol and rtol <= {RESOLVED:g}; defaults 1e-12 and 1e-10)"
    )


def relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
