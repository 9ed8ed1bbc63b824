"""Qwen3-VL (dense), the model side, against transformers 4.57.6 (``.venv``) and 5.24.0 (``.venv-tf5``).

The reference is a tiny ``Qwen3VLForConditionalGeneration`` built by the transformers under test, with random
weights (norms, biases and the position table randomised too), saved with its own ``save_pretrained`` and
loaded by ``qwen_lite.from_pretrained``: the checkpoint path is part of what is checked. The tiny config is
chosen so that every Qwen3-VL difference changes the numbers:

* patch 16, merge 2 (the processor's pixels go in unchanged);
* ``mrope_section`` [6, 5, 5] on head_dim 32 (16 slots): interleaved t h w t h w ... t differs from chunked
  t*6 h*5 w*5 in 10 of 16 slots; head_dim 32 is not hidden_size / heads (64 / 4 = 16);
* a 6 x 6 position table (36 entries) for grids of 4 x 12, 8 x 8, 14 x 10 patches: always interpolated;
* DeepStack taps after vision blocks 0 and 2, added after decoder layers 0 and 1 (of 3).

Inputs come from ``qwen_lite.Qwen3VLProcessor`` (its ids and pixels match transformers', tests/test_qwen3_vl_processor.py).
Where 4.57.6 and 5.24.0 differ, the test says which one qwen_lite follows.
"""

from __future__ import annotations

import json

import pytest
import torch

import qwen_lite
from qwen_lite.config import Qwen3VLConfig, Qwen3VLTextConfig, Qwen3VLVisionConfig, config_from_hf_dict
from qwen_lite.deepstack import VisionMerger, add_deepstack, join_deepstack
from qwen_lite.files import CheckpointError
from qwen_lite.model import Qwen3VLForConditionalGeneration, Qwen25VLForConditionalGeneration
from qwen_lite.processor import Qwen3VLProcessor
from qwen_lite.rope import slot_axes
from qwen_lite.vision_positions import LearnedPositions, position_weights
from qwen_lite.weights import from_pretrained, save_pretrained, transformers_key
from tests.model_inputs import random_image, random_video
from tests.model_inputs import user_prompt as prompt

VS, VE = "<|vision_start|>", "<|vision_end|>"
IMG, VID = f"{VS}<|image_pad|>{VE}", f"{VS}<|video_pad|>{VE}"

#: The tiny model, as transformers' Qwen3VLConfig arguments (both versions accept this form).
TINY = dict(
    vision_config=dict(depth=4, hidden_size=64, num_heads=4, intermediate_size=96, patch_size=16,
                       spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=64,
                       num_position_embeddings=36, deepstack_visual_indexes=[0, 2]),
    text_config=dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                     num_attention_heads=4, num_key_value_heads=2, head_dim=32, rope_theta=5000000.0,
                     max_position_embeddings=4096, tie_word_embeddings=False,
                     rope_scaling={"rope_type": "default", "mrope_section": [6, 5, 5], "mrope_interleaved": True}),
    tie_word_embeddings=False,
)  # fmt: skip


def tiny_config() -> Qwen3VLConfig:
    return Qwen3VLConfig(
        vision=Qwen3VLVisionConfig(**{k: v for k, v in TINY["vision_config"].items()}),
        text=Qwen3VLTextConfig(
            **{k: v for k, v in TINY["text_config"].items() if k != "rope_scaling"}, mrope_section=(6, 5, 5)
        ),
    )


@pytest.fixture(scope="module")
def processor() -> Qwen3VLProcessor:
    return Qwen3VLProcessor()


# --- the reference: built, randomised and saved by transformers ---------------------------------------------


def build_reference(folder, seed: int = 0, **changes):
    """A tiny transformers Qwen3-VL (fp32, SDPA, eval) with every weight random, saved to ``folder``."""
    from transformers import Qwen3VLConfig as HFConfig
    from transformers import Qwen3VLForConditionalGeneration as HFModel

    config = HFConfig(**{**TINY, **changes})
    for c in (config, config.vision_config, config.text_config):
        c._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = HFModel(config).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            elif "pos_embed" in name:
                p.normal_(0.0, 1.0)
            else:
                p.normal_(0.0, 0.08)
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(ours, reference, folder): qwen_lite's model loaded from the reference's saved folder."""
    folder = tmp_path_factory.mktemp("qwen3_vl_tiny")
    reference = build_reference(folder)
    ours = from_pretrained(folder, dtype=torch.float32)
    return ours, reference, folder


def reference_inputs(reference, inputs: dict) -> dict:
    """The reference's ``forward``/``generate`` inputs: 5.x needs ``mm_token_type_ids`` (its processor returns them;
    without them its Qwen3-VL raises when grids are given)."""
    from tests.reference import TF5, mm_token_type_ids

    inputs = dict(inputs)
    if TF5:
        c = reference.config
        inputs["mm_token_type_ids"] = mm_token_type_ids(
            inputs["input_ids"], c.image_token_id, c.video_token_id
        )
    return inputs


def reference_logits(reference, inputs: dict) -> torch.Tensor:
    getattr(
        reference, "model", reference
    ).rope_deltas = None  # no earlier call leaks in (both versions cache them)
    with torch.no_grad():
        return reference(**reference_inputs(reference, inputs)).logits


def reference_tower(reference, pixel_values, grid_thw):
    """(merged tokens, [DeepStack features]): a tuple in 4.57.6, an output object in 5.24.0."""
    with torch.no_grad():
        out = reference.model.visual(pixel_values, grid_thw=grid_thw)
    if isinstance(out, tuple):
        return out[0], list(out[1])
    return out.pooler_output, list(out.deepstack_features)


def reference_rope_index(reference, input_ids, image_grid_thw=None, video_grid_thw=None, attention_mask=None):
    """(positions (3 b l), next position of each row under that version's own decode rule (b))."""
    from tests.reference import TF5, mm_token_type_ids

    model, c = reference.model, reference.config
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    if TF5:
        types = mm_token_type_ids(input_ids, c.image_token_id, c.video_token_id)
        positions, deltas = model.get_rope_index(
            input_ids, types, image_grid_thw, video_grid_thw, attention_mask
        )
        return positions, mask.sum(-1) + deltas[:, 0]  # 5.x: deltas relative to the unpadded length
    positions, deltas = model.get_rope_index(input_ids, image_grid_thw, video_grid_thw, attention_mask)
    return positions, input_ids.shape[1] + deltas[:, 0]  # 4.57: relative to the padded length


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def assert_parity(got, want) -> None:
    """Bit-equal to 4.57.6 (qwen_lite follows its position table, test_position_table_follows_4_57_bit_for_bit);
    within 1e-5 of 5.24.0, whose table differs in the last bit (measured: up to 3.1e-6 on these logits)."""
    from tests.reference import TF5

    assert got.shape == want.shape
    if TF5:
        assert max_diff(got, want) < 1e-5
    else:
        assert torch.equal(got, want), max_diff(got, want)


# --- inputs -------------------------------------------------------------------------------------------------

CASES = {
    "text": lambda: dict(text=prompt("Hello there, tiny model.")),
    "image": lambda: dict(text=prompt(IMG, "Describe."), images=[random_image(77, 201, 1)]),
    "two images": lambda: dict(
        text=prompt(IMG, "and", IMG, "compare."), images=[random_image(77, 201, 1), random_image(130, 128, 2)]
    ),
    "video": lambda: dict(text=prompt(VID, "What happens?"), videos=[random_video(4, 70, 50, 4)], fps=2.0),
    "mixed batch, left-padded": lambda: dict(
        text=[prompt(IMG, "Describe."), prompt("Two: ", IMG, VID), prompt("just text")],
        images=[random_image(77, 201, 1), random_image(130, 61, 2)],
        videos=[random_video(4, 70, 50, 4)],
        fps=2.0,
    ),
}


def model_inputs(processor, case: str) -> dict:
    return dict(processor(**CASES[case]()))


# --- loading --------------------------------------------------------------------------------------------------


@pytest.mark.reference
def test_from_pretrained_chooses_qwen3_vl_and_reads_its_config(pair):
    ours, reference, folder = pair
    assert type(ours) is Qwen3VLForConditionalGeneration
    assert ours.config == tiny_config()
    # The saved names are transformers' (model.visual.*, model.language_model.*); every one is loaded.
    assert {transformers_key(k) for k in ours.state_dict()} == set(reference.state_dict())
    for key in ("visual.pos_embed.weight", "visual.patch_embed.proj.bias", "visual.blocks.0.norm1.bias",
                "visual.blocks.0.mlp.linear_fc1.weight", "visual.merger.norm.weight",
                "visual.deepstack_merger_list.1.norm.weight", "model.layers.2.self_attn.q_norm.weight"):  # fmt: skip
        assert key in ours.state_dict()
    assert "model.layers.0.self_attn.q_proj.bias" not in ours.state_dict()  # attention_bias false


@pytest.mark.reference
def test_from_pretrained_loads_both_models_through_one_call(pair, tmp_path):
    from tests.model_inputs import our_model

    qwen25 = our_model()
    save_pretrained(qwen25, tmp_path / "qwen25")
    loaded = qwen_lite.from_pretrained(tmp_path / "qwen25", dtype=torch.float32)
    assert type(loaded) is Qwen25VLForConditionalGeneration
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), qwen25.state_dict().values()))
    loaded3 = qwen_lite.from_pretrained(pair[2], dtype=torch.float32)
    assert type(loaded3) is Qwen3VLForConditionalGeneration


def test_unknown_model_type_is_refused_naming_it(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_vl_moe"}))
    with pytest.raises(
        CheckpointError, match=r"model_type: expected one of 'qwen2_5_vl', 'qwen3_vl'.*qwen3_vl_moe"
    ):
        from_pretrained(tmp_path)


def test_model_class_refuses_the_other_config():
    with pytest.raises(TypeError, match="Qwen3VLForConditionalGeneration takes a Qwen3VLConfig"):
        Qwen3VLForConditionalGeneration(qwen_lite.config.tiny())
    with pytest.raises(TypeError, match="takes a Qwen25VLConfig"):
        Qwen25VLForConditionalGeneration(tiny_config())


@pytest.mark.reference
def test_saved_qwen3_folder_loads_in_transformers(pair, processor, tmp_path):
    from transformers import Qwen3VLForConditionalGeneration as HFModel

    ours = pair[0]
    save_pretrained(ours, tmp_path)
    theirs = HFModel.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert config_from_hf_dict(json.loads((tmp_path / "config.json").read_text())) == ours.config
    inputs = model_inputs(processor, "image")
    with torch.no_grad():
        got = ours(**inputs).logits
    assert max_diff(got, reference_logits(theirs, inputs)) < 1e-5


def test_config_disagreeing_ties_are_refused():
    """4.57.6 ties by ``text_config.tie_word_embeddings``, 5.24.0 by the top level's: a file where they differ
    builds two different models, so qwen_lite refuses it rather than follow one silently."""
    d = {"model_type": "qwen3_vl", "tie_word_embeddings": True, "text_config": {"tie_word_embeddings": False}}
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        config_from_hf_dict(d)
    assert config_from_hf_dict({**d, "text_config": {}}).text.tie_word_embeddings is True


def test_rope_theta_default_follows_4_57():
    """A config.json without ``rope_theta``: 4.57.6's class default is 5e6, 5.24.0's 5e5. qwen_lite takes 5e6,
    the value the released Qwen3-VL configs write (so a file that omits it means the released model's)."""
    assert config_from_hf_dict({"model_type": "qwen3_vl"}).text.rope_theta == 5_000_000.0
    with pytest.raises(ValueError, match="mrope_interleaved"):
        config_from_hf_dict(
            {"model_type": "qwen3_vl", "text_config": {"rope_scaling": {"mrope_interleaved": False}}}
        )


# --- the vision tower ---------------------------------------------------------------------------------------


@pytest.mark.reference
def test_vision_tower_and_deepstack_features_match_reference(pair, processor):
    ours, reference, _ = pair
    inputs = model_inputs(processor, "two images")
    video = model_inputs(processor, "video")
    pixel_values = torch.cat([inputs["pixel_values"], video["pixel_values_videos"]])
    grid = torch.cat([inputs["image_grid_thw"], video["video_grid_thw"]])  # 1x4x12, 1x8x8, 2x14x10
    with torch.no_grad():
        merged, deepstack = ours.visual.features(pixel_values, grid)
    want_merged, want_deepstack = reference_tower(reference, pixel_values, grid)
    assert merged.shape == (int(grid.prod(-1).sum()) // 4, 64) and len(deepstack) == 2
    assert_parity(merged, want_merged)
    for got, want in zip(deepstack, want_deepstack, strict=True):
        assert_parity(got, want)


@pytest.mark.reference
def test_position_table_follows_4_57_bit_for_bit(pair):
    """4.57.6 samples the table at ``linspace(0, side - 1, h)`` and adds the four weighted corners in order;
    5.24.0 computes the points as ``i * (side - 1) / (h - 1)`` and sums with ``.sum``: the last bit can differ.
    qwen_lite follows 4.57.6, the code the Qwen team contributed with the model (bit-equal there); 5.24.0 stays
    within 2e-6 here."""
    from tests.reference import TF5

    ours, reference, _ = pair
    grid = torch.tensor([[1, 4, 12], [2, 8, 8], [1, 14, 10], [1, 6, 6]])
    with torch.no_grad():
        got = ours.visual.pos_embed(grid)
        tower = reference.model.visual
        if TF5:
            from transformers.vision_utils import get_vision_interpolation_indices_and_weights as taps

            index, weight = taps(grid, tower.num_grid_per_side, mode="bilinear", align_corners=True,
                                 spatial_merge_size=2)  # fmt: skip
            want = (tower.pos_embed(index) * weight[:, :, None]).sum(1)
            assert max_diff(got, want) < 2e-6
        else:
            assert torch.equal(got, tower.fast_pos_embed_interpolate(grid))


def test_position_table_at_its_own_size_is_the_table():
    """A 6 x 6 grid on a 6 x 6 table samples every entry exactly (weights 1, 0, 0, 0), in merge-block order."""
    table = LearnedPositions(36, 8, merge_size=2)
    out = table(torch.tensor([[1, 6, 6]]))
    raster = table.weight.detach().view(3, 2, 3, 2, 8).permute(0, 2, 1, 3, 4).reshape(36, 8)
    assert torch.equal(out.detach(), raster)
    index, weight = position_weights(4, 12, 6)
    torch.testing.assert_close(weight.sum(0), torch.ones(48))  # interpolated: each patch's weights sum to 1
    assert index.max() < 36


def test_deepstack_merger_norm_sits_after_the_shuffle():
    pre, post = (VisionMerger(8, 16, 2, postshuffle_norm=flag) for flag in (False, True))
    assert pre.norm.normalized_shape == (8,) and post.norm.normalized_shape == (32,)
    assert post(torch.randn(12, 8)).shape == (3, 16)


def test_deepstack_is_added_at_visual_positions_only():
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)
    image_mask = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    video_mask = mask & ~image_mask
    images, videos = [torch.ones(2, 4)], [2 * torch.ones(2, 4)]
    joined_mask, (features,) = join_deepstack(image_mask, images, video_mask, videos)
    assert torch.equal(joined_mask, mask) and features[:, 0].tolist() == [1, 1, 2, 2]
    out = add_deepstack(hidden, joined_mask, features)
    assert torch.equal(out[~mask], hidden[~mask]) and torch.equal(out[mask], hidden[mask] + features)
    assert join_deepstack(image_mask, [], video_mask, None) is None  # Qwen2.5-VL: nothing to add


# --- positions -------------------------------------------------------------------------------------------------


def test_interleaved_slots():
    """[6, 5, 5] on 16 slots: chunked gives t*6 h*5 w*5; interleaved t h w t h w ... with the spare t slot last."""
    assert slot_axes((6, 5, 5)).tolist() == [0] * 6 + [1] * 5 + [2] * 5
    assert slot_axes((6, 5, 5), interleaved=True).tolist() == [0, 1, 2] * 5 + [0]
    assert slot_axes((24, 20, 20), interleaved=True).tolist() == [0, 1, 2] * 20 + [0] * 4  # released


@pytest.mark.reference
def test_text_rotary_matches_reference(pair):
    ours, reference, _ = pair
    positions = torch.stack([torch.arange(12), torch.arange(12) // 3, torch.arange(12) % 5])[:, None] + 7
    cos, sin = ours.model.rotary(positions)
    want_cos, want_sin = reference.model.language_model.rotary_emb(
        torch.zeros(1, dtype=torch.float32), positions
    )
    assert torch.equal(cos, want_cos) and torch.equal(sin, want_sin)


@pytest.mark.reference
@pytest.mark.parametrize("case", list(CASES))
def test_get_rope_index_matches_reference(pair, processor, case):
    """Positions of every real token, and where each row's generation continues, under each version's own rule.
    (Pads: 4.57.6 writes 1, 5.24.0 writes 0; qwen_lite follows 4.57.6, as for Qwen2.5-VL. A text-only batch
    in 5.24.0 skips get_rope_index.)"""
    from tests.reference import TF5

    ours, reference, _ = pair
    inputs = model_inputs(processor, case)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    grids = dict(image_grid_thw=inputs.get("image_grid_thw"), video_grid_thw=inputs.get("video_grid_thw"))
    got, deltas = ours.get_rope_index(ids, attention_mask=mask, **grids)
    if TF5 and case == "text":
        want, after = (mask.cumsum(-1) - 1)[None].expand(3, -1, -1), mask.sum(-1)
    else:
        want, after = reference_rope_index(reference, ids, attention_mask=mask, **grids)
    real = mask.bool()[None].expand(3, -1, -1)
    assert torch.equal(got[real], want[real])
    if not TF5:
        assert torch.equal(got, want)  # pads too
    assert torch.equal(ids.shape[1] + deltas[:, 0], after)
    if case == "video":  # every frame group is its own block: temporal ids never advance inside the video
        video = ids[0] == reference.config.video_token_id
        assert (got[0, 0, video] == got[1, 0, video].min()).sum() > 0
        assert len(got[0, 0, video].unique()) == int(inputs["video_grid_thw"][0, 0])


# --- the whole model --------------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("case", list(CASES))
def test_logits_match_reference(pair, processor, case):
    ours, reference, _ = pair
    inputs = model_inputs(processor, case)
    with torch.no_grad():
        got = ours(**inputs).logits
    want = reference_logits(reference, inputs)
    mask = inputs["attention_mask"].bool()
    assert_parity(got[mask], want[mask])


@pytest.mark.reference
@pytest.mark.parametrize("case", ["image", "video", "mixed batch, left-padded"])
def test_greedy_generation_matches_reference(pair, processor, case):
    ours, reference, _ = pair
    inputs = model_inputs(processor, case)
    new = 8
    got = ours.generate(**inputs, max_new_tokens=new, do_sample=False, pad_token_id=151643)
    getattr(reference, "model", reference).rope_deltas = None
    want = reference.generate(
        **reference_inputs(reference, inputs), max_new_tokens=new, do_sample=False,
        pad_token_id=151643,
    )  # fmt: skip
    assert got.shape == want.shape == (len(inputs["input_ids"]), inputs["input_ids"].shape[1] + new)
    assert torch.equal(got, want)


def test_second_per_grid_ts_is_refused():
    model = Qwen3VLForConditionalGeneration(tiny_config()).eval()
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="second_per_grid_ts: Qwen3-VL does not use it"):
        model(ids, second_per_grid_ts=torch.tensor([1.0]))
