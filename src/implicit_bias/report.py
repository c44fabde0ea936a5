"""The verification report: every check in one table, a verdict per claim, the figures."""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .checking import COLUMNS, write_table

CLAIM_TEXT = {
    "lemma5_1": "h_L is odd, increasing, blows up at ±c_L",
    "theorem1": "limit directions are singular vectors of M(−u∞) (eq. 8)",
    "corollary1": "fc: β → ℓ2 max-margin direction",
    "theorem2": "Assumption 1: β → stationary point of the ℓ_{2/L} max-margin in S-coordinates",
    "corollary2": "diag: ℓ_{2/L} max-margin (L = 2: ℓ1)",
    "corollary3": "full-length conv: DFT-domain ℓ_{2/L} max-margin",
    "theorem3": "2 layers, one point: top singular vectors",
    "corollary4": "conv k_1 = 1, 2, one point: filtered data point",
    "theorem4": "regression: β → Sᵀ argmin Q_{L,α,η̄}",
    "remark4": "Q interpolates weighted ℓ1 (α → 0) and weighted ℓ2 (α → ∞)",
    "corollary5": "diag regression limit",
    "corollary6": "full-length conv, even data: DFT-domain limit",
    "corollary7": "deep matrix sensing: W_1⋯W_L → argmin Q(eig)",
    "theorem5": "2 layers, one point: closed-form limit via g⁻¹(y/α²)",
    "theorem6": "fc regression: 6.1 loss → 0; 6.2 β → min ℓ2-norm as α → 0",
    "remark1_xtr_direction": "does Xᵀr(t) converge in direction? (evidence)",
    "remark3": "Assumption 1 from a chosen T: sparse in the T-domain",
    "figure1": "Figure 1/3 regression: GD limit points = Theorem 5's",
    "figure3": "Figure 3 classification: directions at the end of training vs max-margin",
    "figure3_loss_gap": "Figure 3 continued by the exact flow: init-dependence vanishes",
}


def collect(check_paths) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in check_paths if os.path.getsize(p) > 0]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return table[COLUMNS]


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its verdict and its worst measured value (largest value / tolerance)."""
    rows = []
    for claim in [c for c in CLAIM_TEXT if c in set(table["claim"])]:
        own = table[table["claim"] == claim]
        counts = own["status"].value_counts()
        judged = own[own["status"] != "not-applicable"]
        verdict = "fail" if counts.get("fail", 0) else ("pass" if counts.get("pass", 0) else "not-applicable")
        worst = ""
        if len(judged):
            ratio = judged["value"] / judged["tolerance"].where(judged["tolerance"] > 0, np.nan)
            i = ratio.fillna(np.inf).idxmax() if ratio.notna().any() or judged["status"].eq("fail").any() else judged.index[0]
            w = judged.loc[i]
            where = [str(w["experiment"])] + ([str(w["architecture"])] if w["architecture"] != "-" else [])
            where += [f"α = {w['alpha']:g}"] if pd.notna(w["alpha"]) else []
            where += [f"seed {w['seed']}"] if w["seed"] >= 0 else []
            worst = f"{w['metric']}: {w['value']:.3g} (tolerance {w['tolerance']:.3g}) — {', '.join(where)}"
        rows.append({"claim": claim, "verdict": verdict, "what": CLAIM_TEXT[claim], "pass": int(counts.get("pass", 0)),
                     "fail": int(counts.get("fail", 0)), "not-applicable": int(counts.get("not-applicable", 0)),
                     "worst": worst})
    return pd.DataFrame(rows)


def startup_seconds(benchmark_paths) -> tuple[float, float, int]:
    """(min, median, count) of training jobs' wall time from Snakemake benchmark files."""
    times = []
    for path in benchmark_paths:
        try:
            times.append(float(pd.read_csv(path, sep="\t")["s"].iloc[0]))
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return (min(times), float(np.median(times)), len(times)) if times else (np.nan, np.nan, 0)


def write_report(check_paths, figure_paths, benchmark_paths, out_dir, *, config_path="config.yaml") -> dict:
    out = Path(out_dir)
    table = collect(check_paths)
    write_table(table, out / "claims.csv")
    summary = verdicts(table)
    counts = table["status"].value_counts()
    fastest, median, jobs = startup_seconds(benchmark_paths)
    header = (f"{len(table)} checks: {int(counts.get('pass', 0))} passed, {int(counts.get('fail', 0))} failed, "
              f"{int(counts.get('not-applicable', 0))} not applicable.")
    lines = ["# Verification report: Yun, Krishnan & Mobahi (ICLR 2021)", "", f"**{header}**", "",
             "Every check is a row of [claims.csv](claims.csv) (claim, experiment, architecture, depth, alpha, seed, "
             "metric, value, tolerance, status, reason). A claim passes when all its applicable checks pass.", "",
             "| claim | verdict | what | pass | fail | n/a | worst measured (value, tolerance, where) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for _, r in summary.iterrows():
        lines.append(f"| {r['claim']} | **{r['verdict']}** | {r['what']} | {r['pass']} | {r['fail']} | {r['not-applicable']} | {r['worst']} |")
    failed = table[table["status"] == "fail"]
    if len(failed):
        lines += ["", "## Failed checks", "", "| claim | experiment | architecture | α | seed | metric | value | tolerance | reason |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for _, r in failed.iterrows():
            lines.append(f"| {r['claim']} | {r['experiment']} | {r['architecture']} | {r['alpha']:g} | {r['seed']} | "
                         f"{r['metric']} | {r['value']:.3g} | {r['tolerance']:.3g} | {r['reason']} |")
    lines += ["", "## Figures", ""]
    for path in sorted(p for p in figure_paths if str(p).endswith(".png")):
        rel = os.path.relpath(path, out)
        lines += [f"### {Path(path).stem}", "", f"![{Path(path).stem}]({rel})", ""]
    lines += ["## Reproduce", "", "```bash", "pip install torch==2.13.0 -e . && snakemake --cores 8", "```", "",
              f"The configuration is `{config_path}` (merged copy: `results/run_config.yaml`). Rerun one rule with "
              "`snakemake --cores 8 --forcerun <rule>`; build a browsable archive with `snakemake --report report.zip`.", "",
              f"Training jobs: {jobs}; fastest {fastest:.2f} s, median {median:.2f} s wall time each — "
              "mostly start-up (interpreter, imports, loading the compiled kernels from numba's cache)."]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(_html(text))
    return {"checks": len(table), "failed": int(counts.get("fail", 0))}


def _html(markdown: str) -> str:
    """A small Markdown subset (headings, tables, images, code, bold) as a standalone page."""
    body, in_table, in_code = [], False, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("- "):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
                body.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells) + "</tr>")
            else:
                body.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](")
            body.append(f'<img alt="{html.escape(alt)}" src="{html.escape(src.rstrip(")"))}" style="max-width:100%">')
        elif line:
            body.append(f"<p>{_inline(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}")
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Verification report</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"


def _inline(text: str) -> str:
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    return re.sub(r"\[(.+?)\]\((.+?)\)", r'<a href="\2">\1</a>', text)
