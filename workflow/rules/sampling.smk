# Pre-sampling (scatter over shards, gather) and grading.
#   presample: K samples of every training problem (reference stats, training sets)
#   length_disharmony: many samples of a few problems (paper Section 3: Table 1, Figure 1)


rule sample_shard:
    input:
        model=model_input,
        problems=lambda wc: f"{RESULTS}/data/{sampleset_cfg(wc.sampleset)['dataset']}.parquet",
    output:
        f"{RESULTS}/{{model}}/{{sampleset}}/samples-{{shard}}-of-{{nshards}}.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/{{sampleset}}/sample-{{shard}}-of-{{nshards}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/{{sampleset}}/sample-{{shard}}-of-{{nshards}}.tsv"
    retries: 1
    conda:
        "../../envs/vllm.yaml"
    threads: 2
    resources:
        gpu=lambda wc: res(wc, "sample", "gpu"),
        gpu_model=res_gpu_model("sample"),
        cpus_per_task=lambda wc: res(wc, "sample", "cpus_per_task"),
        mem_mb=retry_res("sample", "mem_mb"),
        runtime=retry_res("sample", "runtime"),
    params:
        model=model_path,
        args=sampling_args,
    shell:
        "o1pruner sample --model {params.model} --problems {input.problems} {params.args} "
        "--gpus {resources.gpu} --shard {wildcards.shard} --num-shards {wildcards.nshards} "
        "--output {output} > {log} 2>&1"


rule grade_shard:
    input:
        f"{RESULTS}/{{model}}/{{sampleset}}/samples-{{shard}}-of-{{nshards}}.parquet",
    output:
        f"{RESULTS}/{{model}}/{{sampleset}}/graded-{{shard}}-of-{{nshards}}.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/{{sampleset}}/grade-{{shard}}-of-{{nshards}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        grading=grading_args(),
        anatomy=toy_anatomy_args,
    shell:
        "o1pruner grade --input {input} --output {output} {params.grading} {params.anatomy} > {log} 2>&1"


rule gather_graded:
    input:
        shard_files,
    output:
        f"{RESULTS}/{{model}}/{{sampleset}}/graded.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/{{sampleset}}/gather.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/gather_parquet.py"
