"""The kernel side of a live widget: an anywidget whose front end is one of this folder's ES modules.

A widget is a subclass that names its module and declares its inputs as traits tagged
``sync=True, live=True``::

    class PixelsWidget(LiveWidget):
        module = "pixels"
        width = traitlets.Int(448).tag(sync=True, live=True)

Its output carries the widget view (Jupyter, Colab) and :func:`~qwen_lite.viz.live.static_html`
(the static site), built from the same state.
"""

from __future__ import annotations

from typing import ClassVar

try:
    import anywidget
except ImportError as error:  # pragma: no cover - the viz extra installs it
    raise ImportError(
        "live widgets need anywidget: pip install 'qwen-lite[viz]' (or: pip install anywidget)"
    ) from error

from . import bundle, static_html


class LiveWidget(anywidget.AnyWidget):
    """Base class of the book's live widgets (ipywidgets 7.7 and 8)."""

    module: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("module"):
            cls._esm = bundle(cls.module)
        super().__init_subclass__(**kwargs)

    def state(self) -> dict:
        """The widget's inputs: every trait tagged ``live=True``, by name."""
        return {name: getattr(self, name) for name in sorted(self.traits(live=True))}

    def _repr_mimebundle_(self, **kwargs):
        parent = getattr(super(), "_repr_mimebundle_", None)
        if parent is not None:  # anywidget >= 0.10 (any ipywidgets), or ipywidgets 8
            data, metadata = parent(**kwargs)
        else:  # ipywidgets 7 with anywidget < 0.10: the bundle ipywidgets 7's _ipython_display_ builds
            view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
            data, metadata = {"text/plain": repr(self), "application/vnd.jupyter.widget-view+json": view}, {}
        return {**data, "text/html": static_html(self.module, self.state())}, metadata

    def _ipython_display_(self, **kwargs):  # ipywidgets 7 displays widgets through this hook
        from IPython.display import display

        data, metadata = self._repr_mimebundle_()
        display(data, metadata=metadata, raw=True)
        handle_displayed = getattr(self, "_handle_displayed", None)  # ipywidgets 7's on_displayed callbacks
        if handle_displayed is not None:
            handle_displayed(**kwargs)
