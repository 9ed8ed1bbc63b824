"""Every example the property suite shrank to a failure, as a plain test (issue 19).

Each test names the property that found it and the fault. Expected values come from the reference on the same
input (computed here, not copied), or, for errors, the rule the error properties state: a ``ValueError`` /
``TypeError`` naming the argument. "Known" faults were listed in issue 19 and found again by the properties on
the package as it was before the fixes (commit 5dcb61b); "new" ones were found on the fixed package.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from qwen_lite.processing import preprocess_images
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.tokenizer import get_tokenizer
from tests.model_inputs import CFG
from tests.properties.malformed import IMG_TEXT, odd_image, odd_tensor
from tests.properties.support import Block, ImageSpec, white_composite
from tests.properties.test_error_properties import (
    chat_call,
    checkpoint_call,
    config_call,
    forward_call,
    generate_call,
    generation_argument_call,
    processor_call,
    processor_setting_call,
    rope_call,
    tokenizer_call,
)
from tests.properties.test_model_properties import assert_greedy_matches, model_inputs
from tests.properties.test_rope_properties import assert_same_as_reference
from tests.test_processing import reference_outputs

tok = get_tokenizer()

# --- against the reference -----------------------------------------------------------------------------


@pytest.mark.reference
def test_newer_combining_marks_use_the_reference_normaliser(hf_tokenizer):
    """test_encode_matches_reference, known fault 1: Python's NFC reordered U+1ABF / U+033D."""
    text = "\u1abf\u033d"
    assert tok.encode(text) == hf_tokenizer.encode(text, add_special_tokens=False)
    assert tok.decode(tok.encode(text)) == hf_tokenizer.decode(
        hf_tokenizer.encode(text, add_special_tokens=False)
    )


@pytest.mark.reference
def test_skip_special_tokens_keeps_a_non_special_added_token(hf_tokenizer):
    """test_decode_matches_reference, known fault (decode): ``<tool_call>`` is an added token, not special."""
    expected = hf_tokenizer.decode([151657], skip_special_tokens=True)
    assert expected == "<tool_call>"
    assert tok.decode([151657], skip_special_tokens=True) == expected


@pytest.mark.reference
def test_transparent_pixel_is_composited_over_white(hf_image_processor):
    """test_transparent_images_are_composited_over_white, known fault (transparency): a 1x1 LA image."""
    image = ImageSpec("LA", 1, 1, seed=0, content="noise", alpha="random").render()
    assert image.getpixel((0, 0))[1] < 255  # really (partly) transparent
    pixel_values, grid = reference_outputs(hf_image_processor._obj, white_composite(image))
    ours = preprocess_images(image)
    assert torch.equal(ours["image_grid_thw"], grid) and torch.equal(
        ours["pixel_values"], pixel_values.float()
    )


@pytest.mark.reference
def test_one_real_token_row_continues_as_the_reference(rope_reference):
    """test_text_only_batches_match_reference, known fault 2: rope_deltas of a padded one-token row."""
    assert_same_as_reference(
        rope_reference, [[Block("text", 1)], [Block("text", 1), Block("text", 1)]], seed=0
    )


@pytest.mark.reference
def test_one_real_token_row_generates_as_the_reference(models):
    """test_greedy_ids_match_reference, known fault 2: the same row's decode logits (and so its greedy ids)."""
    inputs = model_inputs([[Block("text", 1)], [Block("text", 2)]], seed=0)
    assert_greedy_matches(*models._obj, inputs, new_tokens=2, stop_at=None, penalty=1.0)


@pytest.mark.reference
@pytest.mark.parametrize(
    "argument, value, sample",
    [
        ("top_k", -1, True),  # known fault 3 (transformers refuses): shrunk on the old package
        ("max_new_tokens", 0, False),  # known fault 3 (refused): the old package returned the prompt
        ("top_k", -1, False),  # new: transformers ignores top_k when greedy (and warns); qwen_lite refused
        ("temperature", -1.0, False),  # new: the same for temperature
    ],
)
def test_generation_argument_edges_follow_the_reference(pair, argument, value, sample):
    """test_generation_arguments_follow_reference."""
    generation_argument_call(*pair._obj, argument, value, sample)


# --- errors name the argument ------------------------------------------------------------------------------

ARRAY = np.zeros((2, 2))


@pytest.mark.parametrize(
    "call, value",
    [
        ("decode", None),  # known (old package): TypeError 'NoneType' object is not iterable
        ("convert_tokens_to_ids", None),  # known
        ("convert_ids_to_tokens", None),  # known: '<=' not supported between int and NoneType
        ("batch_decode", None),  # known
        ("batch_decode", ":"),  # known: ValueError invalid literal for int()
        ("batch_decode", [None]),  # new: the error names ids, not sequences
        ("batch_decode", ARRAY),  # new: "ids[0]: expected an int token id, got float 0.0"
        ("decode(skip_special_tokens)", torch.ones(1, 3)),  # new: RuntimeError "Boolean value of Tensor ..."
    ],
)
def test_tokenizer_error_names_the_argument(call, value):
    """test_tokenizer_errors_name_the_argument."""
    tokenizer_call(call, value, must_raise=True)


@pytest.mark.parametrize(
    "messages, flag, flag_value",
    [
        ([None], None, None),  # known fault 4: AttributeError 'NoneType' object has no attribute 'get'
        ({"a": 1}, None, None),  # known: KeyError 0
        (torch.tensor(3), None, None),  # known: IndexError on a 0-d tensor
        ("", None, None),  # known: processor(messages="") said "text: ..."
        (False, None, None),  # known: 'bool' object is not iterable
        (None, "add_generation_prompt", ARRAY),  # known: numpy's "truth value ... ambiguous"
    ],
)
def test_chat_template_error_names_the_argument(messages, flag, flag_value):
    """test_chat_template_errors_name_the_argument."""
    chat_call(messages, flag, flag_value, must_raise=True)


@pytest.mark.parametrize(
    "setting, value",
    [
        ("tokenizer", False),  # known (processor budgets/settings): AttributeError
        ("temporal_patch_size", 1.5),  # known: TypeError from deep inside, no name
        ("temporal_patch_size", True),  # known
        ("temporal_patch_size", False),  # known: ZeroDivisionError
        ("temporal_patch_size", torch.ones(1, 3)),  # known: RuntimeError
        ("patch_size", ""),  # known
        ("patch_size", -1),  # known: RuntimeError invalid shape dimension
        ("patch_size", -0.5),  # known
        ("patch_size", 1e-313),  # known: OverflowError
        ("max_pixels", torch.ones(1, 3, dtype=torch.complex64)),  # known: NotImplementedError
    ],
)
def test_processor_setting_error_names_the_argument(setting, value):
    """test_processor_settings_errors_name_the_argument."""
    processor_setting_call(setting, value, must_raise=True)


def test_numpy_integer_setting_is_the_same_integer():
    """test_processor_settings_errors_name_the_argument, new: ``patch_size=np.uint8(3)`` was taken as is and
    overflowed in uint8 arithmetic (RuntimeError in a reshape); ``patch_size=3`` works."""
    image = Image.new("RGB", (40, 30))
    expected = Qwen25VLProcessor(patch_size=3)(text=IMG_TEXT, images=[image])
    got = Qwen25VLProcessor(patch_size=np.uint8(3))(text=IMG_TEXT, images=[image])
    assert set(got) == set(expected)
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


@pytest.mark.parametrize(
    "argument, value",
    [
        ("text", False),  # known (text= of the wrong type): 'bool' object is not iterable
        ("videos", [0]),  # known: "frames: expected ..." without videos[0]
        ("images", odd_image("ratio 300")),  # known: aspect-ratio error without images[0]
        ("return_mm_token_type_ids", torch.ones(1, 3)),  # known: RuntimeError
        ("return_tensors", ARRAY),  # new: numpy's "truth value of an array ... is ambiguous"
        ("padding", ARRAY),  # new: the same
    ],
)
def test_processor_call_error_names_the_argument(argument, value):
    """test_processor_call_errors_name_the_argument."""
    processor_call(argument, value, must_raise=True)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("position_ids", False),
        ("pixel_values", False),
    ],  # known: AttributeError 'bool' object has no attribute
)
def test_forward_error_names_the_argument(model, argument, value):
    """test_forward_errors_name_the_argument."""
    forward_call(model._obj, argument, value, must_raise=True)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("second_per_grid_ts", ""),  # known: TypeError new(): invalid data type 'str'
        (
            "image_grid_thw",
            torch.ones(1, 3, dtype=torch.complex64),
        ),  # known: int() argument ... not 'complex'
        ("input_ids", odd_tensor("ids past the vocabulary")),  # stays refused (the forward path)
    ],
)
def test_get_rope_index_error_names_the_argument(model, argument, value):
    """test_get_rope_index_errors_name_the_argument."""
    if argument == "input_ids":  # ids past the vocabulary have positions; the forward must refuse them
        forward_call(model._obj, argument, value, must_raise=True)
        return
    rope_call(model._obj, argument, value, must_raise=True)


@pytest.mark.parametrize(
    "argument, value, sample, must_raise",
    [
        (
            "max_new_tokens",
            None,
            False,
            False,
        ),  # known: TypeError int + NoneType (None now means the default)
        (
            "use_cache",
            torch.ones(1, 3),
            False,
            True,
        ),  # new: RuntimeError "Boolean value of Tensor ... ambiguous"
        ("top_p", math.nan, True, True),  # known fault 3: RuntimeError in torch.multinomial
    ],
)
def test_generate_error_names_the_argument(model, argument, value, sample, must_raise):
    """test_generate_errors_name_the_argument."""
    generate_call(model._obj, argument, value, sample, must_raise=must_raise)


@pytest.mark.parametrize(
    "fault",
    [
        "model.safetensors.index.json: unknown shard",  # known fault 4 (checkpoints): FileNotFoundError
        "model.safetensors.index.json: no weight_map",  # known: KeyError 'weight_map'
        "model.safetensors: truncated",  # known: SafetensorError without the file
        "config.json: a list",  # known: AttributeError 'list' object has no attribute 'get'
        "config.json: not JSON",  # known: JSONDecodeError without the file
    ],
)
def test_broken_checkpoint_names_the_file(checkpoint, tmp_path, fault):
    """test_broken_checkpoint_files_are_named."""
    checkpoint_call(checkpoint, tmp_path / "checkpoint", fault)


@pytest.mark.parametrize(
    "key, value",
    [
        (("rope_scaling",), True),  # known fault 5 (config types): 'bool' object is not iterable
        (("vision_config",), "0"),  # known: dictionary update sequence element...
        (("vision_config",), True),  # known
        (("image_token_id",), []),  # known: a list silently replaced by the default id
        (("image_token_id",), -0.5),  # known: replaced by the default id
        (("image_token_id",), None),  # known: replaced by the default id
        (("rope_scaling",), None),  # known: mrope_section error that named neither the key nor the file
        (("vision_config", "fullatt_block_indexes"), None),  # known
        (("vision_config", "hidden_size"), None),  # known
        (("vision_config", "depth"), None),  # known
        (("rope_scaling", "mrope_section"), None),  # known
        (("vocab_size",), None),  # known
        (("num_hidden_layers",), None),  # known
        (("hidden_size",), None),  # known
    ],
)
def test_config_value_is_used_or_refused_by_name(checkpoint, tmp_path, key, value):
    """test_config_values_are_used_or_refused_by_name."""
    config_call(checkpoint, tmp_path / "checkpoint", key, value)


def test_regression_inputs_are_what_they_claim():
    """The shrunk inputs above still exercise what they name (guards against a helper drifting)."""
    assert odd_image("ratio 300").size == (300, 1)
    assert odd_tensor("ids past the vocabulary").min() == CFG.text.vocab_size
    assert isinstance(Image.new("LA", (1, 1)).convert("La"), Image.Image)
