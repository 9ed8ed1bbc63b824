"""The whole model against transformers (fp32, same random weights): logits, fusion, tying, errors.

The parity tests (marked ``reference``) also run against transformers 5.x (scripts/test_reference.sh).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qwen_lite.config import tiny
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.trace import trace_shapes
from tests.model_inputs import CFG, IMG, VE, VID, block, left_pad, model_pair, our_model, pixels, text
from tests.reference import hf_key, reference_forward, reference_next_positions

# --- parity ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    return model_pair()


@pytest.fixture(scope="module")
def ours():
    """``models``' qwen_lite model alone: the tests without transformers (the minimum-versions job too)."""
    return our_model()


def assert_logits_match(models, **inputs):
    ours, reference = models
    with torch.no_grad():
        got = ours(**inputs, output_hidden_states=True)
        want = reference_forward(reference, **inputs, output_hidden_states=True)
    torch.testing.assert_close(got.logits, want.logits, atol=1e-5, rtol=1e-5)
    # Where generation continues (the deltas' own convention differs in 5.x: book/data/version_differences.json).
    ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    assert torch.equal(
        ids.shape[1] + got.rope_deltas[:, 0], reference_next_positions(reference, want, ids, mask)
    )
    for a, b in zip(got.hidden_states, want.hidden_states, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    return got


@pytest.mark.reference
def test_state_dict_keys_are_the_released_checkpoint_keys(models):
    ours, reference = models
    keys = set(ours.state_dict())
    assert {hf_key(k) for k in keys} == set(reference.state_dict())
    for key in ("visual.patch_embed.proj.weight", "visual.merger.mlp.2.bias", "model.embed_tokens.weight",
                "model.layers.1.self_attn.k_proj.bias", "model.norm.weight", "lm_head.weight"):  # fmt: skip
        assert key in keys


@pytest.mark.reference
def test_real_vocabulary_and_token_ids_match_reference():
    config = tiny()  # 151936 tokens, <|image_pad|> = 151655, <|vision_start|> = 151652
    ours, reference = model_pair(config, seed=2)
    pixel_values, grid = pixels((1, 4, 4))
    ids = torch.tensor([text(3) + [151652] + [151655] * 4 + [151653] + text(2)])
    with torch.no_grad():
        got = ours(ids, pixel_values=pixel_values, image_grid_thw=grid).logits
        want = reference_forward(
            reference, input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid
        ).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.reference
def test_text_only_matches_reference(models):
    assert_logits_match(models, input_ids=torch.tensor([text(9)]))


@pytest.mark.reference
def test_one_image_matches_reference(models):
    pixel_values, grid = pixels((1, 4, 6))
    ids = torch.tensor([text(3) + block(IMG, grid[0]) + text(4)])
    out = assert_logits_match(models, input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid)
    assert out.logits.shape == (1, ids.shape[1], CFG.text.vocab_size) and out.rope_deltas.item() < 0


@pytest.mark.reference
def test_two_images_of_different_sizes_match_reference(models):
    pixel_values, grid = pixels((1, 4, 6), (1, 8, 2))
    ids = torch.tensor([text(2) + block(IMG, grid[0]) + text(3) + block(IMG, grid[1]) + text(2)])
    assert_logits_match(models, input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid)


@pytest.mark.reference
def test_video_matches_reference(models):
    # 2.0 s per grid: an integer, so transformers 4.57's int() cast doesn't bite (see test_rope.py). Temporal
    # ids 0, 4 stay below the 5 rows, so 4.57 and 5.x agree on the text after it (catalogue: text_after_long_video).
    video, grid = pixels((2, 10, 4))
    ids = torch.tensor([text(2) + block(VID, grid[0]) + text(3)])
    inputs = dict(pixel_values_videos=video, video_grid_thw=grid, second_per_grid_ts=torch.tensor([2.0]))
    assert_logits_match(models, input_ids=ids, **inputs)


@pytest.mark.reference
def test_left_padded_batch_of_mixed_prompts_matches_reference(models):
    image, image_grid = pixels((1, 4, 4))
    video, video_grid = pixels((2, 4, 6))
    ids, mask = left_pad(
        [text(2) + block(IMG, image_grid[0]) + text(2), text(1) + block(VID, video_grid[0]) + text(5)]
    )
    assert mask[0, 0] == 0  # row 0 really is padded
    inputs = dict(input_ids=ids, attention_mask=mask, pixel_values=image, image_grid_thw=image_grid,
                  pixel_values_videos=video, video_grid_thw=video_grid, second_per_grid_ts=torch.tensor([1.0]))  # fmt: skip
    batched = assert_logits_match(models, **inputs)
    # Padding changes nothing: row 0 alone gives the same logits at its real tokens.
    ours, _ = models
    start = int((mask[0] == 0).sum())
    with torch.no_grad():
        alone = ours(ids[:1, start:], pixel_values=image, image_grid_thw=image_grid)
    torch.testing.assert_close(batched.logits[:1, start:], alone.logits, atol=1e-5, rtol=1e-5)


@pytest.mark.reference
def test_tied_embeddings_match_reference():
    config = CFG.replace(text=dataclasses.replace(CFG.text, tie_word_embeddings=True))
    ours, reference = model_pair(config, seed=1)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    assert "lm_head.weight" in ours.state_dict()  # listed like transformers does; same tensor
    ids = torch.tensor([text(6)])
    with torch.no_grad():
        want = reference_forward(reference, input_ids=ids).logits
        torch.testing.assert_close(ours(ids).logits, want, atol=1e-5, rtol=1e-5)
    # A state_dict round-trip keeps the tie (both keys load into the one Parameter).
    fresh = Qwen25VLForConditionalGeneration(config).eval()
    fresh.load_state_dict(ours.state_dict(), strict=True)
    assert fresh.lm_head.weight is fresh.model.embed_tokens.weight
    with torch.no_grad():
        assert torch.equal(fresh(ids).logits, ours(ids).logits)


# --- errors, trace -------------------------------------------------------------------------------------


def test_placeholder_feature_mismatch_names_the_image(ours):
    pixel_values, grid = pixels((1, 4, 4), (1, 4, 6))  # 4 and 6 merged tokens
    ids = torch.tensor([text(2) + block(IMG, (1, 4, 4)) + text(1) + block(IMG, (1, 4, 4)) + text(1)])
    with pytest.raises(
        ValueError, match=r"image 1: 4 <\|image_pad\|> tokens in input_ids but 6 image features"
    ):
        ours(ids, pixel_values=pixel_values, image_grid_thw=grid)
    video, video_grid = pixels((2, 4, 4))
    ids = torch.tensor([text(2) + block(VID, (2, 4, 4))[:-3] + [VE]])  # 2 placeholders missing
    with pytest.raises(ValueError, match=r"video 0: 6 <\|video_pad\|> tokens .* but 8 video features"):
        ours(ids, pixel_values_videos=video, video_grid_thw=video_grid)


def test_decode_step_needs_rope_deltas(ours):
    with torch.no_grad():
        out = ours(torch.tensor([text(4)]), use_cache=True)
        with pytest.raises(ValueError, match="rope_deltas"):
            ours(torch.tensor([[5]]), past_key_values=out.past_key_values)


def test_trace_records_every_stage(ours):
    pixel_values, grid = pixels((1, 4, 4))
    ids = torch.tensor([text(2) + block(IMG, grid[0])])
    with torch.no_grad(), trace_shapes() as trace:
        ours(ids, pixel_values=pixel_values, image_grid_thw=grid, logits_to_keep=1)
    stages = [row[0] for row in trace.rows]
    for stage in ("embed_tokens", "vision (images)", "fuse images", "rope index", "decoder layer 1", "norm"):
        assert stage in stages
    assert trace.rows[-1][0] == "lm_head" and trace.rows[-1][2] == (1, 1, CFG.text.vocab_size)


def test_forward_refuses_wrong_dtypes_and_inconsistent_inputs(ours):
    """Each error names the argument (TypeError for a dtype, ValueError for a value), before any computation."""
    pixel_values, grid = pixels((1, 4, 4))
    ids = torch.tensor([text(2) + block(IMG, grid[0]) + text(1)])
    video, video_grid = pixels((2, 4, 4))
    video_ids = torch.tensor([text(2) + block(VID, video_grid[0]) + text(1)])
    image = dict(pixel_values=pixel_values, image_grid_thw=grid)
    cases = [
        (dict(input_ids=ids.float(), **image), TypeError, "input_ids: expected an integer tensor"),
        (dict(input_ids=ids.bool()), TypeError, "input_ids: expected an integer tensor"),
        (dict(input_ids=ids[:, :0]), ValueError, "input_ids: expected at least one token"),
        (dict(input_ids=torch.tensor([[5, CFG.text.vocab_size]])), ValueError, "input_ids: token id 4096 is outside"),
        (dict(input_ids=torch.tensor([[-1, 5]])), ValueError, "input_ids: token id -1 is outside"),
        (dict(input_ids=ids, pixel_values=pixel_values, image_grid_thw=grid.float()), TypeError,
         "image_grid_thw: expected an integer tensor"),
        (dict(input_ids=ids, pixel_values=(pixel_values * 100).to(torch.int32), image_grid_thw=grid), TypeError,
         "pixel_values: expected a floating-point tensor"),
        (dict(input_ids=ids, pixel_values=pixel_values[:, :100], image_grid_thw=grid), ValueError,
         "pixel_values: expected shape"),
        (dict(input_ids=ids, image_grid_thw=grid), ValueError, "image_grid_thw was given without pixel_values"),
        (dict(input_ids=ids, pixel_values=pixel_values), ValueError, "pixel_values were given without image_grid_thw"),
        (dict(input_ids=ids, pixel_values=pixel_values, image_grid_thw=torch.tensor([[1, 0, 4]])), ValueError,
         r"image_grid_thw\[0\] = \[1, 0, 4\]: t, h and w must all be >= 1"),
        (dict(input_ids=video_ids, pixel_values_videos=video, video_grid_thw=video_grid,
              second_per_grid_ts=torch.tensor([1.0, 2.0])), ValueError,
         r"second_per_grid_ts: expected one value per video \(1\)"),
        (dict(input_ids=video_ids, pixel_values_videos=video, video_grid_thw=video_grid,
              second_per_grid_ts=[float("nan")]), ValueError, "second_per_grid_ts: expected finite seconds"),
        (dict(input_ids=video_ids, pixel_values_videos=video.half().int(), video_grid_thw=video_grid), TypeError,
         "pixel_values_videos: expected a floating-point tensor"),
        (dict(input_ids=ids, attention_mask=torch.ones(1, 3), **image), ValueError,
         r"attention_mask: expected shape \(b s\)"),
        (dict(input_ids=ids, attention_mask=torch.full(ids.shape, 0.5), **image), ValueError,
         "attention_mask: expected only 0 .* and 1 .*, found 0.5"),
        (dict(input_ids=ids, logits_to_keep=-1, **image), ValueError, "logits_to_keep"),
    ]  # fmt: skip
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message), torch.no_grad():
            ours(**kwargs)
    # The same inputs, made consistent, run.
    with torch.no_grad():
        assert (
            ours(ids, attention_mask=torch.ones(ids.shape, dtype=torch.bool), **image).logits.shape[1]
            == ids.shape[1]
        )
        ours(video_ids, pixel_values_videos=video, video_grid_thw=video_grid, second_per_grid_ts=[0.5])


def test_forward_hooks_on_the_vision_tower_see_every_image_forward():
    """Tools hook ``model.visual`` (the real-size benchmark times the tower that way; so do profilers)."""
    model = our_model()
    pixel_values, grid_thw = pixels((1, 4, 6))
    input_ids = torch.tensor([text(3) + block(IMG, (1, 4, 6)) + text(2)])
    calls = []
    handle = model.visual.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            model(input_ids=input_ids, pixel_values=pixel_values, image_grid_thw=grid_thw)
    finally:
        handle.remove()
    assert calls == [pixel_values.shape[0]]
