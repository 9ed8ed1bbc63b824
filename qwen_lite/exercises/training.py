"""Checker for chapter 16's coding exercise: write the next-token loss (transformers' ``ForCausalLMLoss``).

The reader writes ``shifted_loss(logits, labels) -> 0-d tensor``: position ``i``'s logits scored against
``labels[:, i + 1]``, labels of -100 ignored, the mean over the counted tokens of the whole batch, in float32.
The expected values come from :func:`qwen_lite.training.causal_lm_loss`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.training import IGNORE_INDEX, causal_lm_loss

__all__ = ["check_shifted_loss", "shifted_loss_cases"]


def shifted_loss_cases() -> list[Case]:
    """Hidden cases: one row; ignored labels; rows with different counts; bf16 logits; a fully ignored row."""
    generator = torch.Generator().manual_seed(16)

    def make(b, length, vocab, dtype=torch.float32):
        logits = torch.randn(b, length, vocab, generator=generator).to(dtype)
        labels = torch.randint(0, vocab, (b, length), generator=generator)
        return logits, labels

    cases = []
    logits, labels = make(1, 6, 10)
    cases.append(("one row, every label counts", logits, labels))
    logits, labels = make(1, 8, 12)
    labels[0, :3] = IGNORE_INDEX
    cases.append(("a prompt of 3 ignored labels", logits, labels))
    logits, labels = make(3, 7, 9)
    labels[0, :5] = IGNORE_INDEX  # row 0 counts 1 token, row 2 counts 6: a mean of row means is wrong
    labels[1, 2:4] = IGNORE_INDEX
    cases.append(("three rows counting 1, 4 and 6 tokens", logits, labels))
    logits, labels = make(2, 5, 11, torch.bfloat16)
    labels[1, :2] = IGNORE_INDEX
    cases.append(("bfloat16 logits (compute in float32)", logits, labels))
    logits, labels = make(2, 6, 7)
    labels[1] = IGNORE_INDEX
    cases.append(("a row that is all padding", logits, labels))
    return [Case(label, (logits, labels), causal_lm_loss(logits, labels)) for label, logits, labels in cases]


def check_shifted_loss(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(logits (b l vocab), labels (b l))`` on the hidden cases; True when every loss matches to 1e-5."""

    def as_float(logits, labels):
        out = fn(logits.clone(), labels.clone())
        if isinstance(out, torch.Tensor) and out.dim() != 0:
            return out  # shown as a shape error by check_cases
        return out if out is None else torch.as_tensor(out, dtype=torch.float32)

    return check_cases(as_float, shifted_loss_cases(), "shifted_loss", atol=1e-5, report=report)
