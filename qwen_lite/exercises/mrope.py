"""Checker for the M-RoPE chapter's *write code* exercise: the 3-D position ids of one prompt.

The reader writes ``rope_index(input_ids, image_grid_thw, spatial_merge_size=2)`` for ONE unpadded
prompt with images (no video): ``input_ids`` (l,) token ids, ``image_grid_thw`` (images, 3) rows
(t, h, w) in patches. It returns ``(position_ids, rope_delta)``: a LongTensor ``(3, l)`` of temporal,
height and width ids, and the int ``largest id + 1 - l``. Text counts on all three axes; an image
block (the ``<|image_pad|>`` run after ``<|vision_start|>``) gets (start, start + row, start + column)
in merged tokens; text after it resumes at the block's largest id + 1. The expected values come from
:func:`qwen_lite.rope.get_rope_index` (transformers' ``Qwen2_5_VLModel.get_rope_index`` in
``modeling_qwen2_5_vl.py``). The cases include an image at the start, a wide and a tall image (a
transposed answer shows), two images and a text-only prompt.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from qwen_lite.exercises import Case, check_cases
from qwen_lite.rope import get_rope_index

__all__ = ["check_rope_index", "rope_index_cases", "IMAGE_PAD", "VISION_START", "VISION_END"]

IMAGE_PAD, VISION_START, VISION_END = (
    151655,
    151652,
    151653,
)  # <|image_pad|>, <|vision_start|>, <|vision_end|>
_TEXT = 9707  # an ordinary text token ("Hello")


def _prompt(parts: list) -> tuple[torch.Tensor, torch.Tensor | None]:
    """parts: an int (that many text tokens) or a (t, h, w) grid (one image block with its markers)."""
    ids, grids = [], []
    for part in parts:
        if isinstance(part, int):
            ids += [_TEXT + i for i in range(part)]
        else:
            t, h, w = part
            ids += [VISION_START] + [IMAGE_PAD] * (t * h * w // 4) + [VISION_END]
            grids.append(list(part))
    return torch.tensor(ids), (torch.tensor(grids) if grids else None)


def _case(label: str, parts: list) -> Case:
    input_ids, grids = _prompt(parts)
    position_ids, deltas = get_rope_index(input_ids[None], image_grid_thw=grids)
    expected = (position_ids[:, 0], int(deltas[0, 0]))
    return Case(label, (input_ids, grids), expected)


def rope_index_cases() -> list[Case]:
    """Hidden cases: prompts of text runs and images, grids (t, h, w) in patches."""
    return [
        _case("text, a 2 × 3-token image (grid [1, 4, 6]), text", [3, (1, 4, 6), 2]),
        _case("an image first (grid [1, 2, 2]), then text", [(1, 2, 2), 4]),
        _case("a tall image (grid [1, 8, 4]: 2 tokens wide, 4 high)", [2, (1, 8, 4), 3]),
        _case("two images (grids [1, 4, 4] and [1, 2, 6]) between text", [1, (1, 4, 4), 2, (1, 2, 6), 1]),
        _case("text only (image_grid_thw is None)", [5]),
    ]


def check_rope_index(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(input_ids, image_grid_thw)`` on the hidden cases; ``True`` when ids and delta are right.

    Expected: ``(position_ids, rope_delta)``, an integer tensor (3, l) and an int. Raises ``TypeError``
    when ``fn`` is not callable.
    """
    return check_cases(fn, rope_index_cases(), "rope_index", report=report)
