"""Numbers in the book's prose are glued, not typed (issue 14; logic in scripts/prose_numbers.py).

Every notebook of the book and the notation page are checked (`python scripts/prose_numbers.py
book/<page>` shows one page's findings). The synthetic tests show the check can fail and pin down the
allow-list.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

CLEAN = [*sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.ipynb")), "book/notation.md"]


def _load():
    spec = importlib.util.spec_from_file_location("prose_numbers", ROOT / "scripts" / "prose_numbers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["prose_numbers"] = module
    spec.loader.exec_module(module)
    return module


prose_numbers = _load()
MD = prose_numbers.markdown_parser(ROOT)


def numbers(markdown: str) -> list[str]:
    return [f.number for f in prose_numbers.find_numbers(markdown, "test", MD)]


@pytest.mark.parametrize("page", CLEAN)
def test_clean_pages_have_no_hand_typed_numbers(page):
    findings = prose_numbers.page_findings(ROOT / page, MD)
    assert not findings, f"{page}: glue these numbers or reword:\n" + "\n".join(map(str, findings))


def test_hand_typed_model_numbers_are_flagged():
    text = (
        "The tower has 32 blocks of width 1280, full attention in blocks 7/15/23/31, windows of 112 px "
        "(112px), 14 x 14 patches, a budget of 1,003,520 px, 0.5 of them, the 4th block.\n"
    )
    assert numbers(text) == [
        "32",
        "1280",
        "7",
        "15",
        "23",
        "31",
        "112",
        "112",
        "14",
        "14",
        "1,003,520",
        "0.5",
        "4",
    ]


@pytest.mark.parametrize(
    "where",
    [
        "| blocks | 32 |\n| --- | --- |\n| x | 1 |\n",  # a table cell
        "## The 32 blocks\n",  # a heading (not its leading number)
        "```{note}\nThe 32 blocks.\n```\n",  # an admonition's body
        ":::{admonition} 32 blocks\nText.\n:::\n",  # an admonition's title
        "* a list item with 32 blocks\n",
        "**32** blocks, *32* blocks\n",
    ],
)
def test_numbers_are_found_wherever_prose_is(where):
    assert "32" in numbers(where)


def test_allowed_literals_pass():
    text = (
        "Qwen2.5-VL-72B and the 3B, 7B, 32B models (2025), transformers 4.57.6 or 5.x, Python 3.11, "
        "arXiv 2502.13923, issue #14, issues 3 and 4, chapter 5, §2.1, Exercise 5.2, Table 2, step 3, "
        "2-D and 3-D RoPE, 2D, the 2×2 merge (2x2, 2 × 2), bf16, fp32, Conv3d, index 0, one or 1 image.\n"
    )
    assert numbers(text) == []


def test_code_math_roles_links_labels_and_urls_are_not_prose():
    text = (
        "(label-32)=\n# 5 Title\n\n% a comment with 32\n\n"
        "`32` and $32 \\times 14$ and {glue:text}`ch05_32` and {cite:t}`vaswani2017attention` and "
        "[32 blocks](https://example.org/32) and <https://example.org/1234> and https://example.org/99 "
        "and ![a 32 px image](x.png).\n\n```python\nx = 32\n```\n\n$$\n32\n$$\n\n"
        "```{math}\n32\n```\n\n```{glue:md} ch05_table\n```\n"
    )
    assert numbers(text) == []


def test_a_synthetic_notebook_is_reported_by_cell_and_line(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title\n\nNothing here."),
            nbformat.v4.new_code_cell("blocks = 32  # code is not prose"),
            nbformat.v4.new_markdown_cell("First line.\n\nThe tower has 32 blocks."),
        ]
    )
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    findings = prose_numbers.page_findings(path, MD)
    assert [(f.where, f.number) for f in findings] == [("cell 2, line 3", "32")]
    assert "tower has 32 blocks" in findings[0].context
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "prose_numbers.py"), str(path)],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 1 and "1 hand-typed number(s)" in run.stdout and "cell 2, line 3" in run.stdout
