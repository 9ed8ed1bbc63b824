"""Video time as text (Qwen3-VL): a ``<t seconds>`` label before each temporal patch of a video.

Qwen2.5-VL puts time into the temporal position ids (``second_per_grid_ts``, absolute time in M-RoPE);
Qwen3-VL's temporal ids no longer carry seconds. Instead its processor writes the time of each group of
``temporal_patch_size`` frames into the prompt, in front of that group's tokens::

    <|vision_start|><|video_pad|><|vision_end|>          (one placeholder per video, as the template writes it)
      -> <0.2 seconds><|vision_start|>pad * n<|vision_end|><1.2 seconds><|vision_start|>pad * n<|vision_end|>...

with ``n = h * w / merge_size**2`` pads per group (transformers 4.57.6 ``Qwen3VLProcessor.__call__`` and
``_calculate_timestamps``). The label is plain text: its digits are ordinary BPE tokens.
"""

from __future__ import annotations

import math
import numbers

from qwen_lite.processing import check_positive, describe


def frame_group_times(indices, fps: float, temporal_patch_size: int = 2) -> list[float]:
    """Seconds of each temporal patch: the mean time of its first and last frame.

    ``indices``: the frame numbers the kept frames had in the original clip (ints >= 0, e.g. ``[0, 15, 30,
    45]`` for 2 of 30 fps); ``fps``: the clip's frame rate. The list is padded to a multiple of
    ``temporal_patch_size`` by repeating its last index (as the pixels are padded by repeating the last
    frame), each index becomes ``index / fps`` seconds, and each group of ``temporal_patch_size`` gives
    ``(first + last) / 2``. Example: indices 0..5 at 2 fps -> [0.25, 1.25, 2.25].

    Source: transformers ``Qwen3VLProcessor._calculate_timestamps``. 4.57.6 groups by the video processor's
    ``merge_size``, 5.24.0 by its ``temporal_patch_size``; they agree on every released config (both 2).
    qwen_lite groups by ``temporal_patch_size`` (5.x), the number of frames one temporal patch really holds.
    Errors: ``ValueError``/``TypeError`` naming ``indices``, ``fps`` or ``temporal_patch_size``.
    """
    group = check_positive(temporal_patch_size, "temporal_patch_size", integer=True)
    if isinstance(fps, bool) or not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: frame rate must be a positive number, got {describe(fps)}")
    if hasattr(indices, "tolist"):
        indices = indices.tolist()
    if not isinstance(indices, (list, tuple, range)) or not indices:
        raise ValueError(f"indices: expected a non-empty list of frame numbers, got {describe(indices)}")
    for k, index in enumerate(indices):
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
            raise ValueError(f"indices[{k}]: expected a frame number (an int >= 0), got {describe(index)}")
    padded = list(indices) + [indices[-1]] * (-len(indices) % group)
    seconds = [index / fps for index in padded]
    return [(seconds[i] + seconds[i + group - 1]) / 2 for i in range(0, len(seconds), group)]


def timestamp_text(seconds: float) -> str:
    """The label of one temporal patch: ``<{seconds:.1f} seconds>``, e.g. ``<0.2 seconds>`` for 0.25 s.

    ``:.1f`` rounds the float's exact binary value half to even, so 0.25 -> ``0.2`` and 1.25 -> ``1.2``
    but 0.35 (stored as 0.34999...) -> ``0.3``: the same string transformers' f-string writes.
    """
    if isinstance(seconds, bool) or not (isinstance(seconds, numbers.Real) and math.isfinite(seconds)):
        raise ValueError(f"seconds: expected a finite number, got {describe(seconds)}")
    return f"<{float(seconds):.1f} seconds>"


def timed_video_text(
    times: list[float], tokens_per_group: int, *, vision_start: str, video_token: str, vision_end: str
) -> str:
    """The text that replaces one video's ``<|vision_start|><|video_pad|><|vision_end|>``.

    One ``timestamp_text(t) + vision_start + video_token * tokens_per_group + vision_end`` per entry of
    ``times`` (one per temporal patch, :func:`frame_group_times`). ``tokens_per_group``: ``h * w /
    merge_size**2`` of the video's grid.
    """
    tokens_per_group = check_positive(tokens_per_group, "tokens_per_group", integer=True)
    group = video_token * tokens_per_group
    return "".join(f"{timestamp_text(t)}{vision_start}{group}{vision_end}" for t in times)
