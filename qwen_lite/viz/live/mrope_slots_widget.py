"""Chapter 17's live widget (``mrope_slots_widget.js``): chunked vs interleaved M-RoPE frequency slots.

The page computes which axis owns each slot with ``mrope_slots.js``, which CI checks against
:func:`qwen_lite.rope.slot_axes` (golden cases in :mod:`qwen_lite.viz.live.mrope_slots`).
"""

from __future__ import annotations

import traitlets

from .base import LiveWidget

MODES = ("chunked", "interleaved")
HEAD_DIMS = (8, 16, 32, 64, 80, 96, 128, 160, 192, 256)  # the page's head_dim choices


class MRopeSlotsWidget(LiveWidget):
    """``mrope_section`` (t, h, w slots, summing to ``head_dim``/2), ``mode`` ("chunked" or "interleaved"),
    the token's ``position`` ids (t, h, w), the selected ``slot`` and the rotary base ``theta``."""

    module = "mrope_slots_widget"
    mrope_section = traitlets.List(traitlets.Int(), default_value=[24, 20, 20]).tag(sync=True, live=True)
    head_dim = traitlets.Int(128).tag(sync=True, live=True)
    mode = traitlets.Unicode("interleaved").tag(sync=True, live=True)
    position = traitlets.List(traitlets.Int(), default_value=[2, 5, 7]).tag(sync=True, live=True)
    slot = traitlets.Int(0).tag(sync=True, live=True)
    theta = traitlets.Float(5_000_000.0).tag(sync=True, live=True)

    @traitlets.validate("mode")
    def _mode(self, proposal):
        if proposal["value"] not in MODES:
            raise traitlets.TraitError(
                f"mode: expected 'chunked' or 'interleaved', got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.validate("head_dim")
    def _head_dim(self, proposal):
        if proposal["value"] not in HEAD_DIMS:
            raise traitlets.TraitError(f"head_dim: expected one of {HEAD_DIMS}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("position")
    def _position(self, proposal):
        value = proposal["value"]
        if len(value) != 3 or any(v < 0 for v in value):
            raise traitlets.TraitError(f"position: expected three ids >= 0 (t, h, w), got {value!r}")
        return value


def mrope_slots_widget(mrope_section=(24, 20, 20), head_dim: int | None = None, mode: str = "interleaved",
                       position=(2, 5, 7), slot: int = 0, theta: float = 5_000_000.0) -> MRopeSlotsWidget:  # fmt: skip
    """The widget for ``mrope_section`` (default head_dim: twice its sum), showing ``mode`` first.

    Raises ``ValueError`` when the section is not three ints >= 0 summing to head_dim / 2, or the slot is
    outside ``0 .. head_dim/2 - 1``.
    """
    section = [int(s) for s in mrope_section]
    head_dim = 2 * sum(section) if head_dim is None else head_dim
    if len(section) != 3 or min(section) < 0 or 2 * sum(section) != head_dim:
        raise ValueError(f"mrope_section: expected three ints >= 0 summing to head_dim/2 = {head_dim // 2}, "
                         f"got {tuple(mrope_section)}")  # fmt: skip
    if not 0 <= slot < head_dim // 2:
        raise ValueError(f"slot: expected 0 <= slot < {head_dim // 2}, got {slot}")
    return MRopeSlotsWidget(mrope_section=section, head_dim=head_dim, mode=mode, position=list(position),
                            slot=slot, theta=float(theta))  # fmt: skip
