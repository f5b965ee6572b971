"""Toy long-thought reference model: a stand-in for Marco-o1 that builds in minutes on a CPU.

The default config cannot use a real 7B model offline on two cores, so the workflow
trains its own tiny Llama from scratch on procedurally generated arithmetic chains
whose solutions are *long-thought*: correct step-by-step work followed by a variable
number of redundant re-checks ("Wait, let me verify ...") and a final ``\\boxed{}``.
Sampled at the paper's temperature, its responses show the paper's Section 3
"length disharmony": lengths vary a lot per problem while short samples are about as
accurate as long ones. Errors come from the model's imperfect arithmetic, so longer
chains (more operations) are harder: the ``level`` of a problem is its number of ops.

    o1pruner build-toy --output results/toy/model --overrides '{"steps": 1200, "batch_size": 16, "train_problems": 8000}'

The result is an ordinary HF folder (LlamaForCausalLM + a fast BPE tokenizer with a
ChatML chat template) that transformers and vLLM load like any hub model.

Reflective variant (``reflective: true``, issue 16; the default config's): every re-check above
is redundant, so extra length can never buy accuracy. With ``reflective`` the work is *hasty*:
on the last steps of long chains a fixed share of the arithmetic facts (a :class:`SlipTable`) is
written one or two off, and the slip carries on. The re-checks come inline: each of the last K
steps is redone with care (``gives``) right after it is written, and the work goes on from the
careful value. A check of a slipped step repairs it, one of a right step is waste:

    f) *2: 2 *2 = 5
    Wait, let me verify step f).
    f) *2: 2 *2 gives 4
    g) +1: 4 +1 = 5

Every work line quotes its step's operation after the label (``c) *2:``), as the prompt writes it,
so finding it is a plain induction-head copy, and every token of a check is a copy from the two
lines above or an arithmetic fact. The slips are deterministic given the line, so the trained
model makes them itself, greedy or sampled, and its checks catch them (``o1pruner.toy.anatomy`` labels
every line; ``o1pruner toy-reflection`` measures whether reflection pays).

Thinking variant (``thinking: true``, prompt family ``toy_think``): a stand-in for
DeepSeek-R1-Distill. Its chat template opens ``<think>`` in the generation prompt, as R1's does;
the trace is the same work and re-checks, then ``</think>`` and a short answer with the box:

    <|im_start|>assistant\n<think>\nLet me solve ... The result is 8.\nWait, ...\n</think>\n
    So the answer is \\boxed{8}.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from o1pruner.prompts import SPEED_PROMPTS, messages
from o1pruner.thinking import THINK_CLOSE, THINK_OPEN

# ----------------------------------------------------------------------------------
# The task: arithmetic chains with exact answers
# ----------------------------------------------------------------------------------

RECHECK_VERBS = ["verify", "double-check", "check again"]
MAX_VALUE = 9  # every value is one digit: ~100 arithmetic facts a tiny model learns in minutes


STEP_LABELS = "abcdefghijkl"  # one label per operation: the model finds step i's operation by it


def apply_op(v: int, op: str, k: int) -> int:
    return v + k if op == "+" else v - k if op == "-" else v * k


@dataclass(frozen=True)
class ChainProblem:
    start: int
    ops: tuple[tuple[str, int], ...]

    @property
    def level(self) -> int:
        return len(self.ops)

    def values(self) -> list[int]:
        vals = [self.start]
        for op, k in self.ops:
            vals.append(apply_op(vals[-1], op, k))
        return vals

    @property
    def answer(self) -> int:
        return self.values()[-1]

    @property
    def text(self) -> str:
        """``Start with 8. Then a) +1, b) -2, c) +1. What is the final number?``"""
        steps = ", ".join(f"{STEP_LABELS[i]}) {op}{k}" for i, (op, k) in enumerate(self.ops))
        return f"Start with {self.start}. Then {steps}. What is the final number?"

    def step_lines(self) -> list[str]:
        """The scratchpad, one labelled operation per line: ``b) 9 -2 = 7``.

        Every token is one lookup a tiny transformer learns in minutes: the label follows the
        previous label, the value is the previous line's result, the operation is the one after
        the same label in the prompt, the result is an arithmetic fact of the two before it.
        """
        vals = self.values()
        return [f"{STEP_LABELS[i]}) {vals[i]} {op}{k} = {vals[i + 1]}"
                for i, (op, k) in enumerate(self.ops)]


def random_chain(rng: np.random.Generator, n_ops: int) -> ChainProblem:
    """A chain of ``n_ops`` one-digit operations whose every value stays in [0, MAX_VALUE]."""
    v = int(rng.integers(0, MAX_VALUE + 1))
    start, ops = v, []
    for _ in range(n_ops):
        choices = [op for op, ok in (("+", v < MAX_VALUE), ("-", v > 0),
                                     ("*", 2 <= v and 2 * v <= MAX_VALUE)) if ok]
        op = choices[int(rng.integers(len(choices)))]
        if op == "+":
            k = int(rng.integers(1, MAX_VALUE - v + 1))
            v += k
        elif op == "-":
            k = int(rng.integers(1, v + 1))
            v -= k
        else:
            k = 2
            v *= k
        ops.append((op, k))
    return ChainProblem(start, tuple(ops))


def long_thought_solution(p: ChainProblem, rng: np.random.Generator,
                          stop_schedule: list[float], thinking: bool = False,
                          slips: "SlipTable | None" = None) -> str:
    """Step-by-step work, then re-checks, then the box.

    After k re-checks the trace stops with probability ``stop_schedule[k]`` (rising, the
    last entry 1): sampled at temperature 0.5 the number of re-checks varies a lot, and
    greedy decoding re-checks until the stop probability passes 1/2.

    Without ``slips`` the work is correct and each re-check recomputes a random earlier
    step correctly: pure redundancy, the tokens O1-Pruner drops. With ``slips`` (the
    reflective toy, see :func:`reflective_trace`) the work slips where the :class:`SlipTable`
    says and a re-check can catch and repair it.
    With ``thinking`` the work and re-checks are the thinking (the prompt opened ``<think>``),
    closed by ``</think>`` before the answer.
    """
    if slips is not None:
        out, answer = reflective_trace(p, rng, stop_schedule, slips)
    else:
        lines = p.step_lines()
        # the result is stated once before the re-checks: the box copies it from there, not
        # from whichever re-check came last
        out = ["Let me solve this step by step."] + lines + [f"The result is {p.answer}."]
        k = 0
        while rng.random() >= stop_schedule[min(k, len(stop_schedule) - 1)]:
            i = int(rng.integers(len(lines)))
            verb = RECHECK_VERBS[int(rng.integers(len(RECHECK_VERBS)))]
            out.append(f"Wait, let me {verb} step {lines[i]}. Correct.")
            k += 1
        answer = p.answer
    if thinking:
        out.append(THINK_CLOSE)
    out.append(f"So the answer is \\boxed{{{answer}}}.")
    return "\n".join(out)


# ----------------------------------------------------------------------------------
# The reflective toy: work that can be wrong, re-checks that can repair it
# ----------------------------------------------------------------------------------

CAREFUL = "gives"  # the careful recomputation's word: ``4 *2 gives 8`` (the hasty work writes ``=``)


def work_line(i: int, v: int, op: str, k: int, result: int, sign: str = "=") -> str:
    """A reflective work line ``c) *2: 4 *2 = 8`` (``sign`` :data:`CAREFUL` for a careful one).

    The line opens with its label and the prompt's operation after it, as the prompt writes them
    (``c) *2``): finding step c's operation is then the plainest induction-head copy (the token
    after the earlier ``c)``), which a tiny model learns far sooner than the plain toy's
    ``c) 4 *2`` (the operation two tokens after the label, which it confuses between steps).
    """
    return f"{STEP_LABELS[i]}) {op}{k}: {v} {op}{k} {sign} {result}"


def stays_in_range(v: int, ops) -> bool:
    """Whether the chain from value ``v`` through ``ops`` keeps every value one digit."""
    for op, k in ops:
        v = apply_op(v, op, k)
        if not 0 <= v <= MAX_VALUE:
            return False
    return True


def facts() -> list[tuple[int, str, int]]:
    """Every one-digit operation fact (input, op, operand) a chain can contain."""
    out = [(v, "+", k) for v in range(MAX_VALUE + 1) for k in range(1, MAX_VALUE - v + 1)]
    out += [(v, "-", k) for v in range(1, MAX_VALUE + 1) for k in range(1, v + 1)]
    # 0 *2 and 1 *2 never start a chain's doubling but follow a slip's carried value
    return out + [(v, "*", 2) for v in range(MAX_VALUE // 2 + 1)]


class SlipTable:
    """The reflective toy's misconceptions: which facts the hasty work gets wrong, and from when.

    Each fact f has a fixed draw u_f ~ U(0, 1); the work line of step i with fact f slips when
    ``u_f < error_rates[i]``, so the share of facts that slip at step i is ``error_rates[i]``
    (the default: 30 % from step f on, so only chains of 6+ operations slip, late). The slip is
    deterministic given the line (as a real model's misconceptions are): the model learns it,
    greedy decoding makes it, and the careful line of a check (``... gives 8``) does not.
    """

    def __init__(self, error_rates: list[float], seed: int):
        self.error_rates = list(error_rates)
        rng = np.random.default_rng(seed)
        # per fact: its draw and its near misses, one off before two off
        self.draws = {f: (float(rng.random()), sorted((int(d) for d in rng.permutation([-2, -1, 1, 2])), key=abs))
                      for f in facts()}

    def slipped(self, step: int, v: int, op: str, k: int, later_ops) -> int | None:
        """The wrong result the hasty work writes for this line, or None when it is right.

        The wrong value is the fact's first near miss from which the rest of the chain stays one
        digit (no slip when there is none).
        """
        u, deltas = self.draws[(v, op, k)]
        if not u < self.error_rates[min(step, len(self.error_rates) - 1)]:
            return None
        right = apply_op(v, op, k)
        for d in deltas:
            if 0 <= right + d <= MAX_VALUE and stays_in_range(right + d, later_ops):
                return right + d
        return None


def reflective_trace(p: ChainProblem, rng: np.random.Generator, stop_schedule: list[float],
                     slips: SlipTable) -> tuple[list[str], int]:
    """The hasty work (with slips) where each of the last K steps is re-checked right after it is
    written: the step once more with care, and the work goes on from the careful value.

        f) *2: 3 *2 = 7
        Wait, let me verify step f).
        f) *2: 3 *2 gives 6
        g) -4: 6 -4 = 2

    K follows ``stop_schedule`` (as the number of re-checks of the plain toy) and does not depend
    on the slips: a check of a slipped step is a correction, one of a right step pure waste.
    Every token of a check is a copy from the two lines above or an arithmetic fact, so the tiny
    model makes few errors of its own in them (a redo of several steps after the work, the earlier
    design, copied its input from far back and got it wrong in 46 % of the redos from a) on easy
    chains).
    """
    n_checks = 0
    while n_checks < p.level and rng.random() >= stop_schedule[min(n_checks, len(stop_schedule) - 1)]:
        n_checks += 1
    out, v = ["Let me solve this step by step."], p.start
    for i, (op, k) in enumerate(p.ops):
        right = apply_op(v, op, k)
        slip = slips.slipped(i, v, op, k, p.ops[i + 1:])
        written = right if slip is None else slip
        out.append(work_line(i, v, op, k, written))
        if i >= p.level - n_checks:  # checked: the careful line, and the work goes on from it
            verb = RECHECK_VERBS[int(rng.integers(len(RECHECK_VERBS)))]
            out += [f"Wait, let me {verb} step {STEP_LABELS[i]}).", work_line(i, v, op, k, right, CAREFUL)]
            written = right
        v = written
    out.append(f"The result is {v}.")
    return out, v


def chain_problems(n: int, levels: list[int], seed: int, distinct: bool = True) -> list[ChainProblem]:
    """``n`` problems with levels drawn uniformly from ``levels`` (deterministic in seed).

    With ``distinct`` (datasets) a problem never repeats, so problem ids stay unique;
    raises when the levels cannot hold ``n`` distinct problems.
    """
    bad = [lv for lv in levels if not 1 <= int(lv) <= len(STEP_LABELS)]
    if bad:
        raise ValueError(f"toy levels are numbers of operations from 1 to {len(STEP_LABELS)} "
                         f"(one step label each), got {bad}")
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    for _ in range(200 * n):
        p = random_chain(rng, int(levels[int(rng.integers(len(levels)))]))
        if distinct and p in seen:
            continue
        seen.add(p)
        out.append(p)
        if len(out) == n:
            return out
    raise ValueError(f"cannot draw {n} distinct toy problems of levels {levels}")


# ----------------------------------------------------------------------------------
# Tokenizer and model
# ----------------------------------------------------------------------------------

# a step label, an operation, a digit, a word, punctuation, whitespace (each with one leading space)
TOY_PIECES = r" ?[a-l]\)| ?[+\-*]\d| ?\d| ?[A-Za-z]+| ?[^\sA-Za-z0-9]+|\s+"
# the reflective toy's: a step label never takes its leading space, so ``b)`` is one token in the
# prompt, the work and the re-checks alike (the induction copy of its operation needs that)
REFLECTIVE_PIECES = r"[a-l]\)| (?=[a-l]\))| ?[+\-*]\d| ?\d| ?[A-Za-z]+| ?[^\sA-Za-z0-9]+|\s+"
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# the thinking variant's generation prompt opens the thinking, as DeepSeek-R1-Distill's does
CHATML_THINK_TEMPLATE = CHATML_TEMPLATE.replace("assistant\n' }}", "assistant\n<think>\n' }}")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@dataclass
class ToyConfig:
    """Everything that determines the toy model; written to ``toy_config.json``."""

    seed: int = 0
    train_problems: int = 40000
    levels: list[int] = field(default_factory=lambda: [2, 3, 4, 5, 6, 7, 8])
    # P(stop re-checking | k re-checks so far), normal prompt; greedy stops after 3
    stop_schedule: list[float] = field(default_factory=lambda: [0.25, 0.35, 0.45, 0.6, 0.8, 1.0])
    # the toy follows the official speed prompts only weakly (Marco-o1 in Table 2): shift
    speed_shift: dict = field(default_factory=lambda: {"fast": 0.1, "very_fast": 0.15,
                                                       "slow": -0.1})
    speed_prompt_fraction: float = 0.2
    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 512
    steps: int = 1200
    batch_size: int = 32
    lr: float = 3e-3
    warmup_steps: int = 60
    # the share of the steps over which the learning rate decays (cosine) after holding its peak;
    # 1.0 is a cosine over the whole run (see lr_factor)
    decay_fraction: float = 1.0
    threads: int = 2
    thinking: bool = False  # the thinking variant (see the module docstring)
    # the reflective toy (issue 16): the share of facts the hasty work gets wrong at step i is
    # error_rates[i] (SlipTable) and the re-checks can catch the slip; off by default here
    reflective: bool = False
    error_rates: list[float] = field(default_factory=lambda: [0, 0, 0, 0, 0, 0.3, 0.3, 0.3])


def slip_table(cfg: ToyConfig) -> SlipTable | None:
    """The reflective toy's slips (None for the plain toy, whose work is always right)."""
    return SlipTable(cfg.error_rates, cfg.seed + 3) if cfg.reflective else None


def training_corpus(cfg: ToyConfig) -> list[tuple[str, str]]:
    """(prompt text through the chat template, response) pairs for pre-training."""
    rng = np.random.default_rng(cfg.seed + 1)
    pairs = []
    speeds = sorted(cfg.speed_shift)
    slips = slip_table(cfg)
    for p in chain_problems(cfg.train_problems, cfg.levels, cfg.seed, distinct=False):
        speed = "normal"
        if rng.random() < cfg.speed_prompt_fraction:
            speed = speeds[int(rng.integers(len(speeds)))]
        shift = cfg.speed_shift.get(speed, 0.0)
        schedule = [min(1.0, max(0.0, q + shift)) for q in cfg.stop_schedule[:-1]] + [1.0]
        sol = long_thought_solution(p, rng, schedule, cfg.thinking, slips)
        family = "toy_think" if cfg.thinking else "default"
        pairs.append((render_chatml(messages(p.text, family, speed), cfg.thinking), sol))
    return pairs


def render_chatml(messages: list[dict], thinking: bool = False) -> str:
    """The chat template, rendered without a tokenizer (the toy's tokenizer uses the same)."""
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n" + (f"{THINK_OPEN}\n" if thinking else "")


def build_tokenizer(texts: list[str], vocab_size: int, thinking: bool = False,
                    pieces: str = TOY_PIECES):
    """Byte-level BPE with ChatML specials whose pieces keep arithmetic learnable.

    Pre-tokenization isolates every digit (with its leading space: `` 7``), every operation
    (`` +1``, ``-2``, ``*2``) and every step label (``b)``), so each becomes one token once BPE
    merges it; numbers never merge across digits. Words split as in GPT-2.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pieces), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token=None, unk_token=None,
        chat_template=CHATML_THINK_TEMPLATE if thinking else CHATML_TEMPLATE,
        model_max_length=4096, clean_up_tokenization_spaces=False,
    )
    if thinking:  # one token each, and not "special": decoded text keeps them (as R1's tokenizer)
        fast.add_tokens([THINK_OPEN, THINK_CLOSE])
    return fast


def build_model(cfg: ToyConfig, tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
    )
    return LlamaForCausalLM(config)


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_len: int):
    """Token ids and loss masks (response + eos only: the toy learns to answer, not to ask)."""
    prompts = tokenizer([p for p, _ in pairs], add_special_tokens=False)["input_ids"]
    responses = tokenizer([r for _, r in pairs], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    out = []
    for p, r in zip(prompts, responses):
        ids = (p + r + [eos])[:max_len]
        out.append((ids, len(p)))
    return out


def common_prefix(data: list[tuple[list[int], int]]) -> list[int]:
    """The token ids every example starts with (the system prompt and the user turn's opening),
    ending before the first response token of any example."""
    prefix = list(data[0][0][: min(n_prompt for _, n_prompt in data) - 1])
    for ids, _ in data:
        n = 0
        while n < len(prefix) and prefix[n] == ids[n]:
            n += 1
        del prefix[n:]
    return prefix


def shared_prefix_loss(model, prefix: list[int], input_ids, labels):
    """The causal-LM loss of ``model(input_ids, labels=labels).loss``, computed once for the
    ``prefix`` every row shares and on the response positions only.

    Causal attention makes the prefix's keys and values the same in every row, so they are computed
    for one row and broadcast (the gradient sums over the rows, as the full batch's would); the
    LM head and softmax run only where a label is (58 % of the positions). The same loss and
    gradient to float rounding (tests/test_toy.py); per step, measured side by side on the
    development CPU (Intel Xeon, 2 cores): 10 % less time than the full batch at 2 threads (the
    head; the prefix adds nothing there), 13 % at 1 thread.
    """
    import torch
    from transformers.cache_utils import DynamicCache

    P = len(prefix)
    if P == 0:
        return model(input_ids=input_ids, labels=labels).loss
    B, T = input_ids.shape
    cache = model.model(input_ids=torch.tensor([prefix]), use_cache=True).past_key_values
    cache = DynamicCache(ddp_cache_data=[(layer.keys.expand(B, -1, -1, -1), layer.values.expand(B, -1, -1, -1))
                                         for layer in cache.layers])
    positions = torch.arange(P, T).expand(B, -1)                                    # (B, T - P)
    hidden = model.model(input_ids=input_ids[:, P:], past_key_values=cache, use_cache=False,
                         position_ids=positions).last_hidden_state                  # (B, T - P, D)
    targets = labels[:, P + 1:]                                                     # (B, T - P - 1)
    keep = targets != -100
    logits = model.lm_head(hidden[:, :-1][keep])                                    # (N, V)
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def lr_factor(cfg: ToyConfig, step: int) -> float:
    """The learning rate at ``step`` as a share of ``cfg.lr``: a linear warmup, the peak held, then a
    cosine to 0 over the last ``decay_fraction`` of the steps.

    The build learns in two jumps, and the second (copying each step's operation from the prompt by
    its label, an induction copy) comes at a step that varies with the seed and the CPU (600 to
    1,500 of 2,000). Under a cosine over the whole run (the default, ``decay_fraction`` 1) a late
    jump meets a decayed rate and may not finish; holding the peak (0.25) helped that seed and hurt
    the others more (docs/toy.md), so it stays an option, measured, not the default.
    """
    decay_start = cfg.steps * (1 - cfg.decay_fraction)
    progress = max(0.0, step - decay_start) / max(1.0, cfg.steps - decay_start)
    return min(1.0, (step + 1) / cfg.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_toy(cfg: ToyConfig, output: Path, log=lambda s: print(s, flush=True)) -> dict:
    """Build tokenizer + model, train for ``cfg.steps`` steps, save an HF folder."""
    import torch

    t0 = time.time()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    pairs = training_corpus(cfg)
    tokenizer = build_tokenizer([p + r for p, r in pairs[:5000]] + list(SPEED_PROMPTS.values()),
                                cfg.vocab_size, cfg.thinking,
                                REFLECTIVE_PIECES if cfg.reflective else TOY_PIECES)
    model = build_model(cfg, tokenizer)
    data = encode_pairs(tokenizer, pairs, cfg.max_positions)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"toy: {len(data)} examples, {n_params / 1e6:.2f}M params, vocab {len(tokenizer)}")

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.98),
                            foreach=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s))
    rng = np.random.default_rng(cfg.seed + 2)
    prefix = common_prefix(data)
    pad = tokenizer.pad_token_id
    model.train()
    losses, n_tokens = [], 0
    batches: list = []
    for step in range(cfg.steps):
        if not batches:  # length-grouped batches: sort a megabatch so padding stays small
            mega = sorted((data[i] for i in rng.integers(len(data), size=8 * cfg.batch_size)),
                          key=lambda d: len(d[0]))
            batches = [mega[i: i + cfg.batch_size] for i in range(0, len(mega), cfg.batch_size)]
            rng.shuffle(batches)
        batch = batches.pop()
        width = max(len(ids) for ids, _ in batch)
        # right padding and no attention mask: with causal attention, padding after a
        # sequence cannot influence its tokens, and the unmasked path is the fast SDPA kernel
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)   # (B, T)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)     # (B, T)
        for b, (ids, n_prompt) in enumerate(batch):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            labels[b, n_prompt: len(ids)] = torch.tensor(ids[n_prompt:])
        loss = shared_prefix_loss(model, prefix, input_ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        n_tokens += sum(len(ids) for ids, _ in batch)
        if step % 25 == 0 or step == cfg.steps - 1:  # the mean of the last 25 steps: one batch is noisy
            log(f"toy: step {step:5d}/{cfg.steps} loss {np.mean(losses[-25:]):.4f} "
                f"{n_tokens / (time.time() - t0):.0f} tok/s")
    model.eval()
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    generation_config = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": pad,
                         "bos_token_id": model.config.bos_token_id}
    (output / "generation_config.json").write_text(json.dumps(generation_config, indent=2))
    tenth = max(1, cfg.steps // 10)
    info = {"config": asdict(cfg), "params": n_params, "final_loss": float(np.mean(losses[-50:])),
            # the mean loss of each tenth of the run: flat at the end when the build has converged
            "loss_by_tenth": [round(float(np.mean(losses[i: i + tenth])), 4)
                              for i in range(0, tenth * 10, tenth)],
            "train_tokens": n_tokens, "wall_s": round(time.time() - t0, 1)}
    (output / "toy_config.json").write_text(json.dumps(info, indent=2))
    return info


# ----------------------------------------------------------------------------------
# Procedural datasets for the workflow (train split + three eval splits)
# ----------------------------------------------------------------------------------

def toy_problems(n: int, levels: list[int], seed: int) -> list[dict]:
    """Problem records for a ``source: toy`` dataset (seed keeps splits disjoint in practice)."""
    return [{"problem": p.text, "answer": str(p.answer), "level": p.level}
            for p in chain_problems(n, levels, seed)]
