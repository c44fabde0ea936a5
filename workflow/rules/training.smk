"""Training: one job per (experiment, architecture, alpha, seed).

Input: results/<experiment>/dataset.nc, results/kernels/kernels.json (the kernels built once, ahead of time),
and where a run continues until its checks decide, results/<experiment>/predictions.nc
Output: results/<experiment>/runs/<architecture>_a<alpha>_s<seed>.nc (implicit_bias.labels.run_name)
"""


rule compile_kernels:
    """Build the training kernels once, ahead of time, into a module beside the manifest: training jobs
    load it instead of importing numba (0.6 CPU-s a job). Without a C compiler it compiles numba's
    kernels into its cache instead (jobs started together on an empty cache would each compile them).
    """
    input:
        code=library_code("compile"),
    output:
        f"{RESULTS}/kernels/kernels.json",
    log:
        f"{RESULTS}/logs/compile_kernels.log",
    benchmark:
        f"{RESULTS}/benchmarks/compile_kernels.tsv"
    conda:
        ENVIRONMENT
    resources:
        runtime=10,
        mem_mb=2000,
    shell:
        "python -m implicit_bias compile --output {output:q} > {log:q} 2>&1"


rule train:
    """Train one run with the experiment's solver and write its run file."""
    input:
        code=lambda w: library_code("train", w.experiment),
        dataset=f"{RESULTS}/{{experiment}}/dataset.nc",
        init=lambda w: init_files(w.experiment),
        kernels=rules.compile_kernels.output[0],
        predictions=lambda w: deciding_predictions(w.experiment),
    output:
        f"{RESULTS}/{{experiment}}/runs/{{architecture}}_a{{alpha}}_s{{seed}}.nc",
    log:
        f"{RESULTS}/logs/train/{{experiment}}/{{architecture}}_a{{alpha}}_s{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{experiment}}/{{architecture}}_a{{alpha}}_s{{seed}}.tsv"
    conda:
        ENVIRONMENT
    threads: 1
    resources:
        runtime=30,
        mem_mb=2000,
    params:
        init_sha256=lambda w: file_digests(init_files(w.experiment)),
        architecture=lambda w: as_json(run_config(w)["architecture"]),
        init=lambda w: init_argument(w.experiment),
        alpha=lambda w: repr(run_config(w)["alpha"]),  # exactly as configured; the file label may round
        solver=lambda w: as_json(EXPERIMENTS[w.experiment]["solver"]),
        config=lambda w: as_json(run_config(w)),
        claims=lambda w: claims_deciding_training(w.experiment),
        predictions=lambda w, input: predictions_argument(input),
    shell:
        "NUMBA_NUM_THREADS={threads} python -m implicit_bias train"
        " --dataset {input.dataset:q}"
        " --architecture {params.architecture:q}"
        " --init {params.init:q}"
        " --alpha {params.alpha}"
        " --seed {wildcards.seed:q}"
        " --solver {params.solver:q}"
        " --experiment {wildcards.experiment:q}"
        " --config {params.config:q}"
        " --claims {params.claims:q} {params.predictions}"
        " --kernels {input.kernels:q}"
        " --output {output:q}"
        " > {log:q} 2>&1"
