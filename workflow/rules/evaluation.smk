# Greedy evaluation (vLLM by default) of every run on every evaluation dataset, then
# metrics tables, AES (Tables 2 and 3) and the per-λ targets results/lambda_<λ>/aes.csv.


rule evaluate:
    input:
        model=run_model_input,
        problems=[f"{RESULTS}/data/{d}.parquet" for d in config["eval_datasets"]],
    output:
        samples=[f"{RESULTS}/{{model}}/eval/{{run}}/{d}.parquet" for d in config["eval_datasets"]],
        metrics=[f"{RESULTS}/{{model}}/eval/{{run}}/{d}.json" for d in config["eval_datasets"]],
    params:
        model=run_model,
        speed=_eval_speed,
        backend=config["evaluation"]["backend"],
        max_tokens=config["evaluation"]["max_tokens"],
        family=lambda wc: model_cfg(wc)["prompt_family"],
        dtype=lambda wc: model_cfg(wc)["dtype"],
        timeout=config["grading"]["timeout"],
        fallback=config["grading"]["answer_fallback"],
    log:
        f"{RESULTS}/logs/{{model}}/eval/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/eval/{{run}}.tsv"
    threads: 2
    retries: 1
    resources:
        gpu=lambda wc: res(wc, "evaluate", "gpu", 0),
        gpu_model=res_gpu_model("evaluate"),
        cpus_per_task=lambda wc: res(wc, "evaluate", "cpus_per_task", 2),
        mem_mb=lambda wc, attempt: res(wc, "evaluate", "mem_mb", 8000) * attempt,
        runtime=lambda wc, attempt: res(wc, "evaluate", "runtime", 60) * attempt,
    conda:
        "../../envs/vllm.yaml"
    shell:
        "o1pruner evaluate --model {params.model} --method {wildcards.run} "
        "--model-name {wildcards.model} --backend {params.backend} "
        "--max-tokens {params.max_tokens} --prompt-family {params.family} --speed {params.speed} "
        "--dtype {params.dtype} --gpus {resources.gpu} --grading-timeout {params.timeout} "
        "--answer-fallback {params.fallback} "
        "--problems {input.problems} --samples {output.samples} --metrics {output.metrics} "
        "> {log} 2>&1"
