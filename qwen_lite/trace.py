"""An opt-in record of the tensor shapes each stage of the model sees.

>>> with trace_shapes() as trace:
...     model(**inputs)
>>> trace.table()   # one row per stage: name, input shapes, output shapes

When no trace is active, :func:`record` returns at once, so the hooks cost nothing in normal use.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch

_active: list[ShapeTrace] = []


def _shape_of(x):
    if isinstance(x, torch.Tensor):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return x


@dataclass
class ShapeTrace:
    rows: list[tuple[str, object, object]] = field(default_factory=list)

    def add(self, stage: str, inputs, outputs) -> None:
        self.rows.append((stage, _shape_of(inputs), _shape_of(outputs)))

    def table(self) -> str:
        """The trace as a fixed-width text table (stage, input shape, output shape)."""
        cells = [("stage", "input", "output")] + [(s, str(i), str(o)) for s, i, o in self.rows]
        widths = [max(len(row[c]) for row in cells) for c in range(3)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.rows)


@contextlib.contextmanager
def trace_shapes():
    """Record ``(stage, input shapes, output shapes)`` for every stage run inside the block."""
    trace = ShapeTrace()
    _active.append(trace)
    try:
        yield trace
    finally:
        _active.remove(trace)


def record(stage: str, inputs, outputs) -> None:
    """Called by model code at each stage; a no-op unless a :func:`trace_shapes` block is open."""
    for trace in _active:
        trace.add(stage, inputs, outputs)
