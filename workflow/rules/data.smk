# Each configured dataset -> results/data/<name>.parquet (problem_id, dataset, problem, answer, level)


rule prepare_data:
    output:
        f"{RESULTS}/data/{{dataset}}.parquet",
    params:
        config=workflow.configfiles[-1] if workflow.configfiles else "config/config.yaml",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner prepare-data --config {params.config} --dataset {wildcards.dataset} "
        "--output {output} > {log} 2>&1"
