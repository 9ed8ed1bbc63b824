"""Checkpoint folders: the files transformers reads (and only those), and clear errors for broken ones.

* Handed case randomized/07: invalid JSON, JSON of the wrong type, an index without ``weight_map``, a truncated
  safetensors file each raise a CheckpointError naming the file and what is wrong.
* Issue 11 §3: the index if present, else ``model.safetensors``; any other ``*.safetensors`` (an adapter, a
  second export) is ignored and named in a warning, as transformers ignores it.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from qwen_lite.config import tiny
from qwen_lite.model import Qwen25VLForConditionalGeneration
from qwen_lite.weights import CheckpointError, from_pretrained, save_pretrained

INDEX = "model.safetensors.index.json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """One tiny model saved whole and in shards, and its state dict."""
    torch.manual_seed(0)
    model = Qwen25VLForConditionalGeneration(tiny())
    single, sharded = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("sharded")
    save_pretrained(model, single)
    save_pretrained(model, sharded, max_shard_size="20MB")
    return {"single": single, "sharded": sharded, "state": model.state_dict()}


def copy(saved, kind: str, tmp_path: Path) -> Path:
    folder = tmp_path / kind
    shutil.copytree(saved[kind], folder)
    return folder


def assert_loaded_unchanged(model, state) -> None:
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key


# --- handed case randomized/07 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, file, edit, message",
    [
        ("single", "config.json", "{not json", r"config\.json: invalid JSON \(.* line 1, column 2\)"),
        ("single", "config.json", "[1, 2]", r"config\.json: expected a JSON object, got an array"),
        ("single", "config.json", '"qwen"', r"config\.json: expected a JSON object, got a string"),
        ("single", "config.json", b"\xff\xfe{}", r"config\.json: not a UTF-8 text file"),
        ("sharded", INDEX, '{"metadata": {}}', r"index\.json: no 'weight_map'"),
        ("sharded", INDEX, '{"weight_map": [1]}', r"index\.json: 'weight_map' must map tensor names"),
        ("sharded", INDEX, "{", r"index\.json: invalid JSON"),
        ("sharded", INDEX, "[]", r"index\.json: expected a JSON object, got an array"),
        ("single", "generation_config.json", "{oops", r"generation_config\.json: invalid JSON"),
        (
            "single",
            "generation_config.json",
            "7",
            r"generation_config\.json: expected a JSON object, got a number",
        ),
    ],
)
def test_broken_json_names_the_file(saved, tmp_path, kind, file, edit, message):
    folder = copy(saved, kind, tmp_path)
    path = folder / file
    path.write_bytes(edit) if isinstance(edit, bytes) else path.write_text(edit)
    with pytest.raises(CheckpointError, match=message) as error:
        from_pretrained(folder)
    assert str(path) in str(error.value)


def test_index_naming_a_missing_shard(saved, tmp_path):
    folder = copy(saved, "sharded", tmp_path)
    shard = sorted(folder.glob("model-*-of-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=rf"index\.json: names shard file\(s\) missing .*{shard.name}"):
        from_pretrained(folder)


@pytest.mark.parametrize("cut", [0, 5, 1000, -100])
def test_truncated_or_corrupt_safetensors_names_the_file(saved, tmp_path, cut):
    folder = copy(saved, "single", tmp_path)
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:cut])  # the first bytes only, or all but the last 100
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a readable safetensors file"):
        from_pretrained(folder)


def test_corrupt_header_names_the_file(saved, tmp_path):
    folder = copy(saved, "single", tmp_path)
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[8:16] = b"#garbage"  # the JSON header starts at byte 8
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a readable safetensors file"):
        from_pretrained(folder)


def test_handed_case_every_broken_folder_names_its_file(saved, tmp_path):
    """The four folders of randomized/07, as the script builds them."""
    variants = {
        "config.json": lambda d: (d / "config.json").write_text("{not json"),
        "config.json ": lambda d: (d / "config.json").write_text("[1, 2]"),
        INDEX: lambda d: (d / INDEX).write_text('{"metadata": {}}'),
        "model.safetensors": lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:1000]),
    }  # fmt: skip
    for i, (file, edit) in enumerate(variants.items()):
        folder = tmp_path / str(i)
        shutil.copytree(saved["single"], folder)
        edit(folder)
        with pytest.raises(CheckpointError) as error:
            from_pretrained(folder)
        assert file.strip() in str(error.value)


# --- which files are read ----------------------------------------------------------------------------------


def test_adapter_next_to_model_safetensors_is_ignored_and_named(saved, tmp_path):
    folder = copy(saved, "single", tmp_path)
    adapter = {"base_model.model.lm_head.lora_A.weight": torch.ones(8, 64)}
    save_file(adapter, folder / "adapter_model.safetensors")
    with pytest.warns(UserWarning, match=r"ignoring adapter_model\.safetensors \(not model\.safetensors"):
        model = from_pretrained(folder)
    assert_loaded_unchanged(model, saved["state"])


def test_sharded_folder_with_a_stray_export_reads_only_the_shards(saved, tmp_path):
    folder = copy(saved, "sharded", tmp_path)
    # A second full export with other values: reading it too would clash or mix weights.
    other = {k: torch.zeros_like(v) for k, v in load_file(saved["single"] / "model.safetensors").items()}
    save_file(other, folder / "model.safetensors")
    save_file({"x": torch.zeros(1)}, folder / "consolidated.safetensors")
    with pytest.warns(
        UserWarning, match=r"ignoring consolidated\.safetensors, model\.safetensors \(" + INDEX
    ):
        model = from_pretrained(folder)
    assert_loaded_unchanged(model, saved["state"])


@pytest.mark.reference
def test_transformers_reads_the_same_files(saved, tmp_path):
    """The rule is transformers': it loads the same weights from the folder with the stray files."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    folder = copy(saved, "single", tmp_path)
    save_file({"base_model.model.x.lora_A.weight": torch.ones(2, 2)}, folder / "adapter_model.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder)
        ours = from_pretrained(folder)
    ids = torch.tensor([[9707, 11, 1879]])
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, theirs(input_ids=ids).logits, atol=1e-5, rtol=1e-5)


def test_folder_with_only_other_safetensors_is_refused(saved, tmp_path):
    folder = copy(saved, "single", tmp_path)
    (folder / "model.safetensors").rename(folder / "weights.safetensors")
    with pytest.raises(
        CheckpointError, match=r"no model\.safetensors and no .*found only weights\.safetensors"
    ):
        from_pretrained(folder)


def test_shard_files_may_not_repeat_a_tensor(saved, tmp_path):
    folder = copy(saved, "sharded", tmp_path)
    index = json.loads((folder / INDEX).read_text())
    first, second = sorted(set(index["weight_map"].values()))[:2]
    state = load_file(folder / second)
    state.update({k: v for k, v in list(load_file(folder / first).items())[:1]})
    save_file(state, folder / second, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=rf"{second}: tensor .* is also in {first}"):
        from_pretrained(folder)


def test_no_warning_for_a_clean_folder(saved):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_pretrained(saved["single"])
        from_pretrained(saved["sharded"])
