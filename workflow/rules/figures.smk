"""Figures (seaborn, PNG and PDF) from the summaries only: editing figure code reruns figures and
the report, never training (the figure module is an input of this rule, the training code is not).

Input: results/<experiment>/summary.nc and tails.nc
Output: results/figures/<experiment>_<kind>.{png,pdf}
"""


rule figures:
    """Draw an experiment's figures."""
    input:
        summary=f"{RESULTS}/{{experiment}}/summary.nc",
        tails=f"{RESULTS}/{{experiment}}/tails.nc",
        code=library_code("figures"),
    output:
        png=report(
            f"{RESULTS}/figures/{{experiment}}_{{kind}}.png",
            category="{experiment}",
            subcategory="{kind}",
            caption="../report/figure.rst",
            labels={"experiment": "{experiment}", "figure": "{kind}"},
        ),
        pdf=f"{RESULTS}/figures/{{experiment}}_{{kind}}.pdf",
    log:
        f"{RESULTS}/logs/figures/{{experiment}}_{{kind}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{experiment}}_{{kind}}.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    shell:
        "python -m implicit_bias figures"
        " --summary {input.summary:q}"
        " --tails {input.tails:q}"
        " --name {wildcards.experiment:q}"
        " --kind {wildcards.kind:q}"
        " --png {output.png:q}"
        " --pdf {output.pdf:q}"
        " > {log:q} 2>&1"
