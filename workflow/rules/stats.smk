# Reference statistics (L̄_ref, Ā_ref per problem) and Section 3's length disharmony:
# Table 1, Figure 1.


rule reference_stats:
    input:
        f"{RESULTS}/{{model}}/presample/graded.parquet",
    output:
        f"{RESULTS}/{{model}}/reference_stats.parquet",
    log:
        f"{RESULTS}/logs/{{model}}/reference_stats.log",
    conda:
        "../../envs/analysis.yaml"
    shell:
        "o1pruner reference-stats --graded {input} --output {output} > {log} 2>&1"


rule length_disharmony:
    input:
        f"{RESULTS}/{{model}}/length_disharmony/graded.parquet",
    output:
        per_problem=f"{RESULTS}/{{model}}/length_disharmony/per_problem.parquet",
        table=multiext(f"{RESULTS}/tables/table1_{{model}}", ".csv", ".md"),
        figure=report(
            multiext(f"{RESULTS}/figures/figure1_{{model}}", ".png", ".pdf"),
            caption="../report/figure1.rst",
            category="Section 3",
        ),
    log:
        f"{RESULTS}/logs/{{model}}/length_disharmony.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        intervals=lambda wc: config["length_disharmony"]["intervals"],
        table=lambda wc, output: output.table[0].rsplit(".", 1)[0],
        figure=lambda wc, output: output.figure[0].rsplit(".", 1)[0],
    shell:
        "o1pruner length-disharmony --graded {input} --intervals {params.intervals} "
        "--model {wildcards.model} --per-problem {output.per_problem} "
        "--table {params.table} --figure {params.figure} > {log} 2>&1"
