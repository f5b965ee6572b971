# Metrics -> AES (with paired-bootstrap intervals) -> Tables 2 and 3, the per-λ targets,
# Figures 2-4, the Pareto front (Figure 5), length against difficulty, training diagnostics and
# ours-vs-paper.


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
        "o1pruner collect-metrics --check-samples --inputs {input} --output {output.metrics} "
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
        "o1pruner collect-metrics --check-samples --inputs {input} --output {output.metrics} --with-lambda "
        "--aes-input {output.aes_input} > {log} 2>&1"


# Figure 5: every run evaluated on every set (Table 2's and the λ grid's, once each); --with-lambda
# keeps the runs of one method apart.
rule metrics_pareto:
    input:
        _pareto_metrics,
    output:
        metrics=f"{RESULTS}/metrics/pareto_metrics.csv",
        aes_input=f"{RESULTS}/metrics/pareto_aes_input.csv",
    log:
        f"{RESULTS}/logs/metrics_pareto.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --check-samples --inputs {input} --output {output.metrics} --with-lambda "
        "--aes-input {output.aes_input} > {log} 2>&1"


rule metrics_lambda:
    input:
        lambda wc: [p for m in MODELS for run in ("baseline", lh_run(m, wc.lam)) for p in eval_metrics(m, run)],
    output:
        metrics=f"{RESULTS}/lambda_{{lam}}/metrics.csv",
        aes_input=f"{RESULTS}/lambda_{{lam}}/aes_input.csv",
    log:
        f"{RESULTS}/logs/lambda_{{lam}}/metrics.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner collect-metrics --check-samples --inputs {input} --output {output.metrics} --with-lambda "
        "--aes-input {output.aes_input} > {log} 2>&1"


rule aes:
    input:
        aes_input=f"{RESULTS}/{{where}}aes_input.csv",
        index=f"{RESULTS}/{{where}}metrics.csv",
        samples=lambda wc: _samples_of(_aes_metrics_jsons(wc)),
    output:
        f"{RESULTS}/{{where}}aes.csv",
    log:
        f"{RESULTS}/logs/{{where}}aes.log",
    wildcard_constraints:
        where=r"lambda_[0-9.]+/|metrics/table[23]_|metrics/pareto_",
    conda:
        "../../envs/analysis.yaml"
    params:
        args="--variant {variant} --alpha {alpha} --beta {beta} --gamma {gamma}".format(**config["aes"]),
        boot=bootstrap_args(),
    shell:
        "o1pruner aes --input {input.aes_input} --output {output} {params.args} "
        "--samples-index {input.index} {params.boot} > {log} 2>&1"


rule table2:
    input:
        f"{RESULTS}/metrics/table2_aes.csv",
    output:
        report(
            multiext(f"{RESULTS}/tables/table2", ".csv", ".md", ".html"),
            caption="../report/table2.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/table2.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        datasets=" ".join(config["eval_datasets"]),
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
    shell:
        "o1pruner tables --aes {input} --table2 {params.stem} --html " "--datasets {params.datasets} > {log} 2>&1"


rule table3:
    input:
        f"{RESULTS}/metrics/table3_aes.csv",
    output:
        report(
            multiext(f"{RESULTS}/tables/table3", ".csv", ".md", ".html"),
            caption="../report/table3.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/table3.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
    shell:
        "o1pruner tables --aes {input} --table3 {params.stem} --html > {log} 2>&1"


rule pareto:
    input:
        f"{RESULTS}/metrics/pareto_aes.csv",
    output:
        table=report(
            multiext(f"{RESULTS}/tables/pareto", ".csv", ".md", ".html"),
            caption="../report/pareto.rst",
            category="Tables",
        ),
        figure=report(
            multiext(f"{RESULTS}/figures/figure5", ".png", ".pdf"), caption="../report/figure5.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/pareto.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        datasets=" ".join(config["eval_datasets"]),
        table=lambda wc, output: output.table[0].rsplit(".", 1)[0],
        figure=lambda wc, output: output.figure[0].rsplit(".", 1)[0],
    shell:
        "o1pruner pareto --aes {input} --table {params.table} --figure {params.figure} --html "
        "--datasets {params.datasets} > {log} 2>&1"


rule compare_trainers:
    input:
        [
            f"{RESULTS}/{m}/eval/{run}/{d}.parquet"
            for m in MODELS
            for pair in trainer_pair_runs(m)
            for run in pair
            for d in config["eval_datasets"]
        ],
    output:
        report(
            multiext(f"{RESULTS}/tables/trainers", ".csv", ".md"),
            caption="../report/trainers.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/compare_trainers.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        pairs=" ".join(f"--pair {m} {off} {on}" for m in MODELS for off, on in trainer_pair_runs(m)),
        root=lambda wc, input: str(Path(input[0]).parents[3]),  # <root>/<model>/eval/<run>/<set>.parquet
        datasets=" ".join(config["eval_datasets"]),
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
        boot=bootstrap_args(),
    shell:
        "o1pruner compare-trainers {params.pairs} --evals-root {params.root} --datasets {params.datasets} "
        "--output {params.stem} {params.boot} > {log} 2>&1"


rule figure2_rulegraph:
    output:
        dot=f"{RESULTS}/figures/figure2_rulegraph.dot",
        figure=report(
            multiext(f"{RESULTS}/figures/figure2", ".png", ".pdf"), caption="../report/figure2.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/figure2.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        # one --configfile with every file: repeated flags would keep only the last file
        configs="--configfile " + " ".join(shlex.quote(str(c)) for c in workflow.configfiles),
        snakefile=workflow.main_snakefile,
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    shell:
        "(snakemake -s {params.snakefile} {params.configs} --nolock "
        "--rulegraph dot all > {output.dot}) 2> {log} && "
        "o1pruner figure2 --dot {output.dot} --output {params.stem} >> {log} 2>&1"


rule figure3:
    input:
        metrics=f"{RESULTS}/metrics/table2_metrics.csv",
        samples=_samples_of(_table2_metrics()),
    output:
        report(
            multiext(f"{RESULTS}/figures/figure3", ".png", ".pdf"), caption="../report/figure3.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/figure3.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        boot=bootstrap_args(),
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    shell:
        "o1pruner figure3 --metrics {input.metrics} --output {params.stem} {params.boot} > {log} 2>&1"


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
        "o1pruner collect-metrics --check-samples --inputs {input} --output {output} > {log} 2>&1"


rule figure4:
    input:
        metrics=f"{RESULTS}/metrics/figure4_metrics.csv",
        samples=_samples_of(_figure4_metrics()),
    output:
        report(
            multiext(f"{RESULTS}/figures/figure4", ".png", ".pdf"), caption="../report/figure4.rst", category="Figures"
        ),
    log:
        f"{RESULTS}/logs/figure4.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        boot=bootstrap_args(),
        splits=shlex.quote(json.dumps(config.get("difficulty_splits", {}))),
        stem=lambda wc, output: output[-1].rsplit(".", 1)[0],
    shell:
        "o1pruner figure4 --metrics {input.metrics} --splits {params.splits} "
        "--output {params.stem} {params.boot} > {log} 2>&1"


rule length_by_difficulty:
    input:
        index=f"{RESULTS}/metrics/table2_metrics.csv",
        samples=_samples_of(_table2_metrics()),
        presamples=[f"{RESULTS}/{m}/presample/graded.parquet" for m in MODELS],
    output:
        table=report(
            multiext(f"{RESULTS}/tables/length_by_difficulty", ".csv", ".md", ".html"),
            caption="../report/length_by_difficulty.rst",
            category="Length vs difficulty",
        ),
        figure=report(
            multiext(f"{RESULTS}/figures/length_by_difficulty", ".png", ".pdf"),
            caption="../report/length_by_difficulty_figure.rst",
            category="Length vs difficulty",
        ),
        presample=report(
            multiext(f"{RESULTS}/tables/presample_by_difficulty", ".csv", ".md", ".html"),
            caption="../report/presample_by_difficulty.rst",
            category="Length vs difficulty",
        ),
    log:
        f"{RESULTS}/logs/length_by_difficulty.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        presamples=lambda wc, input: " ".join(f"{m}={p}" for m, p in zip(MODELS, input.presamples)),
        table=lambda wc, output: output.table[0].rsplit(".", 1)[0],
        figure=lambda wc, output: output.figure[0].rsplit(".", 1)[0],
        presample=lambda wc, output: output.presample[0].rsplit(".", 1)[0],
        boot=bootstrap_args(),
    shell:
        "o1pruner length-by-difficulty --samples-index {input.index} --presamples {params.presamples} "
        "--table {params.table} --figure {params.figure} --presample-table {params.presample} "
        "{params.boot} > {log} 2>&1"


rule pruning_anatomy:
    input:
        [
            f"{RESULTS}/{m}/eval/{run}/{d}.parquet"
            for m in toy_models()
            for run in pareto_runs(m)
            for d in config["eval_datasets"]
        ],
    output:
        report(
            multiext(f"{RESULTS}/tables/pruning_anatomy", ".csv", ".md"),
            caption="../report/pruning_anatomy.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/pruning_anatomy.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
    shell:
        "o1pruner pruning-anatomy --evals {input} --output {params.stem} > {log} 2>&1"


rule toy_reflection:
    input:
        f"{RESULTS}/{{model}}/presample/graded.parquet",
    output:
        json=f"{RESULTS}/tables/toy_reflection_{{model}}.json",
        md=report(
            f"{RESULTS}/tables/toy_reflection_{{model}}.md", caption="../report/toy_reflection.rst", category="Tables"
        ),
    log:
        f"{RESULTS}/logs/toy_reflection_{{model}}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        groups=lambda wc: toy_level_groups(),
        boot=lambda wc: f"--bootstrap-samples {BOOT['samples']} --seed {BOOT['seed']}",
    shell:
        "o1pruner toy-reflection --graded {input} {params.groups} {params.boot} "
        "--output {output.json} --markdown {output.md} > {log} 2>&1"


rule training_figure:
    input:
        f"{RESULTS}/{{model}}/runs/{{run}}/model",
    output:
        report(
            multiext(f"{RESULTS}/figures/training_{{model}}_{{run}}", ".png", ".pdf"),
            caption="../report/training.rst",
            category="Training diagnostics",
            subcategory="{model}",
            labels={"model": "{model}", "run": "{run}"},
        ),
    log:
        f"{RESULTS}/logs/training_figure_{{model}}_{{run}}.log",
    wildcard_constraints:
        run=registry.run_regex(trained_only=True),
    conda:
        "../../envs/analysis.yaml"
    params:
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
    shell:
        "o1pruner training-figure --model-dir {input} --output {params.stem} "
        "--title '{wildcards.model} {wildcards.run}' > {log} 2>&1"


rule table2_vs_paper:
    input:
        aes=f"{RESULTS}/metrics/table2_aes.csv",
        paper=REPORT["paper_table2"],
    output:
        report(
            multiext(f"{RESULTS}/tables/table2_vs_paper", ".md", ".csv", ".html"),
            caption="../report/table2_vs_paper.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/table2_vs_paper.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        names=shlex.quote(json.dumps(REPORT["paper_names"])),
        stem=lambda wc, output: output[0].rsplit(".", 1)[0],
    shell:
        "o1pruner table2-vs-paper --aes {input.aes} --paper {input.paper} --names {params.names} "
        "--output {params.stem} > {log} 2>&1"


# The results page (docs/results.md is a copy of it, `make results-page`): the tables above with
# headings and captions, which differences hold, run time and the machine. The machine is
# recorded right after the reference model is built, where the CPU decides what the toy learns.
rule run_machine:
    input:
        [f"{RESULTS}/{m}/model" for m in MODELS if config["models"][m]["source"] in ("toy", "gguf")],
    output:
        f"{RESULTS}/machine.json",
    log:
        f"{RESULTS}/logs/run_machine.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner record-machine --output {output} > {log} 2>&1"


rule results_page:
    input:
        [p for paths in page_inputs(config, RESULTS).values() for p in paths],
        machine=f"{RESULTS}/machine.json",
        # every other target first: the page's run-time table sums every benchmarked job
        rest=lambda wc: [t for t in all_targets() if Path(t).name != "results.md"],
    output:
        f"{RESULTS}/results.md",
    log:
        f"{RESULTS}/logs/results_page.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        configs=config_names(),
        results=lambda wc, output: str(Path(output[0]).parent),
    shell:
        "o1pruner results-page --results {params.results} --config {params.configs} " "--output {output} > {log} 2>&1"
