"""Golden cases for ``cache_steps.js`` (what each generation step computes), from ``generate`` itself.

:func:`recorded_steps` runs :func:`qwen_lite.generation.generate` on the ``tiny()`` model (random
weights, text-only prompt) and records, for every forward pass it makes, how many tokens it was fed
(the queries computed) and how many keys/values the cache already held: the package's behaviour, not
a second description of it.
"""

from __future__ import annotations

import functools
import random

import torch

from ... import config as C
from ...generation import generate
from ...model import Qwen25VLForConditionalGeneration


@functools.lru_cache(maxsize=1)
def _model():
    torch.manual_seed(0)
    return Qwen25VLForConditionalGeneration(C.tiny()).eval()


def recorded_steps(prompt_len: int, steps: int, use_cache: bool) -> list[dict]:
    """``stepWork`` fields of each of the ``steps + 1`` forward passes of a generation of ``steps + 1`` tokens."""
    model = _model()
    seen = []

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        cache = kwargs.get("past_key_values")
        seen.append((ids.shape[1], 0 if cache is None else cache.get_seq_length()))

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        prompt = torch.randint(
            10,
            model.config.text.vocab_size - 10,
            (1, prompt_len),
            generator=torch.Generator().manual_seed(prompt_len),
        )
        with torch.no_grad():
            generate(model, prompt, max_new_tokens=steps + 1, eos_token_id=[], use_cache=use_cache)
    finally:
        handle.remove()
    return [
        {"step": s, "length": prompt_len + s, "queryFirst": cached, "queryCount": fed, "cached": cached}
        for s, (fed, cached) in enumerate(seen)
    ]


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """``generationSteps`` for ``n`` random (prompt length, steps, cache on/off), plus a one-token prompt."""
    settings = [(1, 3, True), (1, 3, False), (12, 6, True), (12, 6, False)]
    settings += [(rng.randint(1, 40), rng.randint(0, 8), rng.random() < 0.5) for _ in range(n)]
    cases = []
    for prompt_len, steps, use_cache in settings:
        expected = recorded_steps(prompt_len, steps, use_cache)
        cases.append(
            {
                "label": f"prompt {prompt_len}, {steps} decode steps, use_cache={use_cache}",
                "fn": "generationSteps",
                "args": [prompt_len, steps, use_cache],
                "expected": expected,
            }
        )
        cases.append(
            {
                "label": f"total for prompt {prompt_len}, {steps} steps, use_cache={use_cache}",
                "fn": "totalComputed",
                "args": [prompt_len, steps, use_cache],
                "expected": sum(s["queryCount"] for s in expected),
            }
        )
    return cases
