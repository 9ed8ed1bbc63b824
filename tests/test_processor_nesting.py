"""Per-prompt nested lists of images and videos, read the way transformers' processor reads them.

Handed case pipeline_fidelity/02: ``images=[[a, b], [c], []]`` gives the same inputs as ``[a, b, c]``.
transformers flattens such lists (``make_flat_list_of_images``, ``make_batched_videos``); qwen_lite does
too, checks each list against its prompt's placeholders, and refuses malformed nesting with an error
that names the entry.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from qwen_lite import Qwen25VLProcessor
from qwen_lite.processing import flat_list_of_images, preprocess_images
from qwen_lite.processor import batched_videos

P = "<|vision_start|><|image_pad|><|vision_end|>"
V = "<|vision_start|><|video_pad|><|vision_end|>"
SMALL_VIDEO = dict(video_min_pixels=28 * 28 * 4, video_max_pixels=28 * 28 * 4)


@pytest.fixture(scope="module")
def processor():
    return Qwen25VLProcessor(**SMALL_VIDEO)


def grey(height, width, value=128):
    return Image.fromarray(np.full((height, width, 3), value, np.uint8))


def clip(frames, seed):
    return np.random.default_rng(seed).integers(0, 256, (frames, 56, 56, 3), dtype=np.uint8)


def same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_case_02_nested_image_lists_equal_the_flat_list(processor):
    # pipeline_fidelity/02_nested_image_lists.py
    a, b, c = grey(60, 90), grey(100, 40), grey(56, 56)
    texts = [f"{P}{P}compare", f"{P}what is it", "no image here"]
    expected = processor(text=texts, images=[a, b, c])
    got = processor(text=texts, images=[[a, b], [c], []])
    same(got, expected)
    assert got["image_grid_thw"].tolist() == [[1, 4, 6], [1, 8, 2], [1, 4, 4]]


@pytest.mark.reference
def test_nested_images_as_transformers_flattens_them():
    from transformers.image_utils import make_flat_list_of_images

    a, b, c = grey(6, 9), grey(10, 4), grey(5, 5)
    nested = [[a, b], [c], []]
    assert make_flat_list_of_images(nested) == [a, b, c]
    pairs, counts = flat_list_of_images(nested)
    assert [image for _, image in pairs] == [a, b, c] and counts == [2, 1, 0]
    assert [name for name, _ in pairs] == ["images[0][0]", "images[0][1]", "images[1][0]"]
    with pytest.raises(ValueError):  # transformers refuses a list mixing lists and single images too
        make_flat_list_of_images([[a], b])
    with pytest.raises(ValueError, match=r"images: images\[0\] is a list but images\[1\] is a single image"):
        flat_list_of_images([[a], b])


def test_image_batches_and_nested_lists_in_preprocess_images():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (3, 30, 40, 3), dtype=np.uint8)  # a 4-D array is a batch of images
    flat = preprocess_images(list(batch))
    same(preprocess_images(batch), flat)
    same(preprocess_images([[batch[0], batch[1]], [], [batch[2]]]), flat)


def test_nested_videos_equal_the_flat_list(processor):
    v1, v2, v3 = clip(4, 1), clip(2, 2), clip(6, 3)
    texts = [f"{V}{V}compare", "no video", f"{V}and this"]
    flat = processor(text=texts, videos=[v1, v2, v3], fps=[2.0, 1.0, 4.0])
    same(processor(text=texts, videos=[[v1, v2], [], [v3]], fps=[2.0, 1.0, 4.0]), flat)
    as_frames = [[list(v1), list(v2)], [], [list(v3)]]  # videos given as lists of frames
    same(processor(text=texts, videos=as_frames, fps=[2.0, 1.0, 4.0]), flat)
    assert flat["video_grid_thw"][:, 0].tolist() == [2, 1, 3]


def test_a_list_of_frames_is_one_video(processor):
    # transformers' make_batched_videos: a flat list of frames is one video, not one video per frame
    frames = list(clip(4, 4))
    one = processor(text=V, videos=frames)
    same(one, processor(text=V, videos=[frames]))
    same(one, processor(text=V, videos=np.stack(frames)))
    assert one["video_grid_thw"][:, 0].tolist() == [2]


@pytest.mark.parametrize(
    "videos, error, message",
    [
        (
            [[clip(2, 0)], clip(2, 1)],
            ValueError,
            r"videos: videos\[0\] is a per-prompt list of videos but videos\[1\]",
        ),
        ([clip(2, 0), clip(2, 1)[0]], ValueError, r"videos\[1\]: a single frame \(ndarray\) among videos"),
        (
            [[[[clip(2, 0)[0]]]]],
            ValueError,
            r"videos\[0\]\[0\]: expected a video .* videos nest at most one level",
        ),
        (["clip.mp4"], ValueError, r"videos\[0\]: 'clip.mp4' is a video file; qwen_lite does not decode"),
        ("clip.mp4", ValueError, r"videos: 'clip.mp4' is a video file"),
        ([clip(2, 0), 3], TypeError, r"videos\[1\]: expected a video .* got int 3"),
        (np.zeros((2, 2, 28, 28, 3), np.uint8), TypeError, r"videos: expected a video"),
        ([], ValueError, "videos: expected a non-empty list of videos"),
    ],
)
def test_malformed_video_nesting_is_refused(processor, videos, error, message):
    with pytest.raises(error, match=message):
        processor(text=V, videos=videos)


def test_per_prompt_lists_must_match_the_placeholders(processor):
    a, b = grey(28, 28, 10), grey(28, 28, 20)
    with pytest.raises(
        ValueError, match=r"images\[0\]: 1 images for prompt 0, whose text has 2 <\|image_pad\|>"
    ):
        processor(text=[P + P, P], images=[[a], [a, b]])
    with pytest.raises(ValueError, match=r"images: 1 per-prompt lists for 2 prompts"):
        processor(text=[P, P], images=[[a, b]])
    with pytest.raises(ValueError, match=r"videos\[0\]: 1 videos for prompt 0, whose text has 0"):
        processor(text=["x", V], videos=[[clip(2, 0)], []])
    # the flat list of the same images is fine: transformers never knew which prompt an image was for
    assert processor(text=[P + P, P], images=[a, a, b])["image_grid_thw"].shape == (3, 3)


def test_all_empty_per_prompt_lists_mean_no_images(processor):
    out = processor(text=["a", "b"], images=[[], []], videos=[[], []])
    same(out, processor(text=["a", "b"]))


def test_batched_videos_labels():
    v = clip(2, 0)
    pairs, counts = batched_videos([[v, list(v)], []])
    assert [name for name, _ in pairs] == ["videos[0][0]", "videos[0][1]"] and counts == [2, 0]
    pairs, counts = batched_videos(v[0])  # one frame: a one-frame video, as in transformers
    assert len(pairs) == 1 and len(pairs[0][1]) == 1 and counts is None
