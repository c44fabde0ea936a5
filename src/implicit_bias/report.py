"""The verification report: every check in one table (claims.csv), a verdict per claim, report.md
(the text version) and report.html (the page, report_html.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_write, write_csv
from .report_html import shown_value, write_html
from .theory.records import CLAIM_STATUSES, COLUMNS
from .theory.registry import CLAIMS, OBSERVATION

VERDICTS = {
    "pass": "verified",
    "fail": "refuted",
    "inconclusive": "inconclusive",
    "not-applicable": "not applicable",
    "observation": "observation",
}


def collect(check_paths) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, keep_default_na=False, na_values=["", "nan", "NaN"])
        for p in check_paths
        if os.path.getsize(p) > 0
    ]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    for column in ("role", "alternative"):  # tables written before controls existed
        if column not in table:
            table[column] = "claim" if column == "role" else ""
    for column in ("rate", "limit", "limit_uncertainty", "value_at_end", "log_loss_at_end", "decades_extrapolated"):
        if column not in table:  # tables written before the evidence columns existed
            table[column] = np.nan
    for column in ("alternative", "evidence"):
        table[column] = table[column].fillna("") if column in table else ""
    return table[COLUMNS]


def claim_verdict(claim_id: str, rows: pd.DataFrame) -> str:
    """pass (verified), fail (refuted), inconclusive, not-applicable, or observation.

    A claim is refuted if any of its applicable checks fails, inconclusive if none fails but one is
    inconclusive, verified if the rest pass; an observation is reported, never judged.
    """
    if CLAIMS[claim_id].kind == OBSERVATION:
        return "observation"
    statuses = set(rows.loc[rows["role"] == "claim", "status"])
    for status in ("fail", "inconclusive", "pass"):
        if status in statuses:
            return status
    return "not-applicable"


def _place(row) -> str:
    parts = [str(row["experiment"])] + ([str(row["architecture"])] if row["architecture"] != "-" else [])
    parts += [f"α = {row['alpha']:g}"] if pd.notna(row["alpha"]) else []
    parts += [f"seed {int(row['seed'])}"] if row["seed"] >= 0 else []
    return ", ".join(parts)


def _ratio(rows):
    return rows["value"].abs() / rows["tolerance"].where(rows["tolerance"] > 0, np.nan)


def _extrapolated(row) -> str:
    """For a pass only its fit reached: the value at the end and how far the fit was carried."""
    if row.get("evidence") != "extrapolated":
        return ""
    return f"; extrapolated: {row['value_at_end']:.3g} at the end, {row['decades_extrapolated']:.2g} decades of τ short"


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its verdict, its worst check (largest value / tolerance) and its nearest
    control (the smallest value / tolerance among the wrong predictions)."""
    rows = []
    for claim_id in [c for c in CLAIMS if c in set(table["claim"])]:
        own = table[table["claim"] == claim_id]
        checks, controls = own[own["role"] == "claim"], own[own["role"] == "control"]
        counts = checks["status"].value_counts()
        judged = checks[checks["status"].isin(["pass", "fail", "inconclusive"])]
        worst = nearest = ""
        if len(judged):
            ratio = _ratio(judged)
            w = judged.loc[ratio.fillna(np.inf).idxmax()]
            worst = f"{w['metric']}: {shown_value(w)} (tolerance {w['tolerance']:.3g}{_extrapolated(w)}) — {_place(w)}"
        if len(controls):
            ratio = _ratio(controls)
            c = controls.loc[ratio.fillna(np.inf).idxmin()]
            nearest = (
                f"{c['alternative']}: {shown_value(c)} vs tolerance {c['tolerance']:.3g} "
                f"({ratio[c.name]:.3g}×, {c['status']}) — {_place(c)}"
            )
        spec = CLAIMS[claim_id]
        if spec.kind == OBSERVATION:
            worst = observed(checks)
        rows.append(
            {
                "claim": claim_id,
                "verdict": claim_verdict(claim_id, own),
                "where": spec.where,
                "what": spec.statement,
                **{s: int(counts.get(s, 0)) for s in CLAIM_STATUSES},
                "reached": int((checks["evidence"] == "reached").sum()),
                "extrapolated": int((checks["evidence"] == "extrapolated").sum()),
                "rejected": int((controls["status"] == "rejected").sum()),
                "not-rejected": int((controls["status"] == "not-rejected").sum()),
                "worst": worst,
                "nearest control": nearest,
            }
        )
    return pd.DataFrame(rows)


def observed(checks: pd.DataFrame) -> str:
    """An observation's numbers in a sentence: each measured quantity's range per experiment."""
    rows = checks[checks["status"] == "observation"]
    parts = [
        f"{metric} in {experiment}: {group['value'].min():.3g} to {group['value'].max():.3g} over {len(group)} "
        f"{'runs' if group['seed'].min() >= 0 else 'groups'}"
        for (experiment, metric), group in rows.groupby(["experiment", "metric"], sort=False)
    ]
    return "; ".join(parts)


def headline(summary: pd.DataFrame) -> str:
    """Claims, not rows: e.g. '18 of 18 claims verified, 0 refuted, 0 inconclusive; 2 observations'."""
    counts = summary["verdict"].value_counts() if len(summary) else pd.Series(dtype=int)
    judged = len(summary) - int(counts.get("observation", 0)) - int(counts.get("not-applicable", 0))
    text = (
        f"{int(counts.get('pass', 0))} of {judged} claims verified, {int(counts.get('fail', 0))} refuted, "
        f"{int(counts.get('inconclusive', 0))} inconclusive; {int(counts.get('observation', 0))} observations"
    )
    if counts.get("not-applicable", 0):
        text += f"; {int(counts['not-applicable'])} not applicable to any run"
    if len(summary) and "reached" in summary:
        reached, extrapolated = int(summary["reached"].sum()), int(summary["extrapolated"].sum())
        text += f" (passing checks: {reached} reached at the end of their run, {extrapolated} extrapolated)"
    return text


def gate(claims_table) -> list[str]:
    """One line per failed check of ``claims_table`` (claims.csv); empty when none failed."""
    table = collect([claims_table])
    failed = table[(table["role"] == "claim") & (table["status"] == "fail")]
    return [
        f"FAILED {r['claim']} {r['experiment']} {r['architecture']} alpha={r['alpha']} seed={r['seed']}: "
        f"{r['metric']} = {r['value']:.3g} > {r['tolerance']:.3g} ({r['reason']})"
        for _, r in failed.iterrows()
    ]


def job_seconds(benchmark_paths) -> list[float]:
    """Wall time of each job from its Snakemake benchmark file (unreadable ones left out)."""
    times = []
    for path in benchmark_paths:
        try:
            times.append(float(pd.read_csv(path, sep="\t")["s"].iloc[0]))
        except (OSError, KeyError, ValueError, IndexError):
            continue
    return times


def unfinished_runs(summary_paths) -> pd.DataFrame:
    """Runs that did not complete or converge, from the experiments' summaries (status and reason)."""
    import xarray as xr

    rows = []
    for path in summary_paths:
        with xr.open_dataset(path) as summary:
            for index in np.ndindex(summary["status"].shape):
                status = str(summary["status"].values[index])
                if status not in ("completed", "converged"):
                    point = {dim: summary[dim].values[i] for dim, i in zip(summary["status"].dims, index)}
                    rows.append(
                        {
                            "experiment": summary.attrs.get("experiment", Path(path).parent.name),
                            **point,
                            "status": status,
                            "reason": str(summary["reason"].values[index]),
                        }
                    )
    return pd.DataFrame(rows, columns=["experiment", "architecture", "alpha", "seed", "status", "reason"])


HELD_OUT = {
    "test_error": "test error",
    "distance_to_beta_star": "‖β − β*‖ / ‖β*‖",
    "angle_to_beta_star": "angle to β* (deg)",
}


def held_out(summary_paths) -> pd.DataFrame:
    """Per experiment with held-out data, architecture and alpha: the test error and the distance (or angle) to
    the planted beta* at the end of the runs, averaged over seeds (the summaries hold each run's)."""
    import xarray as xr

    tables = []
    for path in summary_paths:
        with xr.open_dataset(path) as summary:
            present = [name for name in HELD_OUT if name in summary]
            if not present:
                continue
            frame = summary[present].to_dataframe().reset_index()
            frame = frame.groupby(["architecture", "alpha"], as_index=False)[present].mean()
            frame.insert(0, "experiment", summary.attrs.get("experiment", Path(path).parent.name))
            frame.insert(3, "seeds", summary.sizes["seed"])
            tables.append(frame.rename(columns=HELD_OUT))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def held_out_lines(table: pd.DataFrame) -> list[str]:
    """The Markdown section of held-out measures (none without such data)."""
    if not len(table):
        return []
    columns = [c for c in table.columns if c not in ("experiment", "architecture", "alpha", "seeds")]
    lines = [
        "",
        "## Held-out data",
        "",
        "Test error on points never trained on (mean squared error; classification: the fraction misclassified) "
        "and the distance to the planted β*, at the end of each run, averaged over seeds.",
        "",
        "| experiment | architecture | α | seeds | " + " | ".join(columns) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    for _, r in table.iterrows():
        values = " | ".join("—" if pd.isna(r[c]) else f"{r[c]:.3g}" for c in columns)
        lines.append(f"| {r['experiment']} | {r['architecture']} | {r['alpha']:g} | {r['seeds']} | {values} |")
    return lines


def write_report(
    check_paths,
    figure_paths,
    benchmark_paths,
    *,
    claims,
    markdown,
    html,
    config_path="config.yaml",
    summary_paths=(),
    merged_config=None,
) -> dict:
    """Write claims.csv (every check and control), the report as Markdown and as HTML; the counts."""
    claims, markdown, html = Path(claims), Path(markdown), Path(html)
    table = collect(check_paths)
    unfinished = unfinished_runs(summary_paths)
    write_csv(table, claims)
    summary = verdicts(table)
    seconds = job_seconds(benchmark_paths)
    timing = (
        f"Training jobs: {len(seconds)}; fastest {min(seconds):.2f} s, median {float(np.median(seconds)):.2f} s "
        "wall time each — mostly start-up (interpreter, imports, loading the kernels the compile job built)."
        if seconds
        else "Training jobs: no timings (no per-job benchmark files: the runs were not made by the workflow)."
    )
    roles = table["role"] == "claim"
    by_status = table[roles]["status"].value_counts()
    rows_line = (
        f"{int(roles.sum())} checks ({', '.join(f'{int(v)} {k}' for k, v in by_status.items())}) and "
        f"{int((~roles).sum())} controls ({int((table[~roles]['status'] == 'rejected').sum())} rejected)"
    )
    failed_runs = f" {len(unfinished)} runs did not finish (below)." if len(unfinished) else ""
    lines = [
        "# Verification report: Yun, Krishnan & Mobahi (ICLR 2021)",
        "",
        f"**{headline(summary)}.**{failed_runs}",
        "",
        f"{rows_line}. Every check and control is a row of [{claims.name}]({os.path.relpath(claims, markdown.parent)}).",
        "",
        "A claim is *verified* when every applicable check passes — the measured value meets the paper's "
        "prediction within its tolerance — and every control (a plausible wrong prediction, measured the same "
        "way) is rejected; *refuted* when a check fails on a run that met the premise and was trained far "
        "enough to judge; *inconclusive* when a run cannot decide yet or a control could not be told from the "
        "prediction; an *observation* is what the paper saw or left open, reported, not judged. Classification "
        "quantities are judged by the limit of a fit a + c·τ^-p over the last decades of τ = −log L.",
        "",
        "| claim | verdict | where in the paper | what | pass | fail | inconclusive | observed | n/a | controls rejected "
        "| worst check (value, tolerance, where) | nearest control |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in summary.iterrows():
        controls = f"{r['rejected']} of {r['rejected'] + r['not-rejected']}"
        lines.append(
            f"| {r['claim']} | **{VERDICTS[r['verdict']]}** | {r['where']} | {r['what']} | {r['pass']} | "
            f"{r['fail']} | {r['inconclusive']} | {r['observation']} | {r['not-applicable']} | {controls} | {r['worst']} | "
            f"{r['nearest control']} |"
        )
    for status, title in (
        ("fail", "Failed checks"),
        ("inconclusive", "Inconclusive checks"),
        ("not-rejected", "Controls not rejected"),
    ):
        chosen = table[table["status"] == status]
        if not len(chosen):
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| claim | alternative | experiment | architecture | α | seed | metric | value | tolerance | reason |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for _, r in chosen.iterrows():
            lines.append(
                f"| {r['claim']} | {r['alternative']} | {r['experiment']} | {r['architecture']} | {r['alpha']:g} | "
                f"{r['seed']} | {r['metric']} | {shown_value(r)} | {r['tolerance']:.3g} | {r['reason']} |"
            )
    if len(unfinished):
        lines += [
            "",
            "## Runs that did not finish",
            "",
            "Their checks are inconclusive, with the run's reason; a claim that no run served is missing above.",
            "",
            "| experiment | architecture | α | seed | status | reason |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for _, r in unfinished.iterrows():
            lines.append(
                f"| {r['experiment']} | {r['architecture']} | {r['alpha']:g} | {r['seed']} | {r['status']} | "
                f"{r['reason']} |"
            )
    observed = table[table["status"] == "observation"]
    if len(observed):
        lines += [
            "",
            "## Observations",
            "",
            "| claim | experiment | architecture | α | seed | metric | value | what it shows |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for _, r in observed.iterrows():
            lines.append(
                f"| {r['claim']} | {r['experiment']} | {r['architecture']} | {r['alpha']:g} | {r['seed']} | "
                f"{r['metric']} | {r['value']:.3g} | {r['reason']} |"
            )
    held = held_out(summary_paths)
    lines += held_out_lines(held)
    lines += ["", "## Figures", ""]
    for path in sorted(p for p in figure_paths if str(p).endswith(".png")):
        rel = os.path.relpath(path, markdown.parent)
        lines += [f"### {Path(path).stem}", "", f"![{Path(path).stem}]({rel})", ""]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        "pip install torch==2.13.0 -e . && snakemake --cores 8",
        "```",
        "",
        f"The configuration is `{config_path}` (merged copy: `results/run_config.yaml`). Rerun one rule with "
        "`snakemake --cores 8 --forcerun <rule>`; build a browsable archive with `snakemake --report report.zip`.",
        "",
        timing,
    ]
    text = "\n".join(lines) + "\n"
    atomic_write(markdown, lambda tmp: Path(tmp).write_text(text))
    write_html(
        html,
        summary,
        table,
        headline(summary),
        figure_paths=figure_paths,
        config_path=merged_config,
        data_links=[claims, *summary_paths],
        benchmark_seconds=seconds,
        held_out=held,
    )
    return {
        "checks": int(roles.sum()),
        "failed": int(by_status.get("fail", 0)),
        "inconclusive": int(by_status.get("inconclusive", 0)),
        "headline": headline(summary),
        "unfinished_runs": len(unfinished),
    }
