# One training set per trained run, from the graded pre-samples and the reference statistics:
# sft, dpo, lh_lambda_<λ>, lh_lambda_<λ>_<split> (o1pruner.methods.registry: each method's builder).


rule build_dataset:
    input:
        samples=f"{RESULTS}/{{model}}/presample/graded.parquet",
        stats=f"{RESULTS}/{{model}}/reference_stats.parquet",
    output:
        f"{RESULTS}/{{model}}/datasets/{{run}}.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/datasets/{{run}}.log",
    wildcard_constraints:
        run=registry.run_regex(trained_only=True),
    conda:
        "../../envs/analysis.yaml"
    params:
        args=dataset_args,
    shell:
        "o1pruner build-dataset {params.args} --samples {input.samples} --stats {input.stats} "
        "--output {output} > {log} 2>&1"
