"""Small building blocks shared by the vision tower and the text decoder.

Both halves of Qwen2.5-VL use the same three pieces: an RMSNorm computed in float32, rotary position
embeddings applied "rotate-half" style (the two halves of a head, not interleaved pairs), and a
SwiGLU MLP. Keeping them here means the two towers cannot drift apart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm: ``x / sqrt(mean(x^2) + eps) * weight``, no mean subtraction, no bias.

    The statistics are computed in float32 even for bf16 inputs (as in the reference): a sum of
    1280 squares in bf16 loses most of its digits. The normalised value is cast back to the input
    dtype *before* the weight multiplies it, which is what the released model does.
    Shapes: ``(... dim) -> (... dim)``.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last dimension, split into two halves. ``(... d) -> (... d)``.

    Multiplying by ``sin`` and adding ``x * cos`` rotates each pair ``(x[i], x[i + d/2])`` by its angle.
    """
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _broadcast_shape(a: torch.Size, b: torch.Size) -> tuple[int, ...]:
    """``torch.broadcast_shapes(a, b)`` without its first call's import of sympy (torch 2.13: ~0.4 s),
    which had put that cost into the first forward of every process."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    if any(i != j and 1 not in (i, j) for i, j in zip(a, b, strict=True)):
        raise ValueError(f"apply_rotary: x {a} and cos/sin {b} do not broadcast")
    return tuple(j if i == 1 else i for i, j in zip(a, b, strict=True))


def apply_rotary(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, *, upcast: bool = True
) -> torch.Tensor:
    """Rotate ``x`` by the angles whose cosines and sines are given: ``x * cos + rotate_half(x) * sin``.

    ``x``: ``(... d)``; ``cos``, ``sin``: broadcastable to ``x`` (the caller inserts the head axis),
    last dimension ``d``. Returns a tensor of ``x``'s shape and dtype.

    ``upcast``: compute in float32 and cast the result back (the vision tower, as transformers'
    ``apply_rotary_pos_emb_vision``), or compute in ``x``'s own dtype with ``cos``/``sin`` cast to it
    (the text decoder, as transformers' ``apply_multimodal_rotary_pos_emb``). The two are identical in
    float32; in bfloat16 they round differently, so each tower follows its reference to keep bf16
    parity (see ``tests/test_bf16.py``).
    """
    if cos.shape[-1] != x.shape[-1] or sin.shape != cos.shape:
        raise ValueError(
            f"apply_rotary: cos/sin must end in x's last dimension {x.shape[-1]}, "
            f"got cos {tuple(cos.shape)}, sin {tuple(sin.shape)}"
        )
    if x.shape[-1] % 2:
        raise ValueError(
            f"apply_rotary: the last dimension of x must be even (two halves), got {x.shape[-1]}"
        )
    dtype = x.dtype
    if upcast:
        # Convert once: mixed-dtype products would each convert their bf16 operand on the CPU anyway.
        x = x.float()
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    # x * cos + rotate_half(x) * sin, one half at a time: the first half is x1*c1 + (-x2)*s1, which is
    # x1*c1 - x2*s1 bit for bit (negation is exact), so no negated copy is made. Each product and each
    # sum rounds once, as in the formula.
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c1, c2, s1, s2 = cos[..., :half], cos[..., half:], sin[..., :half], sin[..., half:]
    if torch.is_grad_enabled() and (x.requires_grad or cos.requires_grad or sin.requires_grad):
        out = torch.cat([x1 * c1 - x2 * s1, x2 * c2 + x1 * s2], dim=-1)  # differentiable
    else:  # the same arithmetic written into one buffer: no concatenation pass (out= has no autograd)
        out = torch.empty(_broadcast_shape(x.shape, cos.shape), dtype=x.dtype, device=x.device)
        torch.mul(x1, c1, out=out[..., :half]).sub_(x2 * s1)
        torch.mul(x2, c2, out=out[..., half:]).add_(x1 * s2)
    return out.to(dtype)


def norm_layer(kind: str, dim: int, eps: float) -> nn.Module:
    """The norm a config's switch names: ``"rms"`` -> :class:`RMSNorm` (Qwen2.5-VL's tower and both decoders),
    ``"layer"`` -> ``nn.LayerNorm`` with bias (Qwen3-VL's tower). Shapes ``(... dim) -> (... dim)``."""
    if kind == "rms":
        return RMSNorm(dim, eps=eps)
    if kind == "layer":
        return nn.LayerNorm(dim, eps=eps)
    raise ValueError(f"norm kind: expected 'rms' or 'layer', got {kind!r}")


class GeluMLP(nn.Module):
    """Two-layer feed-forward: ``linear_fc2(gelu_tanh(linear_fc1(x)))``, with biases. ``(... dim) -> (... dim)``.

    Qwen3-VL's vision blocks (``hidden_act: gelu_pytorch_tanh``, the tanh approximation of GELU) instead of
    SwiGLU's three matrices. Source: transformers ``Qwen3VLVisionMLP``.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.linear_fc1 = nn.Linear(dim, hidden, bias=True)
        self.linear_fc2 = nn.Linear(hidden, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_fc2(F.gelu(self.linear_fc1(x), approximate="tanh"))


class MLP(nn.Module):
    """SwiGLU feed-forward: ``down(silu(gate(x)) * up(x))``. Shapes: ``(... dim) -> (... dim)``.

    The vision tower's MLP has biases, the text decoder's does not (``bias``).
    """

    def __init__(self, dim: int, hidden: int, bias: bool):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=bias)
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
