"""Loads the Hypothesis profile (``support``) and provides the references, each with a short ``repr``.

The reference tokenizer and image processor are the fixtures of tests/test_tokenizer.py and
tests/test_processing.py, imported (not copied) under the names below.
"""

import dataclasses

import pytest
import torch

from qwen_lite import save_pretrained
from qwen_lite.model import Qwen25VLForConditionalGeneration
from tests.model_inputs import CFG
from tests.properties.support import Quiet
from tests.test_processing import reference as _image_processor_reference  # noqa: F401  (a fixture)
from tests.test_tokenizer import reference as _tokenizer_reference  # noqa: F401  (a fixture)

_BUILT = {}  # the references are built once per session (the imported fixtures are module-scoped)


def once(name: str, build):
    if name not in _BUILT:
        _BUILT[name] = build()
    return _BUILT[name]


@pytest.fixture(scope="module")
def hf_tokenizer(request):
    """transformers' Qwen2TokenizerFast from released-style files (tests/test_tokenizer.py)."""
    return once(
        "tokenizer",
        lambda: Quiet(request.getfixturevalue("_tokenizer_reference"), "<transformers Qwen2TokenizerFast>"),
    )


@pytest.fixture(scope="module")
def hf_image_processor(request):
    """transformers' slow (PIL) Qwen2VLImageProcessor with its class defaults (tests/test_processing.py)."""
    return once(
        "image processor",
        lambda: Quiet(
            request.getfixturevalue("_image_processor_reference"), "<transformers Qwen2VLImageProcessor>"
        ),
    )


@pytest.fixture(scope="module")
def model():
    """A qwen_lite model of the compact test config (random weights)."""
    torch.manual_seed(0)
    return Quiet(Qwen25VLForConditionalGeneration(CFG).eval(), "<qwen_lite tiny model>")


@pytest.fixture(scope="module")
def pair():
    from tests.model_inputs import model_pair

    return once("pair", lambda: Quiet(model_pair(seed=5), "<qwen_lite and transformers models, seed 5>"))


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A saved checkpoint folder of the compact test config, copied and broken by the error properties."""
    folder = tmp_path_factory.mktemp("checkpoint") / "ok"
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(CFG), folder)
    return folder


@pytest.fixture(scope="module")
def rope_reference():
    """A reference ``Qwen2_5_VLModel`` counting 1 tick per second: it is handed seconds x 2, so that 4.57's
    integer cast of ``second_per_grid_t`` never bites (test_rope_properties.py)."""
    from tests.reference import hf_model, no_init_weights

    config = CFG.replace(vision=dataclasses.replace(CFG.vision, tokens_per_second=1))
    with no_init_weights():  # only get_rope_index is used
        model = hf_model(config).model
    return Quiet(model, "<transformers Qwen2_5_VLModel, 1 tick per second>")


@pytest.fixture(scope="module")
def models():
    """(qwen_lite, transformers) with the same tiny random weights (tests/model_inputs.model_pair)."""
    from tests.model_inputs import model_pair

    return once("models", lambda: Quiet(model_pair(seed=11), "<qwen_lite and transformers models, seed 11>"))
