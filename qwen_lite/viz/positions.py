"""Pictures of M-RoPE: the three position ids (temporal, height, width) of every token of a prompt.

Used by the M-RoPE chapter: the static figures (for print and readers without JavaScript) beside the live
widget :mod:`qwen_lite.viz.live.mrope`. Every function takes plain tensors (``input_ids``,
``position_ids``) and returns a matplotlib figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap

AXES = ("temporal", "height", "width")
# Okabe & Ito colour-blind-safe colours, as the live widgets (qwen_lite/viz/live/common.js PALETTE).
KIND_COLORS = {"text": "#d9d9d9", "marker": "#999999", "image": "#56B4E9", "video": "#E69F00"}
AXIS_COLORS = ("#D55E00", "#009E73", "#0072B2")  # temporal, height, width: vermillion, green, blue


def token_kinds(
    input_ids, image_token_id=151655, video_token_id=151656, markers=(151652, 151653)
) -> list[str]:
    """One word per token: ``"text"``, ``"marker"`` (vision start/end), ``"image"`` or ``"video"``."""
    kinds = []
    for token in torch.as_tensor(input_ids).flatten().tolist():
        if token == image_token_id:
            kinds.append("image")
        elif token == video_token_id:
            kinds.append("video")
        elif token in markers:
            kinds.append("marker")
        else:
            kinds.append("text")
    return kinds


def token_labels(input_ids, tokenizer) -> list[str]:
    """Short printable labels for the columns: the text of each token, special tokens abbreviated."""
    short = {
        "<|vision_start|>": "<vs>",
        "<|vision_end|>": "<ve>",
        "<|image_pad|>": "img",
        "<|video_pad|>": "vid",
        "<|im_start|>": "<ims>",
        "<|im_end|>": "<ime>",
    }
    labels = []
    for token in torch.as_tensor(input_ids).flatten().tolist():
        text = tokenizer.decode([token])
        labels.append(short.get(text, text.replace(" ", "\u00b7").replace("\n", "\\n")))
    return labels


def plot_position_ids(
    position_ids,
    kinds: Sequence[str],
    labels: Sequence[str] | None = None,
    per_line: int = 26,
    vmax: int | None = None,
    title: str | None = None,
    fig=None,
    top: float = 1.0,
    bottom: float = 0.0,
):
    """Heatmaps of the (3, L) ids of one prompt, wrapped into lines of ``per_line`` tokens.

    Each line has a colour band for the token kind, then one row per axis with the id written in
    every cell. ``fig``/``top``/``bottom`` let a caller reserve part of a larger figure.
    """
    pos = torch.as_tensor(position_ids).reshape(3, -1).numpy()
    length = pos.shape[1]
    n_lines = -(-length // per_line)
    vmax = int(pos.max()) if vmax is None else vmax
    own = fig is None
    if own:
        fig = plt.figure(figsize=(per_line * 0.36 + 0.9, 1.45 * n_lines + 0.35), dpi=72)
    height = (top - bottom) / n_lines
    cmap = plt.get_cmap("viridis")
    kind_cmap = ListedColormap([KIND_COLORS[k] for k in KIND_COLORS])
    kind_index = {k: i for i, k in enumerate(KIND_COLORS)}
    for line in range(n_lines):
        lo, hi = line * per_line, min(length, (line + 1) * per_line)
        ax = fig.add_axes([0.07, top - (line + 1) * height + 0.2 * height, 0.92, 0.72 * height])
        block = np.full((4, per_line), np.nan)
        block[1:, : hi - lo] = pos[:, lo:hi]
        ax.imshow(block, cmap=cmap, vmin=0, vmax=max(vmax, 1), aspect="auto")
        band = np.full((1, per_line), np.nan)
        band[0, : hi - lo] = [kind_index[k] for k in kinds[lo:hi]]
        ax.imshow(
            band,
            cmap=kind_cmap,
            vmin=-0.5,
            vmax=len(KIND_COLORS) - 0.5,
            aspect="auto",
            extent=(-0.5, per_line - 0.5, 0.5, -0.5),
        )
        for r in range(3):
            for c in range(hi - lo):
                value = pos[r, lo + c]
                ax.text(
                    c,
                    r + 1,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.6 * vmax else "black",
                )
        ax.set_yticks(range(4), ["kind", "t", "h", "w"], fontsize=7)
        ax.set_ylim(3.5, -0.5)
        ax.set_xlim(-0.5, per_line - 0.5)
        ticks = list(range(hi - lo))
        ax.set_xticks(
            ticks,
            labels[lo:hi] if labels is not None else [str(lo + i) for i in ticks],
            fontsize=7,
            rotation=90,
        )
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if line == 0 and title:
            ax.set_title(title, fontsize=9, loc="left")
    if own:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in KIND_COLORS.values()]
        fig.legend(handles, list(KIND_COLORS), loc="upper right", ncol=4, fontsize=7, frameon=False)
    return fig


def plot_block_grid(position_ids, start: int, t: int, h: int, w: int, title: str = ""):
    """The ids of one visual block laid out as its grid: one column per axis, one row per time step.

    ``start`` is the index of the block's first pad token; ``t, h, w`` are in merged-token units.
    """
    pos = torch.as_tensor(position_ids).reshape(3, -1)[:, start : start + t * h * w].numpy()
    grids = pos.reshape(3, t, h, w)
    fig, axes = plt.subplots(
        t, 3, figsize=(5.2, 1.0 + 1.1 * t * max(h, 2) / max(w, 2)), dpi=72, squeeze=False
    )
    vmin, vmax = pos.min(), max(pos.max(), pos.min() + 1)
    for ti in range(t):
        for a in range(3):
            ax = axes[ti, a]
            ax.imshow(grids[a, ti], cmap="viridis", vmin=vmin, vmax=vmax)
            for y in range(h):
                for x in range(w):
                    value = grids[a, ti, y, x]
                    ax.text(
                        x,
                        y,
                        str(value),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if value < vmin + 0.6 * (vmax - vmin) else "black",
                    )
            ax.set_xticks([])
            ax.set_yticks([])
            if ti == 0:
                ax.set_title(AXES[a], fontsize=9, color=AXIS_COLORS[a])
            if a == 0 and t > 1:
                ax.set_ylabel(f"grid t={ti}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_video_time(
    seconds_per_grid: Sequence[float], grid_t: int, tokens_per_second: int = 2, start: int = 0
):
    """Temporal id of each temporal grid of a video against the time it starts (one line per sampling)."""
    fig, ax = plt.subplots(figsize=(5.2, 2.8), dpi=72)
    for s, marker in zip(seconds_per_grid, "os^Dv"):
        times = np.arange(grid_t) * s
        ids = start + np.floor(np.arange(grid_t) * s * tokens_per_second).astype(int)
        ax.step(times, ids, where="post", alpha=0.35)
        ax.plot(times, ids, marker, label=f"{s:g} s per grid")
    end = max(seconds_per_grid) * (grid_t - 1)
    ax.plot(
        [0, end],
        [start, start + end * tokens_per_second],
        "k:",
        lw=1,
        label=f"{tokens_per_second} ids per second",
    )
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("temporal id")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_mrope_slots(mrope_section: Sequence[int], inv_freq):
    """Which axis each of the head_dim/2 frequency slots reads, over the slot's rotation speed."""
    from qwen_lite.rope import slot_axes

    axes_of_slot = slot_axes(mrope_section).numpy()
    inv = torch.as_tensor(inv_freq).numpy()
    fig, (band, curve) = plt.subplots(
        2, 1, figsize=(7.5, 2.8), dpi=72, sharex=True, gridspec_kw={"height_ratios": [1, 3]}
    )
    band.imshow(axes_of_slot[None], cmap=ListedColormap(AXIS_COLORS), vmin=-0.5, vmax=2.5, aspect="auto")
    band.set_yticks([])
    edges = np.cumsum([0, *mrope_section])
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        band.text(
            (lo + hi - 1) / 2,
            0,
            f"{AXES[k % 3]}: slots {lo}-{hi - 1}",
            ha="center",
            va="center",
            fontsize=8,
            color="white",
        )
    for a in range(3):
        slots = np.flatnonzero(axes_of_slot == a)
        curve.semilogy(slots, inv[slots], "o", ms=3, color=AXIS_COLORS[a], label=AXES[a])
    curve.set_xlabel("frequency slot i (angle = position x inv_freq[i])")
    curve.set_ylabel("inv_freq (rad / id)")
    curve.legend(fontsize=7, loc="upper right")
    curve.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_tokens(input_ids, tokenizer, chars_per_line: int = 80, collapse: int = 3, title: str | None = None):
    """The tokens of a prompt as coloured boxes, wrapped into lines; runs of pad tokens are collapsed.

    A run of more than ``collapse`` identical ``<|image_pad|>``/``<|video_pad|>`` tokens is drawn as one
    box ``<|image_pad|> x N``. Colours: text, vision markers, image pads, video pads (``KIND_COLORS``).
    """
    ids = torch.as_tensor(input_ids).flatten().tolist()
    kinds = token_kinds(ids)
    boxes, i = [], 0  # (label, kind, id or None)
    while i < len(ids):
        j = i
        while j < len(ids) and ids[j] == ids[i] and kinds[i] in ("image", "video"):
            j += 1
        if j - i > collapse:
            boxes.append((f"{tokenizer.decode([ids[i]])} x {j - i}", kinds[i], None))
            i = j
            continue
        text = tokenizer.decode([ids[i]]).replace("\n", "\\n").replace(" ", "\u00b7")
        boxes.append((text, kinds[i], ids[i]))
        i += 1
    lines, line, used = [], [], 0
    for box in boxes:
        width = max(len(box[0]), 1) + 1
        if used + width > chars_per_line and line:
            lines.append(line)
            line, used = [], 0
        line.append((box, used, width))
        used += width
    lines.append(line)
    fig, ax = plt.subplots(figsize=(chars_per_line * 0.115, 0.42 * len(lines) + 0.3), dpi=72)
    for row, line in enumerate(lines):
        for (label, kind, _token), x, width in line:
            ax.add_patch(
                plt.Rectangle((x, -row - 0.8), width - 0.25, 0.7, color=KIND_COLORS[kind], alpha=0.85)
            )
            ax.text(
                x + (width - 0.25) / 2,
                -row - 0.45,
                label,
                ha="center",
                va="center",
                fontsize=7.5,
                family="monospace",
            )
    ax.set_xlim(0, chars_per_line)
    ax.set_ylim(-len(lines) - 0.1, 0.1)
    ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in KIND_COLORS.values()]
    ax.legend(
        handles,
        list(KIND_COLORS),
        loc="lower right",
        ncol=4,
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(1, 1),
    )
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return fig
