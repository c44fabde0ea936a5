"""The records claims work with: a trained run (``RunView``), what a claim predicts for it
(``Prediction``), and one row of the verdict (``Check``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..networks import LinearTensorNetwork

# Statuses of a claim row (role "claim") and of a control row (role "control").
CLAIM_STATUSES = ("pass", "fail", "inconclusive", "not-applicable", "observation")
CONTROL_STATUSES = ("rejected", "not-rejected")


# a regression flow's end point resolves its limit to judging.FLOW_RELATIVE only when it was integrated and
# stopped this close (relative residual at the end, and the integrator's rtol): 100x below the tolerance
RESOLVED = 1e-8


@dataclass
class RunView:
    """What a check needs of one trained run (from a run file, see ``checking.read_run``, or from training)."""

    experiment: str
    network: LinearTensorNetwork
    X: np.ndarray
    y: np.ndarray
    task: str
    alpha: float
    seed: int
    init: str
    solver: dict
    status: str
    reason: str
    beta: np.ndarray  # (K, d)
    log_loss: np.ndarray  # (K,)
    theta: np.ndarray  # (K, P)
    theta_init: np.ndarray

    @classmethod
    def of(
        cls,
        network,
        dataset,
        *,
        alpha,
        seed,
        init,
        solver: dict,
        experiment="adhoc",
        status="planned",
        reason="",
        beta=None,
        log_loss=None,
        theta=None,
        theta_init,
    ):
        """A run of ``network`` on ``dataset`` (anything with X, y, task); without records it is a run as it
        will start (status "planned"), which is all a prediction needs."""
        return cls(
            experiment,
            network,
            dataset.X,
            dataset.y,
            dataset.task,
            float(alpha),
            int(seed),
            init,
            solver,
            status,
            reason,
            np.zeros((0, network.dim)) if beta is None else beta,
            np.zeros((0,)) if log_loss is None else log_loss,
            np.zeros((0, network.n_params)) if theta is None else theta,
            theta_init,
        )

    @classmethod
    def from_result(cls, result, network, dataset, *, alpha, seed, init, solver: dict, experiment="adhoc"):
        """From a ``RunResult`` of the library's own training."""
        return cls.of(
            network,
            dataset,
            alpha=alpha,
            seed=seed,
            init=init,
            solver=solver,
            experiment=experiment,
            status=result.status,
            reason=result.reason,
            beta=result.beta,
            log_loss=result.log_loss,
            theta=result.theta,
            theta_init=result.theta_init,
        )

    @property
    def ok(self) -> bool:
        """Trained to the end, or a regression flow that stalled only after it resolved its limit point
        (float64's round-off floor of the residual: diag L = 3 at d = 100 stalled at a relative residual of
        2.8e-12 on one machine and reached 1e-12 on another)."""
        return self.status in ("completed", "converged") or self.stalled_past_resolution

    @property
    def stalled_past_resolution(self) -> bool:
        """A regression flow that stalled at a relative residual and rtol <= RESOLVED."""
        if self.status != "stalled" or self.task != "regression" or self.solver.get("name") != "flow":
            return False
        rtol = float(self.solver.get("rtol", np.nan))
        return rtol <= RESOLVED and self.relative_residual <= RESOLVED

    @property
    def relative_residual(self) -> float:
        """||X beta - y|| / ||y|| at the last checkpoint."""
        beta = self.beta[self.final]
        return float(np.linalg.norm(self.X @ beta - self.y) / np.linalg.norm(self.y))

    @property
    def directions(self) -> list[np.ndarray]:
        """The initial directions v̄_l = v_l(0) / alpha."""
        return self.network.unflatten(self.theta_init / self.alpha)

    @property
    def final(self) -> int:
        finite = np.nonzero(np.isfinite(self.log_loss))[0]
        return int(finite[-1]) if finite.size else 0

    @property
    def tau(self) -> np.ndarray:
        """tau = -log L at every recorded checkpoint up to the final one."""
        return -self.log_loss[: self.final + 1]


@dataclass
class Prediction:
    """What a claim says a run's limit is, if the claim applies.

    ``alternatives`` are the plausible wrong predictions (controls) the same check must reject:
    name -> the alternative's beta (or, where the claim predicts something else, what it needs).
    """

    claim: str
    applicable: bool
    reason: str
    beta: np.ndarray | None = None
    theta: list | None = None
    info: dict = field(default_factory=dict)
    error: str = ""  # the prediction applies but could not be computed (a solver failed)
    alternatives: dict = field(default_factory=dict)


@dataclass
class Check:
    """One row of claims.csv: the claim's verdict on one run (role "claim"), or one control."""

    claim: str
    experiment: str
    architecture: str
    depth: int
    alpha: float
    seed: int
    metric: str
    value: float
    tolerance: float
    status: str
    reason: str
    role: str = "claim"
    alternative: str = ""
    rate: float = np.nan  # fitted p of value ~ a + c tau^-p (classification tails)
    # the evidence behind the value (docs/results.md): for a tail the fitted limit a (value is a, never below
    # 0: every judged quantity is non-negative) and its uncertainty; for a limit point the value itself
    limit: float = np.nan
    limit_uncertainty: float = np.nan
    value_at_end: float = np.nan  # measured at the run's last checkpoint (a sweep: its last alpha)
    log_loss_at_end: float = np.nan
    decades_extrapolated: float = np.nan  # decades of tau past the end to where the fit meets the tolerance
    evidence: str = ""  # a pass: "reached" (the end value meets the tolerance) or "extrapolated" (only the fit does)
    trace: object = field(default=None, repr=False, compare=False)  # the judged series (judging.Trace), not a column

    def row(self) -> dict:
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = [f.name for f in fields(Check) if f.name != "trace"]
FLOAT_COLUMNS = {f.name for f in fields(Check) if f.type == "float"}  # the rest are text and integers


def where(run: RunView) -> dict:
    """The location fields of a row about ``run``."""
    return dict(
        experiment=run.experiment,
        architecture=run.network.name,
        depth=run.network.depth,
        alpha=run.alpha,
        seed=run.seed,
    )


def unmeasured(claim, status: str, reason: str, metric: str = "-", **place) -> Check:
    """A row without a measured value: not-applicable, inconclusive or a fail, whose reason says why."""
    return Check(claim, metric=metric, value=np.nan, tolerance=np.nan, status=status, reason=reason, **place)


def not_applicable(claim, run, reason) -> Check:
    return unmeasured(claim, "not-applicable", reason, **where(run))


def gate(claim, run, prediction) -> list[Check] | None:
    """Rows for a prediction that does not apply (not-applicable), could not be computed or a run that did
    not finish (both inconclusive: a solver's numerical failure is no evidence against the theorem), else None."""
    if not prediction.applicable:
        return [not_applicable(claim, run, prediction.reason)]
    if prediction.error:
        reason = f"the prediction could not be computed: {prediction.error}; nothing to compare the run with"
        return [unmeasured(claim, "inconclusive", reason, "prediction", **where(run))]
    if not run.ok:  # a solver that stopped short (stalled, diverged, out of steps) is no evidence either way
        reason = f"the run {run.status}: {run.reason}; a run that did not finish training cannot test the claim"
        return [unmeasured(claim, "inconclusive", reason, "run status", **where(run))]
    return None
