# One trained model per run: sft, dpo, lh_lambda_<λ>[_<split>]. GPU jobs launch one
# process per GPU of the job (torchrun); CPU jobs run in-process. O1PRUNER_JOB_GPUS tells the
# trainer how many GPUs the job asked for: with none visible it stops at once (o1pruner.devices).


rule train:
    input:
        model=model_input,
        data=f"{RESULTS}/{{model}}/datasets/{{run}}.parquet",
    output:
        directory(f"{RESULTS}/{{model}}/runs/{{run}}/model"),
    log:
        f"{RESULTS}/logs/{{model}}/runs/{{run}}/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/runs/{{run}}/train.tsv"
    retries: 1
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=lambda wc: res(wc, "train", "gpu"),
        gpu_model=res_gpu_model("train"),
        cpus_per_task=lambda wc: res(wc, "train", "cpus_per_task"),
        mem_mb=retry_res("train", "mem_mb"),
        runtime=retry_res("train", "runtime"),
    params:
        model=model_path,
        method=run_method,
        # only what the run's result depends on (its model and data are inputs): its effective
        # training settings and the method keys its trainer reads. Editing another method's
        # settings, a resource or the evaluation reruns nothing here.
        training=lambda wc: shlex.quote(json.dumps(run_training(wc), sort_keys=True)),
        method_cfg=lambda wc: shlex.quote(json.dumps(run_method_config(wc), sort_keys=True)),
        launcher=train_launcher,
        log_dir=f"{RESULTS}/logs/{{model}}/runs/{{run}}",
    shell:
        "O1PRUNER_JOB_GPUS={resources.gpu} {params.launcher} train --method {params.method} --training-json {params.training} "
        "--method-json {params.method_cfg} --model-path {params.model} --data {input.data} "
        "--output {output} --log-dir {params.log_dir} > {log} 2>&1"
