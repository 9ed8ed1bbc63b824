"""``Qwen25VLProcessor(messages=...)``: content items and their per-item keys, as qwen-vl-utils reads them.

Handed case pipeline_fidelity/08 (budget keys in items were ignored) lives on here. Expected values are
qwen-vl-utils' arithmetic done by hand (smart_resize with factor 28, fetch_video's per-frame budget,
calculate_video_frame_range, round_by_factor for nframes), not qwen_lite's output copied back.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from qwen_lite import Qwen25VLProcessor
from qwen_lite.processing import denormalize, preprocess_images, unpatchify

IMG = "<|vision_start|><|image_pad|><|vision_end|>"
TINY_FRAMES = dict(video_min_pixels=56 * 56, video_max_pixels=56 * 56)  # 56x56 frames stay 56x56


@pytest.fixture(scope="module")
def processor():
    return Qwen25VLProcessor()


def user(*items):
    return [{"role": "user", "content": [*items, {"type": "text", "text": "Describe."}]}]


def numbered_frames(count: int) -> list[np.ndarray]:
    """56x56 frames whose grey value is 10 * their index, so kept frames can be read back."""
    return [np.full((56, 56, 3), 10 * i, np.uint8) for i in range(count)]


def kept_frames(out) -> list[int]:
    (clip,) = unpatchify(out["pixel_values_videos"], out["video_grid_thw"])
    return [round(float(denormalize(frame)[0, 0, 0]) * 255) // 10 for frame in clip]


# ---------------------------------------------------------------- handed case 08


def test_case_08_budget_keys_in_items_are_applied(processor):
    # pipeline_fidelity/08_messages_ignore_budget_keys.py
    frames = np.zeros((8, 360, 640, 3), np.uint8)
    image = Image.fromarray(np.zeros((200, 300, 3), np.uint8))
    messages = user(
        {"type": "video", "video": list(frames), "fps": 1.0, "max_pixels": 360 * 420},
        {"type": "image", "image": image, "resized_height": 280, "resized_width": 420},
    )
    out = processor(messages=messages)
    # video: 8 frames of 360x640, max_pixels 151,200 -> smart_resize -> 280x504 -> grid 4 x 20 x 36
    # image: resized 280x420 -> smart_resize(280, 420) = 280x420 -> grid 1 x 20 x 30
    assert out["video_grid_thw"].tolist() == [[4, 20, 36]]
    assert out["image_grid_thw"].tolist() == [[1, 20, 30]]


# ---------------------------------------------------------------- images


def test_image_budget_keys(processor):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    out = processor(messages=user({"type": "image", "image": image, "max_pixels": 100_000}))
    # beta = sqrt(480,000 / 100,000) = 2.19; 600 / 2.19 = 273.9 -> 252, 800 / 2.19 = 365.1 -> 364
    assert out["image_grid_thw"].tolist() == [[1, 18, 26]]
    direct = preprocess_images(image, max_pixels=100_000)
    assert torch.equal(out["pixel_values"], direct["pixel_values"])  # the same pixels, not just the grid
    small = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    out = processor(messages=user({"type": "image", "image": small, "min_pixels": 50_000}))
    # beta = sqrt(50,000 / 1,200) = 6.45; 30 * 6.45 = 193.6 -> 196, 40 * 6.45 = 258.2 -> 280
    assert out["image_grid_thw"].tolist() == [[1, 14, 20]]


def test_resized_height_and_width_are_rounded_like_qwen_vl_utils(processor):
    image = Image.fromarray(np.zeros((50, 50, 3), np.uint8))
    out = processor(messages=user({"image": image, "resized_height": 200, "resized_width": 300}))
    assert out["image_grid_thw"].tolist() == [[1, 14, 22]]  # 200 x 300 -> 196 x 308
    out = processor(messages=user({"image": image, "resized_height": 10, "resized_width": 10}))
    assert out["image_grid_thw"].tolist() == [[1, 4, 4]]  # grown to qwen-vl-utils' 3,136-pixel floor


def test_items_without_keys_equal_the_images_argument(processor):
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (90, 70, 3), dtype=np.uint8))
    from_messages = processor(messages=user({"type": "image", "image": image, "unknown_key": 5}))
    from_text = processor(text=processor.apply_chat_template(user({"type": "image"})), images=[image])
    for key in from_text:
        assert torch.equal(from_messages[key], from_text[key]), key


def test_image_sources_in_items(processor, tmp_path):
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    path = tmp_path / "x.png"
    image.save(path)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    expected = processor(messages=user({"type": "image", "image": image}))["pixel_values"]
    for item in (
        {"type": "image", "image": str(path)},
        {"type": "image", "image": f"file://{path}"},
        {"type": "image", "image": data_url},
        {"type": "image_url", "image_url": str(path)},
        {"type": "image_url", "image_url": {"url": data_url}},
    ):
        assert torch.equal(processor(messages=user(item))["pixel_values"], expected), item["type"]


# ---------------------------------------------------------------- videos


def test_video_budget_keys(processor):
    frames = np.zeros((8, 360, 640, 3), np.uint8)
    # min_pixels only: budget max(602,112, int(1.05 * 200,000)) = 602,112; rounding gives 364 x 644 =
    # 234,416 px, inside [200,000, 602,112] -> patches 26 x 46
    out = processor(messages=user({"video": frames, "min_pixels": 200_000}))
    assert out["video_grid_thw"].tolist() == [[4, 26, 46]]
    # total_pixels: 8 frames share 800,000 -> 200,000 per frame -> beta = sqrt(230,400 / 200,000) = 1.073
    # 360 / 1.073 = 335.4 -> 308, 640 / 1.073 = 596.3 -> 588 -> patches 22 x 42
    out = processor(messages=user({"video": frames, "total_pixels": 800_000}))
    assert out["video_grid_thw"].tolist() == [[4, 22, 42]]
    # max_pixels above the per-frame cap (768 tokens) is capped, as qwen-vl-utils caps it
    capped = processor(messages=user({"video": frames, "max_pixels": 10_000_000}))
    assert (
        capped["video_grid_thw"].tolist()
        == processor(messages=user({"video": frames}))["video_grid_thw"].tolist()
    )


def test_video_resized_keys(processor):
    out = processor(messages=user({"video": numbered_frames(4), "resized_height": 100, "resized_width": 120}))
    assert out["video_grid_thw"].tolist() == [[2, 8, 8]]  # 100 x 120 -> 112 x 112


def test_nframes_and_time_cuts_choose_frames():
    processor = Qwen25VLProcessor(**TINY_FRAMES)
    frames = numbered_frames(10)  # 5 s at 2 fps
    out = processor(messages=user({"video": frames, "fps": 2.0, "nframes": 4}))
    assert kept_frames(out) == [0, 3, 6, 9]  # linspace(0, 9, 4).round()
    assert out["second_per_grid_ts"] == [2 / (4 / 10 * 2.0)]  # 4 of 10 frames: 0.8 fps -> 2.5 s per patch
    out = processor(messages=user({"video": frames, "fps": 2.0, "nframes": 5}))
    assert len(kept_frames(out)) == 4  # round_by_factor(5, 2): round(2.5) = 2 -> 4 frames
    # video_start 1.0 s -> frame ceil(2.0) = 2; video_end 3.0 s -> frame floor(6.0) = 6
    out = processor(messages=user({"video": frames, "fps": 2.0, "video_start": 1.0, "video_end": 3.0}))
    assert kept_frames(out) == [2, 3, 4, 5, 6, 6]  # 5 frames, the last repeated to an even count
    assert out["second_per_grid_ts"] == [1.0]
    out = processor(
        messages=user({"video": frames, "fps": 2.0, "video_start": 1.0, "video_end": 3.0, "nframes": 4})
    )
    assert kept_frames(out) == [2, 3, 5, 6]  # linspace(2, 6, 4) = 2, 3.33, 4.67, 6
    assert out["second_per_grid_ts"] == [2 / (4 / 5 * 2.0)]
    out = processor(messages=user({"video": frames, "fps": 2.0, "video_end": 100}))  # clamped to the clip
    assert kept_frames(out) == list(range(10))


def test_video_fps_key_is_the_frame_rate_of_the_frames():
    # qwen_lite reads an item's "fps" as the rate of the frames given (like the processor's fps argument);
    # "sample_fps" is qwen-vl-utils' name for the same number for frame lists (it ignores "fps" there).
    processor = Qwen25VLProcessor(**TINY_FRAMES)
    frames = numbered_frames(4)
    assert processor(messages=user({"video": frames, "fps": 1.0}))["second_per_grid_ts"] == [2.0]
    assert processor(messages=user({"video": frames, "sample_fps": 1.0}))["second_per_grid_ts"] == [2.0]
    assert processor(messages=user({"video": frames}))["second_per_grid_ts"] == [1.0]  # the default 2 fps
    assert processor(messages=user({"video": frames}), fps=4.0)["second_per_grid_ts"] == [0.5]
    # with sample_fps= on the call, frames are sampled down from the item's rate (min_frames bounds it)
    out = processor(
        messages=user({"video": numbered_frames(20), "fps": 4.0, "min_frames": 2}), sample_fps=1.0
    )
    assert kept_frames(out) == [0, 6, 13, 19]  # 5 s at 1 fps -> floor to even: 4 frames


def test_video_frames_as_paths(tmp_path):
    processor = Qwen25VLProcessor(**TINY_FRAMES)
    frames = numbered_frames(2)
    paths = []
    for index, frame in enumerate(frames):
        paths.append(str(tmp_path / f"f{index}.png"))
        Image.fromarray(frame).save(paths[-1])
    same = processor(messages=user({"video": paths}))
    assert torch.equal(
        same["pixel_values_videos"], processor(messages=user({"video": frames}))["pixel_values_videos"]
    )


# ---------------------------------------------------------------- errors


WHERE = r"messages\[0\]\['content'\]\[0\]"


@pytest.mark.parametrize(
    "item, error, message",
    [
        (
            {"image": "IMAGE", "max_pixels": "big"},
            TypeError,
            WHERE + r"\['max_pixels'\]: expected a positive number, got str",
        ),
        (
            {"image": "IMAGE", "max_pixels": 0},
            ValueError,
            WHERE + r"\['max_pixels'\]: expected a positive number, got 0",
        ),
        (
            {"image": "IMAGE", "min_pixels": float("nan")},
            ValueError,
            WHERE + r"\['min_pixels'\]: expected a positive",
        ),
        (
            {"image": "IMAGE", "min_pixels": True},
            TypeError,
            WHERE + r"\['min_pixels'\]: expected a positive number, got bool",
        ),
        (
            {"image": "IMAGE", "min_pixels": 9000, "max_pixels": 5000},
            ValueError,
            WHERE + r"\['min_pixels'\], " + WHERE,
        ),
        (
            {"image": "IMAGE", "resized_height": 100},
            ValueError,
            WHERE + r": 'resized_height' needs 'resized_width' too",
        ),
        (
            {"image": "IMAGE", "resized_height": -5, "resized_width": 9},
            ValueError,
            WHERE + r"\['resized_height'\]",
        ),
        (
            {"image": "https://example.com/a.png"},
            ValueError,
            WHERE + r"\['image'\]: .* qwen_lite never uses the network",
        ),
        ({"image": 42}, TypeError, WHERE + r"\['image'\]: expected a PIL image"),
        (
            {"video": "VIDEO", "nframes": 2.5},
            TypeError,
            WHERE + r"\['nframes'\]: expected a positive int, got float",
        ),
        (
            {"video": "VIDEO", "nframes": 40},
            ValueError,
            WHERE + r": nframes: 40 rounds to 40 frames, which must lie in \[2, 4\]",
        ),
        (
            {"video": "VIDEO", "fps": -1},
            ValueError,
            WHERE + r"\['fps'\]: frame rate must be a positive number",
        ),
        (
            {"video": "VIDEO", "fps": 2.0, "sample_fps": 3.0},
            ValueError,
            WHERE + r": 'fps' \(2.0\) and 'sample_fps' \(3.0\)",
        ),
        (
            {"video": "VIDEO", "video_start": -1},
            ValueError,
            WHERE + r"\['video_start'\]: expected a time in seconds",
        ),
        (
            {"video": "VIDEO", "video_start": 1.5, "video_end": 1.0},
            ValueError,
            WHERE + r": video_start, video_end: the range",
        ),
        (
            {"video": "VIDEO", "max_pixels": 1000},
            ValueError,
            r"video_min_pixels, " + WHERE + r"\['max_pixels'\]: the minimum",
        ),
        ({"video": "clip.mp4"}, ValueError, WHERE + r"\['video'\]: 'clip.mp4' is a video file"),
        (
            {"video": [np.zeros((28, 28, 3), np.uint8), np.zeros((28, 56, 3), np.uint8)]},
            ValueError,
            WHERE + r"\['video'\]: frames: all frames",
        ),
    ],
)
def test_bad_item_values_name_the_key(processor, item, error, message):
    item = dict(item)
    if item.get("image") == "IMAGE":
        item["image"] = Image.new("RGB", (40, 40))
    if item.get("video") == "VIDEO":
        item["video"] = numbered_frames(4)
    with pytest.raises(error, match=message):
        processor(messages=user(item))


def test_malformed_messages(processor):
    with pytest.raises(TypeError, match=r"messages\[0\]\['content'\]\[1\]: expected a dict"):
        processor(messages=[{"role": "user", "content": [{"type": "text", "text": "a"}, "b"]}])
    with pytest.raises(TypeError, match=r"messages\[1\]\[0\]: expected a dict"):
        processor(messages=[[{"role": "user", "content": "a"}], ["not a message"]])
    with pytest.raises(TypeError, match=r"messages\[1\]: expected a message dict or a conversation"):
        processor(messages=[[{"role": "user", "content": "a"}], "oops"])
    with pytest.raises(ValueError, match="messages: expected a conversation"):
        processor(messages=[])
    with pytest.raises(
        ValueError,
        match=r"messages\[1\]\[0\]\['content'\]\[0\]\['max_pixels'\]: expected a positive number, got -1",
    ):
        processor(
            messages=[
                [{"role": "user", "content": "a"}],
                user({"image": Image.new("RGB", (9, 9)), "max_pixels": -1}),
            ]
        )


def test_images_argument_with_items_that_carry_images(processor):
    image = Image.new("RGB", (40, 40))
    with pytest.raises(
        ValueError, match=r"images: the messages already carry images \(messages\[0\]\['content'\]\[0\]"
    ):
        processor(messages=user({"type": "image", "image": image}), images=[image])
    with pytest.raises(ValueError, match=r"messages\[0\]\['content'\]\[1\]: a image item without its image"):
        processor(messages=user({"type": "image", "image": image}, {"type": "image"}))
    # items without data take images= in order, as transformers' apply_chat_template + processor
    out = processor(messages=user({"type": "image"}), images=[image])
    assert out["image_grid_thw"].tolist() == [[1, 4, 4]]  # 40 x 40 grown to 56 x 56
    assert IMG in processor.apply_chat_template(user({"type": "image"}))


def test_item_keys_win_over_a_call_budget_they_replace():
    processor = Qwen25VLProcessor(**TINY_FRAMES)
    # the call's max_pixels (1,000) is below the processor's video minimum (3,136): an error for items
    # without keys, but an item with its own min_pixels or size does not use that budget
    item = {"video": numbered_frames(2), "min_pixels": 500}
    assert processor(messages=user(item), max_pixels=1000)["video_grid_thw"].tolist() == [[1, 2, 2]]
    sized = {"video": numbered_frames(2), "resized_height": 56, "resized_width": 56}
    assert processor(messages=user(sized), max_pixels=1000)["video_grid_thw"].tolist() == [[1, 4, 4]]
    with pytest.raises(ValueError, match=r"video_min_pixels, max_pixels: the minimum \(3136\)"):
        processor(messages=user({"video": numbered_frames(2)}), max_pixels=1000)
