"""Prompts of the paper's official code (o1_scripts/inference.py), selectable per method.

The question goes in the user turn as ``Solve the problem: {question}{speed_prompt}``
under a system prompt that asks for step-by-step thinking and a final ``\\boxed{}``;
the "Fast-solving prompt" baseline of Table 2 is the same with ``speed = fast``.
Prompts are rendered through the model's own chat template (``apply_chat_template``).
"""

from __future__ import annotations

SYSTEM_PROMPTS = {
    # Marco-o1 and any model without a family of its own (the toy model included)
    "default": "You are a helpful assistant. You should think step-by-step and put your "
               "final answer within \\boxed{}.",
    "qwq": "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. "
           "You should think step-by-step and put your final answer within \\boxed{}.",
}

# speed prompts, appended to the question exactly as the official code does
SPEED_PROMPTS = {
    "normal": "",
    "fast": "\nBe confident. Solving this problem quickly with less pause, stop or reflection.",
    "very_fast": "\nThis is an easy problem. Please solve it qucikly without any pause, check "
                 "or reflection.",  # sic: the official prompt's spelling
    "slow": "\nThis problem is hard. So you need to think rigorously and do more "
            "verifications and checks until you are absolutely confident about your answer.",
}
USER_TEMPLATE = "Solve the problem: {question}{speed_prompt}"


def messages(question: str, family: str = "default", speed: str = "normal") -> list[dict]:
    """Chat messages for one question; ``family`` picks the system prompt."""
    if family not in SYSTEM_PROMPTS:
        raise KeyError(f"unknown prompt family {family!r}; known: {sorted(SYSTEM_PROMPTS)}")
    if speed not in SPEED_PROMPTS:
        raise KeyError(f"unknown speed prompt {speed!r}; known: {sorted(SPEED_PROMPTS)}")
    user = USER_TEMPLATE.format(question=question, speed_prompt=SPEED_PROMPTS[speed])
    return [{"role": "system", "content": SYSTEM_PROMPTS[family]},
            {"role": "user", "content": user}]


def render(tokenizer, question: str, family: str = "default", speed: str = "normal") -> str:
    """The prompt string the model sees, through its chat template, ready for generation."""
    return tokenizer.apply_chat_template(messages(question, family, speed), tokenize=False,
                                         add_generation_prompt=True)
