"""Videos -> ``pixel_values_videos``: pick frames, then patchify them like images, two frames per patch.

    preprocess_video(frames, fps)
      select_frames          which frames to keep: cut to [video_start, video_end] (seconds), then
                             ``nframes`` evenly spaced, or as many as ``sample_fps`` asks (smart_nframes),
                             or all of them (qwen-vl-utils' rules)
      pad to an even count   by repeating the last frame
      video_max_pixels       optional (total_pixels=...): shrink frames so a long video fits a token budget
      smart_resize + PIL bicubic resize + normalize + patchify   (as for images, see processing.py)

``second_per_grid_ts`` = temporal_patch_size / (the frame rate after sampling) is the time one temporal
patch covers; the language model turns it into M-RoPE time positions. Frame resizing uses PIL bicubic,
like the slow image processor's video path; transformers' video processor and qwen-vl-utils use
torchvision's antialiased bicubic, whose values differ slightly. Frames load like images
(:func:`qwen_lite.processing.load_image`): EXIF orientation applied, transparency composited over white.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from qwen_lite.processing import (
    IMAGE_MEAN,
    IMAGE_STD,
    MERGE_SIZE,
    PATCH_SIZE,
    TEMPORAL_PATCH_SIZE,
    VIDEO_MAX_PIXELS,
    VIDEO_MIN_PIXELS,
    check_mean_std,
    check_patch_sizes,
    check_pixel_budget,
    check_positive,
    describe,
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
    Errors (naming the argument): a non-positive or non-finite rate, non-positive frame counts, and a
    clip shorter than ``frame_factor`` frames.
    """
    video_fps = _check_rate(video_fps, "video_fps")
    fps = _check_rate(fps, "fps")
    total_frames = check_positive(total_frames, "total_frames", integer=True)
    min_frames = check_positive(min_frames, "min_frames", integer=True)
    max_frames = check_positive(max_frames, "max_frames", integer=True)
    frame_factor = check_positive(frame_factor, "frame_factor", integer=True)
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


BUDGETS = ("frame", "clip")  # what a video's min_pixels / max_pixels bound, see preprocess_video


def clip_smart_resize(
    num_frames: int,
    height: int,
    width: int,
    factor: int = 32,
    temporal_factor: int = TEMPORAL_PATCH_SIZE,
    min_pixels: int = 128 * 32 * 32,
    max_pixels: int = 768 * 32 * 32,
) -> tuple[int, int]:
    """Frame size (h, w) for a clip whose pixel budget counts *all* its frames (Qwen3-VL's video processor).

    Like :func:`qwen_lite.processing.smart_resize` (sides rounded to multiples of ``factor``), except that
    the area compared with ``[min_pixels, max_pixels]`` is ``t * h * w``, ``t`` = ``num_frames`` rounded
    to a multiple of ``temporal_factor``, and the rescale factor uses ``num_frames * h * w``. So a longer
    clip gets smaller frames. The defaults are ``Qwen3VLVideoProcessor``'s class defaults (``size`` =
    131,072 .. 786,432 px, ``factor`` 16 * 2).

    Source: transformers ``models/qwen3_vl/video_processing_qwen3_vl.py`` ``smart_resize``. A side below
    ``factor`` px: 4.57.6 raises, 5.24.0 first scales the frame up so its shorter side is ``factor`` px
    (``int`` of the scaled sides); qwen_lite follows 5.x, as it accepts tiny images everywhere else.
    Errors (``ValueError``/``TypeError`` naming the argument): fewer than ``temporal_factor`` frames (both
    references refuse them), non-positive sizes or budgets, ``min_pixels > max_pixels``, an aspect ratio
    above 200.
    """
    num_frames = check_positive(num_frames, "num_frames", integer=True)
    height = check_positive(height, "height", integer=True)
    width = check_positive(width, "width", integer=True)
    factor = check_positive(factor, "factor", integer=True)
    temporal_factor = check_positive(temporal_factor, "temporal_factor", integer=True)
    min_pixels, max_pixels = check_pixel_budget(min_pixels, max_pixels)
    if num_frames < temporal_factor:
        raise ValueError(
            f"num_frames: a clip needs at least temporal_factor={temporal_factor} frames, got {num_frames}"
        )
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)} "
            f"(height={height}, width={width})"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(num_frames / temporal_factor) * temporal_factor
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def sample_frame_indices(total_frames: int, nframes: int, start: int = 0) -> torch.Tensor:
    """``nframes`` evenly spaced frame indices in [start, start + total_frames - 1] -> (nframes,) int64.

    qwen_vl_utils: ``linspace(start, end, n).round()`` (so the first and last frames are kept).
    """
    return torch.linspace(start, start + total_frames - 1, nframes).round().long()


def frame_range(
    total_frames: int, fps: float, video_start: float | None = None, video_end: float | None = None
) -> tuple[int, int]:
    """First and last frame (inclusive) of the part of a clip between ``video_start`` and ``video_end``.

    qwen-vl-utils' ``calculate_video_frame_range``: times (seconds) are clamped to the clip's duration
    ``total_frames / fps``; first = ``ceil(video_start * fps)``, last = ``min(floor(video_end * fps),
    total_frames - 1)``. ``None`` means the clip's start / end. Errors (``ValueError`` naming the
    argument): negative or non-finite times, and a range that keeps fewer than two frames (start >= end,
    as qwen-vl-utils).
    """
    fps = _check_rate(fps, "fps")
    total_frames = check_positive(total_frames, "total_frames", integer=True)
    for value, name in ((video_start, "video_start"), (video_end, "video_end")):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name}: expected a time in seconds (a number >= 0), got {describe(value)}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: expected a time in seconds (a number >= 0), got {value!r}")
    if video_start is None and video_end is None:
        return 0, total_frames - 1
    duration = total_frames / fps
    start = math.ceil(min(video_start, duration) * fps) if video_start is not None else 0
    end = (
        min(math.floor(min(video_end, duration) * fps), total_frames - 1)
        if video_end is not None
        else total_frames - 1
    )
    if start >= end:
        raise ValueError(
            f"video_start, video_end: the range [{video_start}, {video_end}] s keeps frames {start}..{end} of a "
            f"{duration:g} s clip ({total_frames} frames at {fps:g} fps); it needs at least two frames"
        )
    return start, end


def select_frames(
    num_frames: int,
    fps: float,
    *,
    sample_fps: float | None = None,
    nframes: int | None = None,
    video_start: float | None = None,
    video_end: float | None = None,
    min_frames: int = MIN_FRAMES,
    max_frames: int = MAX_FRAMES,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
) -> tuple[list[int], float]:
    """Which of ``num_frames`` frames (recorded at ``fps``) to keep -> (indices, frame rate after selection).

    qwen-vl-utils' rules, for frames already in memory:

    1. ``video_start``/``video_end`` (seconds) cut the clip (:func:`frame_range`);
    2. ``nframes``: that many frames, rounded to a multiple of ``temporal_patch_size`` (half to even,
       ``round_by_factor``), evenly spaced over the cut; it must lie in [2, frames in the cut];
    3. or ``sample_fps``: as many frames as :func:`smart_nframes` gives at that rate (``min_frames`` and
       ``max_frames`` bound it), evenly spaced;
    4. or every frame of the cut.

    The rate after selection is ``kept / frames in the cut * fps`` (qwen-vl-utils' ``sample_fps``).
    ``nframes`` and ``sample_fps`` together are an error, as in qwen-vl-utils ("either fps or nframes").
    """
    fps = _check_rate(fps, "fps")
    num_frames = check_positive(num_frames, "num_frames", integer=True)
    temporal_patch_size = check_positive(temporal_patch_size, "temporal_patch_size", integer=True)
    min_frames = check_positive(min_frames, "min_frames", integer=True)
    max_frames = check_positive(max_frames, "max_frames", integer=True)
    if nframes is not None and sample_fps is not None:
        raise ValueError(
            f"nframes, sample_fps: pass one of them, not both (got {nframes!r} and {sample_fps!r})"
        )
    start, end = frame_range(num_frames, fps, video_start, video_end)
    count = end - start + 1
    if nframes is not None:
        nframes = check_positive(nframes, "nframes", integer=True)
        kept = round(nframes / temporal_patch_size) * temporal_patch_size
        if not temporal_patch_size <= kept <= count:
            raise ValueError(
                f"nframes: {nframes} rounds to {kept} frames, which must lie in [{temporal_patch_size}, {count}] "
                f"(the frames {'in the cut' if count < num_frames else 'of the clip'})"
            )
    elif sample_fps is not None:
        sample_fps = _check_rate(sample_fps, "sample_fps")
        kept = smart_nframes(count, fps, sample_fps, min_frames, max_frames, temporal_patch_size)
    else:
        return list(range(start, end + 1)), float(fps)
    return sample_frame_indices(count, kept, start).tolist(), kept / count * fps


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
    pass it as ``max_pixels`` to :func:`qwen_lite.processing.smart_resize`. ``total_pixels=math.inf``
    leaves only the cap and the floor.
    """
    if isinstance(nframes, bool) or not (isinstance(nframes, numbers.Integral) and nframes > 0):
        raise ValueError(f"nframes: the number of sampled frames must be a positive int, got {nframes!r}")
    if not (isinstance(total_pixels, numbers.Real) and total_pixels == math.inf):
        check_positive(total_pixels, "total_pixels")
    check_positive(min_pixels, "min_pixels")
    check_positive(max_pixels, "max_pixels")
    share = total_pixels / nframes * temporal_patch_size  # pixels per frame if the budget is split evenly
    return max(min(max_pixels, share), int(min_pixels * 1.05))


def frame_max_pixels(
    nframes: int,
    *,
    min_pixels: float,
    max_pixels: float | None = None,
    total_pixels: float | None = None,
    frame_cap: float = VIDEO_MAX_PIXELS,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
) -> float:
    """The per-frame ``max_pixels`` qwen-vl-utils' ``fetch_video`` uses for one video item.

        budget = video_max_pixels(nframes, total_pixels, min_pixels, max_pixels=frame_cap)
        result = budget if max_pixels is None else min(max_pixels, budget)

    An item's own ``max_pixels`` can lower the budget but never raise it (qwen-vl-utils logs
    "exceeds limit" and caps it). ``total_pixels=None``: no whole-video budget, only ``frame_cap`` and the
    floor ``int(min_pixels * 1.05)``. ``nframes`` counts the frames after selection and padding to even.
    """
    total = math.inf if total_pixels is None else total_pixels
    budget = video_max_pixels(
        nframes,
        total_pixels=total,
        min_pixels=min_pixels,
        max_pixels=frame_cap,
        temporal_patch_size=temporal_patch_size,
    )
    if max_pixels is None:
        return budget
    check_positive(max_pixels, "max_pixels")
    return min(max_pixels, budget)


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
    nframes: int | None = None,
    video_start: float | None = None,
    video_end: float | None = None,
    frame_size: tuple[int, int] | None = None,
    patch_size: int = PATCH_SIZE,
    temporal_patch_size: int = TEMPORAL_PATCH_SIZE,
    merge_size: int = MERGE_SIZE,
    image_mean=IMAGE_MEAN,
    image_std=IMAGE_STD,
    budget: str = "frame",
) -> dict:
    """One video -> ``pixel_values_videos`` (n, 1176), ``video_grid_thw`` (1, 3), ``second_per_grid_ts``.

    ``frames``: a uint8 array (frames, h, w, 3), a float tensor (frames, 3, h, w) in [0, 1], or a list of
    images (any form :func:`qwen_lite.processing.load_image` accepts, paths included), all the same size;
    ``fps``: their frame rate. Frames are chosen by :func:`select_frames`: with ``sample_fps`` (default
    2.0) sampled by :func:`smart_nframes`; with ``nframes`` that many; with ``sample_fps=None`` and no
    ``nframes`` all frames are kept (already sampled, as transformers' processor assumes);
    ``video_start``/``video_end`` (seconds) cut the clip first. An odd count is padded with the last frame.
    ``total_pixels`` (off by default, like transformers' video processor): a pixel budget for the whole
    video, as in qwen_vl_utils; each frame is then limited to
    ``min(max_pixels, video_max_pixels(n, total_pixels=total_pixels, min_pixels=min_pixels))`` pixels,
    ``n`` being the number of frames after selection and padding to even (use :data:`VIDEO_TOTAL_PIXELS`
    for qwen_vl_utils' default). ``frame_size=(h, w)``: resize every frame to exactly that (multiples of
    ``patch_size * merge_size``) instead of :func:`smart_resize`. ``image_mean``/``image_std``: the
    normalisation (CLIP by default).
    ``budget``: what ``min_pixels``/``max_pixels`` bound: ``"frame"`` (the default; Qwen2.5-VL's video
    processor and qwen_vl_utils: each frame, :func:`qwen_lite.processing.smart_resize`) or ``"clip"``
    (Qwen3-VL's video processor: all frames together, :func:`clip_smart_resize`; not combinable with
    ``total_pixels``).
    ``second_per_grid_ts`` is a one-element list: temporal_patch_size / frame rate after selection.
    ``frame_indices``: the kept frames' positions in ``frames`` (before padding), from which Qwen3-VL's
    timestamps are computed (:func:`qwen_lite.timestamps.frame_group_times`).
    Errors (``ValueError``/``TypeError``) name the argument or the frame (``frames[3]``).
    """
    fps = _check_rate(fps, "fps")
    min_pixels, max_pixels = check_pixel_budget(min_pixels, max_pixels)
    if budget not in BUDGETS:
        raise ValueError(f"budget: expected one of {BUDGETS}, got {describe(budget)}")
    if total_pixels is not None:
        total_pixels = check_positive(total_pixels, "total_pixels")
        if budget == "clip":
            raise ValueError(
                "total_pixels, budget: total_pixels (qwen_vl_utils' per-frame rule) needs budget='frame'; with "
                "budget='clip' min_pixels/max_pixels already bound the whole clip"
            )
    patch_size, temporal_patch_size, merge_size = check_patch_sizes(
        patch_size, temporal_patch_size, merge_size
    )
    image_mean, image_std = check_mean_std(image_mean, image_std)
    frames = _frame_list(frames)
    indices, rate = select_frames(
        len(frames),
        fps,
        sample_fps=sample_fps,
        nframes=nframes,
        video_start=video_start,
        video_end=video_end,
        min_frames=min_frames,
        max_frames=max_frames,
        temporal_patch_size=temporal_patch_size,
    )
    images = [load_image(frames[i], f"frames[{i}]") for i in indices]
    check_same_size(images, [f"frames[{i}]" for i in indices])
    factor = patch_size * merge_size
    if frame_size is not None:
        height, width = _check_frame_size(frame_size, factor)
    else:
        if total_pixels is not None:
            # qwen_vl_utils caps the user's max_pixels by the budget computed with the default per-frame cap
            padded = math.ceil(len(images) / temporal_patch_size) * temporal_patch_size
            share = video_max_pixels(
                padded,
                total_pixels=total_pixels,
                min_pixels=min_pixels,
                temporal_patch_size=temporal_patch_size,
            )
            max_pixels = min(max_pixels, share)
        if budget == "clip":
            height, width = clip_smart_resize(
                len(images),
                images[0].height,
                images[0].width,
                factor,
                temporal_patch_size,
                min_pixels,
                max_pixels,
            )
        else:
            height, width = smart_resize(images[0].height, images[0].width, factor, min_pixels, max_pixels)
    clip = torch.stack(
        [resize_and_normalize(image, height, width, image_mean, image_std) for image in images]
    )
    rows, grid = patchify(clip, patch_size, temporal_patch_size, merge_size)
    return {
        "pixel_values_videos": rows,
        "video_grid_thw": torch.tensor([grid], dtype=torch.int64),
        "second_per_grid_ts": [temporal_patch_size / rate],
        "frame_indices": list(indices),
    }


def check_same_size(images: list, names: list[str]) -> None:
    """All loaded frames of one video have one size; else a ``ValueError`` naming the first odd frame."""
    first = images[0].size
    for image, name in zip(images, names):
        if image.size != first:
            raise ValueError(
                f"frames: all frames must have the same size; {names[0]} is {first[0]}x{first[1]} (w x h), "
                f"{name} is {image.size[0]}x{image.size[1]}"
            )


def _check_frame_size(frame_size, factor: int) -> tuple[int, int]:
    if not isinstance(frame_size, (tuple, list)) or len(frame_size) != 2:
        raise ValueError(f"frame_size: expected (height, width), got {describe(frame_size)}")
    for value, name in zip(frame_size, ("frame_size[0]", "frame_size[1]")):
        check_positive(value, name, integer=True)
        if value % factor:
            raise ValueError(f"{name}: must be a multiple of {factor}, got {value}")
    return int(frame_size[0]), int(frame_size[1])


def _frame_list(frames, name: str = "frames") -> list:
    """A video in any accepted form -> a non-empty list of frames (not yet loaded)."""
    if isinstance(frames, (np.ndarray, torch.Tensor)):
        if frames.ndim != 4:
            raise ValueError(
                f"{name}: a video array must have shape (frames, h, w, 3) (a tensor: (frames, 3, h, w)), "
                f"got shape {tuple(frames.shape)}"
            )
        frames = list(frames)
    if isinstance(frames, str):
        raise ValueError(
            f"{name}: {frames[:80]!r} is a video file; qwen_lite does not decode video files. "
            "Pass the frames: a list of images (or image paths) or an array (frames, h, w, 3)"
        )
    if not isinstance(frames, (list, tuple)):
        raise TypeError(
            f"{name}: expected a uint8 array (frames, h, w, 3) or a list of images, got {type(frames).__name__}"
        )
    if len(frames) == 0:
        raise ValueError(f"{name}: a video needs at least one frame, got none")
    return list(frames)


def _check_rate(value, name: str) -> float:
    """A frame rate: a positive finite number (not a bool) -> as a Python float; else a ``ValueError``."""
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) and math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name}: frame rate must be a positive number, got {value!r}")
    return float(value)
