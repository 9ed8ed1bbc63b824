"""The decoder chapter's mask checker accepts the package's mask and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.decoder import causal_mask_cases, check_causal_mask
from qwen_lite.text import attention_mask_4d


def package_mask(attention_mask, length):
    batch, total = attention_mask.shape
    return attention_mask_4d(attention_mask, batch, length, total - length, "cpu")


def _mask(attention_mask, length, strict=False, shift_by_past=True, padding=True):
    batch, total = attention_mask.shape
    past = total - length if shift_by_past else 0
    query = torch.arange(past, past + length)[:, None]
    key = torch.arange(total)[None, :]
    allowed = (key < query) if strict else (key <= query)
    mask = allowed[None, None].expand(batch, 1, length, total)
    return mask & attention_mask.bool()[:, None, None, :] if padding else mask


def run(fn):
    messages = []
    return check_causal_mask(fn, report=messages.append), messages


def test_accepts_the_package_function_and_a_written_out_solution():
    assert run(package_mask) == (True, [f"causal_mask: all {len(causal_mask_cases())} hidden cases pass."])
    assert run(_mask)[0]


def test_rejects_a_mask_that_hides_the_token_from_itself():
    ok, messages = run(lambda m, n: _mask(m, n, strict=True))
    assert not ok and "values differ" in messages[0]


def test_rejects_a_mask_that_forgets_the_cached_tokens():
    ok, messages = run(lambda m, n: _mask(m, n, shift_by_past=False))
    assert not ok and "one decode step after 4 cached tokens" in messages[0]


def test_rejects_a_mask_that_ignores_padding():
    ok, messages = run(lambda m, n: _mask(m, n, padding=False))
    assert not ok and "left-padded prefill" in messages[0]


def test_rejects_the_square_mask_of_a_cache_free_prefill():
    ok, messages = run(lambda m, n: torch.ones(n, n, dtype=torch.bool).tril()[None, None])
    assert not ok and "shape" in messages[0]


def test_reports_a_starter_body_as_not_attempted():
    assert run(lambda m, n: None) == (
        False,
        ["causal_mask returned None: not attempted yet (replace the starter body)."],
    )
