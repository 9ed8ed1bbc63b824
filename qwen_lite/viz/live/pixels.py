"""Chapter 1's live widget (``pixels.js``): click a pixel, see its patch, its 2×2 unit and its row."""

from __future__ import annotations

import traitlets

from ...processing import MERGE_SIZE, PATCH_SIZE, TEMPORAL_PATCH_SIZE, smart_resize
from . import image_data_url
from .base import LiveWidget


class PixelsWidget(LiveWidget):
    """The photo at its resized size (``width`` × ``height`` px, multiples of 28); ``x``, ``y`` is the pixel.

    The reader clicks a pixel; the page shows its patch (row, col), its 2×2 unit, the merged-unit
    index, its row of ``pixel_values`` and the columns of that row that hold it — computed in the
    browser by ``patches.js``, which CI checks against :func:`qwen_lite.processing.patchify`.
    """

    module = "pixels"
    image = traitlets.Unicode("").tag(sync=True, live=True)
    width = traitlets.Int(448).tag(sync=True, live=True)
    height = traitlets.Int(448).tag(sync=True, live=True)
    x = traitlets.Int(0).tag(sync=True, live=True)
    y = traitlets.Int(0).tag(sync=True, live=True)
    patch_size = traitlets.Int(PATCH_SIZE).tag(sync=True, live=True)
    merge_size = traitlets.Int(MERGE_SIZE).tag(sync=True, live=True)
    temporal_patch_size = traitlets.Int(TEMPORAL_PATCH_SIZE).tag(sync=True, live=True)

    @traitlets.validate("width", "height")
    def _multiple_of_unit(self, proposal):
        unit = self.patch_size * self.merge_size
        value = proposal["value"]
        if value < unit or value % unit:
            raise traitlets.TraitError(
                f"{proposal['trait'].name}: expected a positive multiple of {unit} px, got {value}"
            )
        return value


def pixels_widget(
    image, max_pixels: int = 448 * 448, x: int | None = None, y: int | None = None
) -> PixelsWidget:
    """The widget for a PIL ``image`` resized as the processor would for ``max_pixels`` (``smart_resize``).

    ``x``, ``y`` pick the first pixel shown (default: the centre). Raises ``TypeError`` for a non-image.
    """
    height, width = smart_resize(image.height, image.width, max_pixels=max_pixels)
    return PixelsWidget(
        image=image_data_url(image),
        width=width,
        height=height,
        x=width // 2 if x is None else x,
        y=height // 2 if y is None else y,
    )
