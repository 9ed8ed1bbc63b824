"""Checker for chapter 15's *write code* exercise: a Qwen2.5-VL box back onto the original photo.

``box_to_original(bbox_2d, original_size, max_pixels)``: ``bbox_2d`` is ``[x1, y1, x2, y2]`` in pixels of
the resized image the model saw; ``original_size`` is ``(width, height)`` of the photo (PIL's
``image.size``); ``max_pixels`` the budget of the processor that prepared the prompt (``min_pixels`` at its
default). Returns ``[x1, y1, x2, y2]`` in pixels of the original photo, as floats (not rounded).

Expected values come from the package: :func:`qwen_lite.grounding.resized_size_for` (i.e.
:func:`qwen_lite.processing.smart_resize`) and :func:`qwen_lite.grounding.to_original`.
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.exercises import Case, check_cases
from qwen_lite.grounding import Box, resized_size_for, to_original
from qwen_lite.processing import MAX_PIXELS, RELEASED_MAX_PIXELS

__all__ = ["box_to_original_cases", "check_box_to_original"]


def _case(what: str, bbox_2d: list, original_size: tuple, max_pixels: int) -> Case:
    resized = resized_size_for(original_size, max_pixels=max_pixels)
    expected = to_original(Box(*bbox_2d), resized_size=resized, original_size=original_size).as_list()
    w, h = original_size
    label = (
        f"{what}, {w} x {h} (w x h) at max_pixels={max_pixels} (the model saw {resized[0]} x {resized[1]})"
    )
    return Case(label, (list(bbox_2d), tuple(original_size), max_pixels), expected)


def box_to_original_cases() -> list[Case]:
    """Hidden cases: the book's photo at a small budget (not square, so a transposed size shows), an odd
    wide image, sides on smart_resize's .5 rounding boundaries, a tiny image the resize scales *up*, and a
    large photo at the released budget."""
    return [
        _case("the book's photo", [120, 110, 280, 260], (512, 600), 28 * 28 * 256),
        _case("a wide image", [0, 10, 700, 300], (1001, 333), MAX_PIXELS),
        _case(
            "sides on .5 boundaries (70 = 2.5 x 28, 98 = 3.5 x 28)", [14, 28, 42, 84], (70, 98), MAX_PIXELS
        ),
        _case("a tiny icon, scaled up to min_pixels", [5, 5, 50, 40], (40, 30), MAX_PIXELS),
        _case("a large photo", [1000, 500, 2000, 2500], (4000, 3000), RELEASED_MAX_PIXELS),
    ]


def check_box_to_original(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(bbox_2d, original_size, max_pixels)`` on the hidden cases; ``True`` when every box is right
    (within 1e-6 px). Raises ``TypeError`` when ``fn`` is not callable; a wrong answer is reported, never raised.
    """
    return check_cases(fn, box_to_original_cases(), "box_to_original", atol=1e-6, report=report)
