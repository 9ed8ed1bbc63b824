"""Error clarity on random malformed arguments, through the public API.

Each example calls one public entry point (the tokenizer, ``apply_chat_template``, the processor, ``generate``,
``forward``, ``get_rope_index``, ``from_pretrained``) with every argument valid but one, which is drawn from a
pool of malformed values: wrong types, NaN and infinities, zero and negative sizes, tensors of the wrong dtype or
shape, ids outside the vocabulary, broken structures, corrupted checkpoint files. The call may succeed (some
values are fine); if it raises, the exception must be a ``ValueError``/``TypeError`` (``CheckpointError`` is a
``ValueError``) whose message names the argument (or, for a checkpoint, the file or ``config.json`` key).

``test_generation_arguments_follow_reference`` compares with transformers: a value its ``generate`` refuses
must be refused, one it accepts must be accepted with the same greedy ids (qwen_lite is documented to be
stricter on ``top_p`` above 1 or NaN, which transformers ignores unless it builds the top-p filter).
"""

from __future__ import annotations

import json
import math
import shutil
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from qwen_lite import from_pretrained
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.rope import get_rope_index
from qwen_lite.tokenizer import apply_chat_template, get_tokenizer
from tests.model_inputs import CFG
from tests.properties.malformed import (
    FILE_FAULTS,
    IMG_TEXT,
    JUNK,
    ODD_IMAGE_KINDS,
    ODD_TENSOR_KINDS,
    PARTNERS,
    VID_TEXT,
    assert_clear,
    corrupt,
    odd_image,
    odd_tensor,
    valid_inputs,
)
from tests.properties.support import examples, say
from tests.reference import reference_generate

# --- tokenizer and chat template ---------------------------------------------------------------------

tok = get_tokenizer()
TOKENIZER_CALLS = {
    "encode": (lambda v: tok.encode(v), "text"),
    "decode": (lambda v: tok.decode(v), "ids"),
    "decode(skip_special_tokens)": (
        lambda v: tok.decode([1, 2], skip_special_tokens=v),
        "skip_special_tokens",
    ),
    "batch_decode": (lambda v: tok.batch_decode(v), "sequences"),
    "convert_ids_to_tokens": (lambda v: tok.convert_ids_to_tokens(v), "ids"),
    "convert_tokens_to_ids": (lambda v: tok.convert_tokens_to_ids(v), "tokens"),
}


def tokenizer_call(call: str, value, must_raise: bool = False):
    method, argument = TOKENIZER_CALLS[call]
    assert_clear(lambda: method(value), argument, must_raise=must_raise)


@examples(150)
@given(call=st.sampled_from(sorted(TOKENIZER_CALLS)), value=JUNK | st.lists(JUNK, max_size=3))
def test_tokenizer_errors_name_the_argument(call, value):
    tokenizer_call(call, value)


MESSAGE_JUNK = st.one_of(
    JUNK,
    st.fixed_dictionaries({}, optional={"role": JUNK, "content": JUNK}),
    st.fixed_dictionaries({"role": st.just("user"), "content": st.lists(JUNK, min_size=1, max_size=2)}),
    st.fixed_dictionaries(
        {"role": st.just("user"), "content": st.lists(st.fixed_dictionaries({"type": JUNK, "text": JUNK}))}
    ),
)


def chat_call(messages, flag: str | None = None, flag_value=None, must_raise: bool = False):
    """Every rendering entry point; with ``flag``, good messages and that flag malformed."""
    processor = Qwen25VLProcessor()
    good = [{"role": "user", "content": "hi"}]
    for render in (apply_chat_template, tok.apply_chat_template, processor.apply_chat_template):
        if flag is None:
            assert_clear(lambda r=render: r(messages), "messages", must_raise=must_raise)
        else:
            assert_clear(lambda r=render: r(good, **{flag: flag_value}), flag, must_raise=must_raise)
    if flag is None:
        assert_clear(lambda: processor(messages=messages), "messages", must_raise=must_raise)


@examples(150)
@given(
    messages=JUNK | st.lists(MESSAGE_JUNK, min_size=1, max_size=3),
    flag=st.sampled_from(["add_generation_prompt", "add_vision_id", None]),
    flag_value=JUNK,
)
def test_chat_template_errors_name_the_argument(messages, flag, flag_value):
    """Malformed conversations: the error names ``messages`` (``messages[i]``...) or the flag."""
    chat_call(messages, flag, flag_value)


# --- processor ----------------------------------------------------------------------------------------

PROCESSOR_SETTINGS = ["min_pixels", "max_pixels", "video_min_pixels", "video_max_pixels", "video_total_pixels",
                      "patch_size", "temporal_patch_size", "merge_size", "image_mean", "image_std", "tokenizer"]  # fmt: skip
PROCESSOR_ARGUMENTS = ["text", "images", "videos", "fps", "sample_fps", "min_pixels", "max_pixels", "padding",
                       "return_tensors", "return_mm_token_type_ids"]  # fmt: skip
ODD_IMAGES = st.sampled_from(ODD_IMAGE_KINDS).map(odd_image)


def processor_setting_call(setting: str, value, must_raise: bool = False):
    def build_and_use():
        processor = Qwen25VLProcessor(**{setting: value})
        processor(text=IMG_TEXT, images=[Image.new("RGB", (40, 30))])

    assert_clear(build_and_use, setting, must_raise=must_raise)


@examples(120)
@given(setting=st.sampled_from(PROCESSOR_SETTINGS), value=JUNK)
def test_processor_settings_errors_name_the_argument(setting, value):
    """``Qwen25VLProcessor(min_pixels=0)``, ``max_pixels=nan``... : refused at construction, named."""
    processor_setting_call(setting, value)


def processor_call(argument: str, value, must_raise: bool = False):
    """An image prompt (for ``text``/``images``) or a video prompt, with ``argument`` replaced by ``value``."""
    if argument in ("text", "images"):
        inputs = dict(text=IMG_TEXT, images=[Image.new("RGB", (40, 30))])
    else:
        inputs = dict(text=VID_TEXT, videos=[[np.zeros((28, 28, 3), np.uint8)] * 2])
    inputs[argument] = value
    assert_clear(lambda: Qwen25VLProcessor()(**inputs), argument, must_raise=must_raise)


@examples(150)
@given(
    argument=st.sampled_from(PROCESSOR_ARGUMENTS),
    value=JUNK | ODD_IMAGES | st.lists(JUNK | ODD_IMAGES, min_size=1, max_size=2),
)
def test_processor_call_errors_name_the_argument(argument, value):
    processor_call(argument, value)


# --- model: forward, get_rope_index, generate ------------------------------------------------------------

FORWARD_ARGUMENTS = ["input_ids", "attention_mask", "pixel_values", "image_grid_thw", "pixel_values_videos",
                     "video_grid_thw", "second_per_grid_ts", "position_ids", "rope_deltas", "logits_to_keep",
                     "use_cache", "output_hidden_states", "past_key_values"]  # fmt: skip
ROPE_ARGUMENTS = ["input_ids", "image_grid_thw", "video_grid_thw", "second_per_grid_ts", "attention_mask"]
GENERATE_ARGUMENTS = ["max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "repetition_penalty",
                      "eos_token_id", "pad_token_id", "bos_token_id", "generator", "use_cache", "callback",
                      "attention_mask", "input_ids", "num_beams", "min_new_tokens", "no_such_option"]  # fmt: skip
ODD_TENSORS = st.sampled_from(sorted(ODD_TENSOR_KINDS)).map(odd_tensor)


def forward_call(model, argument: str, value, must_raise: bool = False):
    inputs = valid_inputs()
    inputs[argument] = value
    with torch.no_grad():
        assert_clear(lambda: model(**inputs), argument, *PARTNERS.get(argument, ()), must_raise=must_raise)


@examples(150)
@given(argument=st.sampled_from(FORWARD_ARGUMENTS), value=JUNK | ODD_TENSORS)
def test_forward_errors_name_the_argument(model, argument, value):
    forward_call(model._obj, argument, value)


def rope_call(model, argument: str, value, must_raise: bool = False):
    """The model's ``get_rope_index`` and the function in ``qwen_lite.rope``."""
    inputs = {k: v for k, v in valid_inputs().items() if k != "pixel_values"}
    inputs[argument] = value
    names = (argument, *PARTNERS.get(argument, ()))
    assert_clear(lambda: model.get_rope_index(**inputs), *names, must_raise=must_raise)
    ids = dict(image_token_id=CFG.image_token_id, video_token_id=CFG.video_token_id,
               vision_start_token_id=CFG.vision_start_token_id)  # fmt: skip
    assert_clear(lambda: get_rope_index(**inputs, **ids), *names, must_raise=must_raise)


@examples(120)
@given(argument=st.sampled_from(ROPE_ARGUMENTS), value=JUNK | ODD_TENSORS)
def test_get_rope_index_errors_name_the_argument(model, argument, value):
    rope_call(model._obj, argument, value)


def generate_call(model, argument: str, value, sample: bool, must_raise: bool = False):
    inputs = valid_inputs()
    options = dict(max_new_tokens=2, do_sample=sample, generator=torch.Generator().manual_seed(0))
    options[argument] = value
    names = (argument, *PARTNERS.get(argument, ()))
    assert_clear(lambda: model.generate(**inputs | options), *names, must_raise=must_raise)


@examples(150)
@given(argument=st.sampled_from(GENERATE_ARGUMENTS), value=JUNK | ODD_TENSORS, sample=st.booleans())
def test_generate_errors_name_the_argument(model, argument, value, sample):
    generate_call(model._obj, argument, value, sample)


EDGE_VALUES = {
    "max_new_tokens": [0, -1, 1, 3],
    "temperature": [0.0, -1.0, 1e-4, 0.5, 2.0, math.nan, math.inf],
    "top_k": [-1, 0, 1, 5, 10**6],
    "top_p": [-0.5, 0.0, 1e-9, 0.5, 1.0],
    "repetition_penalty": [-1.0, 0.0, 0.5, 1.0, 1.3],
}


def generation_argument_call(ours, reference, argument: str, value, sample: bool):
    """Refused by transformers -> refused by name; accepted -> accepted, with the same ids when greedy."""
    inputs = valid_inputs()
    options = dict(
        max_new_tokens=3, do_sample=sample, eos_token_id=[CFG.eos_token_id], pad_token_id=CFG.bos_token_id
    )
    options[argument] = value
    torch.manual_seed(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = reference_generate(reference, **inputs, **options, num_beams=1, min_new_tokens=0)
    except ValueError as error:
        say(f"transformers refuses {argument}={value!r}: {error}")
        with pytest.raises((ValueError, TypeError)) as ours_error:
            ours.generate(**inputs, **options)
        assert argument in str(ours_error.value)
        return
    say(f"transformers accepts {argument}={value!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = ours.generate(**inputs, **options, generator=torch.Generator().manual_seed(0))
    assert got.shape[0] == 1 and 0 <= int(got.min()) and int(got.max()) < CFG.text.vocab_size
    if not sample:
        assert torch.equal(got, want)


@pytest.mark.reference
@examples(60)
@given(argument=st.sampled_from(sorted(EDGE_VALUES)), index=st.integers(0, 6), sample=st.booleans())
def test_generation_arguments_follow_reference(pair, argument, index, sample):
    value = EDGE_VALUES[argument][index % len(EDGE_VALUES[argument])]
    generation_argument_call(*pair._obj, argument, value, sample)


# --- checkpoints ------------------------------------------------------------------------------------------

CONFIG_KEYS = [("hidden_size",), ("num_hidden_layers",), ("vocab_size",), ("image_token_id",), ("eos_token_id",),
               ("rope_theta",), ("rms_norm_eps",), ("tie_word_embeddings",), ("rope_scaling", "mrope_section"),
               ("vision_config", "depth"), ("vision_config", "hidden_size"), ("vision_config", "window_size"),
               ("vision_config", "fullatt_block_indexes"), ("vision_config", "tokens_per_second"),
               ("model_type",), ("vision_config",), ("rope_scaling",)]  # fmt: skip
CONFIG_VALUES = st.one_of(
    JUNK.filter(lambda v: not isinstance(v, (torch.Tensor, np.ndarray, np.generic, bytes))),
    st.sampled_from([4000.0, "4000", "64", 64.5, [16, 24], [2, 3], [2, 3, 3, 0], -64, 0]),
)


def checkpoint_call(checkpoint, folder, fault: str):
    """Copy ``checkpoint`` to ``folder``, break one file, load: the error names the file."""
    shutil.copytree(checkpoint, folder)
    path, names = corrupt(folder, fault)
    assert_clear(lambda: from_pretrained(path), *names, must_raise=True)


@examples(40)
@given(fault=st.sampled_from(FILE_FAULTS))
def test_broken_checkpoint_files_are_named(checkpoint, tmp_path_factory, fault):
    checkpoint_call(checkpoint, tmp_path_factory.mktemp("broken") / "checkpoint", fault)


def config_call(checkpoint, folder, key: tuple[str, ...], written, must_raise: bool = False):
    """Write one config.json value; the model loads with exactly that value, or the error names the key."""
    shutil.copytree(checkpoint, folder)
    data = json.loads((folder / "config.json").read_text())
    target = data
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = written
    (folder / "config.json").write_text(json.dumps(data, allow_nan=True))
    # A value of the right type that does not fit the weights (num_hidden_layers=1) is used: the loader then
    # reports the tensors that do not match "the model its config.json describes".
    names = (key[-1],) if must_raise else (key[-1], "config.json")
    loaded = assert_clear(lambda: from_pretrained(folder), *names, must_raise=must_raise)
    if loaded is None or key[-1] in ("model_type", "vision_config", "rope_scaling", "fullatt_block_indexes"):
        return
    section = loaded.config.vision if key[0] == "vision_config" else loaded.config.text
    field = key[-1]
    used = getattr(loaded.config, field) if field.endswith("token_id") else getattr(section, field)
    say(f"loaded {field} = {used!r} from {written!r}")
    if isinstance(written, (list, tuple)):
        assert list(used) == list(written)
    else:
        assert not isinstance(written, str) and float(used) == float(written), "value replaced, not used"


@examples(80)
@given(key=st.sampled_from(CONFIG_KEYS), value=CONFIG_VALUES)
def test_config_values_are_used_or_refused_by_name(checkpoint, tmp_path_factory, key, value):
    """A config.json value is either loaded as written (numerically) or refused with an error naming the key."""
    config_call(checkpoint, tmp_path_factory.mktemp("config") / "checkpoint", key, value)
