# Metrics -> AES -> Tables 2 and 3, the per-λ targets, and Figures 2-4.



rule metrics_table2:
    input:
        _table2_metrics,
    output:
        metrics=f"{RESULTS}/metrics/table2_metrics.csv",
        aes_input=f"{RESULTS}/metrics/table2_aes_input.csv",
    log:
        f"{RESULTS}/logs/metrics_table2.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --inputs {input} --output {output.metrics} "
        "--aes-input {output.aes_input} > {log} 2>&1"


rule metrics_table3:
    input:
        _table3_metrics,
    output:
        metrics=f"{RESULTS}/metrics/table3_metrics.csv",
        aes_input=f"{RESULTS}/metrics/table3_aes_input.csv",
    log:
        f"{RESULTS}/logs/metrics_table3.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --inputs {input} --output {output.metrics} --with-lambda "
        "--aes-input {output.aes_input} > {log} 2>&1"


rule metrics_lambda:
    input:
        lambda wc: [p for m in MODELS for run in ("baseline", lh_run(m, wc.lam))
                    for p in eval_metrics(m, run)],
    output:
        metrics=f"{RESULTS}/lambda_{{lam}}/metrics.csv",
        aes_input=f"{RESULTS}/lambda_{{lam}}/aes_input.csv",
    log:
        f"{RESULTS}/logs/lambda_{{lam}}/metrics.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --inputs {input} --output {output.metrics} --with-lambda "
        "--aes-input {output.aes_input} > {log} 2>&1"


rule aes:
    input:
        "{prefix}aes_input.csv",
    output:
        "{prefix}aes.csv",
    wildcard_constraints:
        prefix=rf"{RESULTS}/(lambda_[0-9.]+/|metrics/table[23]_)",
    params:
        args="--variant {variant} --alpha {alpha} --beta {beta} --gamma {gamma}".format(**config["aes"]),
    log:
        "{prefix}aes.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner aes --input {input} --output {output} {params.args} > {log} 2>&1"


rule table2:
    input:
        f"{RESULTS}/metrics/table2_aes.csv",
    output:
        report(multiext(f"{RESULTS}/tables/table2", ".csv", ".md"),
               caption="../report/table2.rst", category="Tables"),
    params:
        datasets=" ".join(config["eval_datasets"]),
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    log:
        f"{RESULTS}/logs/table2.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner tables --aes {input} --table2 {params.stem} "
        "--datasets {params.datasets} > {log} 2>&1"


rule table3:
    input:
        f"{RESULTS}/metrics/table3_aes.csv",
    output:
        report(multiext(f"{RESULTS}/tables/table3", ".csv", ".md"),
               caption="../report/table3.rst", category="Tables"),
    params:
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    log:
        f"{RESULTS}/logs/table3.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner tables --aes {input} --table3 {params.stem} > {log} 2>&1"


rule figure2_rulegraph:
    output:
        dot=f"{RESULTS}/figures/figure2_rulegraph.dot",
        figure=report(multiext(f"{RESULTS}/figures/figure2", ".png", ".pdf"),
                      caption="../report/figure2.rst", category="Figures"),
    params:
        configs=" ".join(f"--configfile {c}" for c in workflow.configfiles),
        snakefile=workflow.main_snakefile,
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    log:
        f"{RESULTS}/logs/figure2.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "(snakemake -s {params.snakefile} {params.configs} --nolock "
        "--rulegraph dot all > {output.dot}) 2> {log} && "
        "o1pruner figure2 --dot {output.dot} --output {params.stem} >> {log} 2>&1"


rule figure3:
    input:
        f"{RESULTS}/metrics/table2_metrics.csv",
    output:
        report(multiext(f"{RESULTS}/figures/figure3", ".png", ".pdf"),
               caption="../report/figure3.rst", category="Figures"),
    params:
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    log:
        f"{RESULTS}/logs/figure3.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner figure3 --metrics {input} --output {params.stem} > {log} 2>&1"


rule metrics_figure4:
    input:
        _figure4_metrics,
    output:
        f"{RESULTS}/metrics/figure4_metrics.csv",
    log:
        f"{RESULTS}/logs/metrics_figure4.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --inputs {input} --output {output} > {log} 2>&1"


rule figure4:
    input:
        f"{RESULTS}/metrics/figure4_metrics.csv",
    output:
        report(multiext(f"{RESULTS}/figures/figure4", ".png", ".pdf"),
               caption="../report/figure4.rst", category="Figures"),
    params:
        splits=shlex.quote(json.dumps(config.get("difficulty_splits", {}))),
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    log:
        f"{RESULTS}/logs/figure4.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner figure4 --metrics {input} --splits {params.splits} "
        "--output {params.stem} > {log} 2>&1"
