"""Checker for the 2-D rotary chapter's *write code* exercise: the cos and sin of a patch grid.

The reader writes ``vision_rotary(grid_thw, head_dim=80, theta=10000.0)``: for every patch row of
``pixel_values`` (processor order: a raster of 2×2 blocks, each block's patches row by row; every
temporal slice of a video repeats the ids of the first), the angles
``[row * inv_freq, col * inv_freq]`` written twice, with ``inv_freq = 1 / theta^(2i / (head_dim/2))``,
and returns their ``(cos, sin)``, each ``(patches, head_dim)`` float32. The expected values come from
:class:`qwen_lite.vision.VisionRotaryEmbedding` applied to :func:`qwen_lite.vision.vision_position_ids`
(transformers' ``VisionRotaryEmbedding`` and ``rot_pos_emb`` in ``modeling_qwen2_5_vl.py``). The cases
include a grid taller than wide (a transposed row/column shows), two images, a two-slice video and
another head width.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.vision import VisionRotaryEmbedding, vision_position_ids

__all__ = ["check_vision_rotary", "vision_rotary_cases"]


def _case(label: str, grid_thw: list[list[int]], head_dim: int = 80) -> Case:
    expected = VisionRotaryEmbedding(head_dim)(vision_position_ids(grid_thw))
    return Case(label, (torch.tensor(grid_thw),), tuple(expected), {"head_dim": head_dim})


def vision_rotary_cases() -> list[Case]:
    """Hidden cases; ``grid_thw`` rows are (t, h, w) in patches."""
    return [
        _case("a 4 × 6 patch grid (grid [1, 4, 6], w × h = 6 × 4)", [[1, 4, 6]]),
        _case("a grid taller than wide (grid [1, 8, 4])", [[1, 8, 4]]),
        _case("two images (grids [1, 2, 2] and [1, 4, 6]): ids restart per image", [[1, 2, 2], [1, 4, 6]]),
        _case("a 2-slice video (grid [2, 4, 4]): both slices get the same ids", [[2, 4, 4]]),
        _case("a head of 16 numbers (head_dim=16) on grid [1, 6, 4]", [[1, 6, 4]], head_dim=16),
    ]


def check_vision_rotary(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(grid_thw, head_dim=...)`` on the hidden cases; ``True`` when every ``(cos, sin)`` is right.

    ``grid_thw``: int64 tensor (items, 3) of (t, h, w) patch counts. Expected: a pair of float tensors
    ``(patches, head_dim)``, compared with an absolute tolerance of 1e-5. Raises ``TypeError`` when
    ``fn`` is not callable.
    """
    return check_cases(fn, vision_rotary_cases(), "vision_rotary", atol=1e-5, report=report)
