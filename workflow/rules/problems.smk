# Problem sets: each configured dataset -> results/data/<name>.parquet
# (problem_id, dataset, problem, answer, level); o1pruner.problems


rule prepare_data:
    output:
        f"{RESULTS}/data/{{dataset}}.parquet",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        spec=lambda wc: shlex.quote(json.dumps(config["datasets"][wc.dataset])),
    shell:
        "o1pruner prepare-data --spec {params.spec} --dataset {wildcards.dataset} " "--output {output} > {log} 2>&1"
