"""The Chinese edition (issue 17): catalogs current, done pages complete and true to the glossary,
a Chinese page for every English page, and the language links resolving both ways.

The build tests need `_build/html` with its `zh/` (scripts/build_book.sh builds both; scripts/test.sh
runs it first); a missing build is a failure, never a skip.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
_spec = importlib.util.spec_from_file_location("i18n", ROOT / "scripts" / "i18n.py")
i18n = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("i18n", i18n)
_spec.loader.exec_module(i18n)


def test_catalogs_match_the_english(tmp_path):
    """No stale catalog: a fresh extraction has exactly the msgids of the committed .po files."""
    templates = i18n.extract(tmp_path / "gettext")
    assert sorted(templates) == i18n.pages(), "a page without a catalog, or a catalog of no page"
    stale = {}
    for page, template in templates.items():
        fresh = {m.id for m in template if m.id}
        committed = {m.id for m in i18n.read_catalog(page) if m.id}
        if fresh != committed:
            stale[page] = (sorted(fresh - committed)[:3], sorted(committed - fresh)[:3])
    assert not stale, f"run `python scripts/i18n.py update` (new, gone): {stale}"


def test_done_pages_are_complete():
    assert i18n.check() == []


def test_glossary_page_is_generated_from_the_data():
    assert (ROOT / "book" / "glossary.md").read_text(encoding="utf-8") == i18n.glossary_markdown()
    terms = i18n.glossary()
    assert len(terms) >= 40
    assert len({t["en"].lower() for t in terms}) == len(terms), "an English term twice"
    assert len({t["zh"] for t in terms}) == len(terms), "one Chinese word for two terms"
    for t in terms:
        if "match" in t:
            assert re.compile(t["match"], re.IGNORECASE).search(t["en"]), t


def test_brief_terms_are_in_the_glossary():
    zh = {t["en"]: t["zh"] for t in i18n.glossary()}
    assert zh["window attention"] == "窗口注意力"
    assert zh["rotary position embedding"] == "旋转位置编码"
    assert zh["M-RoPE"] == "多模态旋转位置编码"
    assert zh["grouped-query attention"] == "分组查询注意力"
    assert zh["KV cache"] == "键值缓存"
    assert zh["pixel budget"] == "像素预算"
    assert zh["patch"] == "图像块" and zh["merged unit"] == "合并单元"


def _catalog(pairs):
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="zh_CN")
    for msgid, msgstr in pairs:
        catalog.add(msgid, msgstr)
    return catalog


def test_term_rules_reject_a_wrong_term_and_a_missing_gloss():
    """The rules the chapters will be held to can fail: another word, and a first use with no English."""
    ok = _catalog(
        [
            (
                "The KV cache grows by one row per step of generation.",
                "键值缓存（KV cache）每生成一步增加一行。",
            )
        ]
    )
    assert i18n.term_problems("book/x", ok) == []
    other_word = _catalog(
        [("The KV cache grows by one row per step of generation.", "KV 缓存（KV cache）每生成一步增加一行。")]
    )
    assert "lacks 键值缓存" in " ".join(i18n.term_problems("book/x", other_word))
    no_gloss = _catalog(
        [
            (
                "The KV cache grows by one row per step of generation.",
                "键值缓存在生成过程中每走一步就增加一行，直到生成结束为止都是如此。",
            )
        ]
    )
    assert "without （KV cache）" in " ".join(i18n.term_problems("book/x", no_gloss))


def test_markup_must_survive_translation():
    assert i18n.markup("See {ref}`mrope` and {glue:text}`ch08_n` rows of `x`.") == i18n.markup(
        "见 {ref}`多模态 <mrope>`、{glue:text}`ch08_n` 行 `x`。"
    )
    assert i18n.markup("{glue:text}`ch08_n` rows") != i18n.markup("若干行")


def _english_pages():
    return sorted(p.relative_to(SITE) for p in (SITE / "book").glob("*.html"))


def test_every_english_page_has_a_chinese_page():
    assert (SITE / "zh" / "index.html").exists(), "build the book first (scripts/build_book.sh)"
    pages = _english_pages()
    assert len(pages) >= 20
    missing = [str(p) for p in pages if not (SITE / "zh" / p).exists()]
    assert not missing, missing
    assert '<html lang="zh-CN"' in (SITE / "zh" / "book" / "notation.html").read_text(encoding="utf-8")


def _switch(path: Path) -> Path:
    html = path.read_text(encoding="utf-8")
    m = re.search(r'<a href="([^"]+)"[^>]*data-lang-switch=', html)
    assert m, f"{path}: no language link"
    return (path.parent / m.group(1)).resolve()


@pytest.mark.parametrize("page", _english_pages() if SITE.exists() else [], ids=str)
def test_language_links_resolve_both_ways(page):
    en = (SITE / page).resolve()
    zh = _switch(en)
    assert zh == (SITE / "zh" / page).resolve() and zh.exists()
    assert _switch(zh) == en


def test_done_pages_are_chinese_in_the_build():
    """A done page's Chinese text reaches the built page (the catalog is applied, glue still glued)."""
    for page in i18n.DONE_PAGES:
        catalog = i18n.read_catalog(page)
        html = (SITE / "zh" / f"{page}.html").read_text(encoding="utf-8")
        title = next(m.string for m in catalog if m.id and m.string != m.id and len(m.id) < 60)
        assert re.sub(r"[*`]", "", title) in html, (page, title)  # the <title> holds it as plain text
    data = json.loads((ROOT / "book" / "data" / "glossary.json").read_text(encoding="utf-8"))
    html = (SITE / "zh" / "book" / "glossary.html").read_text(encoding="utf-8")
    assert all(t["zh"] in html for t in data["terms"])


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("7, 15, 23 and 31", "7、15、23 和 31"),
        ("48 to 51", "48 至 51"),
        ("0-3, 0-6 or 0-12", "0-3、0-6 或 0-12"),
        (
            "Intel(R) Xeon(R) Processor with 2 cores and 25 GB of RAM",
            "Intel(R) Xeon(R) Processor（2 核，25 GB 内存）",
        ),
        ("(3, 4)", "(3, 4)"),  # a tuple is not a list in words
        ("(1280, 3, 2, 14, 14)", "(1280, 3, 2, 14, 14)"),  # nor is a shape, however long
        ("7, 15, 23, 31", "7、15、23、31"),  # a list without "and": every comma
        ("5, 11, 17", "5、11、17"),
        ("blocks 5, 11 and 17 of (1, 34, 28)", "blocks 5、11 和 17 of (1, 34, 28)"),
        ("1176", "1176"),
    ],
)
def test_glued_values_keep_their_numbers_and_translate_their_connectives(english, chinese):
    assert i18n.glued_words_zh(english) == chinese
    assert re.findall(r"\d+", i18n.glued_words_zh(english)) == re.findall(r"\d+", english)
