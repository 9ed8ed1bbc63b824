"""Checker for the decoder chapter's *write code* exercise: the decoder's attention mask.

The reader writes ``causal_mask(attention_mask, length)``: which cached or new key each of the
``length`` new queries may read, when ``attention_mask`` (b, s) marks the real tokens (1) and the
padding (0) of all ``s = past + length`` columns. The expected masks come from
:func:`qwen_lite.text.attention_mask_4d`, the function the decoder itself uses (it mirrors the
causal-plus-padding mask of ``transformers``' ``masking_utils.create_causal_mask`` for
``Qwen2_5_VLTextModel``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.text import attention_mask_4d

__all__ = ["causal_mask_cases", "check_causal_mask"]


def _case(label: str, rows: list[list[int]], length: int) -> Case:
    attention_mask = torch.tensor(rows)
    batch, total = attention_mask.shape
    expected = attention_mask_4d(attention_mask, batch, length, total - length, "cpu")
    if expected is None:  # the package's fast path (plain causal, no padding): never chosen below
        raise AssertionError(f"case {label!r} would take the fast path; choose one with a mask")
    return Case(label, (attention_mask.clone(), length), expected)


def causal_mask_cases() -> list[Case]:
    """Hidden cases: a left-padded prefill, a decode step with padding, a chunk after a cache."""
    return [
        _case(
            "a left-padded prefill of 2 rows (length 5, nothing cached)",
            [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]],
            5,
        ),
        _case(
            "one decode step after 4 cached tokens, row 0 left-padded", [[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], 1
        ),
        _case("a chunk of 3 new tokens after 4 cached ones, no padding", [[1] * 7], 3),
        _case("a chunk of 2 new tokens after 3 cached ones, 2 of them padding", [[0, 0, 1, 1, 1]], 2),
    ]


def check_causal_mask(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(attention_mask, length)`` on the hidden cases; ``True`` when every mask is right.

    ``attention_mask``: LongTensor (b, s), 1 = real token, 0 = padding, over the ``s - length``
    cached columns and the ``length`` new ones. Expected: a bool tensor (b, 1, length, s), True where
    new query ``i`` (at position ``s - length + i``) may attend to key ``j``: ``j`` is not later than
    the query and is not padding. Raises ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, causal_mask_cases(), "causal_mask", report=report)
