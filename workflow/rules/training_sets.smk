# Training sets from the graded pre-samples: SFT, DPO and Length-Harmonizing (per λ, per split).


rule build_sft:
    input:
        f"{RESULTS}/{{model}}/presample/graded.parquet",
    output:
        f"{RESULTS}/{{model}}/datasets/sft.parquet",
    params:
        n=config["methods"]["sft"]["n_shortest"],
    log:
        f"{RESULTS}/logs/{{model}}/datasets/sft.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner build-sft --samples {input} --n {params.n} --output {output} > {log} 2>&1"


rule build_dpo:
    input:
        f"{RESULTS}/{{model}}/presample/graded.parquet",
    output:
        f"{RESULTS}/{{model}}/datasets/dpo.parquet",
    params:
        n=config["methods"]["dpo"]["n_chosen"],
    log:
        f"{RESULTS}/logs/{{model}}/datasets/dpo.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner build-dpo --samples {input} --n {params.n} --output {output} > {log} 2>&1"


rule build_lh:
    input:
        samples=f"{RESULTS}/{{model}}/presample/graded.parquet",
        stats=f"{RESULTS}/{{model}}/reference_stats.parquet",
    output:
        f"{RESULTS}/{{model}}/datasets/lh_lambda_{{lam}}.parquet",
    params:
        args=lh_args,
    log:
        f"{RESULTS}/logs/{{model}}/datasets/lh_lambda_{{lam}}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner build-lh --samples {input.samples} --stats {input.stats} {params.args} "
        "--output {output} > {log} 2>&1"


use rule build_lh as build_lh_split with:
    output:
        f"{RESULTS}/{{model}}/datasets/lh_lambda_{{lam}}_{{split}}.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/datasets/lh_lambda_{{lam}}_{{split}}.log",
