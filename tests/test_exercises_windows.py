"""The window-order checker accepts the package's get_window_index and rejects plausible mistakes."""

import torch
import torch.nn.functional as F
from einops import rearrange

from qwen_lite.exercises.windows import check_window_index, window_index_cases
from qwen_lite.vision import get_window_index


def run(fn):
    messages = []
    return check_window_index(fn, report=messages.append), messages


def written(grid_thw, window_size=112, patch_size=14, merge_size=2, inner="(sh sw)", offsets=True, side=None):
    """A learner's version; the keyword arguments let the tests swap in plausible mistakes."""
    side = side or window_size // patch_size // merge_size
    order, offset = [], 0
    for t, h, w in grid_thw.tolist():
        units = torch.arange(t * (h // merge_size) * (w // merge_size)).view(
            t, h // merge_size, w // merge_size
        )
        padded = F.pad(units, (0, -units.shape[2] % side, 0, -units.shape[1] % side), value=-1)
        windows = rearrange(padded, f"t (wh sh) (ww sw) -> (t wh ww) {inner}", sh=side, sw=side)
        order.append(windows[windows >= 0] + offset)
        offset += units.numel() if offsets else 0
    return torch.cat(order)


def test_accepts_the_package_function_and_a_written_one():
    expected = [f"window_index: all {len(window_index_cases())} hidden cases pass."]
    assert run(lambda g, window_size=112: get_window_index(g, window_size)[0]) == (True, expected)
    assert run(written)[0]


def test_rejects_units_read_column_by_column_inside_a_window():
    ok, messages = run(lambda g, window_size=112: written(g, window_size, inner="(sw sh)"))
    assert not ok and "values differ" in messages[0]


def test_rejects_unit_numbers_that_restart_for_each_image():
    ok, messages = run(lambda g, window_size=112: written(g, window_size, offsets=False))
    assert not ok and "two images" in messages[0]


def test_rejects_a_window_side_counted_in_patches():
    ok, messages = run(lambda g, window_size=112: written(g, window_size, side=window_size // 14))
    assert not ok and "values differ" in messages[0]


def test_rejects_ignoring_the_window_size_and_reports_a_starter_body():
    ok, messages = run(lambda g, window_size=112: written(g))
    assert not ok and "window_size=56" in messages[0]
    assert run(lambda g, window_size=112: None) == (
        False,
        ["window_index returned None: not attempted yet (replace the starter body)."],
    )
