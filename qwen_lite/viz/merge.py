"""The static figure of the 2×2 merge (chapter 6): a merged token's four source patches, and where that
token sits in the sequence before and after the window reorder. The interactive view is the live
widget :func:`qwen_lite.viz.live.merge.merge_widget`; this figure stands beside it for print."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from PIL import Image

from qwen_lite.processing import PATCH_SIZE
from qwen_lite.vision import get_window_index
from qwen_lite.viz import draw_grid
from qwen_lite.viz.canvas import patch_rc
from qwen_lite.viz.vision import BLUE, DPI, VERMILLION, WINDOW_COLORS, YELLOW


def _strip(ax, values, highlight: int, boundaries, title: str):
    """One row of cells coloured by ``values`` (window id), cell ``highlight`` boxed."""
    n = len(values)
    ax.imshow(
        np.asarray(values)[None, :] % WINDOW_COLORS.N,
        cmap=WINDOW_COLORS,
        vmin=0,
        vmax=WINDOW_COLORS.N - 1,
        aspect="auto",
        extent=(-0.5, n - 0.5, 0.5, -0.5),
        interpolation="nearest",
    )
    for b in boundaries:
        ax.axvline(b - 0.5, color="black", lw=0.8)
    ax.add_patch(Rectangle((highlight - 0.5, -0.5), 1, 1, fill=False, ec=VERMILLION, lw=2.5))
    ax.annotate(
        f"position {highlight}",
        (highlight, 0.5),
        xytext=(highlight, 1.6),
        ha="center",
        fontsize=8,
        color=VERMILLION,
        arrowprops={"arrowstyle": "->", "color": VERMILLION},
        annotation_clip=False,
    )
    ax.set_yticks([])
    ax.set_xlim(-0.5, n - 0.5)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8, loc="left")


def _merge_layout(image: Image.Image, token: int, patch: int):
    """What both merge views draw: patch (row, col) ids, the window order, each merged unit's window,
    and where merged token ``token`` lands after the window reorder."""
    width, height = image.size
    grid_thw = [[1, height // patch, width // patch]]
    window_index, cu = get_window_index(grid_thw)
    window_of_unit = np.empty(len(window_index), dtype=int)
    for w, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
        window_of_unit[window_index[a // 4 : b // 4].numpy()] = w
    position_in_window_order = int(torch.argsort(window_index)[token])
    return patch_rc(grid_thw), window_index, cu, window_of_unit, position_in_window_order


def merge_figure(image: Image.Image, token: int, patch: int = PATCH_SIZE):
    """Merged token ``token`` (processor order): its four source patches on the image, and where it sits
    in the token sequence before (processor order) and after the window reorder."""
    width, height = image.size
    rc, window_index, cu, window_of_unit, position_in_window_order = _merge_layout(image, token, patch)

    fig = plt.figure(figsize=(8.6, 4.0), dpi=DPI)
    img_ax = fig.add_axes((0.0, 0.05, 0.42, 0.85))
    img_ax.imshow(image)
    draw_grid(img_ax, height, width, patch, colors="white", linewidths=0.3, alpha=0.6)
    draw_grid(img_ax, height, width, 2 * patch, colors=YELLOW, linewidths=0.8)
    for row in range(4 * token, 4 * token + 4):
        r, c = rc[row]
        img_ax.add_patch(
            Rectangle((c * patch - 0.5, r * patch - 0.5), patch, patch, fc=BLUE, alpha=0.45, ec=BLUE, lw=1.5)
        )
        img_ax.text(
            (c + 0.5) * patch,
            (r + 0.5) * patch,
            str(row),
            ha="center",
            va="center",
            fontsize=7,
            color="white",
        )
    img_ax.set_title(
        f"{width} × {height} px: token {token} = pixel_values rows {4 * token}..{4 * token + 3}", fontsize=9
    )
    img_ax.set_axis_off()

    before = fig.add_axes((0.47, 0.58, 0.51, 0.13))
    _strip(before, window_of_unit, token, [], f"before: processor order (colour = window), token {token}")
    after = fig.add_axes((0.47, 0.18, 0.51, 0.13))
    _strip(
        after,
        window_of_unit[window_index.numpy()],
        position_in_window_order,
        (cu[1:-1] // 4).tolist(),
        "after the window reorder (black lines: window ends)",
    )
    return fig
