"""Theory predictions: one job per experiment (cheap), one file with a group per run.

Input: results/<experiment>/dataset.nc
Output: results/<experiment>/predictions.nc, a NetCDF group <architecture>_a<alpha>_s<seed> per run
"""


rule predict:
    """What each claim predicts for every run of an experiment (from the init, not the run)."""
    input:
        code=library_code("predict"),
        dataset=f"{RESULTS}/{{experiment}}/dataset.nc",
        init=lambda w: init_files(w.experiment),
    output:
        f"{RESULTS}/{{experiment}}/predictions.nc",
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
        init_sha256=lambda w: file_digests(init_files(w.experiment)),
        spec=lambda w: as_json(EXPERIMENTS[w.experiment]),
    shell:
        "python -m implicit_bias predict"
        " --dataset {input.dataset:q}"
        " --experiment {wildcards.experiment:q}"
        " --spec {params.spec:q}"
        " --output {output:q}"
        " > {log:q} 2>&1"
