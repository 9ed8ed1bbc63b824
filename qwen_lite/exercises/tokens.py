"""Checker for the tokens chapter's *write code* exercise: one ``<|image_pad|>`` per merged unit.

The reader writes ``expand_image_pads(ids, image_grid_thw)``: the template's token ids, each single
``<|image_pad|>`` (id 151655) repeated ``t·h·w / 4`` times for its own image (the k-th placeholder
takes row k of ``image_grid_thw``), every other id kept once. The expected ids are the
``input_ids`` that :class:`qwen_lite.processor.Qwen25VLProcessor` returns for the same prompt and
images (the expansion of transformers' ``processing_qwen2_5_vl.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch
from PIL import Image

from qwen_lite.exercises import Case, check_cases
from qwen_lite.processor import Qwen25VLProcessor
from qwen_lite.tokenizer import get_tokenizer

__all__ = ["check_expand_image_pads", "expand_image_pads_cases"]

_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"


def _case(label: str, prompt: str, sizes: list[tuple[int, int]]) -> Case:
    """``sizes``: (width, height) of each image, multiples of 28 inside the default budget."""
    processor = Qwen25VLProcessor(get_tokenizer())
    images = [Image.new("RGB", size, (40 * i, 90, 160)) for i, size in enumerate(sizes)]
    out = processor(text=prompt, images=images)
    ids = processor.tokenizer.encode(prompt)
    return Case(label, (ids, out["image_grid_thw"].clone()), out["input_ids"][0].tolist())


@lru_cache(maxsize=1)
def _cases() -> tuple[Case, ...]:
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    turn = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    return (
        _case(
            "one 112 × 56 px image in a chat turn",
            system + turn.format(_PLACEHOLDER + "What is it?"),
            [(112, 56)],
        ),
        _case(
            "two images of different sizes (56 × 56 and 168 × 112 px)",
            turn.format(f"Picture 1: {_PLACEHOLDER}Picture 2: {_PLACEHOLDER}Compare."),
            [(56, 56), (168, 112)],
        ),
        _case(
            "a 84 × 140 px image between two sentences", f"Look. {_PLACEHOLDER} Now describe it.", [(84, 140)]
        ),
    )


def expand_image_pads_cases() -> list[Case]:
    """Hidden cases: one image in a chat turn, two images of different sizes, an image inside text."""
    return list(_cases())


def check_expand_image_pads(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run ``fn(ids, image_grid_thw)`` on the hidden cases; ``True`` when every expansion is right.

    ``ids``: a list of ints, the tokenized template with one ``<|image_pad|>`` per image;
    ``image_grid_thw``: LongTensor (images, 3), one (t, h, w) row per image in patches. Expected: a list
    of ints (a 1-D tensor is accepted too). Raises ``TypeError`` when ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected the function you wrote (a callable), got {type(fn).__name__}")

    def as_list(ids, grid):
        got = fn(list(ids), grid.clone())
        return got.tolist() if isinstance(got, torch.Tensor) else got

    return check_cases(as_list, expand_image_pads_cases(), "expand_image_pads", report=report)
