"""LH (O1-Pruner) loss, tokenisation, reference pass and trainer (o1pruner.training.lh_trainer)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from o1pruner.training.lh_trainer import (
    IGNORE_INDEX,
    LHConfig,
    LHDataCollator,
    LHTrainer,
    lh_loss,
    lh_sequence_losses,
    precompute_reference_logprobs,
    sequence_mean_logprobs,
    tokenize_lh_dataset,
    tokenize_lh_example,
)

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

WORDS = [f"w{i}" for i in range(60)]


@pytest.fixture(scope="module")
def tokenizer():
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}  # 63 < 64
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")


def tiny_llama(seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, bos_token_id=None, tie_word_embeddings=False,
    )
    return transformers.LlamaForCausalLM(config).float()


def make_features(tokenizer, n: int = 4, seed: int = 0, weights=None):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        plen, rlen = 2 + i % 3, 3 + (2 * i) % 5  # different lengths -> padding in batches
        words = [WORDS[j] for j in torch.randint(0, 60, (plen + rlen,), generator=g).tolist()]
        rows.append({"prompt": " ".join(words[:plen]), "response": " ".join(words[plen:]),
                     "weight": weights[i] if weights else (1.0 if i % 2 == 0 else -0.5)})
    features, counts = tokenize_lh_dataset(tokenizer, rows, cutoff_len=32)
    assert counts["dropped"] == 0
    return features


# ---- the math on hand-built tensors ------------------------------------------------------

def test_lh_loss_equals_hand_computed_formula():
    ref = torch.tensor([-1.3, -0.2, -2.5, -0.7, -1.0])
    ratio = torch.tensor([1.1, 1.5, 0.5, 1.5, 0.5])
    weights = torch.tensor([2.0, 1.0, -1.0, -0.5, 1.0])
    policy = ref + torch.log(ratio)
    # max(-w r, -w clip(r, 0.8, 1.2)) row by row:
    expected_terms = [
        max(-2.0 * 1.1, -2.0 * 1.1),    # -2.2  (inside the clip range)
        max(-1.0 * 1.5, -1.0 * 1.2),    # -1.2  (w>0, r>1.2: clipped)
        max(1.0 * 0.5, 1.0 * 0.8),      #  0.8  (w<0, r<0.8: clipped)
        max(0.5 * 1.5, 0.5 * 1.2),      #  0.75 (w<0, r>1.2: unclipped)
        max(-1.0 * 0.5, -1.0 * 0.8),    # -0.5  (w>0, r<0.8: unclipped)
    ]
    assert expected_terms == pytest.approx([-2.2, -1.2, 0.8, 0.75, -0.5])
    torch.testing.assert_close(lh_sequence_losses(policy, ref, weights), torch.tensor(expected_terms))
    assert lh_loss(policy, ref, weights).item() == pytest.approx(-2.35 / 5, abs=1e-6)
    # ε is honoured: with ε = 0.6 nothing above is clipped, so the loss is mean(-w r)
    assert lh_loss(policy, ref, weights, epsilon=0.6).item() == pytest.approx(
        float((-weights * ratio).mean()), abs=1e-6)


def test_step_zero_ratio_is_one_and_loss_is_minus_mean_weight():
    ref = torch.tensor([-1.25, -0.5, -3.0, -0.125])
    weights = torch.tensor([1.5, -0.5, 0.25, -2.0])
    policy = ref.clone()
    assert torch.equal(torch.exp(policy - ref), torch.ones(4))
    assert lh_loss(policy, ref, weights).item() == -weights.mean().item()


def test_clip_stops_gradient_where_ppo_says():
    eps = 0.2
    ratio = torch.tensor([1.5, 0.5, 0.5, 1.5, 1.1, 0.9])
    weights = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    ref = torch.zeros(6)
    policy = torch.log(ratio).requires_grad_(True)
    lh_loss(policy, ref, weights, eps).backward()
    grad = policy.grad
    # w>0 & r>1+ε and w<0 & r<1−ε: the clipped branch wins, constant in θ -> zero gradient
    assert grad[0].item() == 0.0 and grad[1].item() == 0.0
    # everywhere else d/dlogp mean(-w r) = -w r / B
    torch.testing.assert_close(grad[2:], (-weights * ratio)[2:] / 6)
    assert (grad[2:] != 0).all()


def test_sequence_mean_logprobs_hand_computed_and_shifted():
    # one sequence of 4 tokens, vocab 3; labels: prompt (masked), then response tokens 2, 0, 1
    logits = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.5, 0.5, 3.0], [9.0, 9.0, 9.0]]])
    labels = torch.tensor([[IGNORE_INDEX, 2, 0, 1]])

    def logp(row, k):
        return row[k] - math.log(sum(math.exp(v) for v in row))

    # logits at t predict labels at t+1; the last position predicts nothing
    expected = (logp([0.0, 1.0, 2.0], 2) + logp([1.0, 0.0, 0.0], 0) + logp([0.5, 0.5, 3.0], 1)) / 3
    assert sequence_mean_logprobs(logits, labels).item() == pytest.approx(expected, abs=1e-6)
    # an explicit response mask selecting only the last token
    mask = torch.tensor([[False, False, False, True]])
    assert sequence_mean_logprobs(logits, labels, mask).item() == pytest.approx(
        logp([0.5, 0.5, 3.0], 1), abs=1e-6)
    # a row with nothing to score gives 0, not NaN
    assert sequence_mean_logprobs(logits, torch.full((1, 4), IGNORE_INDEX)).item() == 0.0


def test_masked_prompt_and_padding_positions_do_not_affect_the_loss():
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 11, requires_grad=True)
    labels = torch.randint(0, 11, (2, 7))
    labels[:, :3] = IGNORE_INDEX      # prompt
    labels[1, 5:] = IGNORE_INDEX      # padding of row 1
    weights, ref = torch.tensor([1.0, -1.0]), torch.tensor([-2.0, -2.5])
    loss = lh_loss(sequence_mean_logprobs(logits, labels), ref, weights)
    loss.backward()
    # logits at t score labels[t+1]: rows' masked targets are t+1 in {1, 2} (and {5, 6} for row 1)
    assert torch.all(logits.grad[:, :2] == 0) and torch.all(logits.grad[1, 4:] == 0)
    assert torch.all(logits.grad[0, 6] == 0)          # the last position predicts nothing
    assert (logits.grad[0, 2:6].abs().sum(-1) > 0).all()
    # changing the masked positions' logits (and the ids there) leaves the loss unchanged
    other = logits.detach().clone()
    other[:, :2] += 5 * torch.randn(2, 2, 11)
    other[1, 4:] -= 3.0
    other_labels = labels.clone()
    other_labels[:, 0] = 7
    mask = labels != IGNORE_INDEX
    same = lh_loss(sequence_mean_logprobs(other, other_labels, mask), ref, weights)
    assert same.item() == pytest.approx(loss.item(), abs=1e-6)


# ---- tokenisation, collation, reference pass ---------------------------------------------

def test_tokenize_example_masks_prompt_and_handles_overlong(tokenizer):
    eos = tokenizer.eos_token_id
    p = [tokenizer.convert_tokens_to_ids(w) for w in ["w1", "w2", "w3"]]
    r = [tokenizer.convert_tokens_to_ids(w) for w in ["w4", "w5"]]
    ex = tokenize_lh_example(tokenizer, "w1 w2 w3", "w4 w5", cutoff_len=6)
    assert ex == {"input_ids": p + r + [eos], "labels": [IGNORE_INDEX] * 3 + r + [eos], "truncated": False}
    # 6 tokens don't fit in 4: truncate keeps the prompt and the first response token
    cut = tokenize_lh_example(tokenizer, "w1 w2 w3", "w4 w5", cutoff_len=4, overlong="truncate")
    assert cut == {"input_ids": p + r[:1], "labels": [IGNORE_INDEX] * 3 + r[:1], "truncated": True}
    assert tokenize_lh_example(tokenizer, "w1 w2 w3", "w4 w5", cutoff_len=4, overlong="drop") is None
    # a prompt that leaves no room for a response token is dropped in both modes
    for mode in ("truncate", "drop"):
        assert tokenize_lh_example(tokenizer, "w1 w2 w3", "w4", cutoff_len=3, overlong=mode) is None
    # an empty response still scores the EOS
    assert tokenize_lh_example(tokenizer, "w1", "", cutoff_len=8)["labels"] == [IGNORE_INDEX, eos]
    with pytest.raises(ValueError, match="overlong"):
        tokenize_lh_example(tokenizer, "w1", "w2", 8, overlong="cut")


def test_tokenize_dataset_reports_counts(tokenizer):
    rows = [
        {"prompt": "w1", "response": "w2 w3", "weight": 0.5, "problem_id": "a", "sample_idx": 0},
        {"prompt": "w1", "response": "w2 w3 w4 w5 w6", "weight": -1.0, "problem_id": "a", "sample_idx": 1},
        {"prompt": "w1 w2 w3 w4 w5", "response": "w6", "weight": 1.0, "problem_id": "b", "sample_idx": 0},
    ]
    feats, counts = tokenize_lh_dataset(tokenizer, rows, cutoff_len=5, overlong="truncate")
    assert counts == {"examples": 3, "kept": 2, "truncated": 1, "dropped": 1}
    assert [f["weight"] for f in feats] == [0.5, -1.0] and feats[1]["sample_idx"] == 1
    assert [len(f["input_ids"]) for f in feats] == [4, 5]
    _, counts = tokenize_lh_dataset(tokenizer, rows, cutoff_len=5, overlong="drop")
    assert counts == {"examples": 3, "kept": 1, "truncated": 0, "dropped": 2}


def test_collator_pads_and_carries_weight_and_ref_logp():
    feats = [{"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7], "weight": 1.5, "ref_logp": -2.0},
             {"input_ids": [8], "labels": [8], "weight": -0.5, "ref_logp": -1.0, "problem_id": "x"}]
    b = LHDataCollator(pad_token_id=0)(feats)
    assert b["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert b["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert b["weight"].tolist() == [1.5, -0.5] and b["ref_logp"].tolist() == [-2.0, -1.0]
    assert set(b) == {"input_ids", "attention_mask", "labels", "weight", "ref_logp"}


def test_precompute_reference_logprobs_matches_single_example_pass(tokenizer):
    model = tiny_llama().train()
    feats = make_features(tokenizer, n=5)
    out = precompute_reference_logprobs(model, feats, batch_size=2, pad_token_id=0)
    assert model.training  # mode restored
    assert [f["input_ids"] for f in out] == [f["input_ids"] for f in feats]  # order kept
    model.eval()
    with torch.no_grad():
        for f, o in zip(feats, out):
            ids, labels = torch.tensor([f["input_ids"]]), torch.tensor([f["labels"]])
            single = sequence_mean_logprobs(model(input_ids=ids).logits, labels).item()
            assert o["ref_logp"] == pytest.approx(single, abs=1e-5)


# ---- the tiny model ----------------------------------------------------------------------

def _batch_mean_logp(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return sequence_mean_logprobs(logits, batch["labels"])


@pytest.mark.parametrize("weight, direction", [(1.0, 1), (-1.0, -1)])
def test_one_step_moves_mean_logprob_with_the_sign_of_the_weight(tokenizer, weight, direction):
    model = tiny_llama()
    feats = precompute_reference_logprobs(model, make_features(tokenizer, n=1, weights=[weight]), 1, 0)
    batch = LHDataCollator(0)(feats)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = _batch_mean_logp(model, batch)
    loss = lh_loss(before, batch["ref_logp"], batch["weight"])
    assert loss.item() == pytest.approx(-weight, abs=1e-5)  # step 0: r = 1
    loss.backward()
    opt.step()
    with torch.no_grad():
        after = _batch_mean_logp(model, batch)
    assert direction * (after - before.detach()).item() > 1e-3


def _trainer(model, tmp_path, feats, batch_size, accumulation, **extra):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=accumulation, learning_rate=0.5, optim="sgd",
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=0.0,
        remove_unused_columns=False, use_cpu=True, report_to="none", save_strategy="no",
        logging_steps=1, disable_tqdm=True, seed=0, data_seed=0, **extra,
    )
    return LHTrainer(model=model, args=args, train_dataset=feats)


def _grads_via_training_step(trainer, model, micro_batches):
    model.zero_grad()
    trainer.get_batch_samples(iter(micro_batches), len(micro_batches), torch.device("cpu"))
    for mb in micro_batches:
        trainer.training_step(model, mb)
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("split", [(2, 2), (3, 1)])
def test_gradient_accumulation_equals_one_big_batch(tokenizer, tmp_path, split):
    model = tiny_llama()
    feats = make_features(tokenizer, n=4, weights=[1.0, -0.5, 2.0, -1.5])
    feats = precompute_reference_logprobs(model, feats, 4, 0)
    # shift π_ref so that r ≈ e^0.5 for the 1st (w>0) and e^-0.5 for the 4th (w<0): both clipped
    for f, shift in zip(feats, [-0.5, 0.0, 0.0, 0.5]):
        f["ref_logp"] += shift
    collate = LHDataCollator(0)
    whole = _grads_via_training_step(_trainer(model, tmp_path / "a", feats, 4, 1), model, [collate(feats)])
    a = split[0]
    micro = [collate(feats[:a]), collate(feats[a:])]
    accumulated = _grads_via_training_step(_trainer(model, tmp_path / "b", feats, 2, 2), model, micro)
    assert any(g.abs().sum() > 0 for g in whole.values())
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=1e-4, atol=1e-7)
    # and it is the gradient of the plain LH loss over the 4 sequences
    model.zero_grad()
    full = collate(feats)
    lh_loss(_batch_mean_logp(model, full), full["ref_logp"], full["weight"]).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, whole[name], rtol=1e-4, atol=1e-7)


def test_trainer_accumulated_step_equals_big_batch_step_end_to_end(tokenizer, tmp_path):
    feats = precompute_reference_logprobs(tiny_llama(), make_features(tokenizer, n=4), 4, 0)
    results = []
    for name, (bs, ga) in {"big": (4, 1), "acc": (2, 2)}.items():
        model = tiny_llama()
        trainer = _trainer(model, tmp_path / name, feats, bs, ga, max_steps=1)
        trainer.train()
        results.append((dict(model.named_parameters()), trainer.state.log_history[0]["loss"]))
    (big, big_loss), (acc, acc_loss) = results
    assert big_loss == pytest.approx(acc_loss, rel=1e-5)
    assert acc_loss == pytest.approx(-sum(f["weight"] for f in feats) / 4, abs=1e-4)  # step 0
    for name in big:
        torch.testing.assert_close(acc[name], big[name], rtol=1e-5, atol=1e-6)


def test_trainer_runs_two_steps_with_finite_loss(tokenizer, tmp_path):
    model = tiny_llama()
    start = copy.deepcopy(model.state_dict())
    feats = precompute_reference_logprobs(model, make_features(tokenizer, n=6), 3, 0)
    trainer = _trainer(model, tmp_path, feats, 2, 1, max_steps=2)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and all(math.isfinite(h["loss"]) for h in logs)
    assert logs[0]["lh_ratio"] == pytest.approx(1.0, abs=1e-4) and "lh_clip_frac" in logs[0]
    assert any(not torch.equal(start[k], v) for k, v in model.state_dict().items())


def test_trainer_refuses_remove_unused_columns(tokenizer, tmp_path):
    args = transformers.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    with pytest.raises(ValueError, match="remove_unused_columns"):
        LHTrainer(model=tiny_llama(), args=args, train_dataset=[])


def test_lh_config_carries_epsilon_and_the_trainer_scores_pi_ref_once(tokenizer, tmp_path, monkeypatch):
    model = tiny_llama()
    feats = make_features(tokenizer, n=4)
    assert "ref_logp" not in feats[0]
    expected = [f["ref_logp"] for f in precompute_reference_logprobs(model, feats, 4, 0)]
    args = LHConfig(output_dir=str(tmp_path), epsilon=0.1, per_device_train_batch_size=2, max_steps=1,
                    learning_rate=0.5, optim="sgd", lr_scheduler_type="constant", use_cpu=True,
                    report_to="none", save_strategy="no", disable_tqdm=True)
    assert args.remove_unused_columns is False and args.precompute_ref_log_probs and args.optimizer == "adamw"
    trainer = LHTrainer(model=model, args=args, train_dataset=feats)
    assert trainer.epsilon == 0.1
    calls = []
    real = trainer.reference_pass
    monkeypatch.setattr(trainer, "reference_pass", lambda f: calls.append(1) or real(f))
    trainer.train()
    # scored with the initial weights, before the step
    assert [f["ref_logp"] for f in trainer.train_dataset] == pytest.approx(expected, abs=1e-5)
    trainer.train()  # a second call must not rescore with the trained weights
    assert calls == [1]
    assert [f["ref_logp"] for f in trainer.train_dataset] == pytest.approx(expected, abs=1e-5)


# ---- the fused LM head (issue 21): same loss and gradient, no [B, T, V] logits -------------

def _old_vs_fused(model, batch, ref_shift=0.3):
    """LH loss and gradients from the model's logits (the pre-fused path) and through the fused head."""
    from o1pruner.training.lh_trainer import add_fused_head, model_mean_logprobs

    ref = batch["ref_logp"] + torch.tensor([ref_shift, -ref_shift] * (len(batch["ref_logp"]) // 2)
                                           + [0.0] * (len(batch["ref_logp"]) % 2))
    results = []
    for fused in (False, True):
        model.zero_grad()
        if fused:
            add_fused_head(model)
            policy = model_mean_logprobs(model, batch["input_ids"], batch["attention_mask"], batch["labels"],
                                         fused=True)
        else:
            policy = _batch_mean_logp(model, batch)
        loss = lh_loss(policy, ref, batch["weight"])
        loss.backward()
        results.append((policy.detach(), loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    return results


@pytest.mark.parametrize("tied", [False, True])
def test_fused_head_gives_todays_loss_and_gradient(tokenizer, tied):
    model = tiny_llama()
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    feats = precompute_reference_logprobs(copy.deepcopy(model), make_features(tokenizer, n=5), 5, 0)
    batch = LHDataCollator(0)(feats)   # padded rows of different prompt and response lengths
    (old_p, old_loss, old_g), (new_p, new_loss, new_g) = _old_vs_fused(model, batch)
    torch.testing.assert_close(new_p, old_p, rtol=1e-5, atol=1e-6)
    assert new_loss == pytest.approx(old_loss, rel=1e-5)
    assert any(g.abs().sum() > 0 for g in old_g.values())
    for name in old_g:
        torch.testing.assert_close(new_g[name], old_g[name], rtol=1e-4, atol=1e-7, msg=name)


def test_the_fused_head_serves_cuda_and_large_logits():
    from o1pruner.training.lh_trainer import FULL_LOGITS_LIMIT, use_fused_head

    assert use_fused_head("cuda", 8, 100) and use_fused_head(torch.device("cuda", 1), 8, 100)
    # CPU: the logits where they fit (TRL's CPU fallback is slower), the fused head where the
    # vocabulary dominates: SmolLM2 at 4k tokens (0.8 GB) and Qwen2's vocabulary at 8k (5 GB)
    assert not use_fused_head("cpu", 4096, 49152) and use_fused_head("cpu", 8192, 151936)
    assert use_fused_head("cpu", FULL_LOGITS_LIMIT // 4 + 1, 1) and not use_fused_head("cpu", FULL_LOGITS_LIMIT // 4, 1)


def test_model_mean_logprobs_picks_its_path_and_both_agree(tokenizer, monkeypatch):
    from o1pruner.training import lh_trainer

    model = tiny_llama()
    lh_trainer.add_fused_head(model)
    batch = LHDataCollator(0)(make_features(tokenizer, n=3))
    args = (model, batch["input_ids"], batch["attention_mask"], batch["labels"])
    head_calls = []
    model.lm_head.register_forward_hook(lambda *a: head_calls.append(1))  # the [B, T, V] projection
    small = lh_trainer.model_mean_logprobs(*args)  # a tiny batch on CPU: the logits
    assert head_calls == [1]
    monkeypatch.setattr(lh_trainer, "FULL_LOGITS_LIMIT", 0)  # every batch "large": the fused head
    large = lh_trainer.model_mean_logprobs(*args)
    assert head_calls == [1]
    torch.testing.assert_close(large, small, rtol=1e-5, atol=1e-6)


def test_trainer_never_asks_the_model_for_full_logits(tokenizer, tmp_path, monkeypatch):
    """Where the fused head serves (CUDA, or logits past the limit: here every batch), every LH
    forward (reference pass and training steps) goes through it."""
    from o1pruner.training import lh_trainer

    monkeypatch.setattr(lh_trainer, "FULL_LOGITS_LIMIT", 0)
    model = tiny_llama()
    feats = make_features(tokenizer, n=4)
    args = LHConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, max_steps=2, learning_rate=0.1,
                    use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True)
    trainer = LHTrainer(model=model, args=args, train_dataset=feats)
    head_calls = []
    model.lm_head.register_forward_hook(lambda *a: head_calls.append(1))  # the [B, T, V] projection
    trainer.train()
    assert head_calls == [] and trainer.state.global_step == 2


def test_weight_and_ref_logp_stay_float32_under_deepspeed(tokenizer, tmp_path):
    """Trainer._prepare_input casts every floating tensor to DeepSpeed's dtype (transformers 5.19,
    trainer.py): the LH loss inputs must not be rounded to bf16."""
    from types import SimpleNamespace

    trainer = _trainer(tiny_llama(), tmp_path, [], 2, 1)
    trainer.is_deepspeed_enabled = True  # what Trainer sets under DeepSpeed, with its bf16 config
    trainer.accelerator = SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=SimpleNamespace(
        hf_ds_config=SimpleNamespace(dtype=lambda: torch.bfloat16))))
    batch = LHDataCollator(0)([{"input_ids": [3, 4], "labels": [-100, 4], "weight": 1.2345678,
                                "ref_logp": -0.123456789}])
    batch["other_float"] = torch.tensor([1.2345678])
    out = trainer._prepare_inputs(batch)
    assert out["other_float"].dtype == torch.bfloat16  # the Trainer's cast is active in this test
    assert out["weight"].dtype == torch.float32 and out["ref_logp"].dtype == torch.float32
    assert out["weight"].item() == pytest.approx(1.2345678, rel=1e-7)
    assert out["ref_logp"].item() == pytest.approx(-0.123456789, rel=1e-7)
    assert out["input_ids"].dtype == torch.long
