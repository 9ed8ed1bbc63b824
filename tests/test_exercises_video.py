"""The frame-count checker accepts the package's smart_nframes and rejects plausible mistakes."""

import math

from qwen_lite.exercises.video import check_nframes, nframes_cases
from qwen_lite.video import smart_nframes


def run(fn):
    messages = []
    return check_nframes(fn, report=messages.append), messages


def written(
    total, video_fps, fps=2.0, min_frames=4, max_frames=768, even=True, cap_total=True, rounding=math.floor
):
    """A learner's version; the keyword arguments swap in plausible mistakes."""
    lo = math.ceil(min_frames / 2) * 2
    hi = math.floor(min(max_frames, total if cap_total else max_frames) / 2) * 2
    n = min(max(total / video_fps * fps, lo), hi)
    return rounding(n / 2) * 2 if even else int(n)


def test_accepts_the_package_function_and_a_written_one():
    expected = [f"nframes: all {len(nframes_cases())} hidden cases pass."]
    assert run(smart_nframes) == (True, expected)
    assert run(written)[0]


def test_rejects_a_count_that_is_not_floored_to_even():
    ok, messages = run(lambda *a, **k: written(*a, **k, even=False))
    assert not ok and "7 frames is odd" in messages[0]


def test_rejects_rounding_instead_of_flooring():
    ok, messages = run(lambda *a, **k: written(*a, **k, rounding=round))
    assert not ok


def test_rejects_a_maximum_that_ignores_the_clip_length():
    ok, messages = run(lambda *a, **k: written(*a, **k, cap_total=False))
    assert not ok and "3-frame clip" in messages[0]


def test_reports_a_starter_body():
    assert run(lambda *a, **k: None) == (
        False,
        ["nframes returned None: not attempted yet (replace the starter body)."],
    )
