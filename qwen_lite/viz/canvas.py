"""Small drawing helpers shared by the figures: PIL's default font at a size, patch (row, col) ids."""

from __future__ import annotations

import numpy as np
import torch

from qwen_lite.processing import patch_coordinates


def font(size: int = 12):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def patch_rc(grid_thw) -> np.ndarray:
    """(row, col) of every patch, in processor row order (single image)."""
    return patch_coordinates(torch.as_tensor(grid_thw))[:, 2:].numpy()
