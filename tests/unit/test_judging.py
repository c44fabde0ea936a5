"""How a measured quantity becomes a verdict, and the evidence each row carries (claims.csv's columns)."""

import numpy as np
import pandas as pd
import pytest

from implicit_bias.report import headline, verdicts
from implicit_bias.report_html import shown_value
from implicit_bias.theory.judging import Tail, decades_to_tolerance, judge_limit, judge_series

PLACE = dict(experiment="e", architecture="diag", depth=2, alpha=1.0, seed=0)
TAU = np.geomspace(1e3, 1e5, 20)  # the last two decades of a run


def tail(limit, coefficient, rate, end):
    return Tail(limit, 0.0, rate, coefficient, False, end, 1e3, 1e5)


def test_decades_to_the_tolerance_solve_the_fitted_curve():
    # a + c (tau / tau_end)^-p = tol: 0 + 1e-2 r^-1/2 = 1e-3 at r = 100, two decades past the end
    assert decades_to_tolerance(tail(0.0, 1e-2, 0.5, 1e-2), 1e-3) == pytest.approx(2.0)
    assert decades_to_tolerance(tail(5e-4, 1e-2, 1.0, 1.05e-2), 1e-3) == pytest.approx(np.log10(1e-2 / 5e-4))
    assert decades_to_tolerance(tail(0.0, 1e-4, 0.5, 1e-4), 1e-3) == 0.0  # met at the end already
    assert decades_to_tolerance(tail(2e-3, 1e-2, 0.5, 1.2e-2), 1e-3) == np.inf  # the limit is above it


def test_a_pass_says_whether_it_was_reached_or_extrapolated():
    tolerance = 2e-3
    slow = 2e-2 * (TAU / TAU[-1]) ** -0.5  # 0.02 at the end, vanishing like tau^-1/2
    fast = 1e-4 * (TAU / TAU[-1]) ** -1.0  # already 1e-4 at the end
    (extrapolated,) = judge_series("c", PLACE, "m", TAU, slow, tolerance=tolerance)
    (reached,) = judge_series("c", PLACE, "m", TAU, fast, tolerance=tolerance)
    assert extrapolated.status == reached.status == "pass"
    assert (extrapolated.evidence, reached.evidence) == ("extrapolated", "reached")
    assert extrapolated.value_at_end == pytest.approx(2e-2) and reached.value_at_end == pytest.approx(1e-4)
    # the curve itself meets 2e-3 two decades on (0.02 r^-1/2); the fit, with its own small offset, near there
    assert 1.5 < extrapolated.decades_extrapolated < 3.5
    assert reached.decades_extrapolated == 0.0
    assert extrapolated.log_loss_at_end == -TAU[-1]
    (swept,) = judge_series("c", PLACE, "m", TAU, fast, tolerance=tolerance, tau_axis=False)
    assert np.isnan(swept.log_loss_at_end)  # x is 1/alpha there, not tau


def test_a_fitted_limit_below_zero_is_never_the_value_shown():
    values = 2e-3 * (TAU / TAU[-1]) ** -1.0 - 1e-3  # 1e-3 at the end, heading below 0: the fit's limit is negative
    (row,) = judge_series("c", PLACE, "m", TAU, values, tolerance=1e-2)
    assert row.limit < 0 and row.value == 0.0
    shown = shown_value(pd.Series(row.row()))
    assert shown.startswith("< ") or shown == "0"
    assert not shown.startswith("-")


def test_a_limit_point_is_reached_by_its_own_value():
    rows = judge_limit("c", PLACE, "relative error", 3e-9, tolerance=1e-6, why="w", controls={"other": 0.5})
    assert rows[0].evidence == "reached" and rows[0].value_at_end == rows[0].limit == 3e-9
    assert rows[0].decades_extrapolated == 0.0 and rows[1].evidence == ""  # a control has no evidence label


def test_the_headline_counts_reached_and_extrapolated_passes():
    rows = [
        *judge_series("theorem1", PLACE, "m", TAU, 2e-2 * (TAU / TAU[-1]) ** -0.5, tolerance=2e-3),
        *judge_series("theorem1", {**PLACE, "seed": 1}, "m", TAU, 1e-4 * (TAU / TAU[-1]) ** -1.0, tolerance=2e-3),
    ]
    table = pd.DataFrame([r.row() for r in rows])
    summary = verdicts(table)
    assert summary.loc[0, "reached"] == 1 and summary.loc[0, "extrapolated"] == 1
    assert headline(summary) == (
        "1 of 1 claims verified, 0 refuted, 0 inconclusive; 0 observations "
        "(passing checks: 1 reached at the end of their run, 1 extrapolated)"
    )


def test_an_observation_states_its_numbers():
    from implicit_bias.report import observed

    rows = pd.DataFrame(
        {
            "experiment": ["figure3"] * 3 + ["figure3_flow"],
            "metric": ["spread (deg)"] * 4,
            "value": [15.4, 85.7, 40.0, 0.05],
            "seed": [-1, -1, -1, -1],
            "status": ["observation"] * 4,
        }
    )
    assert (
        observed(rows)
        == "spread (deg) in figure3: 15.4 to 85.7 over 3 groups; spread (deg) in figure3_flow: 0.05 to 0.05 over 1 groups"
    )


def test_a_rising_or_non_monotone_tail_cannot_refute_and_training_continues():
    """Theorem 1 was refuted on a run whose residual was 0.119 and rising: its fit extrapolated the rise."""
    from implicit_bias.theory.judging import training_could_decide

    rising = 1.0 - 0.5 * (TAU / TAU[-1]) ** -0.2  # growing towards 1
    (row,) = judge_series("c", PLACE, "m", TAU, rising, tolerance=1e-3)
    assert row.status == "inconclusive" and "the tail is still rising or not monotone" in row.reason
    assert training_could_decide([row])
    bumpy = 0.5 + 0.1 * (TAU / TAU[-1]) ** -0.5
    bumpy[-5] += 0.05  # a bump late in the tail
    (row,) = judge_series("c", PLACE, "m", TAU, bumpy, tolerance=1e-3)
    assert row.status == "inconclusive" and training_could_decide([row])
    settled = 0.5 + 0.1 * (TAU / TAU[-1]) ** -0.5  # decreasing to 0.5, far beyond the tolerance
    (row,) = judge_series("c", PLACE, "m", TAU, settled, tolerance=1e-3)
    # a fail, which training still goes on to confirm at the cap (a tail fit's fail stands only there)
    assert row.status == "fail" and training_could_decide([row])


def test_a_logarithmic_approach_cannot_refute_and_training_continues():
    """At d = 1000 diagonal and conv networks approach their l1 max-margin direction slower than any power of
    tau: a + c tau^-p then fits a positive limit with a small uncertainty (0.0115 +- 0.0006 at 11x the tolerance
    on sparse data), which read as a refutation of a true corollary. A tail that a + c (log tau)^-q fits with a
    limit inside the refutation margin is inconclusive, and training goes on; a wrong limit stays refuted."""
    from implicit_bias.theory.judging import FAIL_MARGIN, fit_tail, training_could_decide

    tau = np.geomspace(1e4, 1e8, 40)
    slow = 3 / np.log(tau) ** 1.5  # vanishes, but only like (log tau)^-1.5: 0.038 at tau = 1e8
    assert fit_tail(tau, slow).limit - 2 * fit_tail(tau, slow).uncertainty > FAIL_MARGIN * 1e-3  # power fit: > 10x
    assert abs(fit_tail(tau, slow, logarithmic=True).limit) < 1e-3  # the logarithmic fit finds the limit ~0
    (row,) = judge_series("c", PLACE, "m", tau, slow, tolerance=1e-3, needs="continue")
    assert row.status == "inconclusive"
    assert "a logarithmic approach a + c (log tau)^-q fits the tail too" in row.reason and row.reason.endswith(
        "; continue"
    )
    assert training_could_decide([row])
    wrong = 0.05 + slow  # the same approach to a limit 50x the tolerance
    (row,) = judge_series("c", PLACE, "m", tau, wrong, tolerance=1e-3)
    assert row.status == "fail" and training_could_decide([row])  # confirmed where training cannot go on


def test_an_extrapolated_pass_trains_on_until_it_is_reached():
    """A pass that only the fitted limit meets is not yet what the run measured: training continues until the
    value at the end of the run meets the tolerance (or the cap); a reached pass stops it."""
    from implicit_bias.theory.judging import training_could_decide

    (extrapolated,) = judge_series("c", PLACE, "m", TAU, 2e-2 * (TAU / TAU[-1]) ** -0.5, tolerance=2e-3)
    (reached,) = judge_series("c", PLACE, "m", TAU, 1e-4 * (TAU / TAU[-1]) ** -1.0, tolerance=2e-3)
    assert extrapolated.status == reached.status == "pass"
    assert training_could_decide([extrapolated]) and not training_could_decide([reached])
    assert training_could_decide([reached, extrapolated])


def test_a_group_that_ended_at_different_tau_is_reached_by_its_value_at_each_runs_end():
    """The spread across inits is fitted on the shortest run's tail; the runs went on, each until its own checks
    decided, and their final directions are what training reached."""
    slow = 2e-2 * (TAU / TAU[-1]) ** -0.5
    (fitted_only,) = judge_series("c", PLACE, "m", TAU, slow, tolerance=2e-3)
    (group,) = judge_series("c", PLACE, "m", TAU, slow, tolerance=2e-3, at_end=1e-3)
    (far,) = judge_series("c", PLACE, "m", TAU, slow, tolerance=2e-3, at_end=5e-3)
    assert fitted_only.evidence == far.evidence == "extrapolated" and group.evidence == "reached"
    assert group.value_at_end == 1e-3 and group.decades_extrapolated == 0.0
    assert far.decades_extrapolated == fitted_only.decades_extrapolated > 0
    assert group.limit == fitted_only.limit and group.status == "pass"


def test_a_value_that_drops_to_its_floor_within_the_tail_passes_as_measured():
    """orthogonal_classification_3 (fresh instances): the l1 gap fell from 1e-2 to 2e-11 within the tail when the
    direction reached the vertex; a + c tau^-p fits that drop with a limit of -0.013 +- 0.013, which straddled the
    tolerance, and a control rising to 0.05 at the end was fitted to 0: both rows stayed inconclusive."""
    drop = np.where(TAU < TAU[12], 1e-2 * (TAU / TAU[0]) ** -0.3, 2e-11)  # monotone, and at its floor at the end
    rise = np.where(TAU < TAU[12], 0.01, 0.05)  # the control: left behind at 50x the tolerance
    (row, control) = judge_series("c", PLACE, "m", TAU, drop, tolerance=1e-3, controls={"other": rise})
    assert row.status == "pass" and row.evidence == "reached" and "only decreased" in row.reason
    assert control.status == "rejected"
    bump = drop.copy()
    bump[-3] = 5e-3  # below the tolerance at the end, but not monotone: the fit decides, and it cannot
    (row,) = judge_series("c", PLACE, "m", TAU, bump, tolerance=1e-3)
    assert row.status == "inconclusive"
    falling = np.where(TAU < TAU[12], 0.06 * (TAU / TAU[0]) ** -0.05, 0.05)  # down to a plateau at 50x: levelled
    (row, control) = judge_series("c", PLACE, "m", TAU, drop, tolerance=1e-3, controls={"other": falling})
    assert control.status == "rejected" and row.status == "pass"
    still = 0.05 * (TAU / TAU[-1]) ** -0.5  # still falling at the end, like tau^-1/2 to 0: neither
    (row, control) = judge_series("c", PLACE, "m", TAU, drop, tolerance=1e-3, controls={"other": still})
    assert control.status == "not-rejected" and row.status == "inconclusive"


def test_a_sweep_that_levelled_off_above_the_tolerance_is_measured_not_a_slow_approach():
    """judge_series over 1/alpha: flat at 4.8x the tolerance for a decade of alpha is a fail; an approach to 0
    like alpha or like 1/log(1/alpha) (20 % per decade at alpha = 1e-4) is not levelled off."""
    from implicit_bias.theory.judging import _sweep_levelled_off

    alphas = np.array([1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4])
    x = 1 / alphas
    assert _sweep_levelled_off(x, 4.8e-3 + 1e-3 * alphas, 1e-3) == pytest.approx(1.0)
    assert _sweep_levelled_off(x, 0.3 * alphas, 1e-3) == 0  # shrinking like alpha
    assert _sweep_levelled_off(x, 0.05 / np.log(1 / alphas), 1e-3) == 0  # shrinking like 1/log(1/alpha)
    assert _sweep_levelled_off(x, np.full(alphas.shape, 0.999e-3), 1e-3) == 0  # flat, within the tolerance
    assert _sweep_levelled_off(np.array([1e3, 1.5e3, 2e3]), np.full(3, 4.8e-3), 1e-3) == 0  # flat, 0.3 decades
    flat = judge_series("theorem6", PLACE, "distance", x, 4.8e-3 + 1e-3 * alphas, tolerance=1e-3, tau_axis=False)
    assert flat[0].status == "fail"
    assert (
        judge_series("theorem6", PLACE, "distance", x, 0.3 * alphas, tolerance=1e-3, tau_axis=False)[0].status == "pass"
    )
