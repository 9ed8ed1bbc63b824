"""The 2-D rotary checker accepts the package's rotation and rejects plausible mistakes."""

import torch
from einops import rearrange

from qwen_lite.exercises.rotary import check_vision_rotary, vision_rotary_cases
from qwen_lite.vision import VisionRotaryEmbedding, vision_position_ids


def run(fn):
    messages = []
    return check_vision_rotary(fn, report=messages.append), messages


def written(grid_thw, head_dim=80, theta=10000.0, blocks=True, swap=False, quarter=True):
    """A learner's version; the keyword arguments swap in plausible mistakes."""
    ids = []
    for t, h, w in grid_thw.tolist():
        rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        grid = torch.stack([cols, rows] if swap else [rows, cols], dim=-1)
        pattern = "(bh mh) (bw mw) two -> (bh bw mh mw) two" if blocks else "h w two -> (h w) two"
        sizes = {"mh": 2, "mw": 2} if blocks else {}
        ids.append(rearrange(grid, pattern, **sizes).repeat(t, 1))
    ids = torch.cat(ids).float()
    dim = head_dim // 2 if quarter else head_dim
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2).float() / dim)
    angles = torch.cat([ids[:, :1] * inv_freq, ids[:, 1:] * inv_freq], dim=-1)[:, : head_dim // 2]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def test_accepts_the_package_rotation_and_a_written_one():
    expected = [f"vision_rotary: all {len(vision_rotary_cases())} hidden cases pass."]
    assert run(lambda g, head_dim=80: VisionRotaryEmbedding(head_dim)(vision_position_ids(g))) == (
        True,
        expected,
    )
    assert run(written)[0]


def test_rejects_raster_order_instead_of_2x2_blocks():
    ok, messages = run(lambda g, head_dim=80: written(g, head_dim, blocks=False))
    assert not ok and "values differ" in messages[0]


def test_rejects_row_and_column_swapped():
    ok, messages = run(lambda g, head_dim=80: written(g, head_dim, swap=True))
    assert not ok and "values differ" in messages[0]


def test_rejects_frequencies_computed_over_the_whole_head():
    ok, messages = run(lambda g, head_dim=80: written(g, head_dim, quarter=False))
    assert not ok and "values differ" in messages[0]


def test_reports_a_starter_body():
    assert run(lambda g, head_dim=80: None) == (
        False,
        ["vision_rotary returned None: not attempted yet (replace the starter body)."],
    )
