"""Checker for the attention appendix's *write code* exercise: scaled dot-product attention with a mask.

``attention(q, k, v, mask=None)``: ``q (heads l head_dim)``, ``k, v (heads s head_dim)``, ``mask``
``None`` or a bool ``(l s)`` tensor, ``True`` where query ``i`` may attend to key ``j`` (the convention of
``torch.nn.functional.scaled_dot_product_attention``'s boolean ``attn_mask``). Returns ``(heads l
head_dim)``: ``softmax(q k^T / sqrt(head_dim), masked keys at -inf) v`` (Vaswani et al. 2017, §3.2.1).

Expected values come from ``torch.nn.functional.scaled_dot_product_attention`` (what every attention of
``qwen_lite`` calls) and, for the case of independent segments, from
:func:`qwen_lite.vision.segment_attention`, the vision tower's windowed attention.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from qwen_lite.exercises import Case, check_cases
from qwen_lite.vision import group_segments, segment_attention

__all__ = ["attention_cases", "block_diagonal_mask", "check_attention"]


def block_diagonal_mask(cu_seqlens: torch.Tensor) -> torch.Tensor:
    """``(n n)`` bool: ``True`` where rows ``i`` and ``j`` lie in the same segment ``[cu[k], cu[k+1])``.

    ``cu_seqlens``: ``(segments+1,)`` integer boundaries starting at 0, as ``qwen_lite.vision.get_cu_seqlens``.
    """
    lengths = torch.as_tensor(cu_seqlens).long().diff()
    segment = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    return segment[:, None] == segment[None, :]


def _case(label: str, q, k, v, mask=None) -> Case:
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return Case(
        label, (q.clone(), k.clone(), v.clone()), expected, {"mask": None if mask is None else mask.clone()}
    )


def attention_cases() -> list[Case]:
    """Hidden cases: no mask, a causal mask, fewer queries than keys (decoding with a cache), a wide head
    (where the 1/sqrt(head_dim) scale matters), and independent segments (the vision tower's windows)."""
    g = torch.Generator().manual_seed(0)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    cases = [_case("2 heads, 3 tokens, no mask", randn(2, 3, 4), randn(2, 3, 4), randn(2, 3, 4))]
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    cases.append(_case("a causal mask over 5 tokens", randn(1, 5, 4), randn(1, 5, 4), randn(1, 5, 4), causal))
    # two new tokens after three cached ones: query i sits at position 3 + i and sees keys 0..3+i
    cached = torch.ones(2, 5, dtype=torch.bool).tril(diagonal=3)
    cases.append(
        _case("2 new queries over 5 keys (3 cached)", randn(3, 2, 4), randn(3, 5, 4), randn(3, 5, 4), cached)
    )
    cases.append(_case("a head of width 64", randn(1, 4, 64), randn(1, 4, 64), randn(1, 4, 64, scale=2.0)))
    # segments [0, 3) and [3, 7): expected from the vision tower's own segment attention
    cu = torch.tensor([0, 3, 7])
    q, k, v = randn(2, 7, 8), randn(2, 7, 8), randn(2, 7, 8)
    expected = segment_attention(*(x.transpose(0, 1) for x in (q, k, v)), group_segments(cu)).transpose(0, 1)
    cases.append(
        Case("two segments of 3 and 4 tokens", (q, k, v), expected, {"mask": block_diagonal_mask(cu)})
    )
    return cases


def check_attention(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(q, k, v, mask=...)`` on the hidden cases; ``True`` when every output is right (within 1e-5).

    Raises ``TypeError`` when ``fn`` is not callable; a wrong answer is reported, never raised.
    """
    return check_cases(fn, attention_cases(), "attention", atol=1e-5, report=report)
