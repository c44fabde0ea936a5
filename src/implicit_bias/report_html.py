"""report.html: one page a researcher reads, opened from a file: figures embedded (so it works wherever it is
opened, the Snakemake report's archive included), no server, no network.

A headline of claims verified, refuted, inconclusive and observed; one section per claim with the
paper's statement, a coloured verdict badge, the worst check, the nearest control and by how much it
was rejected, the figures that show it, and its checks in a collapsible table (failed and
inconclusive first); then the merged config, provenance and links to the data files.
"""

from __future__ import annotations

import html
import os
import platform
import re
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .captions import caption
from .files import atomic_write
from .provenance import provenance
from .theory.registry import CLAIMS

BADGES = {
    "pass": ("verified", "#1a7f37"),
    "fail": ("refuted", "#cf222e"),
    "inconclusive": ("inconclusive", "#9a6700"),
    "observation": ("observation", "#0969da"),
    "not-applicable": ("not applicable", "#6e7781"),
}
ORDER = {
    "fail": 0,
    "inconclusive": 1,
    "not-rejected": 2,
    "pass": 3,
    "observation": 4,
    "rejected": 5,
    "not-applicable": 6,
}
PACKAGES = ("numpy", "scipy", "numba", "xarray", "netCDF4", "cvxpy", "torch", "matplotlib", "seaborn", "snakemake")
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.45;
overflow-wrap:break-word}
h1{font-size:1.6em} h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
.headline{font-size:1.15em;margin:1em 0} .headline span{margin-right:1.2em}
.badge{display:inline-block;color:#fff;border-radius:1em;padding:.1em .7em;font-size:.85em;font-weight:600}
section.claim{border:1px solid #d0d7de;border-radius:8px;padding:.2em 1.2em 1em;margin:1.2em 0}
section.claim h2{border:none;margin-top:.6em;font-size:1.25em}
.where{color:#57606a;font-size:.9em} .facts{margin:.6em 0} .facts dt{font-weight:600}
.facts dd{margin:0 0 .4em 0} figure{margin:.8em 0} figure img{max-width:100%;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:.85em} table{border-collapse:collapse;font-size:12.5px;width:100%}
td,th{border:1px solid #d0d7de;padding:3px 6px;vertical-align:top;text-align:left} th{background:#f6f8fa}
tr.fail td{background:#ffebe9} tr.inconclusive td,tr.not-rejected td{background:#fff8c5}
summary{cursor:pointer;color:#0969da;margin:.4em 0} pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:12px}
figure img{cursor:zoom-in} figure img.big{position:fixed;inset:2vh 2vw;width:96vw;height:96vh;object-fit:contain;
background:#fff;z-index:10;cursor:zoom-out;box-shadow:0 0 0 100vmax rgba(0,0,0,.5)} .also{font-size:.9em} .id{color:#57606a;font-weight:400;font-size:.8em;font-family:monospace}
.tally>span{display:inline-block;margin:0 1.2em .3em 0} .scroll{overflow-x:auto;max-width:100%} table.claims td:nth-child(2){white-space:nowrap}
"""


def _figures_for(claim_id: str, table: pd.DataFrame, figures: dict) -> list[tuple[str, Path]]:
    """(name, path) of the figures of this claim's kinds, for the experiments that checked it."""
    kinds = CLAIMS[claim_id].figures
    experiments = sorted(set(table.loc[table["claim"] == claim_id, "experiment"]))
    return [(f"{e}_{k}", figures[f"{e}_{k}"]) for e in experiments for k in kinds if f"{e}_{k}" in figures]


def shown_value(row) -> str:
    """A row's value as the report prints it: a fitted limit below 0 of a quantity that cannot be negative
    is shown as the bound the fit gives ("< 3e-5"), never as a negative measurement."""
    limit, uncertainty = row.get("limit", np.nan), row.get("limit_uncertainty", np.nan)
    if pd.notna(limit) and limit < 0:
        bound = limit + 2 * uncertainty if pd.notna(uncertainty) else 0.0
        return f"< {bound:.2g}" if bound > 0 else "0"
    return "" if pd.isna(row["value"]) else f"{row['value']:.3g}"


def _checks_table(rows: pd.DataFrame) -> str:
    ordered = rows.assign(_order=rows["status"].map(ORDER).fillna(9)).sort_values(
        ["_order", "experiment", "alpha", "seed"]
    )
    head = (
        "<tr><th>status</th><th>role</th><th>experiment</th><th>architecture</th><th>L</th><th>α</th><th>seed</th>"
        "<th>metric</th><th>value</th><th>tolerance</th><th>at the end</th><th>evidence</th><th>rate</th>"
        "<th>reason</th></tr>"
    )
    body = []
    for _, r in ordered.iterrows():
        role = r["role"] if r["role"] == "claim" else f"control: {r['alternative']}"
        cells = [
            r["status"],
            role,
            r["experiment"],
            r["architecture"],
            r["depth"],
            "" if pd.isna(r["alpha"]) else f"{r['alpha']:g}",
            "" if r["seed"] < 0 else int(r["seed"]),
            r["metric"],
            shown_value(r),
            "" if pd.isna(r["tolerance"]) else f"{r['tolerance']:.3g}",
            "" if pd.isna(r["value_at_end"]) else f"{r['value_at_end']:.3g}",
            r["evidence"],
            "" if pd.isna(r["rate"]) else f"{r['rate']:.3g}",
            r["reason"],
        ]
        body.append(
            f'<tr class="{html.escape(str(r["status"]))}">'
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def paper_name(claim_id: str) -> str:
    """The claim as the paper names it (Theorem 1, Lemma 5.1, Figure 3), from where it stands."""
    import re

    found = re.search(r"(Theorem|Corollary|Lemma|Remark|Figure) [0-9.]*[0-9]", CLAIMS[claim_id].where)
    return found.group(0) if found else claim_id


def _claims_table(summary: pd.DataFrame) -> str:
    """The page's first table: one row per claim, linking to its section."""
    head = (
        "<tr><th>claim</th><th>verdict</th><th>where in the paper</th><th>passes reached / extrapolated</th>"
        "<th>worst check (tolerance)</th><th>nearest control</th></tr>"
    )
    body = []
    for _, r in summary.iterrows():
        label, colour = BADGES[r["verdict"]]
        passes = f"{r['reached']} / {r['extrapolated']}" if r["reached"] + r["extrapolated"] else "—"
        cells = [
            f'<a href="#{html.escape(r["claim"])}">{html.escape(paper_name(r["claim"]))}</a> '
            f'<span class="id">{html.escape(r["claim"])}</span>',
            f'<span class="badge" style="background:{colour}">{label}</span>',
            html.escape(r["where"]),
            passes,
            _measured(r["worst"] or "—"),
            _measured(r["nearest control"] or "—"),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<div class="scroll"><table class="claims" id="claims">{head}{"".join(body)}</table></div>'


def _figure(name: str, path: Path, drawn: set) -> str:
    """A figure embedded in the page (it works wherever the page is opened, the Snakemake report's archive
    included), once: a later section that shows it too links to it. Clicking it enlarges it."""
    import base64

    text = caption(name)
    if name in drawn:
        return f'<p class="also">Also: <a href="#fig-{html.escape(name)}">{html.escape(name)}</a> (above)</p>'
    drawn.add(name)
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure id="fig-{html.escape(name)}"><img src="data:image/png;base64,{data}" alt="{html.escape(text or name)}" '
        f'title="click to enlarge" onclick="this.classList.toggle(\'big\')">'
        f"<figcaption><b>{html.escape(name)}</b>. {html.escape(text)}</figcaption></figure>"
    )


def _section(row, table: pd.DataFrame, figures: dict, drawn: set) -> str:
    claim_id = row["claim"]
    spec = CLAIMS[claim_id]
    label, colour = BADGES[row["verdict"]]
    own = table[table["claim"] == claim_id]
    checks, controls = own[own["role"] == "claim"], own[own["role"] == "control"]
    counts = ", ".join(f"{int(n)} {s}" for s, n in checks["status"].value_counts().items())
    facts = [
        ("Checks", counts or "none"),
        ("Observed" if spec.kind == "observation" else "Worst check", row["worst"] or "—"),
        ("Nearest control", row["nearest control"] or ("none (an observation)" if spec.kind == "observation" else "—")),
        (
            "Controls",
            ", ".join(spec.controls) + f" — {row['rejected']} of {row['rejected'] + row['not-rejected']} rejected"
            if spec.controls
            else "—",
        ),
    ]
    dl = "".join(f"<dt>{html.escape(k)}</dt><dd>{_measured(str(v))}</dd>" for k, v in facts)
    shown = "".join(_figure(name, path, drawn) for name, path in _figures_for(claim_id, table, figures))
    first = "fail" in set(checks["status"]) or "inconclusive" in set(checks["status"])
    return (
        f'<section class="claim" id="{claim_id}"><h2>{html.escape(paper_name(claim_id))} '
        f'<span class="id">{html.escape(claim_id)}</span> '
        f'<span class="badge" style="background:{colour}">{label}</span></h2>'
        f'<div class="where">{html.escape(spec.where)}</div><p>{maths(spec.statement)}</p>'
        f'<dl class="facts">{dl}</dl>{shown}'
        f"<details{' open' if first else ''}><summary>{len(checks)} checks and {len(controls)} controls</summary>"
        f'<div class="scroll">{_checks_table(own)}</div></details></section>'
    )


def _provenance(benchmark_seconds) -> str:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    facts = provenance()
    lines = [
        f"implicit-bias {facts['package_version']}, git commit {facts['git_commit']}",
        f"written {facts['created_at']} on {platform.node()} ({platform.platform()}, {os.cpu_count()} cores), "
        f"Python {platform.python_version()}",
        ", ".join(versions),
    ]
    if len(benchmark_seconds):
        lines.append(
            f"{len(benchmark_seconds)} training jobs: {np.sum(benchmark_seconds):.0f} s in all, "
            f"median {np.median(benchmark_seconds):.2f} s"
        )
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines)


def _held_out(table) -> str:
    """The held-out measures (test error, distance to beta*) per experiment, architecture and alpha; collapsed."""
    if table is None or not len(table):
        return ""
    head = "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns) + "</tr>"
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{'—' if pd.isna(v) else f'{v:.3g}' if isinstance(v, float) else html.escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in table.itertuples(index=False)
    )
    return (
        '<h2 id="held-out">Held-out data</h2><p>Test error on points never trained on (mean squared error; '
        "classification: the fraction misclassified) and the distance to the planted β*, at the end of each run, "
        f'averaged over seeds.</p><details><summary>{len(table)} rows</summary><div class="scroll">'
        f"<table>{head}{body}</table></div></details>"
    )


def write_html(
    path,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    headline: str,
    *,
    figure_paths=(),
    config_path=None,
    data_links=(),
    benchmark_seconds=(),
    held_out=None,
) -> Path:
    """Write the page to ``path``; figures are embedded, data files linked relative to it."""
    path = Path(path)
    figures = {Path(p).stem: Path(p) for p in figure_paths if str(p).endswith(".png") and Path(p).exists()}
    counts = summary["verdict"].value_counts() if len(summary) else pd.Series(dtype=int)
    tally = "".join(
        f'<span><span class="badge" style="background:{BADGES[s][1]}">{BADGES[s][0]}</span> '
        f'<b data-count="{s}">{int(counts.get(s, 0))}</b></span>'
        for s in ("pass", "fail", "inconclusive", "observation")
    )
    drawn = set()
    sections = "".join(_section(row, table, figures, drawn) for _, row in summary.iterrows())
    config = Path(config_path).read_text() if config_path and Path(config_path).exists() else "(not available)"
    links = "".join(
        f'<li><a href="{html.escape(os.path.relpath(p, path.parent))}">{html.escape(str(p))}</a></li>'
        for p in data_links
    )
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Verification report</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Verification report: Yun, Krishnan &amp; Mobahi (ICLR 2021)</h1>"
        f'<p class="headline" id="headline"><b>{html.escape(headline)}.</b></p><p class="tally">{tally}</p>'
        f"<p>A claim is <b>verified</b> when every applicable check passes and every control — a plausible wrong "
        f"prediction measured the same way — is rejected; <b>refuted</b> when a check fails on a run that met the "
        f"premise and was trained far enough to judge; <b>inconclusive</b> when a run cannot decide yet or a control "
        f"could not be told from the prediction; an <b>observation</b> is what the paper saw or left open.</p>"
        f"{_claims_table(summary)}{sections}{_held_out(held_out)}"
        f"<h2>Data</h2><p>Every check and control is a row of the first file; each experiment's runs and "
        f"predictions are stacked in its summary.</p><ul>{links}</ul>"
        f"<h2>Configuration</h2><pre>{html.escape(config)}</pre>"
        f"<h2>Provenance</h2>{_provenance(np.asarray(benchmark_seconds, dtype=float))}</body></html>\n"
    )
    return atomic_write(path, lambda tmp: Path(tmp).write_text(page))


_SCRIPTS = [  # the plain-text maths of the claim catalog -> HTML sub- and superscripts (in this order)
    (re.compile(r"\^\{([^}]*)\}"), r"<sup>\1</sup>"),  # p^{L-1}
    (re.compile(r"_\{([^}]*)\}"), r"<sub>\1</sub>"),  # Q_{L,α,η̄}
    (re.compile(r"_\(([^)]*)\)"), r"<sub>\1</sub>"),  # h_(L+1), ℓ_(2/3)
    (re.compile(r"\^(-?[\w.∞]+)"), r"<sup>\1</sup>"),  # τ^-p, ∫₀^∞
    (re.compile(r"_(\w)(?!\w)"), r"<sub>\1</sub>"),  # c_L, W_1, v̄_l
]


def maths(text: str) -> str:
    """``text`` escaped for HTML, its maths written as the page shows it: sub- and superscripts rendered, so the
    catalog's ``p^{L-1}`` and its Unicode ``u²`` read alike. For the paper's statements and the checks' words
    only, never for identifiers (``lemma5_1``, ``fc_L2``)."""
    out = html.escape(text)
    for pattern, replacement in _SCRIPTS:
        out = pattern.sub(replacement, out)
    return out


def _measured(text: str) -> str:
    """A fact line as HTML: its maths rendered up to the " — " that names where it was measured (experiments and
    runs are identifiers and stay as they are)."""
    head, dash, place = text.rpartition(" — ")
    return maths(head) + html.escape(dash + place) if dash else maths(text)
