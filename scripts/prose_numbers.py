"""Find hand-typed numbers in the book's prose (issue 14: numbers in prose are glued).

A number about the model or an output that appears in a chapter's Markdown must come from a
``{glue:text}`` value the chapter computes, so it can never go stale. This script lists every digit
left in the prose, per cell and line, so a chapter can be cleaned and then kept clean by
``tests/test_prose_numbers.py``.

What is checked: the text of Markdown cells (and of ``.md`` pages), parsed with the site's own MyST
parser (myst-parser, the configuration of ``_config.yml``): paragraphs, list items, table cells,
headings, emphasis, and the bodies of admonitions and dropdowns.

What is never checked (it is not hand-typed prose, or it defines notation):

* code spans (`` `...` ``), code blocks, math (``$...$``, ``$$...$$``, ``{math}``), every MyST role
  (``{glue:text}``, ``{cite:t}``, ``{ref}``...), ``(label)=`` targets, ``%`` comments, link texts and
  URLs, images, raw HTML, and the ``{glue:md}`` / ``{bibliography}`` / ``{code-block}`` directives.

The allow-list (digits in prose that are names, not measurements):

* years (1900-2099), version numbers with two dots or an ``x`` (``4.57.6``, ``5.x``), a number after a
  library name (``transformers 5``, ``Python 3.11``), arXiv ids (``2502.13923``);
* references: issue and PR numbers (``#14``, ``issue 14``), chapter, section, exercise, figure, table,
  step, part and equation numbers (``chapter 5``, ``§2.1``, ``Exercise 5.2``), a heading's leading number;
* names: model sizes (``3B``, ``7B``, ``72B``, ``0.5B``), digits after letters inside a word
  (``Qwen2.5``, ``bf16``, ``Conv3d``, ``fp32``), ``2×2`` (also ``2x2`` / ``2 × 2``, the merge),
  ``1-D`` / ``2-D`` / ``3-D`` (also ``2D``), and the digits ``0`` and ``1`` on their own (the first
  index, a single item, the unit interval).

Everything else is flagged: ``32 blocks``, ``1280``, ``112 px``, ``14 x 14``, ``7/15/23/31``, ``4th``,
``112px``, ``0.5``, ``1,003,520``.
Sizes are written "w × h" with letters; a concrete size is glued.

Usage::

    python scripts/prose_numbers.py book/05_vision_tower.ipynb [more pages ...]   # report, exit 1 if any
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parent.parent

# Directives whose body is prose (checked, recursively); every other directive's body is skipped.
PROSE_DIRECTIVES = {
    "note",
    "warning",
    "tip",
    "hint",
    "important",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "admonition",
    "dropdown",
    "toggle",
    "margin",
    "sidebar",
    "topic",
}
# Words after which a number is a reference or a version, not a measurement (lower case).
REFERENCE_WORDS = {
    "chapter",
    "chapters",
    "ch",
    "ch.",
    "section",
    "sections",
    "§",
    "§§",
    "exercise",
    "exercises",
    "figure",
    "figures",
    "fig.",
    "table",
    "tables",
    "step",
    "steps",
    "part",
    "eq.",
    "equation",
    "equations",
    "issue",
    "issues",
    "pr",
    "appendix",
    "page",
    "pages",
    "p.",
    "pp.",
    "line",
    "lines",
    "transformers",
    "python",
    "pytorch",
    "torch",
    "ipywidgets",
    "numpy",
    "version",
    "versions",
    "v",
    "and",  # the second of "issues 3 and 4", "chapters 5 and 6": only after a first allowed number
}
LIBRARY_OR_REFERENCE = REFERENCE_WORDS - {"and"}

SEPARATOR = "\u2063"  # stands for a role, code span or math in the text that is scanned
URL = re.compile(r"https?://\S+|www\.\S+")
# A number that does not start inside a word or after a dot ("Qwen2", "v4.57.6"'s tail, "bf16").
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Finding:
    """One hand-typed number: where it is and the words around it."""

    where: str  # "cell 4, line 2" (line within the cell's source, 1-based)
    number: str
    context: str

    def __str__(self) -> str:
        return f"{self.where}: {self.number!r} in {self.context!r}"


def markdown_parser(root: Path = ROOT):
    """myst-parser's markdown-it with the extensions of ``_config.yml`` (as the site parses)."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    extensions = set(config.get("parse", {}).get("myst_enable_extensions", []))
    return create_md_parser(MdParserConfig(enable_extensions=extensions), RendererHTML)


def _allowed(text: str, match: re.Match, after_reference: bool, heading_start: bool) -> str:
    """Why this number is allowed ("" when it is not): "reference" for a number after a reference word."""
    number = match.group()
    start, end = match.span()
    before, after = text[:start], text[end:]
    words_before = before.split()
    word = words_before[-1].lower().strip("(,;:") if words_before and before[-1:].isspace() else ""
    glued = before[-1:]  # the character right before, when there is no space
    if word in LIBRARY_OR_REFERENCE or word.startswith(("§", "#")) or (word == "and" and after_reference):
        return "reference"
    if glued in ("#", "§"):
        return "reference"
    if heading_start:
        return "heading number"
    if number in ("0", "1") and not re.match(r"[.,]?\d|[A-Za-z%]", after):
        return "0 or 1"
    if re.fullmatch(r"(19|20)\d\d", number) and not re.match(r"[\w%]", after):
        return "year"
    if re.fullmatch(r"\d{4}\.\d{4,5}", number):
        return "arXiv id"
    if number.count(".") >= 2 or re.match(r"\.x\b", after):
        return "version"
    if re.match(r"(\.\d+)?B\b", after):
        return "model size"
    if number in ("1", "2", "3") and re.match(r"-?D\b", after):
        return "dimensionality"
    if number == "2" and re.match(r"\s?[×x]\s?2\b", after):
        return "2x2"
    if number == "2" and re.search(r"(?<!\w)2\s?[×x]\s?$", before):
        return "2x2"
    return ""


def find_numbers_in_text(text: str, where: str, heading: bool = False) -> list[Finding]:
    """Flag the numbers of one run of prose text (no Markdown syntax left in it)."""
    text = URL.sub(lambda m: " " * len(m.group()), text)
    findings = []
    after_reference = False
    for match in NUMBER.finditer(text):
        heading_start = heading and not text[: match.start()].strip()
        reason = _allowed(text, match, after_reference, heading_start)
        after_reference = reason == "reference"
        if reason:
            continue
        lo, hi = max(0, match.start() - 30), min(len(text), match.end() + 30)
        context = " ".join(text[lo:hi].split()).replace(SEPARATOR, "…")
        findings.append(Finding(where, match.group(), context))
    return findings


def _directive(info: str) -> tuple[str, str] | None:
    info = info.strip()
    if info.startswith("{") and "}" in info:
        name, argument = info[1:].split("}", 1)
        return name.strip(), argument.strip()
    return None


def _strip_options(body: str) -> tuple[str, int]:
    """A directive body without its options, and the number of option lines removed."""
    lines = body.splitlines(True)
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), len(lines) - 1)
        return "".join(lines[end + 1 :]), end + 1
    i = 0
    while i < len(lines) and lines[i].startswith(":") and lines[i].count(":") >= 2:
        i += 1
    return "".join(lines[i:]), i


def find_numbers(markdown: str, where: str = "", md=None, first_line: int = 1) -> list[Finding]:
    """Every hand-typed number in one Markdown (MyST) source, with its line (``first_line`` = line 1's)."""
    md = md or markdown_parser()
    findings: list[Finding] = []
    tokens = md.parse(markdown)
    in_heading = False
    prefix = f"{where}, " if where else ""
    for tok in tokens:
        line = f"{prefix}line {tok.map[0] + first_line}" if tok.map else where
        if tok.type == "heading_open":
            in_heading = True
        elif tok.type == "heading_close":
            in_heading = False
        elif tok.type in ("fence", "colon_fence"):
            directive = _directive(tok.info)
            if directive and directive[0] in PROSE_DIRECTIVES:
                findings += find_numbers_in_text(directive[1], line)  # an admonition's title
                body, skipped = _strip_options(tok.content)
                findings += find_numbers(body, where, md, first_line=tok.map[0] + first_line + 1 + skipped)
        elif tok.type == "inline" and tok.children:
            depth = 0  # inside a link
            run: list[str] = []
            for child in tok.children:
                if child.type == "link_open":
                    depth += 1
                elif child.type == "link_close":
                    depth -= 1
                elif depth == 0 and child.type == "text":
                    run.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    run.append(" ")
                elif depth == 0:
                    run.append(f" {SEPARATOR} ")  # a role, code or math: a separator that is not a word
            findings += find_numbers_in_text("".join(run), line, heading=in_heading)
    return findings


def page_findings(path: Path, md=None) -> list[Finding]:
    """The findings of a chapter (``.ipynb``: its Markdown cells) or a Markdown page (``.md``)."""
    md = md or markdown_parser()
    if path.suffix == ".md":
        return find_numbers(path.read_text(), "page", md)
    nb = nbformat.read(path, as_version=4)
    findings = []
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            findings += find_numbers(cell.source, f"cell {n}", md)
    return findings


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__.split("\n\n")[-1].strip())
        return 2
    md = markdown_parser()
    total = 0
    for path in paths:
        findings = page_findings(path, md)
        total += len(findings)
        print(f"{path}: {len(findings)} hand-typed number(s) in prose")
        for finding in findings:
            print(f"  {finding}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
