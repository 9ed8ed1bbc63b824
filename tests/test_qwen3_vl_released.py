"""The released Qwen3-VL sizes: qwen_lite's presets against the released ``config.json`` files, and the models
they build against transformers' on the ``meta`` device (shapes only: no memory, no weights).

The files are frozen in ``tests/fixtures/configs`` (their README says where each was read). A preset that drifts
from its file, a file qwen_lite reads differently from transformers, or a model whose weights differ in name or
shape from the reference's at the released size fails here; the chapter (``book/17_qwen3_vl.ipynb``) builds its
size table from the same presets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qwen_lite.config import QWEN3_VL_PRESETS, Qwen3VLConfig, config_from_hf_dict, config_to_hf_dict
from qwen_lite.model import Qwen3VLForConditionalGeneration

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
FILES = {"2B": "qwen3vl_2b_instruct.json", "4B": "qwen3vl_4b_instruct.json", "8B": "qwen3vl_8b_instruct.json"}


def released(name: str) -> dict:
    return json.loads((FIXTURES / FILES[name]).read_text())


def test_every_preset_has_its_released_file():
    assert set(QWEN3_VL_PRESETS) == set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_preset_is_the_released_config(name):
    config = QWEN3_VL_PRESETS[name]()
    assert isinstance(config, Qwen3VLConfig)
    assert config_from_hf_dict(released(name)) == config
    assert config_from_hf_dict(config_to_hf_dict(config)) == config  # and it survives a round trip


def test_released_sizes_differ_where_the_files_do():
    """The three presets are not one config renamed: width, depth, taps and ties differ as in the files."""
    c2, c4, c8 = (QWEN3_VL_PRESETS[n]() for n in ("2B", "4B", "8B"))
    assert (c2.text.hidden_size, c4.text.hidden_size, c8.text.hidden_size) == (2048, 2560, 4096)
    assert (c2.vision.depth, c4.vision.depth, c8.vision.depth) == (24, 24, 27)
    assert c2.vision.deepstack_visual_indexes == c4.vision.deepstack_visual_indexes == (5, 11, 17)
    assert c8.vision.deepstack_visual_indexes == (8, 16, 24)
    assert (c2.text.tie_word_embeddings, c4.text.tie_word_embeddings, c8.text.tie_word_embeddings) == (
        True,
        True,
        False,
    )
    for c in (c2, c4, c8):
        assert c.vision.out_hidden_size == c.text.hidden_size


def shapes(model: torch.nn.Module, rename=lambda k: k) -> dict[str, tuple[int, ...]]:
    return {rename(k): tuple(v.shape) for k, v in model.state_dict().items()}


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied matrix is one Parameter: counted once


@pytest.mark.reference
@pytest.mark.parametrize("name", FILES)
def test_meta_model_has_the_reference_weights_at_released_size(name):
    """Every weight name and shape of qwen_lite's model equals transformers' for the released file."""
    from transformers import Qwen3VLConfig as HFConfig
    from transformers import Qwen3VLForConditionalGeneration as HFModel

    from qwen_lite.weights import transformers_key

    with torch.device("meta"):
        ours = Qwen3VLForConditionalGeneration(QWEN3_VL_PRESETS[name]())
        theirs = HFModel(HFConfig.from_dict(released(name)))
    assert shapes(ours, transformers_key) == shapes(theirs)
    assert parameter_count(ours) == parameter_count(theirs)
    tied = ours.lm_head.weight is ours.model.embed_tokens.weight
    assert tied == (theirs.lm_head.weight is theirs.model.language_model.embed_tokens.weight)
    assert tied == QWEN3_VL_PRESETS[name]().text.tie_word_embeddings


def test_qwen3_5_tower_is_the_8b_tower_without_deepstack():
    """Chapter 17's note on Qwen3.5: its ``vision_config`` (frozen) reads as the 8B's tower with no taps, and that
    tower builds without DeepStack mergers and with the 8B tower's other parameters, to the last one."""
    import dataclasses

    from qwen_lite.config import qwen3_vl_from_hf_dict
    from qwen_lite.vision import VisionTransformer

    vision = json.loads((FIXTURES / "qwen3_5_vision_config.json").read_text())
    assert vision["model_type"] == "qwen3_5" and vision["deepstack_visual_indexes"] == []
    wrapped = {"model_type": "qwen3_vl", "vision_config": vision, "text_config": {"hidden_size": 4096}}
    tower = qwen3_vl_from_hf_dict(
        wrapped
    ).vision  # only the tower is read: Qwen3.5's decoder is another model
    eight = QWEN3_VL_PRESETS["8B"]().vision
    assert tower == dataclasses.replace(eight, deepstack_visual_indexes=())
    with torch.device("meta"):
        plain, tapped = VisionTransformer(tower), VisionTransformer(eight)
    assert not hasattr(plain, "deepstack_merger_list")
    assert parameter_count(plain) == parameter_count(tapped) - parameter_count(tapped.deepstack_merger_list)


def test_default_deepstack_taps_that_do_not_fit_say_they_are_the_default():
    """A file that gives a shallow tower but no taps gets the 8B's default taps: the error says so."""
    from qwen_lite.config import Qwen3VLVisionConfig

    with pytest.raises(ValueError, match=r"the default, the 8B's"):
        Qwen3VLVisionConfig(depth=12)
    with pytest.raises(ValueError, match=r"\[1, 40\] must be distinct blocks") as error:
        Qwen3VLVisionConfig(depth=12, deepstack_visual_indexes=(1, 40))
    assert "default" not in str(error.value)


def test_a_qwen3_vl_file_without_model_type_is_named_as_such():
    """Without ``model_type`` a file is read as Qwen2.5-VL (the documented fallback); a Qwen3-VL file there would
    fail deep in that reader, so its Qwen3-VL-only vision keys are named instead, with the way out."""
    d = released("2B")
    del d["model_type"]
    with pytest.raises(
        ValueError, match=r"model_type: missing.*deepstack_visual_indexes, num_position_embeddings"
    ):
        config_from_hf_dict(d)
    assert config_from_hf_dict({**d, "model_type": "qwen3_vl"}) == QWEN3_VL_PRESETS["2B"]()
