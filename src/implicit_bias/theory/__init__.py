"""What the paper predicts, and how far trained runs are from it.

``registry`` declares every claim; ``records`` holds runs, predictions and check rows; ``judging``
turns measurements into verdicts; ``claims/`` has each family's predictions and checks; the other
modules are the mathematics (Lemma 5.1, max-margin problems, Theorem 4's dual, Theorem 5).
"""

from .records import COLUMNS, FLOAT_COLUMNS, Check, Prediction, RunView
from .registry import CLAIM_IDS, CLAIMS, claim, predict


def check(claim_id: str, run: RunView, prediction: Prediction) -> list[Check]:
    """The rows of one claim's check on one run (its controls included)."""
    spec = claim(claim_id)
    return _guarded(claim_id, run, lambda: spec.check(run, prediction)) if spec.check else []


def check_group(claim_id: str, runs, predictions) -> list[Check]:
    """The rows of a claim about a group of runs (an alpha sweep, the spread across inits)."""
    spec = claim(claim_id)
    return spec.check_group(runs, predictions) if spec.check_group and runs else []


def _guarded(claim_id, run, rows):
    """A control's solver that fails makes the check fail with its reason, never a crash."""
    try:
        return rows()
    except (ValueError, ArithmeticError) as error:
        from .records import where

        return [
            Check(
                claim_id,
                metric="check",
                value=float("nan"),
                tolerance=float("nan"),
                status="fail",
                reason=f"the check could not be computed: {type(error).__name__}: {error}",
                **where(run),
            )
        ]


def check_runs(claims, runs: list[RunView], predictions: dict | None = None, *, depths=None) -> list[Check]:
    """Every check of ``claims`` on ``runs``: per run, then per group, then theory-only.

    ``predictions`` maps claim -> one Prediction per run; missing ones are computed here.
    """
    rows = []
    for claim_id in claims:
        spec = claim(claim_id)
        if spec.theory_only:
            own_depths = depths or sorted({r.network.depth for r in runs}) or [2, 3, 4, 5, 6]
            rows += spec.check_theory(depths=own_depths, experiment=runs[0].experiment if runs else "theory")
            continue
        own = (predictions or {}).get(claim_id) or [predict(claim_id, r) for r in runs]
        for run, prediction in zip(runs, own):
            rows += check(claim_id, run, prediction)
        rows += check_group(claim_id, runs, own)
    return rows


__all__ = [
    "CLAIM_IDS",
    "CLAIMS",
    "COLUMNS",
    "FLOAT_COLUMNS",
    "Check",
    "Prediction",
    "RunView",
    "check",
    "check_group",
    "check_runs",
    "claim",
    "predict",
]
