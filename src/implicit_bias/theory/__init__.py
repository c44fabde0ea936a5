"""What the paper predicts, and how far trained runs are from it."""

from .claims import CLAIM_IDS, CLAIMS, Check, Prediction, RunView, check, check_group
from .claims import predict as _predict


def predict(claim: str, run: RunView) -> Prediction:
    """The claim's prediction for the run; a solver that fails gives a Prediction with ``error`` set."""
    try:
        return _predict(claim, run)
    except (ValueError, ArithmeticError) as error:  # cvxpy infeasible, Newton not converging, ...
        return Prediction(claim, True, "the prediction applies", error=f"{type(error).__name__}: {error}")


def check_runs(claims, runs: list[RunView], predictions: dict | None = None, *, depths=None) -> list[Check]:
    """Every check of ``claims`` on ``runs``: per run, then per group (alpha sweeps), then theory-only.

    ``predictions`` maps claim -> one Prediction per run; missing ones are computed here.
    """
    rows = []
    for claim in claims:
        if claim not in CLAIMS:
            raise ValueError(f"unknown claim {claim!r}; expected one of {list(CLAIM_IDS)}")
        spec = CLAIMS[claim]
        if spec.check_theory is not None:
            own_depths = depths or sorted({r.network.depth for r in runs}) or [2, 3, 4, 5, 6]
            rows += spec.check_theory(depths=own_depths, experiment=runs[0].experiment if runs else "theory")
            continue
        own = (predictions or {}).get(claim) or [predict(claim, r) for r in runs]
        for run, prediction in zip(runs, own):
            rows += check(claim, run, prediction)
        rows += check_group(claim, runs, own)
    return rows


__all__ = ["CLAIM_IDS", "CLAIMS", "Check", "Prediction", "RunView", "check", "check_group", "check_runs", "predict"]
