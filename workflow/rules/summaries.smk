"""Aggregation with xarray: one summary per experiment.

Input: the experiment's run files and predictions.nc
Output: results/<experiment>/summary.nc, dims (architecture, alpha, seed, checkpoint, coef)
"""


rule summarize:
    """Stack an experiment's runs and predictions on shared coordinates."""
    input:
        code=library_code("summarize"),
        dataset=f"{RESULTS}/{{experiment}}/dataset.nc",
        runs=lambda w: run_files(w.experiment),
        predictions=f"{RESULTS}/{{experiment}}/predictions.nc",
    output:
        f"{RESULTS}/{{experiment}}/summary.nc",
    log:
        f"{RESULTS}/logs/summarize/{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/summarize/{{experiment}}.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        config=lambda w: as_json(EXPERIMENTS[w.experiment]),
    shell:
        "python -m implicit_bias summarize"
        " --experiment {wildcards.experiment:q}"
        " --dataset {input.dataset:q}"
        " --runs {input.runs:q}"
        " --predictions {input.predictions:q}"
        " --config {params.config:q}"
        " --output {output:q}"
        " > {log:q} 2>&1"
