"""Step time of our GRPO trainer against TRL's, on the same model and batch (issue 24).

    .venv/bin/python benchmarks/bench_grpo_step.py                       # ~2 min on the 2-core box
    .venv/bin/python benchmarks/bench_grpo_step.py --steps 8 --repeats 5 --completion-tokens 128

Both variants run in this one process, back to back (ours, TRL, ours, TRL, ...), ``--repeats``
times each, on the same toy model (built into a temporary folder), the same prompts, batch and seed:

* ``ours``: ``o1pruner.training.grpo.GRPOTrainer``: every completion graded by our ``Grader``, its
  length against the problem's reference statistics, the group gathered and scored by the LH reward
  of the reward registry (``o1pruner.methods.rewards``), clipped;
* ``trl``: ``trl.GRPOTrainer`` with a trivial reward (0 for every completion).

Every completion is exactly ``--completion-tokens`` long (``min_new_tokens`` = the maximum), so both
generate and train on the same number of tokens whatever they sample. A step = one optimizer step
(generation of ``--batch`` completions, rewards, loss, backward, AdamW), timed by a callback from
its start to its end; the first step of every run is left out (warm-up). ``reward_s`` is the time
inside our reward function per step. Target: ours <= 1.1x TRL's median step.

Writes benchmarks/out/bench_grpo_step.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def build_inputs(folder: Path, problems: int, seed: int):
    """The toy model and a prompt set of ``problems`` toy problems (reference statistics made up)."""
    import pandas as pd
    import transformers

    from o1pruner.methods.onpolicy import build_prompt_set
    from o1pruner.prompts import render
    from o1pruner.toy.model import ToyConfig, toy_problems, train_toy

    model = folder / "toy"
    train_toy(ToyConfig(steps=30, batch_size=16, train_problems=800, seed=seed), model, log=lambda s: None)
    tok = transformers.AutoTokenizer.from_pretrained(model)
    rows = [dict(problem_id=f"p{i}", sample_idx=j, prompt=render(tok, p["problem"]), response="",
                 num_tokens=60 + 10 * j, correct=j % 2 == 0, gold=p["answer"])
            for i, p in enumerate(toy_problems(problems, [2, 3], seed=seed)) for j in range(4)]
    table = build_prompt_set(pd.DataFrame(rows), None, "lh", {"lambda": 2.0}, (-2.0, 4.0))
    return model, table


class StepTimer:
    """Wall and CPU seconds (this process, all its threads) of each optimizer step (on_step_begin ->
    on_step_end). CPU time is what the step itself costs; on a shared box wall time also holds the
    waits for cores other jobs hold."""

    def __init__(self):
        import transformers

        timer = self
        self.steps: list[float] = []
        self.cpu: list[float] = []

        class Callback(transformers.TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer._t, timer._c = time.perf_counter(), time.process_time()

            def on_step_end(self, args, state, control, **kw):
                timer.steps.append(time.perf_counter() - timer._t)
                timer.cpu.append(time.process_time() - timer._c)

        self.callback = Callback()


def zero_reward(completions, **kwargs):
    return [0.0] * len(completions)


def run_once(variant: str, model_path: Path, table, a: argparse.Namespace, out: Path) -> dict:
    import datasets
    import torch
    import transformers
    import trl

    from o1pruner.training import grpo

    common = dict(output_dir=str(out), per_device_train_batch_size=a.batch, gradient_accumulation_steps=1,
                  num_generations=a.generations, max_completion_length=a.completion_tokens,
                  generation_kwargs={"min_new_tokens": a.completion_tokens}, temperature=0.5, top_p=0.8,
                  learning_rate=1e-5, max_steps=a.steps + 1, logging_steps=a.steps + 1, save_strategy="no",
                  report_to="none", use_cpu=True, bf16=False, gradient_checkpointing=False, seed=a.seed,
                  data_seed=a.seed, dataloader_num_workers=0, disable_tqdm=True)
    tok = transformers.AutoTokenizer.from_pretrained(model_path)
    policy = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    data = datasets.Dataset.from_pandas(table, preserve_index=False)
    timer = StepTimer()
    reward_s = [0.0]
    if variant == "ours":
        trainer = grpo.GRPOTrainer(model=policy, args=grpo.GRPOConfig(**common, grading={"timeout": 5}),
                                   train_dataset=data, processing_class=tok, callbacks=[timer.callback])
        reward = trainer.reward_funcs[0]
        call = reward.__call__

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                reward_s[0] += time.perf_counter() - t

        trainer.reward_funcs[0] = timed
        timed.__name__ = "group_reward"
    else:
        trainer = trl.GRPOTrainer(model=policy, reward_funcs=zero_reward, args=trl.GRPOConfig(**common),
                                  train_dataset=data, processing_class=tok, callbacks=[timer.callback])
    trainer.train()
    if variant == "ours":
        reward.close()
    # the first step warms up
    return {"step_s": timer.steps[1:], "step_cpu_s": timer.cpu[1:],
            "reward_s_per_step": reward_s[0] / len(timer.steps) if variant == "ours" else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per run (one more warms up)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each variant, interleaved")
    ap.add_argument("--batch", type=int, default=8, help="completions per step (per_device_train_batch_size)")
    ap.add_argument("--generations", type=int, default=4, help="completions per prompt (a group)")
    ap.add_argument("--completion-tokens", type=int, default=64)
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    started, info = time.time(), C.machine()
    info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                        if ln.startswith("model name")), "?")
    runs: dict[str, list[dict]] = {"ours": [], "trl": []}
    with tempfile.TemporaryDirectory() as tmp:
        model, table = build_inputs(Path(tmp), a.problems, a.seed)
        for r in range(a.repeats):
            for variant in ("ours", "trl"):
                res = run_once(variant, model, table, a, Path(tmp) / f"{variant}-{r}")
                runs[variant].append(res)
                print(f"[bench_grpo_step] {variant} run {r}: median step "
                      f"{C.fmt(C.median(res['step_s']), 3)} s", file=sys.stderr)
    med = {v: C.median([s for run in runs[v] for s in run["step_s"]]) for v in runs}
    cpu = {v: C.median([s for run in runs[v] for s in run["step_cpu_s"]]) for v in runs}
    fastest = {v: min(s for run in runs[v] for s in run["step_s"]) for v in runs}
    # each run of ours against the TRL run right after it: the two shared the box's load
    paired = C.median([C.median(o["step_s"]) / C.median(t["step_s"]) for o, t in zip(runs["ours"], runs["trl"])])
    reward = C.median([run["reward_s_per_step"] for run in runs["ours"]])
    ratio, cpu_ratio = C.ratio(med["ours"], med["trl"]), C.ratio(cpu["ours"], cpu["trl"])
    C.print_table([["ours (Grader, reference stats, group reward)", med["ours"], cpu["ours"], fastest["ours"], reward,
                    ratio, cpu_ratio, paired],
                   ["trl (trivial reward)", med["trl"], cpu["trl"], fastest["trl"], None, 1.0, 1.0, 1.0]],
                  ["variant", "median step s", "median step CPU s", "fastest step s", "reward s/step", "x TRL",
                   "x TRL (CPU)", "x TRL (paired runs)"])
    print(f"\nratio ours / TRL: {C.fmt(ratio, 3)} wall, {C.fmt(cpu_ratio, 3)} CPU, {C.fmt(paired, 3)} median of "
          f"paired runs (target <= 1.1); {a.batch} completions of {a.completion_tokens} tokens per step, {a.steps} "
          f"steps x {a.repeats} runs each; CPU: {info['cpu']}")
    C.write_result("bench_grpo_step", {"args": vars(a), "median_step_s": med, "median_step_cpu_s": cpu,
                                       "fastest_step_s": fastest, "ratio": ratio, "cpu_ratio": cpu_ratio,
                                       "paired_ratio": paired, "reward_s_per_step": reward, "runs": runs},
                   started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
