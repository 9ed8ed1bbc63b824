"""Chapter 6's live widget (``merge.js``): a merged token, its four patches, and its place in both orders."""

from __future__ import annotations

import traitlets

from ...processing import MERGE_SIZE, PATCH_SIZE
from . import image_data_url
from .base import LiveWidget
from .window_attention import WINDOW_SIZE, _check_side, _size


class MergeWidget(LiveWidget):
    """The photo at ``width`` × ``height`` px (multiples of 28) and one merged ``token`` (processor order).

    The reader picks a token on the photo (a 2×2 unit) or in either sequence; the page shows its
    four patches, their rows of ``pixel_values``, and its position in processor order and in
    window order, computed in the browser by ``patches.js`` and ``windows.js`` (checked in CI against
    :func:`qwen_lite.processing.patchify` and :func:`qwen_lite.vision.get_window_index`).
    """

    module = "merge"
    image = traitlets.Unicode("").tag(sync=True, live=True)
    width = traitlets.Int(308).tag(sync=True, live=True)
    height = traitlets.Int(196).tag(sync=True, live=True)
    token = traitlets.Int(0).tag(sync=True, live=True)
    patch_size = traitlets.Int(PATCH_SIZE).tag(sync=True, live=True)
    merge_size = traitlets.Int(MERGE_SIZE).tag(sync=True, live=True)
    window_size = traitlets.Int(WINDOW_SIZE).tag(sync=True, live=True)

    @traitlets.validate("width", "height")
    def _multiple_of_unit(self, proposal):
        return _check_side(proposal, self.patch_size * self.merge_size)

    @traitlets.validate("token")
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"token: expected a merged-token index >= 0, got {proposal['value']}")
        return proposal["value"]


def merge_widget(
    image, width: int | None = None, height: int | None = None, *, max_pixels: int = 308 * 196, token: int = 0
) -> MergeWidget:
    """The widget for a PIL ``image`` drawn at ``width`` × ``height`` px (multiples of 28, at most 2240).

    Without ``width`` and ``height``, the size is the processor's (``smart_resize`` for
    ``max_pixels``). ``token`` is the first merged token shown, in processor order. Raises
    ``TypeError`` for a non-image, ``ValueError`` for one of width/height alone, a size that is not a
    multiple of 28 (or above 2240) and a token outside ``0 .. width * height / 784 - 1``.
    """
    width, height = _size(image, width, height, max_pixels)
    tokens = width * height // (PATCH_SIZE * MERGE_SIZE) ** 2
    if not 0 <= token < tokens:
        raise ValueError(f"token: expected 0 to {tokens - 1} for {width} × {height} px, got {token}")
    return MergeWidget(image=image_data_url(image), width=width, height=height, token=token)
