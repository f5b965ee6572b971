# The reference model folder for models the workflow makes itself:
#   source toy  -> train the toy long-thought model from scratch (o1pruner build-toy)
#   source gguf -> convert a GGUF file once to an HF folder (o1pruner convert-gguf)
# (source hf: a hub id or local HF folder is used as it is, no rule.)


rule reference_model:
    output:
        directory(f"{RESULTS}/{{model}}/model"),
    log:
        f"{RESULTS}/logs/{{model}}/reference_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{model}}/reference_model.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        gpu=lambda wc: res(wc, "build", "gpu"),
        gpu_model=res_gpu_model("build"),
        cpus_per_task=lambda wc: res(wc, "build", "cpus_per_task"),
        mem_mb=lambda wc: res(wc, "build", "mem_mb"),
        runtime=lambda wc: res(wc, "build", "runtime"),
    params:
        command=model_command,
    shell:
        "o1pruner {params.command} --output {output} > {log} 2>&1"
