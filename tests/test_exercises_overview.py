"""The introduction's checker accepts the token count and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.overview import check_image_tokens, image_tokens_cases


def run(fn):
    messages = []
    return check_image_tokens(fn, report=messages.append), messages


def test_accepts_the_formula():
    assert run(lambda g, merge_size=2: g.prod(-1) // merge_size**2) == (
        True,
        [f"image_tokens: all {len(image_tokens_cases())} hidden cases pass."],
    )


def test_rejects_counting_patches_instead_of_tokens():
    ok, messages = run(lambda g, merge_size=2: g.prod(-1))
    assert not ok and "one image of 42 x 36 patches" in messages[0]


def test_rejects_forgetting_the_frames_of_a_video():
    ok, messages = run(lambda g, merge_size=2: g[:, 1] * g[:, 2] // 4)
    assert not ok and "a video" in messages[0]


def test_rejects_one_total_instead_of_a_count_per_item():
    ok, messages = run(lambda g, merge_size=2: (g.prod(-1) // 4).sum().reshape(1))
    assert not ok and "two images" in messages[0] and "shape" in messages[0]


def test_reports_the_starter():
    assert run(lambda g, merge_size=2: None)[1] == [
        "image_tokens returned None: not attempted yet (replace the starter body)."
    ]
    assert torch.is_tensor(image_tokens_cases()[0].expected)
