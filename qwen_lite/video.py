"""Videos -> ``pixel_values_videos``: sample frames, then patchify them like images, two frames per patch.

    preprocess_video(frames, fps)
      smart_nframes          how many frames to keep at ``sample_fps`` (qwen_vl_utils rules)
      sample_frame_indices   which ones: evenly spaced, first and last included
      pad to an even count   by repeating the last frame
      video_max_pixels       optional (total_pixels=...): shrink frames so a long video fits a token budget
      smart_resize + PIL bicubic resize + normalize + patchify   (as for images, see processing.py)

``second_per_grid_ts`` = temporal_patch_size / (the frame rate after sampling) is the time one temporal
patch covers; the language model turns it into M-RoPE time positions. Frame resizing uses PIL bicubic,
like the slow image processor's video path; transformers' video processor and qwen_vl_utils use
torchvision's antialiased bicubic, whose values differ slightly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qwen_lite.processing import (
    MERGE_SIZE,
    PATCH_SIZE,
    TEMPORAL_PATCH_SIZE,
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    load_image,
    patchify,
    resize_and_normalize,
    smart_resize,
)

SAMPLE_FPS = 2.0  # qwen_vl_utils FPS
MIN_FRAMES = 4  # qwen_vl_utils FPS_MIN_FRAMES
MAX_FRAMES = 768  # qwen_vl_utils FPS_MAX_FRAMES
# qwen_vl_utils VIDEO_TOTAL_PIXELS = 90,316,800: a budget for all frames together, 90% of a 128,000-token
# context at one token per 28 x 28 px (of a 2-frame temporal patch); see video_max_pixels.
VIDEO_TOTAL_PIXELS = int(128000 * 28 * 28 * 0.9)


def smart_nframes(
    total_frames: int,
    video_fps: float,
    fps: float = SAMPLE_FPS,
    min_frames: int = MIN_FRAMES,
    max_frames: int = MAX_FRAMES,
    frame_factor: int = TEMPORAL_PATCH_SIZE,
) -> int:
    """Number of frames to sample from a clip of ``total_frames`` recorded at ``video_fps``.

    qwen_vl_utils' rule: n = duration * fps, clamped to [min_frames rounded up to even,
    min(max_frames, total_frames) rounded down to even] and to total_frames, then floored to an even
    count. Example: 10 s at 30 fps -> 300 frames -> 20 frames at 2 fps.
    """
    _check_positive(video_fps, "video_fps")
    _check_positive(fps, "fps")
    if total_frames < frame_factor:
        raise ValueError(
            f"video has {total_frames} frame(s); sampling needs at least {frame_factor} "
            "(pass sample_fps=None to use the frames as they are)"
        )
    min_frames = math.ceil(min_frames / frame_factor) * frame_factor
    max_frames = math.floor(min(max_frames, total_frames) / frame_factor) * frame_factor
    nframes = total_frames / video_fps * fps
    nframes = min(min(max(nframes, min_frames), max_frames), total_frames)
    nframes = math.floor(nframes / frame_factor) * frame_factor
    if not frame_factor <= nframes <= total_frames:
        raise ValueError(
            f"smart_nframes: nframes should be in [{frame_factor}, {total_frames}], got {nframes}"
        )
    return nframes


def sample_frame_indices(total_frames: int, nframes: int) -> torch.Tensor:
    """``nframes`` evenly spaced frame indices in [0, total_frames - 1] -> (nframes,) int64.

    qwen_vl_utils: ``linspace(0, total - 1, n).round()`` (so the first and last frames are kept).
    """
    return torch.linspace(0, total_frames - 1, nframes).round().long()


def video_max_pixels(
    nframes: int,
    *,
    total_pixels: float = VIDEO_TOTAL_PIXELS,
    min_pixels: int = VIDEO_MIN_PIXELS,
    max_pixels: int = VIDEO_MAX_PIXELS,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
) -> float:
    """Per-frame pixel budget for a video of ``nframes`` sampled frames (qwen_vl_utils ``fetch_video``).

        max(min(max_pixels, total_pixels / nframes * temporal_patch_size), int(min_pixels * 1.05))

    Two frames share one temporal patch, so ``nframes`` frames of ``p`` pixels cost about
    ``nframes / 2 * p / 784`` tokens; dividing ``total_pixels`` by ``nframes / 2`` keeps the whole video
    near ``total_pixels / 784`` tokens (115,200 by default). The per-frame cap ``max_pixels`` wins for
    short videos (up to 300 frames at the defaults); the floor, 5% above ``min_pixels``, keeps frames of
    very long videos from shrinking below the minimum. Examples at the defaults: 20 frames -> 602,112
    (the cap), 768 frames -> 235,200 (300 tokens per frame). The result may be a float, as in qwen_vl_utils;
    pass it as ``max_pixels`` to :func:`qwen_lite.processing.smart_resize`.
    """
    if not (isinstance(nframes, int) and nframes > 0):
        raise ValueError(f"nframes: the number of sampled frames must be a positive int, got {nframes!r}")
    share = total_pixels / nframes * temporal_patch_size  # pixels per frame if the budget is split evenly
    return max(min(max_pixels, share), int(min_pixels * 1.05))


def preprocess_video(
    frames,
    fps: float,
    *,
    sample_fps: float | None = SAMPLE_FPS,
    min_pixels: int = VIDEO_MIN_PIXELS,
    max_pixels: int = VIDEO_MAX_PIXELS,
    total_pixels: float | None = None,
    min_frames: int = MIN_FRAMES,
    max_frames: int = MAX_FRAMES,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
) -> dict:
    """One video -> ``pixel_values_videos`` (n, 1176), ``video_grid_thw`` (1, 3), ``second_per_grid_ts``.

    ``frames``: a uint8 array (frames, h, w, 3) or a list of images (any form :func:`load_image`
    accepts), all the same size; ``fps``: their frame rate. With ``sample_fps`` (default 2.0) frames are
    first sampled by :func:`smart_nframes`; with ``sample_fps=None`` all frames are kept (already sampled,
    as transformers' processor assumes). An odd count is padded with the last frame.
    ``total_pixels`` (off by default, like transformers' video processor): a pixel budget for the whole
    video, as in qwen_vl_utils; each frame is then limited to
    ``min(max_pixels, video_max_pixels(n, total_pixels=total_pixels, min_pixels=min_pixels))`` pixels,
    ``n`` being the number of frames after sampling (use :data:`VIDEO_TOTAL_PIXELS` for qwen_vl_utils'
    default).
    ``second_per_grid_ts`` is a one-element list: temporal_patch_size / frame rate after sampling.
    """
    _check_positive(fps, "fps")
    frames = _frame_list(frames)
    if sample_fps is not None:
        _check_positive(sample_fps, "sample_fps")
        nframes = smart_nframes(len(frames), fps, sample_fps, min_frames, max_frames, temporal_patch_size)
        rate = nframes / len(frames) * fps
        frames = [frames[i] for i in sample_frame_indices(len(frames), nframes).tolist()]
    else:
        rate = fps

    images = [load_image(frame, f"frames[{index}]") for index, frame in enumerate(frames)]
    sizes = {image.size for image in images}
    if len(sizes) > 1:
        first = images[0].size
        odd_one = next(i for i, image in enumerate(images) if image.size != first)
        raise ValueError(
            f"frames: all frames must have the same size; frames[0] is {first[0]}x{first[1]} (w x h), "
            f"frames[{odd_one}] is {images[odd_one].size[0]}x{images[odd_one].size[1]}"
        )
    if total_pixels is not None:
        # qwen_vl_utils caps the user's max_pixels by the budget computed with the default per-frame cap
        budget = video_max_pixels(
            len(images),
            total_pixels=total_pixels,
            min_pixels=min_pixels,
            temporal_patch_size=temporal_patch_size,
        )
        max_pixels = min(max_pixels, budget)
    height, width = smart_resize(
        images[0].height,
        images[0].width,
        patch_size * merge_size,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
    )
    clip = torch.stack([resize_and_normalize(image, height, width) for image in images])
    rows, grid = patchify(clip, patch_size, temporal_patch_size, merge_size)
    return {
        "pixel_values_videos": rows,
        "video_grid_thw": torch.tensor([grid], dtype=torch.int64),
        "second_per_grid_ts": [temporal_patch_size / rate],
    }


def _frame_list(frames) -> list:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(
                f"frames: a video array must have shape (frames, h, w, 3), got shape {frames.shape}"
            )
        frames = list(frames)
    if not isinstance(frames, (list, tuple)):
        raise TypeError(
            f"frames: expected a uint8 array (frames, h, w, 3) or a list of images, got {type(frames).__name__}"
        )
    if len(frames) == 0:
        raise ValueError("frames: a video needs at least one frame, got none")
    return list(frames)


def _check_positive(value: float, name: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: frame rate must be a positive number, got {value!r}")
