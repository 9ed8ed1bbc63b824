"""Figures and widgets for the book. Model code never imports this module.

Widgets here are built to work three ways: in Jupyter or Colab with a kernel, and on the static
book site *without* one. For the static site every view is precomputed (an ``Image`` of a rendered
figure) and the controls are linked to a ``Tab``'s ``selected_index`` with ``jslink``, which runs in
the browser. Only APIs present in both ipywidgets 7.7 (Colab) and 8 are used: ``Tab`` rather than
``Stack``, ``set_title`` rather than ``Tab(titles=...)``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def sample_photo() -> Image.Image:
    """A real photograph that ships with matplotlib (Grace Hopper, 512x600 px), as RGB."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return Image.open(f).convert("RGB")


def fig_to_png(fig) -> bytes:
    """Render a figure to PNG bytes (no timestamp metadata, so the bytes are reproducible) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def linked_views(views: Sequence[tuple[str, object]], description: str = "view", width: str = "640px"):
    """A slider that flips between precomputed views, client-side (works on the static site).

    ``views`` is a list of ``(title, content)``; ``content`` is PNG bytes or any widget.
    """
    titles = [title for title, _ in views]
    if not titles:
        raise ValueError("views: expected at least one (title, content) pair, got none")
    return linked_grid([(description, titles)], lambda i: views[i][1], width=width)


LINKED_TABS_CLASS = "ql-linked-tabs"
# The tab bar's classes: ipywidgets 7 (Phosphor: p-TabBar) and 8 (Lumino: lm-TabBar) both add widget-tab-bar.
LINKED_TABS_STYLE = (
    "<style>"
    + ", ".join(f".{LINKED_TABS_CLASS} > .{bar}" for bar in ("widget-tab-bar", "p-TabBar", "lm-TabBar"))
    + " { display: none !important; }</style>"
)


def linked_grid(controls: Sequence[tuple[str, Sequence[str]]], render, width: str = "640px"):
    """Several sliders over a grid of precomputed views, linked client-side.

    ``controls`` is a list of ``(description, option labels)``; ``render(i, j, ...)`` returns the
    view (PNG bytes or a widget) for option ``i`` of the first control, ``j`` of the second, and so on.
    Every combination is rendered once, up front, into nested ``Tab`` widgets; each slider's
    ``index`` is ``jslink``-ed to the ``selected_index`` of every tab at its level, so moving a
    slider in the browser shows the matching view with no kernel. The sliders are the only controls:
    every ``Tab`` carries the DOM class :data:`LINKED_TABS_CLASS` and a ``<style>`` (an ``HTML`` widget,
    rendered by the kernel's front end and by the static site's widget manager alike) hides its tab bar.
    Returns ``VBox(style, sliders..., tabs)``.
    """
    import ipywidgets as widgets

    sliders = [
        widgets.SelectionSlider(
            options=list(labels),
            description=description,
            continuous_update=True,
            style={"description_width": "initial"},
            layout=widgets.Layout(width=width),
        )
        for description, labels in controls
    ]

    def build(level: int, chosen: tuple[int, ...]):
        if level == len(controls):
            view = render(*chosen)
            if isinstance(view, bytes):
                return widgets.Image(value=view, format="png", layout=widgets.Layout(width=width))
            return view
        labels = controls[level][1]
        tab = widgets.Tab(children=[build(level + 1, (*chosen, i)) for i in range(len(labels))])
        tab.add_class(LINKED_TABS_CLASS)
        for i, label in enumerate(labels):
            tab.set_title(i, str(label))
        widgets.jslink((sliders[level], "index"), (tab, "selected_index"))
        return tab

    return widgets.VBox([widgets.HTML(LINKED_TABS_STYLE), *sliders, build(0, ())])


def draw_grid(ax, height: int, width: int, step: int, **line_kwargs) -> None:
    """Draw grid lines every ``step`` pixels over an image of ``height`` x ``width`` on ``ax``."""
    ax.vlines(np.arange(0, width + 1, step) - 0.5, -0.5, height - 0.5, **line_kwargs)
    ax.hlines(np.arange(0, height + 1, step) - 0.5, -0.5, width - 0.5, **line_kwargs)


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's prose ({glue}`name`); a no-op outside the book build.

    myst-nb is only installed where the book is built, not on Colab, so chapters call this wrapper.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
