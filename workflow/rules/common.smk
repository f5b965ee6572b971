# Helpers shared by the rules: config validation, paths, resources.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # use the package without installing it
from o1pruner.config import validate as _validate_config  # noqa: E402

# Validate before any job starts: unknown keys, wrong types, dangling names -> error with key path.
_validated = _validate_config(config)
config.clear()
config.update(_validated)

RESULTS = config["results"]
MODELS = list(config["models"])
O1 = f"{sys.executable} -m o1pruner.cli"  # the console script, from the interpreter running snakemake

wildcard_constraints:
    model="|".join(MODELS),
    shard=r"\d+",
    nshards=r"\d+",
    dataset=r"[A-Za-z0-9_.-]+",
    sampleset="presample|intervals",


def model_cfg(wildcards):
    return config["models"][wildcards.model]


def model_input(wildcards):
    """Files a job needs for the model: the built/converted folder, or nothing for hub ids."""
    m = model_cfg(wildcards)
    return [f"{RESULTS}/{wildcards.model}/model"] if m["source"] in ("toy", "gguf") else []


def model_path(wildcards):
    m = model_cfg(wildcards)
    return f"{RESULTS}/{wildcards.model}/model" if m["source"] in ("toy", "gguf") else m["path"]


def sampleset_cfg(sampleset):
    """Dataset, samples per problem, problem limit and shards of a sampling set."""
    s = config["sampling"]
    if sampleset == "presample":
        return dict(dataset=config["train_dataset"], k=s["k"], limit=0, shards=s["shards"])
    ld = config["length_disharmony"]
    return dict(dataset=ld["dataset"], k=ld["samples"], limit=ld["problems"], shards=ld["shards"])


def shard_files(wildcards, kind="graded"):
    n = sampleset_cfg(wildcards.sampleset)["shards"]
    return [f"{RESULTS}/{wildcards.model}/{wildcards.sampleset}/{kind}-{i}-of-{n}.parquet"
            for i in range(n)]


def res(wildcards, stage, key, default):
    """A job resource from models.<m>.resources.<stage>.<key> (SLURM uses these)."""
    return config["models"][wildcards.model].get("resources", {}).get(stage, {}).get(key, default)


def all_targets():
    targets = []
    for m in MODELS:
        targets.append(f"{RESULTS}/{m}/reference_stats.parquet")
        if config.get("length_disharmony"):
            targets += [f"{RESULTS}/tables/table1_{m}.csv",
                        f"{RESULTS}/figures/figure1_{m}.png"]
    return targets
