"""The ``o1pruner`` console script: one subcommand per pipeline stage.

    o1pruner grade --input samples.jsonl --output graded.parquet
    o1pruner build-dataset --method lh --samples graded.parquet --stats reference_stats.parquet \
        --value 2 --output lh_lambda_2.parquet
    o1pruner aes --input metrics.csv --output aes.csv

Each subcommand lives in the module that implements the stage, as a function
``<name>(argv: list[str]) -> int`` that parses its own arguments; this file only
dispatches, so importing it stays cheap (no torch) until a stage runs.
"""

from __future__ import annotations

import importlib
import sys

from o1pruner.methods import registry

# subcommand -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate-config": ("o1pruner.commands", "cli_validate", "validate a config file against the schema"),
    "check-plan": ("o1pruner.cluster.commands", "cli_check_plan", "pre-flight: tensor parallelism, GPU memory, lengths of every GPU job"),
    "gpu-check": ("o1pruner.cluster.commands", "cli_gpu_check", "GPU acceptance: every GPU path on SmolLM2-135M"),
    "build-toy": ("o1pruner.toy.commands", "cli_build", "train the toy long-thought reference model"),
    "toy-check": ("o1pruner.toy.commands", "cli_toy_check",
                  "build the toy for several seeds and check each converged (table per seed)"),
    "convert-gguf": ("o1pruner.commands", "cli_convert_gguf", "convert a GGUF file to an HF folder"),
    "prepare-data": ("o1pruner.commands", "cli_prepare", "load a configured dataset into problems.parquet"),
    "sample": ("o1pruner.generation.commands", "cli_sample", "pre-sample K solutions per problem (one shard)"),
    "grade": ("o1pruner.grading.commands", "cli_grade", "grade responses against gold answers"),
    "reference-stats": ("o1pruner.commands", "cli_reference_stats", "per-problem reference statistics"),
    "length-disharmony": ("o1pruner.reporting.commands", "cli_length_disharmony", "Table 1 / Figure 1: accuracy by length interval"),
    "build-dataset": ("o1pruner.methods.commands", "cli_build_dataset",
                      "a method's training set from the graded pre-samples (SFT, DPO, LH, ...)"),
    "rewards": ("o1pruner.methods.commands", "cli_rewards",
                "a length reward (lh, kimi, arora, budget, ...) of every graded sample, its problem's samples the group"),
    "training-config": ("o1pruner.training.commands", "cli_training_config",
                        "effective training settings of one run (model, method) as JSON"),
    "train": ("o1pruner.training.commands", "cli_train", "train one run of a method that trains (sft, dpo, lh, ...)"),
    "evaluate": ("o1pruner.evaluation.commands", "cli_evaluate", "greedy evaluation of a model on a dataset"),
    "aes": ("o1pruner.evaluation.commands", "cli_aes", "Accuracy-Efficiency Score from a metrics table"),
    "collect-metrics": ("o1pruner.evaluation.commands", "cli_collect_metrics", "evaluation JSONs -> one metrics CSV"),
    "tables": ("o1pruner.reporting.commands", "cli_tables", "Table 2 / Table 3 from an AES table"),
    "table2-vs-paper": ("o1pruner.reporting.commands", "cli_table2_vs_paper", "our Table 2 beside the printed one"),
    "pruning-anatomy": ("o1pruner.toy.commands", "cli_pruning_anatomy",
                        "toy: re-checks, corrections and errors per method against the baseline"),
    "toy-reflection": ("o1pruner.toy.commands", "cli_toy_reflection",
                       "toy: accuracy with more vs fewer re-checks, corrections, per level group"),
    "length-by-difficulty": ("o1pruner.reporting.commands", "cli_length_by_difficulty",
                             "length and accuracy per difficulty level, per method"),
    "eval-set-size": ("o1pruner.evaluation.commands", "cli_eval_set_size",
                      "problems per eval set for a ±h-point paired interval of a method's accuracy gain"),
    "training-figure": ("o1pruner.reporting.commands", "cli_training_figure",
                        "training diagnostics figure and warnings of one run"),
    "record-machine": ("o1pruner.reporting.commands", "cli_record_machine",
                       "record this machine (CPU, GPUs, versions, commit) for the results page"),
    "results-page": ("o1pruner.reporting.commands", "cli_results_page",
                     "a finished run's tables, run time and machine as one Markdown page"),
    "figure2": ("o1pruner.reporting.commands", "cli_figure2", "Figure 2: draw the workflow's rule graph"),
    "figure3": ("o1pruner.reporting.commands", "cli_figure3", "Figure 3: inference time per method"),
    "figure4": ("o1pruner.reporting.commands", "cli_figure4", "Figure 4: LH on difficulty subsets"),
    "compare-trainers": ("o1pruner.reporting.commands", "cli_compare_trainers",
                         "a reward on-policy against off-policy: paired differences of accuracy and length"),
    "pareto": ("o1pruner.reporting.commands", "cli_pareto",
               "Figure 5 and its table: accuracy against mean length of every run, the Pareto front"),
}


def put_scripts_first_on_path() -> None:
    """Put the folder of this interpreter's scripts (``o1pruner``) first on ``PATH``, for the
    processes this one starts: the Snakefile calls it, so the rules find the CLI of the interpreter
    running Snakemake whether or not its venv is activated."""
    import os
    from pathlib import Path

    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: o1pruner <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"o1pruner: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    registry.load_plugins()  # the methods a workflow's `plugins:` registered ($O1PRUNER_PLUGINS)
    module, func, _ = COMMANDS[name]
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
