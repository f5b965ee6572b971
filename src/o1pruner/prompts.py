"""Prompt families: how a question becomes the prompt a reference model sees.

The paper's two families come from its official code (``o1_scripts/inference.py``): the
question goes in the user turn as ``Solve the problem: {question}{speed_prompt}`` under a
system prompt that asks for step-by-step thinking and a final ``\\boxed{}``; the
"Fast-solving prompt" baseline of Table 2 is the same with ``speed = fast``.

The families of the models people prune today follow their model cards:

- ``r1_distill`` (DeepSeek-R1-Distill-Qwen, DeepScaleR): no system prompt, the instruction
  "Please reason step by step, and put your final answer within \\boxed{}." in the user turn;
  the tokenizer's chat template (since the Distill models' tokenizer update) ends its generation
  prompt with ``<think>\\n``, so generation starts inside the thinking.
- ``qwen3`` (Qwen3 in thinking mode): the same user instruction (Qwen3's model card for math),
  no system prompt, the chat template called with ``enable_thinking=True`` (its default); the
  model opens ``<think>`` itself.
- ``toy_think``: the toy model's thinking variant (``o1pruner.toy.model``, ``thinking: true``), built
  like ``r1_distill``: its template opens ``<think>`` for the model.

Every prompt is rendered through the model's own chat template (``apply_chat_template``), so
the prompt string ends exactly where generation begins (a ``<think>`` the template inserts
included). Sampled evaluation uses each family's recommended sampling (``sampling``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from o1pruner.thinking import opens_thinking

MARCO_SYSTEM = ("You are a helpful assistant. You should think step-by-step and put your "
                "final answer within \\boxed{}.")
QWQ_SYSTEM = ("You are a helpful and harmless assistant. You are Qwen developed by Alibaba. "
              "You should think step-by-step and put your final answer within \\boxed{}.")
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
_BOXED_IN_TEMPLATE = BOXED_INSTRUCTION.replace("{", "{{").replace("}", "}}")  # str.format escapes


@dataclass(frozen=True)
class PromptFamily:
    system: str | None                     # None: no system turn (R1's recommendation)
    user_template: str                     # {question}, {speed_prompt}
    template_kwargs: dict = field(default_factory=dict)  # extra apply_chat_template kwargs
    # recommended sampling for sampled evaluation (temperature, top_p, top_k; -1 = off)
    sampling: dict = field(default_factory=lambda: {"temperature": 0.5, "top_p": 0.8, "top_k": -1})


PROMPT_FAMILIES: dict[str, PromptFamily] = {
    # Marco-o1 and any model without a family of its own (the toy model included)
    "default": PromptFamily(MARCO_SYSTEM, "Solve the problem: {question}{speed_prompt}"),
    "qwq": PromptFamily(QWQ_SYSTEM, "Solve the problem: {question}{speed_prompt}"),
    "r1_distill": PromptFamily(None, "{question}{speed_prompt}\n" + _BOXED_IN_TEMPLATE,
                               sampling={"temperature": 0.6, "top_p": 0.95, "top_k": -1}),
    "qwen3": PromptFamily(None, "{question}{speed_prompt}\n" + _BOXED_IN_TEMPLATE,
                          template_kwargs={"enable_thinking": True},
                          sampling={"temperature": 0.6, "top_p": 0.95, "top_k": 20}),
    "toy_think": PromptFamily(None, "Solve the problem: {question}{speed_prompt}"),
}
SYSTEM_PROMPTS = {name: f.system for name, f in PROMPT_FAMILIES.items()}

# speed prompts, appended to the question exactly as the official code does
SPEED_PROMPTS = {
    "normal": "",
    "fast": "\nBe confident. Solving this problem quickly with less pause, stop or reflection.",
    "very_fast": "\nThis is an easy problem. Please solve it qucikly without any pause, check "
                 "or reflection.",  # sic: the official prompt's spelling
    "slow": "\nThis problem is hard. So you need to think rigorously and do more "
            "verifications and checks until you are absolutely confident about your answer.",
}

# The official training set (o1_scripts/construct_dataset.py): Marco-o1's system prompt for
# BOTH models and the raw problem as the user turn, whatever prompt the samples were drawn with.
TRAINING_PROMPTS = ("sampling", "official")


def family(name: str) -> PromptFamily:
    if name not in PROMPT_FAMILIES:
        raise KeyError(f"unknown prompt family {name!r}; known: {sorted(PROMPT_FAMILIES)}")
    return PROMPT_FAMILIES[name]


def messages(question: str, family_name: str = "default", speed: str = "normal") -> list[dict]:
    """Chat messages for one question; ``family_name`` picks the system prompt and user turn."""
    fam = family(family_name)
    if speed not in SPEED_PROMPTS:
        raise KeyError(f"unknown speed prompt {speed!r}; known: {sorted(SPEED_PROMPTS)}")
    user = fam.user_template.format(question=question, speed_prompt=SPEED_PROMPTS[speed])
    system = [{"role": "system", "content": fam.system}] if fam.system is not None else []
    return system + [{"role": "user", "content": user}]


def render(tokenizer, question: str, family_name: str = "default", speed: str = "normal") -> str:
    """The prompt string the model sees, through its chat template, ready for generation."""
    return tokenizer.apply_chat_template(messages(question, family_name, speed), tokenize=False,
                                         add_generation_prompt=True,
                                         **family(family_name).template_kwargs)


def render_official_training(tokenizer, question: str, generation_prompt_of: str) -> str:
    """The official training prompt: Marco-o1's system prompt, the raw problem as the user turn.

    ``generation_prompt_of`` is the prompt the response was sampled with: if its template opened
    ``<think>`` for the model, the training prompt keeps that opening so the response (which
    starts inside the thinking) still follows its prompt exactly.
    """
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": MARCO_SYSTEM}, {"role": "user", "content": question}],
        tokenize=False, add_generation_prompt=True)

    if opens_thinking(generation_prompt_of) and not opens_thinking(text):
        text += generation_prompt_of[generation_prompt_of.rstrip().rfind("<think>"):]
    return text
