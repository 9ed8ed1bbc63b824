"""Malformed arguments and the check that an error names them (shared by the error properties and regressions)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import torch
from hypothesis import strategies as st
from PIL import Image

from tests.model_inputs import CFG
from tests.properties.support import say

IMG_TEXT = "<|vision_start|><|image_pad|><|vision_end|>Describe."
VID_TEXT = "<|vision_start|><|video_pad|><|vision_end|>Describe."


def tensor(kind: str) -> torch.Tensor:
    return {
        "float": torch.ones(1, 3),
        "bool": torch.ones(1, 3, dtype=torch.bool),
        "complex": torch.ones(1, 3, dtype=torch.complex64),
        "0-d": torch.tensor(3),
        "1-d": torch.arange(3),
        "3-d": torch.zeros(1, 1, 3, dtype=torch.long),
        "empty": torch.zeros(1, 0, dtype=torch.long),
        "negative": torch.full((1, 3), -1),
        "huge": torch.full((1, 3), 2**40),
        "nan": torch.full((1, 3), float("nan")),
    }[kind]


# No huge sizes: a processor with temporal_patch_size=2**31 would really try to pad a video to 2**31 frames.
NUMBERS = st.sampled_from([0, -1, 1, 2, 3, -0.5, 0.0, 0.5, 1.0, 1.5, 1e-300, math.nan, math.inf, -math.inf])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.integers(-3, 10),
    st.floats(-10.0, 10.0),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.lists(st.integers(-2, 5), max_size=3),
    st.sampled_from([[], {}, [None], [[1]], {"a": 1}, (1, 2), np.zeros((2, 2)), np.uint8(3)]),
    st.sampled_from(
        ["float", "bool", "complex", "0-d", "1-d", "3-d", "empty", "negative", "huge", "nan"]
    ).map(tensor),
)


# An argument that must agree with another may be refused by naming the other: a mask of another shape than
# the ids, pixel rows that do not match the grids... (both names are right; the one corrupted need not be).
PARTNERS = {
    "input_ids": ("attention_mask", "position_ids"),
    "attention_mask": ("input_ids",),
    "pixel_values": ("image_grid_thw",),
    "image_grid_thw": ("pixel_values", "input_ids"),
    "pixel_values_videos": ("video_grid_thw",),
    "video_grid_thw": ("pixel_values_videos", "second_per_grid_ts", "input_ids"),
    "second_per_grid_ts": ("video_grid_thw",),
    "position_ids": ("input_ids",),
    "rope_deltas": ("past_key_values",),
    "past_key_values": ("rope_deltas",),
}


def assert_clear(call, *names: str, must_raise: bool = False):
    """``call()`` succeeds (unless ``must_raise``), or raises a ValueError/TypeError naming one of ``names``.

    Returns what ``call()`` returned (None if it raised).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except (ValueError, TypeError) as error:
        message = str(error)
        say(f"{type(error).__name__}: {message}")
        assert any(name in message for name in names), (
            f"{type(error).__name__} names none of {names}: {message}"
        )
        return None
    except Exception as error:  # noqa: BLE001  (the point: nothing else may escape)
        raise AssertionError(f"{type(error).__module__}.{type(error).__name__} escaped: {error}") from error
    assert not must_raise, f"accepted, expected an error naming one of {names}"
    return result


ODD_IMAGE_KINDS = ["La", "zero-size", "ratio 300", "ratio 201", "uint16 array", "2-d array", "4-channel array",
                   "tensor > 1", "tensor nan", "int tensor", "channels-last tensor", "path"]  # fmt: skip


def odd_image(kind: str):
    return {
        "La": lambda: Image.new("LA", (30, 30)).convert("La"),
        "zero-size": lambda: Image.new("RGB", (0, 5)),
        "ratio 300": lambda: Image.new("RGB", (300, 1)),
        "ratio 201": lambda: Image.new("RGB", (201, 1)),
        "uint16 array": lambda: np.zeros((28, 28, 3), np.uint16),
        "2-d array": lambda: np.zeros((28, 28), np.uint8),
        "4-channel array": lambda: np.zeros((28, 28, 4), np.uint8),
        "tensor > 1": lambda: torch.full((3, 28, 28), 2.0),
        "tensor nan": lambda: torch.full((3, 28, 28), float("nan")),
        "int tensor": lambda: torch.zeros(3, 28, 28, dtype=torch.uint8),
        "channels-last tensor": lambda: torch.zeros(28, 28, 3),
        "path": lambda: "/nonexistent/image.png",
    }[kind]()


def valid_inputs() -> dict:
    """Text, one 4x4-patch image (4 merged tokens), text; one row."""
    ids = torch.tensor(
        [[1, 2, CFG.vision_start_token_id] + [CFG.image_token_id] * 4 + [CFG.vision_end_token_id, 3]]
    )
    return dict(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        pixel_values=torch.randn(16, CFG.vision.patch_dim, generator=torch.Generator().manual_seed(0)),
        image_grid_thw=torch.tensor([[1, 4, 4]]),
    )


FILE_FAULTS = ["config.json: not JSON", "config.json: a list", "config.json: missing", "model.safetensors: truncated",
               "model.safetensors: missing", "model.safetensors: garbage", "model.safetensors.index.json: no weight_map",
               "model.safetensors.index.json: unknown shard", "generation_config.json: not JSON",
               "generation_config.json: a list", "folder: missing", "folder: a file"]  # fmt: skip


def corrupt(folder, fault: str):
    """Apply one file fault to a copy of a checkpoint folder; returns (path to load, names to expect)."""
    config, weights = folder / "config.json", folder / "model.safetensors"
    if fault == "config.json: not JSON":
        config.write_text("{not json")
    elif fault == "config.json: a list":
        config.write_text("[1, 2]")
    elif fault == "config.json: missing":
        config.unlink()
    elif fault == "model.safetensors: truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif fault == "model.safetensors: missing":
        weights.unlink()
    elif fault == "model.safetensors: garbage":
        weights.write_bytes(b"\x00" * 64)
    elif fault.startswith("model.safetensors.index.json"):
        index = (
            {"metadata": {}}
            if "no weight_map" in fault
            else {"weight_map": {"lm_head.weight": "nope.safetensors"}}
        )
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        weights.unlink()
        return folder, ("model.safetensors.index.json", "nope.safetensors")
    elif fault == "generation_config.json: not JSON":
        (folder / "generation_config.json").write_text("{")
    elif fault == "generation_config.json: a list":
        (folder / "generation_config.json").write_text("[]")
    elif fault == "folder: missing":
        return folder / "nowhere", ("nowhere",)
    elif fault == "folder: a file":
        return config, ("config.json",)
    return folder, (fault.split(":")[0],)


ODD_TENSOR_KINDS = {
    "2 image grids": lambda: torch.tensor([[1, 4, 4], [1, 4, 4]]),
    "grid 1x4x6": lambda: torch.tensor([[1, 4, 6]]),
    "odd grid": lambda: torch.tensor([[1, 3, 4]]),
    "zero grid": lambda: torch.tensor([[0, 4, 4]]),
    "float grid": lambda: torch.tensor([[1, 4, 4]], dtype=torch.float32),
    "15 patch rows": lambda: torch.randn(15, 1176),
    "patch width 1000": lambda: torch.randn(16, 1000),
    "nan patches": lambda: torch.full((16, 1176), float("nan")),
    "ids past the vocabulary": lambda: torch.tensor([[CFG.text.vocab_size] * 3]),
    "one placeholder": lambda: torch.tensor([[1, 2, CFG.image_token_id]]),
    "batch of 2": lambda: torch.zeros(2, 9, dtype=torch.long),
    "mask of 2s": lambda: torch.full((1, 9), 2),
    "positions (3, 1, 9)": lambda: torch.zeros(3, 1, 9, dtype=torch.long),
    "two seconds": lambda: torch.tensor([1.0, 2.0]),
    "negative second": lambda: torch.tensor([-1.0]),
}


def odd_tensor(kind: str) -> torch.Tensor:
    """Tensors that clash with ``valid_inputs`` (counts, shapes, dtypes, ranges)."""
    return ODD_TENSOR_KINDS[kind]()
