# O1-Pruner (Luo et al., arXiv 2501.12570) as a Snakemake workflow.
#
#   snakemake --cores 2                                  # default: offline toy model on CPU
#   snakemake --cores 2 --configfile config/smollm2.yaml # SmolLM2-135M-Instruct
#   snakemake --profile profiles/slurm all --configfile config/paper.yaml
#
#   snakemake --cores 2 results/lambda_5/aes.csv       # one λ: only that LH model + baseline
#
# sample -> grade -> reference stats (Parquet) -> Table 1 / Figure 1 (length disharmony)
#   -> SFT / DPO / LH datasets -> train each method -> evaluate -> AES, Tables 2-3, Figures 2-4
# The logic lives in the `o1pruner` package; rules only wire files together.

# the offline default, unless --configfile names another (Snakemake would merge the two)
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/problems.smk"
include: "workflow/rules/sampling.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/training_sets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
