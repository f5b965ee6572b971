# Pre-sampling (scatter over shards, gather) and grading.
#   presample: K samples of every training problem (reference stats, training sets)
#   intervals: many samples of a few problems (paper Section 3: Table 1, Figure 1)


def _sampling_args(wc):
    s, m = config["sampling"], model_cfg(wc)
    ss = sampleset_cfg(wc.sampleset)
    args = (f"--backend {s['backend']} --k {ss['k']} --temperature {s['temperature']} "
            f"--top-p {s['top_p']} --max-tokens {s['max_tokens']} --seed {s['seed']} "
            f"--batch-size {s['batch_size']} --prompt-family {m['prompt_family']} "
            f"--dtype {m['dtype']}")
    if ss["limit"]:
        args += f" --limit {ss['limit']}"
    if m.get("max_model_len"):
        args += f" --max-model-len {m['max_model_len']}"
    return args


rule sample_shard:
    input:
        model=model_input,
        problems=lambda wc: f"{RESULTS}/data/{sampleset_cfg(wc.sampleset)['dataset']}.parquet",
    output:
        f"{RESULTS}/{{model}}/{{sampleset}}/samples-{{shard}}-of-{{nshards}}.parquet",
    params:
        model=model_path,
        args=_sampling_args,
    log:
        f"{RESULTS}/logs/{{model}}/{{sampleset}}/sample-{{shard}}-of-{{nshards}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/{{sampleset}}/sample-{{shard}}-of-{{nshards}}.tsv"
    threads: 2
    retries: 1
    resources:
        gpu=lambda wc: res(wc, "sample", "gpu", 0),
        mem_mb=lambda wc, attempt: res(wc, "sample", "mem_mb", 8000) * attempt,
        runtime=lambda wc, attempt: res(wc, "sample", "runtime", 60) * attempt,
    conda:
        "../../envs/vllm.yaml"
    shell:
        "{O1} sample --model {params.model} --problems {input.problems} {params.args} "
        "--gpus {resources.gpu} --shard {wildcards.shard} --num-shards {wildcards.nshards} "
        "--output {output} > {log} 2>&1"


rule grade_shard:
    input:
        f"{RESULTS}/{{model}}/{{sampleset}}/samples-{{shard}}-of-{{nshards}}.parquet",
    output:
        f"{RESULTS}/{{model}}/{{sampleset}}/graded-{{shard}}-of-{{nshards}}.parquet",
    params:
        timeout=config["grading"]["timeout"],
    log:
        f"{RESULTS}/logs/{{model}}/{{sampleset}}/grade-{{shard}}-of-{{nshards}}.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "{O1} grade --input {input} --output {output} --timeout {params.timeout} > {log} 2>&1"


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
