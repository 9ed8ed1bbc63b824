"""Checker for the patch-merger chapter's *write code* exercise: the merger's forward pass.

The reader writes ``patch_merger(x, weights, eps)``: the tower's output ``x`` (n, hidden), one row per
patch in the 2×2-block order, joined into n/4 tokens for the language model, with the merger's
checkpoint tensors ``weights`` (keys ``ln_q.weight``, ``mlp.0.weight``, ``mlp.0.bias``,
``mlp.2.weight``, ``mlp.2.bias``, as under ``visual.merger.`` in the released files): RMSNorm of each
patch, the four consecutive rows of a unit concatenated, Linear, exact (erf) GELU, Linear. The
expected values come from :class:`qwen_lite.vision.PatchMerger` (transformers'
``Qwen2_5_VLPatchMerger``) loaded with the same tensors; float32, compared to ``1e-5``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.config import VisionConfig
from qwen_lite.exercises import Case, check_cases
from qwen_lite.vision import PatchMerger

__all__ = ["ATOL", "check_patch_merger", "patch_merger_cases"]

ATOL = 1e-5


def _case(label: str, patches: int, hidden: int, out: int, generator: torch.Generator) -> Case:
    config = VisionConfig(hidden_size=hidden, num_heads=1, out_hidden_size=out)
    merger = PatchMerger(config)
    weights = {
        name: torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5
        for name, p in merger.state_dict().items()
    }
    weights["ln_q.weight"] = torch.rand(hidden, generator=generator) + 0.5
    merger.load_state_dict(weights)
    # rows with a non-zero mean and different scales, so a norm over the wrong axis shows
    x = (
        torch.randn(patches, hidden, generator=generator) * torch.rand(patches, 1, generator=generator) * 4
        + 0.5
    )
    with torch.no_grad():
        expected = merger(x)
    return Case(label, (x.clone(), {k: v.clone() for k, v in weights.items()}), expected)


def patch_merger_cases() -> list[Case]:
    """Hidden cases: a few units at small widths (expected from ``PatchMerger``)."""
    g = torch.Generator().manual_seed(0)
    return [
        _case("one unit (4 patches), width 8 -> 6", 4, 8, 6, g),
        _case("12 units, width 16 -> 24", 48, 16, 24, g),
        _case("77 units (a 308 × 196 px image), width 12 -> 10", 308, 12, 10, g),
    ]


def check_patch_merger(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(x, weights, eps=1e-6)`` on the hidden cases; ``True`` when every output is right.

    ``x``: float32 (n, hidden), n a multiple of 4; ``weights``: dict of float32 tensors as described in
    the module docstring. Expected: float32 (n/4, out), within ``1e-5`` of ``PatchMerger``. Raises
    ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, patch_merger_cases(), "patch_merger", atol=ATOL, report=report)
