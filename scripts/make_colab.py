"""Generate the Colab edition of the book: one plain-Markdown notebook per chapter.

Colab renders CommonMark (plus tables and ``$`` math), not MyST, and ignores Jupyter Book's cell
tags. For every notebook page in ``_toc.yml`` this script writes ``<path_to_book>/<page>.ipynb``
(``repository.path_to_book`` in ``_config.yml``, so the site's Colab buttons open these files) in which

* glued values (``{glue:text}``, ``{glue}``, ``{glue:md}``) are inlined from the chapter's own stored
  glue outputs, formatted as myst-nb formats them;
* ``{ref}``, ``{doc}``, ``{numref}`` and ``{eq}`` become Markdown links to the published site;
* admonitions become block quotes with a bold title, ``{math}`` becomes ``$$`` blocks, dropdowns
  become plain text, ``(label)=`` targets and ``%`` comments are removed;
* citations (``{cite:t}``, ``{cite:p}`` and the other sphinxcontrib-bibtex roles) become author-year
  text read from the ``bibtex_bibfiles`` of ``_config.yml`` ("Bai et al. (2025)", "(Vaswani et al.,
  2017)"), linked to the site's bibliography page; a label shared by several entries (the many
  "Hugging Face (2025)" source files) carries its entry's title; a ``{bibliography}`` directive
  becomes a list of the entries the page cites (all of them with ``:all:``);
* solutions (cells tagged ``hide-cell``, the convention, or ``hide-input``, under a "Check yourself"
  heading, at any depth below it) become collapsed Colab form cells (``#@title Solution``,
  ``cellView: form``) with no stored output, since ``hide-cell`` hides the output on the site too;
  other hidden code becomes a collapsed form cell that keeps its figure; ``remove-cell`` cells are
  dropped;
* outputs are kept (a reader sees the figures before running anything) except glue records and
  widget views (Colab's ipywidgets 7 cannot show the book's ipywidgets 8 state; running the cell
  shows the widget);
* the install cell asks for the ``[viz]`` extra from the repository in ``_config.yml``;
* repository files a chapter reads (found with ``ast`` in its code, e.g. ``../benchmarks/results.json``)
  are written beside it by a collapsed cell that carries their text.

The Markdown is rewritten by source position from the MyST parse (myst-parser's markdown-it
configuration, the one the site uses), so everything that is not MyST syntax stays byte for byte.
A construct without a Colab form is an error naming the chapter, cell and construct.

Usage (from the repository root, in .venv)::

    python scripts/make_colab.py           # (re)write the Colab edition
    python scripts/make_colab.py --check   # exit 1 when a committed Colab notebook is stale
    python scripts/make_colab.py --readme  # print the README's table of chapters
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
import yaml
from IPython.core.inputtransformer2 import TransformerManager
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_nb.core.variables import format_plain_text
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from pybtex.database import parse_file as parse_bibtex
from pybtex.richtext import Text as LatexText

ROOT = Path(__file__).resolve().parent.parent
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

# Cell tags of Jupyter Book that hide a cell's code on the site.
HIDDEN_CODE_TAGS = {"hide-input", "hide-cell", "remove-input"}
# A hidden code cell in a section whose heading contains this is a solution.
SOLUTION_SECTION = "check yourself"
# sphinxcontrib-bibtex's citation roles: the key list of each, and how it reads.
CITE_ROLES = {
    "cite": "p",
    "cite:p": "p",
    "cite:ps": "p",
    "cite:cp": "p",
    "cite:cps": "p",
    "cite:t": "t",
    "cite:ts": "t",
    "cite:ct": "t",
    "cite:cts": "t",
    "cite:author": "author",
    "cite:authors": "author",
    "cite:cauthor": "author",
    "cite:year": "year",
}
GLUE_MIME_PREFIX = "application/papermill.record/"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

ADMONITION_TITLES = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}


class ColabConversionError(ValueError):
    """A chapter uses a MyST construct that has no Colab form (or a reference that does not resolve)."""


@dataclass(frozen=True)
class Reference:
    """One bibliography entry as the Colab edition writes it: author-year label parts and a title."""

    key: str
    authors: str  # as sphinxcontrib-bibtex's author_year style: "Bai et al.", "Zhang and Sennrich"
    year: str
    title: str  # Markdown (LaTeX braces resolved, \texttt{...} as code)
    url: str = ""
    ambiguous: bool = False  # another entry has the same authors and year: the label names the title

    def label(self, kind: str) -> str:
        extra = f", {self.title}" if self.ambiguous else ""
        if kind == "t":
            return f"{self.authors} ({self.year}{extra})"
        if kind == "author":
            return self.authors
        if kind == "year":
            return self.year + extra
        return f"{self.authors}, {self.year}{extra}"

    def entry(self) -> str:
        """The line of a bibliography list."""
        return f"{self.authors} ({self.year}). *{self.title}*." + (f" <{self.url}>" if self.url else "")


def _latex_text(latex: str) -> str:
    """A BibTeX field as Markdown: ``\\texttt{x}`` as a code span, the rest through pybtex's LaTeX parse."""
    codes: list[str] = []

    def stash(match) -> str:
        codes.append(match.group(1).replace("\\_", "_").replace("{", "").replace("}", ""))
        return f"QWENLITECODE{len(codes) - 1}X"

    text = re.sub(r"\\texttt\{((?:[^{}]|\{[^{}]*\})*)\}", stash, latex)
    text = _escape(LatexText.from_latex(text).render_as("text"))
    return re.sub(r"QWENLITECODE(\d+)X", lambda m: f"`{codes[int(m.group(1))]}`", text)


def _person_last(person) -> str:
    names = [*person.rich_prelast_names, *person.rich_last_names]
    return " ".join(str(n.render_as("text")) for n in names)


def load_references(root: Path, config: dict) -> dict[str, Reference]:
    """key -> :class:`Reference` for every entry of the ``bibtex_bibfiles`` in ``_config.yml``."""
    refs: dict[str, Reference] = {}
    for name in config.get("bibtex_bibfiles", []):
        path = root / name
        if not path.is_file():
            raise ColabConversionError(f"_config.yml: bibtex_bibfiles names {name}, which does not exist")
        for key, entry in parse_bibtex(str(path)).entries.items():
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            lasts = [_person_last(p) for p in persons if str(p) != "others"]
            if not lasts:
                raise ColabConversionError(f"{name}: entry {key!r} has no author or editor")
            if len(persons) >= 3 or (len(persons) == 2 and str(persons[1]) == "others"):
                authors = f"{lasts[0]} et al."
            else:
                authors = " and ".join(lasts)
            refs[key] = Reference(
                key=key,
                authors=_escape(authors),
                year=entry.fields.get("year", "n.d."),
                title=_latex_text(entry.fields.get("title", key)),
                url=entry.fields.get("url", ""),
            )
    counts: dict[tuple[str, str], int] = {}
    for ref in refs.values():
        counts[(ref.authors, ref.year)] = counts.get((ref.authors, ref.year), 0) + 1
    return {
        key: Reference(**{**ref.__dict__, "ambiguous": counts[(ref.authors, ref.year)] > 1})
        for key, ref in refs.items()
    }


# --------------------------------------------------------------------------- the book and its site


@dataclass
class Target:
    """A ``(label)=`` target: the page it is on, its title, and whether it names the whole page."""

    page: str
    title: str
    is_page: bool


@dataclass
class Book:
    root: Path
    config: dict
    pages: list[str]  # toc order, e.g. "book/01_pixels_to_patches"
    sources: dict[str, Path] = field(default_factory=dict)  # page -> .ipynb or .md file
    titles: dict[str, str] = field(default_factory=dict)  # page -> first heading (Markdown)
    targets: dict[str, Target] = field(default_factory=dict)  # label (lower case) -> target
    glue: dict[str, dict[str, dict]] = field(default_factory=dict)  # page -> name -> mime bundle
    references: dict[str, Reference] = field(default_factory=dict)  # bibtex key -> entry
    bibliography_page: str | None = None  # the page with the ``{bibliography}`` directive

    @property
    def repository(self) -> dict:
        return self.config["repository"]

    @property
    def colab_dir(self) -> str:
        """Where the Colab edition lives: ``repository.path_to_book``, which the Colab buttons use."""
        folder = str(self.repository.get("path_to_book", "")).strip("/")
        if not folder:
            raise ColabConversionError(
                "_config.yml: repository.path_to_book is empty, so the site's Colab buttons would open the "
                "MyST notebooks in book/; set it to the folder of the Colab edition (e.g. 'colab')"
            )
        return folder

    @property
    def notebook_pages(self) -> list[str]:
        return [p for p in self.pages if self.sources[p].suffix == ".ipynb"]

    def site_url(self) -> str:
        """The published site: GitHub Pages of ``repository.url`` (the one place the site URL is made)."""
        url = self.repository["url"].rstrip("/")
        prefix = "https://github.com/"
        if not url.startswith(prefix) or url[len(prefix) :].count("/") != 1:
            raise ColabConversionError(
                f"_config.yml: repository.url {url!r} is not https://github.com/OWNER/REPO"
            )
        owner, repo = url[len(prefix) :].split("/")
        return f"https://{owner.lower()}.github.io/{repo}/"

    def page_url(self, page: str, anchor: str | None = None) -> str:
        return self.site_url() + page + ".html" + (f"#{anchor}" if anchor else "")

    def colab_path(self, page: str) -> str:
        """The Colab edition of ``page``, relative to the repository root."""
        return f"{self.colab_dir}/{page}.ipynb"

    def colab_url(self, page: str) -> str:
        """The URL of the site's Colab button for ``page`` (sphinx-book-theme's formula)."""
        owner_repo = self.repository["url"].rstrip("/").removeprefix("https://github.com/")
        colab = self.config["launch_buttons"]["colab_url"].rstrip("/")
        return f"{colab}/github/{owner_repo}/blob/{self.repository['branch']}/{self.colab_path(page)}"

    def install_requirement(self) -> str:
        """What a chapter's install cell asks pip for: the package with the extra the chapters need."""
        return f"qwen-lite[viz] @ git+{self.repository['url'].rstrip('/')}@{self.repository['branch']}"


def _toc_pages(node) -> list[str]:
    pages = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                pages.append(node[key])
        for key, value in node.items():
            if key not in ("root", "file"):
                pages += _toc_pages(value)
    elif isinstance(node, list):
        for item in node:
            pages += _toc_pages(item)
    return pages


def markdown_parser(config: dict):
    """myst-parser's markdown-it, with the extensions the site enables in _config.yml."""
    extensions = set(config.get("parse", {}).get("myst_enable_extensions", []))
    return create_md_parser(MdParserConfig(enable_extensions=extensions), RendererHTML)


def load_book(root: Path = ROOT) -> Book:
    """Read _config.yml, _toc.yml and every page: titles, targets and glued values."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [str(PurePosixPath(p).with_suffix("")) for p in _toc_pages(toc)]
    book = Book(root=root, config=config, pages=pages, references=load_references(root, config))
    md = markdown_parser(config)
    for page in pages:
        candidates = [root / f"{page}{ext}" for ext in (".ipynb", ".md")]
        source = next((c for c in candidates if c.exists()), None)
        if source is None:
            raise ColabConversionError(
                f"_toc.yml lists {page!r}, but neither {page}.ipynb nor {page}.md exists"
            )
        book.sources[page] = source
        if source.suffix == ".ipynb":
            nb = nbformat.read(source, as_version=4)
            texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
            book.glue[page] = _glued_values(nb)
        else:
            texts = [source.read_text()]
            if book.bibliography_page is None and re.search(r"^[`:]{3,}\{bibliography\}", texts[0], re.M):
                book.bibliography_page = page
        _index_targets(book, page, texts, md)
    return book


def _glued_values(nb) -> dict[str, dict]:
    """name -> mime bundle (prefix removed) of every myst-nb ``glue`` record in the stored outputs."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook")
            if scrap:
                prefix = scrap.get("mime_prefix", GLUE_MIME_PREFIX)
                values[scrap["name"]] = {k.removeprefix(prefix): v for k, v in out.get("data", {}).items()}
    return values


def _index_targets(book: Book, page: str, texts: list[str], md) -> None:
    pending: list[str] = []  # labels waiting for the heading that follows them
    seen_heading = False
    for text in texts:
        tokens = md.parse(text)
        for i, tok in enumerate(tokens):
            if tok.type == "myst_target":
                pending.append(tok.content.lower())
            elif tok.type == "heading_open":
                title = tokens[i + 1].content
                if not seen_heading:
                    book.titles[page] = title
                for label in pending:
                    book.targets[label] = Target(page, title, is_page=not seen_heading)
                pending, seen_heading = [], True
            elif pending and tok.map is not None and tok.level == 0:
                # A target before something that is not a heading: linkable, but has no title.
                for label in pending:
                    book.targets[label] = Target(page, "", is_page=False)
                pending = []
    if page not in book.titles:
        raise ColabConversionError(f"{page}: no heading, so the page has no title")


# --------------------------------------------------------------------------- Markdown


@dataclass
class Context:
    book: Book
    page: str
    where: str  # for error messages: "book/01_pixels_to_patches.ipynb, cell 4"
    cited: tuple[str, ...] = ()  # the keys the page cites, in order (for a {bibliography} on it)

    def fail(self, message: str) -> ColabConversionError:
        return ColabConversionError(f"{self.where}: {message}")


def convert_markdown(src: str, ctx: Context) -> str:
    """``src`` (MyST Markdown) as plain Markdown: every MyST construct rewritten, everything else kept."""
    md = markdown_parser(ctx.book.config)
    tokens = md.parse(src)
    lines = src.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []  # (start offset, end offset, replacement)

    for tok in tokens:
        kind = tok.type
        if kind in ("myst_target", "myst_line_comment", "myst_block_break", "front_matter"):
            edits.append((starts[tok.map[0]], starts[tok.map[1]], ""))
        elif (kind == "fence" and tok.info.strip().startswith("{")) or kind == "colon_fence":
            prefix = lines[tok.map[0]][: lines[tok.map[0]].index(tok.markup)]
            block = _convert_directive(tok, ctx)
            edits.append((starts[tok.map[0]], starts[tok.map[1]], _indent(block, prefix)))
        elif kind in ("amsmath", "math_block_label"):
            prefix = lines[tok.map[0]][: len(lines[tok.map[0]]) - len(lines[tok.map[0]].lstrip(" >"))]
            block = "$$\n" + tok.content.strip("\n") + "\n$$\n"
            edits.append((starts[tok.map[0]], starts[tok.map[1]], _indent(block, prefix)))
        elif kind in ("dl_open", "footnote_ref", "footnote_block_open", "footnote_reference_open"):
            raise ctx.fail(f"{kind} (MyST-only syntax) has no Colab form; rewrite it or extend make_colab.py")
        elif kind == "inline" and tok.children:
            edits += _inline_edits(tok, src, starts[tok.map[0]], starts[tok.map[1]], ctx)

    out = src
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def _indent(block: str, prefix: str) -> str:
    if not prefix:
        return block
    return "".join(
        (prefix + line) if line.strip() else prefix.rstrip() + "\n" for line in block.splitlines(True)
    )


def _inline_edits(tok: Token, src: str, begin: int, end: int, ctx: Context) -> list[tuple[int, int, str]]:
    """Find each role the parser saw in this inline run, in order, and replace it."""
    edits = []
    cursor = begin
    for child in tok.children:
        if child.type != "myst_role":
            continue
        name = child.meta["name"]
        opening = "{" + name + "}"
        start = src.find(opening, cursor, end)
        if start < 0:
            raise ctx.fail(f"role {opening} seen by the parser but not found in the source")
        ticks = len(src[start + len(opening) :]) - len(src[start + len(opening) :].lstrip("`"))
        body_start = start + len(opening) + ticks
        body_end = src.find("`" * ticks, body_start, end)
        if (
            ticks == 0
            or body_end < 0
            or " ".join(src[body_start:body_end].split()) != " ".join(child.content.split())
        ):
            raise ctx.fail(f"role {opening}`{child.content}` could not be located in the source")
        edits.append((start, body_end + ticks, convert_role(name, child.content, ctx)))
        cursor = body_end + ticks
    return edits


def _escape(text: str) -> str:
    """Plain text for inline Markdown: backslash-escape what Markdown (or Colab's math) would act on."""
    return "".join("\\" + ch if ch in "\\`*_[]<>|$~" else ch for ch in text)


def _split_title_target(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target) (MyST's explicit-title syntax)."""
    content = " ".join(content.split())
    if content.endswith(">") and " <" in content:
        text, target = content[:-1].rsplit(" <", 1)
        return text.strip(), target.strip()
    return None, content


def _glue_bundle(key: str, ctx: Context) -> dict:
    page = ctx.page
    if "::" in key:  # another page's value: {glue:text}`path/to/page::name`
        other, key = key.split("::", 1)
        page = str(PurePosixPath(ctx.page).parent / PurePosixPath(other).with_suffix(""))
    values = ctx.book.glue.get(page, {})
    if key not in values:
        raise ctx.fail(
            f"glued value {key!r} not found in the stored outputs of {page} (re-execute the chapter)"
        )
    return values[key]


def convert_role(name: str, content: str, ctx: Context) -> str:
    """One MyST role as inline Markdown."""
    book = ctx.book
    if name == "glue:text":
        # myst-nb's parse: the text after the last single ":" is a format spec, "s" when absent.
        text = content.strip()
        key, spec = text.rsplit(":", 1) if ":" in text.replace("::", "") else (text, "s")
        bundle = _glue_bundle(key.strip(), ctx)
        if "text/plain" not in bundle:
            raise ctx.fail(f"glued value {key!r} has no text/plain form")
        try:
            return _escape(format_plain_text(bundle["text/plain"], spec))
        except (ValueError, TypeError) as exc:
            raise ctx.fail(f"{{glue:text}}`{content}`: cannot format: {exc}") from exc
    if name in ("glue", "glue:any", "glue:md"):
        bundle = _glue_bundle(content.strip(), ctx)
        if "text/markdown" in bundle and name != "glue":
            return convert_markdown(bundle["text/markdown"], ctx).strip()
        if "text/plain" in bundle:
            return _escape(
                format_plain_text(bundle["text/plain"], "") if name == "glue" else bundle["text/plain"]
            )
        raise ctx.fail(f"glued value {content!r} has no text form for {{{name}}}")
    if name in ("ref", "numref", "eq"):
        text, label = _split_title_target(content)
        target = book.targets.get(label.lower())
        if target is None:
            raise ctx.fail(f"{{{name}}}`{content}`: no target ({label})= in any page of _toc.yml")
        if name == "eq":
            return f"[({_escape(label)})]({book.page_url(target.page, 'equation-' + label)})"
        if text is None:
            text = convert_markdown(target.title, ctx) if target.title else None
        if not text:
            raise ctx.fail(f"{{{name}}}`{content}`: the target is not a heading, so the link needs a text")
        if name == "numref":
            text = text.replace("%s", "").replace("{number}", "").strip() or target.title
        return f"[{text}]({book.page_url(target.page, None if target.is_page else label)})"
    if name == "doc":
        text, target = _split_title_target(content)
        if target.startswith("/"):
            page = str(PurePosixPath(target.lstrip("/")).with_suffix(""))
        else:
            page = str(PurePosixPath(ctx.page).parent / PurePosixPath(target).with_suffix(""))
        if page not in book.titles:
            raise ctx.fail(f"{{doc}}`{content}`: {page} is not a page of _toc.yml")
        return f"[{text or book.titles[page]}]({book.page_url(page)})"
    if name in CITE_ROLES:
        return _citation(name, content, ctx)
    if name == "math":
        return f"${content}$"
    if name in ("sub", "sup", "kbd"):
        return f"<{name}>{_escape(content)}</{name}>"
    if name == "abbr":
        return _escape(content.split(" (")[0])
    if name in ("code", "literal", "samp", "file", "command", "program"):
        return f"`{content}`"
    raise ctx.fail(f"role {{{name}}} has no Colab form; add one to scripts/make_colab.py")


def cite_keys(content: str) -> list[str]:
    """The keys of a citation role's content: ``a,b`` (sphinxcontrib-bibtex's syntax)."""
    return [key.strip() for key in content.split(",") if key.strip()]


def _bibliography_url(ctx: Context) -> str:
    page = ctx.book.bibliography_page
    if page is None:
        raise ctx.fail("a citation, but no page of _toc.yml has a {bibliography} directive to link to")
    return ctx.book.page_url(page)


def _citation(name: str, content: str, ctx: Context) -> str:
    """``{cite:t}`a,b``` -> "[A (2020)](...), [B (2021)](...)"; ``{cite:p}`` -> "([A, 2020](...); ...)"."""
    if "{" in content:
        raise ctx.fail(
            f"{{{name}}}`{content}`: pre/post text in a citation has no Colab form; write it outside"
        )
    keys = cite_keys(content)
    if not keys:
        raise ctx.fail(f"{{{name}}}`{content}`: no citation key")
    missing = [key for key in keys if key not in ctx.book.references]
    if missing:
        raise ctx.fail(f"{{{name}}}`{content}`: no entry {', '.join(missing)} in the bibtex_bibfiles")
    kind = CITE_ROLES[name]
    url = _bibliography_url(ctx)
    labels = [ctx.book.references[key].label(kind) for key in keys]
    if name.startswith("cite:c"):  # the capitalised forms
        labels = [label[:1].upper() + label[1:] for label in labels]
    links = [f"[{label}]({url})" for label in labels]
    if kind == "p":
        return "(" + "; ".join(links) + ")"
    return ", ".join(links)


def _bibliography(options: dict[str, str], ctx: Context) -> str:
    unsupported = sorted(set(options) - {"all", "style"})
    if unsupported:
        raise ctx.fail(
            f"{{bibliography}} option(s) {', '.join(unsupported)} have no Colab form (use :all: or none)"
        )
    keys = list(ctx.book.references) if "all" in options else list(dict.fromkeys(ctx.cited))
    if not keys:
        return ""
    return "".join(f"- {ctx.book.references[key].entry()}\n" for key in keys if key in ctx.book.references)


def _split_options(body: str, ctx: Context, name: str) -> tuple[dict[str, str], str]:
    """A directive body's options (``:key: value`` lines or a ``---`` YAML block) and its content."""
    lines = body.splitlines(True)
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is None:
            raise ctx.fail(f"{{{name}}}: unterminated --- options block")
        options = yaml.safe_load("".join(lines[1:end])) or {}
        return {str(k): str(v) for k, v in options.items()}, "".join(lines[end + 1 :])
    options = {}
    i = 0
    while i < len(lines) and lines[i].startswith(":") and lines[i].count(":") >= 2:
        key, _, value = lines[i][1:].partition(":")
        options[key.strip()] = value.strip()
        i += 1
    return options, "".join(lines[i:])


def _quote(title: str, body: str) -> str:
    inner = f"**{title}**\n\n{body.strip()}\n" if body.strip() else f"**{title}**\n"
    return "".join("> " + line if line.strip() else ">\n" for line in inner.splitlines(True))


def _convert_directive(tok: Token, ctx: Context) -> str:
    info = tok.info.strip()
    if not info.startswith("{") or "}" not in info:
        raise ctx.fail(f"a ':::' fence without a {{directive}} ({info!r}) has no Colab form")
    name, argument = info[1:].split("}", 1)
    name, argument = name.strip(), argument.strip()
    options, body = _split_options(tok.content, ctx, name)

    if name in ADMONITION_TITLES or name in (
        "admonition",
        "dropdown",
        "toggle",
        "margin",
        "sidebar",
        "topic",
    ):
        classes = options.get("class", "").split()
        if name in ("dropdown", "toggle") or "dropdown" in classes or "toggle" in classes:
            # Colab cannot fold Markdown: the content is shown, under its title when it has one.
            text = convert_markdown(body, ctx).strip()
            return (f"**{convert_markdown(argument, ctx)}**\n\n" if argument else "") + text + "\n"
        if name in ADMONITION_TITLES:
            title = ADMONITION_TITLES[name]
            body = (argument + "\n" if argument else "") + body
        else:
            if not argument and name == "admonition":
                raise ctx.fail("{admonition} needs a title")
            title = convert_markdown(argument, ctx).strip() or name.capitalize()
        return _quote(title, convert_markdown(body, ctx))
    if name == "math":
        equations = [eq.strip() for eq in body.strip().split("\n\n") if eq.strip()]
        return "\n".join(f"$$\n{eq}\n$$\n" for eq in equations)
    if name in ("glue:md", "glue:markdown"):
        bundle = _glue_bundle(argument, ctx)
        if "text/markdown" not in bundle:
            raise ctx.fail(f"{{{name}}} {argument}: the glued value has no text/markdown form")
        text = bundle["text/markdown"]
        if options.get("format", "commonmark") == "myst":
            text = convert_markdown(text, ctx)
        return text.rstrip("\n") + "\n"
    if name in ("code-block", "code", "sourcecode"):
        return f"```{argument}\n{body.rstrip()}\n```\n"
    if name == "bibliography":
        return _bibliography(options, ctx)
    raise ctx.fail(f"directive {{{name}}} has no Colab form; add one to scripts/make_colab.py")


# --------------------------------------------------------------------------- notebooks


def _headings(src: str, md) -> list[tuple[int, str]]:
    """(level, text) of each heading in ``src``."""
    tokens = md.parse(src)
    return [(int(t.tag[1:]), tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def _page_citations(nb, md) -> tuple[str, ...]:
    """Every key cited in the notebook's Markdown, in order of first citation."""
    keys: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for tok in md.parse(cell.source):
            for child in tok.children or []:
                if child.type == "myst_role" and child.meta["name"] in CITE_ROLES:
                    keys += [k for k in cite_keys(child.content) if k not in keys]
    return tuple(keys)


def _kept_outputs(outputs: list) -> list:
    """The stored outputs a Colab reader should see: no glue records, no widget views."""
    kept = []
    for out in outputs:
        if "scrapbook" in out.get("metadata", {}):
            continue
        if out.get("output_type") == "error":
            raise ColabConversionError("a stored output is an error: re-execute the chapter")
        if WIDGET_VIEW in out.get("data", {}):
            continue  # ipywidgets 8 state that Colab's ipywidgets 7 manager cannot show; run the cell
        kept.append(copy.deepcopy(out))
    return kept


def _rewrite_install(source: str, book: Book, where: str) -> str:
    """The first code cell's ``%pip install ... "qwen-lite ..."`` asks for the [viz] extra from the repo."""
    lines = source.splitlines(True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("%pip install", "!pip install")) and "qwen-lite" in stripped:
            indent = line[: len(line) - len(line.lstrip())]
            end = "\n" if line.endswith("\n") else ""
            lines[i] = f'{indent}%pip install -q "{book.install_requirement()}"{end}'
            return "".join(lines)
    raise ColabConversionError(f"{where}: the first code cell has no '%pip install ... qwen-lite' line")


def _repository_files(source: str, notebook: Path, root: Path) -> list[tuple[str, Path]]:
    """(path as written, file) for each repository file this code names by a relative path.

    A string constant counts when, read relative to the chapter's folder (the kernel's working
    directory), it names an existing file of the repository, e.g. ``"../benchmarks/results.json"``
    or ``"data/version_differences.json"``. Paths built at run time are not seen; the Colab-like CI
    job runs every notebook alone in an empty folder, so such a miss fails there.
    """
    tree = ast.parse(TransformerManager().transform_cell(source))
    found: list[tuple[str, Path]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if not text or "\n" in text or "://" in text or text.startswith(("/", "~")) or len(text) > 300:
                continue
            path = (notebook.parent / text).resolve()
            if path.is_file() and path.is_relative_to(root) and path.suffix != ".ipynb":
                if path not in [p for _, p in found]:
                    found.append((text, path))
    return found


def _data_cell(book: Book, page: str, reference: str, path: Path, index: int):
    text = path.read_text()
    rel = path.relative_to(book.root).as_posix()
    if len(text) > 200_000 or "'''" in text or text.endswith("\\"):
        raise ColabConversionError(f"{page}: {rel} cannot be carried inline (too big or not quotable)")
    source = (
        f"#@title The repository file this chapter reads: {rel}\n"
        f"# In a clone of the repository this is {rel}, which the chapter reads as {reference!r};\n"
        "# here this cell writes it where the chapter looks.\n"
        "import pathlib\n\n"
        f'_repository_file = pathlib.Path("{reference}")\n'
        "if not _repository_file.exists():\n"
        "    _repository_file.parent.mkdir(parents=True, exist_ok=True)\n"
        f"    _repository_file.write_text(r'''{text}''')\n"
    )
    cell = nbformat.v4.new_code_cell(source, id=f"colab-data-{index}")
    cell.metadata = {"cellView": "form"}
    return cell


def _intro_cell(book: Book, page: str, has_solutions: bool):
    text = (
        f"> **Colab edition.** This is [{convert_markdown(book.titles[page], Context(book, page, page))}]"
        f"({book.page_url(page)}) from the book *[{book.config['title']}]({book.site_url()})*, "
        "in plain Markdown. Run the cells from the top: the first one installs `qwen_lite` (on Colab only)."
    )
    if has_solutions:
        text += " The solutions sit in collapsed cells titled *Solution*: open one after you have tried."
    return nbformat.v4.new_markdown_cell(text + "\n", id="colab-edition")


def convert_notebook(book: Book, page: str):
    """The Colab edition of one chapter (a new notebook; the chapter is not changed)."""
    source_path = book.sources[page]
    nb = nbformat.read(source_path, as_version=4)
    md = markdown_parser(book.config)
    rel = source_path.relative_to(book.root).as_posix()
    cells = []
    outline: list[tuple[int, str]] = []  # the headings above the current cell, outermost first
    cited = _page_citations(nb, md)
    first_code = True
    has_solutions = False
    carried: list[Path] = []  # repository files written by a data cell
    for n, cell in enumerate(nb.cells):
        where = f"{rel}, cell {n}"
        tags = set(cell.metadata.get("tags", []))
        if "remove-cell" in tags:  # not on the site either
            continue
        if cell.cell_type == "markdown":
            for level, heading in _headings(cell.source, md):
                outline = [(lv, h) for lv, h in outline if lv < level] + [(level, heading)]
            text = convert_markdown(cell.source, Context(book, page, where, cited))
            if text.strip():
                cells.append(nbformat.v4.new_markdown_cell(text, id=cell.get("id")))
            continue
        if cell.cell_type != "code":
            cells.append(copy.deepcopy(cell))
            continue
        source = cell.source
        if first_code:
            source = _rewrite_install(source, book, where)
            first_code = False
        for reference, path in _repository_files(source, source_path, book.root):
            if path not in carried:
                cells.append(_data_cell(book, page, reference, path, len(carried)))
                carried.append(path)
        outputs = _kept_outputs(cell.outputs)
        count = cell.execution_count
        metadata = {}
        if tags & HIDDEN_CODE_TAGS:
            if any(SOLUTION_SECTION in heading.lower() for _, heading in outline):
                title, outputs, count, has_solutions = "Solution", [], None, True
            elif any("image/png" in out.get("data", {}) for out in outputs):
                title = "Code of the figure"
            else:
                title = "Code"
            source = f"#@title {title}\n{source}"
            metadata["cellView"] = "form"
        if "remove-output" in tags:
            outputs, count = [], None
        new = nbformat.v4.new_code_cell(source, id=cell.get("id"), outputs=outputs, execution_count=count)
        new.metadata = metadata
        cells.append(new)

    first_markdown = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), -1)
    cells.insert(first_markdown + 1, _intro_cell(book, page, has_solutions))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {
        "colab": {"provenance": [], "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "qwen_lite": {"generated_from": rel, "generator": "scripts/make_colab.py (do not edit by hand)"},
    }
    nbformat.validate(out)
    return out


def generate(root: Path = ROOT) -> dict[str, str]:
    """Repository-relative path -> text of every Colab notebook."""
    book = load_book(root)
    return {
        book.colab_path(page): nbformat.writes(convert_notebook(book, page)) + "\n"
        for page in book.notebook_pages
    }


def readme_table(root: Path = ROOT) -> str:
    """The README's table of chapters: title, Colab badge, site link."""
    book = load_book(root)
    rows = ["| chapter | Colab | site |", "| --- | --- | --- |"]
    for page in book.notebook_pages:
        title = convert_markdown(book.titles[page], Context(book, page, page)).strip()
        badge = f"[![Open in Colab]({COLAB_BADGE})]({book.colab_url(page)})"
        rows.append(f"| {title} | {badge} | [read]({book.page_url(page)}) |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed notebook is stale")
    parser.add_argument("--readme", action="store_true", help="print the README's table of chapters")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(), end="")
        return 0
    wanted = generate()
    folder = ROOT / load_book().colab_dir
    present = {p.relative_to(ROOT).as_posix() for p in folder.rglob("*.ipynb")} if folder.exists() else set()
    stale = sorted(
        p for p, text in wanted.items() if not (ROOT / p).exists() or (ROOT / p).read_text() != text
    )
    extra = sorted(present - set(wanted))
    if args.check:
        for p in stale:
            print(f"stale: {p}")
        for p in extra:
            print(f"not generated (remove it): {p}")
        if stale or extra:
            print("run: .venv/bin/python scripts/make_colab.py", file=sys.stderr)
        return 1 if stale or extra else 0
    for p in stale:
        (ROOT / p).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / p).write_text(wanted[p])
        print(f"wrote {p}")
    for p in extra:
        (ROOT / p).unlink()
        print(f"removed {p}")
    print(f"{len(wanted)} Colab notebooks in {folder.relative_to(ROOT)}/ ({len(stale)} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
