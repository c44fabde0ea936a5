"""Reproduce and verify Yun, Krishnan & Mobahi, "A unifying view on implicit bias in training linear
neural networks" (ICLR 2021): config -> datasets -> runs -> predictions -> checks -> summaries ->
figures -> report. Rules are thin: each calls `python -m implicit_bias <verb>`.
"""

from snakemake.utils import min_version

min_version("9.0")


# config.yaml unless another config with its own experiments is given (--configfile config/<name>.yaml):
# Snakemake would merge the two, running both sets of experiments
if "experiments" not in config:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/predictions.smk"
include: "workflow/rules/checks.smk"
include: "workflow/rules/summaries.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    """Everything: the report (and, if asked, the gate on failed checks). What the report summarises
    is requested too: Snakemake does not remake a missing intermediate file whose consumers look up
    to date, so a deleted checks.csv or run file would otherwise leave a stale report in place.
    """
    input:
        f"{RESULTS}/run_config.yaml",
        f"{RESULTS}/report/report.html",
        [f"{RESULTS}/{e}/summary.nc" for e in EXPERIMENTS],
        [f"{RESULTS}/{e}/checks.csv" for e in EXPERIMENTS]
        + [f"{RESULTS}/theory/checks.csv"],
        [f for e in EXPERIMENTS for f in run_files(e)],
        [f"{RESULTS}/report/all_checks_passed"]
        if config["fail_on_failed_checks"]
        else [],
