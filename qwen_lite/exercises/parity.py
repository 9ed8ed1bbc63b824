"""Checker for the parity chapter's *write code* exercise: mapping parameter names back.

The reader writes ``released_key(name)``: a parameter name in either layout, the released
checkpoint's (``visual.*``, ``model.*``, ``lm_head.*``) or ``transformers``' in-memory one since
4.52 (``model.visual.*``, ``model.language_model.*``), to the released layout. Expected values come
from :func:`qwen_lite.weights.released_key`, the function the loader uses (``transformers``' own
mapping is ``_checkpoint_conversion_mapping`` in ``modeling_qwen2_5_vl.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.exercises import Case, check_cases
from qwen_lite.weights import released_key, transformers_key

__all__ = ["released_key_cases", "check_released_key"]

# Names of every kind in the released layout: vision tower, merger, decoder, final norm, head.
_RELEASED = (
    "visual.patch_embed.proj.weight",
    "visual.blocks.7.attn.qkv.bias",
    "visual.merger.mlp.2.weight",
    "model.embed_tokens.weight",
    "model.layers.12.self_attn.k_proj.bias",
    "model.layers.0.mlp.down_proj.weight",
    "model.norm.weight",
    "lm_head.weight",
)


def released_key_cases() -> list[Case]:
    """Hidden cases: each name in the transformers layout, then each already in the released layout."""
    cases = [
        Case(
            f"transformers' name {transformers_key(k)!r}",
            (transformers_key(k),),
            released_key(transformers_key(k)),
        )
        for k in _RELEASED
    ]
    cases += [
        Case(f"the released name {k!r} (already in that layout)", (k,), released_key(k)) for k in _RELEASED
    ]
    return cases


def check_released_key(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(name)`` on the hidden names; ``True`` when each maps to its released-layout name.

    A name already in the released layout must come back unchanged (the loader accepts both
    layouts). Raises ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, released_key_cases(), "released_key", report=report)
