"""Figures keep the one mapping (architecture -> colour, seed -> line style) and Figures 1 and 3 the paper's
encoding (one frame per row with equal aspect, axes beta_1 and beta_2, start and end marked)."""

import numpy as np
import xarray as xr

from implicit_bias import figures


def test_an_architecture_has_its_colour_whatever_else_is_drawn():
    alone = figures.architecture_palette(["conv_L2"])
    together = figures.architecture_palette(["fc_L2", "diag_L2", "conv_L2", "fc_L3_w4-4"])
    assert alone["conv_L2"] == together["conv_L2"]
    assert len(set(together.values())) == 4  # fc at two depths: two shades of one colour
    assert np.allclose(np.array(together["fc_L3_w4-4"]) / np.array(together["fc_L2"]), 0.72)
    assert list(together) == ["fc_L2", "fc_L3_w4-4", "diag_L2", "conv_L2"]  # the paper's column order


def _summary(task: str) -> xr.Dataset:
    """Two alphas x three networks x two seeds of 2-d paths: beta grows along a straight line from a start
    that depends on the seed; the prediction is a fixed point."""
    archs, alphas, seeds, K = ["conv_L2", "fc_L2", "diag_L2"], [0.01, 1.0], [0, 1], 30
    t = np.linspace(0, 1, K)
    beta = np.zeros((3, 2, 2, K, 2))
    for a in range(3):
        for i, alpha in enumerate(alphas):
            for s in range(2):
                start = np.array([0.1 * (s + 1), -0.1]) * alpha
                end = np.array([1.0 + a, 2.0 + 3 * i]) * (10 if task == "classification" else 1)
                beta[a, i, s] = start + t[:, None] * (end - start)
    log_loss = np.broadcast_to(np.linspace(0, -30, K), beta.shape[:-1])
    dims = ("architecture", "alpha", "seed", "checkpoint")
    coords = dict(architecture=archs, alpha=alphas, seed=seeds, claim=["figure1"])
    pred = np.broadcast_to(np.array([0.2, 0.4]), (1, 3, 2, 2, 2))
    return xr.Dataset(
        {
            "beta": (dims + ("coef",), beta),
            "log_loss": (dims, log_loss),
            "beta_pred": (("claim", "architecture", "alpha", "seed", "coef"), pred),
        },
        coords=coords,
        attrs={"task": task, "x0": "[1.0, 2.0]", "y0": 1.0},
    )


def test_figures_1_and_3_share_one_frame_per_row_in_the_papers_columns():
    for task in ("regression", "classification"):
        fig = figures.trajectories(_summary(task), "toy")
        axes = np.array(fig.axes[:6]).reshape(2, 3)
        for row in axes:
            assert len({(ax.get_xlim(), ax.get_ylim()) for ax in row}) == 1, task
            (x0, x1), (y0, y1) = row[0].get_xlim(), row[0].get_ylim()
            assert np.isclose(x1 - x0, y1 - y0)  # square, drawn with equal aspect
            assert all(ax.get_aspect() == 1.0 for ax in row)
        assert [ax.get_title().split(",")[0] for ax in axes[0]] == ["fully-connected", "diagonal", "convolutional"]
        assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in axes.flat} == {("β₁", "β₂")}
        labels = {text.get_text() for text in fig.legends[0].get_texts()}
        assert {"seed 0", "seed 1", "start", "end of training"} <= labels


def test_a_classification_frame_is_clipped_where_the_papers_gd_stopped():
    """beta runs on to 10x its size; the frame holds the path up to L = 1e-5 (log L = -11.5), not its end."""
    summary = _summary("classification")
    fig = figures.trajectories(summary, "toy")
    ax = fig.axes[0]  # fc, alpha = 0.01
    beta = summary["beta"].sel(architecture="fc_L2", alpha=0.01, seed=0).values
    log_loss = summary["log_loss"].sel(architecture="fc_L2", alpha=0.01, seed=0).values
    clipped = beta[np.nonzero(log_loss <= np.log(1e-5))[0][0]]
    assert ax.get_ylim()[1] < beta[-1, 1] and ax.get_ylim()[1] >= clipped[1]


def test_tail_panels_leave_out_series_at_the_floor_and_merge_claims_judging_the_same_series():
    """Theorem 2 and Corollary 2 judge one run's optimality gap: one panel titled with both; a KKT residual at
    the 1e-12 floor all along has no rate to show: no panel."""
    moving = np.geomspace(1e-2, 1e-4, 8)
    floor = np.full(8, 1e-16)
    rows = [("corollary2", moving), ("theorem2", moving), ("corollary3", floor), ("theorem1", moving * 3)]
    tails = xr.Dataset(
        {
            "value": (("series", "point"), np.array([v for _, v in rows])),
            "claim": ("series", [c for c, _ in rows]),
            "architecture": ("series", ["diag"] * 4),
            "depth": ("series", [2] * 4),
            "role": ("series", ["claim"] * 4),
            "alpha": ("series", [0.5] * 4),
            "seed": ("series", [0] * 4),
        }
    )
    assert figures._moving_panels(tails) == {("corollary2", "diag", 2): ["theorem2"], ("theorem1", "diag", 2): []}
