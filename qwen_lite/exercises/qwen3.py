"""Checker for the Qwen3-VL chapter's *write code* exercise: interleaved M-RoPE slot axes.

The reader writes ``interleaved_slot_axes(mrope_section)``: for ``mrope_section = (s_t, s_h, s_w)`` return a
LongTensor ``(s_t + s_h + s_w,)`` (one entry per frequency slot, i.e. head_dim/2) with the axis each slot
reads, 0 temporal, 1 height, 2 width, in Qwen3-VL's interleaved layout: slot ``i`` reads h when
``i % 3 == 1`` and ``i < 3 * s_h``, w when ``i % 3 == 2`` and ``i < 3 * s_w``, and t otherwise. The expected
values come from :func:`qwen_lite.rope.slot_axes` with ``interleaved=True`` (transformers'
``apply_interleaved_mrope`` in ``models/qwen3_vl/modeling_qwen3_vl.py``, 4.57.6). The cases include the
released section, the tiny test model's, one where h and w own fewer slots than t, one with zeros, and
Qwen2.5-VL's section (16, 24, 24) read the Qwen3-VL way, where the counts of the section are *not* what each
axis ends up with (a reader who deals out exactly s_h slots to h fails it).
"""

from __future__ import annotations

from collections.abc import Callable

from qwen_lite.exercises import Case, check_cases
from qwen_lite.rope import slot_axes

__all__ = ["check_interleaved_slot_axes", "interleaved_slot_axes_cases"]

SECTIONS = {
    "the released section (24, 20, 20)": (24, 20, 20),
    "the tiny test model's (6, 5, 5)": (6, 5, 5),
    "a section where t owns most slots (10, 2, 4)": (10, 2, 4),
    "a section with no h slots (3, 0, 3)": (3, 0, 3),
    "Qwen2.5-VL's section (16, 24, 24), interleaved": (16, 24, 24),
}


def interleaved_slot_axes_cases() -> list[Case]:
    """Hidden cases: one section each, expected axes from :func:`qwen_lite.rope.slot_axes` (interleaved)."""
    return [
        Case(label, (section,), slot_axes(section, interleaved=True)) for label, section in SECTIONS.items()
    ]


def check_interleaved_slot_axes(fn: Callable, report: Callable[[str], None] = print) -> bool:
    """Run the reader's ``interleaved_slot_axes`` on the hidden cases; True when every case passes."""
    return check_cases(fn, interleaved_slot_axes_cases(), "interleaved_slot_axes", report=report)
