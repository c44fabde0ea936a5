"""The verification report, and the optional gate on failed checks.

Input: every checks.csv, figure and training benchmark
Output: results/report/claims.csv, report.md, report.html
"""


rule report:
    """One row per check, a verdict per claim, the figures and how to reproduce them."""
    input:
        checks=[f"{RESULTS}/{e}/checks.csv" for e in EXPERIMENTS]
        + [f"{RESULTS}/theory/checks.csv"],
        figures=[f for e in EXPERIMENTS for f in figure_files(e)],
        runs=[f for e in EXPERIMENTS for f in run_files(e)],
        summaries=[f"{RESULTS}/{e}/summary.nc" for e in EXPERIMENTS],
        config=f"{RESULTS}/run_config.yaml",
        code=library_code("report"),
    output:
        claims=report(
            f"{RESULTS}/report/claims.csv",
            category="Verification",
            caption="../report/claims.rst",
        ),
        markdown=f"{RESULTS}/report/report.md",
        html=report(
            f"{RESULTS}/report/report.html",
            category="Verification",
            caption="../report/report.rst",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        ENVIRONMENT
    params:
        benchmarks=lambda w: train_benchmarks(),
    shell:
        "python -m implicit_bias report"
        " --checks {input.checks:q}"
        " --figures {input.figures:q}"
        " --summaries {input.summaries:q}"
        " --config {input.config:q}"
        " --benchmarks {params.benchmarks:q}"
        " --claims {output.claims:q}"
        " --markdown {output.markdown:q}"
        " --html {output.html:q}"
        " > {log:q} 2>&1"


rule gate:
    """Fail the workflow when any check failed (config: fail_on_failed_checks)."""
    input:
        claims=f"{RESULTS}/report/claims.csv",
        code=library_code("gate"),
    output:
        touch(f"{RESULTS}/report/all_checks_passed"),
    log:
        f"{RESULTS}/logs/gate.log",
    benchmark:
        f"{RESULTS}/benchmarks/gate.tsv"
    conda:
        ENVIRONMENT
    shell:
        "python -m implicit_bias gate --claims-table {input.claims:q} > {log:q} 2>&1"
