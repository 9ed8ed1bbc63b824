"""Chapter 3's live widget (``rotary2d.js``): the 2-D rotary score over (Δrow, Δcol) for a band of frequencies.

The page computes the scores with ``rotary.js``, which CI checks against the package's rotation
(:class:`qwen_lite.vision.VisionRotaryEmbedding` and :func:`qwen_lite.layers.apply_rotary`, golden cases in
:mod:`qwen_lite.viz.live.rotary`). The score is defined there: a unit content vector on the band's pairs,
rotated to a query position and to a key position (Δrow, Δcol) away, dotted.
"""

from __future__ import annotations

import traitlets

from .base import LiveWidget


class Rotary2DWidget(LiveWidget):
    """Band ``lo``..``hi`` (frequency indices, 0 fastest), ``axes`` ("both", "row", "column"), map ``radius``
    (8, 16 or 32 patches) and the selected offset ``d_row``, ``d_col``; ``head_dim``/``theta`` of the tower."""

    module = "rotary2d"
    lo = traitlets.Int(0).tag(sync=True, live=True)
    hi = traitlets.Int(19).tag(sync=True, live=True)
    axes = traitlets.Unicode("both").tag(sync=True, live=True)
    radius = traitlets.Int(16).tag(sync=True, live=True)
    d_row = traitlets.Int(0).tag(sync=True, live=True)
    d_col = traitlets.Int(3).tag(sync=True, live=True)
    head_dim = traitlets.Int(80).tag(sync=True, live=True)
    theta = traitlets.Float(10000.0).tag(sync=True, live=True)

    @traitlets.validate("axes")
    def _axes(self, proposal):
        if proposal["value"] not in ("both", "row", "column"):
            raise traitlets.TraitError(f"axes: expected 'both', 'row' or 'column', got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("radius")
    def _radius(self, proposal):
        if proposal["value"] not in (8, 16, 32):
            raise traitlets.TraitError(f"radius: expected 8, 16 or 32 patches, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("head_dim")
    def _head_dim(self, proposal):
        if proposal["value"] < 4 or proposal["value"] % 4:
            raise traitlets.TraitError(
                f"head_dim: expected a positive multiple of 4, got {proposal['value']!r}"
            )
        return proposal["value"]


def rotary2d_widget(head_dim: int = 80, theta: float = 10000.0, lo: int = 0, hi: int | None = None,
                    axes: str = "both", radius: int = 16, d_row: int = 0, d_col: int = 3) -> Rotary2DWidget:  # fmt: skip
    """The widget for a tower with heads of ``head_dim`` features (band ``lo``..``hi``, default all).

    Raises ``ValueError`` for a band outside ``0 .. head_dim/4 - 1`` or ``lo > hi``.
    """
    hi = head_dim // 4 - 1 if hi is None else hi
    if not 0 <= lo <= hi < head_dim // 4:
        raise ValueError(f"lo, hi: expected 0 <= lo <= hi < head_dim/4 = {head_dim // 4}, got {lo}, {hi}")
    return Rotary2DWidget(head_dim=head_dim, theta=theta, lo=lo, hi=hi, axes=axes, radius=radius,
                          d_row=d_row, d_col=d_col)  # fmt: skip
