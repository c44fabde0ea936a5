"""Figures from experiment summaries only (seaborn), each saved as PNG and PDF.

- ``trajectories``: Figures 1 and 3 — beta's path per run, its predicted limit, the line of global
  minima (regression) or the max-margin ray (classification); 2-dimensional data only.
- ``alpha_sweep``: Remark 4 and Theorem 6.2 — relative distance of the trained limit to the
  weighted l1 and l2 solutions, and to the min-l2 interpolant, against alpha.
- ``direction_error``: classification — angle between beta and its predicted direction against
  -log L, showing where the paper's GD stopped (L = 1e-5).
- ``agreement``: trained against predicted coefficients for every claim that predicts beta.
- ``tail_fits``: classification — each judged quantity against tau = -log L over the run's tail,
  with its fit a + c tau^-p and the tolerance, the controls in grey (from the checks' tails file).
- ``forest``: classification flows — each tail verdict's limit and band as a multiple of its tolerance.
- ``rich_kernel``: data with a planted beta* — distance to beta* and test error against alpha, with the
  min-l1 (rich) and min-l2 (kernel) interpolants marked: the transition Remark 4 predicts.
- ``limit_images``: square images (digits: 8 x 8) — each network's trained beta as an image beside the
  direction its claim predicts, with the angle between them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _import_seaborn():
    """seaborn imports scipy.stats (0.5 s, a fifth of a figure job) only for gaussian_kde and scipy.cluster
    (0.2 s) only for clustermap, neither of which a figure here draws; where they cannot be imported it
    takes its bundled KDE and leaves clustering out."""
    import sys

    skipped = [name for name in ("scipy.stats", "scipy.cluster") if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None  # importing it now raises ImportError
    try:
        import seaborn
    finally:
        for name in skipped:
            del sys.modules[name]
    return seaborn


sns = _import_seaborn()

from .files import atomic_write  # noqa: E402
from .geometry import angle_degrees, unit  # noqa: E402
from .summaries import last_finite  # noqa: E402

FIGURES = (
    "trajectories",
    "alpha_sweep",
    "direction_error",
    "agreement",
    "tail_fits",
    "forest",
    "rich_kernel",
    "limit_images",
)
FLOOR = 1e-12  # values drawn on a log axis are clipped here (a quantity at its numerical floor)


def save(fig, paths) -> list[Path]:
    """Write ``fig`` to each path (the format from its suffix: .png, .pdf, .svg), atomically."""
    written = [
        atomic_write(
            path, lambda tmp, fmt=Path(path).suffix[1:]: fig.savefig(tmp, format=fmt, dpi=130, bbox_inches="tight")
        )
        for path in paths
    ]
    plt.close(fig)
    return written


def _primary_claim(summary):
    """The claim whose predictions the plots show: the one that predicts beta for the most runs."""
    counts = {
        str(c): int(np.isfinite(summary["beta_pred"].sel(claim=c).values).all(axis=-1).sum())
        for c in summary["claim"].values
    }
    best = max(counts, key=counts.get, default=None)
    return best if best is not None and counts[best] > 0 else None


PAPER_COLUMNS = ("fc", "diag", "conv")  # Figures 1 and 3: columns fc, diag, conv; rows alpha
SEED_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))
# One mapping in every figure: architecture -> colour (seaborn's colour-blind palette; deeper networks of a
# name darker), seed -> line style and marker (SEED_STYLES), alpha -> panel or shade.
NAME_COLOURS = {"fc": 0, "diag": 1, "conv": 2, "transform": 4, "sensing": 5}
NAMES = {"fc": "fully-connected", "diag": "diagonal", "conv": "convolutional"}
GD_STOP_LOG_LOSS = float(np.log(1e-5))  # where the paper's GD stopped in Figure 3 (L ~ 1e-5)


def _paper_order(labels) -> list:
    """Architecture labels in the paper's column order (fc, diag, conv), any others after."""

    def rank(label):
        name = str(label).split("_")[0]
        return (PAPER_COLUMNS.index(name) if name in PAPER_COLUMNS else len(PAPER_COLUMNS), str(label))

    return sorted(labels, key=rank)


def architecture_palette(labels) -> dict:
    """label -> colour: by the architecture's name (fc blue, diag orange, conv green, ...), a darker shade for
    each further label of the same name (deeper, wider), so a network has its colour in every figure."""
    from matplotlib.colors import to_rgb

    base = sns.color_palette("colorblind")
    palette, seen = {}, {}
    for label in _paper_order(labels):
        name = str(label).split("_")[0]
        k = seen[name] = seen.get(name, -1) + 1
        colour = np.array(to_rgb(base[NAME_COLOURS.get(name, 7)]))
        palette[label] = tuple(colour * 0.72**k)
    return palette


def _seed_style(s: int) -> tuple[str, str]:
    return SEED_STYLES[s % len(SEED_STYLES)]


def _describe(label) -> str:
    """fc_L2 -> 'fully-connected, L = 2' (the label's other parts kept as they are)."""
    name, *rest = str(label).split("_")
    parts = [NAMES.get(name, name)] + [f"L = {r[1:]}" if r.startswith("L") and r[1:].isdigit() else r for r in rest]
    return ", ".join(parts)


def trajectories(summary, name: str):
    """Figures 1/3 as the paper draws them: rows alpha, columns fc / diag / conv, beta itself in one clipped
    frame per row (equal aspect, axes beta_1 and beta_2); per seed a line style, its start (open marker), its
    end (filled) and its predicted limit (x). Regression: the line of global minima. Classification: the frame
    is clipped where the paper's GD stopped (L ~ 1e-5); the predicted direction is a dashed ray, and a
    triangle on the frame's edge shows each run's direction at its end (beyond the frame for a long flow)."""
    if summary.sizes["coef"] != 2:
        return None
    classification = summary.attrs["task"] == "classification"
    claim = _primary_claim(summary)
    archs, alphas, seeds = _paper_order(summary["architecture"].values), summary["alpha"].values, summary["seed"].values
    colours = architecture_palette(archs)
    fig, axes = plt.subplots(
        len(alphas), len(archs), figsize=(3.3 * len(archs), 3.3 * len(alphas)), squeeze=False, layout="constrained"
    )
    for i, alpha in enumerate(alphas):
        framed, ends = [np.zeros((1, 2))] if classification else [], []
        for j, arch in enumerate(archs):
            ax, colour = axes[i, j], colours[arch]
            for s, seed in enumerate(seeds):
                line, marker = _seed_style(s)
                point = dict(architecture=arch, alpha=alpha, seed=seed)
                beta = summary["beta"].sel(**point).values
                log_loss = summary["log_loss"].sel(**point).values
                keep = np.all(np.isfinite(beta), axis=1)
                beta, log_loss = beta[keep], log_loss[keep]
                if not len(beta):
                    continue
                shown = beta
                if classification:  # clipped where the paper's GD stopped: the flow goes on out of the frame
                    past = np.nonzero(log_loss <= GD_STOP_LOG_LOSS)[0]
                    shown = beta[: past[0] + 1] if past.size else beta
                    ends.append((ax, unit(beta[-1]), colour))
                framed.append(shown)
                ax.plot(beta[:, 0], beta[:, 1], color=colour, ls=line, lw=1.3, zorder=3)
                ax.plot(*beta[0], marker, mfc="white", mec=colour, ms=5, zorder=4)
                ax.plot(*beta[-1], marker, color=colour, ms=5, zorder=4)
                if claim is None:
                    continue
                pred = summary["beta_pred"].sel(claim=claim, **point).values
                if not np.all(np.isfinite(pred)):
                    continue
                if classification:
                    ray = unit(pred)[None, :] * np.array([[0.0], [1e6]])
                    ax.plot(ray[:, 0], ray[:, 1], color="0.45", lw=3.5, alpha=0.35, solid_capstyle="butt", zorder=2)
                else:
                    ax.plot(*pred, "x", color="0.15", ms=8, mew=1.8, zorder=5)
                    framed.append(pred[None, :])
            ax.set_title(f"{_describe(arch)}, α = {alpha:g}", fontsize=9)
            ax.set_xlabel("β₁"), ax.set_ylabel("β₂")
        for j in range(len(archs)):  # one frame per row, as in the paper: the panels can be compared
            _frame(axes[i, j], framed)
            if not classification:
                _global_minima_line(axes[i, j], summary)
            axes[i, j].set_aspect("equal", adjustable="box")
        for ax, direction, colour in ends:
            _edge_marker(ax, direction, colour)
    fig.legend(handles=_trajectory_legend(seeds, classification), loc="outside lower center", ncol=4, fontsize=7)
    where = "clipped at L = 1e-5, where the paper's GD stopped" if classification else "grey: the global minima"
    fig.suptitle(f"{name}: trajectories of β ({where}); predicted limit from {claim}", fontsize=10)
    return fig


def _trajectory_legend(seeds, classification) -> list:
    handles = [
        plt.Line2D([], [], color="0.3", ls=line, marker=marker, ms=4, label=f"seed {seed}")
        for seed, (line, marker) in zip(seeds, map(_seed_style, range(len(seeds))))
    ]
    handles += [
        plt.Line2D([], [], color="0.3", marker="o", mfc="white", ls="none", label="start"),
        plt.Line2D([], [], color="0.3", marker="o", ls="none", label="end of training"),
    ]
    if classification:
        handles += [
            plt.Line2D([], [], color="0.45", lw=3.5, alpha=0.35, label="predicted direction"),
            plt.Line2D([], [], color="0.3", marker=">", ls="none", label="direction at the end (frame edge)"),
        ]
    else:
        handles.append(plt.Line2D([], [], color="0.15", marker="x", ls="none", mew=1.8, label="predicted limit"))
    return handles


def _edge_marker(ax, direction, colour):
    """A triangle just inside the frame where the ray from the origin along ``direction`` leaves it."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    reach = [b / u for u, (lo, hi) in zip(direction, ((x0, x1), (y0, y1))) if u for b in (lo, hi) if b / u > 0]
    if not reach:
        return
    t = 0.95 * min(reach)
    angle = np.degrees(np.arctan2(direction[1], direction[0]))
    ax.plot(*(t * direction), marker=(3, 0, angle - 90), color=colour, ms=7, zorder=6, clip_on=False)


def _frame(ax, drawn, pad: float = 0.08):
    """A square frame that contains every trajectory and prediction drawn (the paper's frame cut some off)."""
    points = np.concatenate(drawn) if drawn else np.zeros((1, 2))
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, max(np.max(high - low), 1e-3) * (0.5 + pad)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)


def _global_minima_line(ax, summary):
    x, y = summary.attrs.get("x0"), summary.attrs.get("y0")
    if x is None:
        return
    x = np.asarray(json.loads(x) if isinstance(x, str) else x, dtype=float)
    t = np.linspace(-100, 100, 2)  # longer than any frame; the axes limits are set from the trajectories
    base = y * x / (x @ x)
    normal = np.array([-x[1], x[0]]) / np.linalg.norm(x)
    line = base[None, :] + t[:, None] * normal[None, :]
    limits = ax.get_xlim(), ax.get_ylim()
    ax.plot(line[:, 0], line[:, 1], color="0.6", lw=1, zorder=0)
    ax.set_xlim(*limits[0]), ax.set_ylim(*limits[1])


def alpha_sweep(summary, name: str):
    """Relative distance of the trained limit to each reference solution the predictions name (Remark 4's
    weighted l1 and l2 solutions, Theorem 6.2's min-l2 interpolant), against alpha."""
    if "reference_beta" not in summary:
        return None
    references = {str(r): summary["reference_beta"].sel(reference=r) for r in summary["reference"].values}
    rows = []
    for arch in summary["architecture"].values:
        for seed in summary["seed"].values:
            for alpha in summary["alpha"].values:
                point = dict(architecture=arch, alpha=alpha, seed=seed)
                trained = summary["beta"].sel(**point).values
                finite = np.all(np.isfinite(trained), axis=1)
                if not finite.any():
                    continue
                trained = trained[finite][-1]
                for label, reference in references.items():
                    target = reference.sel(**point).values
                    if not np.all(np.isfinite(target)):
                        continue
                    rows.append(
                        {
                            **point,
                            "reference": label,
                            "distance": max(np.linalg.norm(trained - target) / np.linalg.norm(target), FLOOR),
                        }
                    )
    if not rows:
        return None
    table = pd.DataFrame(rows)
    # references in colours no architecture uses (the one mapping keeps 0-2 for fc, diag, conv)
    palette = dict(zip(references, [sns.color_palette("colorblind")[k] for k in (4, 3, 5, 9)]))
    grid = sns.relplot(
        data=table,
        x="alpha",
        y="distance",
        hue="reference",
        palette=palette,
        style="seed",
        col="architecture",
        col_order=_paper_order(table["architecture"].unique()),
        kind="line",
        marker="o",
        height=3,
        facet_kws={"sharey": False},
    )
    grid.set(xscale="log", yscale="log")
    predicted = _predicted_path(summary, references)
    for arch, ax in grid.axes_dict.items():  # what is judged: the trained markers on Theorem 4's own curve
        for label, (alphas, distances) in predicted.get(arch, {}).items():
            ax.plot(alphas, distances, color=palette[label], lw=4, alpha=0.3, solid_capstyle="butt", zorder=0)
    path = "; wide pale lines: the same for the predicted limit (Theorem 4's path)" if predicted else ""
    grid.figure.suptitle(
        f"{name}: relative distance of the trained limit to each reference solution,\n"
        f"which the claim in brackets says the limit approaches{path}",
        y=1.1,
        fontsize=10,
    )
    return grid.figure


def _predicted_path(summary, references) -> dict:
    """architecture -> reference -> (alphas, relative distance of the predicted limit to the reference), seed 0,
    for the first claim whose prediction moves with alpha (Theorem 4's path; an alpha -> 0 point does not)."""
    seed, paths = summary["seed"].values[0], {}
    for arch in summary["architecture"].values:
        for claim in summary["claim"].values:
            preds = summary["beta_pred"].sel(claim=claim, architecture=arch, seed=seed).values  # (alpha, coef)
            if not np.all(np.isfinite(preds)) or np.ptp(preds, axis=0).max() <= 1e-12 * np.abs(preds).max():
                continue
            for label, reference in references.items():
                targets = reference.sel(architecture=arch, seed=seed).values
                keep = np.all(np.isfinite(targets), axis=1)
                distances = np.linalg.norm(preds - targets, axis=1) / np.linalg.norm(targets, axis=1)
                paths.setdefault(arch, {})[label] = (summary["alpha"].values[keep], np.maximum(distances[keep], FLOOR))
            break
    return paths


def direction_error(summary, name: str):
    """Classification: angle to the predicted direction against -log L."""
    claim = _primary_claim(summary)
    if summary.attrs["task"] != "classification" or claim is None:
        return None
    rows = []
    for arch in summary["architecture"].values:
        for alpha in summary["alpha"].values:
            for seed in summary["seed"].values:
                point = dict(architecture=arch, alpha=alpha, seed=seed)
                pred = summary["beta_pred"].sel(claim=claim, **point).values
                if not np.all(np.isfinite(pred)):
                    continue
                beta = summary["beta"].sel(**point).values
                tau = -summary["log_loss"].sel(**point).values
                keep = np.all(np.isfinite(beta), axis=1) & (tau > 0)
                angles = angle_degrees(beta[keep], pred)
                for t, angle in zip(tau[keep], np.atleast_1d(angles)):
                    rows.append({**point, "-log L": t, "angle (deg)": max(angle, 1e-9)})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    grid = sns.relplot(
        data=table,
        x="-log L",
        y="angle (deg)",
        hue="alpha",
        style="seed",  # the one mapping: seed -> line style, alpha -> shade, architecture -> panel
        units="seed",
        estimator=None,
        col="architecture",
        col_order=_paper_order(table["architecture"].unique()),
        kind="line",
        height=3,
        palette="viridis",
    )
    grid.set(xscale="log", yscale="log")
    for ax in grid.axes.flat:
        ax.axvline(-np.log(1e-5), color="0.5", ls="--", lw=1)
    grid.figure.suptitle(
        f"{name}: angle to the {claim} direction; dashed: where the paper's GD stopped (L = 1e-5)", y=1.04, fontsize=10
    )
    return grid.figure


def agreement(summary, name: str):
    """Trained against predicted coefficients, per claim (directions for classification)."""
    classification = summary.attrs["task"] == "classification"
    rows = []
    for claim in summary["claim"].values:
        for arch in summary["architecture"].values:
            for alpha in summary["alpha"].values:
                for seed in summary["seed"].values:
                    point = dict(architecture=arch, alpha=alpha, seed=seed)
                    pred = summary["beta_pred"].sel(claim=claim, **point).values
                    beta = summary["beta"].sel(**point).values
                    finite = np.all(np.isfinite(beta), axis=1)
                    if not np.all(np.isfinite(pred)) or not finite.any():
                        continue
                    trained = beta[finite][-1]
                    if classification:
                        trained, pred = unit(trained), unit(pred)
                    rows += [
                        {"claim": str(claim), "predicted": p, "trained": t, "architecture": arch, "α": float(alpha)}
                        for p, t in zip(pred, trained)
                    ]
    if not rows:
        return None
    table = pd.DataFrame(rows)
    panels = table["claim"].nunique()  # as many columns as panels (up to 4): no empty canvas beside them
    grid = sns.relplot(
        data=table,
        x="predicted",
        y="trained",
        hue="architecture",
        hue_order=_paper_order(table["architecture"].unique()),
        palette=architecture_palette(table["architecture"].unique()),
        # larger markers for larger alpha: an alpha -> 0 claim (Theorem 6.2) is met by the small ones
        size="α" if table["α"].nunique() > 1 else None,
        sizes=(12, 70),
        size_norm=matplotlib.colors.LogNorm() if (table["α"] > 0).all() else None,
        col="claim",
        col_wrap=min(4, panels),
        height=2.8,
        facet_kws={"legend_out": False},
    )
    sns.move_legend(
        grid, "upper left", bbox_to_anchor=(0.02, 0.98), fontsize=7, title_fontsize=7
    )  # the diagonal leaves it free
    grid.legend.set_bbox_to_anchor((0.02, 0.98), transform=grid.axes.flat[0].transAxes)
    for ax in grid.axes.flat:
        low, high = ax.get_xlim()
        ax.plot([low, high], [low, high], color="0.6", lw=1, zorder=0)
    grid.figure.suptitle(
        f"{name}: trained vs predicted coefficients{' (unit directions)' if classification else ''}",
        y=1.04,
        fontsize=10,
    )
    return grid.figure


def tail_fits(summary, name: str, tails=None):
    """Each tail-judged quantity against tau, its fit a + c tau^-p (a wide pale line) and the tolerance
    (dotted); controls in grey. One panel per (claim, architecture, depth) whose series move (``_moving_panels``)."""
    if tails is None or tails.sizes.get("series", 0) == 0:
        return None
    panels = _moving_panels(tails)
    if not panels:
        return None
    keys, also = list(panels), panels
    columns = min(3, len(keys))
    rows = -(-len(keys) // columns)
    # each panel's legend (run and fitted rate) sits to its right, clear of the data
    fig, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 3.2 * rows), squeeze=False)
    for ax, (claim, arch, depth) in zip(axes.flat, keys):
        chosen = [
            i
            for i in range(tails.sizes["series"])
            if (str(tails["claim"].values[i]), str(tails["architecture"].values[i]), int(tails["depth"].values[i]))
            == (claim, arch, depth)
        ]

        def label(i):  # a group row (alpha NaN, seed -1) is about all the runs
            alpha, seed = float(tails["alpha"].values[i]), int(tails["seed"].values[i])
            return "all runs" if np.isnan(alpha) else f"alpha {alpha:g}, seed {seed}"

        # the panel's architecture colour, darker for larger alpha; seed by line style (the one mapping)
        alphas = sorted({float(a) for a in tails["alpha"].values[chosen] if np.isfinite(a)})
        base = np.array(architecture_palette([arch])[arch])

        for i in chosen:
            x, value = tails["x"].values[i], tails["value"].values[i]
            keep = np.isfinite(x) & np.isfinite(value)
            if not keep.any():
                continue
            control = str(tails["role"].values[i]) == "control"
            run = label(i)
            color, line = ("0.75", "-") if control else _run_style(tails, i, base, alphas)
            ax.plot(
                x[keep],
                np.maximum(value[keep], FLOOR),
                color=color,
                ls=line,
                lw=1.2 if not control else 0.8,
                marker="." if not control else None,
                ms=3,
                label=None if control else f"{run}: rate {tails['fit_rate'].values[i]:.2g}",
            )
            fitted = (
                tails["fit_limit"].values[i]
                + tails["fit_coefficient"].values[i]
                * (x[keep] / tails["fit_tau_end"].values[i]) ** -tails["fit_rate"].values[i]
            )
            ax.plot(x[keep], np.maximum(fitted, FLOOR), color=color, lw=4, alpha=0.3, solid_capstyle="butt")
        ax.axhline(float(tails["tolerance"].values[chosen[0]]), color="0.3", ls=":", lw=1)
        metric = textwrap.fill(str(tails["metric"].values[chosen[0]]), 32)
        ax.set(xscale="log", yscale="log", xlabel="tau = -log L")
        ax.set_ylabel(metric, fontsize=8)
        ax.set_title(f"{', '.join([claim, *also[(claim, arch, depth)]])}: {arch}, L = {depth}", fontsize=9)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(
        f"{name}: tails of the judged quantities; wide pale line: the fit a + c τ^-p; dotted: tolerance; grey: "
        "controls; darker: larger α",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _moving_panels(tails) -> dict:
    """(claim, architecture, depth) -> the other claims whose panel would be the same. A panel is drawn when one
    of its claim series moves (is not all at the FLOOR, where a fit's rate means nothing); a claim judging the
    same series as an earlier one (Theorem 2 and Corollaries 2 and 3 on one run) joins its panel."""
    series = {}
    for i in range(tails.sizes["series"]):
        key = (str(tails["claim"].values[i]), str(tails["architecture"].values[i]), int(tails["depth"].values[i]))
        series.setdefault(key, []).append(i)
    panels, seen = {}, {}
    for key in sorted(series):
        own = [i for i in series[key] if str(tails["role"].values[i]) == "claim"]
        values = [tails["value"].values[i] for i in own]
        if not any(np.nanmax(np.where(np.isfinite(v), v, np.nan), initial=0) > 10 * FLOOR for v in values):
            continue
        signature = (key[1], key[2]) + tuple(
            (
                float(tails["alpha"].values[i]),
                int(tails["seed"].values[i]),
                np.round(tails["value"].values[i], 12).tobytes(),
            )
            for i in own
        )
        if signature in seen:
            panels[seen[signature]].append(key[0])
        else:
            seen[signature], panels[key] = key, []
    return panels


def _run_style(tails, i, base, alphas) -> tuple[tuple, str]:
    """(colour, line style) of tail series i: its architecture's colour ``base``, lighter for smaller alpha
    (of the panel's ``alphas``), and its seed's line style; a group row (alpha NaN) in the full colour."""
    alpha, seed = float(tails["alpha"].values[i]), int(tails["seed"].values[i])
    if np.isnan(alpha):
        return tuple(base), "-"
    shade = 0.55 + 0.45 * (alphas.index(alpha) + 1) / len(alphas)  # 1 for the largest alpha
    return tuple(1 - (1 - base) * shade), _seed_style(max(seed, 0))[0]


STATUS_COLOURS = {"pass": 2, "inconclusive": 1, "fail": 3}  # indices into seaborn's colour-blind palette


def forest(summary, name: str, tails=None):
    """A forest plot of the tail verdicts: per judged row its fitted limit with the 2-sigma band, as a multiple
    of the tolerance (log scale), the value at the end of the run (x), and the tolerance (1) and the refutation
    margin (10). Filled: reached (the end value meets the tolerance); hollow: extrapolated or not passing."""
    if tails is None or tails.sizes.get("series", 0) == 0:
        return None
    claim_rows = [i for i in range(tails.sizes["series"]) if str(tails["role"].values[i]) == "claim"]
    if not claim_rows:
        return None
    floor = 1e-4

    def ratio(v, i):
        return np.clip(v / float(tails["tolerance"].values[i]), floor, 1e4)

    def label(i):
        alpha, seed = float(tails["alpha"].values[i]), int(tails["seed"].values[i])
        where = "all runs" if np.isnan(alpha) else f"alpha {alpha:g}, seed {seed}"
        return f"{tails['claim'].values[i]}: {tails['architecture'].values[i]} L = {int(tails['depth'].values[i])}, {where}"

    claim_rows.sort(key=lambda i: (str(tails["claim"].values[i]), label(i)))
    palette = sns.color_palette("colorblind")
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.22 * len(claim_rows)))
    for y, i in enumerate(claim_rows):
        limit, sigma = float(tails["fit_limit"].values[i]), float(tails["fit_uncertainty"].values[i])
        values = tails["value"].values[i]
        end = float(values[np.isfinite(values)][-1]) if np.isfinite(values).any() else np.nan
        status = str(tails["status"].values[i])
        colour = palette[STATUS_COLOURS.get(status, 7)]
        low, high = ratio(limit - 2 * sigma, i), ratio(limit + 2 * sigma, i)
        ax.plot([low, high], [y, y], color=colour, lw=1.5)
        reached = status == "pass" and end <= float(tails["tolerance"].values[i])
        ax.plot(ratio(limit, i), y, "o", color=colour, mfc=colour if reached else "white", ms=5)
        if np.isfinite(end):
            ax.plot(ratio(end, i), y, "x", color="0.35", ms=4)
    ax.axvline(1.0, color="0.2", ls=":", lw=1)
    ax.axvline(10.0, color="0.2", ls="--", lw=0.8)
    ax.set_yticks(range(len(claim_rows)), [label(i) for i in claim_rows], fontsize=6)
    ax.set_ylim(len(claim_rows) - 0.5, -0.5)
    ax.set(
        xscale="log", xlim=(floor / 2, 2e4), xlabel="fitted limit / tolerance (2-sigma band); x: the value at the end"
    )
    handles = [
        plt.Line2D([], [], color=palette[c], marker="o", ls="-", label=status) for status, c in STATUS_COLOURS.items()
    ]
    handles += [
        plt.Line2D([], [], color="0.4", marker="o", mfc="white", ls="", label="extrapolated"),
        plt.Line2D([], [], color="0.35", marker="x", ls="", label="value at the end"),
    ]
    ax.legend(handles=handles, fontsize=6, loc="lower right", frameon=True)
    ax.set_title(f"{name}: the tail verdicts (dotted: tolerance; dashed: 10x, where a refutation starts)", fontsize=9)
    fig.tight_layout()
    return fig


def rich_kernel(summary, name: str):
    """Remark 4's rich -> kernel transition on data with a planted beta*: per network, the distance of the
    trained limit to beta* and its test error against alpha, with the min-l1 (rich, alpha -> 0) and min-l2
    (kernel, alpha -> infinity) interpolants marked as horizontal lines."""
    if "distance_to_beta_star" not in summary or "test_error" not in summary:
        return None
    table = pd.concat(
        [
            summary[var].to_dataframe(name="value").reset_index().assign(measure=label)
            for var, label in (("distance_to_beta_star", "|β − β*| / |β*|"), ("test_error", "test error (MSE)"))
        ]
    ).dropna(subset=["value"])
    if table.empty:
        return None
    star = summary["beta_star"].values
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    palette = architecture_palette(summary["architecture"].values)
    lines = {"min-l1": ("--", "min-ℓ1 interpolant (rich end)"), "min-l2": (":", "min-ℓ2 interpolant (kernel end)")}
    for ax, (measure, rows) in zip(axes, table.groupby("measure", sort=False)):
        sns.lineplot(
            data=rows, x="alpha", y="value", hue="architecture", palette=palette, marker="o", ax=ax, errorbar=None
        )
        for label in summary["interpolant"].values:
            beta = summary["min_norm_interpolant"].sel(interpolant=label).values
            if measure.startswith("test"):
                value = float(summary["min_norm_test_error"].sel(interpolant=label))
            else:
                value = np.linalg.norm(beta - star) / np.linalg.norm(star)
            style, text = lines[str(label)]
            ax.axhline(value, color="0.3", ls=style, lw=1, label=text)
        ax.set(xscale="log", yscale="log", xlabel="initial scale α", ylabel=measure)
        ax.legend(fontsize=7)
    fig.suptitle(f"{name}: from the rich (sparse, min-ℓ1) to the kernel (min-ℓ2) regime as α grows", fontsize=10)
    fig.tight_layout()
    return fig


def limit_images(summary, name: str):
    """Per network (columns): its trained limit direction as a square image (top) beside the direction its
    claim predicts (bottom), on one symmetric colour scale per image, titled with the angle between them."""
    d = summary.sizes["coef"]
    side = int(round(np.sqrt(d)))
    if side * side != d or summary.attrs["task"] != "classification":
        return None
    end = summary["beta"].isel(checkpoint=0).copy(data=last_finite(summary["beta"].values))
    columns = []
    for arch in _paper_order(summary["architecture"].values):
        point = dict(architecture=arch, alpha=summary["alpha"].values[0], seed=summary["seed"].values[0])
        for claim in summary["claim"].values:
            if int(summary["applicable"].sel(claim=claim, **point)) != 1:
                continue
            predicted = summary["beta_pred"].sel(claim=claim, **point).values
            trained = end.sel(**point).values
            if np.all(np.isfinite(predicted)) and np.all(np.isfinite(trained)):
                columns.append((arch, claim, unit(trained), unit(predicted)))
                break
    if not columns:
        return None
    fig, axes = plt.subplots(2, len(columns), figsize=(2.3 * len(columns), 4.9), squeeze=False)
    for c, (arch, claim, trained, predicted) in enumerate(columns):
        for r, image in enumerate((trained, predicted)):
            ax = axes[r, c]
            scale = np.abs(image).max() or 1.0
            ax.imshow(image.reshape(side, side), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, c].set_title(f"{arch}\nangle {angle_degrees(trained, predicted):.2g}°", fontsize=8)
        axes[1, c].set_title(f"{claim}'s prediction", fontsize=7)
    axes[0, 0].set_ylabel("trained limit β/|β|", fontsize=8)
    axes[1, 0].set_ylabel("predicted direction", fontsize=8)
    point = f"α = {summary['alpha'].values[0]:g}, seed {summary['seed'].values[0]}"
    fig.suptitle(f"{name}: each network's limit beside its max-margin prediction ({point})", fontsize=9)
    fig.tight_layout()
    return fig


def draw(summary, name: str, kind: str, tails=None):
    """The ``kind`` figure of an experiment's summary (and the checks' ``tails``); a figure saying so
    when the data do not support it, rather than a missing file."""
    if kind not in FIGURES:
        raise ValueError(f"unknown figure {kind!r}; expected one of {FIGURES}")
    sns.set_theme(style="whitegrid", context="paper")
    drawer = globals()[kind]
    fig = drawer(summary, name, tails) if kind in ("tail_fits", "forest") else drawer(summary, name)
    if fig is None:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"{name}: no data for a {kind} figure\n(no applicable prediction, or d != 2)",
            ha="center",
            va="center",
        )
    return fig
