"""Checker for the window-attention chapter's *write code* exercise: the window order of the units.

The reader writes ``window_index(grid_thw, window_size, patch_size, merge_size)``: the permutation
that lists the merged units (2×2 patch groups, numbered in processor order over all items) in window
order: per item and per temporal slice, the unit grid padded to whole windows, windows row by row,
units row by row inside each window, padding dropped. The expected values come from
:func:`qwen_lite.vision.get_window_index` (transformers' ``get_window_index`` in
``modeling_qwen2_5_vl.py``). The cases include edge windows, a size that divides into whole windows,
two images (unit numbers continue across items), a two-slice video and a smaller window.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.vision import get_window_index

__all__ = ["check_window_index", "window_index_cases"]


def _case(label: str, grid_thw: list[list[int]], window_size: int = 112) -> Case:
    expected = get_window_index(grid_thw, window_size=window_size)[0].long()
    return Case(label, (torch.tensor(grid_thw),), expected, {"window_size": window_size})


def window_index_cases() -> list[Case]:
    """Hidden cases; ``grid_thw`` rows are (t, h, w) in patches."""
    return [
        _case("a 308 × 196 px image (grid [1, 14, 22]): edge windows at the right and bottom", [[1, 14, 22]]),
        _case("a 224 × 224 px image (grid [1, 16, 16]): four whole windows", [[1, 16, 16]]),
        _case("a 168 × 280 px image (grid [1, 20, 12]): taller than wide", [[1, 20, 12]]),
        _case(
            "two images (grids [1, 4, 6] and [1, 10, 10]): unit numbers continue", [[1, 4, 6], [1, 10, 10]]
        ),
        _case("a 2-slice video (grid [2, 6, 10]): each slice is windowed on its own", [[2, 6, 10]]),
        _case(
            "a 196 × 140 px image with window_size=56 (2 × 2 units a window)", [[1, 10, 14]], window_size=56
        ),
    ]


def check_window_index(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(grid_thw, window_size=...)`` on the hidden cases; ``True`` when every order is right.

    ``grid_thw``: int64 tensor (items, 3) of (t, h, w) patch counts; ``window_size`` in pixels (the
    reader's function should default ``patch_size=14``, ``merge_size=2``). Expected: an integer tensor
    ``(units,)``, ``get_window_index(grid_thw, window_size)[0]``. Raises ``TypeError`` when ``fn`` is
    not callable.
    """
    return check_cases(fn, window_index_cases(), "window_index", report=report)
