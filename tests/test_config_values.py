"""config.json values are used or refused, never silently replaced (issue 19, item 5).

transformers 4.57's ``Qwen2_5_VLConfig(**d)`` converts nothing: it stores ``4000.0``, ``"4000"``, ``"64"``, ``true``
or a 2-entry ``mrope_section`` as given and fails later, deep inside, or computes with them; 5.x refuses the
wrong types outright. There is no conversion to copy, so qwen_lite refuses each with an error naming the key
(and, through ``from_pretrained``, the file). Values of the right type are used exactly (a JSON int for a float field is the same number).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from qwen_lite import config as C
from qwen_lite.weights import CheckpointError, read_config

RELEASED_3B = json.loads(
    (Path(__file__).parent / "fixtures" / "configs" / "qwen25vl_3b_instruct.json").read_text()
)


def edited(**changes) -> dict:
    d = copy.deepcopy(RELEASED_3B)
    for key, value in changes.items():
        if key.startswith("vision__"):
            d["vision_config"][key.removeprefix("vision__")] = value
        else:
            d[key] = value
    return d


BAD = [
    (dict(image_token_id=4000.0), TypeError, r"image_token_id: expected an int, got 4000\.0 \(float\)"),
    (dict(image_token_id="4000"), TypeError, r"image_token_id: expected an int, got '4000' \(str\)"),
    (dict(eos_token_id="151645"), TypeError, r"eos_token_id: expected an int"),
    (dict(bos_token_id=None), TypeError, r"bos_token_id: expected an int, got None"),
    (dict(vision_start_token_id=-1), ValueError, r"vision_start_token_id: expected an int >= 0"),
    (dict(hidden_size="2048"), TypeError, r"hidden_size: expected an int, got '2048' \(str\)"),
    (dict(hidden_size=2048.0), TypeError, r"hidden_size: expected an int, got 2048\.0"),
    (dict(num_hidden_layers=True), TypeError, r"num_hidden_layers: expected an int, got True \(bool\)"),
    (dict(vocab_size=0), ValueError, r"vocab_size: expected an int >= 1, got 0"),
    (dict(rms_norm_eps="1e-6"), TypeError, r"rms_norm_eps: expected a number"),
    (dict(rope_theta=-1), ValueError, r"rope_theta: expected a finite number > 0"),
    (dict(tie_word_embeddings="false"), TypeError, r"tie_word_embeddings: expected true or false, got 'false'"),
    (dict(tie_word_embeddings=0), TypeError, r"tie_word_embeddings: expected true or false, got 0"),
    (dict(hidden_act="gelu"), ValueError, r"hidden_act: only 'silu'"),
    (dict(rope_scaling={"type": "mrope", "mrope_section": [32, 32]}), ValueError,
     r"rope_scaling\.mrope_section: expected 3 entries \(temporal, height, width\), got \[32, 32\]"),
    (dict(rope_scaling={"type": "mrope", "mrope_section": [16.0, 24, 24]}), TypeError,
     r"rope_scaling\.mrope_section: expected a list of ints"),
    (dict(rope_scaling={"type": "mrope", "mrope_section": [16, 24, 23]}), ValueError, r"mrope_section .* must sum"),
    (dict(rope_scaling={"rope_type": "yarn", "factor": 4.0, "mrope_section": [16, 24, 24]}), ValueError,
     r"rope_scaling: rope type 'yarn' is not implemented"),
    (dict(rope_scaling=[16, 24, 24]), TypeError, r"rope_scaling: expected an object"),
    (dict(use_sliding_window=True), ValueError, r"use_sliding_window: True is not implemented"),
    (dict(model_type="llama"), ValueError, r"model_type: expected 'qwen2_5_vl', got 'llama'"),
    (dict(vision_config=[1]), TypeError, r"vision_config: expected an object"),
    (dict(text_config="x"), TypeError, r"text_config: expected an object"),
    (dict(vision__depth="32"), TypeError, r"vision_config\.depth: expected an int, got '32'"),
    (dict(vision__in_chans=3.0), TypeError, r"vision_config\.in_chans: expected an int, got 3\.0"),
    (dict(vision__fullatt_block_indexes=[7, 15, 32]), ValueError,
     r"vision_config\.fullatt_block_indexes: \[32\] are not blocks of a depth-32 tower"),
    (dict(vision__window_size=True), TypeError, r"vision_config\.window_size: expected an int, got True"),
]  # fmt: skip


@pytest.mark.parametrize("changes, error, message", BAD, ids=[str(c) for c, _, _ in BAD])
def test_wrong_values_are_refused_naming_the_key(changes, error, message):
    with pytest.raises(error, match=message):
        C.from_hf_dict(edited(**changes))


@pytest.mark.parametrize("changes, error, message", BAD[:4] + BAD[14:15] + BAD[23:24])
def test_checkpoint_error_names_file_and_key(tmp_path, changes, error, message):
    (tmp_path / "config.json").write_text(json.dumps(edited(**changes)))
    with pytest.raises(CheckpointError, match=message) as caught:
        read_config(tmp_path)
    assert str(tmp_path / "config.json") in str(caught.value)


@pytest.mark.reference
def test_transformers_stores_these_values_unconverted_or_refuses_them():
    """What "convert as transformers does" would mean: nothing. 4.57 stores the values as written; 5.x refuses
    them (strict dataclass fields: an error naming the field). Neither converts, so qwen_lite refuses."""
    from transformers import Qwen2_5_VLConfig

    from tests.reference import TF5

    if TF5:
        for changes in (dict(image_token_id=4000.0), dict(hidden_size="2048"), dict(vision__depth="32")):
            with pytest.raises(Exception, match=list(changes)[0].removeprefix("vision__")):  # noqa: B017
                Qwen2_5_VLConfig(**edited(**changes))
        return
    hf = Qwen2_5_VLConfig(**edited(image_token_id=4000.0, hidden_size="2048", num_hidden_layers=True))
    assert hf.image_token_id == 4000.0 and isinstance(hf.image_token_id, float)
    assert hf.text_config.hidden_size == "2048" and hf.text_config.num_hidden_layers is True
    short = Qwen2_5_VLConfig(**edited(rope_scaling={"type": "mrope", "mrope_section": [32, 32]}))
    assert short.text_config.rope_scaling["mrope_section"] == [32, 32]


def test_exact_values_are_used():
    released = C.from_hf_dict(RELEASED_3B)
    assert released == C.qwen25vl_3b()
    # A JSON int where a float is expected is the same number; a float field is stored as float.
    assert C.from_hf_dict(edited(rope_theta=1000000)).text.rope_theta == 1e6
    assert isinstance(C.from_hf_dict(edited(rope_theta=1000000)).text.rope_theta, float)
    # Every present token id is used (before, a non-int id was dropped and the default kept).
    assert C.from_hf_dict(edited(image_token_id=151000)).image_token_id == 151000
    # The nested text_config layout of newer transformers.
    nested = edited()
    nested["text_config"] = {"hidden_size": 2048, "num_hidden_layers": 36}
    assert C.from_hf_dict(nested) == released


def test_direct_construction_checks_types_too():
    with pytest.raises(TypeError, match=r"text\.hidden_size: expected an int, got '64'"):
        C.TextConfig(hidden_size="64")
    with pytest.raises(ValueError, match=r"text\.mrope_section: expected 3 entries"):
        C.TextConfig(mrope_section=(32, 32))
    with pytest.raises(TypeError, match=r"vision\.patch_size: expected an int, got 14\.0"):
        C.VisionConfig(patch_size=14.0)
    with pytest.raises(TypeError, match=r"^image_token_id: expected an int"):
        C.Qwen25VLConfig(image_token_id="151655")
    with pytest.raises(TypeError, match="vision= takes a VisionConfig"):
        C.Qwen25VLConfig(vision={"depth": 2})
    assert C.TextConfig(mrope_section=[16, 24, 24]).mrope_section == (16, 24, 24)  # a JSON list is fine
