"""The tokens chapter's checker accepts the processor's expansion and rejects plausible mistakes."""

import torch

from qwen_lite.exercises.tokens import check_expand_image_pads, expand_image_pads_cases

PAD = 151655


def expand(ids, grid, per_image=lambda g: int(g.prod()) // 4, first_grid_only=False):
    out, k = [], 0
    for token in ids:
        if token == PAD:
            out += [PAD] * per_image(grid[0 if first_grid_only else k])
            k += 1
        else:
            out.append(token)
    return out


def run(fn):
    messages = []
    return check_expand_image_pads(fn, report=messages.append), messages


def test_accepts_a_correct_expansion_as_a_list_or_a_tensor():
    assert run(expand) == (
        True,
        [f"expand_image_pads: all {len(expand_image_pads_cases())} hidden cases pass."],
    )

    def by_repeat_interleave(ids, grid):
        ids = torch.tensor(ids)
        repeats = torch.ones_like(ids)
        repeats[ids == PAD] = grid.prod(-1) // 4
        return ids.repeat_interleave(repeats)

    assert run(by_repeat_interleave)[0]


def test_rejects_one_pad_per_patch_instead_of_per_merged_unit():
    ok, messages = run(lambda ids, grid: expand(ids, grid, per_image=lambda g: int(g.prod())))
    assert not ok and "one 112 × 56 px image" in messages[0]


def test_rejects_an_off_by_one_and_reusing_the_first_grid():
    ok, messages = run(lambda ids, grid: expand(ids, grid, per_image=lambda g: int(g.prod()) // 4 + 1))
    assert not ok and "one 112 × 56 px image" in messages[0]
    ok, messages = run(lambda ids, grid: expand(ids, grid, first_grid_only=True))
    assert not ok and "two images of different sizes" in messages[0]


def test_rejects_adding_the_sides_and_reports_a_starter_body():
    ok, _ = run(lambda ids, grid: expand(ids, grid, per_image=lambda g: int(g[1]) // 2 + int(g[2]) // 2))
    assert not ok
    assert run(lambda ids, grid: None)[1] == [
        "expand_image_pads returned None: not attempted yet (replace the starter body)."
    ]
