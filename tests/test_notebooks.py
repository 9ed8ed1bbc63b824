"""Guards for the committed chapters (nbval itself runs them; these catch what nbval cannot)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        if "root" in node:
            files.append(node["root"])
        for value in node.values():
            files += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            files += _toc_files(item)
    return files


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks found in book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_is_executed_in_order(path):
    """nbval passes unexecuted cells silently, so a committed notebook must be fully executed."""
    nb = nbformat.read(path, as_version=4)
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert None not in counts, f"{path.name}: code cell {counts.index(None) + 1} was never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts} are not 1..n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_the_package_only_on_colab(path):
    """One setting (the repository URL in _config.yml) drives the Colab launch button and this line."""
    nb = nbformat.read(path, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    url = CONFIG["repository"]["url"]
    branch = CONFIG["repository"]["branch"]
    assert 'if "google.colab" in sys.modules:' in first.source, f"{path.name}: first cell has no Colab guard"
    assert f'%pip install -q "qwen-lite @ git+{url}@{branch}"' in first.source, (
        f"{path.name}: the Colab install line must install {url}@{branch} (the repository in _config.yml)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_timing_metadata_or_error_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        assert "execution" not in cell.metadata, f"{path.name}: cell {i} stores timing metadata"
        if cell.cell_type == "code":
            for out in cell.outputs:
                assert out.output_type != "error", f"{path.name}: cell {i} stores an error output"
                if out.output_type == "stream" and out.name == "stderr":
                    assert not re.search(r"Warning|Traceback", out.text), f"{path.name}: cell {i} warns"


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {Path(f).with_suffix("").as_posix() for f in _toc_files(toc)}
    for path in NOTEBOOKS:
        assert path.relative_to(ROOT).with_suffix("").as_posix() in listed, f"{path.name} is not in _toc.yml"
    for name in listed:
        assert any((ROOT / name).with_suffix(ext).exists() for ext in (".ipynb", ".md")), f"missing {name}"


def test_no_root_static_folder():
    """Jupyter Book 1 injects every file of a root `_static/` folder into every page."""
    assert not (ROOT / "_static").exists()
