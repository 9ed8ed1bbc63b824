"""Checkers for the vision-tower chapter's *write code* exercises: RMSNorm and a block's size.

``rms_norm(x, weight, eps)``: the norm of every vision block (and of the merger), expected values
from :class:`qwen_lite.layers.RMSNorm` (``Qwen2RMSNorm``, which transformers' ``modeling_qwen2_5_vl.py``
imports from ``qwen2/modeling_qwen2.py``).
``block_parameters(hidden_size, intermediate_size)``: the parameter count of one vision block,
expected values counted on a :class:`qwen_lite.vision.VisionBlock` built on the ``meta`` device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.config import VisionConfig
from qwen_lite.exercises import Case, check_cases
from qwen_lite.layers import RMSNorm
from qwen_lite.vision import VisionBlock

__all__ = ["block_parameter_cases", "check_block_parameters", "check_rms_norm", "rms_norm_cases"]


def _norm_case(label: str, x: torch.Tensor, weight: torch.Tensor, eps: float) -> Case:
    norm = RMSNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(weight)
        expected = norm(x)
    return Case(label, (x.clone(), weight.clone()), expected, {"eps": eps})


def rms_norm_cases() -> list[Case]:
    """Hidden cases: rows with a non-zero mean, a zero row, tiny values where ``eps`` matters, 3-D input."""
    g = torch.Generator().manual_seed(0)
    shifted = torch.randn(4, 16, generator=g) + 2.0  # LayerNorm would subtract this mean
    zero_row = torch.cat([torch.randn(2, 8, generator=g), torch.zeros(1, 8)])
    tiny = torch.randn(3, 8, generator=g) * 0.01  # mean square ~1e-4: eps = 1e-2 dominates it
    batched = torch.randn(2, 5, 12, generator=g)  # (batch, rows, features): the last axis is normalised
    return [
        _norm_case("4 rows of 16 with mean near 2", shifted, torch.rand(16, generator=g) + 0.5, 1e-6),
        _norm_case("3 rows of 8, the last all zeros", zero_row, torch.rand(8, generator=g) + 0.5, 1e-6),
        _norm_case("3 rows of tiny values with eps = 1e-2", tiny, torch.ones(8), 1e-2),
        _norm_case("a (2, 5, 12) batch", batched, torch.rand(12, generator=g) + 0.5, 1e-6),
    ]


def check_rms_norm(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(x, weight, eps=...)`` on the hidden cases; ``True`` when every output is right.

    ``x``: float tensor (..., d); ``weight``: float tensor (d,); ``eps``: float. Expected: a float
    tensor shaped like ``x``, ``x / sqrt(mean(x**2 over the last axis) + eps) * weight``, within
    ``1e-5``. Raises ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, rms_norm_cases(), "rms_norm", atol=1e-5, report=report)


def _count_case(label: str, hidden_size: int, intermediate_size: int) -> Case:
    config = VisionConfig(hidden_size=hidden_size, intermediate_size=intermediate_size, num_heads=1)
    with torch.device("meta"):
        block = VisionBlock(config)
    expected = sum(p.numel() for p in block.parameters())
    return Case(label, (hidden_size, intermediate_size), expected)


def block_parameter_cases() -> list[Case]:
    """Hidden cases: the released block, the book's ``small()`` block, and an odd-sized one."""
    real = VisionConfig()
    return [
        _count_case("the released block", real.hidden_size, real.intermediate_size),
        _count_case("the book's small() block (160, 256)", 160, 256),
        _count_case("a block of width 12 with MLP width 20", 12, 20),
    ]


def check_block_parameters(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(hidden_size, intermediate_size)`` on the hidden cases; ``True`` when every count is right.

    Expected: an int, the parameters of one vision block: two RMSNorm weights, ``qkv`` and ``proj``
    with biases, and the SwiGLU MLP (``gate_proj``, ``up_proj``, ``down_proj``) with biases. Raises
    ``TypeError`` when ``fn`` is not callable.
    """
    return check_cases(fn, block_parameter_cases(), "block_parameters", report=report)
