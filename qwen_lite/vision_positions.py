"""Qwen3-VL's learned absolute positions: one square table, resampled to every image's grid.

Qwen2.5-VL's tower knows where a patch is only through the 2-D rotary inside attention. Qwen3-VL keeps
that rotary and *adds* a learned position vector to every patch embedding, before the first block (as
the original ViT and SigLIP do). The table has ``num_position_embeddings`` rows (2304 = a 48 x 48
grid, the resolution it was trained at); an image of ``h x w`` patches gets the table bilinearly
resampled to ``h x w`` (corners aligned: the table's corners land on the image's corner patches),
then written in the processor's row order (merge blocks of 2 x 2 patches, :mod:`qwen_lite.vision`),
repeated for every temporal slice of a video::

    table (side*side, hidden) --bilinear, align corners--> (h, w, hidden)
        --merge-block order--> (h*w, hidden) --repeat t times--> (t*h*w, hidden)

Source: transformers 4.57.6 ``Qwen3VLVisionModel.fast_pos_embed_interpolate``, followed to the bit:
the sample points are ``torch.linspace(0, side - 1, h)`` in float32, and the four corner vectors are
weighted and summed in its order. transformers 5.24.0 computes the same points in closed form
(``i * (side - 1) / (h - 1)``, ``transformers.vision_utils``) and sums the four terms with ``.sum``, which can
round differently in the last bit (``tests/test_qwen3_vl.py`` measures it).
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import nn

from qwen_lite.shapes import check_shape


def bilinear_taps(size: int, side: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where ``size`` evenly spaced points fall on a table axis of ``side`` entries (corners aligned).

    Returns ``(low, high, frac)``, each ``(size,)``: the table rows below and above each point (``high``
    clipped to the last row) and the point's distance past ``low``, in [0, 1), float32. A point ``p``
    reads ``(1 - frac) * table[low] + frac * table[high]``.
    """
    points = torch.linspace(0, side - 1, size)
    low = points.int()
    high = (low + 1).clip(max=side - 1)
    return low.long(), high.long(), points - low


def position_weights(h: int, w: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The four table rows and weights of every patch of an ``h x w`` grid, in raster order.

    Returns ``index`` (4 h*w) int64 into the flattened ``side x side`` table and ``weight`` (4 h*w)
    float32, corners in the order (top-left, top-right, bottom-left, bottom-right); the weights of a patch
    sum to 1 (up to rounding).
    """
    top, bottom, dh = bilinear_taps(h, side)
    left, right, dw = bilinear_taps(w, side)
    index = torch.stack([(r[:, None] * side + c[None, :]).flatten()
                         for r in (top, bottom) for c in (left, right)])  # fmt: skip
    weight = torch.stack([(a[:, None] * b[None, :]).flatten()
                          for a in (1 - dh, dh) for b in (1 - dw, dw)])  # fmt: skip
    return index, weight


class LearnedPositions(nn.Module):
    """The learned position table (checkpoint key ``visual.pos_embed.weight``, shape (side*side, hidden)).

    ``forward(grid_thw (items 3)) -> (patches hidden)``: one vector per patch, in the processor's row
    order, item after item, to be added to the patch embeddings. ``grid_thw`` in patches; ``h`` and
    ``w`` multiples of ``merge_size``.
    """

    def __init__(self, num_positions: int, hidden_size: int, merge_size: int):
        super().__init__()
        self.side = math.isqrt(num_positions)
        if self.side**2 != num_positions:
            raise ValueError(f"num_positions: expected a square number (a square table), got {num_positions}")
        self.merge_size = merge_size
        self.weight = nn.Parameter(torch.empty(num_positions, hidden_size))
        nn.init.normal_(self.weight)  # as nn.Embedding; a loaded checkpoint replaces it

    def forward(self, grid_thw: torch.Tensor) -> torch.Tensor:
        check_shape(grid_thw, "items three", "grid_thw", three=3)
        pieces = []
        for t, h, w in grid_thw.tolist():
            index, weight = position_weights(h, w, self.side)
            # transformers goes through Python floats and back to the table's dtype (bf16 rounds the weights).
            weight = weight.to(self.weight.dtype).to(self.weight.device)
            terms = self.weight[index.to(self.weight.device)] * weight[:, :, None]  # (4 h*w hidden)
            vectors = terms[0] + terms[1] + terms[2] + terms[3]  # summed in this order, as the reference
            blocks = rearrange(
                vectors, "(bh mh bw mw) d -> (bh bw mh mw) d", mh=self.merge_size, mw=self.merge_size,
                bh=h // self.merge_size,
            )  # fmt: skip
            pieces.append(blocks.repeat(t, 1))
        return torch.cat(pieces)

    def extra_repr(self) -> str:
        return f"{self.side}x{self.side} table of {self.weight.shape[1]}, merge {self.merge_size}"
