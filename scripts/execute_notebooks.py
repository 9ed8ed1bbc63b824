"""Re-execute the book's notebooks in place, deterministically, and store their widget state.

    .venv/bin/python scripts/execute_notebooks.py            # every chapter in book/
    .venv/bin/python scripts/execute_notebooks.py book/preface.ipynb

No timing metadata is written, and the chapters seed everything, so a second run changes nothing
that nbval compares (widget model ids do change: nbval ignores them).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    _drop_live_widget_state(nb)
    nb.metadata.pop("widgets", None) if not _has_widgets(nb) else None
    nbformat.write(nb, path)
    return seconds


def _drop_live_widget_state(nb) -> None:
    """Remove the saved state of live widgets (anywidget models) from the notebook's metadata.

    A live widget's output carries its own state as ``text/html`` (qwen_lite.viz.live.static_html),
    which the site renders; its anywidget model (the bundled JS, the photo) would only bloat the file.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    for model_id in [k for k, v in models.items() if v.get("model_module") == "anywidget"]:
        del models[model_id]


def _has_widgets(nb) -> bool:
    """Whether an output still shows a classic ipywidgets view (one that needs the saved state)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    return any(
        out.get("data", {}).get("application/vnd.jupyter.widget-view+json", {}).get("model_id") in models
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


def main(argv: list[str]) -> int:
    os.environ["OMP_NUM_THREADS"] = "2"  # written at 2 threads; CI verifies at 1 (scripts/test.sh)
    paths = [Path(a) for a in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    total = 0.0
    for path in paths:
        seconds = execute(path.resolve())
        total += seconds
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT) if path.is_absolute() else path}", flush=True)
    print(f"{total:6.1f} s  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
