"""Run by tests/training/test_grpo.py under ``torchrun --nproc_per_node 2`` (gloo, CPU).

    torchrun --standalone --nproc_per_node 2 tests/torchrun_grpo.py SPEC.json

SPEC: {"model", "data", "output", "training", "method_config", "probe"}. Trains ``lh_onpolicy``
with the group reward ``span_probe`` (registered here; the table's ``group_reward`` column names
it): 1000 x the size of the group it was handed + the sample's length minus the group's shortest,
so a process that saw only its own part of a group would score it differently. Every call of the reward function is
appended to ``<probe>.<rank>.jsonl``: this process's slice (problem ids, lengths), the gathered
records and the rewards it returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from o1pruner.methods import rewards
from o1pruner.training import distributed, grpo
from o1pruner.training import train as T


def span_probe(group, *, scale):
    """Right only if the whole group is seen: its size and its shortest length."""
    num_tokens = group.num_tokens
    return scale * (1000.0 * len(num_tokens) + np.asarray(num_tokens, dtype=float) - float(np.min(num_tokens)))


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    rewards.register_reward(rewards.Reward(
        "span_probe", span_probe, params={"scale": {"type": "number", "default": 1}}, source="a test",
        formula="1000·G + L − L_min", display="Span probe", run_param="scale"))
    call = grpo.GroupRewardFunction.__call__

    def recorded(self, prompts, completions, completion_ids, problem_id, **kwargs):
        out = call(self, prompts, completions, completion_ids, problem_id, **kwargs)
        rank = distributed.world()[1]
        entry = {"rank": rank, "local_problem_ids": [str(p) for p in problem_id],
                 "local_lengths": grpo.completion_lengths(completion_ids, self.eos_token_ids).tolist(),
                 "records": self.last["records"], "start": self.last["start"], "returned": out}
        with open(f"{spec['probe']}.{rank}.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        return out

    grpo.GroupRewardFunction.__call__ = recorded
    T.train("lh_onpolicy", spec["model"], spec["data"], spec["output"], spec["training"], spec["method_config"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
