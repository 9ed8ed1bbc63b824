"""The book's mini-map: the architecture map of :mod:`qwen_lite.viz.architecture`, small, with one
chapter's component highlighted and the rest greyed.

Each chapter opens with ``minimap("<part>");`` (in a cell tagged ``hide-input``) so the reader sees
where the piece in hand sits in the whole model. The drawing is the same one the introduction shows
in full (:func:`qwen_lite.viz.architecture.draw_architecture`), without the shapes: only the short
titles, so the map reads the same whatever the preset.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from qwen_lite.viz.architecture import architecture_boxes, draw_architecture

_ALL = frozenset(
    {
        "image",
        "prompt",
        "patchify",
        "patch_embed",
        "blocks",
        "merger",
        "tokenize",
        "embed",
        "mrope",
        "fuse",
        "decoder",
        "head",
        "next",
    }
)

#: part -> (box keys highlighted, the caption under the map)
PARTS: dict[str, tuple[frozenset[str], str]] = {
    "pixels": (frozenset({"image", "patchify"}), "pixels to patches: resize, cut, flatten"),
    "patch_embed": (frozenset({"patch_embed"}), "patch embedding: one linear map per patch"),
    "rotary_2d": (frozenset({"blocks"}), "2-D rotary positions, inside the vision blocks"),
    "window_attention": (frozenset({"blocks"}), "window attention, inside the vision blocks"),
    "vision_tower": (frozenset({"patch_embed", "blocks", "merger"}), "the vision tower, assembled"),
    "merger": (frozenset({"merger"}), "the 2×2 patch merger"),
    "tokens": (frozenset({"prompt", "tokenize", "embed"}), "tokens and the chat template"),
    "mrope": (frozenset({"mrope"}), "M-RoPE: three position ids per token"),
    "decoder": (frozenset({"fuse", "decoder", "head"}), "the fusion and the decoder"),
    "parity": (_ALL, "the whole model, checked against transformers"),
    "generation": (frozenset({"head", "next"}), "generation: one token at a time, with a KV cache"),
    "video": (frozenset({"image", "patchify", "mrope"}), "video: frames, patches of two, absolute time"),
    "real_model": (_ALL, "the released model, loaded and run"),
    "efficiency": (frozenset({"patchify", "blocks", "decoder", "next"}), "where the time and the memory go"),
    "grounding": (
        frozenset({"image", "patchify", "next"}),
        "grounding: coordinates in the resized image's pixels",
    ),
    "training": (
        frozenset({"head", "next"} | {"decoder", "merger", "blocks"}),
        "training: a loss on the next token",
    ),
}


def minimap_figure(part: str):
    """The architecture map, small, with ``part``'s components highlighted, as a matplotlib figure.

    ``part`` is one of :data:`PARTS` (``"pixels"``, ``"patch_embed"``, ... ``"training"``), the chapter's
    component. The figure is about 450 x 270 px; its PNG (:func:`qwen_lite.viz.fig_to_png`) is the same
    bytes on every call.

    Raises ``ValueError`` naming the valid parts when ``part`` is not one of them.
    """
    if not isinstance(part, str) or part not in PARTS:
        raise ValueError(f"minimap: part must be one of {', '.join(map(repr, PARTS))}; got {part!r}")
    keys, caption = PARTS[part]
    fig, ax = plt.subplots(figsize=(5.6, 3.35), dpi=80)
    draw_architecture(ax, architecture_boxes(), highlight=keys, detail=False, fontsize=6.5)
    ax.set_ylim(0.55, 7.5)
    ax.text(5.25, 0.75, f"this chapter: {caption}", ha="center", va="center", fontsize=7.5, style="italic")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
    return fig


def minimap(part: str) -> None:
    """Show the mini-map of ``part`` in the notebook, as a static PNG; returns ``None``.

    The chapter cell is ``minimap("<part>");``. The image is displayed from here (IPython's ``display``)
    and the figure closed, and nothing is returned, so the cell stores one ``image/png`` output whether
    or not the kernel honours the trailing ``;`` (nbval's kernel does not: a returned figure would be
    shown twice there). For the figure itself use :func:`minimap_figure`. Raises ``ValueError`` for an
    unknown ``part``, as :func:`minimap_figure`.
    """
    from IPython.display import Image, display

    from qwen_lite.viz import fig_to_png

    display(Image(fig_to_png(minimap_figure(part))))
