"""The smart_resize checker accepts the package's function and rejects plausible mistakes."""

import math

from qwen_lite.exercises.pixels import check_smart_resize, smart_resize_cases
from qwen_lite.processing import smart_resize


def package(height, width, min_pixels, max_pixels):
    return smart_resize(height, width, min_pixels=min_pixels, max_pixels=max_pixels)


def run(fn):
    messages = []
    return check_smart_resize(fn, report=messages.append), messages


def written(height, width, min_pixels, max_pixels, rounding=round, shrink=math.floor):
    """A learner's version; ``rounding``/``shrink`` let the tests swap in plausible mistakes."""
    h, w = rounding(height / 28) * 28, rounding(width / 28) * 28
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = max(28, shrink(height / beta / 28) * 28), max(28, shrink(width / beta / 28) * 28)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / 28) * 28, math.ceil(width * beta / 28) * 28
    return h, w


def test_accepts_the_package_function_and_a_written_one():
    assert run(package) == (True, [f"smart_resize: all {len(smart_resize_cases())} hidden cases pass."])
    assert run(written)[0]


def test_rejects_round_half_up():
    ok, messages = run(lambda *a: written(*a, rounding=lambda v: math.floor(v + 0.5)))
    assert not ok and "2.5 rounds half-to-even" in messages[0]


def test_rejects_a_transposed_answer():
    ok, messages = run(lambda *a: written(*a)[::-1])
    assert not ok and "is wrong on" in messages[0]


def test_rejects_rounding_up_when_shrinking():
    ok, messages = run(lambda *a: written(*a, shrink=math.ceil))
    assert not ok and "above the default budget" in messages[0]


def test_rejects_ignoring_the_minimum_and_reports_a_starter_body():
    def no_minimum(height, width, min_pixels, max_pixels):
        return written(height, width, 0, max_pixels)

    ok, messages = run(no_minimum)
    assert not ok and "below the default minimum" in messages[0]
    assert run(lambda *a: None) == (
        False,
        ["smart_resize returned None: not attempted yet (replace the starter body)."],
    )
