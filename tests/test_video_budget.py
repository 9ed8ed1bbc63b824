"""The qwen_vl_utils per-frame pixel budget for long videos (`video_max_pixels`) and its opt-in.

Values are computed by hand from qwen_vl_utils' rule
    max(min(768 * 784, total_pixels / nframes * 2), int(128 * 784 * 1.05)),   total_pixels = 90,316,800.
"""

import numpy as np
import pytest
import torch

from qwen_lite.processing import VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS, smart_resize
from qwen_lite.video import VIDEO_TOTAL_PIXELS, preprocess_video, video_max_pixels


def test_total_pixels_is_ninety_percent_of_128k_tokens():
    assert VIDEO_TOTAL_PIXELS == 90_316_800 == 9 * 128_000 * 784 // 10
    assert isinstance(VIDEO_TOTAL_PIXELS, int)


@pytest.mark.parametrize(
    "nframes, expected",
    [
        (4, 602_112),  # 45,158,400 per frame: the per-frame cap 768 * 784 wins
        (20, 602_112),  # a 10 s clip at 2 fps: still the cap
        (300, 602_112),  # 90,316,800 / 300 * 2 = 602,112 exactly: where the budget starts to bind
        (768, 235_200),  # the most frames sampled: 90,316,800 / 768 * 2 = 235,200 = 300 tokens per frame
    ],
)
def test_budget_at_the_defaults(nframes, expected):
    assert video_max_pixels(nframes) == expected


def test_budget_between_cap_and_floor_is_an_even_share():
    # 90,316,800 / 301 * 2 = 600,111.627...: below the cap, above the floor, not rounded (as qwen_vl_utils)
    assert video_max_pixels(301) == pytest.approx(180_633_600 / 301)
    assert 600_111 < video_max_pixels(301) < 600_112


def test_floor_is_five_percent_above_min_pixels():
    # int(100,352 * 1.05) = int(105,369.6) = 105,369 once the even share drops below it
    assert video_max_pixels(10_000) == 105_369  # share 18,063.36
    assert video_max_pixels(4, total_pixels=100_000) == 105_369  # share 50,000
    assert video_max_pixels(4, total_pixels=100_000, min_pixels=3136) == 50_000  # floor int(3292.8) = 3292


def test_custom_cap_and_temporal_patch_size():
    assert video_max_pixels(10, total_pixels=1_000_000, max_pixels=150_000) == 150_000  # share 200,000
    assert video_max_pixels(10, total_pixels=1_000_000, temporal_patch_size=1) == 105_369  # share 100,000
    assert video_max_pixels(10, total_pixels=2_000_000, temporal_patch_size=1) == 200_000  # share 200,000


def test_an_hour_of_720p_fits_the_context():
    # 768 frames of 1280 x 720 -> 235,200 px each -> 336 x 644 px = 12 x 23 merged tokens per temporal patch
    height, width = smart_resize(720, 1280, min_pixels=VIDEO_MIN_PIXELS, max_pixels=video_max_pixels(768))
    assert (height, width) == (336, 644)
    assert 768 // 2 * (height // 28) * (width // 28) == 105_984 <= VIDEO_TOTAL_PIXELS // 784 == 115_200


@pytest.mark.parametrize("nframes", [0, -2, 2.0])
def test_rejects_a_bad_frame_count(nframes):
    with pytest.raises(ValueError, match="nframes"):
        video_max_pixels(nframes)


def clip(frames: int, side: int = 224) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(frames, side, side, 3), dtype=np.uint8)


def test_preprocess_video_default_ignores_the_budget():
    video = preprocess_video(clip(8), fps=2.0, sample_fps=None, min_pixels=3136)
    assert video["video_grid_thw"].tolist() == [[4, 16, 16]]  # 224 x 224 kept


def test_preprocess_video_opt_in_shrinks_frames():
    # budget 50,176 px for 8 frames -> 50,176 / 8 * 2 = 12,544 = 112 x 112 per frame -> grid 8 x 8
    frames = clip(8)
    video = preprocess_video(frames, fps=2.0, sample_fps=None, min_pixels=3136, total_pixels=50_176)
    assert video["video_grid_thw"].tolist() == [[4, 8, 8]]
    assert video["pixel_values_videos"].shape == (4 * 8 * 8, 1176)
    # the same as asking for 112 x 112 frames directly
    direct = preprocess_video(frames, fps=2.0, sample_fps=None, min_pixels=3136, max_pixels=112 * 112)
    assert torch.equal(video["pixel_values_videos"], direct["pixel_values_videos"])


def test_preprocess_video_budget_counts_sampled_frames():
    # 48 frames at 8 fps, sampled at 2 fps -> 12 frames; 12 * 6,272 / 12 * 2 = 12,544 -> 112 x 112.
    # Had the budget counted all 48 frames: 3,136 per frame -> 56 x 56, grid 4 x 4.
    video = preprocess_video(clip(48), fps=8.0, min_pixels=3136, total_pixels=12 * 6_272)
    assert video["video_grid_thw"].tolist() == [[6, 8, 8]]


def test_preprocess_video_budget_never_raises_max_pixels():
    # the default budget for 8 frames is 602,112 px, far above the caller's 112 x 112: the caller wins
    video = preprocess_video(
        clip(8),
        fps=2.0,
        sample_fps=None,
        min_pixels=3136,
        max_pixels=112 * 112,
        total_pixels=VIDEO_TOTAL_PIXELS,
    )
    assert video["video_grid_thw"].tolist() == [[4, 8, 8]]
    assert VIDEO_MAX_PIXELS == 602_112


# ---------------------------------------------------------------- qwen-vl-utils' per-item budget and frame choice


def test_frame_max_pixels_follows_fetch_video():
    from qwen_lite.video import frame_max_pixels

    # no whole-video budget: the cap, or the floor 1.05 * min_pixels if that is higher
    assert frame_max_pixels(8, min_pixels=VIDEO_MIN_PIXELS) == VIDEO_MAX_PIXELS
    assert frame_max_pixels(8, min_pixels=600_000) == 630_000
    # an item's max_pixels lowers the budget, never raises it
    assert frame_max_pixels(8, min_pixels=VIDEO_MIN_PIXELS, max_pixels=151_200) == 151_200
    assert frame_max_pixels(8, min_pixels=VIDEO_MIN_PIXELS, max_pixels=10**7) == VIDEO_MAX_PIXELS
    # total_pixels: an even share per frame (qwen-vl-utils' default total: 90,316,800)
    assert frame_max_pixels(8, min_pixels=VIDEO_MIN_PIXELS, total_pixels=800_000) == 200_000
    assert frame_max_pixels(768, min_pixels=VIDEO_MIN_PIXELS, total_pixels=VIDEO_TOTAL_PIXELS) == 235_200


def test_select_frames_rules():
    from qwen_lite.video import frame_range, select_frames

    assert select_frames(10, 2.0) == (list(range(10)), 2.0)
    assert select_frames(10, 2.0, nframes=4) == ([0, 3, 6, 9], 0.8)
    assert select_frames(10, 2.0, nframes=3)[0] == [0, 3, 6, 9]  # round(1.5) = 2 -> 4 frames
    assert select_frames(10, 2.0, nframes=5)[0] == [0, 3, 6, 9]  # round(2.5) = 2 (half to even) -> 4 frames
    assert len(select_frames(10, 2.0, nframes=7)[0]) == 8  # round(3.5) = 4 -> 8 frames
    assert frame_range(10, 2.0, 1.0, 3.0) == (2, 6)  # ceil(1.0 * 2), floor(3.0 * 2)
    assert frame_range(10, 2.0, 0.6, None) == (2, 9)  # ceil(1.2) = 2
    assert frame_range(10, 2.0, None, 99.0) == (0, 9)  # clamped to the clip
    assert select_frames(10, 2.0, video_start=1.0, video_end=3.0) == ([2, 3, 4, 5, 6], 2.0)
    # sampling at 1 fps over the cut 2..9 (8 frames, 4 s) -> 4 frames of linspace(2, 9, 4)
    assert select_frames(10, 2.0, video_start=1.0, sample_fps=1.0) == ([2, 4, 7, 9], 1.0)


def test_odd_frame_counts_use_the_padded_count_for_the_budget():
    # 5 frames are padded to 6 before qwen-vl-utils computes the share: 600,000 / 6 * 2 = 200,000 per frame
    video = preprocess_video(clip(5, 560), fps=2.0, sample_fps=None, min_pixels=3136, total_pixels=600_000)
    assert video["video_grid_thw"].tolist() == [[3, 30, 30]]  # 560 x 560 -> sqrt(200,000) -> 420 x 420
