"""The method registry: every method of the paper's Table 2, declared once.

A method is what one row of Table 2 is: a name (the config block ``methods.<name>`` and the start
of its run names), the name the tables print, the JSON schema of its own config keys (with their
defaults), and, for the methods that train, the training set it learns from (a builder over the
graded pre-samples and the reference statistics) and the trainer that learns it
(:data:`o1pruner.training.train.TRAINERS`). Everything else is derived from here: the config
schema's method names, the workflow's run names and its one ``build_dataset`` rule, the table
labels and row order, the plan check, gpu-check and the training diagnostics.

Adding a method (e.g. another length reward on the LH trainer) is one :func:`register` call in a
module the config names under ``plugins:``, which the Snakefile and every job import
(``$O1PRUNER_PLUGINS``)::

    register(Method(name="my_reward", display="My reward", trainer="lh", build=my_builder,
                    params={"lambda": {"type": "number", "default": 2}, ...},
                    data_keys=("samples_per_problem", "clip"), seeded=True, run_param="lambda"))

A new length reward on both trainers is a reward (:func:`o1pruner.methods.rewards.register_reward`)
and one call here, :func:`register_reward_methods`, which registers ``<reward>`` (off-policy) and
``<reward>_onpolicy`` (GRPO) with config blocks made from the reward's parameters.

Run names: a method without ``run_param`` has one run per model, its name (``sft``); a method
with one names each run by that parameter's value, ``<name>_<param>_<value>`` (``lh_lambda_2``),
optionally on a difficulty subset, ``lh_lambda_2_easy`` (Figure 4).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from o1pruner.hooks import import_object
from o1pruner.methods import rewards

if TYPE_CHECKING:
    import pandas as pd

# The paper's own method: Table 3 (its λ grid) and Figure 4 (its difficulty subsets) are about it.
PAPER_METHOD = "lh"
# modules that register more methods, comma-separated (the Snakefile sets it from `plugins:`)
PLUGINS_ENV = "O1PRUNER_PLUGINS"
# the runs a config defines as a reward x a trainer, as JSON (the Snakefile sets it from `methods:`)
METHODS_ENV = "O1PRUNER_METHODS"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"
SPLIT = r"[A-Za-z][A-Za-z0-9]*"

# (graded pre-samples, reference stats, methods.<name> block, seed, run parameter's value) -> table
Builder = Callable[["pd.DataFrame", "pd.DataFrame", dict, int, "float | None"], "pd.DataFrame"]


@dataclass(frozen=True)
class Method:
    """One method: a row of Table 2."""

    name: str                    # methods.<name>; its runs' names start with it
    display: str                 # its label in the tables and figures
    trainer: str | None = None   # key of o1pruner.training.train.TRAINERS; None: evaluated untrained
    build: Builder | str | None = None  # its training set from the graded pre-samples ("module:function")
    params: dict | None = None   # JSON schema of methods.<name>'s own keys (None: in the config schema)
    data_keys: tuple[str, ...] = ()  # the keys of methods.<name> its builder reads
    seeded: bool = False         # its builder draws at random (the config's seed is passed)
    run_param: str | None = None  # a key whose value names the run (lh: lambda -> lh_lambda_2)
    prompt_speed: str | None = None  # a key naming the speed prompt it is evaluated with
    reward: str | None = None    # its reward (o1pruner.methods.rewards), for a builder that takes one
    paper: bool = False          # one of the paper's Table 2 rows: evaluated unless the config says otherwise

    def run_pattern(self) -> str:
        """The regular expression of this method's run names."""
        if self.run_param is None:
            return re.escape(self.name)
        return rf"{re.escape(self.name)}_{re.escape(self.run_param)}_{NUMBER}(?:_{SPLIT})?"


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (its name must be new and usable in paths)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", method.name):
        raise ValueError(f"method name {method.name!r}: lower-case letters, digits and _ only")
    if method.name in METHODS and METHODS[method.name] != method:
        raise ValueError(f"method {method.name!r} is registered already")
    if (method.trainer is None) != (method.build is None):
        raise ValueError(f"method {method.name!r}: a trainer needs a dataset builder and vice versa")
    METHODS[method.name] = method
    return method


def load_plugins(modules: list[str] | None = None) -> None:
    """Import the modules that register more methods: ``modules``, else ``$O1PRUNER_PLUGINS``; then
    (``modules`` None) register the runs the workflow's config defines (``$O1PRUNER_METHODS``)."""
    names = modules if modules is not None else os.environ.get(PLUGINS_ENV, "").split(",")
    for name in filter(None, (n.strip() for n in names)):
        importlib.import_module(name)
    if modules is None and os.environ.get(METHODS_ENV):
        define_methods(json.loads(os.environ[METHODS_ENV]))


def builder(m: Method) -> Builder:
    """The method's dataset builder (imported when a "module:function" string names it)."""
    if m.build is None:
        raise ValueError(f"method {m.name!r} trains nothing: it has no training set")
    build = import_object(m.build) if isinstance(m.build, str) else m.build
    return functools.partial(build, reward=m.reward) if m.reward else build


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; registered: {', '.join(METHODS)}")
    return METHODS[name]


def trained() -> list[str]:
    """The methods that train a model, in registry order."""
    return [m.name for m in METHODS.values() if m.trainer is not None]


def run_name(name: str, value: float | str | None = None, split: str | None = None) -> str:
    """The run of ``name`` (at ``value`` of its run parameter, on difficulty subset ``split``)."""
    m = method(name)
    if m.run_param is None:
        return name
    return f"{name}_{m.run_param}_{float(value):g}" + (f"_{split}" if split else "")


def parse_run(run: str) -> tuple[str, float | None, str | None]:
    """run name -> (method, value of its run parameter, difficulty split)."""
    for m in METHODS.values():
        if m.run_param is None:
            if run == m.name:
                return m.name, None, None
            continue
        hit = re.fullmatch(rf"{re.escape(m.name)}_{re.escape(m.run_param)}_(?P<v>{NUMBER})(?:_(?P<s>{SPLIT}))?", run)
        if hit:
            return m.name, float(hit.group("v")), hit.group("s")
    raise ValueError(f"unknown run id {run!r} (methods: {', '.join(METHODS)})")


def run_regex(trained_only: bool = False) -> str:
    """Every run name of every registered method (the workflow's ``run`` wildcard), or of the
    methods that train."""
    return "|".join(m.run_pattern() for m in METHODS.values() if m.trainer or not trained_only)


def display_names() -> dict[str, str]:
    """method -> the name the paper prints, in the paper's row order."""
    return {m.name: m.display for m in METHODS.values()}


# ---- the paper's methods (Section 5.1.3), in Table 2's row order ----------------------------
# Their config keys and defaults live in the config schema (src/o1pruner/schema.yaml, $defs.methods),
# the one home of every default.

register(Method("baseline", "Baseline", paper=True))
register(Method("fast_prompt", "Fast-solving prompt", prompt_speed="speed", paper=True))
register(Method("sft", "SFT", trainer="sft", build="o1pruner.methods.datasets:sft_dataset",
                data_keys=("n_shortest",), paper=True))
register(Method("dpo", "DPO", trainer="dpo", build="o1pruner.methods.datasets:dpo_dataset",
                data_keys=("n_chosen",), paper=True))
register(Method(PAPER_METHOD, "O1-Pruner", trainer="lh", build="o1pruner.methods.datasets:lh_dataset",
                data_keys=("samples_per_problem", "clip"), seeded=True, run_param="lambda", paper=True))


# ---- beyond the paper: every length reward on both trainers (docs/methods.md) ------------------
# A run is a reward (o1pruner.methods.rewards, its parameters and their defaults) x a trainer x
# training settings. Off-policy, O1-Pruner's trainer: the reward scores every pre-sample with its
# problem's pre-samples as the group, and the LH trainer takes the clipped, standardised reward as
# its weight (PPO-clip on the pre-samples). On-policy, TRL's GRPO: the reward scores the policy's
# own G samples of a prompt at each step. The trainer's keys (samples per problem, clip, G, ...)
# come from the config schema ($defs.trainer_keys.<trainer>), the reward's from the reward registry.

OFF_POLICY = "o1pruner.methods.datasets:reward_dataset"
ON_POLICY = "o1pruner.methods.onpolicy:prompt_set"
# the keys of methods.<name> each trainer's builder reads, beside the reward's own
TRAINER_DATA_KEYS = {"lh": ("samples_per_problem", "clip"), "grpo": ("clip",)}
ON_POLICY_SUFFIX = "_onpolicy"


def reward_method_params(reward: str) -> dict:
    """The JSON schema of a reward method's own keys: the reward's parameters (their defaults:
    the reward registry's) and ``<run_param>_grid``, the values a sweep trains (``lambda_grid``)."""
    r = rewards.reward(reward)
    item = {k: v for k, v in r.params[r.run_param].items() if k not in ("default", "description")}
    grid = {"type": "array", "items": item, "default": [],
            "description": f"a sweep: one run per value of {r.run_param}"}
    return {**r.params, f"{r.run_param}_grid": grid}


# a trainer of reward methods -> how its runs are labelled
TRAINER_LABELS = {"lh": "off-policy", "grpo": "on-policy (GRPO)"}


def reward_method(name: str, reward: str, trainer: str, display: str | None = None,
                  params: dict | None = None) -> Method:
    """The method that trains ``reward`` on ``trainer`` (``lh``: O1-Pruner's off-policy trainer;
    ``grpo``: on-policy), named ``name``; its config keys: the reward's and its grid (and ``params``)."""
    if trainer not in TRAINER_LABELS:
        raise ValueError(f"method {name!r}: trainer must be one of {', '.join(TRAINER_LABELS)}, got {trainer!r}")
    r = rewards.reward(reward)
    # what its builder reads: the reward's other parameters (the run's value gives the run parameter)
    reads = tuple(k for k in r.params if k != r.run_param) + TRAINER_DATA_KEYS[trainer]
    return Method(name, display or f"{r.display} {TRAINER_LABELS[trainer]}", trainer=trainer,
                  build=OFF_POLICY if trainer == "lh" else ON_POLICY, reward=reward,
                  params={**reward_method_params(reward), **(params or {})}, data_keys=reads,
                  seeded=trainer == "lh", run_param=r.run_param)


def register_reward_methods(reward: str, off_policy: bool = True, on_policy: bool = True) -> list[Method]:
    """Register ``reward`` on the off-policy trainer (method ``<reward>``) and on the on-policy one
    (``<reward>_onpolicy``): the registry's way to add a reward to every table, figure and sweep."""
    display = rewards.reward(reward).display
    out = []
    if off_policy:
        out.append(register(reward_method(reward, reward, "lh", display)))
    if on_policy:
        out.append(register(reward_method(reward + ON_POLICY_SUFFIX, reward, "grpo", f"{display} on-policy (GRPO)")))
    return out


DEFINITION_KEYS = ("reward", "trainer", "display")


def definitions(blocks: dict | None) -> dict[str, dict]:
    """The runs a config defines: each ``methods.<name>`` block with a ``reward`` key, as
    ``{name: {"reward", "trainer"[, "display"]}}`` (the keys :func:`define_methods` reads)."""
    return {name: {k: block[k] for k in DEFINITION_KEYS if k in block}
            for name, block in (blocks or {}).items() if isinstance(block, dict) and "reward" in block}


def define_methods(blocks: dict | None) -> list[Method]:
    """Register the runs a config defines as data: a ``methods.<name>`` block with ``reward`` (a
    reward of :data:`o1pruner.methods.rewards.REWARDS`) and ``trainer`` (``lh``: off-policy, ``grpo``:
    on-policy), and optionally ``display``, becomes method ``<name>``, with the reward's parameters,
    its grid and the trainer's keys in its block, like the registered reward methods::

        methods:
          kimi_g8: {reward: kimi, trainer: grpo, weight: 0.5, num_generations: 8}

    A ValueError names the block's key that is wrong."""
    out = []
    for name, spec in definitions(blocks).items():
        if name in METHODS and "trainer" not in (METHODS[name].params or {}):
            raise ValueError(f"methods.{name}: {name!r} is a registered method; a run defined in the config "
                             "(reward, trainer) needs a new name")
        if not isinstance(spec.get("reward"), str) or spec["reward"] not in rewards.REWARDS:
            raise ValueError(f"methods.{name}.reward: {spec.get('reward')!r} is no registered reward "
                             f"({', '.join(rewards.REWARDS)})")
        if spec.get("trainer") not in TRAINER_LABELS:
            raise ValueError(f"methods.{name}.trainer: must be one of {', '.join(TRAINER_LABELS)} (off-policy, "
                             f"on-policy), got {spec.get('trainer')!r}")
        display = spec.get("display") or name
        keys = {"reward": {"const": spec["reward"]}, "trainer": {"const": spec["trainer"]},
                "display": {"type": "string", "default": display, "description": "its label in the tables"}}
        out.append(register(reward_method(name, spec["reward"], spec["trainer"], display, params=keys)))
    return out


# the paper's reward on-policy (its off-policy method is the paper's `lh` above), then the peers'
register_reward_methods(PAPER_METHOD, off_policy=False)
for _name in ("kimi", "arora", "budget", "shorter_better"):
    register_reward_methods(_name)
