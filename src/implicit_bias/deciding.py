"""Training until the checks can decide: a classification flow continues a decade of log L at a time,
down to its cap (``GradientFlow.cap``), while a check of the claims it serves is inconclusive in a way that
more training could settle, passes only by extrapolation, or fails by a tail fit (which stands only at the
cap). (Apart from ``runs`` so that training that does not continue runs no claim code.)"""

from __future__ import annotations

import numpy as np

from .theory import CLAIMS, check, predict
from .theory.judging import training_could_decide
from .theory.records import RunView


def decider(claims, predicted=None, predicted_init=None):
    """The ``decide`` argument of ``runs.train_run``: continue a run while a check of ``claims`` on it
    could still be decided by training. Returns (result, why training stopped).

    ``predicted`` (claim -> Prediction, from the experiment's predictions file, made for the
    initialisation ``predicted_init``) spares the job solving the claims' programs again (and
    importing cvxpy); without it the claims predict here."""

    def decide(solver, problem, result, dataset, *, log=None, **run):
        if predicted is not None and not np.array_equal(predicted_init, result.theta_init):
            raise ValueError("the run and its predictions start from different initialisations")

        def undecided(current):
            return undecided_claims(
                current, problem.network, dataset, claims=claims, solver=solver.settings(), predicted=predicted, **run
            )

        return train_until_decided(solver, problem, result, undecided, log)

    return decide


def undecided_claims(
    result, network, dataset, *, claims, alpha, seed, init, solver: dict, experiment: str, predicted=None
) -> list[str]:
    """The claims among ``claims`` whose check on this run is inconclusive in a way that training
    further could decide (not a control that coincides with the prediction on this instance), or passes
    only by extrapolation."""
    view = RunView.from_result(
        result, network, dataset, alpha=alpha, seed=seed, init=init, solver=solver, experiment=experiment
    )
    per_run = [c for c in claims if not CLAIMS[c].theory_only]
    if predicted is None:
        predicted = {c: predict(c, view) for c in per_run}
    return [c for c in per_run if training_could_decide(check(c, view, predicted[c]))]


def train_until_decided(solver, problem, result, decide, log=None):
    """Continue a classification flow past its target, a decade of log L at a time, while
    ``decide(result)`` names claims whose checks are inconclusive or pass only by extrapolation, down to
    ``solver.cap(problem.task)``.

    Returns (result, why it stopped).
    """
    target, cap = solver.target(problem), solver.cap(problem.task)
    while True:
        undecided = decide(result) if result.ok else []
        if not undecided:
            return result, f"nothing left that training could decide at log L = {result.log_loss[-1]:.4g}"
        if target <= cap:
            return result, (
                f"reached the cap log L = {cap:g} with {', '.join(undecided)} still inconclusive, extrapolated or "
                "failing by a tail fit"
            )
        target = max(10 * target, cap)
        if log:
            log(
                f"{', '.join(undecided)} inconclusive, extrapolated or failing by a tail fit at log L = "
                f"{result.log_loss[-1]:.4g}: "
                f"continuing to {target:.4g}"
            )
        extended = solver.extend(problem, result, target)
        if not extended.ok:  # keep what was reached; the checks say they are inconclusive
            return result, (
                f"continuing to log L = {target:.4g} failed ({extended.status}: {extended.reason}); "
                f"{', '.join(undecided)} still inconclusive"
            )
        result = extended
