"""Checker for the pixels chapter's *write code* exercise: the size an image is resized to.

The reader writes ``smart_resize(height, width, min_pixels, max_pixels)``: the ``(height, width)``
the processor resizes an image to, both multiples of 28 (patch 14 × merge 2), the area held inside
``[min_pixels, max_pixels]``. The expected sizes come from :func:`qwen_lite.processing.smart_resize`
(the arithmetic of transformers' ``qwen2_vl/image_processing_qwen2_vl.py`` and qwen-vl-utils). The
hidden cases cover each step: a side that rounds half-to-even, an image within the budget, one above
it (shrink, round down), one below it (grow, round up), and a wide one where height and width differ
a lot (a transposed answer shows).
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.exercises import Case, check_cases
from qwen_lite.processing import MAX_PIXELS, MIN_PIXELS, smart_resize

__all__ = ["check_smart_resize", "smart_resize_cases"]


def _case(
    label: str, height: int, width: int, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> Case:
    expected = smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)
    return Case(label, (height, width, min_pixels, max_pixels), expected)


def smart_resize_cases() -> list[Case]:
    """Hidden cases, (height, width) in pixels; expected values from the package's ``smart_resize``."""
    return [
        _case("a 600 × 512 px photo (w × h = 512 × 600), within the default budget", 600, 512),
        _case("a 560 × 70 px strip (70 / 28 = 2.5 rounds half-to-even)", 70, 560),
        _case("a 6000 × 4000 px photo, above the default budget", 4000, 6000),
        _case("a 30 × 20 px icon, below the default minimum", 20, 30),
        _case("a 1920 × 1080 px frame with the released budget", 1080, 1920, max_pixels=12_845_056),
        _case("a 900 × 300 px banner with a small budget of 80 tokens", 300, 900, max_pixels=28 * 28 * 80),
    ]


def check_smart_resize(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(height, width, min_pixels, max_pixels)`` on the hidden cases; ``True`` when all are right.

    Expected: a pair ``(height, width)`` of ints, in that order (tensor axes order, not w × h), equal to
    :func:`qwen_lite.processing.smart_resize`. Raises ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, smart_resize_cases(), "smart_resize", report=report)
