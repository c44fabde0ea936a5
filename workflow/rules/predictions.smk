"""Theory predictions: one job per experiment (cheap), one file per run.

Input: results/<experiment>/dataset.nc
Output: results/<experiment>/predictions/ holding <architecture>_a<alpha>_s<seed>.nc per run
"""


rule predict:
    """What each claim predicts for every run of an experiment (from the init, not the run)."""
    input:
        code=library_code("predict"),
        dataset=f"{RESULTS}/{{experiment}}/dataset.nc",
    output:
        directory(f"{RESULTS}/{{experiment}}/predictions"),
    log:
        f"{RESULTS}/logs/predict/{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict/{{experiment}}.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        spec=lambda w: as_json(EXPERIMENTS[w.experiment]),
    shell:
        "python -m implicit_bias predict"
        " --dataset {input.dataset:q}"
        " --experiment {wildcards.experiment:q}"
        " --spec {params.spec:q}"
        " --output-dir {output:q}"
        " > {log:q} 2>&1"
