"""Golden cases for ``frames.js`` (frame sampling by fps, seconds per grid, temporal ids), from the package.

Expected values come from :func:`qwen_lite.video.select_frames` (which calls ``smart_nframes`` and
``sample_frame_indices``), the processor's ``second_per_grid_ts`` rule (temporal_patch_size / rate, as
:func:`qwen_lite.video.preprocess_video` returns it) and :func:`qwen_lite.rope.get_rope_index` run on a
prompt holding that video.
"""

from __future__ import annotations

import random

import torch

from ...processing import TEMPORAL_PATCH_SIZE
from ...rope import get_rope_index
from ...video import select_frames
from .rope_index import prompt_inputs

VIDEO_FPS = [8, 24, 25, 29.97, 30, 60, 12.5]


def frame_plan(total_frames: int, video_fps: float, fps: float) -> dict:
    """``framePlan``'s fields computed by the package for a clip of ``total_frames`` at ``video_fps``."""
    indices, rate = select_frames(total_frames, video_fps, sample_fps=fps)
    second_per_grid = TEMPORAL_PATCH_SIZE / rate
    grid_t = len(indices) // TEMPORAL_PATCH_SIZE
    inputs = prompt_inputs([{"kind": "video", "t": grid_t, "w": 1, "h": 1, "fps": rate}])
    position_ids, _ = get_rope_index(
        inputs["input_ids"], video_grid_thw=inputs["video_grid_thw"], second_per_grid_ts=[second_per_grid]
    )
    return {
        "nframes": len(indices),
        "indices": indices,
        "rate": rate,
        "secondPerGrid": second_per_grid,
        "gridT": grid_t,
        "temporalIds": (
            position_ids[0, 0, 1:-1] - 1
        ).tolist(),  # the block starts at 1, after <|vision_start|>
        "times": [i / video_fps for i in indices],
    }


EDGES = [
    (48, 8, 2.0),  # the chapter's clip at the default rate
    (48, 8, 0.5),  # 3 frames asked, the minimum of 4 wins
    (48, 8, 8.0),  # every frame
    (48, 8, 100.0),  # more than the clip has: all 48
    (5, 30, 2.0),  # a 5-frame clip: 4 frames
    (4, 24, 0.1),
    (301, 29.97, 3.3),
    (399, 60, 7.0),
]


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """``framePlan`` on the edge cases and ``n`` random clips (4-399 frames, common recording rates)."""
    clips = list(EDGES)
    for _ in range(n):
        fps = rng.choice([0.5, 1, 2, 3, 4, 8]) if rng.random() < 0.5 else round(rng.uniform(0.1, 12), 3)
        clips.append((rng.randint(4, 399), rng.choice(VIDEO_FPS), fps))
    cases = []
    for total, video_fps, fps in clips:
        cases.append(
            {
                "label": f"{total} frames at {video_fps} fps sampled at {fps}",
                "fn": "framePlan",
                "args": [total, video_fps, fps],
                "expected": frame_plan(total, video_fps, fps),
                "atol": 1e-9,
            }
        )
    # the float32 linspace on its own, with ties (odd spans) and the vectorised lengths (>= 32 frames)
    for total, count in [
        (48, 3),
        (46, 3),
        (48, 23),
        (54, 51),
        (48, 7),
        (101, 34),
        (300, 20),
        (399, 398),
        (10, 10),
        (12, 5),
    ]:
        cases.append(
            {
                "label": f"sample_frame_indices({total}, {count})",
                "fn": "sampleFrameIndices",
                "args": [total, count],
                "expected": torch.linspace(0, total - 1, count).round().long().tolist(),
            }
        )
    return cases
