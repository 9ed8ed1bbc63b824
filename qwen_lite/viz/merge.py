"""Figures and the widget for the 2x2 merge (chapter 6): a merged token's four source patches, and
where that token sits in the sequence before and after the window reorder."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from PIL import Image, ImageDraw

from qwen_lite.processing import PATCH_SIZE
from qwen_lite.vision import get_window_index
from qwen_lite.viz import draw_grid, linked_grid
from qwen_lite.viz.canvas import font, grid_lines, jpeg_widget, outline, patch_rc
from qwen_lite.viz.vision import DPI


def _strip(ax, values, highlight: int, boundaries, title: str):
    """One row of cells coloured by ``values`` (window id), cell ``highlight`` boxed."""
    n = len(values)
    ax.imshow(
        np.asarray(values)[None, :] % 10,
        cmap="tab10",
        vmin=0,
        vmax=9,
        aspect="auto",
        extent=(-0.5, n - 0.5, 0.5, -0.5),
        interpolation="nearest",
    )
    for b in boundaries:
        ax.axvline(b - 0.5, color="black", lw=0.8)
    ax.add_patch(Rectangle((highlight - 0.5, -0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.annotate(
        f"position {highlight}",
        (highlight, 0.5),
        xytext=(highlight, 1.6),
        ha="center",
        fontsize=8,
        color="red",
        arrowprops={"arrowstyle": "->", "color": "red"},
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
    draw_grid(img_ax, height, width, 2 * patch, colors="yellow", linewidths=0.8)
    for row in range(4 * token, 4 * token + 4):
        r, c = rc[row]
        img_ax.add_patch(
            Rectangle((c * patch - 0.5, r * patch - 0.5), patch, patch, fc="red", alpha=0.35, ec="red")
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
    img_ax.set_title(f"token {token} = pixel_values rows {4 * token}..{4 * token + 3}", fontsize=9)
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


_TAB10 = [tuple(int(255 * c) for c in plt.get_cmap("tab10")(i)[:3]) for i in range(10)]


def _strip_image(colors, highlight: int, boundaries, cell: int, height: int = 22) -> Image.Image:
    """A row of cells coloured by window id (``colors``), the ``highlight`` cell boxed in red."""
    n = len(colors)
    pixels = np.zeros((height, n * cell, 3), dtype=np.uint8)
    for i, c in enumerate(colors):
        pixels[:, i * cell : (i + 1) * cell] = _TAB10[c % 10]
    for b in boundaries:
        pixels[:, b * cell - 1 : b * cell + 1] = 0
    outline(pixels, 0, highlight * cell - 1, height, cell + 2, (255, 0, 0), 2)
    return Image.fromarray(pixels)


def merge_view(
    image: Image.Image, token: int, patch: int = PATCH_SIZE, strip_width: int = 380
) -> Image.Image:
    """The widget's view (a PIL image): merged token ``token``'s four source patches on ``image``
    (already resized), and its position in the token sequence before and after the window reorder."""
    width, height = image.size
    rc, window_index, cu, window_of_unit, after = _merge_layout(image, token, patch)
    units = len(window_index)

    pixels = np.asarray(image).copy()
    pixels[::patch, :] = (255, 255, 255)
    pixels[:, ::patch] = (255, 255, 255)
    grid_lines(pixels, 2 * patch, (255, 220, 0))
    for row in range(4 * token, 4 * token + 4):
        r, c = rc[row]
        block = pixels[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch].astype(np.float32)
        pixels[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch] = (
            0.45 * block + [140, 0, 0]
        ).astype(np.uint8)
    cell = max(2, strip_width // units)
    before_strip = _strip_image(window_of_unit, token, [], cell)
    after_strip = _strip_image(window_of_unit[window_index.numpy()], after, (cu[1:-1] // 4).tolist(), cell)

    top, gap = 24, 24
    right = width + gap
    canvas = Image.new("RGB", (right + max(units * cell, 300) + 10, top + max(height, 170) + 8), "white")
    canvas.paste(Image.fromarray(pixels), (0, top))
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (0, 4), f"token {token} = pixel_values rows {4 * token}..{4 * token + 3}", fill="black", font=font()
    )
    for row in range(4 * token, 4 * token + 4):
        r, c = rc[row]
        draw.text((c * patch + 2, top + r * patch + 1), str(row), fill="white", font=font(9))
    draw.text((right, top + 4), f"processor order: position {token} of {units}", fill="black", font=font())
    canvas.paste(before_strip, (right, top + 22))
    draw.text((right, top + 70), f"window order: position {after} of {units}", fill="black", font=font())
    canvas.paste(after_strip, (right, top + 88))
    draw.text(
        (right, top + 118),
        "colour = attention window; black lines = window ends",
        fill="gray",
        font=font(11),
    )
    return canvas


def merge_widget(image: Image.Image, tokens, width: str = "680px"):
    """Slider over a few merged tokens of ``image`` (already resized); each view is :func:`merge_view`."""
    return linked_grid(
        [("merged token", [str(t) for t in tokens])],
        lambda i: jpeg_widget(merge_view(image, tokens[i]), width),
        width=width,
    )
