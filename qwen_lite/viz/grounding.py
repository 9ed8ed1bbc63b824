"""Drawing grounding answers (chapter 15): boxes and points with their labels, on a PIL image.

Colours come from Okabe & Ito's colour-blind-safe palette (the one the live widgets use), one per
label, in answer order. The objects must already be in the pixels of the image they are drawn on
(:func:`qwen_lite.grounding.to_original` maps a model answer to the original photo).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from PIL import Image, ImageDraw

from qwen_lite.grounding import Box, Point
from qwen_lite.viz.canvas import font

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#000000",  # black
)


def _colours(objects, palette) -> list[str]:
    """One colour per distinct label (unlabelled objects each get the next colour)."""
    by_label: dict = {}
    out = []
    for k, obj in enumerate(objects):
        key = obj.label if obj.label is not None else ("unlabelled", k)
        if key not in by_label:
            by_label[key] = palette[len(by_label) % len(palette)]
        out.append(by_label[key])
    return out


def draw_grounding(
    image: Image.Image, objects, *, line_width: int = 3, point_radius: int = 6, font_size: int = 14,
    palette=OKABE_ITO,
) -> Image.Image:  # fmt: skip
    """A copy of ``image`` (RGB) with ``objects`` drawn: boxes as outlines, points as rings with a dot, each
    labelled (on a filled tag, so the text reads on any background). Coordinates are pixels of ``image``;
    parts outside it are clipped by PIL. Errors: ``image`` not a PIL image, objects not Box / Point."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"image: expected a PIL image, got {type(image).__name__}")
    objects = [objects] if isinstance(objects, (Box, Point)) else list(objects)
    for k, obj in enumerate(objects):
        if not isinstance(obj, (Box, Point)):
            raise TypeError(f"objects[{k}]: expected a Box or a Point, got {type(obj).__name__}")
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    text_font = font(font_size)
    for obj, colour in zip(objects, _colours(objects, palette)):
        if isinstance(obj, Box):
            draw.rectangle(obj.as_list(), outline=colour, width=line_width)
            anchor = (obj.x1, obj.y1)
        else:
            r = point_radius
            draw.ellipse([obj.x - r, obj.y - r, obj.x + r, obj.y + r], outline=colour, width=line_width)
            draw.ellipse([obj.x - 1.5, obj.y - 1.5, obj.x + 1.5, obj.y + 1.5], fill=colour)
            anchor = (obj.x + r + 2, obj.y - r)
        if obj.label:
            left, top, right, bottom = draw.textbbox(anchor, obj.label, font=text_font, anchor="lb")
            draw.rectangle([left - 2, top - 2, right + 2, bottom + 1], fill=colour)
            text_colour = "white" if colour in ("#0072B2", "#000000", "#D55E00", "#009E73") else "black"
            draw.text(anchor, obj.label, fill=text_colour, font=text_font, anchor="lb")
    return canvas


def panels_figure(panels, *, width: float = 11.0, dpi: int = 80):
    """Side-by-side images with titles: ``panels`` is a list of ``(title, PIL image)``. Each image is
    shown at its own pixel scale (a smaller resized image looks smaller), axes in its pixels."""
    panels = list(panels)
    widest = max(image.width for _, image in panels)
    tallest = max(image.height for _, image in panels)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(width, width / len(panels) * tallest / widest + 0.6), dpi=dpi, squeeze=False
    )
    for ax, (title, image) in zip(axes[0], panels):
        ax.imshow(image, extent=(0, image.width, image.height, 0))
        ax.set_xlim(0, widest)
        ax.set_ylim(tallest, 0)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
