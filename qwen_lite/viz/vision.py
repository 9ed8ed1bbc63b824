"""Figures and widgets for Part I (the vision tower): patches, rotary angles, windows, the 2x2 merge.

Every function draws; none of them computes model outputs on its own. Index bookkeeping (which patch
sits where, which patches share a window) comes from :mod:`qwen_lite.processing` and
:mod:`qwen_lite.vision`, so a figure cannot disagree with the model it illustrates. The interactive views are
live widgets (:mod:`qwen_lite.viz.live`); each has a static figure here for print and readers
without JavaScript.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch as MplPatch
from matplotlib.patches import Rectangle
from PIL import Image

from qwen_lite.processing import (
    FACTOR,
    MAX_PIXELS,
    PATCH_SIZE,
    RELEASED_MAX_PIXELS,
    patch_coordinates,
    smart_resize,
)
from qwen_lite.vision import attention_groups, get_window_index, units_to_rows
from qwen_lite.viz import draw_grid
from qwen_lite.viz.canvas import patch_rc

DPI = 72

# --- chapter 1: pixels to patches ---------------------------------------------------------------


def token_count_figure(sides=None, budgets=None):
    """Tokens (merged 28x28 areas) of a square and a 3:4 image as the side grows, for pixel budgets."""
    sides = np.arange(28, 4200, 14) if sides is None else np.asarray(sides)
    budgets = budgets or {
        "class default max (1,003,520 px)": MAX_PIXELS,
        "released max (12,845,056 px)": RELEASED_MAX_PIXELS,
    }
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=DPI + 8)
    for (label, budget), color in zip(budgets.items(), ("C0", "C1")):
        for aspect, style in ((1.0, "-"), (4 / 3, "--")):
            tokens = []
            for s in sides:
                h, w = smart_resize(int(round(s * aspect)), int(s), max_pixels=budget)
                tokens.append(h * w // FACTOR**2)
            ax.plot(
                sides, tokens, style, color=color, label=f"{label}, {'1:1' if aspect == 1 else '4:3 (h:w)'}"
            )
    ax.axhline(64, color="gray", lw=0.8, ls=":")
    ax.text(
        sides[-1],
        64,
        "a fixed 224 × 224 input: always 64 tokens",
        ha="right",
        va="bottom",
        fontsize=8,
        color="gray",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("image width in pixels (before resizing)")
    ax.set_ylabel("tokens for the language model")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def patch_grid_figure(image: Image.Image, patch: int = PATCH_SIZE, merge: int = 2, numbered: int = 0):
    """``image`` (already resized to multiples of 28) with its 14x14 patch grid and 28x28 token grid.

    ``numbered`` > 0 writes the ``pixel_values`` row index into the first ``numbered`` patches of that
    order, which shows the 2x2 blocks being consecutive.
    """
    width, height = image.size
    fig, ax = plt.subplots(figsize=(5.2, 5.2 * height / width), dpi=DPI + 8)
    ax.imshow(image)
    draw_grid(ax, height, width, patch, colors="white", linewidths=0.4, alpha=0.7)
    draw_grid(ax, height, width, patch * merge, colors="yellow", linewidths=1.0)
    if numbered:
        coords = patch_coordinates(torch.tensor([[1, height // patch, width // patch]]), merge)
        for row, (_, _, r, c) in enumerate(coords[:numbered].tolist()):
            ax.text(
                (c + 0.5) * patch,
                (r + 0.5) * patch,
                str(row),
                ha="center",
                va="center",
                fontsize=6,
                color="black",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    ax.set_title(
        f"{width} × {height} px (w × h): {width // patch} × {height // patch} patches, "
        f"{(height // patch) * (width // patch) // merge**2} tokens",
        fontsize=9,
    )
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def patch_grid_at_budget(image: Image.Image, max_pixels: int):
    """``image`` resized as the model would at a pixel budget (``smart_resize``, bicubic), drawn by
    :func:`patch_grid_figure`. Returns ``(figure, number of patches)``."""
    height, width = smart_resize(image.height, image.width, max_pixels=max_pixels)
    resized = image.resize((width, height), resample=Image.Resampling.BICUBIC)
    return patch_grid_figure(resized), (height // PATCH_SIZE) * (width // PATCH_SIZE)


def row_order_figure(grid_h: int, grid_w: int, merge: int = 2):
    """Two small grids: the row of ``pixel_values`` each patch lands in, in plain raster order (left)
    and in the real 2x2-block order (right); colour = the merged token the patch belongs to."""
    coords = patch_coordinates(torch.tensor([[1, grid_h, grid_w]]), merge)
    real = np.zeros((grid_h, grid_w), dtype=int)
    for row, (_, _, r, c) in enumerate(coords.tolist()):
        real[r, c] = row
    raster = np.arange(grid_h * grid_w).reshape(grid_h, grid_w)
    unit = (np.arange(grid_h)[:, None] // merge) * (grid_w // merge) + np.arange(grid_w)[None, :] // merge
    fig, axes = plt.subplots(1, 2, figsize=(8, 8 * grid_h / grid_w / 2 + 0.6), dpi=DPI + 8)
    for ax, order, title in (
        (axes[0], raster, "plain raster order (not used)"),
        (axes[1], real, "pixel_values row order (2x2 blocks)"),
    ):
        ax.imshow(unit % 10, cmap="tab10", alpha=0.45, vmin=0, vmax=9)
        for r in range(grid_h):
            for c in range(grid_w):
                ax.text(c, r, str(order[r, c]), ha="center", va="center", fontsize=8)
        draw_grid(ax, grid_h, grid_w, 1, colors="gray", linewidths=0.4)
        draw_grid(ax, grid_h, grid_w, merge, colors="black", linewidths=1.2)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


# --- chapter 2: patch embedding -----------------------------------------------------------------


def patch_frames_figure(patches, titles):
    """Each ``(3, 2, 14, 14)`` patch (values in [0, 1]) as its two frames side by side."""
    fig, axes = plt.subplots(1, 2 * len(patches), figsize=(1.6 * 2 * len(patches), 2.0), dpi=DPI + 8)
    for k, (patch, title) in enumerate(zip(patches, titles)):
        for frame in range(2):
            ax = axes[2 * k + frame]
            ax.imshow(patch[:, frame].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_title(f"{title}\nframe {frame}", fontsize=8)
            ax.set_axis_off()
    fig.tight_layout()
    return fig


# --- chapter 3: 2-D rotary ----------------------------------------------------------------------


def rotary_1d_figure(inv_freq, positions, pairs=(0, 4, 10, 19)):
    """Angle ``position * inv_freq[i]`` (as a point on the unit circle) for a few frequency pairs ``i``."""
    inv_freq = np.asarray(inv_freq)
    positions = np.asarray(positions)
    fig, axes = plt.subplots(1, len(pairs), figsize=(2.1 * len(pairs), 2.4), dpi=DPI + 8)
    circle = np.linspace(0, 2 * np.pi, 200)
    for ax, i in zip(axes, pairs):
        angles = positions * inv_freq[i]
        ax.plot(np.cos(circle), np.sin(circle), color="lightgray", lw=0.8)
        ax.scatter(np.cos(angles), np.sin(angles), c=positions, cmap="viridis", s=18, zorder=3)
        ax.set_title(f"pair {i}: {inv_freq[i]:.3g} rad/step", fontsize=8)
        ax.set_aspect("equal")
        ax.set_axis_off()
    fig.suptitle(f"where positions 0..{positions.max()} send one (x, y) pair (colour = position)", fontsize=9)
    fig.tight_layout()
    return fig


def angle_maps_figure(position_ids, angles, grid_h: int, grid_w: int, slots, head_dim_quarter: int):
    """``cos(angle)`` of some frequency slots drawn over the patch grid.

    ``position_ids`` (n 2) are the (row, col) of each patch, ``angles`` (n head_dim) the rotary angles
    in the same row order; slot ``s < head_dim_quarter`` turns with the row, the next quarter with the column.
    """
    fig, axes = plt.subplots(
        1, len(slots), figsize=(2.3 * len(slots), 2.6 * grid_h / grid_w + 0.4), dpi=DPI + 8
    )
    rows, cols = position_ids[:, 0].numpy(), position_ids[:, 1].numpy()
    for ax, slot in zip(axes, slots):
        grid = np.zeros((grid_h, grid_w))
        grid[rows, cols] = np.cos(angles[:, slot].numpy())
        ax.imshow(grid, cmap="coolwarm", vmin=-1, vmax=1)
        axis = "row" if slot < head_dim_quarter else "column"
        ax.set_title(f"slot {slot} ({axis})", fontsize=8)
        ax.set_axis_off()
    fig.suptitle("cos(angle) per patch: each slot turns with the row or with the column", fontsize=9)
    fig.tight_layout()
    return fig


# --- chapter 4: window attention ----------------------------------------------------------------

#: Okabe & Ito's colour-blind-safe palette (the live widgets' ``common.js`` uses the same colours).
BLUE, ORANGE, SKY, GREEN, YELLOW, VERMILLION, PURPLE, GREY = (
    "#0072B2",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#D55E00",
    "#CC79A7",
    "#999999",
)
WINDOW_COLORS = ListedColormap([SKY, ORANGE, GREEN, PURPLE, BLUE, YELLOW, VERMILLION])
MASKED = "#e3e3e3"
MASK_COLORS = ListedColormap([MASKED, BLUE])  # 0 = masked, 1 = may attend; drawn with vmin=0, vmax=1


def window_order_rows(grid_thw) -> torch.Tensor:
    """The processor rows in window order (the permutation the tower applies before block 0)."""
    window_index, _ = get_window_index(grid_thw)
    return units_to_rows(window_index, 4)


def _mask_legend(fig, query: bool) -> None:
    handles = [
        MplPatch(facecolor=BLUE, label="may attend"),
        MplPatch(facecolor=MASKED, edgecolor=GREY, label="masked"),
    ]
    if query:
        handles.append(MplPatch(facecolor=VERMILLION, label="the query patch / its row"))
        handles.append(MplPatch(facecolor=YELLOW, edgecolor=GREY, label="112 px windows (numbered)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)


def _mask_panel(ax, grid_thw, window: bool, query_row: int | None = None) -> None:
    """The attention mask of one block kind in window order; ``query_row`` (processor order) marked."""
    order = window_order_rows(grid_thw)
    groups = attention_groups(grid_thw, window=window)[order].numpy()
    mask = groups[:, None] == groups[None, :]
    n = len(groups)
    # Explicit vmin/vmax: a constant mask (one full block) must still be drawn as "may attend".
    ax.imshow(mask, cmap=MASK_COLORS, vmin=0, vmax=1, interpolation="nearest")
    if query_row is not None:
        position = int(torch.argsort(order)[query_row])
        ax.axhline(position, color=VERMILLION, lw=1.5)
    kind = "window" if window else "full"
    ax.set_title(
        f"{kind} block: {groups.max() + 1} segment(s),\n{int(mask.sum()):,} of {n * n:,} pairs", fontsize=8
    )
    ax.set_xlabel("key (window order)", fontsize=8)
    ax.set_ylabel("query (window order)", fontsize=8)
    ax.tick_params(labelsize=7)


def attention_mask_figure(grid_thw):
    """The attention masks of a window block and a full block, side by side, in window order, with a legend."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.9), dpi=DPI)
    for ax, window in zip(axes, (True, False)):
        _mask_panel(ax, grid_thw, window)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _mask_legend(fig, query=False)
    return fig


def _number_windows(ax, width: int, height: int, window_size: int = 112) -> None:
    per_row = -(-width // window_size)
    for w in range(per_row * -(-height // window_size)):
        ax.text(
            (w % per_row) * window_size + 3,
            (w // per_row) * window_size + 3,
            str(w),
            ha="left",
            va="top",
            fontsize=7,
            color="black",
            bbox={"boxstyle": "square,pad=0.15", "fc": YELLOW, "ec": "none"},
        )


def check_query(query, rows: int, cols: int) -> tuple[int, int]:
    """``query`` as (row, col), once it is a pair of ints inside a ``rows`` × ``cols`` patch grid.

    The message gives the bounds in the query's own order (row first) and the grid as the page shows it
    (w × h), so that both orders are spelled out.
    """
    grid = f"a {cols} × {rows} (w × h) patch grid"
    pair = tuple(query) if isinstance(query, (tuple, list)) else None
    if (
        pair is None
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
    ):
        raise TypeError(f"query: expected a (row, col) pair of ints in {grid}, got {query!r}")
    row, col = pair
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(
            f"query (row, col) = ({row}, {col}): expected 0 <= row < {rows} and 0 <= col < {cols} ({grid})"
        )
    return row, col


def window_query_figure(image: Image.Image, query: tuple[int, int], patch: int = PATCH_SIZE):
    """The static twin of the chapter 4 widget: ``image`` (already resized) with the patches that the
    ``query`` patch ``(row, col)`` may attend to in a window block (others darkened, windows numbered
    in window order), and the masks of a window block and a full block in window order."""
    width, height = image.size
    rows, cols = height // patch, width // patch
    query = check_query(query, rows, cols)
    grid_thw = [[1, rows, cols]]
    groups = attention_groups(grid_thw, window=True).numpy()
    rc = patch_rc(grid_thw)
    query_row = int(np.flatnonzero((rc[:, 0] == query[0]) & (rc[:, 1] == query[1]))[0])
    allowed = np.zeros((height // patch, width // patch), dtype=bool)
    allowed[rc[:, 0], rc[:, 1]] = groups == groups[query_row]

    fig, axes = plt.subplots(
        1, 3, figsize=(9.6, 3.6), dpi=DPI, gridspec_kw={"width_ratios": [1.5 * width / height, 1, 1]}
    )
    left = axes[0]
    left.imshow(image)
    shade = np.zeros((*allowed.shape, 4))
    shade[..., 3] = np.where(allowed, 0.0, 0.62)
    left.imshow(shade, extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
    draw_grid(left, height, width, 112, colors=YELLOW, linewidths=1.5)
    _number_windows(left, width, height)
    left.add_patch(
        Rectangle(
            (query[1] * patch - 0.5, query[0] * patch - 0.5), patch, patch, fill=False, ec=VERMILLION, lw=2
        )
    )
    left.set_title(
        f"{width} × {height} px, window block: query patch {tuple(query)}\n"
        f"may attend to {int(allowed.sum())} of {len(groups)} patches",
        fontsize=8,
    )
    left.set_axis_off()
    for ax, window in zip(axes[1:], (True, False)):
        _mask_panel(ax, grid_thw, window, query_row)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _mask_legend(fig, query=True)
    return fig


def groups_figure(image: Image.Image, patch: int = PATCH_SIZE):
    """Attention groups of every patch for a window block and a full block, side by side.

    Colours are the groups (Okabe & Ito's palette, cycled); each window carries its number in window order.
    """
    width, height = image.size
    grid_thw = [[1, height // patch, width // patch]]
    rc = patch_rc(grid_thw)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6 * height / width + 0.5), dpi=DPI)
    for ax, window in zip(axes, (True, False)):
        groups = attention_groups(grid_thw, window=window).numpy()
        grid = np.zeros((height // patch, width // patch))
        grid[rc[:, 0], rc[:, 1]] = groups
        ax.imshow(image)
        ax.imshow(
            grid % WINDOW_COLORS.N,
            cmap=WINDOW_COLORS,
            vmin=0,
            vmax=WINDOW_COLORS.N - 1,
            alpha=0.5,
            extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            interpolation="nearest",
        )
        draw_grid(ax, height, width, patch, colors="white", linewidths=0.3, alpha=0.5)
        if window:
            draw_grid(ax, height, width, 112, colors="black", linewidths=1.0)
            _number_windows(ax, width, height)
        n = groups.max() + 1
        title = f"window block: {n} windows, numbered in window order" if window else f"full block: {n} group"
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
