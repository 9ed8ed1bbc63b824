"""Parameter counts and FLOP estimates, checked against meta-device models and explicit sums."""

from __future__ import annotations

import pytest
import torch

from qwen_lite import accounting as A
from qwen_lite import config as C
from qwen_lite.vision import get_cu_seqlens, get_window_index

PRESETS = {"3B": C.qwen25vl_3b, "7B": C.qwen25vl_7b, "72B": C.qwen25vl_72b, "tiny": C.tiny, "small": C.small}


@pytest.mark.parametrize("name", PRESETS)
def test_formulas_equal_meta_model(name):
    cfg = PRESETS[name]()
    assert A.parameter_counts(cfg) == A.measured_parameter_counts(cfg)


def test_meta_model_total_is_sum_of_numel():
    from qwen_lite.model import Qwen25VLForConditionalGeneration

    for cfg in (C.qwen25vl_3b(), C.qwen25vl_7b()):
        with torch.device("meta"):
            model = Qwen25VLForConditionalGeneration(cfg)
        numel = sum(p.numel() for p in model.parameters())  # a tied lm_head is yielded once
        assert sum(A.measured_parameter_counts(cfg).values()) == numel


def test_published_totals():
    total = {name: sum(A.parameter_counts(PRESETS[name]()).values()) for name in ("3B", "7B", "72B")}
    assert total["3B"] == 3_754_622_976  # "3.75B" on the model card
    assert total["7B"] == 8_292_166_656  # "8.29B"
    assert 73.3e9 < total["72B"] < 73.5e9  # "73.4B"


def test_vision_tower_exact():
    """Patch embed 1280*1176; 32 blocks of 19,702,200; merger 26.2M + 5120*out + out."""
    for cfg, merger in ((C.qwen25vl_3b(), 36_708_608), (C.qwen25vl_7b(), 44_574_464)):
        counts = A.parameter_counts(cfg)
        assert counts["patch_embed"] == 1280 * 1176
        assert counts["vision blocks (window attention)"] == 28 * 19_702_200
        assert counts["vision blocks (full attention)"] == 4 * 19_702_200
        assert counts["merger"] == merger
    vision = {n: sum(A.parameter_counts(PRESETS[n]())[k] for k in A.VISION_COMPONENTS) for n in PRESETS}
    assert (vision["3B"], vision["7B"], vision["72B"]) == (
        668_684_288,
        676_550_144,
        700_147_712,
    )  # the seed says "about 675M"


def test_tied_lm_head_counts_zero():
    assert A.parameter_counts(C.qwen25vl_3b())["lm_head"] == 0
    assert A.parameter_counts(C.qwen25vl_7b())["lm_head"] == 152064 * 3584


@pytest.mark.parametrize("grid", [[(1, 14, 22)], [(1, 16, 16), (2, 8, 12)], [(1, 4, 4)]])
def test_attention_pairs_match_the_real_segments(grid):
    """Sum of squared window / frame lengths equals the one computed from the vision tower's cu_seqlens."""
    v = C.VisionConfig()
    _, cu_window = get_window_index(torch.tensor(grid))
    assert A.window_sizes_squared(grid, v) == int((cu_window.diff().long() ** 2).sum())
    flops = A.forward_flops(C.qwen25vl_3b(), image_grid_thw=grid)
    full_sq = int((get_cu_seqlens(torch.tensor(grid)).diff().long() ** 2).sum())
    n = sum(t * h * w for t, h, w in grid)
    linear = 2 * n * (4 * 1280**2 + 3 * 1280 * 3420)
    assert flops["vision blocks (full attention)"] == 4 * (linear + 4 * 1280 * full_sq)


def test_flops_by_hand_for_text_only():
    cfg = C.qwen25vl_7b()
    flops = A.forward_flops(cfg, num_patches=0, text_length=10)
    h, kv, inter, layers = 3584, 4 * 128, 18944, 28
    assert flops["decoder MLP"] == layers * 2 * 10 * 3 * h * inter
    assert flops["decoder attention"] == layers * (2 * 10 * (2 * h * h + 2 * h * kv) + 4 * h * 100)
    assert flops["lm_head"] == 2 * 10 * h * 152064
    assert all(flops[k] == 0 for k in A.VISION_COMPONENTS)


def test_square_image_estimate_equals_exact_grid_when_windows_are_full():
    cfg = C.qwen25vl_3b()
    exact = A.forward_flops(cfg, text_length=7, image_grid_thw=[(1, 32, 32)])  # 448 px: 4x4 full windows
    assert A.forward_flops(cfg, num_patches=32 * 32, text_length=7) == exact


def test_table_rows():
    rows = A.accounting_table(C.qwen25vl_7b(), text_length=20, image_grid_thw=[(1, 36, 52)])
    assert [r["component"] for r in rows] == [*A.COMPONENTS, "total"]
    assert rows[-1]["params"] == 8_292_166_656
    assert rows[-1]["flops"] == sum(r["flops"] for r in rows[:-1])
    assert abs(sum(r["flops_share"] for r in rows[:-1]) - 1) < 1e-9
    text = A.format_table(rows)
    assert "decoder MLP" in text and "8292.2" in text
