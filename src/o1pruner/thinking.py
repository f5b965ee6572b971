"""Thinking and answer: the two parts of a long-thought model's response.

R1-style models (DeepSeek-R1-Distill, Qwen3 in thinking mode, the toy's thinking variant) write
``<think> ... </think>`` and then a short answer. The chat template of some of them opens
``<think>`` in the prompt, so the response holds only the closing tag. Rules (one home, used by
sampling, grading and evaluation):

- a response with ``</think>``: thinking = the text up to and including the LAST ``</think>``,
  answer = the text after it;
- thinking opened (a ``<think>`` in the response, or the prompt ends inside ``<think>``) and never
  closed: all of it is thinking, there is no answer (such a response was cut at ``max_tokens``);
- no think tags at all: the whole response is the answer (models that don't think).
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class Parts:
    thinking: str
    answer: str | None   # None: thinking never closed, so no answer
    closed: bool


def opens_thinking(prompt: str | None) -> bool:
    """Whether generation after ``prompt`` starts inside a thinking block (R1's template)."""
    if not prompt:
        return False
    tail = prompt.rstrip()
    return tail.endswith(THINK_OPEN)


def split(response: str, prompt: str | None = None) -> Parts:
    """Thinking and answer of one response (see the module docstring)."""
    response = response or ""
    end = response.rfind(THINK_CLOSE)
    if end >= 0:
        cut = end + len(THINK_CLOSE)
        return Parts(response[:cut], response[cut:], True)
    if THINK_OPEN in response or opens_thinking(prompt):
        return Parts(response, None, False)
    return Parts("", response, False)


def thinking_token_count(tokenizer, ids: list[int], thinking: str) -> int:
    """How many of the generated token ids ``ids`` the thinking part takes: the shortest prefix
    whose decoded text covers ``thinking`` (binary search, ~log2(len) decodes)."""
    if not thinking:
        return 0
    target = len(thinking)
    lo, hi = 0, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(tokenizer.decode(ids[:mid], skip_special_tokens=False)) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo
