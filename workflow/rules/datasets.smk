"""Datasets: one per experiment, from its task and data (the paper's, random, or inline).

Output: results/<experiment>/dataset.nc
"""


rule dataset:
    """Write an experiment's dataset."""
    input:
        code=library_code("dataset"),
        data=lambda w: data_files(w.experiment),
    output:
        f"{RESULTS}/{{experiment}}/dataset.nc",
    log:
        f"{RESULTS}/logs/dataset/{{experiment}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/dataset/{{experiment}}.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    params:
        data_sha256=lambda w: file_digests(data_files(w.experiment)),
        spec=lambda w: as_json(
            {
                "task": EXPERIMENTS[w.experiment]["task"],
                "data": EXPERIMENTS[w.experiment]["data"],
            }
        ),
    shell:
        "python -m implicit_bias dataset"
        " --experiment {wildcards.experiment:q}"
        " --spec {params.spec:q}"
        " --output {output:q}"
        " > {log:q} 2>&1"


rule run_config:
    """Write the merged configuration beside the results."""
    input:
        code=library_code("config"),
    output:
        f"{RESULTS}/run_config.yaml",
    log:
        f"{RESULTS}/logs/run_config.log",
    benchmark:
        f"{RESULTS}/benchmarks/run_config.tsv"
    conda:
        ENVIRONMENT
    params:
        config=lambda w: as_json(config),
    shell:
        "python -m implicit_bias config"
        " --json {params.config:q}"
        " --output {output:q}"
        " > {log:q} 2>&1"
