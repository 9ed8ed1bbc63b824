"""Every finished chapter ends with exercises laid out as the learner's pass asks (issue 14).

For each chapter in CHAPTERS: a "Check yourself" section with 3-5 exercises (markdown cells that
start with ``**Exercise N.M (kind).**``; the first may follow the heading in its cell, no other
exercise may hide inside a cell), of more than one kind; after each exercise a solution code
cell tagged ``hide-cell`` that asserts (a plain ``assert``, or ``torch.testing.assert_close`` /
``numpy.testing.assert_*``, which raise AssertionError with a better message); every solution cell
asserts; at least one visible starter cell that calls a ``qwen_lite.exercises`` checker (a *write
code* exercise) whose solution asserts the checker accepts it; and no visible cell in the section shows a solution's output or asserts.
Every notebook of the book but the preface is checked (tests/test_notebooks.py keeps _toc.yml and the
notebooks in step), so a new chapter is checked from its first commit.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

CHAPTERS = sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.ipynb") if p.name != "preface.ipynb"
)

EXERCISE = re.compile(r"^\*\*Exercise (\d+|[A-Z])\.(\d+) \(([^)]+)\)\.\*\*")
EXERCISE_ANYWHERE = re.compile(r"\*\*Exercise (\d+|[A-Z])\.(\d+) \(([^)]+)\)\.\*\*")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
CHECK_HEADING = re.compile(r"^##\s+check yourself\s*$", re.M | re.I)
CHECKER_IMPORT = re.compile(r"from qwen_lite\.exercises(\.\w+)? import [^\n]*\bcheck_\w+")
CHECKER_CALL = re.compile(r"\bcheck_\w+\(")
# A check that fails loudly: the statement, or the testing helpers of torch and numpy (they raise
# AssertionError too, with the mismatch spelled out). A bare `assert_close(` is not enough: any helper
# of the chapter could carry that name.
ASSERTS = re.compile(r"\bassert\b|\b(?:torch|np|numpy)\.testing\.assert_\w+\(")


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _text_outputs(cell) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
        else:
            texts.append(str(out.get("data", {}).get("text/plain", "")))
    return texts


def exercise_problems(nb) -> list[str]:
    """What is wrong with the notebook's exercises (empty when the layout is right)."""
    cells = nb.cells
    start = end = None
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for hashes, title in HEADING.findall(cell.source):
            if start is None and len(hashes) == 2 and title.strip().lower() == "check yourself":
                start = i
            elif start is not None and end is None and i > start and len(hashes) <= 2:
                end = i
    if start is None:
        return ['no "## Check yourself" section']
    section = cells[start + 1 : end if end is not None else len(cells)]
    # The first exercise may share the heading's cell ("## Check yourself", then the exercise).
    after_heading = CHECK_HEADING.split(cells[start].source, maxsplit=1)[-1].strip()
    if EXERCISE.match(after_heading):
        section = [nbformat.v4.new_markdown_cell(after_heading), *section]
    problems: list[str] = []
    exercises = [i for i, c in enumerate(section) if c.cell_type == "markdown" and EXERCISE.match(c.source)]
    for cell in section:
        buried = [m.group(0) for m in EXERCISE_ANYWHERE.finditer(cell.source) if m.start() > 0]
        if cell.cell_type == "markdown" and buried:
            problems.append(f"{buried[0]} does not start its own markdown cell (the guard cannot see it)")
    if not 3 <= len(exercises) <= 5:
        problems.append(f"{len(exercises)} exercises in Check yourself, expected 3-5")
    kinds = {EXERCISE.match(section[i].source).group(3).split(",")[0].strip() for i in exercises}
    if len(kinds) < 2:
        problems.append(f"exercises of one kind only ({sorted(kinds)}); mix predict / explain / write code")
    solutions_output: list[str] = []
    for n, i in enumerate(exercises):
        stop = exercises[n + 1] if n + 1 < len(exercises) else len(section)
        title = EXERCISE.match(section[i].source).group(0)
        body = [c for c in section[i + 1 : stop] if c.cell_type == "code"]
        hidden = [c for c in body if "hide-cell" in _tags(c)]
        if not hidden:
            problems.append(f"{title}: no solution cell tagged hide-cell after it")
        for cell in hidden:
            if not ASSERTS.search(cell.source):
                problems.append(f"{title}: its solution cell does not assert its answer")
            solutions_output += [
                line.strip() for t in _text_outputs(cell) for line in t.splitlines() if line.strip()
            ]
    visible = [c for c in section if c.cell_type == "code" and not _tags(c) & {"hide-cell", "remove-cell"}]
    starters = [c for c in visible if CHECKER_IMPORT.search(c.source) and CHECKER_CALL.search(c.source)]
    if not starters:
        problems.append("no visible starter cell that imports and calls a qwen_lite.exercises checker")
    hidden_sources = "\n".join(c.source for c in section if c.cell_type == "code" and "hide-cell" in _tags(c))
    for cell in starters:
        checker = CHECKER_CALL.search(cell.source).group()
        if not re.search(r"assert\s+" + re.escape(checker), hidden_sources):
            problems.append(f"no solution cell asserts {checker}...) accepts its solution")
    for cell in visible:
        if ASSERTS.search(cell.source):
            problems.append(
                f"a visible cell asserts (a solution not tagged hide-cell?): {cell.source[:60]!r}"
            )
        shown = "\n".join(_text_outputs(cell))
        leaked = [line for line in solutions_output if line in shown]
        if leaked:
            problems.append(f"a visible cell shows a solution's output: {leaked[0]!r}")
    for cell in section:
        if cell.cell_type == "code" and "hide-input" in _tags(cell) and ASSERTS.search(cell.source):
            problems.append("a solution tagged hide-input: use hide-cell so its output is hidden too")
    return problems


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_exercises_follow_the_layout(chapter):
    problems = exercise_problems(nbformat.read(ROOT / chapter, as_version=4))
    assert not problems, f"{chapter}:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- the check can fail


def _md(text):
    return nbformat.v4.new_markdown_cell(text)


def _code(source, tags=(), output=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    if output is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    return cell


def _good():
    return [
        _md("# Chapter"),
        _md("## Check yourself"),
        _md("**Exercise 9.1 (predict a number).** How many?"),
        _code("assert 2 + 2 == 4\nprint('four')", ["hide-cell"], "four\n"),
        _md("**Exercise 9.2 (explain).** Why?"),
        _code("assert True  # the reasoning, checked", ["hide-cell"]),
        _md("**Exercise 9.3 (write code).** Write f."),
        _code(
            "from qwen_lite.exercises.demo import check_f\ndef f(x):\n    return None\ncheck_f(f);",
            [],
            "f returned None: not attempted yet\n",
        ),  # fmt: skip
        _code("def f_solution(x):\n    return x\nassert check_f(f_solution)", ["hide-cell"]),
        _md("## Summary"),
    ]


def test_the_synthetic_good_chapter_passes():
    assert exercise_problems(nbformat.v4.new_notebook(cells=_good())) == []


def test_the_first_exercise_may_share_the_headings_cell():
    cells = _good()
    cells[1:3] = [_md(cells[1].source + "\n\n" + cells[2].source)]
    assert exercise_problems(nbformat.v4.new_notebook(cells=cells)) == []
    cells[3:5] = []  # Exercise 9.2 gone: two left, the one in the heading's cell counted
    assert exercise_problems(nbformat.v4.new_notebook(cells=cells)) == [
        "2 exercises in Check yourself, expected 3-5"
    ]


@pytest.mark.parametrize(
    "break_it, message",
    [
        (
            lambda c: [x for x in c if x.cell_type != "markdown" or "Check yourself" not in x.source],
            'no "## Check',
        ),
        (lambda c: c[:4] + c[6:], "2 exercises in Check yourself"),
        (
            lambda c: [*c[:3], _code("assert 2 + 2 == 4", ["hide-input"]), *c[4:]],
            "no solution cell tagged hide-cell",
        ),
        (lambda c: [*c[:3], _code("print(4)", ["hide-cell"]), *c[4:]], "does not assert"),
        (lambda c: [*c[:3], c[3], _code("print('four')", [], "four\n"), *c[4:]], "shows a solution's output"),
        (lambda c: [*c[:7], _code("f = 1"), *c[8:]], "no visible starter cell"),
        (
            lambda c: [*c[:8], _code("def f_solution(x):\n    return x", ["hide-cell"]), *c[9:]],
            "does not assert",
        ),
        (lambda c: [*c[:8], _code("assert True", ["hide-cell"]), *c[9:]], "asserts check_f(...) accepts"),
        (lambda c: [*c[:5], _code("assert True"), *c[6:]], "a visible cell asserts"),
        (  # the first exercise shares the heading's cell: it is seen, and so is its solution
            lambda c: [
                c[0],
                _md(c[1].source + "\n\n" + c[2].source),
                _code("print(4)", ["hide-cell"]),
                *c[4:],
            ],
            "Exercise 9.1 (predict a number).**: its solution cell does not assert",
        ),
        (lambda c: [*c[:4], _md("It is four.\n\n" + c[4].source), *c[5:]], "does not start its own"),
        (
            lambda c: [
                _md(
                    x.source.replace("(explain)", "(predict a number)").replace(
                        "(write code)", "(predict a number)"
                    )
                )
                if x.cell_type == "markdown"
                else x
                for x in c
            ],
            "of one kind only",
        ),  # fmt: skip
    ],
)
def test_each_broken_layout_is_reported(break_it, message):
    problems = exercise_problems(nbformat.v4.new_notebook(cells=break_it(_good())))
    assert any(message in p for p in problems), problems


def test_a_testing_assertion_counts_as_an_assert():
    """torch.testing.assert_close raises AssertionError: a solution may check its answer with it."""
    cells = _good()
    cells[3] = _code("torch.testing.assert_close(x, y, atol=1e-4, rtol=0)", ["hide-cell"])
    cells[5] = _code("np.testing.assert_allclose(a, b)", ["hide-cell"])
    assert exercise_problems(nbformat.v4.new_notebook(cells=cells)) == []


@pytest.mark.parametrize(
    "source, tags, message",
    [
        ("torch.allclose(x, y)", ["hide-cell"], "does not assert"),  # computes, checks nothing
        ("assert_close(x, y)", ["hide-cell"], "does not assert"),  # a name any helper could have
        ("torch.testing.assert_close(x, y)", [], "a visible cell asserts"),
        ("torch.testing.assert_close(x, y)", ["hide-input"], "tagged hide-input"),
    ],
)
def test_a_testing_assertion_is_held_to_the_same_rules(source, tags, message):
    cells = _good()
    if "hide-cell" in tags:  # as the solution of Exercise 9.2
        cells[5] = _code(source, tags)
    else:  # beside it
        cells.insert(6, _code(source, tags))
    problems = exercise_problems(nbformat.v4.new_notebook(cells=cells))
    assert any(message in p for p in problems), problems
