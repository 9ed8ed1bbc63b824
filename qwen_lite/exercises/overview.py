"""Checker for the introduction's *write code* exercise: how many tokens each image or video becomes.

The reader writes ``image_tokens(grid_thw, merge_size=2)``: for a ``(items 3)`` grid of ``(t, h, w)``
patches (``image_grid_thw`` or ``video_grid_thw``), the number of tokens each item contributes to the
language model, as a LongTensor ``(items,)``: every ``merge_size x merge_size`` patches of a frame slice
become one token, so ``t * h * w / merge_size**2``. The expected counts are the numbers of merged units
that :func:`qwen_lite.vision.get_window_index` orders for each item (the vision tower's own bookkeeping,
``get_window_index`` of transformers' ``modeling_qwen2_5_vl.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.vision import get_window_index

__all__ = ["check_image_tokens", "image_tokens_cases"]


def _case(label: str, grids: list[list[int]]) -> Case:
    grid_thw = torch.tensor(grids)
    expected = torch.tensor([len(get_window_index(grid_thw[i : i + 1])[0]) for i in range(len(grids))])
    return Case(label, (grid_thw.clone(),), expected)


def image_tokens_cases() -> list[Case]:
    """Hidden cases: the book's photo, two images of different sizes, a video of several frame slices."""
    return [
        _case("one image of 42 x 36 patches", [[1, 42, 36]]),
        _case("two images, 16 x 16 and 10 x 22 patches", [[1, 16, 16], [1, 10, 22]]),
        _case("a video of 3 slices of 8 x 12 patches, then an image", [[3, 8, 12], [1, 4, 6]]),
    ]


def check_image_tokens(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(grid_thw)`` on the hidden cases; ``True`` when every count is right.

    ``grid_thw``: LongTensor ``(items 3)``; expected: LongTensor ``(items,)``. Raises ``TypeError`` when
    ``fn`` is not callable; a wrong answer is reported, never raised.
    """
    return check_cases(fn, image_tokens_cases(), "image_tokens", report=report)
