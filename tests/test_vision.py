"""The vision tower against transformers (same weights, float32), plus properties of its attention.

The reference tests run against 4.57.6 and 5.x (scripts/test_reference.sh); tests/reference.py bridges their APIs.
"""

import dataclasses
from functools import cache

import pytest
import torch

from qwen_lite.config import VisionConfig, qwen25vl_3b, small, tiny
from qwen_lite.layers import RMSNorm, apply_rotary
from qwen_lite.shapes import ShapeError
from qwen_lite.trace import trace_shapes
from qwen_lite.vision import (
    PatchEmbed,
    VisionTransformer,
    attention_groups,
    get_cu_seqlens,
    get_window_index,
    vision_position_ids,
)
from tests.reference import hf_config, reference_vision, reference_vision_rotary, reference_window_index

PRESETS = {"tiny": tiny, "small": small}
ODD_IMAGE = [[1, 14, 22]]  # 196x308 px: 7x11 merged units, so the right and bottom windows are cut short


def random_tower(vision: VisionConfig, seed: int = 0) -> VisionTransformer:
    """A tower whose every weight (norms included) is random, so no parameter can hide."""
    torch.manual_seed(seed)
    tower = VisionTransformer(vision).eval()
    with torch.no_grad():
        for p in tower.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return tower


@cache
def our_tower(preset: str) -> VisionTransformer:
    """The qwen_lite tower of a preset config (random weights): the tests without transformers use it alone."""
    return random_tower(PRESETS[preset]().vision)


@cache
def towers(preset: str):
    """(qwen_lite tower, transformers tower with the same weights) for a preset config."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    config = PRESETS[preset]()
    ours = our_tower(preset)
    theirs = Qwen2_5_VisionTransformerPretrainedModel._from_config(hf_config(config).vision_config).eval()
    assert theirs.config._attn_implementation == "sdpa"
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


def pixels(grid, vision: VisionConfig, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    grid_thw = torch.tensor(grid)
    torch.manual_seed(seed)
    return torch.randn(int(grid_thw.prod(dim=1).sum()), vision.patch_dim), grid_thw


@pytest.mark.reference
@pytest.mark.parametrize(
    "preset, grid",
    [
        ("tiny", ODD_IMAGE),
        ("tiny", [[1, 14, 22], [1, 8, 8], [1, 4, 6], [1, 16, 10]]),  # several images, different sizes
        ("tiny", [[3, 12, 20]]),  # a video: 3 slices of 2 frames
        ("tiny", [[1, 6, 10], [2, 10, 8], [1, 18, 4]]),  # images and a video together
        ("small", [[1, 20, 18], [2, 8, 8]]),  # real head_dim 80
    ],
)
@torch.no_grad()
def test_matches_reference(preset, grid):
    ours, theirs = towers(preset)
    pixel_values, grid_thw = pixels(grid, ours.config)
    out = ours(pixel_values, grid_thw)
    assert out.shape == (pixel_values.shape[0] // 4, ours.config.out_hidden_size)
    torch.testing.assert_close(out, reference_vision(theirs, pixel_values, grid_thw), atol=1e-5, rtol=1e-5)


GRIDS = [ODD_IMAGE, [[1, 16, 16]], [[2, 8, 24], [1, 30, 2]], [[1, 2, 2], [3, 14, 22], [1, 34, 18]]]


@pytest.mark.reference
@pytest.mark.parametrize("grid", GRIDS)
def test_window_index_and_cu_seqlens_equal_reference(grid):
    _, theirs = towers("tiny")
    grid_thw = torch.tensor(grid)
    ref_index, ref_cu = reference_window_index(theirs, grid_thw)
    window_index, cu_window_seqlens = get_window_index(grid_thw)
    assert torch.equal(window_index, ref_index)
    assert torch.equal(cu_window_seqlens, ref_cu)
    # The full-attention segments, as the reference computes them in its forward.
    ref_full = torch.repeat_interleave(grid_thw[:, 1] * grid_thw[:, 2], grid_thw[:, 0]).cumsum(0)
    assert torch.equal(get_cu_seqlens(grid_thw), torch.nn.functional.pad(ref_full, (1, 0)).to(torch.int32))


def test_window_lengths_of_an_odd_image():
    _, cu = get_window_index(torch.tensor(ODD_IMAGE))
    assert cu.tolist() == [0, 64, 128, 176, 224, 272, 308]  # windows of 16, 16, 12, 12, 12, 9 units
    assert get_cu_seqlens(torch.tensor([[3, 4, 6], [1, 2, 2]])).tolist() == [0, 24, 48, 72, 76]


@pytest.mark.reference
def test_position_ids_and_rotary_equal_reference():
    ours, theirs = towers("small")
    grid_thw = torch.tensor([[2, 4, 6], [1, 14, 22]])
    ids = vision_position_ids(grid_thw)
    # The first 2x2 unit, then the next one to its right: rows come as a raster of 2x2 blocks.
    assert ids[:8].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3]]
    assert torch.equal(ids[:24], ids[24:48])  # the second temporal slice repeats the first
    cos, sin = ours.rotary(ids)
    ref_cos, ref_sin = reference_vision_rotary(theirs, grid_thw)
    assert cos.shape == (ids.shape[0], ours.config.head_dim) == (ids.shape[0], 80)
    assert torch.equal(cos, ref_cos)
    assert torch.equal(sin, ref_sin)


@torch.no_grad()
def test_patch_embed_is_a_linear_on_the_flat_patch():
    vision = tiny().vision
    torch.manual_seed(0)
    embed, x = PatchEmbed(vision), torch.randn(10, vision.patch_dim)
    torch.testing.assert_close(embed(x), x @ embed.proj.weight.flatten(1).T, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_images_do_not_see_each_other():
    ours = our_tower("tiny")
    (a, grid_a), (b, grid_b) = pixels([[1, 14, 22]], ours.config, 2), pixels([[2, 8, 6]], ours.config, 3)
    together = ours(torch.cat([a, b]), torch.cat([grid_a, grid_b]))
    alone = torch.cat([ours(a, grid_a), ours(b, grid_b)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("window", [True, False])
@torch.no_grad()
def test_one_block_mixes_only_within_its_attention_group(window):
    """Change one patch; after one block, exactly the merged tokens of its group may change."""
    vision = dataclasses.replace(tiny().vision, depth=1, fullatt_block_indexes=() if window else (0,))
    tower = random_tower(vision)
    grid = [[1, 14, 22], [2, 8, 8]]
    pixel_values, grid_thw = pixels(grid, vision)
    groups = attention_groups(grid_thw, window=window)
    token_groups = groups[::4]  # the four patches of a merged token share a group
    assert torch.equal(groups.view(-1, 4), token_groups[:, None].expand(-1, 4))
    patch = 37
    changed = pixel_values.clone()
    changed[patch] += 1.0
    moved = (tower(changed, grid_thw) != tower(pixel_values, grid_thw)).any(dim=1)
    inside = token_groups == groups[patch]
    assert not moved[~inside].any(), "a token outside the patch's attention group changed"
    others_inside = inside.clone()
    others_inside[patch // 4] = False
    assert moved[others_inside].any(), "no other token inside the group changed"


def test_attention_groups_sizes():
    window_groups = attention_groups(torch.tensor(ODD_IMAGE), window=True)
    assert torch.bincount(window_groups).tolist() == [64, 64, 48, 48, 48, 36]
    full_groups = attention_groups(torch.tensor([[2, 4, 6], [1, 2, 2]]), window=False)
    assert full_groups.tolist() == [0] * 24 + [1] * 24 + [2] * 4  # one group per 2-frame slice


@torch.no_grad()
def test_exactly_the_configured_blocks_attend_globally():
    """Replay each block on its captured inputs: a patch reaches another window iff the block is full."""
    ours = our_tower("tiny")  # fullatt_block_indexes = (1, 3)
    pixel_values, grid_thw = pixels([[1, 16, 16]], ours.config)  # 4 windows of 64 patches
    captured = {}
    hooks = [
        block.register_forward_pre_hook(lambda _, args, i=i: captured.__setitem__(i, args))
        for i, block in enumerate(ours.blocks)
    ]
    try:
        ours(pixel_values, grid_thw)
    finally:
        for hook in hooks:
            hook.remove()
    attends_globally = []
    for i, block in enumerate(ours.blocks):
        x, cos, sin, groups = captured[i]  # x is in window order: rows 0..63 are the first window
        changed = x.clone()
        changed[0] += 1.0
        moved = (block(changed, cos, sin, groups) != block(x, cos, sin, groups)).any(dim=1)
        assert moved[1:64].any()
        attends_globally.append(bool(moved[64:].any()))
    assert attends_globally == [i in ours.config.fullatt_block_indexes for i in range(len(ours.blocks))]
    assert attends_globally == [False, True, False, True]


@pytest.mark.reference
def test_builds_on_meta_with_the_released_names_and_shapes():
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    vision = qwen25vl_3b().vision
    with torch.device("meta"):
        ours = VisionTransformer(vision)
    hf_vision = hf_config(qwen25vl_3b()).vision_config
    with torch.device("meta"):
        theirs = Qwen2_5_VisionTransformerPretrainedModel._from_config(hf_vision)
    shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert all(p.is_meta for p in ours.parameters())
    assert shapes["patch_embed.proj.weight"] == (1280, 3, 2, 14, 14)
    assert shapes["merger.mlp.0.weight"] == (5120, 5120) and shapes["merger.mlp.2.weight"] == (2048, 5120)
    block = 2 * 1280 + (1280 * 3840 + 3840) + (1280 * 1280 + 1280) + 3 * 1280 * 3420 + 2 * 3420 + 1280
    merger = 1280 + (5120 * 5120 + 5120) + (5120 * 2048 + 2048)
    assert sum(p.numel() for p in ours.parameters()) == 1280 * 1176 + 32 * block + merger == 668_684_288


def test_trace_records_every_stage():
    ours = our_tower("tiny")
    pixel_values, grid_thw = pixels(ODD_IMAGE, ours.config)
    with trace_shapes() as trace, torch.no_grad():
        ours(pixel_values, grid_thw)
    stages = [row[0] for row in trace.rows]
    assert stages == [
        "patch_embed",
        "window reorder",
        "block 0 (window attention)",
        "block 1 (full attention)",
        "block 2 (window attention)",
        "block 3 (full attention)",
        "merger",
        "restore order",
    ]
    assert trace.rows[0][1:] == ((308, 1176), (308, 64))
    assert trace.rows[-1][2] == (77, 64)


@pytest.mark.parametrize(
    "pixel_values, grid, error, message",
    [
        (torch.zeros(308, 1000), ODD_IMAGE, ShapeError, r"pixel_values: expected shape \(n patch_dim\)"),
        (torch.zeros(308), ODD_IMAGE, ShapeError, "pixel_values: expected a 2-D tensor"),
        (torch.zeros(300, 1176), ODD_IMAGE, ShapeError, "describe 308 patches.*has 300 rows"),
        (torch.zeros(308, 1176), [1, 14, 22], ShapeError, "grid_thw: expected a 2-D tensor"),
        (torch.zeros(308, 1176), [[1.0, 14.0, 22.0]], TypeError, "grid_thw: expected an integer tensor"),
        (torch.zeros(105, 1176), [[1, 7, 15]], ValueError, "multiples of the spatial merge size 2"),
        (torch.zeros(0, 1176), [[0, 14, 22]], ValueError, "must all be >= 1"),
        (torch.zeros(308, 1176, dtype=torch.long), ODD_IMAGE, TypeError, "pixel_values: expected a floating"),
    ],
)
def test_bad_inputs_are_explained(pixel_values, grid, error, message):
    ours = our_tower("tiny")
    with pytest.raises(error, match=message):
        ours(pixel_values, torch.tensor(grid))


@pytest.mark.reference
def test_layers_match_reference_in_bfloat16():
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    torch.manual_seed(0)
    x = torch.randn(5, 3, 80, dtype=torch.bfloat16)
    ours, theirs = RMSNorm(80), Qwen2RMSNorm(80)
    with torch.no_grad():
        ours.weight.normal_()
        theirs.weight.copy_(ours.weight)
    assert torch.equal(ours(x), theirs(x))
    cos, sin = torch.randn(5, 80), torch.randn(5, 80)
    q_ref, k_ref = apply_rotary_pos_emb_vision(x, x * 2, cos, sin)
    assert torch.equal(apply_rotary(x, cos[:, None], sin[:, None]), q_ref)
    assert torch.equal(apply_rotary(x * 2, cos[:, None], sin[:, None]), k_ref)

    # The tower rotates q and k as one (2 n heads d) view of the qkv projection: same numbers.
    qkv = torch.randn(5, 3, 3, 80, dtype=torch.bfloat16).transpose(0, 1)  # (three n heads d), strided
    q_ref, k_ref = apply_rotary_pos_emb_vision(qkv[0], qkv[1], cos, sin)
    assert torch.equal(apply_rotary(qkv[:2], cos[:, None], sin[:, None]), torch.stack([q_ref, k_ref]))


def _rotate_by_formula(x, cos, sin, upcast):
    """``x * cos + rotate_half(x) * sin`` as written (the reference's formula), in float32 if ``upcast``."""
    from qwen_lite.layers import rotate_half

    xc = x.float() if upcast else x
    cos, sin = cos.to(xc.dtype), sin.to(xc.dtype)
    return (xc * cos + rotate_half(xc) * sin).to(x.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize("upcast", [True, False])
def test_apply_rotary_is_the_formula_bit_for_bit_with_and_without_autograd(dtype, upcast):
    """apply_rotary computes the halves without a negated copy or a concatenation (for speed); with
    autograd it takes a differentiable path. Both must be the formula's exact numbers."""
    torch.manual_seed(0)
    x = torch.randn(2, 7, 4, 16).to(dtype)
    cos, sin = torch.randn(7, 1, 16), torch.randn(7, 1, 16)
    want = _rotate_by_formula(x, cos, sin, upcast)
    with torch.no_grad():
        fast = apply_rotary(x, cos, sin, upcast=upcast)
    leaf = x.clone().requires_grad_(dtype.is_floating_point)
    differentiable = apply_rotary(leaf, cos, sin, upcast=upcast)
    assert fast.dtype == differentiable.dtype == dtype
    assert torch.equal(fast, want) and torch.equal(differentiable.detach(), want)
    # The gradient is the transposed rotation: check it against autograd through the formula.
    differentiable.square().sum().backward()
    formula_leaf = x.clone().requires_grad_()
    _rotate_by_formula(formula_leaf, cos, sin, upcast).square().sum().backward()
    torch.testing.assert_close(leaf.grad, formula_leaf.grad)


def test_apply_rotary_rejects_an_odd_last_dimension():
    x = torch.randn(3, 5)
    with pytest.raises(ValueError, match="last dimension of x must be even"):
        apply_rotary(x, torch.ones(3, 5), torch.zeros(3, 5))


def test_released_tower_traces_shapes_on_meta_device():
    """The book traces the real 32-block tower without memory: forward must run on `meta`."""
    from qwen_lite.config import qwen25vl_3b
    from qwen_lite.trace import trace_shapes

    with torch.device("meta"):
        tower = VisionTransformer(qwen25vl_3b().vision)
        pixel_values = torch.empty(36 * 42, 1176)
    with trace_shapes() as trace:
        out = tower(pixel_values, torch.tensor([[1, 36, 42]]))
    assert out.shape == (36 * 42 // 4, 2048) and out.device.type == "meta"
    stages = [row[0] for row in trace.rows]
    assert stages.count("block 7 (full attention)") == 1 and "block 8 (window attention)" in stages
    assert len([s for s in stages if s.startswith("block ")]) == 32
