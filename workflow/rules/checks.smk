"""Checks: every claim of an experiment on its runs, and the theory-only claims.

Input: the experiment's dataset, run files and predictions.nc
Output: results/<experiment>/checks.csv (one row per check and control), results/<experiment>/tails.nc
(the series behind the tail verdicts), results/theory/checks.csv
"""


rule check:
    """Compare an experiment's runs with their predictions: one CSV row per check."""
    input:
        code=library_code("check"),
        dataset=f"{RESULTS}/{{experiment}}/dataset.nc",
        runs=lambda w: run_files(w.experiment),
        predictions=f"{RESULTS}/{{experiment}}/predictions.nc",
    output:
        checks=f"{RESULTS}/{{experiment}}/checks.csv",
        tails=f"{RESULTS}/{{experiment}}/tails.nc",
    log:
        f"{RESULTS}/logs/check/{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/check/{{experiment}}.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        claims=lambda w: EXPERIMENTS[w.experiment]["claims"],
    shell:
        "python -m implicit_bias check"
        " --dataset {input.dataset:q}"
        " --runs {input.runs:q}"
        " --predictions {input.predictions:q}"
        " --claims {params.claims:q}"
        " --output {output.checks:q}"
        " --tails {output.tails:q}"
        " > {log:q} 2>&1"


rule theory_checks:
    """Claims that need no training (Lemma 5.1) at the configured depths."""
    input:
        code=library_code("check"),
    output:
        f"{RESULTS}/theory/checks.csv",
    log:
        f"{RESULTS}/logs/check/theory.log",
    benchmark:
        f"{RESULTS}/benchmarks/check/theory.tsv"
    conda:
        ENVIRONMENT
    params:
        claims=config["theory"]["claims"],
        depths=config["theory"]["depths"],
    shell:
        "python -m implicit_bias check"
        " --claims {params.claims:q}"
        " --depths {params.depths}"
        " --output {output:q}"
        " > {log:q} 2>&1"
