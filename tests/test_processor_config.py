"""``Qwen25VLProcessor.from_pretrained`` / ``save_pretrained``: a checkpoint's preprocessing files.

The folder's ``preprocessor_config.json`` and ``video_preprocessor_config.json`` drive every path built
from it (``images=``, ``videos=``, ``messages=``), as transformers' processor loaded from that folder
would; what we write, transformers reads back with the same values.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from qwen_lite import CheckpointError, Qwen25VLProcessor
from qwen_lite.processing import (
    IMAGE_MEAN,
    IMAGE_STD,
    MAX_PIXELS,
    MIN_PIXELS,
    RELEASED_MAX_PIXELS,
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    denormalize,
    preprocess_images,
    unpatchify,
)
from qwen_lite.processor import PreprocessorConfigError, read_preprocessor_config
from tests.model_inputs import random_image

# The released Qwen2.5-VL preprocessor_config.json (all sizes of the family ship this file).
RELEASED = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
}
IMG = "<|vision_start|><|image_pad|><|vision_end|>"
VID = "<|vision_start|><|video_pad|><|vision_end|>"


def folder_with(tmp_path, image: dict | str | None = None, video: dict | str | None = None):
    for name, content in (("preprocessor_config.json", image), ("video_preprocessor_config.json", video)):
        if content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            (tmp_path / name).write_text(text)
    return tmp_path


def test_released_config(tmp_path):
    processor = Qwen25VLProcessor.from_pretrained(folder_with(tmp_path, RELEASED))
    assert (processor.min_pixels, processor.max_pixels) == (3136, 12845056)
    # no video_preprocessor_config.json: transformers' video processor reads preprocessor_config.json
    # instead (see test_video_budget_falls_back_like_transformers), so the video budget is the same
    assert (processor.video_min_pixels, processor.video_max_pixels) == (3136, 12845056)
    image = random_image(1500, 1200)
    out = processor(text=IMG, images=[image])
    assert out["image_grid_thw"].tolist() == [[1, 108, 86]]  # above the class default's 1280 tokens
    assert torch.equal(
        out["pixel_values"], preprocess_images(image, max_pixels=RELEASED_MAX_PIXELS)["pixel_values"]
    )
    assert Qwen25VLProcessor.from_pretrained(str(tmp_path)).max_pixels == 12845056  # str or PathLike


def test_every_path_uses_the_folder(tmp_path):
    config = dict(RELEASED, patch_size=16, image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25])
    config.update(min_pixels=64 * 64, max_pixels=64 * 64)
    video = dict(config, min_pixels=32 * 32, max_pixels=32 * 32)
    processor = Qwen25VLProcessor.from_pretrained(folder_with(tmp_path, config, video))
    assert processor.factor == 32 and processor.image_mean == (0.5, 0.5, 0.5)
    image = random_image(64, 64, 1)
    frames = np.stack([np.asarray(random_image(32, 32, s)) for s in (2, 3)])
    conversation = [
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "video", "video": frames}]}
    ]
    for out in (
        processor(text=IMG + VID, images=[image], videos=[frames]),
        processor(messages=conversation),
    ):
        assert out["pixel_values"].shape == (16, 3 * 2 * 16 * 16)  # 64 x 64 in 16 px patches
        assert out["image_grid_thw"].tolist() == [[1, 4, 4]]
        assert out["video_grid_thw"].tolist() == [[1, 2, 2]]  # the video budget: 32 x 32 frames
        assert int((out["input_ids"] == 151655).sum()) == 4 and int((out["input_ids"] == 151656).sum()) == 1
        # normalised with the folder's mean/std: undoing that recovers the pixels exactly
        (frame,) = unpatchify(out["pixel_values"], out["image_grid_thw"], patch_size=16)
        back = (denormalize(frame[0], (0.5,) * 3, (0.25,) * 3) * 255).round().to(torch.uint8)
        assert torch.equal(back.permute(1, 2, 0), torch.from_numpy(np.array(image)))


def test_newer_size_form_and_precedence(tmp_path):
    size_only = {"size": {"shortest_edge": 1000, "longest_edge": 500_000}}
    processor = Qwen25VLProcessor.from_pretrained(folder_with(tmp_path, size_only))
    assert (processor.min_pixels, processor.max_pixels) == (1000, 500_000)
    both = dict(size_only, min_pixels=2000)
    with pytest.warns(UserWarning, match=r"'min_pixels' \(2000\) and 'size.shortest_edge' \(1000\) disagree"):
        processor = Qwen25VLProcessor.from_pretrained(folder_with(tmp_path, both))
    assert (processor.min_pixels, processor.max_pixels) == (2000, 500_000)


@pytest.mark.reference
def test_size_form_against_transformers(tmp_path):
    # transformers 4.57's Qwen2VLImageProcessor ignores a `size` given without min_pixels/max_pixels (its
    # __init__ resets it to the defaults); 5.x reads it. The newer files use `size`, so we follow 5.x.
    import transformers
    from transformers import AutoImageProcessor

    config = {k: v for k, v in RELEASED.items() if k not in ("min_pixels", "max_pixels")}
    folder_with(tmp_path, dict(config, size={"shortest_edge": 1000, "longest_edge": 500_000}))
    theirs = _hf_budget(AutoImageProcessor.from_pretrained(tmp_path))
    ours = Qwen25VLProcessor.from_pretrained(tmp_path)
    assert (ours.min_pixels, ours.max_pixels) == (1000, 500_000)
    if transformers.__version__.startswith("4."):
        assert theirs == (MIN_PIXELS, MAX_PIXELS)  # 4.57.6: the file's size is dropped
    else:
        assert theirs == (1000, 500_000)


def _hf_budget(image_processor) -> tuple:
    size = image_processor.size
    if isinstance(size, dict):
        return size["shortest_edge"], size["longest_edge"]
    return size.shortest_edge, size.longest_edge


def test_video_config(tmp_path):
    video = {"min_pixels": 10_000, "max_pixels": 20_000, "total_pixels": 1_000_000, "fps": 2.0}
    processor = Qwen25VLProcessor.from_pretrained(folder_with(tmp_path, RELEASED, video))
    assert (processor.video_min_pixels, processor.video_max_pixels) == (10_000, 20_000)
    assert processor.video_total_pixels == 1_000_000
    assert (processor.min_pixels, processor.max_pixels) == (3136, 12845056)
    out = processor(text=VID, videos=[np.zeros((4, 280, 280, 3), np.uint8)])
    assert out["video_grid_thw"].tolist() == [[2, 10, 10]]  # 280 x 280 = 78,400 px -> <= 20,000: 140 x 140


@pytest.mark.reference
def test_video_budget_falls_back_like_transformers(tmp_path):
    # Without video_preprocessor_config.json, transformers' video processor loads preprocessor_config.json
    from transformers.video_processing_utils import BaseVideoProcessor

    folder_with(tmp_path, RELEASED)
    theirs, _ = BaseVideoProcessor.get_video_processor_dict(str(tmp_path))
    ours = Qwen25VLProcessor.from_pretrained(tmp_path)
    assert (theirs["min_pixels"], theirs["max_pixels"]) == (ours.video_min_pixels, ours.video_max_pixels)


def test_missing_config_warns_and_uses_defaults(tmp_path):
    with pytest.warns(
        UserWarning, match=r"preprocessor_config.json: not found; using Qwen25VLProcessor's class"
    ):
        processor = Qwen25VLProcessor.from_pretrained(tmp_path)
    assert (processor.min_pixels, processor.max_pixels) == (MIN_PIXELS, MAX_PIXELS)
    assert (processor.video_min_pixels, processor.video_max_pixels) == (VIDEO_MIN_PIXELS, VIDEO_MAX_PIXELS)
    assert processor.image_mean == IMAGE_MEAN and processor.image_std == IMAGE_STD


@pytest.mark.parametrize(
    "image, video, message",
    [
        ("{not json", None, r"preprocessor_config.json: invalid JSON"),
        ("[1, 2]", None, r"preprocessor_config.json: expected a JSON object, got an array"),
        (
            {"min_pixels": "3136"},
            None,
            r"preprocessor_config.json: 'min_pixels': expected a positive number, got str",
        ),
        (
            {"max_pixels": 0},
            None,
            r"preprocessor_config.json: 'max_pixels': expected a positive number, got 0",
        ),
        ({"max_pixels": True}, None, r"'max_pixels': expected a positive number, got bool"),
        (
            {"min_pixels": 5000, "max_pixels": 4000},
            None,
            r"preprocessor_config.json: the minimum pixel count \(5000",
        ),
        (
            {"size": {"shortest_edge": 5}},
            None,
            r"'size' must be an object with 'shortest_edge' and 'longest_edge'",
        ),
        (
            {"size": {"shortest_edge": 5, "longest_edge": -1}},
            None,
            r"'size.longest_edge': expected a positive",
        ),
        ({"patch_size": 14.5}, None, r"'patch_size': expected a positive int, got float"),
        ({"merge_size": "2"}, None, r"'merge_size': expected a positive int, got str"),
        ({"image_mean": [0.5, 0.5]}, None, r"preprocessor_config.json: image_mean: expected 3 numbers"),
        ({"image_std": [0.5, 0.0, 0.5]}, None, r"image_std\[1\]: a standard deviation must be positive"),
        ({"do_resize": False}, None, r"'do_resize' is False; qwen_lite always runs this step"),
        ({"do_normalize": "yes"}, None, r"'do_normalize' is 'yes'"),
        ({"resample": 2}, None, r"'resample' is 2; qwen_lite resizes with PIL bicubic \(3\) only"),
        ({"rescale_factor": 1.0}, None, r"'rescale_factor' is 1.0; qwen_lite rescales by 1/255 only"),
        (RELEASED, "{", r"video_preprocessor_config.json: invalid JSON"),
        (RELEASED, {"do_sample_frames": True}, r"video_preprocessor_config.json: 'do_sample_frames' is True"),
        (
            RELEASED,
            {"patch_size": 16},
            r"video_preprocessor_config.json: 'patch_size' is 16 but preprocessor_config",
        ),
        (
            RELEASED,
            {"min_pixels": 10, "max_pixels": 5},
            r"video_preprocessor_config.json: the minimum pixel count",
        ),
    ],
)
def test_bad_config_files_name_the_file_and_key(tmp_path, image, video, message):
    folder_with(tmp_path, image, video)
    with pytest.raises(PreprocessorConfigError, match=message) as caught:
        Qwen25VLProcessor.from_pretrained(tmp_path)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, CheckpointError)


def test_unknown_keys_are_named_in_a_warning(tmp_path):
    folder_with(tmp_path, dict(RELEASED, crop_size={"height": 9}, do_center_crop=False, fancy=None))
    with pytest.warns(UserWarning, match=r"ignoring keys qwen_lite does not use: crop_size$"):
        Qwen25VLProcessor.from_pretrained(tmp_path)
    folder_with(tmp_path, RELEASED)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the released file: no warning at all
        Qwen25VLProcessor.from_pretrained(tmp_path)


def test_folder_argument(tmp_path):
    with pytest.raises(PreprocessorConfigError, match=r"folder: '.*missing' is not a directory"):
        Qwen25VLProcessor.from_pretrained(tmp_path / "missing")
    with pytest.raises(TypeError, match=r"folder: expected a path \(str or os.PathLike\), got int 3"):
        read_preprocessor_config(3)


def custom_processor() -> Qwen25VLProcessor:
    return Qwen25VLProcessor(
        min_pixels=1000,
        max_pixels=500_000,
        video_min_pixels=2000,
        video_max_pixels=40_000,
        image_mean=(0.5, 0.4, 0.3),
        image_std=(0.25, 0.2, 0.3),
    )


def test_save_and_load_round_trip(tmp_path):
    saved = custom_processor()
    paths = saved.save_pretrained(tmp_path / "out")
    assert [p.name for p in paths] == ["preprocessor_config.json", "video_preprocessor_config.json"]
    loaded = Qwen25VLProcessor.from_pretrained(tmp_path / "out")
    for name in ("min_pixels", "max_pixels", "video_min_pixels", "video_max_pixels", "video_total_pixels",
                 "patch_size", "temporal_patch_size", "merge_size", "image_mean", "image_std"):  # fmt: skip
        assert getattr(loaded, name) == getattr(saved, name), name
    image = random_image(300, 200, 4)
    assert torch.equal(
        loaded(text=IMG, images=[image])["pixel_values"], saved(text=IMG, images=[image])["pixel_values"]
    )


@pytest.mark.reference
def test_transformers_reads_what_we_save(tmp_path):
    from transformers import AutoImageProcessor
    from transformers.video_processing_utils import BaseVideoProcessor

    ours = custom_processor()
    ours.save_pretrained(tmp_path)
    theirs = AutoImageProcessor.from_pretrained(tmp_path)
    assert _hf_budget(theirs) == (1000, 500_000)
    assert tuple(theirs.image_mean) == (0.5, 0.4, 0.3) and tuple(theirs.image_std) == (0.25, 0.2, 0.3)
    assert (theirs.patch_size, theirs.temporal_patch_size, theirs.merge_size) == (14, 2, 2)
    video, _ = BaseVideoProcessor.get_video_processor_dict(str(tmp_path))
    assert (video["min_pixels"], video["max_pixels"]) == (2000, 40_000)
    assert video["size"] == {"shortest_edge": 2000, "longest_edge": 40_000}
    # and the pixels they produce from that file are ours
    image = random_image(300, 200, 5)
    reference = theirs(images=[image], return_tensors="pt")
    mine = ours(text=IMG, images=[image])
    assert mine["image_grid_thw"].tolist() == reference["image_grid_thw"].tolist()
    torch.testing.assert_close(mine["pixel_values"], reference["pixel_values"].float(), atol=1e-6, rtol=0)
