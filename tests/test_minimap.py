"""The chapters' mini-map (qwen_lite.viz.minimap): every part draws, deterministically, with the right
boxes highlighted; an unknown part is refused with the list of valid ones."""

import hashlib

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.patches import FancyBboxPatch  # noqa: E402

from qwen_lite.viz import fig_to_png  # noqa: E402
from qwen_lite.viz.architecture import GREY_FILL, architecture_boxes, architecture_figure  # noqa: E402
from qwen_lite.viz.minimap import PARTS, minimap, minimap_figure  # noqa: E402

BOOK_PARTS = [
    "pixels", "patch_embed", "rotary_2d", "window_attention", "vision_tower", "merger", "tokens", "mrope",
    "decoder", "parity", "generation", "video", "real_model", "efficiency", "grounding", "training",
]  # fmt: skip


def test_the_parts_are_the_books():
    assert list(PARTS) == BOOK_PARTS
    keys = {box.key for box in architecture_boxes()}
    for part, (highlight, caption) in PARTS.items():
        assert highlight and highlight <= keys, part
        assert caption


@pytest.mark.parametrize("part", BOOK_PARTS)
def test_highlighted_boxes_are_coloured_and_the_rest_grey(part):
    fig = minimap_figure(part)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(architecture_boxes())
    grey = matplotlib.colors.to_rgba(GREY_FILL, 0.9)
    coloured = sum(tuple(b.get_facecolor()) != grey for b in boxes)
    assert coloured == len(PARTS[part][0])
    width, height = fig.get_size_inches() * fig.dpi
    assert width <= 480 and height <= 300  # small enough to sit above a chapter's text
    fig_to_png(fig)


def test_png_is_deterministic_and_differs_between_parts():
    first = fig_to_png(minimap_figure("mrope"))
    assert fig_to_png(minimap_figure("mrope")) == first
    assert fig_to_png(minimap_figure("decoder")) != first
    assert first.startswith(b"\x89PNG")


def test_all_parts_draw_distinct_maps_where_their_highlights_differ():
    digests = {part: hashlib.sha256(fig_to_png(minimap_figure(part))).hexdigest() for part in BOOK_PARTS}
    assert len(set(digests.values())) == len(BOOK_PARTS)  # the caption differs even where the boxes agree


@pytest.mark.parametrize("bad", ["decoders", "", "Decoder", None, 3])
def test_unknown_part_names_the_valid_ones(bad):
    with pytest.raises(ValueError, match="part must be one of") as info:
        minimap_figure(bad)
    assert "'window_attention'" in str(info.value) and repr(bad) in str(info.value)


def test_full_figure_still_draws_every_box_in_colour():
    fig = architecture_figure()
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    grey = matplotlib.colors.to_rgba(GREY_FILL, 0.9)
    assert len(boxes) == len(architecture_boxes())
    assert all(tuple(b.get_facecolor()) != grey for b in boxes)
    fig_to_png(fig)


def test_minimap_displays_one_png_and_returns_nothing(monkeypatch):
    """A chapter cell stores one image whatever the kernel does with a trailing ';' (nbval ignores it)."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    assert minimap("merger") is None
    assert len(shown) == 1 and shown[0].data == fig_to_png(minimap_figure("merger"))
    assert matplotlib.pyplot.get_fignums() == []  # the figure is closed, so the inline backend adds nothing
    with pytest.raises(ValueError, match="part must be one of"):
        minimap("nope")
