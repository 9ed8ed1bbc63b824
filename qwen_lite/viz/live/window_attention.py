"""Chapter 4's live widget (``window_attention.js``): who may a query patch attend to, in a window or a full block."""

from __future__ import annotations

import traitlets

from ...processing import MERGE_SIZE, PATCH_SIZE, smart_resize
from ..vision import check_query
from . import image_data_url
from .base import LiveWidget

WINDOW_SIZE = 112  # px: the released vision config's window_size
MAX_SIDE = 2240  # px: the largest width or height the widget's controls offer


class WindowAttentionWidget(LiveWidget):
    """The photo at ``width`` × ``height`` px (multiples of 28), a block kind, a query patch.

    ``window=True`` for a window-attention block, ``False`` for a full one; ``query_row``,
    ``query_col`` is the query patch (row, col) in the patch grid. The page shows the patches the
    query may attend to, the windows numbered in window order, the mask in window order and the
    counts (windows, patches per window, query-key pairs against full attention), computed in the
    browser by ``windows.js``, which CI checks against :func:`qwen_lite.vision.get_window_index`.
    """

    module = "window_attention"
    image = traitlets.Unicode("").tag(sync=True, live=True)
    width = traitlets.Int(308).tag(sync=True, live=True)
    height = traitlets.Int(196).tag(sync=True, live=True)
    window = traitlets.Bool(True).tag(sync=True, live=True)
    query_row = traitlets.Int(0).tag(sync=True, live=True)
    query_col = traitlets.Int(0).tag(sync=True, live=True)
    patch_size = traitlets.Int(PATCH_SIZE).tag(sync=True, live=True)
    merge_size = traitlets.Int(MERGE_SIZE).tag(sync=True, live=True)
    window_size = traitlets.Int(WINDOW_SIZE).tag(sync=True, live=True)

    @traitlets.validate("width", "height")
    def _multiple_of_unit(self, proposal):
        return _check_side(proposal, self.patch_size * self.merge_size)

    @traitlets.validate("query_row", "query_col")
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise traitlets.TraitError(
                f"{proposal['trait'].name}: expected a patch index >= 0, got {proposal['value']}"
            )
        return proposal["value"]


def _check_side(proposal, unit: int) -> int:
    value = proposal["value"]
    if value < unit or value % unit or value > MAX_SIDE:
        raise traitlets.TraitError(
            f"{proposal['trait'].name}: expected a multiple of {unit} px from {unit} to {MAX_SIDE}, got {value}"
        )
    return value


def _size(image, width, height, max_pixels) -> tuple[int, int]:
    """(width, height): the given ones, or the processor's ``smart_resize`` of ``image`` for ``max_pixels``."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"image: expected a PIL.Image.Image, got {type(image).__name__}")
    if (width is None) != (height is None):
        raise ValueError(f"width, height: give both or neither, got width={width}, height={height}")
    if width is None:
        height, width = smart_resize(image.height, image.width, max_pixels=max_pixels)
    unit = PATCH_SIZE * MERGE_SIZE
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value < unit or value % unit or value > MAX_SIDE:
            raise ValueError(
                f"{name}: expected a multiple of {unit} px from {unit} to {MAX_SIDE}, got {value!r}"
            )
    return width, height


def window_attention_widget(
    image,
    width: int | None = None,
    height: int | None = None,
    *,
    max_pixels: int = 308 * 196,
    window: bool = True,
    query: tuple[int, int] | None = None,
) -> WindowAttentionWidget:
    """The widget for a PIL ``image`` drawn at ``width`` × ``height`` px (multiples of 28, at most 2240).

    Without ``width`` and ``height``, the size is the processor's (``smart_resize`` for
    ``max_pixels``). ``query`` is the first query patch ``(row, col)`` (default: the centre patch).
    Raises ``TypeError`` for a non-image, ``ValueError`` for one of width/height alone, a size that is not a
    multiple of 28 (or above 2240) and a query outside the patch grid; ``TypeError`` for a query that is
    not a pair of ints.
    """
    width, height = _size(image, width, height, max_pixels)
    rows, cols = height // PATCH_SIZE, width // PATCH_SIZE
    row, col = (rows // 2, cols // 2) if query is None else check_query(query, rows, cols)
    return WindowAttentionWidget(
        image=image_data_url(image), width=width, height=height, window=window, query_row=row, query_col=col
    )
