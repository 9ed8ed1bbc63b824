"""Checker for the efficiency chapter's *write code* exercise: the attention FLOPs of a window block.

The reader writes ``window_attention_flops(grid_thw, hidden_size)``: the FLOPs of the two attention
products (``Q K^T`` and the weighted sum of ``V``, all heads together) of *one* window-attention
block of the vision tower, for one image or video of ``(t, h, w)`` patches, counting 2 FLOPs per
multiply-add. Inside a window of ``s`` patches the two products cost ``2 * 2 * s**2 * hidden_size``.
Windows are 112 px (8 x 8 patches) in the released models, smaller at the right and bottom edges,
one set per frame (``transformers``' ``get_window_index`` in ``modeling_qwen2_5_vl.py``). Expected
values come from :func:`qwen_lite.accounting.window_sizes_squared`, checked in the chapter against
the segment boundaries of :func:`qwen_lite.vision.get_window_index`.
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.accounting import window_sizes_squared
from qwen_lite.config import VisionConfig, qwen25vl_3b
from qwen_lite.exercises import Case, check_cases

__all__ = ["window_flops_cases", "check_window_attention_flops"]


def _case(label: str, grid: tuple[int, int, int], vision: VisionConfig) -> Case:
    expected = 4 * vision.hidden_size * window_sizes_squared([grid], vision)
    return Case(label, (grid, vision.hidden_size), expected)


def window_flops_cases(vision: VisionConfig | None = None) -> list[Case]:
    """Hidden cases: whole windows, edge windows, a small image, a two-step video (released tower)."""
    vision = vision or qwen25vl_3b().vision
    return [
        _case("a 448 x 448 image (whole windows only)", (1, 32, 32), vision),
        _case("a 728 x 504 image (edge windows on both sides)", (1, 36, 52), vision),
        _case("an 84 x 56 image (one window, smaller than 112 px)", (1, 4, 6), vision),
        _case("a video of 2 temporal steps, 336 x 196 px", (2, 14, 24), vision),
    ]


def check_window_attention_flops(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(grid_thw, hidden_size)`` on the hidden grids; ``True`` when every count is exact.

    ``grid_thw``: a tuple ``(t, h, w)`` in patches (h, w even); the answer is an int. Raises
    ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, window_flops_cases(), "window_attention_flops", report=report)
