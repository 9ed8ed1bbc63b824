"""Guards for the committed chapters (nbval itself runs them; these catch what nbval cannot)."""

from __future__ import annotations

import json
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
    assert f'%pip install -q "qwen-lite[viz] @ git+{url}@{branch}"' in first.source, (
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


# --- Committed outputs must not depend on floating-point round-off -------------------------------------
# CI verifies the chapters at a different torch thread count from the one that wrote them
# (scripts/test.sh), and a reader's CPU has other kernels: a printed residual such as
# `largest logit difference: 4.8e-07` changes with both. A chapter prints what it asserts ("below 1e-5"),
# a bound, or a value rounded so it cannot flip. This guard catches the usual shapes of the fault in every
# output nbval compares: a number in scientific notation that is not exactly zero, and a decimal with 7 or
# more significant digits. Either is allowed only when it equals a literal written in the cell's source
# (an asserted tolerance `1e-5` prints as `1e-05`).

# nbval compares every output key except these (nbval/plugin.py, IPyNbFile.skip_compare).
_NOT_COMPARED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}
_IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}
_IGNORE_COMMENTS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "PYTEST_VALIDATE_IGNORE_OUTPUT"}
_NUMBER_EDGE_BEFORE, _NUMBER_EDGE_AFTER = r"(?<![\w.])", r"(?![\w]|\.\d)"
_SCIENTIFIC = re.compile(_NUMBER_EDGE_BEFORE + r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+" + _NUMBER_EDGE_AFTER)
_DECIMAL = re.compile(_NUMBER_EDGE_BEFORE + r"[-+]?\d*\.\d+" + _NUMBER_EDGE_AFTER)
_SOURCE_LITERAL = re.compile(
    _NUMBER_EDGE_BEFORE + r"(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?" + _NUMBER_EDGE_AFTER
)


def _compared_texts(cell) -> list[str]:
    """The text of every output of a code cell that nbval compares (empty when the cell opts out)."""
    tags = set(cell.metadata.get("tags", []))
    comments = {
        line.strip().lstrip("#").strip() for line in cell.source.splitlines() if line.strip()[:1] == "#"
    }
    if tags & _IGNORE_TAGS or comments & _IGNORE_COMMENTS:
        return []
    texts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            texts.append(out.text)
        for mime, value in out.get("data", {}).items():
            if mime not in _NOT_COMPARED:
                texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def _significant_digits(number: str) -> int:
    """Digits of a decimal after dropping the sign, leading zeros and trailing zeros of the fraction."""
    whole, _, fraction = number.lstrip("+-").partition(".")
    return len((whole + fraction.rstrip("0")).lstrip("0"))


def unstable_numbers(nb) -> list[str]:
    """`cell i: 'value' (why)` for every printed number in a compared output that may be float round-off.

    Flagged: a number in scientific notation that is not exactly zero, and a decimal with a fractional part
    and 7 or more significant digits (an unrounded float), unless it equals a numeric literal in the
    cell's source (a tolerance the cell asserts, printed back).
    """
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        literals = {float(m.replace("_", "")) for m in _SOURCE_LITERAL.findall(cell.source) if m != "."}
        for text in _compared_texts(cell):
            for match in _SCIENTIFIC.finditer(text):
                value = float(match.group())
                if value != 0.0 and value not in literals:
                    problems.append(f"cell {i}: {match.group()!r} (scientific notation, not zero)")
            for match in _DECIMAL.finditer(_SCIENTIFIC.sub(" ", text)):
                value = float(match.group())
                if _significant_digits(match.group()) >= 7 and value != int(value) and value not in literals:
                    problems.append(f"cell {i}: {match.group()!r} (7+ significant digits, unrounded)")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_round_off_in_compared_outputs(path):
    problems = unstable_numbers(nbformat.read(path, as_version=4))
    assert not problems, (
        f"{path.name}: outputs that nbval compares print float round-off (it changes with the thread count "
        "and the CPU); print what the cell asserts, a bound, or a rounded value instead:\n  "
        + "\n  ".join(problems)
    )


def _notebook(*cells):
    """A synthetic executed notebook: each cell is (source, stream text, tags, data)."""
    nb = nbformat.v4.new_notebook()
    for source, text, tags, data in cells:
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
        if data:
            outputs.append(nbformat.v4.new_output("display_data", data=data))
        nb.cells.append(nbformat.v4.new_code_cell(source, outputs=outputs, metadata={"tags": tags}))
    return nb


def test_round_off_guard_catches_the_chapter_11_residual():
    """The print that failed CI on another machine (issue 11): a raw residual in scientific notation."""
    source = 'print(f"largest logit difference over 8 steps: {(a - b).abs().max().item():.1e}")'
    nb = _notebook((source, "largest logit difference over 8 steps: 7.2e-07\n", [], None))
    assert unstable_numbers(nb) == ["cell 0: '7.2e-07' (scientific notation, not zero)"]


def test_round_off_guard_flags_every_compared_kind_of_output():
    nb = _notebook(
        ("x = 1", "", [], {"application/papermill.record/text/plain": "'1.5E-05'"}),  # a glued value
        ("loss", "", [], {"text/plain": "0.0751234516"}),  # an unrounded float32
        ("table", "", [], {"text/html": "<td>-3.2e-8</td>"}),
        ("md", "", [], {"text/markdown": "| 2.345678 |"}),
    )
    assert unstable_numbers(nb) == [
        "cell 0: '1.5E-05' (scientific notation, not zero)",
        "cell 1: '0.0751234516' (7+ significant digits, unrounded)",
        "cell 2: '-3.2e-8' (scientific notation, not zero)",
        "cell 3: '2.345678' (7+ significant digits, unrounded)",
    ]


def test_round_off_guard_allows_zero_asserted_literals_rounded_values_and_ignored_cells():
    nb = _notebook(
        ("assert d < 1e-5\nprint('below', 1e-5)", "below 1e-05\n", [], None),  # the asserted tolerance
        ("print(f'{0.0:.2e}')", "0.00e+00\n", [], None),  # exactly zero
        ("print(round(x, 3), 1000000.0)", "0.075 1000000.0 torch 2.13.0+cpu\n", [], None),
        ("print(f'{t:.1f} ms')", "95.123456 ms 4.8e-07\n", ["nbval-ignore-output"], None),  # a timing
        ("# NBVAL_IGNORE_OUTPUT\nprint(t)", "0.0123456789\n", [], None),
        ("show(img)", "", [], {"image/png": "iVBORw0KGgo1.5e-05"}),  # images are not compared
    )
    assert unstable_numbers(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_chapter_fixes_its_thread_count(path):
    """CI verifies the chapters at another thread count than the one that wrote them (scripts/test.sh);
    a chapter that sets its own would escape that check."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert "set_num_threads" not in cell.source, f"{path.name}: cell {i} sets torch's thread count"
