"""The attention appendix's checker accepts correct attention and rejects plausible mistakes."""

import math

import torch
import torch.nn.functional as F

from qwen_lite.exercises.attention import attention_cases, block_diagonal_mask, check_attention
from qwen_lite.vision import get_cu_seqlens


def run(fn):
    messages = []
    return check_attention(fn, report=messages.append), messages


def by_hand(q, k, v, mask=None, scale=True, dim=-1, fill=float("-inf")):
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    return scores.softmax(dim) @ v


def test_accepts_torch_and_the_formula():
    assert run(lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)) == (
        True,
        [f"attention: all {len(attention_cases())} hidden cases pass."],
    )
    assert run(by_hand)[0]
    assert run(lambda q, k, v, mask=None: by_hand(q, k, v, mask, fill=-1e9))[0]  # a large negative also works


def test_rejects_a_missing_scale():
    ok, messages = run(lambda q, k, v, mask=None: by_hand(q, k, v, mask, scale=False))
    assert not ok and "attention is wrong on" in messages[0]


def test_rejects_softmax_over_the_queries():
    ok, messages = run(lambda q, k, v, mask=None: by_hand(q, k, v, mask, dim=-2))
    assert not ok and "attention is wrong on" in messages[0]


def test_rejects_an_inverted_or_ignored_mask():
    ok, messages = run(
        lambda q, k, v, mask=None: by_hand(q, k, v, None if mask is None else mask.logical_not())
    )
    assert not ok
    ok, messages = run(lambda q, k, v, mask=None: by_hand(q, k, v, None))
    assert not ok and "a causal mask" in messages[0]


def test_reports_a_starter_and_a_crash():
    assert run(lambda q, k, v, mask=None: None) == (
        False,
        ["attention returned None: not attempted yet (replace the starter body)."],
    )
    ok, messages = run(lambda q, k, v: by_hand(q, k, v))  # forgot the mask argument
    assert not ok and "raised TypeError" in messages[0]


def test_block_diagonal_mask_matches_the_towers_segments():
    cu = get_cu_seqlens(torch.tensor([[2, 4, 4]]))  # a 2-slice video: two segments of 16 patches
    mask = block_diagonal_mask(cu)
    assert (
        mask.shape == (32, 32) and mask[:16, :16].all() and mask[16:, 16:].all() and not mask[:16, 16:].any()
    )
