"""M-RoPE positions (get_rope_index) and rotary tables against transformers and hand-written values.

Runs against the pinned 4.57.6 and against 5.x (scripts/test_reference.sh). Inputs here are ones where the two
versions agree; where they disagree (text after a long video, fractional seconds per grid, pads, the deltas'
convention) tests/test_reference_versions.py checks each against book/data/version_differences.json.
"""

from __future__ import annotations

import pytest
import torch

from qwen_lite.config import TextConfig, VisionConfig, tiny
from qwen_lite.layers import apply_rotary
from qwen_lite.rope import MRoPE, decode_position_ids, get_rope_index, multimodal_rotary
from tests.reference import hf_config, hf_model, no_init_weights, reference_mrope, reference_rope_index

CFG = tiny()
VS, VE = CFG.vision_start_token_id, CFG.vision_end_token_id
IMG, VID = CFG.image_token_id, CFG.video_token_id


def block(token: int, grid_thw) -> list[int]:
    """<|vision_start|>, one pad per merged token of the grid, <|vision_end|>."""
    t, h, w = grid_thw
    return [VS] + [token] * (t * h * w // 4) + [VE]


def ours(input_ids, **kwargs):
    return get_rope_index(
        input_ids,
        spatial_merge_size=CFG.vision.spatial_merge_size,
        tokens_per_second=CFG.vision.tokens_per_second,
        image_token_id=IMG,
        video_token_id=VID,
        vision_start_token_id=VS,
        **kwargs,
    )


@pytest.fixture(scope="module")
def reference():
    with no_init_weights():  # only get_rope_index is used: no weights needed
        return hf_model(CFG).model  # Qwen2_5_VLModel: its get_rope_index reads the config's token ids


def assert_same_as_reference(reference, input_ids, **kwargs):
    """Same positions at every real token, and the same position for the first generated token.

    Under 4.57 also the raw tensors (pads at 1, deltas relative to the padded length, as ours); 5.x puts
    pads at 0 and makes deltas relative to the unpadded length (catalogued differences, no effect on logits).
    """
    from tests.reference import TF5

    positions, deltas = ours(input_ids, **kwargs)
    ref = reference_rope_index(reference, input_ids, **kwargs)
    real = kwargs.get("attention_mask", torch.ones_like(input_ids)).bool()
    assert torch.equal(positions[:, real], ref.positions[:, real])
    assert torch.equal(input_ids.shape[1] + deltas[:, 0], ref.next_positions)
    if not TF5:
        assert torch.equal(positions, ref.positions) and torch.equal(deltas, ref.deltas)
    return positions, deltas


@pytest.mark.reference
def test_text_only_matches_reference_and_is_arange(reference):
    ids = torch.randint(0, 1000, (2, 7))
    positions, deltas = assert_same_as_reference(reference, ids)
    assert torch.equal(positions, torch.arange(7).expand(3, 2, 7))
    assert deltas.tolist() == [[0], [0]]
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1] * 7])
    positions, deltas = assert_same_as_reference(reference, ids, attention_mask=mask)
    assert positions[0, 0].tolist() == [1, 1, 0, 1, 2, 3, 4] and deltas.tolist() == [[-2], [0]]


@pytest.mark.reference
def test_one_image_matches_reference(reference):
    grid = torch.tensor([[1, 4, 6]])  # 2 x 3 merged tokens
    ids = torch.tensor([[5, 6] + block(IMG, grid[0]) + [7, 8, 9]])
    positions, deltas = assert_same_as_reference(reference, ids, image_grid_thw=grid)
    # An image: temporal id constant, all three axes start at the same offset (2 text + vision_start).
    image = positions[:, 0, 3:9]
    assert image[0].tolist() == [3] * 6
    assert image[1].tolist() == [3, 3, 3, 4, 4, 4] and image[2].tolist() == [3, 4, 5, 3, 4, 5]
    assert positions[0, 0, 9:].tolist() == [6, 7, 8, 9]  # vision_end at max + 1, then text
    assert deltas.item() == 10 - 13


@pytest.mark.reference
def test_two_images_of_different_sizes_match_reference(reference):
    grid = torch.tensor([[1, 4, 6], [1, 6, 2]])
    ids = torch.tensor([[1] + block(IMG, grid[0]) + [2, 3] + block(IMG, grid[1]) + [4]])
    assert_same_as_reference(reference, ids, image_grid_thw=grid)


@pytest.mark.reference
def test_video_then_image_with_one_second_interval_matches_reference(reference):
    # 2 grids of 2 x 3 merged tokens: temporal ids 0, 2 never pass the spatial extent 3, so 4.57 and 5.x agree
    # on where the text after the video starts (a longer video: catalogue entry text_after_long_video).
    video, image = torch.tensor([[2, 4, 6]]), torch.tensor([[1, 2, 4]])
    ids = torch.tensor([[1, 2] + block(VID, video[0]) + [3] + block(IMG, image[0]) + [4, 5]])
    kwargs = dict(image_grid_thw=image, video_grid_thw=video, second_per_grid_ts=torch.tensor([1.0]))
    positions, _ = assert_same_as_reference(reference, ids, **kwargs)
    assert positions[0, 0, 3:15:6].tolist() == [3, 5]  # 1 s per grid x 2 ticks/s
    assert positions[:, 0, 15].tolist() == [6, 6, 6]  # vision_end: max(5, 4, 5) + 1


@pytest.mark.reference
def test_left_padded_batch_matches_reference(reference):
    image, video = torch.tensor([[1, 4, 4]]), torch.tensor([[2, 4, 6]])
    rows = [[1, 2] + block(IMG, image[0]) + [3], [9] + block(VID, video[0]) + [8, 7]]
    pads = [20 - len(row) for row in rows]  # both rows padded (11 and 3 pads)
    ids = torch.tensor([[0] * p + row for p, row in zip(pads, rows)])
    mask = (torch.arange(ids.shape[1]) >= torch.tensor(pads)[:, None]).long()
    kwargs = dict(image_grid_thw=image, video_grid_thw=video, second_per_grid_ts=torch.tensor([1.0]))
    positions, deltas = assert_same_as_reference(reference, ids, attention_mask=mask, **kwargs)
    # Each row's positions are those of the row alone, unpadded.
    alone, _ = ours(ids[:1, pads[0] :], image_grid_thw=image)
    assert torch.equal(positions[:, :1, pads[0] :], alone)


@pytest.mark.parametrize(
    "seconds, temporal, after",
    [
        (0.5, [2, 2, 3, 3, 4, 4, 5, 5], 6),  # 1 tick per grid
        (1.0, [2, 2, 4, 4, 6, 6, 8, 8], 9),  # 2 ticks per grid
        (1.5, [2, 2, 5, 5, 8, 8, 11, 11], 12),  # 3 ticks per grid
        (2 / 3, [2, 2, 3, 3, 4, 4, 6, 6], 7),  # 4/3 ticks per grid (3 fps): floor(0, 1.33, 2.67, 4)
    ],
)
def test_video_temporal_ids_hand_written(seconds, temporal, after):
    """Video grid 4 x 2 x 4 patches = 4 frames-pairs of 1 x 2 merged tokens, after [text, vision_start].

    temporal id of grid i = start + floor(i * seconds * tokens_per_second), tokens_per_second = 2.
    transformers 4.57 casts ``second_per_grid_t`` to an integer first: 0.5 s -> 0 (every frame gets
    temporal id 2), 1.5 s -> 1 (ticks of 2, not 3), 2/3 s -> 0; only 1.0 s agrees; 5.x agrees with all four
    (catalogue entry fractional_second_per_grid, tests/test_reference_versions.py).
    """
    ids = torch.tensor([[5] + block(VID, (4, 2, 4)) + [6]])
    positions, deltas = ours(ids, video_grid_thw=torch.tensor([[4, 2, 4]]), second_per_grid_ts=[seconds])
    expected = torch.tensor(
        [
            [0, 1, *temporal, after, after + 1],
            [0, 1, *[2] * 8, after, after + 1],
            [0, 1, *[2, 3] * 4, after, after + 1],
        ]
    )
    assert torch.equal(positions[:, 0], expected)
    assert deltas.item() == after + 2 - ids.shape[1]


def test_all_padding_row_does_not_crash():
    """transformers PR #39802: a fully masked row crashed on an empty torch.cat."""
    grid = torch.tensor([[1, 4, 4]])
    ids = torch.tensor([[0] * 8, [3] + block(IMG, grid[0]) + [4]])
    mask = torch.tensor([[0] * 8, [1] * 8])
    positions, deltas = ours(ids, image_grid_thw=grid, attention_mask=mask)
    assert positions[:, 0].eq(1).all() and positions[0, 1].tolist() == [0, 1, 2, 2, 2, 2, 4, 5]
    assert deltas.tolist() == [[-8], [6 - 8]]


def test_decode_positions_continue_the_prompt():
    grid = torch.tensor([[1, 4, 4]])
    prompt = [0, 0, 7] + block(IMG, grid[0]) + [8]
    mask = torch.tensor([[0, 0] + [1] * (len(prompt) - 2)])
    _, deltas = ours(torch.tensor([prompt]), image_grid_thw=grid, attention_mask=mask)
    # Two more text tokens: recomputing the index on the longer prompt gives the decode positions.
    longer = torch.tensor([prompt + [9, 10]])
    full, _ = ours(longer, image_grid_thw=grid, attention_mask=torch.cat([mask, torch.ones(1, 2).long()], 1))
    assert torch.equal(decode_position_ids(deltas, past_length=len(prompt), seq_len=2), full[:, :, -2:])
    assert full[0, 0, -2:].tolist() == [6, 7]  # text, vision_start, 4 image tokens (max 3), end, text


def test_placeholder_count_mismatch_is_a_clear_error():
    ids = torch.tensor([[1, VS, IMG, IMG, IMG, VE]])
    with pytest.raises(ValueError, match=r"image 0 \(input_ids row 0\): 3 <\|image_pad\|> .* gives 4"):
        ours(ids, image_grid_thw=torch.tensor([[1, 4, 4]]))
    with pytest.raises(ValueError, match="image_grid_thw has 2 rows but input_ids contain 1"):
        ours(ids, image_grid_thw=torch.tensor([[1, 2, 6], [1, 2, 2]]))


# --- rotary tables ----------------------------------------------------------------------------------


@pytest.mark.reference
def test_rotary_for_text_is_one_d_rope():
    """Equal ids on the three axes -> exactly the plain Qwen2 (1-D) rotary table, bit for bit."""
    from transformers import Qwen2Config
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    positions = torch.tensor([[0, 1, 2, 50, 1000, 127999]])
    cos, sin = multimodal_rotary(positions.expand(3, -1, -1), 128, 1e6, (16, 24, 24))
    plain = Qwen2RotaryEmbedding(Qwen2Config(hidden_size=2048, num_attention_heads=16, rope_theta=1e6))
    ref_cos, ref_sin = plain(torch.zeros(1), positions)
    torch.testing.assert_close(cos, ref_cos, atol=0, rtol=0)
    torch.testing.assert_close(sin, ref_sin, atol=0, rtol=0)
    # Textbook formula in float64, where float32 angle rounding is still small (positions < 1000).
    angles = positions[:, :4, None].double() / 1e6 ** (torch.arange(0, 128, 2).double() / 128)
    torch.testing.assert_close(cos[:, :4], torch.cat([angles, angles], -1).cos().float(), atol=1e-5, rtol=0)
    # With different ids per axis the slots differ section by section.
    mixed = torch.stack([positions, positions + 1, positions + 2])
    cos_mixed, _ = multimodal_rotary(mixed, 128, 1e6, (16, 24, 24))
    assert torch.equal(cos_mixed[..., :16], cos[..., :16])
    assert not torch.equal(cos_mixed[..., 16:40], cos[..., 16:40])


@pytest.mark.reference
@pytest.mark.parametrize("mrope_section", [(16, 24, 24), (2, 3, 3)])
def test_rotary_matches_reference_embedding(mrope_section):
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRotaryEmbedding

    head_dim = 2 * sum(mrope_section)
    text = TextConfig(
        hidden_size=2 * head_dim, num_attention_heads=2, num_key_value_heads=1, mrope_section=mrope_section
    )
    config = CFG.replace(text=text, vision=VisionConfig(out_hidden_size=2 * head_dim))
    rotary = Qwen2_5_VLRotaryEmbedding(hf_config(config).text_config)
    torch.manual_seed(0)
    position_ids = torch.randint(0, 20000, (3, 2, 9))
    q, k = torch.randn(2, 2, 9, head_dim), torch.randn(2, 1, 9, head_dim)
    ref_q, ref_k = reference_mrope(rotary, q, k, position_ids, mrope_section)

    cos, sin = MRoPE(head_dim, 1e6, mrope_section)(position_ids)
    assert cos.shape == (2, 9, head_dim)
    torch.testing.assert_close(apply_rotary(q, cos[:, None], sin[:, None]), ref_q, atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rotary(k, cos[:, None], sin[:, None]), ref_k, atol=1e-6, rtol=0)


# --- the one-real-token row, and bad input ---------------------------------------------------------


def test_one_real_token_row_follows_transformers_457_by_default():
    """A left-padded text-only row with one real token: the rule, with both values.

    transformers 4.57.6 fills pads with position 1 and takes the row's max over them, so the row's largest
    position is 1 (not 0): delta = 2 - l and its first generated token sits at position 2. qwen_lite
    follows that by default, so ``generate`` equals 4.57.6 token for token (tests/test_reference_versions.py).
    ``deltas_count_pads=False`` counts real tokens only: delta = 1 - l, first generated token at 1, where
    transformers 5.x's generate continues. Rows with two or more real tokens agree under both rules.
    """
    ids = torch.tensor([[151643, 151643, 9707], [9707, 11, 1879], [151643, 11, 1879]])
    mask = torch.tensor([[0, 0, 1], [1, 1, 1], [0, 1, 1]])
    positions, deltas = get_rope_index(ids, attention_mask=mask)
    assert deltas.tolist() == [[-1], [0], [-1]]
    assert decode_position_ids(deltas, past_length=3)[0, :, 0].tolist() == [2, 3, 2]
    positions_5x, deltas_5x = get_rope_index(ids, attention_mask=mask, deltas_count_pads=False)
    assert deltas_5x.tolist() == [[-2], [0], [-1]]
    assert decode_position_ids(deltas_5x, past_length=3)[0, :, 0].tolist() == [1, 3, 2]
    assert torch.equal(positions, positions_5x) and positions[0, 0].tolist() == [1, 1, 0]
    # A fully padded row: 4.57.6's max is the pads' 1 -> delta 2 - l; real tokens only -> 0 - l.
    _, deltas = get_rope_index(ids[:1], attention_mask=torch.zeros(1, 3, dtype=torch.long))
    assert deltas.item() == -1
    _, deltas = get_rope_index(
        ids[:1], attention_mask=torch.zeros(1, 3, dtype=torch.long), deltas_count_pads=False
    )
    assert deltas.item() == -3


@pytest.mark.reference
def test_the_pad_rule_never_touches_batches_with_images(reference):
    """4.57.6 counts pads only in its text-only branch; with a grid, a one-token row gets 1 - l either way."""
    grid = torch.tensor([[1, 4, 4]])
    ids = torch.tensor([[0] * 6 + [5], [3] + block(IMG, grid[0])])
    mask = torch.tensor([[0] * 6 + [1], [1] * 7])
    for rule in (True, False):
        _, deltas = ours(ids, image_grid_thw=grid, attention_mask=mask, deltas_count_pads=rule)
        assert deltas.tolist() == [[1 - 7], [5 - 7]]  # row 1: text, start, 2 x 2 image (max 3), end at 4
    assert_same_as_reference(reference, ids, image_grid_thw=grid, attention_mask=mask)


GRID = torch.tensor([[1, 4, 4]])
IMAGE_IDS = torch.tensor([[3] + block(IMG, (1, 4, 4))])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(input_ids=IMAGE_IDS.float()), TypeError, "input_ids: expected an integer tensor"),
        (dict(input_ids=IMAGE_IDS[0]), ValueError, r"input_ids: expected a 2-D tensor"),
        (dict(attention_mask=torch.ones(1, 5)), ValueError, r"attention_mask: expected shape \(b l\)"),
        (
            dict(attention_mask=torch.full((1, 7), 2)),
            ValueError,
            "attention_mask: expected only 0 .* found 2",
        ),
        (dict(image_grid_thw=GRID.float()), TypeError, "image_grid_thw: expected an integer tensor"),
        (
            dict(image_grid_thw=torch.tensor([[1, 4]])),
            ValueError,
            r"image_grid_thw: expected shape \(n three\)",
        ),
        (dict(image_grid_thw=torch.tensor([[0, 4, 4]])), ValueError, r"image_grid_thw\[0\] = \[0, 4, 4\]"),
        (dict(image_grid_thw=torch.tensor([[1, 4, 3]])), ValueError, "multiples of the spatial merge size 2"),
        (dict(video_grid_thw=torch.tensor([[-2, 4, 4]])), ValueError, r"video_grid_thw\[0\].*>= 1"),
        (
            dict(second_per_grid_ts=[float("nan")]),
            ValueError,
            r"second_per_grid_ts: expected finite seconds >= 0",
        ),
        (dict(second_per_grid_ts=[-1.0]), ValueError, r"second_per_grid_ts: expected finite seconds >= 0"),
        (
            dict(second_per_grid_ts=[1.0, 2.0]),
            ValueError,
            r"second_per_grid_ts: expected one value per video \(1\)",
        ),
        (dict(second_per_grid_ts=[True]), TypeError, "second_per_grid_ts: expected numbers"),
        (dict(second_per_grid_ts="1.0"), TypeError, "second_per_grid_ts: expected a tensor or list"),
        (dict(spatial_merge_size=0), ValueError, "spatial_merge_size: expected an int >= 1, got 0"),
        (dict(tokens_per_second=2.5), ValueError, "tokens_per_second: expected an int >= 1, got 2.5"),
        (dict(deltas_count_pads=1), TypeError, "deltas_count_pads: expected True or False"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, message):
    video = {"video_grid_thw": torch.tensor([[2, 4, 4]])} if "second_per_grid_ts" in kwargs else {}
    args = dict(input_ids=IMAGE_IDS, image_grid_thw=GRID, **video) | kwargs
    if "video_grid_thw" in kwargs:
        args.pop("image_grid_thw")
    with pytest.raises(error, match=message):
        get_rope_index(**args, vision_start_token_id=VS, image_token_id=IMG, video_token_id=VID)
