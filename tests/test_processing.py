"""Image and video preprocessing against transformers' PIL image processor, and on its own.

The comparisons (marked ``reference``) run against 4.57.6's slow ``Qwen2VLImageProcessor`` and 5.x's
``Qwen2VLImageProcessorPil`` (scripts/test_reference.sh; tests.reference.reference_image_processor).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from qwen_lite.processing import (
    MAX_PIXELS,
    MIN_PIXELS,
    RELEASED_MAX_PIXELS,
    RELEASED_MIN_PIXELS,
    denormalize,
    load_image,
    patch_coordinates,
    patchify,
    preprocess_images,
    smart_resize,
    unpatchify,
)
from qwen_lite.shapes import ShapeError
from qwen_lite.video import preprocess_video, sample_frame_indices, smart_nframes
from tests.model_inputs import random_image
from tests.reference import reference_image_processor, reference_smart_resize

VIDEO_PIXELS = dict(min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28)  # the defaults, written out
SMALL_VIDEO_PIXELS = dict(min_pixels=16 * 28 * 28, max_pixels=64 * 28 * 28)  # faster, still resizes


@pytest.fixture(scope="module")
def reference():
    return reference_image_processor()  # class defaults: min 3136, max 1,003,520 pixels, bicubic


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return Image.open(f).convert("RGB")  # 512 x 600 (w x h)


def reference_outputs(reference, images, **kwargs):
    # input_data_format pins channels-last: transformers otherwise guesses it from the shape (see below).
    out = reference(images=images, return_tensors="pt", input_data_format="channels_last", **kwargs)
    return out["pixel_values"], out["image_grid_thw"]


def assert_same_as_reference(reference, images, reference_images=None, **kwargs):
    """qwen_lite on ``images`` equals the reference on ``reference_images`` (default: the same images)."""
    ours = preprocess_images(images)
    pixel_values, grid_thw = reference_outputs(
        reference, images if reference_images is None else reference_images, **kwargs
    )
    assert ours["pixel_values"].dtype == torch.float32 and ours["image_grid_thw"].dtype == torch.int64
    torch.testing.assert_close(ours["image_grid_thw"], grid_thw, atol=0, rtol=0)
    torch.testing.assert_close(ours["pixel_values"], pixel_values.float(), atol=1e-6, rtol=0)
    return ours


# ---------------------------------------------------------------- smart_resize


@pytest.mark.parametrize(
    "height, width, kwargs, expected",
    [
        (200, 300, {}, (196, 308)),  # facts §3 examples
        (260, 180, {}, (252, 168)),
        (448, 448, {}, (448, 448)),
        (4000, 6000, {"max_pixels": RELEASED_MAX_PIXELS}, (2912, 4368)),
        (70, 70, {}, (56, 56)),  # 2.5 -> 2 (half to even), area 3136 = min_pixels exactly
        (98, 98, {}, (112, 112)),  # 3.5 -> 4
        (126, 154, {}, (112, 168)),  # 4.5 -> 4, 5.5 -> 6
        (31, 639, {"max_pixels": 20 * 28 * 28}, (28, 560)),  # Qwen3-VL PR #1145: floor must not give 0
        (1, 1, {}, (56, 56)),  # tiny images are scaled up to min_pixels
        (27, 300, {}, (28, 308)),
        (28, 28, {}, (56, 56)),
        (28, 5000, {}, (28, 5012)),  # extreme aspect ratio (178) still allowed
    ],
)
def test_smart_resize_cases(height, width, kwargs, expected):
    assert smart_resize(height, width, **kwargs) == expected


@pytest.mark.reference
def test_smart_resize_equals_reference_on_many_sizes():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 5000, size=(400, 2)).tolist() + [
        [14 * k, 14 * j] for k in range(1, 12) for j in (1, 5)
    ]
    checked = 0
    for height, width in sizes:
        if max(height, width) / min(height, width) > 200:
            continue
        for limits in ({}, {"max_pixels": RELEASED_MAX_PIXELS}, {"min_pixels": 128 * 28 * 28}):
            assert smart_resize(height, width, **limits) == reference_smart_resize(height, width, **limits)
            checked += 1
    assert checked > 1000


def test_smart_resize_refuses_a_zero_budget():
    with pytest.raises(ValueError, match="min_pixels: expected a positive number, got 0"):
        smart_resize(10, 10, min_pixels=0)


@pytest.mark.reference
def test_reference_accepts_a_zero_budget():
    # transformers (4.57 and 5.x) accepts min_pixels=0 and then returns a 0-pixel side for a side under
    # 14 px; qwen_lite refuses the budget with an error that names it (test above).
    assert reference_smart_resize(10, 10, min_pixels=0) == (0, 0)


def test_smart_resize_errors():
    with pytest.raises(ValueError, match="aspect ratio must be smaller than 200, got 201"):
        smart_resize(1, 201)
    assert smart_resize(13, 2600) == (28, 812)  # exactly 200 is allowed, as in the reference
    with pytest.raises(ValueError, match="positive.*height=0"):
        smart_resize(0, 10)


def test_pixel_budget_constants():
    assert (MIN_PIXELS, MAX_PIXELS) == (3136, 1003520)
    assert (RELEASED_MIN_PIXELS, RELEASED_MAX_PIXELS) == (3136, 12845056)


# ---------------------------------------------------------------- parity with transformers


SIZES = [
    (600, 512),  # ordinary
    (99, 131),  # odd sides
    (70, 70),  # .5 boundary
    (42, 98),  # 1.5 -> 2, 3.5 -> 4
    (126, 154),  # 4.5 -> 4, 5.5 -> 6
    (1, 1),  # tiny: upscaled to 56 x 56
    (27, 300),  # side below 28
    (3, 300),  # 3 px high
    (28, 28),
    (28, 5000),  # aspect ratio 178
    (5000, 28),
    (1500, 1200),  # above max_pixels
    (1080, 1920),
]


@pytest.mark.reference
@pytest.mark.parametrize("height, width", SIZES)
def test_random_images_match_reference(reference, height, width):
    ours = assert_same_as_reference(reference, random_image(height, width, seed=height * 7919 + width))
    grid_h, grid_w = (s // 14 for s in smart_resize(height, width))
    assert ours["image_grid_thw"].tolist() == [[1, grid_h, grid_w]]
    assert ours["pixel_values"].shape == (grid_h * grid_w, 1176)


@pytest.mark.reference
def test_photo_matches_reference(reference, photo):
    ours = assert_same_as_reference(reference, photo)
    assert ours["image_grid_thw"].tolist() == [[1, 42, 36]]  # 600 x 512 -> 588 x 504


@pytest.mark.reference
def test_released_pixel_budget_matches_reference(reference):
    image = random_image(1500, 1200, seed=3)
    ours = preprocess_images(image, max_pixels=RELEASED_MAX_PIXELS)
    pixel_values, grid_thw = reference_outputs(reference, image, max_pixels=RELEASED_MAX_PIXELS)
    assert ours["image_grid_thw"].tolist() == grid_thw.tolist() == [[1, 108, 86]]
    torch.testing.assert_close(ours["pixel_values"], pixel_values, atol=1e-6, rtol=0)


@pytest.mark.reference
def test_several_images_concatenate_like_reference(reference, photo):
    images = [photo, random_image(99, 131), random_image(1, 1)]
    ours = assert_same_as_reference(reference, images)
    singles = [preprocess_images(image)["pixel_values"] for image in images]
    torch.testing.assert_close(ours["pixel_values"], torch.cat(singles), atol=0, rtol=0)


MODES = ["1", "L", "LA", "P", "PA", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"]


@pytest.mark.reference
@pytest.mark.parametrize("mode", MODES)
def test_every_pil_mode_matches_reference(reference, photo, mode):
    small = photo.resize((90, 105))
    if mode == "I;16":  # 16-bit values above 255 (PIL clips them when converting to RGB)
        image = Image.fromarray(np.asarray(small.convert("L")).astype(np.uint16) * 200)
    elif mode == "PA":
        image = small.convert("RGBA").convert("PA")
    else:
        image = small.convert(mode)
    assert image.mode == mode
    from tests.reference import TF5

    if mode == "LAB" and TF5:
        # 5.x takes LAB's "A" band (the a* colour axis) for alpha and composites over white: this image
        # (resized, then converted) reaches it white (catalogue entry lab_image). qwen_lite follows 4.57.6 and
        # qwen-vl-utils, convert("RGB"): what the 5.x processor gives for that RGB image.
        assert_same_as_reference(reference, image, reference_images=image.convert("RGB"))
    else:
        assert_same_as_reference(reference, image)


@pytest.mark.reference
def test_where_reference_guesses_channels_first(reference):
    # transformers 4.57 guesses the channel axis from the shape, PIL images included: a 1x1 RGB image (1, 1, 3)
    # is taken as channels-first and crashes, a 3-pixel-high one (3, 300, 3) is read transposed. 5.x reads
    # PIL images channels-last, as qwen_lite does (catalogue entry channel_axis_of_pil_images): qwen_lite
    # follows 5.x. qwen_lite never guesses: PIL images and (h, w, 3) arrays are channels-last.
    from tests.reference import TF5

    assert preprocess_images(random_image(3, 300))["image_grid_thw"].tolist() == [[1, 2, 40]]
    theirs = reference(images=random_image(3, 300), return_tensors="pt")["image_grid_thw"]
    if TF5:
        assert theirs.tolist() == [[1, 2, 40]]
        assert reference(images=random_image(1, 1), return_tensors="pt")["image_grid_thw"].tolist() == [
            [1, 4, 4]
        ]
    else:
        assert theirs.tolist() == [[1, 40, 2]]
        with pytest.raises(ValueError):
            reference(images=random_image(1, 1), return_tensors="pt")


def test_numpy_and_float_inputs_equal_pil_input():
    image = random_image(57, 83, seed=5)
    array = np.array(image)
    expected = preprocess_images(image)["pixel_values"]
    torch.testing.assert_close(preprocess_images(array)["pixel_values"], expected, atol=0, rtol=0)
    # float tensors (3, h, w) in [0, 1]: x = k / 255 maps back to k exactly (round, not truncate).
    as_float = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(preprocess_images(as_float)["pixel_values"], expected, atol=0, rtol=0)
    torch.testing.assert_close(preprocess_images(as_float.double())["pixel_values"], expected, atol=0, rtol=0)


# ---------------------------------------------------------------- patch layout helpers


def test_patch_layout_and_column_order():
    frame = torch.randn(3, 56, 84)
    rows, grid = patchify(frame[None])
    assert grid == (1, 4, 6) and rows.shape == (24, 1176)
    coords = patch_coordinates(torch.tensor([grid]))
    # The first four rows are the 2x2 block at the top-left: (0,0), (0,1), (1,0), (1,1).
    assert coords[:5, 2:].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2]]
    # column = c*392 + tp*196 + y*14 + x, and the two temporal slots hold the same (duplicated) frame.
    for index in (0, 5, 23):
        _, _, r, c = coords[index].tolist()
        crop = frame[:, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14]
        for tp in (0, 1):
            for ch in range(3):
                got = rows[index, ch * 392 + tp * 196 : ch * 392 + tp * 196 + 196].view(14, 14)
                torch.testing.assert_close(got, crop[ch], atol=0, rtol=0)


def test_unpatchify_inverts_patchify():
    torch.manual_seed(0)
    video = torch.randn(4, 3, 56, 28)
    image = torch.randn(1, 3, 28, 84)
    rows = torch.cat([patchify(image)[0], patchify(video)[0]])
    grids = torch.tensor([patchify(image)[1], patchify(video)[1]])
    back_image, back_video = unpatchify(rows, grids)
    torch.testing.assert_close(back_image, image.expand(2, -1, -1, -1), atol=0, rtol=0)
    torch.testing.assert_close(back_video, video, atol=0, rtol=0)
    coords = patch_coordinates(grids)
    assert coords.shape == (rows.shape[0], 4)
    assert coords[:, 0].bincount().tolist() == [12, 16]  # rows per item


def test_denormalize_recovers_pixels(photo):
    out = preprocess_images(photo.resize((56, 56)))
    (frames,) = unpatchify(out["pixel_values"], out["image_grid_thw"])
    expected = torch.from_numpy(np.array(photo.resize((56, 56)))).permute(2, 0, 1) / 255
    torch.testing.assert_close(denormalize(frames[0]), expected, atol=1e-6, rtol=0)


def test_unpatchify_checks_row_count():
    with pytest.raises(ValueError, match="pixel_values"):
        unpatchify(torch.zeros(5, 1176), torch.tensor([[1, 2, 2]]))


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "images, error, message",
    [
        ([], ValueError, "images: expected at least one"),
        ([random_image(5, 5), Image.new("RGB", (0, 4))], ValueError, r"images\[1\]: image has zero size"),
        (
            [np.zeros((10, 10, 3), np.int16)],
            TypeError,
            r"images\[0\]: numpy images must be uint8 .* got dtype int16",
        ),
        (
            [np.full((10, 10, 3), 1.5)],
            ValueError,
            r"images\[0\]: float images must lie in \[0, 1\], got \[1.5, 1.5\]",
        ),
        ([np.full((10, 10, 3), np.nan)], ValueError, r"images\[0\]: image contains NaN"),
        (
            [np.zeros((10, 10, 3), bool)],
            TypeError,
            r"images\[0\]: numpy images must be uint8 .* got dtype bool",
        ),
        (
            [np.zeros((10, 10, 2), np.uint8)],
            ValueError,
            r"images\[0\]: numpy images must have shape \(h, w, 3\) or",
        ),
        (
            [np.zeros((10, 10), np.uint8)],
            ValueError,
            r"images\[0\]: numpy images must have shape \(h, w, 3\)",
        ),
        ([np.zeros((0, 10, 3), np.uint8)], ValueError, r"images\[0\]: image has zero size"),
        ([torch.zeros(10, 10, 3)], ShapeError, r"images\[0\]: expected shape \(c h w\) with c=3"),
        ([torch.zeros(3, 10)], ShapeError, r"images\[0\]: expected a 3-D tensor"),
        (
            [torch.zeros(3, 10, 10, dtype=torch.uint8)],
            TypeError,
            r"images\[0\]: torch images must be floating",
        ),
        ([torch.full((3, 10, 10), float("nan"))], ValueError, r"images\[0\]: image contains NaN"),
        ([torch.full((3, 10, 10), 2.0)], ValueError, r"images\[0\]: float images must lie in \[0, 1\]"),
        (["photo.jpg"], ValueError, r"images\[0\]: no image file at 'photo.jpg'"),
        ([b"bytes"], TypeError, r"images\[0\]: expected a PIL image, a path"),
        ([None], TypeError, r"images\[0\]: expected a PIL image, a path"),
        (
            [[random_image(5, 5)], random_image(5, 5)],
            ValueError,
            r"images: images\[0\] is a list but images\[1\]",
        ),
        ([[[random_image(5, 5)]]], ValueError, r"images\[0\]\[0\]: expected an image, got a list"),
        ([random_image(1, 300)], ValueError, r"images\[0\]: absolute aspect ratio must be smaller than 200"),
    ],
)
def test_bad_images_raise_clear_errors(images, error, message):
    with pytest.raises(error, match=message):
        preprocess_images(images)


def test_load_image_names_the_argument():
    with pytest.raises(TypeError, match="my_picture"):
        load_image(None, "my_picture")


# ---------------------------------------------------------------- video


@pytest.mark.parametrize(
    "total, video_fps, expected",
    [
        (300, 30, 20),  # 10 s at 30 fps -> 20 frames at 2 fps
        (10, 30, 4),  # 0.33 s -> min_frames 4
        (3, 30, 2),  # fewer frames than min_frames -> floor(3) to even
        (15, 1, 14),  # 30 wanted, only 15 there -> 14 (even)
        (2000, 1, 768),  # max_frames
        (25, 5, 10),
        (2, 30, 2),
    ],
)
def test_smart_nframes(total, video_fps, expected):
    assert smart_nframes(total, video_fps) == expected


def test_smart_nframes_options():
    assert smart_nframes(300, 30, fps=1.0) == 10
    assert smart_nframes(300, 30, min_frames=5) == 20
    assert smart_nframes(20, 30, min_frames=5) == 6  # min_frames rounds up to even
    assert smart_nframes(3000, 30, max_frames=101) == 100  # max_frames rounds down to even


def test_sample_frame_indices():
    assert sample_frame_indices(10, 4).tolist() == [0, 3, 6, 9]
    assert sample_frame_indices(5, 4).tolist() == [0, 1, 3, 4]  # linspace 0, 1.33, 2.67, 4
    assert sample_frame_indices(300, 20).tolist() == np.linspace(0, 299, 20).round().astype(int).tolist()


def test_two_frame_video_of_an_image_equals_the_image(photo):
    image = photo.resize((100, 90))
    video = preprocess_video([image, image], fps=2.0, sample_fps=None, min_pixels=3136, max_pixels=MAX_PIXELS)
    still = preprocess_images(image)
    torch.testing.assert_close(video["pixel_values_videos"], still["pixel_values"], atol=0, rtol=0)
    assert video["video_grid_thw"].tolist() == still["image_grid_thw"].tolist()
    assert video["second_per_grid_ts"] == [1.0]


@pytest.mark.reference
@pytest.mark.parametrize(
    "num_frames, height, width, pixels",
    [(4, 56, 84, VIDEO_PIXELS), (5, 60, 90, SMALL_VIDEO_PIXELS), (3, 280, 308, SMALL_VIDEO_PIXELS)],
)
def test_video_matches_reference_video_path(reference, num_frames, height, width, pixels):
    # transformers 4.57's slow image processor still has a (deprecated) PIL video path: the same
    # resize / normalise / temporal padding / flattening that the torchvision video processor does.
    from tests.reference import TF5

    if TF5:
        pytest.skip(
            "transformers 5.x removed the image processor's video path; its video processor needs torchvision"
        )
    rng = np.random.default_rng(num_frames)
    frames = rng.integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)
    ours = preprocess_video(frames, fps=2.0, sample_fps=None, **pixels)
    expected = reference(images=None, videos=[list(frames)], return_tensors="pt", **pixels)
    assert ours["video_grid_thw"].tolist() == expected["video_grid_thw"].tolist()
    assert ours["video_grid_thw"][0, 0].item() == math.ceil(num_frames / 2)
    torch.testing.assert_close(
        ours["pixel_values_videos"], expected["pixel_values_videos"], atol=1e-6, rtol=0
    )


def test_frames_already_multiples_of_28_are_not_resampled():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 56, 84, 3), dtype=np.uint8)
    ours = preprocess_video(frames, fps=2.0, sample_fps=None, min_pixels=3136, max_pixels=MAX_PIXELS)
    # By hand: no resize, x/255, CLIP normalisation, the two frames side by side in each patch.
    x = torch.from_numpy(frames).double() * (1 / 255)
    x = (x.float() - torch.tensor([0.48145466, 0.4578275, 0.40821073])) / torch.tensor(
        [0.26862954, 0.26130258, 0.27577711]
    )
    x = x.permute(0, 3, 1, 2)
    row0 = torch.stack([x[0, :, :14, :14], x[1, :, :14, :14]], dim=1).reshape(-1)  # (c, tp, y, x)
    torch.testing.assert_close(ours["pixel_values_videos"][0], row0, atol=0, rtol=0)
    assert ours["video_grid_thw"].tolist() == [[1, 4, 6]]


def test_fps_sampling_and_second_per_grid_ts():
    # 10 s at 30 fps: 300 frames -> 20 sampled frames at 2 fps -> 10 temporal patches of 1.0 s each.
    frames = np.zeros((300, 28, 28, 3), np.uint8)
    frames[:, :, :, 0] = (np.arange(300) % 256)[:, None, None]  # frame index in the red channel
    small = dict(min_pixels=28 * 28, max_pixels=28 * 28)
    out = preprocess_video(frames, fps=30, **small)
    assert out["video_grid_thw"].tolist() == [[10, 2, 2]]
    assert out["second_per_grid_ts"] == [1.0]
    kept = sample_frame_indices(300, 20)
    expected = preprocess_video(list(frames[kept.numpy()]), fps=2.0, sample_fps=None, **small)
    torch.testing.assert_close(out["pixel_values_videos"], expected["pixel_values_videos"], atol=0, rtol=0)
    # Sampling at 4 fps: 40 frames, 0.5 s per temporal patch.
    assert preprocess_video(frames, fps=30, sample_fps=4.0, **small)["second_per_grid_ts"] == [0.5]
    # 3 s at 1 fps: min_frames=4 wants 4, only 3 exist -> 2 frames; rate 2/3 * 1 fps -> 3.0 s per patch.
    assert preprocess_video(frames[:3], fps=1, **small)["second_per_grid_ts"] == [3.0]


def test_odd_frame_count_is_padded_with_last_frame():
    frames = [Image.new("RGB", (28, 28), (40 * i, 0, 0)) for i in range(5)]
    out = preprocess_video(frames, fps=2.0, sample_fps=None, min_pixels=28 * 28, max_pixels=28 * 28 * 4)
    assert out["video_grid_thw"].tolist() == [[3, 2, 2]]
    (clip,) = unpatchify(out["pixel_values_videos"], out["video_grid_thw"])
    assert clip.shape == (6, 3, 28, 28)
    torch.testing.assert_close(clip[5], clip[4], atol=0, rtol=0)
    assert not torch.equal(clip[4], clip[3])


@pytest.mark.parametrize(
    "frames, kwargs, message",
    [
        (np.zeros((4, 28, 28, 3), np.uint8), {"fps": 0}, "fps: frame rate must be a positive number, got 0"),
        (np.zeros((4, 28, 28, 3), np.uint8), {"fps": -2.0}, "fps: frame rate must be a positive"),
        (np.zeros((4, 28, 28, 3), np.uint8), {"fps": float("nan")}, "fps: frame rate must be a positive"),
        (np.zeros((4, 28, 28, 3), np.uint8), {"fps": 30, "sample_fps": 0.0}, "sample_fps: frame rate"),
        (np.zeros((1, 28, 28, 3), np.uint8), {"fps": 30}, "video has 1 frame.*needs at least 2"),
        ([], {"fps": 30}, "frames: a video needs at least one frame"),
        (np.zeros((28, 28, 3), np.uint8), {"fps": 30}, r"frames: a video array must have shape"),
        (
            [np.zeros((28, 28, 3), np.uint8)] * 2 + [np.zeros((28, 56, 3), np.uint8)],
            {"fps": 2, "sample_fps": None},
            r"frames\[2\] is 56x28",
        ),
        (
            [np.zeros((28, 28, 3), np.int16)] * 2,
            {"fps": 2, "sample_fps": None},
            r"frames\[0\]: numpy images must be uint8",
        ),
    ],
)
def test_bad_videos_raise_clear_errors(frames, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        preprocess_video(frames, **kwargs)


def test_single_frame_without_sampling_becomes_one_temporal_patch():
    out = preprocess_video([np.zeros((28, 28, 3), np.uint8)], fps=2.0, sample_fps=None, min_pixels=784)
    assert out["video_grid_thw"].tolist() == [[1, 2, 2]]


# ---------------------------------------------------------------- argument checks


BAD_NUMBERS = [
    (0, ValueError, "expected a positive number, got 0"),
    (-1, ValueError, "expected a positive number, got -1"),
    (float("nan"), ValueError, "expected a positive number, got nan"),
    (float("inf"), ValueError, "expected a positive number, got inf"),
    (None, TypeError, "expected a positive number, got NoneType None"),
    (False, TypeError, "expected a positive number, got bool False"),
    ("56", TypeError, "expected a positive number, got str '56'"),
]


@pytest.mark.parametrize("value, error, message", BAD_NUMBERS)
@pytest.mark.parametrize("name", ["min_pixels", "max_pixels"])
def test_budgets_are_checked_everywhere(name, value, error, message):
    image = random_image(30, 30)
    frames = np.zeros((2, 28, 28, 3), np.uint8)
    calls = [
        lambda: smart_resize(30, 30, **{name: value}),
        lambda: preprocess_images(image, **{name: value}),
        lambda: preprocess_video(frames, fps=2.0, sample_fps=None, **{name: value}),
    ]
    for call in calls:
        with pytest.raises(error, match=f"^{name}: {message}"):
            call()


def test_min_above_max_and_other_numbers():
    with pytest.raises(
        ValueError, match=r"min_pixels, max_pixels: the minimum \(5000\) must not exceed the maximum \(4000\)"
    ):
        preprocess_images(random_image(30, 30), min_pixels=5000, max_pixels=4000)
    with pytest.raises(ValueError, match=r"min_pixels, max_pixels: the minimum"):
        smart_resize(30, 30, min_pixels=5000, max_pixels=4000)
    with pytest.raises(TypeError, match="smart_resize: height must be a positive number, got str"):
        smart_resize("30", 30)
    with pytest.raises(ValueError, match="smart_resize: height and width must be positive, got height=nan"):
        smart_resize(float("nan"), 30)
    with pytest.raises(TypeError, match="factor: expected a positive int, got float 28.0"):
        smart_resize(30, 30, factor=28.0)
    with pytest.raises(ValueError, match="temporal_patch_size: expected a positive int, got 0"):
        preprocess_images(random_image(30, 30), temporal_patch_size=0)
    with pytest.raises(ValueError, match="total_pixels: expected a positive number, got -1"):
        preprocess_video(np.zeros((2, 28, 28, 3), np.uint8), fps=2.0, total_pixels=-1)
    with pytest.raises(TypeError, match=r"image_std\[0\]: expected a finite number, got str"):
        preprocess_images(random_image(30, 30), image_std=("a", 1, 1))
    # float budgets are fine (qwen-vl-utils' per-frame video budget is a float)
    assert smart_resize(600, 800, max_pixels=100_000.5) == smart_resize(600, 800, max_pixels=100_000)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"nframes": 0}, ValueError, "nframes: expected a positive int, got 0"),
        ({"nframes": 2.0}, TypeError, "nframes: expected a positive int, got float 2.0"),
        ({"nframes": 11}, ValueError, r"nframes: 11 rounds to 12 frames, which must lie in \[2, 8\]"),
        ({"nframes": 4, "sample_fps": 1.0}, ValueError, "nframes, sample_fps: pass one of them"),
        ({"min_frames": 0}, ValueError, "min_frames: expected a positive int, got 0"),
        ({"max_frames": None}, TypeError, "max_frames: expected a positive int, got NoneType"),
        ({"video_start": "1"}, TypeError, "video_start: expected a time in seconds"),
        ({"video_end": float("inf")}, ValueError, "video_end: expected a time in seconds"),
        (
            {"video_start": 3.0, "video_end": 2.0},
            ValueError,
            r"video_start, video_end: the range \[3.0, 2.0\] s keeps",
        ),
        ({"frame_size": (30, 28)}, ValueError, r"frame_size\[0\]: must be a multiple of 28, got 30"),
        ({"fps": True}, ValueError, "fps: frame rate must be a positive number, got True"),
    ],
)
def test_bad_video_selection_arguments(kwargs, error, message):
    kwargs = {"fps": 2.0, "sample_fps": None, **kwargs}
    with pytest.raises(error, match=message):
        preprocess_video(np.zeros((8, 28, 28, 3), np.uint8), **kwargs)


def test_mean_and_std_are_parameters(photo):
    mean, std = (0.5, 0.5, 0.5), (0.5, 0.25, 0.125)
    image = photo.resize((90, 60))
    ours = preprocess_images(image, image_mean=mean, image_std=std)
    assert not torch.allclose(ours["pixel_values"], preprocess_images(image)["pixel_values"])
    # the same constants undo it
    (frames,) = unpatchify(ours["pixel_values"], ours["image_grid_thw"])
    expected = (denormalize(frames[0], mean, std) * 255).round()
    assert torch.equal(
        expected,
        (
            denormalize(unpatchify(preprocess_images(image)["pixel_values"], ours["image_grid_thw"])[0][0])
            * 255
        ).round(),
    )
    video = preprocess_video([image, image], fps=2.0, sample_fps=None, min_pixels=3136, max_pixels=MAX_PIXELS,
                             image_mean=mean, image_std=std)  # fmt: skip
    assert torch.equal(video["pixel_values_videos"], ours["pixel_values"])


@pytest.mark.reference
def test_mean_and_std_like_reference(photo):
    mean, std = (0.5, 0.5, 0.5), (0.5, 0.25, 0.125)
    image = photo.resize((90, 60))
    ours = preprocess_images(image, image_mean=mean, image_std=std)
    theirs = reference_image_processor(image_mean=list(mean), image_std=list(std))(
        images=image, return_tensors="pt"
    )
    torch.testing.assert_close(ours["pixel_values"], theirs["pixel_values"], atol=1e-6, rtol=0)
