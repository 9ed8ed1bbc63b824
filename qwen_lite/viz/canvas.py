"""Small drawing helpers for widget views: numpy/PIL canvases instead of matplotlib figures.

Widget views are drawn with PIL and numpy rather than matplotlib: a view takes milliseconds instead
of a second, so a grid of two dozen views keeps the chapter fast. They are JPEG (photographs compress
ten times better than as PNG), which keeps the notebook small.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from qwen_lite.processing import patch_coordinates


def font(size: int = 12):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def jpeg_widget(canvas: Image.Image, width: str):
    import io

    import ipywidgets as widgets

    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=82)
    return widgets.Image(value=buf.getvalue(), format="jpeg", layout=widgets.Layout(width=width))


def outline(pixels: np.ndarray, top: int, left: int, size_y: int, size_x: int, color, width: int = 2) -> None:
    """Draw a rectangle outline into an (h, w, 3) uint8 array, in place."""
    h, w, _ = pixels.shape
    y0, y1, x0, x1 = max(top, 0), min(top + size_y, h), max(left, 0), min(left + size_x, w)
    pixels[y0 : min(y0 + width, h), x0:x1] = color
    pixels[max(y1 - width, 0) : y1, x0:x1] = color
    pixels[y0:y1, x0 : min(x0 + width, w)] = color
    pixels[y0:y1, max(x1 - width, 0) : x1] = color


def grid_lines(pixels: np.ndarray, step: int, color, every_y=None) -> None:
    """Lines every ``step`` pixels into an (h, w, 3) uint8 array, in place."""
    pixels[::step, :] = color
    pixels[:, ::step] = color


def patch_rc(grid_thw) -> np.ndarray:
    """(row, col) of every patch, in processor row order (single image)."""
    return patch_coordinates(torch.as_tensor(grid_thw))[:, 2:].numpy()
