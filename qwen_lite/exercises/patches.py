"""Checker for the patch-embedding chapter's *write code* exercise: the Conv3d as a matrix product.

The reader writes ``patch_embed(pixel_values, weight)``: the embedding of every row of
``pixel_values`` (n, 3·2·14·14) by the checkpoint's ``visual.patch_embed.proj.weight``
(hidden, 3, 2, 14, 14), without calling a convolution. The expected values come from
:class:`qwen_lite.vision.PatchEmbed` (the ``Conv3d`` of ``Qwen2_5_VisionPatchEmbed`` in transformers'
``modeling_qwen2_5_vl.py``) loaded with the same weight. A matrix product sums in another order than
the convolution, so values are compared to ``1e-3`` (they are of order 10; a wrong flattening order
is off by order 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.config import VisionConfig
from qwen_lite.exercises import Case, check_cases
from qwen_lite.processing import patchify
from qwen_lite.vision import PatchEmbed

__all__ = ["check_patch_embed", "patch_embed_cases"]

ATOL = 1e-3


def _case(label: str, frames: torch.Tensor, hidden: int, generator: torch.Generator) -> Case:
    rows, _ = patchify(frames)
    weight = torch.randn(hidden, 3, 2, 14, 14, generator=generator) / 20
    embed = PatchEmbed(VisionConfig(hidden_size=hidden, num_heads=1))
    with torch.no_grad():
        embed.proj.weight.copy_(weight)
        expected = embed(rows)
    return Case(label, (rows.clone(), weight.clone()), expected)


def patch_embed_cases() -> list[Case]:
    """Hidden cases: a still image, a 2-frame video whose frames differ, a 4-frame video."""
    g = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, 56, 84, generator=g)
    moving = torch.randn(2, 3, 28, 56, generator=g)
    longer = torch.randn(4, 3, 56, 28, generator=g)
    return [
        _case("a still image of 84 × 56 px (two identical frames), width 8", image, 8, g),
        _case("a 2-frame video of 56 × 28 px whose frames differ, width 12", moving, 12, g),
        _case("a 4-frame video of 28 × 56 px (two temporal slices), width 4", longer, 4, g),
    ]


def check_patch_embed(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(pixel_values, weight)`` on the hidden cases; ``True`` when every embedding is right.

    ``pixel_values``: float tensor (n, 1176), columns in (channel, frame, y, x) order as the processor
    writes them; ``weight``: float tensor (hidden, 3, 2, 14, 14), the Conv3d kernel. Expected: a float
    tensor (n, hidden), equal to the convolution's output within ``1e-3``. Raises ``TypeError`` when
    ``fn`` is not callable.
    """
    return check_cases(fn, patch_embed_cases(), "patch_embed", atol=ATOL, report=report)
