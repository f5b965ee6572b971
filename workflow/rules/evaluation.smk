# Greedy evaluation (vLLM by default) of every run on every evaluation dataset, and with
# evaluation.samples: n also sampled evaluation (avg@n, pass@k) from the same engine.


rule evaluate:
    input:
        model=run_model_input,
        problems=[f"{RESULTS}/data/{d}.parquet" for d in config["eval_datasets"]],
    output:
        samples=[f"{RESULTS}/{{model}}/eval/{{run}}/{d}.parquet" for d in config["eval_datasets"]],
        metrics=[f"{RESULTS}/{{model}}/eval/{{run}}/{d}.json" for d in config["eval_datasets"]],
        sampled=(
            [f"{RESULTS}/{{model}}/eval/{{run}}/{d}.sampled.parquet" for d in config["eval_datasets"]]
            if config["evaluation"]["samples"]
            else []
        ),
    log:
        f"{RESULTS}/logs/{{model}}/eval/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/eval/{{run}}.tsv"
    retries: 1
    conda:
        "../../envs/vllm.yaml"
    threads: 2
    resources:
        gpu=lambda wc: res(wc, "evaluate", "gpu"),
        gpu_model=res_gpu_model("evaluate"),
        cpus_per_task=lambda wc: res(wc, "evaluate", "cpus_per_task"),
        mem_mb=retry_res("evaluate", "mem_mb"),
        runtime=retry_res("evaluate", "runtime"),
    params:
        model=run_model,
        engine=lambda wc: engine_args(wc, "evaluate"),
        speed=lambda wc: prompt_speed(wc.run),
        max_tokens=config["evaluation"]["max_tokens"],
        grading=grading_args(),
        anatomy=toy_anatomy_args,
        sampled=lambda wc, output: sampled_eval_args(output.sampled),
    shell:
        "o1pruner evaluate --model {params.model} --run {wildcards.run} "
        "--model-name {wildcards.model} {params.engine} --speed {params.speed} "
        "--max-tokens {params.max_tokens} --gpus {resources.gpu} {params.grading} {params.anatomy} {params.sampled} "
        "--problems {input.problems} --samples {output.samples} --metrics {output.metrics} "
        "> {log} 2>&1"
