"""Peak memory of LH training: precomputed reference log-probs (ours) vs a second reference model.

    .venv/bin/python benchmarks/bench_lh_memory.py                 # SmolLM2-135M shape, ~5 min
    .venv/bin/python benchmarks/bench_lh_memory.py --model results/models/smollm2 --modes full

What is compared, same model, data, batch and optimizer (AdamW, fp32 on CPU):

* ours: ``precompute_reference_logprobs`` scores every example once with the initial policy
  (π_ref = the model before any update), then ``LHTrainer`` trains with ``ref_logp`` read from
  the batch: one model in memory, as ``o1pruner train --method lh`` does.
* official: a frozen second copy of the model stays in memory and runs on every batch inside
  ``compute_loss`` (``OfficialLHTrainer`` below: the official wsft trainer's structure).

Each variant runs in its own subprocess; the figure is that process's peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``), with the RSS after imports (torch + transformers)
also reported so the increments can be compared. Variants alternate (ours, official, ours,
...) and medians are reported. Modes: ``full`` fine-tuning (AdamW keeps two fp32 moments per
weight, so the optimizer, not the second model, dominates) and ``freeze`` (only the last
``--trainable-layers`` decoder layers train, as in ``training.mode: freeze``; weights dominate).
Default model: a random LlamaForCausalLM with SmolLM2-135M's shape (134.5M params, fp32,
built from a config, nothing downloaded; ``--shape 360m`` for SmolLM2-360M's, 362M params);
``--model`` takes an HF folder instead. What ours saves is one copy of the weights, W: the
ratio is (X + W) / (X + 2W) with X the rest (imports, gradients, AdamW moments, activations),
so it approaches 0.5 only where the weights dominate X.
Writes benchmarks/out/bench_lh_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# SmolLM2's architectures (config.json of the hub models); the weights are random
_SMOLLM2 = dict(vocab_size=49152, max_position_embeddings=2048, tie_word_embeddings=True, rms_norm_eps=1e-5,
                rope_theta=100000.0, pad_token_id=2, eos_token_id=2, bos_token_id=1)
SHAPES = {
    "135m": dict(_SMOLLM2, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                 num_attention_heads=9, num_key_value_heads=3),
    "360m": dict(_SMOLLM2, hidden_size=960, intermediate_size=2560, num_hidden_layers=32,
                 num_attention_heads=15, num_key_value_heads=5),
}


# ---- child: one training run ------------------------------------------------------------------

class RSSSampler:
    """Peak RSS per phase, sampled every 20 ms (ru_maxrss only gives the lifetime peak)."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.02)

    def sample(self):
        mb = self.proc.memory_info().rss / 2**20
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), mb)

    def set_phase(self, phase: str):
        self.sample()
        self.phase = phase
        self.sample()

    def stop(self):
        self._stop.set()
        self._t.join()


def build_model(model_path: str | None, seed: int, shape: str = "135m"):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)  # the official variant's second copy gets identical weights
    if model_path:
        return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    return LlamaForCausalLM(LlamaConfig(**SHAPES[shape])).float()


def synthetic_features(n: int, seq_len: int, prompt_len: int, vocab: int, seed: int) -> list[dict]:
    """LH features as tokenize_lh_dataset makes them: prompt (labels -100) + response, weight."""
    import numpy as np

    rng = np.random.default_rng(seed)
    feats = []
    for _ in range(n):
        ids = rng.integers(3, vocab, size=seq_len).tolist()
        feats.append({"input_ids": ids, "labels": [-100] * prompt_len + ids[prompt_len:],
                      "weight": float(rng.normal())})
    return feats


def child(a: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    sampler = RSSSampler()
    import torch
    import transformers

    from o1pruner.training.lh_trainer import (
        LHDataCollator,
        LHTrainer,
        precompute_reference_logprobs,
        sequence_mean_logprobs,
    )
    from o1pruner.training.train import count_parameters, freeze_all_but_last_layers

    class OfficialLHTrainer(LHTrainer):
        """The official structure: a frozen reference model kept in memory, run every step."""

        def __init__(self, *args, ref_model=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.ref_model = ref_model.eval()
            for p in self.ref_model.parameters():
                p.requires_grad_(False)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            with torch.no_grad():
                logits = self.ref_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                        use_cache=False).logits
                inputs = {**inputs, "ref_logp": sequence_mean_logprobs(logits, inputs["labels"])}  # [B]
                del logits
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    torch.set_num_threads(a.threads)
    rss_imports = sampler.proc.memory_info().rss / 2**20
    sampler.set_phase("model")
    model = build_model(a.model, a.seed, a.shape)
    model.config.use_cache = False
    if a.mode == "freeze":
        freeze_all_but_last_layers(model, a.trainable_layers)
    trainable, total = count_parameters(model)
    vocab = model.config.vocab_size
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    features = synthetic_features(a.batch * a.steps, a.seq_len, a.seq_len // 4, vocab, a.seed)

    ref_model = None
    sampler.set_phase("reference")
    t_ref = time.perf_counter()
    if a.variant == "ours":
        features = precompute_reference_logprobs(model, features, batch_size=a.batch, pad_token_id=pad)
    else:
        ref_model = build_model(a.model, a.seed, a.shape)
    t_ref = time.perf_counter() - t_ref

    sampler.set_phase("training")
    with tempfile.TemporaryDirectory() as tmp:
        args = transformers.TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=a.batch, max_steps=a.steps, learning_rate=1e-5,
            optim="adamw_torch", lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
            report_to=[], remove_unused_columns=False, use_cpu=True, dataloader_num_workers=0,
            seed=a.seed, disable_tqdm=True)
        kwargs = dict(model=model, args=args, train_dataset=features, data_collator=LHDataCollator(pad))
        trainer = (LHTrainer(**kwargs) if a.variant == "ours"
                   else OfficialLHTrainer(**kwargs, ref_model=ref_model))
        t_train = time.perf_counter()
        trainer.train()
        t_train = time.perf_counter() - t_train
    sampler.stop()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    print(json.dumps({
        "variant": a.variant, "mode": a.mode, "peak_rss_mb": C.peak_rss_mb(), "rss_after_imports_mb": rss_imports,
        "phase_peak_rss_mb": {k: round(v, 1) for k, v in sampler.peaks.items()},
        "trainable_params": trainable, "total_params": total, "reference_s": t_ref,
        "train_s": t_train, "s_per_step": t_train / a.steps, "losses": losses,
        "child_wall_s": time.perf_counter() - t_start,
    }))


# ---- parent -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="HF model folder (default: a random Llama of --shape)")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="135m",
                    help="SmolLM2 architecture of the random model (135m: 134.5M params, 360m: 362M)")
    ap.add_argument("--modes", default="full,freeze", help="comma list of full, freeze")
    ap.add_argument("--trainable-layers", type=int, default=2, help="freeze mode: last N layers train")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps (AdamW states exist from step 1)")
    ap.add_argument("--rounds", type=int, default=1, help="ours/official pairs per mode (medians)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_child", choices=["ours", "official"], help=argparse.SUPPRESS)
    ap.add_argument("--_mode", dest="mode", default="full", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        a.variant = a._child
        child(a)
        return 0

    started, info = time.time(), C.machine()
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("full", "freeze"):
            ap.error(f"unknown mode {m!r} (full, freeze)")
    if a.model and not Path(a.model, "config.json").is_file():
        sys.exit(f"bench_lh_memory: --model {a.model} is not an HF folder (no config.json)")
    common = ["--batch", str(a.batch), "--seq-len", str(a.seq_len), "--steps", str(a.steps),
              "--threads", str(a.threads), "--seed", str(a.seed), "--trainable-layers", str(a.trainable_layers),
              "--shape", a.shape]
    if a.model:
        common += ["--model", a.model]
    runs: dict[tuple[str, str], list[dict]] = {}
    for mode in modes:
        for r in range(a.rounds):
            for variant in ("ours", "official"):  # interleaved
                res = C.run_child([__file__, "--_child", variant, "--_mode", mode, *common])
                runs.setdefault((mode, variant), []).append(res)
                print(f"{mode:6s} {variant:8s} round {r + 1}: peak RSS {res['peak_rss_mb']:,.0f} MiB "
                      f"(after imports {res['rss_after_imports_mb']:,.0f}), {res['s_per_step']:.1f} s/step, "
                      f"phases {res['phase_peak_rss_mb']}", flush=True)

    rows, summary = [], {}
    for mode in modes:
        ours, off = runs[(mode, "ours")], runs[(mode, "official")]
        po, pf = C.median([x["peak_rss_mb"] for x in ours]), C.median([x["peak_rss_mb"] for x in off])
        base = C.median([x["rss_after_imports_mb"] for x in ours + off])
        so, sf = C.median([x["s_per_step"] for x in ours]), C.median([x["s_per_step"] for x in off])
        summary[mode] = {"ours_peak_rss_mb": po, "official_peak_rss_mb": pf, "ratio": C.ratio(po, pf),
                         "rss_after_imports_mb": base, "ratio_above_imports": C.ratio(po - base, pf - base),
                         "ours_s_per_step": so, "official_s_per_step": sf,
                         "ours_reference_pass_s": C.median([x["reference_s"] for x in ours]),
                         "trainable_params": ours[0]["trainable_params"], "total_params": ours[0]["total_params"]}
        rows.append([mode, f"{ours[0]['trainable_params'] / 1e6:.1f}M / {ours[0]['total_params'] / 1e6:.1f}M",
                     po, pf, f"{C.ratio(po, pf):.2f}x", f"{C.ratio(po - base, pf - base):.2f}x", so, sf])
    print()
    C.print_table(rows, ["mode", "trainable / total", "ours peak MiB", "official peak MiB", "ratio",
                         "ratio above imports", "ours s/step", "official s/step"])
    print(f"\nmodel: {a.model or f'random SmolLM2-{a.shape}-shaped LlamaForCausalLM'}, fp32, AdamW, batch "
          f"{a.batch} x {a.seq_len} tokens, {a.steps} steps; peak = ru_maxrss of each variant's own process "
          f"(median of {a.rounds}); imports alone: {base:,.0f} MiB. Target: ours <= 0.6x official.")
    result = {"model": a.model or f"random LlamaForCausalLM, SmolLM2-{a.shape} config", "batch": a.batch,
              "seq_len": a.seq_len, "steps": a.steps, "rounds": a.rounds, "trainable_layers": a.trainable_layers,
              "target_ratio": 0.6, "summary": summary,
              "runs": {f"{m}/{v}": rs for (m, v), rs in runs.items()}}
    # the default run keeps the plain name; other settings get their own file
    name = "bench_lh_memory" if (a.model is None and a.shape == "135m") else \
        f"bench_lh_memory_{Path(a.model).name if a.model else a.shape}"
    C.write_result(name, result, started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
