"""The Chinese edition's catalogs and build (Sphinx gettext, one .po file per page).

    python scripts/i18n.py update    re-extract every page's messages and merge them into
                                     locale/zh_CN/LC_MESSAGES/<page>.po (a changed message turns fuzzy,
                                     with its previous English kept as `#| msgid`; removed ones go)
    python scripts/i18n.py stats     per page: messages, translated, fuzzy, untranslated
    python scripts/i18n.py check     exit 1 if a page of DONE_PAGES has an untranslated or fuzzy
                                     message, or a translation that drops a role or glue of its English
    python scripts/i18n.py build     the Chinese edition at _build/html/zh (every warning an error)
    python scripts/i18n.py glossary  write book/glossary.md from book/data/glossary.json

Sphinx is driven through Jupyter Book's own entry point (jupyter_book.sphinx.build_sphinx) with the
settings of _config.yml, so there is no generated conf.py. The catalogs are read and merged with
babel (a dependency of Sphinx). Sphinx compiles each .po into a .mo next to it when it builds; the .mo
files are not committed (locale/.gitignore).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale" / "zh_CN" / "LC_MESSAGES"
BUILD = ROOT / "_build"
ZH_HTML = BUILD / "html" / "zh"

# Pages whose Chinese is finished: `check` (and CI) fail on any untranslated or fuzzy message in them.
# A translator adds a page here in the same change that completes its catalog.
DONE_PAGES = [
    "book/index",
    "book/notation",
    "book/glossary",
    "book/seed",
    "book/bibliography",
    "book/preface",
    "book/00_introduction",
    "book/01_pixels_to_patches",
    "book/02_patch_embedding",
    "book/03_rotary_2d",
    "book/04_window_attention",
    "book/05_vision_tower",
    "book/06_patch_merger",
    "book/07_tokens",
    "book/08_mrope",
    "book/09_decoder",
    "book/10_parity",
    "book/11_generation",
    "book/12_video",
    "book/13_real_model",
    "book/14_efficiency",
    "book/15_grounding",
    "book/16_training",
    "book/17_qwen3_vl",
    "book/attention_appendix",
]

# What the Chinese build changes in _config.yml's settings (everything else is shared).
ZH_OVERRIDES = {
    "language": "zh_CN",
    "html_title": "逐件构建 Qwen2.5-VL",
    # myst-nb's toggles of collapsed cells (solutions, hidden set-up code)
    "nb_code_prompt_show": "显示代码单元",
    "nb_code_prompt_hide": "隐藏代码单元",
}

# MyST roles and substitutions whose text must come through a translation unchanged:
# {ref}`target`, {glue:text}`name:fmt`, {cite:t}`key`, {doc}`page`, {eq}`label`, $math$, ``code``.
ROLE = re.compile(r"\{[a-z:-]+\}`[^`]*`")
LITERAL = re.compile(r"(?<!`)`[^`]+`(?!`)")
REF_TARGET = re.compile(r"<([^<>`]+)>`$")
HEADER_COMMENT = (
    "# Chinese (zh_CN) edition of {page}: one message per paragraph, heading, list item or table cell.\n"
    "# Made by `python scripts/i18n.py update`; translate the msgstr lines only (rules: scripts/i18n.py).\n"
    "#"
)


def sphinx(builder: str, outdir: Path, doctreedir: Path, overrides: dict | None = None, quiet=True) -> int:
    """Run Sphinx on the book with _config.yml's settings plus `overrides`; every warning is an error.

    Returns Sphinx's status code (0: no warning). Raises RuntimeError when Sphinx raised.
    """
    from jupyter_book.sphinx import build_sphinx

    conf = {
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        "nitpicky": True,
    }
    conf.update(overrides or {})
    result = build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=ROOT / "_config.yml",
        confoverrides=conf,
        builder=builder,
        doctreedir=doctreedir,
        warningiserror=True,
        keep_going=True,
        quiet=quiet,
        freshenv=True,  # a few seconds more, and nothing stale (the extension, a catalog, a glue cache)
    )
    if isinstance(result, Exception):
        raise RuntimeError(f"sphinx ({builder}) failed: {result!r}") from result
    return result


def extract(outdir: Path, doctreedir: Path | None = None) -> dict[str, Catalog]:
    """The book's messages, page by page: {'book/notation': Catalog of its msgids}, from a gettext build."""
    status = sphinx("gettext", outdir, doctreedir or outdir / ".doctrees")
    if status:
        raise SystemExit(f"the gettext build reported warnings (status {status})")
    templates = {}
    for pot in sorted(outdir.rglob("*.pot")):
        page = pot.relative_to(outdir).with_suffix("").as_posix()
        with pot.open("rb") as f:
            templates[page] = read_po(f)
    return templates


def po_path(page: str) -> Path:
    return LOCALE / f"{page}.po"


def read_catalog(page: str) -> Catalog:
    path = po_path(page)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/i18n.py update`")
    with path.open("rb") as f:
        return read_po(f, locale="zh_CN")


def render(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, no_location=True, include_previous=True, ignore_obsolete=True)
    return buf.getvalue()


_DATES = re.compile(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', re.MULTILINE)


def update(doctreedir: Path | None = None) -> list[str]:
    """Merge freshly extracted messages into every page's .po file; returns the pages whose file changed.

    A message whose English changed keeps its old Chinese, marked fuzzy (babel's close match), with
    the old English as `#| msgid` so the translator sees the difference. A page that left the book
    keeps its .po file (delete it by hand).
    """
    changed = []
    with tempfile.TemporaryDirectory() as tmp:
        templates = extract(Path(tmp) / "gettext", doctreedir)
        for page, template in templates.items():
            path = po_path(page)
            if path.exists():
                catalog = read_catalog(page)
                old = path.read_bytes()
            else:
                catalog = Catalog(locale="zh_CN", project="qwen-lite-book", fuzzy=False)
                old = b""
            catalog.update(template, update_creation_date=False)
            catalog.project, catalog.version = "qwen-lite-book", ""
            catalog.language_team = "zh_CN"
            catalog.fuzzy = False
            catalog.header_comment = HEADER_COMMENT.format(page=page)
            catalog.copyright_holder = "qwen-lite-book contributors"
            catalog.msgid_bugs_address = ""
            catalog.last_translator = "qwen-lite-book contributors"
            new = render(catalog)
            if _DATES.sub(b"", new) != _DATES.sub(b"", old):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(new)
                changed.append(page)
    return changed


def counts(catalog: Catalog) -> dict[str, int]:
    messages = [m for m in catalog if m.id]
    fuzzy = sum(1 for m in messages if m.fuzzy)
    translated = sum(1 for m in messages if m.string and not m.fuzzy)
    return {
        "total": len(messages),
        "translated": translated,
        "fuzzy": fuzzy,
        "untranslated": len(messages) - translated - fuzzy,
    }


def pages() -> list[str]:
    return sorted(p.relative_to(LOCALE).with_suffix("").as_posix() for p in LOCALE.rglob("*.po"))


def stats() -> str:
    lines = [f"{'page':32} {'total':>6} {'done':>6} {'fuzzy':>6} {'todo':>6}"]
    total = {"total": 0, "translated": 0, "fuzzy": 0, "untranslated": 0}
    for page in pages():
        c = counts(read_catalog(page))
        for k in total:
            total[k] += c[k]
        mark = "  (done)" if page in DONE_PAGES else ""
        lines.append(
            f"{page:32} {c['total']:6} {c['translated']:6} {c['fuzzy']:6} {c['untranslated']:6}{mark}"
        )
    lines.append(
        f"{'all':32} {total['total']:6} {total['translated']:6} {total['fuzzy']:6} {total['untranslated']:6}"
    )
    return "\n".join(lines)


def markup(text: str) -> list[str]:
    """The roles, glue and inline code of a message, sorted: what a translation must keep verbatim.

    A role's visible text may be translated (``{ref}`中文 <target>` ``), so for a role with an explicit
    target only the role name and the target count.
    """
    found = []
    for m in ROLE.finditer(text):
        role = m.group(0)
        name = role[: role.index("`")]
        target = REF_TARGET.search(role)
        found.append(f"{name}<{target.group(1) if target else role[len(name) + 1 : -1]}>")
    found += LITERAL.findall(ROLE.sub("", text))
    return sorted(found)


def problems(page: str) -> list[str]:
    """Why a done page is not done: untranslated, fuzzy, or a translation that lost its markup."""
    out = []
    for m in read_catalog(page):
        if not m.id:
            continue
        where = f"{po_path(page).relative_to(ROOT)}: {m.id[:70]!r}"
        if not m.string:
            out.append(f"{where}: untranslated")
        elif m.fuzzy:
            out.append(f"{where}: fuzzy")
        elif markup(m.id) != markup(m.string):
            out.append(f"{where}: roles/glue/code differ: {markup(m.id)} vs {markup(m.string)}")
    return out


GLOSSARY_JSON = ROOT / "book" / "data" / "glossary.json"
GLOSSARY_MD = ROOT / "book" / "glossary.md"
CJK = re.compile(r"[\u4e00-\u9fff]")
MATH = re.compile(r"\$[^$]+\$")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# Pages that are themselves lists of terms or quotations: the term rules do not apply to their messages.
TERM_RULES_SKIP = {"book/glossary"}
# Labels on notation.md's definitions (not sections), which a {ref} must give a text.
TERM_LABELS = {f"notation-{x}" for x in ("patch", "unit", "segment", "seat", "slot", "blocks-layers")}
SHORT = 20  # characters: a message this short (a heading, a table cell) may come before the gloss


def glossary() -> list[dict]:
    """The terms of book/data/glossary.json: dicts with en, zh, ref, and optional match, zh_short, note."""
    return json.loads(GLOSSARY_JSON.read_text(encoding="utf-8"))["terms"]


def glossary_markdown() -> str:
    """book/glossary.md as generated from book/data/glossary.json (`python scripts/i18n.py glossary`)."""
    rows = []
    for t in sorted(glossary(), key=lambda t: t["en"].lower()):
        if "/" in t["ref"]:
            link = f"{{doc}}`{t['ref']}`"
        elif t["ref"] in TERM_LABELS:  # a label on a definition, not a section: {ref} needs a text
            link = f"{{ref}}`notation: {t['en']} <{t['ref']}>`"
        else:
            link = f"{{ref}}`{t['ref']}`"
        rows.append(f"| {t['en']} | {t['zh']} | {link} |")
    return GLOSSARY_PAGE.format(count=len(rows), rows="\n".join(rows))


GLOSSARY_PAGE = """\
(glossary)=
# Glossary: English and Chinese terms

Every technical term of the book, with the one Chinese word the Chinese edition uses for it and the
place where the book defines it. The table is generated from `book/data/glossary.json`
(`python scripts/i18n.py glossary`); the same file holds the Chinese edition to these words.

Two of the terms are easy to confuse. A **patch** (图像块) is one square of `patch_size` × `patch_size`
pixels: one row of `pixel_values`. A **merged unit** (合并单元, for short 单元) is a 2×2 block of
neighbouring patches, the four rows that the merger turns into one token. Only the patch is 图像块.

| English | 中文 | defined in |
| --- | --- | --- |
{rows}
"""


def _prose(text: str) -> str:
    """A message without its roles, inline code and math: the words a term rule looks at."""
    return MATH.sub(" ", LITERAL.sub(" ", ROLE.sub(" ", text)))


def term_problems(page: str, catalog: Catalog | None = None) -> list[str]:
    """Messages of `page` whose Chinese breaks the glossary (book/data/glossary.json).

    * Wherever a message's English matches a term's `match`, its Chinese contains the term's `zh`
      (or `zh_short` after the first use).
    * The page glosses each term it uses once, `zh（English）` (full-width parentheses; markup or a
      closing quote may sit between), no later than the first message longer than SHORT characters
      that uses it: a heading or a table cell may come before the gloss, running prose may not.

    A message kept verbatim (msgstr equal to msgid: a name, a quotation) is not held to the rules.
    """
    if page in TERM_RULES_SKIP:
        return []
    catalog = catalog if catalog is not None else read_catalog(page)
    messages = [m for m in catalog if m.id and m.string and m.string != m.id]
    out = []
    where = po_path(page).relative_to(ROOT)
    for term in glossary():
        if "match" not in term or not CJK.search(term["zh"]):
            continue
        pattern = re.compile(term["match"], re.IGNORECASE)
        zh_forms = [term["zh"]] + ([term["zh_short"]] if "zh_short" in term else [])
        glossed = re.compile(
            re.escape(term["zh"]) + r"[*”」\s]*（[^）]*(" + term["match"] + r")", re.IGNORECASE
        )
        first_done = False
        for m in messages:
            if not pattern.search(_prose(m.id)):
                continue
            if not any(z in m.string for z in zh_forms):
                out.append(
                    f"{where}: {m.id[:60]!r}: the English says {term['en']!r}, the Chinese lacks {term['zh']}"
                )
                continue
            if first_done:
                continue
            if glossed.search(m.string):
                first_done = True
            elif len(m.string) > SHORT:  # a heading or a table cell may come first; prose may not
                first_done = True
                out.append(f"{where}: {m.id[:60]!r}: first use of {term['zh']} without （{term['en']}）")
    return out


def copied_english(page: str) -> list[str]:
    """Messages whose msgstr is just their English (more than a short name): probably not translated."""
    out = []
    for m in read_catalog(page):
        if m.id and m.string == m.id and not CJK.search(m.id) and len(ENGLISH_WORD.findall(_prose(m.id))) > 6:
            if not any("keep English" in c for c in m.user_comments):
                out.append(
                    f"{po_path(page).relative_to(ROOT)}: {m.id[:60]!r}: copied English (mark '# keep English')"
                )
    return out


def check(done: list[str] = DONE_PAGES) -> list[str]:
    """Everything wrong with the done pages' catalogs (empty when they are complete)."""
    out = []
    if GLOSSARY_MD.read_text(encoding="utf-8") != glossary_markdown():
        out.append(
            "book/glossary.md differs from book/data/glossary.json: run `python scripts/i18n.py glossary`"
        )
    for page in done:
        try:
            out += problems(page) + copied_english(page) + term_problems(page)
        except FileNotFoundError as e:
            out.append(str(e))
    return out


def build_zh() -> int:
    """The Chinese edition at _build/html/zh, with the English edition's settings (see ZH_OVERRIDES).

    Sphinx writes it to _build/zh/html first: myst-nb keeps its glue cache and output files in
    `<outdir>/../jupyter_execute`, which must be neither the English build's nor inside the site.
    """
    out = BUILD / "zh" / "html"
    status = sphinx("html", out, BUILD / "zh" / ".doctrees", ZH_OVERRIDES, quiet=False)
    if status == 0:
        shutil.rmtree(ZH_HTML, ignore_errors=True)
        shutil.copytree(out, ZH_HTML)
    return status


def translate_toc_captions(app, doctree) -> None:
    """The part captions of _toc.yml in the page's language (they are in book/index.po).

    sphinx-external-toc inserts its toctrees after Sphinx's translation pass, so their captions are
    extracted (the gettext build sees them) but not applied; this applies them, before Sphinx collects
    the toctrees the sidebar is drawn from.
    """
    from sphinx import addnodes
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    if not app.config.language or app.config.language == "en":
        return
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    dirs = [str(Path(app.srcdir, d)) for d in app.config.locale_dirs]
    catalog, found = init_locale(dirs, app.config.language, domain)
    if not found:
        return
    for node in doctree.findall(addnodes.toctree):
        if node.get("caption"):
            node["caption"] = catalog.gettext(node["caption"])


# Glued values are numbers, but a few carry English connectives ("7, 15, 23 and 31", "0.93 to 1.05",
# a machine description). On a Chinese page those words are translated; the numbers stay exactly as
# the notebook glued them. Applied in order, to the pasted text only (myst-nb's span.pasted-text).
# A list of numbers in words takes "、" between all its items ("5, 11, 17" -> "5、11、17"); a bracketed
# one is a tuple or a shape ("(1280, 3, 2, 14, 14)") and keeps its commas.
GLUED_WORDS_ZH = [
    (re.compile(r"^(.*) with (\d+) cores and (\d+) GB of RAM$"), r"\1（\2 核，\3 GB 内存）"),
    (re.compile(r" and "), " 和 "),
    (re.compile(r" or "), " 或 "),
    (re.compile(r" to "), " 至 "),
]
LIST_COMMA = re.compile(r"(?<=\d), (?=[\d.\-])")
BRACKETED = re.compile(r"(\([^()]*\)|\[[^\[\]]*\])")


def glued_words_zh(text: str) -> str:
    """``text`` (a glued value) with its English connectives in Chinese: "7, 15, 23 and 31" -> "7、15、23 和 31"."""
    pieces = BRACKETED.split(text)  # odd pieces: bracketed, left as they are
    text = "".join(p if i % 2 else LIST_COMMA.sub("、", p) for i, p in enumerate(pieces))
    for pattern, repl in GLUED_WORDS_ZH:
        text = pattern.sub(repl, text)
    return text


def translate_glued_words(app, doctree, docname) -> None:
    """On Chinese pages, the connectives inside glued values (see :data:`GLUED_WORDS_ZH`)."""
    from docutils import nodes

    if not str(app.config.language or "").startswith("zh"):
        return
    for node in doctree.findall(nodes.inline):
        if "pasted-text" in node.get("classes", []):
            text = node.astext()
            new = glued_words_zh(text)
            if new != text:
                node.children = [nodes.Text(new)]


def keep_outputs_out_of_catalogs(app, doctree) -> None:
    """What a code cell displays (its outputs: tables of results, printed text) is never a message.

    Code cells and their outputs are one source for both editions (issue 17); myst-nb renders a
    cell's Markdown output as document nodes, which Sphinx would otherwise extract, so a re-run
    benchmark would make a catalog stale. Every text node under a ``cell_output`` container is
    marked ``translatable = False`` before the gettext builder extracts messages.
    """
    from docutils import nodes

    for container in doctree.findall(nodes.container):
        if "cell_output" in container.get("classes", []):
            for node in container.findall(nodes.TextElement):
                node["translatable"] = False


def setup(app):
    """Sphinx extension (_config.yml: sphinx.local_extensions): glue inside a translated message.

    Sphinx parses each msgstr as a small Markdown document of its own, which has none of the
    notebook's glue data, so myst-nb's ``{glue:text}`key` `` (and ``{glue}`key` ``) would fail there.
    In such a document these roles paste through myst-nb's cross-document form, ``path::key`` with the
    page itself as path, which myst-nb resolves after reading from the page's glue cache: the Chinese
    page shows exactly the value the English page shows. Pages read in English are untouched.
    """
    from myst_nb.ext.glue.roles import PasteRoleAny, PasteTextRole

    def translated(cls):
        class Role(cls):
            def run(self):
                env = getattr(self.document.settings, "env", None)
                if env is not None and "nb_renderer" not in self.document and "::" not in self.text:
                    if self.document.current_source.endswith("<translated>"):
                        # glue:text reads `key:format` with rsplit(":"), so the key keeps a format.
                        key = self.text if (":" in self.text or not self.fmt) else self.text + ":s"
                        self.text = f"/{env.doc2path(env.docname, base=False)}::{key}"
                return super().run()

        Role.__name__ = f"Translated{cls.__name__}"
        Role.fmt = cls is PasteTextRole
        return Role()

    app.connect("doctree-read", translate_toc_captions, priority=400)  # before the toctree collector
    app.connect("doctree-resolved", translate_glued_words)
    app.connect("doctree-read", keep_outputs_out_of_catalogs)
    app.add_role_to_domain("glue", "text", translated(PasteTextRole), override=True)
    app.add_role_to_domain("glue", "", translated(PasteRoleAny), override=True)
    app.add_role_to_domain("glue", "any", translated(PasteRoleAny), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update", "stats", "check", "build", "glossary"])
    args = parser.parse_args(argv)
    if args.command == "update":
        with contextlib.redirect_stdout(sys.stderr):
            changed = update()
        print("\n".join(f"updated {po_path(p).relative_to(ROOT)}" for p in changed) or "catalogs current")
        print(stats())
    elif args.command == "stats":
        print(stats())
    elif args.command == "check":
        found = check()
        print("\n".join(found) or f"done pages complete: {', '.join(DONE_PAGES)}")
        return 1 if found else 0
    elif args.command == "build":
        return build_zh()
    elif args.command == "glossary":
        GLOSSARY_MD.write_text(glossary_markdown(), encoding="utf-8")
        print(f"wrote {GLOSSARY_MD.relative_to(ROOT)} ({len(glossary())} terms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
