"""``vllm.inputs.TokensPrompt``: in vLLM a TypedDict, so a plain dict here."""


def TokensPrompt(prompt_token_ids: list[int]) -> dict:  # noqa: N802 - vLLM's name
    return {"prompt_token_ids": list(prompt_token_ids)}
