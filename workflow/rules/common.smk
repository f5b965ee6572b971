# Helpers shared by the rules: config validation, paths, resources.
import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # use the package without installing it
from o1pruner.config import load_yaml as _check_config_file  # noqa: E402
from o1pruner.config import validate as _validate_config  # noqa: E402
from o1pruner.methods import registry  # noqa: E402
from o1pruner.reporting.results_page import page_inputs  # noqa: E402
from o1pruner.reporting.trainers import trainer_pairs  # noqa: E402

# Each file alone: a key written twice (Snakemake's YAML loader keeps the last one silently).
for _f in workflow.configfiles:
    _check_config_file(_f)

# The merged config (all --configfile layers and --config), once, before any job starts:
# unknown keys, wrong types, dangling names -> error with the key path.
_validated = _validate_config(config)  # imports the modules under `plugins:` (they register methods)
config.clear()
config.update(_validated)
# every job imports the same plugins, so its `o1pruner` command knows the methods this run has
os.environ[registry.PLUGINS_ENV] = ",".join(config["plugins"])
# ... and the runs the config defines as a reward x a trainer (methods.<name>: {reward, trainer})
os.environ[registry.METHODS_ENV] = json.dumps(registry.definitions(config["methods"]))

# Pre-flight (o1pruner check-plan): a GPU job that cannot start (TP vs heads, memory, max_tokens vs
# max_model_len) stops the run here, not hours later in the queue; warnings are printed.
# Only where the run is submitted (exec mode default): every job parses this file again (on a
# cluster node: --mode remote; a local script job: --mode subprocess), and a job must never refuse
# a plan that was accepted at submission, e.g. once a sample job has put the model's config.json
# into the hub cache the submit host could not see before.
from o1pruner.cluster.plan import check_or_raise as _check_plan  # noqa: E402

if workflow.is_main_process:
    _check_plan(config)

RESULTS = config["results"]
BOOT = config["bootstrap"]
REPORT = config["report"]
MODELS = list(config["models"])
os.environ.setdefault("O1PRUNER_ROOT", workflow.basedir)  # envs/*.post-deploy.sh install the package from here
# Rules call the `o1pruner` console script: the one beside the interpreter running Snakemake comes
# first, so `.venv/bin/snakemake` works without activating the venv (a conda env of --sdm conda is
# put before it by Snakemake, and wins).
from o1pruner.cli import put_scripts_first_on_path  # noqa: E402

put_scripts_first_on_path()
workflow.localrules(*config["slurm"]["local_rules"])  # light rules on the submit node (SLURM)


wildcard_constraints:
    model="|".join(MODELS),
    shard=r"\d+",
    nshards=r"\d+",
    dataset=r"[A-Za-z0-9_.-]+",
    sampleset="presample|length_disharmony",


def model_cfg(wildcards):
    return config["models"][wildcards.model]


def model_input(wildcards):
    """Files a job needs for the model: the built/converted folder, or nothing for hub ids."""
    m = model_cfg(wildcards)
    return [f"{RESULTS}/{wildcards.model}/model"] if m["source"] in ("toy", "gguf") else []


def model_path(wildcards):
    m = model_cfg(wildcards)
    return f"{RESULTS}/{wildcards.model}/model" if m["source"] in ("toy", "gguf") else m["path"]


def res(wildcards, stage, key):
    """A job resource, models.<m>.resources.<stage>.<key> (defaults in the schema; SLURM uses these)."""
    return model_cfg(wildcards)["resources"][stage][key]


def _partition_file():
    """The SLURM plugin's partition file, where the plugin reads it (--slurm-partition-config, set
    in profiles/slurm/config.yaml, or $SNAKEMAKE_SLURM_PARTITIONS); None for other executors.
    Snakemake sets executor_settings when the run starts, before any job's resources are computed;
    a dry run has none (only $SNAKEMAKE_SLURM_PARTITIONS then)."""
    given = getattr(workflow.executor_settings, "partition_config", None)
    return given or os.environ.get("SNAKEMAKE_SLURM_PARTITIONS")


def retry_res(stage, key):
    """mem_mb or runtime of a GPU rule: models.<m>.resources.<stage>.<key> times the attempt, capped
    at the partition limits the user set (o1pruner.cluster.retries)."""
    from o1pruner.cluster.retries import partition_limits, retried

    def value(wildcards, attempt):
        limit = partition_limits(_partition_file(), res(wildcards, stage, "gpu")).get(key)
        return retried(res(wildcards, stage, key), attempt, limit)

    return value


def res_gpu_model(stage):
    """gpu_model only for jobs that ask for GPUs: the SLURM plugin sends --gpus=<model>:<n> whenever it is set."""
    return lambda wc: model_cfg(wc)["resources"][stage].get("gpu_model") if res(wc, stage, "gpu") else None


def sampleset_cfg(sampleset):
    """Dataset, samples per problem, problem limit and shards of a sampling set."""
    s = config["sampling"]
    if sampleset == "presample":
        return dict(dataset=config["train_dataset"], k=s["k"], limit=0, shards=s["shards"])
    ld = config["length_disharmony"]
    return dict(dataset=ld["dataset"], k=ld["samples"], limit=ld["problems"], shards=ld["shards"])


def shard_files(wildcards):
    n = sampleset_cfg(wildcards.sampleset)["shards"]
    return [f"{RESULTS}/{wildcards.model}/{wildcards.sampleset}/graded-{i}-of-{n}.parquet" for i in range(n)]


def all_targets():
    """Everything the paper reports: Table 1/Figure 1 per model, Tables 2-3, Figures 2-4."""
    targets = [f"{RESULTS}/{m}/reference_stats.parquet" for m in MODELS]
    if config.get("length_disharmony"):
        targets += [f"{RESULTS}/tables/table1_{m}.csv" for m in MODELS]
        targets += [f"{RESULTS}/figures/figure1_{m}.png" for m in MODELS]
    targets += [f"{RESULTS}/tables/table2.csv", f"{RESULTS}/figures/figure3.png", f"{RESULTS}/figures/figure2.png"]
    if lambda_grid():
        targets.append(f"{RESULTS}/tables/table3.csv")
    if config.get("difficulty_splits"):
        targets.append(f"{RESULTS}/figures/figure4.png")
    if toy_models():
        targets.append(f"{RESULTS}/tables/pruning_anatomy.csv")
        targets += [f"{RESULTS}/tables/toy_reflection_{m}.md" for m in toy_models()]
    return targets + report_targets()


# ---- methods and runs (o1pruner.methods.registry) ----------------------------------------
# A "run" is one evaluated model: an untrained method's (baseline, fast_prompt: the reference model)
# or a trained one (sft, dpo, lh_lambda_<λ>, lh_lambda_<λ>_<split> for Figure 4).
PAPER = registry.PAPER_METHOD  # Table 3 is its parameter grid, Figure 4 its difficulty subsets


wildcard_constraints:
    lam=r"[0-9]+(\.[0-9]+)?",
    split=r"[A-Za-z][A-Za-z0-9]*",
    run=registry.run_regex(),


def run_of(model, name, value=None, split=None):
    """The run of method ``name`` for ``model``: at ``value`` of its run parameter, else at the
    model's own value (models.<m>.<name>_<param>, e.g. lh_lambda) or the method's."""
    param = registry.method(name).run_param
    if param is not None and value is None:
        value = config["models"][model].get(f"{name}_{param}", config["methods"][name][param])
    return registry.run_name(name, value, split)


def run_method(wc):
    """The method a run belongs to."""
    return registry.parse_run(wc.run)[0]


def lambda_grid():
    """Table 3's grid: the values of the paper method's run parameter (λ)."""
    param = registry.method(PAPER).run_param
    return [f"{float(v):g}" for v in config["methods"][PAPER][f"{param}_grid"]]


def lh_run(model, lam=None, split=None):
    return run_of(model, PAPER, lam, split)


def is_trained(run):
    return registry.method(registry.parse_run(run)[0]).trainer is not None


def run_model(wildcards):
    """The model folder a run evaluates: the reference model, or a trained checkpoint."""
    if not is_trained(wildcards.run):
        return model_path(wildcards)
    return f"{RESULTS}/{wildcards.model}/runs/{wildcards.run}/model"


def run_model_input(wildcards):
    if not is_trained(wildcards.run):
        return model_input(wildcards)
    return [f"{RESULTS}/{wildcards.model}/runs/{wildcards.run}/model"]


def eval_metrics(model, run, datasets=None):
    return [f"{RESULTS}/{model}/eval/{run}/{d}.json" for d in (datasets or config["eval_datasets"])]


def table2_runs(model):
    return [run_of(model, m) for m in config["evaluation"]["methods"]]


# ---- rule parameters -------------------------------------------------------------------
# Each rule's params hold only what changes its result, so that editing one setting reruns only
# the jobs that depend on it (Snakemake reruns a job whose params changed).


def engine_args(wc, stage):
    """Engine and prompt flags shared by `o1pruner sample` (stage "sample") and `o1pruner
    evaluate` (stage "evaluate"): one place, so the two stages cannot drift apart."""
    m = model_cfg(wc)
    backend = config["sampling" if stage == "sample" else "evaluation"]["backend"]
    args = f"--backend {backend} --prompt-family {m['prompt_family']} --dtype {m['dtype']}"
    if m.get("max_model_len"):
        args += f" --max-model-len {m['max_model_len']}"
    return args


def grading_args():
    """Grader flags shared by `o1pruner grade` (pre-samples) and `o1pruner evaluate`: one grader
    for Ā_ref(x) of the LH reward and for every accuracy in the tables."""
    g = config["grading"]
    return (
        f"--timeout {g['timeout']} --answer-fallback {g['answer_fallback']} --box {g['box']} "
        f"--scope {g['scope']} --grader {g['grader']} --rel-tol {g['rel_tol']} --workers {g['workers']}"
    )


def toy_anatomy_args(wildcards):
    """A toy model's grading adds the toy's anatomy to its rows (n_checks / n_corrections /
    n_errors): hooked in here, so the generic grading and evaluation never import the toy."""
    return "--annotate o1pruner.toy.anatomy:add_anatomy" if model_cfg(wildcards)["source"] == "toy" else ""


def toy_models():
    return [m for m in MODELS if config["models"][m]["source"] == "toy"]


def toy_level_groups():
    """`--group name=levels` per toy evaluation set (its levels: easy 2,3 ... hard 6,7,8), so the
    reflection statistics of the pre-samples come per difficulty the tables report."""
    sets = [d for d in config["eval_datasets"] if config["datasets"][d]["source"] == "toy"]
    return " ".join(f"--group {d}={','.join(map(str, config['datasets'][d]['levels']))}" for d in sets)


def sampled_eval_args(outputs):
    """Sampled evaluation flags (none when evaluation.samples is 0)."""
    e = config["evaluation"]
    if not e["samples"]:
        return ""
    args = f"--sampled-n {e['samples']} --sampled-seed {config['seed']}"
    for key, value in e["sampling"].items():
        args += f" --sampled-{key.replace('_', '-')} {value}"
    outs = " ".join(outputs)
    return f"{args} --sampled-output {outs}"


def prompt_speed(run):
    """The speed prompt of a run: its method's (the Fast-solving prompt baseline's), or none."""
    name = registry.parse_run(run)[0]
    key = registry.method(name).prompt_speed
    return config["methods"][name][key] if key else "normal"


def sampling_args(wc):
    s, m = config["sampling"], model_cfg(wc)
    ss = sampleset_cfg(wc.sampleset)
    k = m.get("k", ss["k"]) if wc.sampleset == "presample" else ss["k"]
    args = (
        f"{engine_args(wc, 'sample')} --k {k} --temperature {s['temperature']} "
        f"--top-p {s['top_p']} --max-tokens {s['max_tokens']} --seed {s['seed']} "
        f"--batch-size {s['batch_size']}"
    )
    if s["top_k"] != -1:  # off by default: the default run's command (and its params) unchanged
        args += f" --top-k {s['top_k']}"
    if ss["limit"]:
        args += f" --limit {ss['limit']}"
    return args


def dataset_args(wc):
    """`o1pruner build-dataset` flags of a run: its method, the method keys its builder reads, the
    run parameter's value and the difficulty band (only what the training set depends on)."""
    name, value, split = registry.parse_run(wc.run)
    m = registry.method(name)
    keys = {k: config["methods"][name][k] for k in m.data_keys}
    args = f"--method {name} --method-json {shlex.quote(json.dumps(keys, sort_keys=True))}"
    if m.seeded:
        args += f" --seed {config['seed']}"
    if value is not None:
        args += f" --value {value:g}"
    if split:
        p_lo, p_hi = config["difficulty_splits"][split]
        args += f" --difficulty-percentiles {p_lo} {p_hi}"
    return args


def model_command(wc):
    m = model_cfg(wc)
    if m["source"] == "gguf":
        return f"convert-gguf --gguf {m['path']}"
    return f"build-toy --overrides {shlex.quote(json.dumps(m.get('toy', {})))}"


def _table2_metrics(wc=None):
    return [p for m in MODELS for run in table2_runs(m) for p in eval_metrics(m, run)]


def _table3_metrics(wc=None):
    return [
        p for m in MODELS for run in ["baseline"] + [lh_run(m, l) for l in lambda_grid()] for p in eval_metrics(m, run)
    ]


def sweep_runs(model):
    """The sweeps of the evaluated methods beside Table 3's: each value of a method's
    ``<run_param>_grid`` (e.g. methods.shorter_better.beta_grid) is a run."""
    runs = []
    for name in config["evaluation"]["methods"]:
        param = registry.method(name).run_param
        if param and name != PAPER:
            runs += [run_of(model, name, v) for v in config["methods"][name].get(f"{param}_grid", [])]
    return runs


def pareto_runs(model):
    """Every run the DAG evaluates on every evaluation set (Figure 5): the Baseline (AES is
    relative to it), Table 2's runs, each λ of Table 3's grid and each point of the other methods'
    sweeps, once each (Table 2's O1-Pruner is one of the grid's runs when its λ is in the grid)."""
    runs = ["baseline"] + table2_runs(model) + [lh_run(model, l) for l in lambda_grid()] + sweep_runs(model)
    return list(dict.fromkeys(runs))


def trainer_pair_runs(model):
    """(off-policy run, on-policy run) of each reward evaluated on both trainers (lh_lambda_2,
    lh_onpolicy_lambda_2): the on-policy against off-policy table."""
    return [(run_of(model, off), run_of(model, on)) for off, on in trainer_pairs(config["evaluation"]["methods"])]


def _pareto_metrics(wc=None):
    return [p for m in MODELS for run in pareto_runs(m) for p in eval_metrics(m, run)]


def _figure4_metrics(wc=None):
    first = config["eval_datasets"][:1]
    splits = config.get("difficulty_splits", {})
    return [
        p
        for m in MODELS
        for run in ["baseline"] + [lh_run(m, split=s) for s in splits]
        for p in eval_metrics(m, run, first)
    ]


def run_training(wc):
    """The run's effective training settings (precedence: o1pruner.training.settings)."""
    from o1pruner.training.settings import effective_training_config

    return effective_training_config(config, wc.model, run_method(wc))


def run_method_config(wc):
    """The keys of methods.<method> the run's trainer reads (DPO beta, LH epsilon; GRPO also the
    grading block); the rest of the block builds its data set, which is the run's input."""
    from o1pruner.training.train import run_method_config as trainer_reads

    return trainer_reads(config, run_method(wc))


def train_launcher(wc, resources):
    """torchrun for several GPUs or DeepSpeed, else the plain command (o1pruner.training.train.launcher)."""
    from o1pruner.training.train import launcher

    return launcher(int(resources.gpu), run_training(wc)["deepspeed"])


# ---- report.smk: intervals, difficulty, diagnostics ---------------------------------------


def _samples_of(metrics_jsons):
    """The per-problem graded rows the evaluate job writes next to each metrics JSON."""
    return [p[: -len(".json")] + ".parquet" for p in metrics_jsons]


def _aes_metrics_jsons(wc):
    """Metrics JSONs behind <results>/{where}aes_input.csv (the same list as its collect-metrics rule)."""
    if wc.where.endswith("table2_"):
        return _table2_metrics()
    if wc.where.endswith("table3_"):
        return _table3_metrics()
    if wc.where.endswith("pareto_"):
        return _pareto_metrics()
    lam = re.search(r"lambda_([0-9.]+)/$", wc.where).group(1)
    return [p for m in MODELS for run in ("baseline", lh_run(m, lam)) for p in eval_metrics(m, run)]


def trained_runs(model):
    """Every run of the DAG that trains a model (Table 2, the λ grid, the difficulty splits, sweeps)."""
    runs = list(table2_runs(model))
    runs += [lh_run(model, l) for l in lambda_grid()]
    runs += [lh_run(model, split=s) for s in config.get("difficulty_splits", {})]
    runs += sweep_runs(model)
    return [r for r in dict.fromkeys(runs) if is_trained(r)]


def report_targets():
    """The evidence beside the paper's outputs: length by difficulty, the Pareto front (Figure 5),
    training diagnostics, ours-vs-paper, and the results page."""
    targets = [f"{RESULTS}/tables/length_by_difficulty.csv", f"{RESULTS}/figures/length_by_difficulty.png"]
    targets += [f"{RESULTS}/tables/pareto.csv", f"{RESULTS}/figures/figure5.png"]
    if any(trainer_pair_runs(m) for m in MODELS):
        targets.append(f"{RESULTS}/tables/trainers.csv")
    targets += [f"{RESULTS}/figures/training_{m}_{r}.png" for m in MODELS for r in trained_runs(m)]
    if REPORT["compare_to_paper"]:
        targets.append(f"{RESULTS}/tables/table2_vs_paper.md")
    return targets + [f"{RESULTS}/results.md"]


def config_names():
    """The run's config files, relative to the workflow where inside it: the page names
    `config/config.yaml`, not one machine's absolute path to it."""
    base = Path(workflow.basedir).resolve()
    names = []
    for c in map(Path, workflow.configfiles):
        full = c.resolve()
        names.append(str(full.relative_to(base)) if full.is_relative_to(base) else str(c))
    return " ".join(map(shlex.quote, names))


def bootstrap_args():
    """The paired bootstrap's flags (intervals of every Acc/Length/AES cell and figure bar)."""
    return "--bootstrap-samples {samples} --bootstrap-seed {seed} --confidence {confidence}".format(**BOOT)
