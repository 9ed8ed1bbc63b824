"""bfloat16 parity: the path a laptop user takes (a bf16 checkpoint loaded in bf16) against transformers.

The reference is loaded the way users load it, ``from_pretrained(folder, dtype=torch.bfloat16)``: its
rotary frequency tables stay float32 buffers (a plain ``model.to(torch.bfloat16)`` would round them and is
not what anyone runs). In bf16 every rounding step counts, so qwen_lite follows the reference's precision
choice at each step: RMSNorm statistics in float32, vision rotary in float32, text rotary in the activation
dtype. The result is bit-identical logits, and so greedy decoding equal token for token.
"""

from __future__ import annotations

import pytest
import torch

from qwen_lite.text import Attention
from qwen_lite.weights import save_pretrained
from tests.model_inputs import CFG, IMG, VID, block, model_pair, pixels, text

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def bf16_pair(tmp_path_factory):
    """(ours, reference), both bf16, the reference loaded from a bf16 folder that qwen_lite saved."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    ours, _ = model_pair(seed=3)
    ours = ours.to(torch.bfloat16)
    folder = tmp_path_factory.mktemp("bf16")
    save_pretrained(ours, folder)
    reference = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        folder, dtype=torch.bfloat16, attn_implementation="sdpa"
    ).eval()
    return ours, reference


def _inputs():
    torch.manual_seed(1)
    image, image_grid = pixels((1, 8, 12))
    video, video_grid = pixels((2, 6, 6))
    return {
        "text": dict(input_ids=torch.tensor([text(12)])),
        "image": dict(
            input_ids=torch.tensor([text(5) + block(IMG, (1, 8, 12)) + text(4)]),
            pixel_values=image.bfloat16(),
            image_grid_thw=image_grid,
        ),
        "video": dict(
            input_ids=torch.tensor([text(3) + block(VID, (2, 6, 6)) + text(4)]),
            pixel_values_videos=video.bfloat16(),
            video_grid_thw=video_grid,
        ),
    }


def _reference_inputs(inputs):
    """transformers 5.x computes 3-D positions only when given ``mm_token_type_ids`` (0 text, 1 image,
    2 video); 4.57's ``generate`` refuses the key, so it is added for 5.x only."""
    from tests.reference import TF5

    if not TF5:
        return inputs
    ids = inputs["input_ids"]
    return {**inputs, "mm_token_type_ids": (ids == IMG).long() + 2 * (ids == VID).long()}


def _reference_logits(reference, inputs):
    with torch.no_grad():
        return reference(**_reference_inputs(inputs)).logits


@pytest.mark.parametrize("kind", ["text", "image", "video"])
def test_bf16_logits_are_bit_identical_to_the_reference(bf16_pair, kind):
    ours, reference = bf16_pair
    inputs = _inputs()[kind]
    with torch.no_grad():
        got = ours(**inputs).logits
    want = _reference_logits(reference, inputs)
    assert got.dtype == want.dtype == torch.bfloat16
    assert torch.equal(got, want), f"{kind}: max |difference| {(got.float() - want.float()).abs().max()}"


def test_float32_text_rotary_is_an_explicit_option_and_differs_in_bf16(bf16_pair, monkeypatch):
    """The more accurate choice exists, off by default: it no longer matches the reference in bf16."""
    ours, reference = bf16_pair
    inputs = _inputs()["text"]
    monkeypatch.setattr(Attention, "rotary_in_float32", True)
    with torch.no_grad():
        upcast = ours(**inputs).logits
    want = _reference_logits(reference, inputs)
    assert not torch.equal(upcast, want)
    # Same model, same inputs: the only change is where q/k are rounded, so the logits stay close.
    torch.testing.assert_close(upcast.float(), want.float(), atol=0.1, rtol=0)


def test_rotary_precision_choice_is_the_same_computation_in_float32(monkeypatch):
    ours, _ = model_pair(seed=3)
    inputs = _inputs()["text"]
    with torch.no_grad():
        default = ours(**inputs).logits
        monkeypatch.setattr(Attention, "rotary_in_float32", True)
        upcast = ours(**inputs).logits
    assert torch.equal(default, upcast)


def test_bf16_greedy_generation_equals_the_reference_token_for_token(bf16_pair):
    ours, reference = bf16_pair
    inputs = _inputs()["image"]
    kwargs = dict(
        max_new_tokens=12, do_sample=False, eos_token_id=[CFG.eos_token_id], pad_token_id=CFG.bos_token_id
    )
    got = ours.generate(**inputs, **kwargs)
    with torch.no_grad():
        want = reference.generate(**_reference_inputs(inputs), **kwargs)
    assert got.shape[1] > inputs["input_ids"].shape[1] + 1
    assert got.tolist() == want.tolist()
