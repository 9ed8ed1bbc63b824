"""The M-RoPE position checker accepts the package's get_rope_index and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.mrope import IMAGE_PAD, VISION_START, check_rope_index, rope_index_cases
from qwen_lite.rope import get_rope_index


def run(fn):
    messages = []
    return check_rope_index(fn, report=messages.append), messages


def package(input_ids, image_grid_thw):
    position_ids, deltas = get_rope_index(input_ids[None], image_grid_thw=image_grid_thw)
    return position_ids[:, 0], int(deltas[0, 0])


def written(input_ids, image_grid_thw, merge=2, transpose=False, resume="largest"):
    """A learner's version; the keyword arguments swap in plausible mistakes."""
    ids = input_ids.tolist()
    grids = [] if image_grid_thw is None else image_grid_thw.tolist()
    columns, next_id, i, image = [], 0, 0, 0
    while i < len(ids):
        if ids[i] == IMAGE_PAD and i > 0 and ids[i - 1] == VISION_START:
            _, h, w = grids[image]
            h, w = h // merge, w // merge
            if transpose:
                h, w = w, h
            block = [(next_id, next_id + r, next_id + c) for r in range(h) for c in range(w)]
            columns += block
            i += h * w
            image += 1
            next_id = {"largest": max(max(p) for p in block) + 1, "count": next_id + h * w}[resume]
        else:
            columns.append((next_id,) * 3)
            next_id += 1
            i += 1
    position_ids = torch.tensor(columns).T
    return position_ids, int(position_ids.max()) + 1 - len(ids)


def test_accepts_the_package_function_and_a_written_one():
    expected = [f"rope_index: all {len(rope_index_cases())} hidden cases pass."]
    assert run(package) == (True, expected)
    assert run(written)[0]


def test_rejects_height_and_width_swapped():
    ok, messages = run(lambda ids, g: written(ids, g, transpose=True))
    assert not ok and "values differ" in messages[0]


def test_rejects_text_that_resumes_after_the_token_count():
    ok, messages = run(lambda ids, g: written(ids, g, resume="count"))
    assert not ok and "values differ" in messages[0]


def test_rejects_ids_in_patches_instead_of_merged_tokens():
    ok, messages = run(lambda ids, g: written(ids, g, merge=1))
    assert not ok


def test_reports_a_starter_body():
    assert run(lambda ids, g: None) == (
        False,
        ["rope_index returned None: not attempted yet (replace the starter body)."],
    )
