"""Chapter 12's live widget (``fps.js``): sample a clip at any rate; see the kept frames and their temporal ids.

The page computes with ``frames.js``, which CI checks against :func:`qwen_lite.video.select_frames` and
:func:`qwen_lite.rope.get_rope_index` (:mod:`qwen_lite.viz.live.frames`).
"""

from __future__ import annotations

import math

import numpy as np
import traitlets
from PIL import Image

from .base import LiveWidget


class FpsWidget(LiveWidget):
    """A clip of ``frames`` frames recorded at ``video_fps``, sampled at ``fps``; ``sprite`` holds thumbnails
    (``thumb`` px square, ``columns`` per row, as a JPEG data URL)."""

    module = "fps"
    sprite = traitlets.Unicode("").tag(sync=True, live=True)
    frames = traitlets.Int(48).tag(sync=True, live=True)
    video_fps = traitlets.Float(8.0).tag(sync=True, live=True)
    fps = traitlets.Float(2.0).tag(sync=True, live=True)
    thumb = traitlets.Int(40).tag(sync=True, live=True)
    columns = traitlets.Int(12).tag(sync=True, live=True)

    @traitlets.validate("fps", "video_fps")
    def _rate(self, proposal):
        value = proposal["value"]
        if not (math.isfinite(value) and value > 0):
            raise traitlets.TraitError(
                f"{proposal['trait'].name}: expected a rate > 0 frames per second, got {value}"
            )
        return value


def fps_widget(clip, video_fps: float, fps: float = 2.0, thumb: int = 40, columns: int = 12) -> FpsWidget:
    """The widget for ``clip`` (a uint8 array (frames, h, w, 3)) recorded at ``video_fps``, sampled at ``fps``.

    Raises ``ValueError`` for a clip that is not (frames >= 2, h, w, 3) uint8.
    """
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8 or len(clip) < 2:
        raise ValueError(
            f"clip: expected a uint8 array (frames >= 2, h, w, 3), got {clip.dtype} {clip.shape}"
        )
    rows = math.ceil(len(clip) / columns)
    sheet = Image.new("RGB", (columns * thumb, rows * thumb), "white")
    for i, frame in enumerate(clip):
        small = Image.fromarray(frame).resize((thumb, thumb), Image.Resampling.BICUBIC)
        sheet.paste(small, ((i % columns) * thumb, (i // columns) * thumb))
    from . import image_data_url

    return FpsWidget(
        sprite=image_data_url(sheet, max_side=max(sheet.size)),
        frames=len(clip),
        video_fps=float(video_fps),
        fps=float(fps),
        thumb=thumb,
        columns=columns,
    )
