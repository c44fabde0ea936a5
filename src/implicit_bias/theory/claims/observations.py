"""Section 6's figures, Remarks 1 and 3, and Lemma 5.1.

Figure 1 (regression) and the exact-flow continuation of Figure 3 are claims with controls.
Figure 3 at the paper's stopping point and Remark 1's X^T r evidence are observations: what the
paper saw or left open, measured and reported, not a test of a theorem.
"""

from __future__ import annotations

import numpy as np

from ...decompositions import dft_matrix, orthogonal_decomposition
from ...geometry import angle_degrees
from .. import classification as mm
from .. import lemma5_1, regression
from ..judging import (
    ANGLE_DEGREES,
    judge_limit,
    judge_series,
    judge_vanishing,
    regression_tolerance,
    relative_error,
    tail_indices,
    unresolved_limit,
    with_controls,
)
from ..records import Check, Prediction, gate, unmeasured, where
from .classification import gap_rows, theorem2_prediction
from .regression import limit_rows, predict_theorem5, theorem4_prediction

PAPER_STOP_LOG_LOSS = np.log(1e-5)  # where the paper's GD stopped (Figure 3)
ARCHITECTURE_NORMS = {"fc": "l2", "diag": "l1", "conv": "DFT-domain l1"}  # Section 6's three networks


# --- Remark 1 ---------------------------------------------------------------------------------------
def predict_remark1_xtr_direction(run) -> Prediction:
    if orthogonal_decomposition(run.network) is None:
        return Prediction(
            "remark1_xtr_direction", False, "Remark 1 concerns the Theorem 2 settings (networks with Assumption 1)"
        )
    return Prediction("remark1_xtr_direction", True, "evidence on Theorem 2's assumption")


def _level_index(run, fraction: float) -> int:
    """The checkpoint whose tau is closest to ``fraction`` times the final tau."""
    tau = run.tau
    return int(np.nanargmin(np.abs(tau - fraction * tau[-1])))


def check_remark1_xtr_direction(run, prediction):
    if (rows := gate("remark1_xtr_direction", run, prediction)) is not None:
        return rows
    early = _level_index(run, 0.1)
    u_final = mm.run_residual_direction(run.network, run.theta[run.final], run.X, run.y)
    u_early = mm.run_residual_direction(run.network, run.theta[early], run.X, run.y)
    angle = angle_degrees(u_final, u_early)
    settled = "settled" if angle < 0.01 else "still moving"
    return [
        Check(
            "remark1_xtr_direction",
            metric="angle of X^T r over the last decade of log L (deg)",
            value=angle,
            tolerance=np.nan,
            status="observation",
            **where(run),
            reason=f"the paper leaves open whether X^T r converges in direction (Remark 1); here it is {settled} "
            f"({angle:.3g} deg from log L = {run.log_loss[early]:.4g} to {run.log_loss[run.final]:.4g})",
        )
    ]


# --- Remark 3 ---------------------------------------------------------------------------------------
def predict_remark3(run):
    if run.task == "classification":
        prediction = theorem2_prediction("remark3", run)
        if prediction.applicable:
            prediction.reason = "the T-domain l1 max-margin"
        return prediction
    return theorem4_prediction("remark3", run)


def check_remark3(run, prediction):
    if run.task != "classification":
        return limit_rows("remark3", run, prediction)
    if (rows := gate("remark3", run, prediction)) is not None:
        return rows
    T = np.asarray(run.network.settings["matrix"])
    rows = gap_rows("remark3", run, prediction, T, "the T-domain l1 max-margin")
    # sparsity: an l1 max-margin vertex has at most n nonzeros in the T-domain; beta itself need not
    n = run.X.shape[0]

    def nonzeros(v):
        v = np.abs(v)
        return int(np.sum(v > 1e-3 * v.max()))

    beta = run.beta[run.final]
    return rows + judge_limit(
        "remark3",
        run,
        "nonzeros of T beta (above 1e-3 of the largest)",
        nonzeros(T @ beta),
        tolerance=n,
        why=f"an l1 max-margin solution has at most n = {n} nonzeros",
        controls={"sparse in the standard basis (nonzeros of beta)": nonzeros(beta)},
    )


# --- Figure 1 ---------------------------------------------------------------------------------------
def min_norm_points(X, y) -> dict:
    """Section 6's alpha -> 0 points of the three networks: l2 (fc), l1 (diag), DFT-domain l1 (conv)."""
    d = np.shape(X)[1]
    return {
        "fc": regression.min_norm_solution(X, y),
        "diag": regression.transformed_l1_interpolant(X, y, np.eye(d)),
        "conv": regression.transformed_l1_interpolant(X, y, dft_matrix(d)),
    }


def predict_figure1(run):
    prediction = predict_theorem5(run, claim="figure1")
    prediction.alternatives = {
        f"the {ARCHITECTURE_NORMS[name]} min-norm point ({name}'s alpha -> 0 limit)": point
        for name, point in min_norm_points(run.X, run.y).items()
        if name != run.network.name
    }
    return prediction


def check_figure1(run, prediction):
    if (rows := gate("figure1", run, prediction)) is not None:
        return rows
    tolerance, why = regression_tolerance(run)
    beta = run.beta[run.final]
    controls = {name: relative_error(beta, point) for name, point in prediction.alternatives.items()}
    return judge_limit(
        "figure1",
        run,
        "relative error of the limit point (Theorem 5)",
        relative_error(beta, prediction.beta),
        tolerance=tolerance,
        why=why,
        unresolved=unresolved_limit(run),
        controls=controls,
    )


# --- Figure 3 ---------------------------------------------------------------------------------------
def max_margin_directions(run) -> dict:
    """Section 6's max-margin direction of each of the three 2-layer networks, for this data."""
    d = run.network.dim
    return {
        "fc": mm.l2_max_margin(run.X, run.y),
        "diag": mm.transformed_l1_max_margin(run.X, run.y, np.eye(d)),
        "conv": mm.transformed_l1_max_margin(run.X, run.y, dft_matrix(d)),
    }


def _section6_prediction(claim, run) -> Prediction:
    if run.network.name == "conv" and not all(k == run.network.dim for k in run.network.shape):
        return Prediction(claim, False, "Figure 3 shows full-length convolutions")
    norm = ARCHITECTURE_NORMS[run.network.name]
    directions = max_margin_directions(run)
    return Prediction(
        claim,
        True,
        f"the {norm} max-margin direction",
        beta=directions[run.network.name],
        alternatives={  # the other networks' directions: the controls of the continued flow (figure3_loss_gap)
            f"the {ARCHITECTURE_NORMS[name]} max-margin direction ({name})": b
            for name, b in directions.items()
            if name != run.network.name
        },
    )


def predict_figure3(run):
    return _section6_prediction("figure3", run)


def check_figure3(run, prediction):
    """An observation: the angle to the max-margin direction where the run stopped."""
    if (rows := gate("figure3", run, prediction)) is not None:
        return rows
    angle = angle_degrees(run.beta[run.final], prediction.beta)
    return [
        Check(
            "figure3",
            metric="angle to the max-margin direction at the end of training (deg)",
            value=angle,
            tolerance=np.nan,
            status="observation",
            **where(run),
            reason=f"at log L = {run.log_loss[run.final]:.4g}; the paper found its GD directions init-dependent "
            "at L ~ 1e-5 (not trained to zero loss)",
        )
    ]


def _spread(members, index_of) -> float:
    directions = [m.beta[index_of(m)] for m in members]
    return max((angle_degrees(a, b) for i, a in enumerate(directions) for b in directions[i + 1 :]), default=0.0)


def _by_architecture(runs, predictions):
    groups = {}
    for r, p in zip(runs, predictions):
        if p.applicable and r.ok:
            groups.setdefault(r.network.name, []).append(r)
    return groups


def _group_place(members, architecture) -> dict:
    """The location fields of a row about a group of runs (all alphas and seeds of one network)."""
    return dict(
        experiment=members[0].experiment,
        architecture=architecture,
        depth=members[0].network.depth,
        alpha=np.nan,
        seed=-1,
    )


def _too_few(claim, members, architecture, metric) -> Check:
    return unmeasured(
        claim,
        "not-applicable",
        f"a spread needs at least two successful runs, {architecture} has {len(members)}",
        metric,
        **_group_place(members, architecture),
    )


def check_group_figure3(runs, predictions):
    """The spread of directions across initialisations where the runs stopped (an observation)."""
    rows = []
    metric = "spread of directions across inits at the end (deg)"
    for architecture, members in _by_architecture(runs, predictions).items():
        if len(members) < 2:
            rows.append(_too_few("figure3", members, architecture, metric))
            continue
        spread = _spread(members, lambda m: m.final)
        level = max(m.log_loss[m.final] for m in members)
        rows.append(
            Check(
                "figure3",
                metric=metric,
                value=spread,
                tolerance=np.nan,
                status="observation",
                reason=f"{len(members)} runs, log L <= {level:.4g}: the paper saw init-dependent directions "
                f"at L ~ 1e-5; {'we do too' if spread > 1 else 'ours agree within 1 deg'}",
                **_group_place(members, architecture),
            )
        )
    return rows


def predict_figure3_loss_gap(run):
    return _section6_prediction("figure3_loss_gap", run)


def check_figure3_loss_gap(run, prediction):
    """Continued along the flow, each direction reaches its own network's max-margin direction, not
    another network's (the controls)."""
    if (rows := gate("figure3_loss_gap", run, prediction)) is not None:
        return rows

    def angle_to(target):
        return lambda k: angle_degrees(run.beta[k], target)

    controls = {name: angle_to(b) for name, b in prediction.alternatives.items()}
    return judge_vanishing(
        "figure3_loss_gap",
        run,
        "angle to this network's max-margin direction (deg)",
        angle_to(prediction.beta),
        tolerance=ANGLE_DEGREES,
        unit="deg",
        controls=controls,
    )


def check_group_figure3_loss_gap(runs, predictions):
    """Does the spread of directions across initialisations vanish when training goes on?

    The largest pairwise angle between the runs' directions is followed along the common tail of
    tau and judged like any vanishing quantity: its extrapolated limit must be within twice the
    direction tolerance (each run within ANGLE_DEGREES of the same direction). The runs end at different
    tau (each continues until its own checks decide): the value at the end is the spread of their final
    directions."""
    rows = []
    groups = _by_architecture(runs, predictions)
    for architecture, members in groups.items():
        place = _group_place(members, architecture)
        metric = "spread of directions across inits (deg)"
        if len(members) < 2:
            rows.append(_too_few("figure3_loss_gap", members, architecture, metric))
            continue
        at_paper = _spread(members, lambda m: int(np.nanargmin(np.abs(m.log_loss - PAPER_STOP_LOG_LOSS))))
        shortest = min(members, key=lambda m: m.tau[-1])
        tau = shortest.tau[tail_indices(shortest.tau)]

        def nearest(m, t):
            return int(np.nanargmin(np.abs(np.log(np.maximum(m.tau, 1e-300)) - np.log(t))))

        spread = np.array([_spread(members, lambda m, t=t: nearest(m, t)) for t in tau])
        final = _spread(members, lambda m: m.final)
        rows += judge_series(
            "figure3_loss_gap",
            place,
            metric,
            tau,
            spread,
            tolerance=2 * ANGLE_DEGREES,
            unit="deg",
            why=f"{len(members)} runs; the spread was {at_paper:.3g} deg at the paper's L = 1e-5, "
            f"{final:.3g} deg between their final directions",
            needs="the runs cannot decide yet: continue the flow to a lower log-loss (solver log_loss_cap)",
            at_end=final,
        )
    return rows


# --- Lemma 5.1 ----------------------------------------------------------------------------------------
def check_theory_lemma5_1(depths=(2, 3, 4, 5, 6), experiment="lemma5_1") -> list[Check]:
    """h_L against a high-accuracy ODE solve, its oddness and monotonicity, and c_L; controls: the
    neighbouring depth's h_{L+1} and c_{L+1} must not pass for depth L."""
    from scipy.integrate import quad

    rows = []
    for L in depths:
        c = lemma5_1.c_limit(L)
        t_max = 3.0 if L == 2 else 0.99 * c
        t, reference = _lemma5_1_reference(L, t_max)
        base = dict(experiment=experiment, architecture="-", depth=L, alpha=np.nan, seed=-1)
        rows += _theory_rows(
            "max relative error of h_L vs an ODE solve",
            _h_error(t, reference, L),
            1e-9,
            f"DOP853 at rtol 1e-13 on [0, {t_max:.4g}]; h_L grows to {reference[-1]:.3g}, so the "
            "reference itself is good to ~1e-10",
            base,
            {"h_(L+1) in place of h_L": _h_error(t, reference, L + 1)},
        )
        grid = np.linspace(-t_max, t_max, 2001)
        values = lemma5_1.h(grid, L)
        violations = np.sum(np.diff(values) <= 0) + np.sum(lemma5_1.h(-grid, L) != -values)
        rows += _theory_rows(
            "violations of oddness and strict increase on a grid",
            float(violations),
            0,
            "2001 points on [-t_max, t_max]",
            base,
            {},
        )
        if L >= 3:
            integral = quad(lambda u, L=L: (1 + u * u) ** (-(L - 1) / 2), 0, np.inf, epsabs=0, epsrel=1e-13)[0]
            rows += _theory_rows(
                "|c_L - int_0^inf (1+u^2)^{-(L-1)/2} du|",
                abs(c - integral),
                1e-12,
                "quadrature to 1e-13",
                base,
                {"c_(L+1) in place of c_L": abs(lemma5_1.c_limit(L + 1) - integral)},
            )
            rows += _theory_rows(
                "h_L(c_L (1 - 1e-9)) is large",
                float(1.0 / lemma5_1.h(c * (1 - 1e-9), L)),
                1e-6,
                "h_L -> inf at c_L: 1/h_L near c_L must be small",
                base,
                {},
            )
    return rows


def _lemma5_1_reference(L: int, t_max: float):
    """(t, p^{L-1} q) from a DOP853 solve of p' = p^{L-2} q, q' = p^{L-1} at rtol 1e-13."""
    from scipy.integrate import solve_ivp

    solution = solve_ivp(
        lambda t, z: [z[0] ** (L - 2) * z[1], z[0] ** (L - 1)],
        (0, t_max),
        [1.0, 0.0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-15,
        dense_output=True,
    )
    t = np.linspace(0, t_max, 201)
    p, q = solution.sol(t)
    return t, p ** (L - 1) * q


def _h_error(t, reference, depth: int) -> float:
    """Largest relative error of h_depth against the reference, where h_depth is finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        value = lemma5_1.h(t, depth)
    return float(np.nanmax(np.abs(value - reference) / np.maximum(np.abs(reference), 1e-300)))


def _theory_rows(metric, measured, tolerance, reason, base, controls) -> list[Check]:
    passed = bool(np.isfinite(measured) and measured <= tolerance)
    row = Check(
        "lemma5_1",
        metric=metric,
        value=float(measured),
        tolerance=tolerance,
        status="pass" if passed else "fail",
        reason=reason,
        limit=float(measured),
        value_at_end=float(measured),
        decades_extrapolated=0.0,
        **base,
    )
    return with_controls(
        row,
        [
            Check(
                "lemma5_1",
                metric=metric,
                value=float(value),
                tolerance=tolerance,
                reason="a wrong depth must not pass",
                status="not-rejected" if np.isfinite(value) and value <= tolerance else "rejected",
                role="control",
                alternative=name,
                **base,
            )
            for name, value in controls.items()
        ],
    )
