"""Chapter 15's box_to_original checker accepts the package's map and rejects plausible mistakes."""

from qwen_lite.exercises.grounding import box_to_original_cases, check_box_to_original
from qwen_lite.grounding import Box, resized_size_for, to_original
from qwen_lite.processing import smart_resize


def package(bbox_2d, original_size, max_pixels):
    resized = resized_size_for(original_size, max_pixels=max_pixels)
    return to_original(Box(*bbox_2d), resized_size=resized, original_size=original_size).as_list()


def by_hand(bbox_2d, original_size, max_pixels, transpose=False, invert=False, round_half_up=False):
    """The reader's route: smart_resize (which takes and returns (height, width)), then one scale per axis."""
    width, height = original_size
    if round_half_up:  # floor(x / 28 + 0.5) * 28 instead of Python's round (wrong on .5 boundaries)
        rh, rw = (max(28, int(v / 28 + 0.5) * 28) for v in (height, width))
        if rh * rw > max_pixels or rh * rw < 3136:
            rh, rw = smart_resize(height, width, max_pixels=max_pixels)
    else:
        rh, rw = smart_resize(height, width, max_pixels=max_pixels)
    if transpose:  # read smart_resize's (height, width) as (width, height)
        rh, rw = rw, rh
    sx, sy = (rw / width, rh / height) if invert else (width / rw, height / rh)
    x1, y1, x2, y2 = bbox_2d
    return [x1 * sx, y1 * sy, x2 * sx, y2 * sy]


def run(fn):
    messages = []
    return check_box_to_original(fn, report=messages.append), messages


def test_accepts_the_package_and_a_written_out_solution():
    expected = f"box_to_original: all {len(box_to_original_cases())} hidden cases pass."
    assert run(package) == (True, [expected])
    assert run(by_hand)[0]


def test_rejects_a_transposed_resized_size():
    ok, messages = run(lambda b, s, m: by_hand(b, s, m, transpose=True))
    assert not ok and "the book's photo" in messages[0] and "392 x 476" in messages[0]


def test_rejects_the_inverted_scale():
    ok, messages = run(lambda b, s, m: by_hand(b, s, m, invert=True))
    assert not ok and "the book's photo" in messages[0]


def test_rejects_round_half_up():
    ok, messages = run(lambda b, s, m: by_hand(b, s, m, round_half_up=True))
    assert not ok and ".5 boundaries" in messages[0]


def test_rejects_the_unmapped_box_and_rounded_answers():
    assert not run(lambda b, s, m: list(b))[0]  # the resized pixels taken as the photo's
    ok, messages = run(lambda b, s, m: [round(v) for v in package(b, s, m)])
    assert not ok and "the book's photo" in messages[0]


def test_reports_a_starter_body_as_not_attempted():
    ok, messages = run(lambda b, s, m: None)
    assert not ok and "not attempted yet" in messages[0]
