"""Checkpoint loading and saving: both key layouts, tied embeddings, shards, clear errors, config files."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from qwen_lite import config as C
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.weights import (
    CheckpointError,
    checkpoint_dtype,
    from_pretrained,
    parse_size,
    released_key,
    save_pretrained,
)
from tests.reference import hf_model

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
ATOL = RTOL = 1e-5


def tied(cfg: C.Qwen25VLConfig) -> C.Qwen25VLConfig:
    return cfg.replace(text=dataclasses.replace(cfg.text, tie_word_embeddings=True))


def text_inputs(cfg) -> dict:
    torch.manual_seed(1)
    return {"input_ids": torch.randint(0, 151000, (2, 9))}


def image_inputs(cfg) -> dict:
    """One 4x6-patch image (6 merged tokens) between two runs of text, with random pixels."""
    torch.manual_seed(2)
    grid = torch.tensor([[1, 4, 6]])
    pads = [cfg.image_token_id] * 6
    ids = [100, 200, cfg.vision_start_token_id, *pads, cfg.vision_end_token_id, 300, 400, 500]
    return {
        "input_ids": torch.tensor([ids]),
        "pixel_values": torch.randn(24, cfg.vision.patch_dim),
        "image_grid_thw": grid,
    }


def logits(model, inputs) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits


def assert_same_logits(reference, model, cfg) -> None:
    for inputs in (text_inputs(cfg), image_inputs(cfg)):
        torch.testing.assert_close(logits(model, inputs), logits(reference, inputs), atol=ATOL, rtol=RTOL)


@pytest.fixture(scope="module")
def reference():
    return hf_model(C.tiny(), seed=0)


@pytest.fixture(scope="module")
def reference_tied():
    return hf_model(tied(C.tiny()), seed=3)


# --- transformers -> qwen_lite ------------------------------------------------------------------


def test_load_transformers_save_pretrained(reference, tmp_path):
    reference.save_pretrained(tmp_path, safe_serialization=True)
    keys = load_file(tmp_path / "model.safetensors").keys()
    assert any(k.startswith("visual.") for k in keys) and any(k.startswith("model.layers.") for k in keys)
    model = from_pretrained(tmp_path)
    assert_same_logits(reference, model, C.tiny())


def test_load_in_memory_layout_of_new_transformers(reference, tmp_path):
    """``model.visual.*`` / ``model.language_model.*``: what transformers >= 4.52 holds in memory."""
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    assert any(k.startswith("model.language_model.") for k in state)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(C.to_hf_dict(C.tiny())))
    assert_same_logits(reference, from_pretrained(tmp_path), C.tiny())


def test_load_tied_embeddings_without_lm_head_key(reference_tied, tmp_path):
    reference_tied.save_pretrained(tmp_path, safe_serialization=True)
    assert "lm_head.weight" not in load_file(tmp_path / "model.safetensors")
    model = from_pretrained(tmp_path)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert_same_logits(reference_tied, model, tied(C.tiny()))


def test_load_sharded(reference, tmp_path):
    reference.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="5MB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    assert_same_logits(reference, from_pretrained(tmp_path), C.tiny())


def test_load_casts_dtype(reference, tmp_path):
    reference.save_pretrained(tmp_path, safe_serialization=True)
    model = from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not any(p.is_meta for p in model.parameters())


# --- qwen_lite -> transformers ------------------------------------------------------------------


@pytest.mark.parametrize("tie, shard", [(False, None), (True, "3MB")])
def test_save_pretrained_loads_in_transformers(tmp_path, tie, shard):
    from transformers import Qwen2_5_VLForConditionalGeneration

    cfg = tied(C.tiny()) if tie else C.tiny()
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(cfg).eval()
    save_pretrained(model, tmp_path, max_shard_size=shard)
    assert (tmp_path / "model.safetensors.index.json").is_file() == bool(shard)
    generation = json.loads((tmp_path / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [cfg.eos_token_id, cfg.bos_token_id]
    reference = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        tmp_path, attn_implementation="sdpa"
    ).eval()
    assert_same_logits(reference, model, cfg)
    reloaded = from_pretrained(tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key


def test_save_pretrained_writes_the_files_transformers_model_save_pretrained_writes(reference, tmp_path):
    """No preprocessor_config.json, as transformers: the processor's save_pretrained writes that one, and
    loading preprocessing from a model-only folder warns (qwen_lite) or fails (transformers)."""
    from transformers import AutoImageProcessor

    from qwen_lite.processor import Qwen25VLProcessor

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    save_pretrained(Qwen25VLForConditionalGeneration(C.tiny()), ours)
    reference.save_pretrained(theirs)
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    assert not (theirs / "preprocessor_config.json").exists()
    with pytest.raises(OSError):
        AutoImageProcessor.from_pretrained(theirs)
    with pytest.warns(UserWarning, match="preprocessor_config.json: not found"):
        Qwen25VLProcessor.from_pretrained(ours)
    Qwen25VLProcessor().save_pretrained(ours)  # the way to add one (the docstring says so)
    assert (ours / "preprocessor_config.json").is_file()
    AutoImageProcessor.from_pretrained(ours)


# --- errors -------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    save_pretrained(Qwen25VLForConditionalGeneration(C.tiny()), tmp_path)
    return tmp_path


def edit_weights(folder: Path, edit) -> None:
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})


def test_missing_key_is_named(saved):
    edit_weights(saved, lambda s: s.pop("visual.merger.ln_q.weight"))
    with pytest.raises(CheckpointError, match=r"missing \(1\):\n    visual\.merger\.ln_q\.weight"):
        from_pretrained(saved)


def test_untied_model_needs_lm_head(saved):
    edit_weights(saved, lambda s: s.pop("lm_head.weight"))
    with pytest.raises(CheckpointError, match=r"missing \(1\):\n    lm_head\.weight"):
        from_pretrained(saved)


def test_unexpected_key_is_named(saved):
    edit_weights(saved, lambda s: s.update({"visual.extra.weight": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match=r"unexpected \(1\):\n    visual\.extra\.weight"):
        from_pretrained(saved)


def test_misshaped_key_shows_both_shapes(saved):
    edit_weights(saved, lambda s: s.update({"model.norm.weight": torch.ones(65)}))
    with pytest.raises(
        CheckpointError,
        match=r"wrong shape \(1\):\n    model\.norm\.weight: checkpoint \(65,\), model \(64,\)",
    ):
        from_pretrained(saved)


def test_all_problems_in_one_message(saved):
    def edit(s):
        s.pop("model.layers.0.mlp.up_proj.weight")
        s.pop("model.layers.1.mlp.up_proj.weight")
        s["surprise"] = torch.zeros(1)
        s["visual.patch_embed.proj.weight"] = torch.zeros(3)

    edit_weights(saved, edit)
    with pytest.raises(CheckpointError) as error:
        from_pretrained(saved)
    message = str(error.value)
    assert "missing (2)" in message and "unexpected (1)" in message and "wrong shape (1)" in message
    assert "model.layers.1.mlp.up_proj.weight" in message and "surprise" in message


class _Trap:
    """Unpickling this creates a file: proof that a loader ran pickle code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_only_folder_is_refused_without_unpickling(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(C.to_hf_dict(C.tiny())))
    trap = tmp_path / "unpickled"
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps(_Trap(str(trap))))
    with pytest.raises(
        CheckpointError, match=r"only pickle .*pytorch_model\.bin.*never unpickles.*safetensors"
    ):
        from_pretrained(tmp_path)
    assert not trap.exists()


def test_folder_without_config_or_weights(tmp_path):
    with pytest.raises(CheckpointError, match="no config.json"):
        from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(C.to_hf_dict(C.tiny())))
    with pytest.raises(CheckpointError, match=r"no \*\.safetensors"):
        from_pretrained(tmp_path)


def test_folder_errors_say_what_the_path_is(tmp_path):
    """A path to config.json itself, a missing path, a weights file, a parent folder and a non-path."""
    (tmp_path / "ckpt").mkdir()
    config = tmp_path / "ckpt" / "config.json"
    config.write_text(json.dumps(C.to_hf_dict(C.tiny())))
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"")
    wanted = r"; expected the folder that holds config\.json \+ model\.safetensors"
    cases = [
        (
            config,
            rf"^folder: {config} is a file; pass the folder that holds config\.json \(got the file config\.json itself\)",
        ),  # fmt: skip
        (tmp_path / "ckpt" / "model.safetensors", r"is a file; .*\(got the file model\.safetensors\)"),
        (tmp_path / "nowhere", rf"^folder: {tmp_path / 'nowhere'} does not exist{wanted}"),
        (str(tmp_path / "nowhere"), rf"^folder: {tmp_path / 'nowhere'} does not exist{wanted}"),
        (tmp_path, rf"^folder: {tmp_path}: no config\.json \(one folder down: {tmp_path / 'ckpt'}\)"),
        (
            "Qwen/No-Such-Model",
            r"does not exist.*local folders only: download the Hub repository Qwen/No-Such",
        ),
    ]
    for folder, message in cases:
        with pytest.raises(CheckpointError, match=message):
            from_pretrained(folder)
        with pytest.raises(CheckpointError, match=message):
            checkpoint_dtype(folder)
    assert "Hub" not in str(pytest.raises(CheckpointError, from_pretrained, tmp_path / "nowhere").value)
    with pytest.raises(TypeError, match=r"^folder: expected the path \(str or os\.PathLike\).*got int"):
        from_pretrained(3)


def test_helpers():
    assert released_key("model.visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    assert released_key("model.language_model.norm.weight") == "model.norm.weight"
    assert released_key("model.norm.weight") == "model.norm.weight"
    assert released_key("lm_head.weight") == "lm_head.weight"
    assert parse_size("2GB") == 2_000_000_000 and parse_size("500MiB") == 500 * 2**20 and parse_size(7) == 7
    with pytest.raises(ValueError, match="max_shard_size"):
        parse_size("lots")


# --- config.json fixtures -----------------------------------------------------------------------


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize(
    "name, preset",
    [("qwen25vl_3b_instruct.json", C.qwen25vl_3b), ("qwen25vl_7b_instruct.json", C.qwen25vl_7b)],
)
def test_released_config_fixtures_parse_to_presets(name, preset):
    d = fixture(name)
    assert "in_chans" in d["vision_config"] and d["rope_scaling"]["type"] == "mrope"
    assert C.from_hf_dict(d) == preset()


def test_older_vision_schema_takes_released_values():
    cfg = C.from_hf_dict(fixture("qwen25vl_32b_style_older_vision_schema.json"))
    assert (cfg.vision.depth, cfg.vision.window_size, cfg.vision.patch_size) == (32, 112, 14)
    assert (cfg.vision.hidden_size, cfg.vision.in_channels, cfg.vision.out_hidden_size) == (1280, 3, 5120)
    assert cfg.text.mrope_section == (16, 24, 24) and cfg.text.num_key_value_heads == 8


def test_config_spellings_and_defaults():
    d = fixture("qwen25vl_3b_instruct.json")
    expected = C.from_hf_dict(d)
    standard = {
        **d,
        "rope_scaling": {"rope_type": "default", "type": "default", "mrope_section": [16, 24, 24]},
    }
    assert C.from_hf_dict(standard) == expected
    vision = {**d["vision_config"], "in_channels": 3}
    del vision["in_chans"]
    assert C.from_hf_dict({**d, "vision_config": vision}) == expected
    sparse = {
        k: v for k, v in d.items() if k not in ("rms_norm_eps", "rope_theta", "max_position_embeddings")
    }
    sparse["vision_config"] = {"out_hidden_size": 2048}
    cfg = C.from_hf_dict(sparse)
    assert cfg.text.rms_norm_eps == 1e-6 and cfg.text.rope_theta == 1e6  # released values, not class defaults
    assert cfg == expected


def test_fixture_configs_build_in_transformers():
    from transformers import Qwen2_5_VLConfig

    hf = Qwen2_5_VLConfig(**fixture("qwen25vl_7b_instruct.json"))
    assert hf.vision_config.hidden_size == 1280 and hf.vision_config.fullatt_block_indexes == [7, 15, 23, 31]
    assert hf.text_config.num_key_value_heads == 4
    assert hf.text_config.rope_scaling["mrope_section"] == [16, 24, 24]
