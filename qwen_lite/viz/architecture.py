"""Diagrams drawn in code: the whole Qwen2.5-VL on one page, grouped-query heads, the embedding fusion.

Used by the introduction and the decoder chapter. Every function returns a matplotlib figure; the
diagram's numbers come from a :class:`qwen_lite.config.Qwen25VLConfig`, so it always shows the
configuration it is given (the released 3B by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

VISION = "#4c9be8"
TEXT = "#59a14f"
JOIN = "#f28e2b"
INPUT = "#d9d9d9"


GREY_FILL = "#eeeeee"
GREY_EDGE = "#bbbbbb"
GREY_TEXT = "#9a9a9a"


@dataclass(frozen=True)
class _Box:
    """One component of the architecture map: its place (in the 10.5 x 7.6 layout), its title, its detail."""

    key: str
    x: float
    y: float
    w: float
    h: float
    title: str
    lines: tuple[str, ...] = ()
    color: str = INPUT
    short: str = ""  # the title on the mini-map (no numbers, so it reads the same for every preset)


def _box(ax, box: _Box, fontsize=8.5, detail=True, state="normal"):
    """Draw one box. ``state``: "normal", "highlight" (thick edge) or "grey" (faded, for the mini-map)."""
    grey = state == "grey"
    ax.add_patch(
        FancyBboxPatch(
            (box.x, box.y),
            box.w,
            box.h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            fc=GREY_FILL if grey else box.color,
            ec=GREY_EDGE if grey else "#333333",
            lw=2.2 if state == "highlight" else 1,
            alpha=0.9,
        )
    )
    color = GREY_TEXT if grey else "black"
    if not detail:
        ax.text(
            box.x + box.w / 2,
            box.y + box.h / 2,
            box.short or box.title,
            ha="center",
            va="center",
            fontsize=fontsize,
            weight="bold" if state == "highlight" else "normal",
            color=color,
            wrap=True,
        )
        return
    ax.text(
        box.x + box.w / 2,
        box.y + box.h - 0.14,
        box.title,
        ha="center",
        va="top",
        fontsize=fontsize,
        weight="bold",
    )
    for i, line in enumerate(box.lines):
        ax.text(
            box.x + box.w / 2,
            box.y + box.h - 0.42 - 0.24 * i,
            line,
            ha="center",
            va="top",
            fontsize=fontsize - 1.5,
        )


def _arrow(ax, start, end, label="", side="right", color="#333333"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, lw=1.2, color=color))
    if label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        dx = 0.08 if side == "right" else -0.08
        ax.text(
            mx + dx,
            my,
            label,
            ha="left" if side == "right" else "right",
            va="center",
            fontsize=7,
            family="monospace",
            color="#222222",
        )


def architecture_boxes(
    config=None, image_hw: tuple[int, int] = (588, 504), prompt_tokens: int = 26
) -> list[_Box]:
    """The components of :func:`architecture_figure`, each with a key (``"image"``, ``"patchify"``,
    ``"patch_embed"``, ``"blocks"``, ``"merger"``, ``"prompt"``, ``"tokenize"``, ``"embed"``, ``"mrope"``,
    ``"fuse"``, ``"decoder"``, ``"head"``, ``"next"``) that :mod:`qwen_lite.viz.minimap` highlights."""
    from qwen_lite.config import qwen25vl_3b

    c = config or qwen25vl_3b()
    v, t = c.vision, c.text
    gh, gw = image_hw[0] // v.patch_size, image_hw[1] // v.patch_size
    patches = gh * gw
    tokens = patches // v.spatial_merge_size**2
    seq = prompt_tokens - 1 + tokens
    full = ", ".join(map(str, v.fullatt_block_indexes))
    return [
        # inputs
        _Box(
            "image",
            0.3,
            6.55,
            3.2,
            0.85,
            "image",
            (f"{image_hw[1]} x {image_hw[0]} px (multiples of 28)",),
            short="image (or video)",
        ),
        _Box(
            "prompt", 6.6, 6.55, 3.6, 0.85, "chat prompt", ("<|vision_start|><|image_pad|><|vision_end|>...",)
        ),
        # vision side
        _Box(
            "patchify",
            0.3,
            5.25,
            3.2,
            0.95,
            "processor: patchify",
            (f"pixel_values ({patches}, {v.patch_dim})", f"image_grid_thw [1, {gh}, {gw}]"),
            VISION,
            short="resize + patchify",
        ),
        _Box(
            "patch_embed",
            0.3,
            4.05,
            3.2,
            0.85,
            "patch embed (Conv3d 2x14x14)",
            (f"({patches}, {v.hidden_size})",),
            VISION,
            short="patch embed",
        ),
        _Box(
            "blocks",
            0.3,
            2.35,
            3.2,
            1.35,
            f"{v.depth} vision blocks",
            (
                "RMSNorm, attention + 2-D RoPE,",
                "RMSNorm, SwiGLU MLP",
                f"window attention ({v.window_size} px) except",
                f"full attention in blocks {full}",
            ),
            VISION,
            short="vision blocks\n2-D RoPE, window attention",
        ),
        _Box(
            "merger",
            0.3,
            1.15,
            3.2,
            0.85,
            "patch merger (2x2 -> 1)",
            (f"({tokens}, {v.out_hidden_size})",),
            VISION,
            short="patch merger",
        ),
        # text side
        _Box(
            "tokenize",
            6.6,
            5.25,
            3.6,
            0.95,
            "processor: tokenize, expand",
            (f"input_ids (1, {seq})", f"1 placeholder -> {tokens} <|image_pad|>"),
            short="tokenize, expand",
        ),
        _Box("embed", 6.6, 4.05, 2.3, 0.85, "embed_tokens", (f"({seq}, {t.hidden_size})",), TEXT),
        _Box(
            "mrope",
            7.45,
            2.35,
            2.85,
            1.25,
            "M-RoPE: get_rope_index",
            ("position_ids", f"(3, 1, {seq}): t, h, w", f"mrope_section {list(t.mrope_section)}"),
            JOIN,
            short="M-RoPE positions",
        ),
        # the join and the decoder
        _Box("fuse", 3.85, 1.15, 2.45, 0.85, "fuse", ("overwrite the", "<|image_pad|> rows"), JOIN),
        _Box(
            "decoder",
            3.85,
            2.35,
            2.45,
            2.55,
            f"{t.num_hidden_layers} decoder layers",
            (
                "RMSNorm",
                f"GQA {t.num_attention_heads} q / {t.num_key_value_heads} kv heads",
                "q, k, v with bias",
                "M-RoPE on q, k",
                "RMSNorm",
                "SwiGLU MLP",
                f"({seq}, {t.hidden_size})",
            ),
            TEXT,
            short="decoder layers",
        ),
        _Box(
            "head",
            3.85,
            5.25,
            2.45,
            0.95,
            "norm + lm_head",
            (f"logits (1, {seq}, {t.vocab_size:,})", "tied" if t.tie_word_embeddings else "untied"),
            TEXT,
        ),
        _Box("next", 3.85, 6.55, 2.45, 0.85, "next token", ("greedy / sampling", "KV cache for decoding")),
    ]


def draw_architecture(
    ax, boxes: list[_Box], highlight=None, detail: bool = True, fontsize: float = 8.5
) -> None:
    """Draw the boxes and arrows of the architecture map on ``ax`` (limits 10.5 x 7.6, axis off).

    ``highlight``: ``None`` draws every box in its colour; a set of box keys draws those with a thick
    edge and greys the rest (the mini-map). ``detail=False`` writes only each box's short title.
    """
    ax.set_xlim(0, 10.5)
    ax.set_ylim(0, 7.6)
    ax.axis("off")
    for box in boxes:
        state = "normal" if highlight is None else ("highlight" if box.key in highlight else "grey")
        _box(ax, box, fontsize=fontsize, detail=detail, state=state)
    color = "#333333" if highlight is None else GREY_EDGE
    for x, (y0, y1) in [
        (1.9, (6.55, 6.2)),
        (1.9, (5.25, 4.9)),
        (1.9, (4.05, 3.7)),
        (1.9, (2.35, 2.0)),
        (8.4, (6.55, 6.2)),
        (7.75, (5.25, 4.9)),
        (5.075, (2.0, 2.35)),
        (5.075, (4.9, 5.25)),
        (5.075, (6.2, 6.55)),
    ]:
        _arrow(ax, (x, y0), (x, y1), color=color)
    if detail:
        _arrow(ax, (9.6, 5.25), (9.6, 3.6), "input_ids,", side="right", color=color)
        ax.text(9.68, 4.15, "grids", fontsize=7, family="monospace")
    else:
        _arrow(ax, (9.6, 5.25), (9.6, 3.6), color=color)
    _arrow(ax, (3.5, 1.57), (3.85, 1.57), color=color)  # merger -> fuse
    ax.plot([7.0, 7.0], [4.05, 1.57], color=color, lw=1.2)  # embeddings -> fuse
    _arrow(ax, (7.0, 1.57), (6.3, 1.57), color=color)
    _arrow(ax, (7.45, 2.95), (6.3, 2.95), color=color)  # positions -> decoder


def architecture_figure(config=None, image_hw: tuple[int, int] = (588, 504), prompt_tokens: int = 26):
    """Qwen2.5-VL on one page: processor, vision tower, merger, fusion, M-RoPE, decoder, lm_head.

    Shapes are written for one image of ``image_hw`` pixels (already a multiple of 28) in a chat prompt of
    ``prompt_tokens`` template tokens (one of them the ``<|image_pad|>`` placeholder).
    """
    from qwen_lite.config import qwen25vl_3b

    c = config or qwen25vl_3b()
    v, t = c.vision, c.text
    fig, ax = plt.subplots(figsize=(10.5, 7.6), dpi=80)
    draw_architecture(ax, architecture_boxes(c, image_hw, prompt_tokens))
    ax.text(
        5.25,
        0.6,
        f"The vision tower ({v.depth} blocks, width {v.hidden_size}) is the same in 3B, 7B and 72B; "
        f"the decoder shown is {t.num_hidden_layers} layers wide {t.hidden_size}.",
        fontsize=7.5,
        ha="center",
        color="#444444",
    )
    fig.tight_layout()
    return fig


def plot_gqa(num_heads: int, num_kv_heads: int, title: str = ""):
    """Query heads (top) and the key/value heads they share (bottom), one line per query head."""
    group = num_heads // num_kv_heads
    fig, ax = plt.subplots(figsize=(7.5, 1.9), dpi=72)
    q_x = np.linspace(0, 1, num_heads) if num_heads > 1 else np.array([0.5])
    kv_x = np.array([q_x[i * group : (i + 1) * group].mean() for i in range(num_kv_heads)])
    colors = plt.get_cmap("tab10")(np.arange(num_kv_heads) % 10)
    for h in range(num_heads):
        ax.plot([q_x[h], kv_x[h // group]], [1, 0], color=colors[h // group], lw=0.8, alpha=0.6)
    ax.scatter(
        q_x,
        np.ones(num_heads),
        s=max(8, 900 / num_heads),
        marker="s",
        c=colors[np.arange(num_heads) // group],
    )
    ax.scatter(kv_x, np.zeros(num_kv_heads), s=160, marker="s", c=colors, edgecolors="k")
    ax.text(-0.02, 1, f"{num_heads} query heads", ha="right", va="center", fontsize=8)
    ax.text(-0.02, 0, f"{num_kv_heads} k/v heads", ha="right", va="center", fontsize=8)
    ax.set_xlim(-0.3, 1.05)
    ax.set_ylim(-0.35, 1.35)
    ax.axis("off")
    ax.set_title(title or f"grouped-query attention: {group} query heads share each k/v head", fontsize=9)
    fig.tight_layout()
    return fig


def gqa_views(presets: dict) -> list[tuple[str, bytes]]:
    """(name, PNG) of :func:`plot_gqa` for each ``{name: config}``, for :func:`qwen_lite.viz.linked_views`."""
    from qwen_lite.viz import fig_to_png

    views = []
    for name, config in presets.items():
        t = config.text
        kv_bytes = 2 * t.num_hidden_layers * t.num_key_value_heads * t.head_dim * 2
        title = (
            f"{name}: {t.num_attention_heads} query heads, {t.num_key_value_heads} k/v heads; "
            f"KV cache {kv_bytes // 1024} KiB per token in bf16 ({t.num_hidden_layers} layers)"
        )
        views.append((name, fig_to_png(plot_gqa(t.num_attention_heads, t.num_key_value_heads, title))))
    return views


def plot_fusion(before, after, is_placeholder, labels=None, title: str = ""):
    """The (l, dim) input embeddings before and after the vision vectors are written in.

    ``before``/``after``: (l dim); ``is_placeholder``: (l) bool. Overwritten rows are outlined.
    """
    before, after = torch.as_tensor(before).detach().numpy(), torch.as_tensor(after).detach().numpy()
    mask = torch.as_tensor(is_placeholder).numpy().astype(bool)
    length = before.shape[0]
    fig, axes = plt.subplots(
        1, 3, figsize=(9.5, 0.16 * length + 1.2), dpi=72, gridspec_kw={"width_ratios": [8, 8, 1.2]}
    )
    limit = float(np.abs(np.concatenate([before, after])).max())
    for ax, data, name in zip(axes[:2], (before, after), ("embed_tokens(input_ids)", "after the fusion")):
        ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("hidden dimension", fontsize=8)
        rows = np.flatnonzero(mask)
        if len(rows):
            ax.add_patch(
                plt.Rectangle((-0.5, rows.min() - 0.5), data.shape[1], len(rows), fill=False, ec=JOIN, lw=2)
            )
        ax.set_yticks(range(length), labels if labels is not None else range(length), fontsize=6.5)
        ax.tick_params(axis="x", labelsize=7)
    changed = np.abs(after - before).max(-1) > 0
    axes[2].imshow(changed[:, None], cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    axes[2].set_title("changed", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
