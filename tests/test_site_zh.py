"""The Chinese edition in a real browser (issue 17): every page under _build/html/zh loads from disk and
over http with no request to another host, no failed request and no console error; widgets render and
their sliders move, as on the English site (tests/test_site.py, whose fixtures and checks this reuses);
the widgets' labels follow the page's language.

Needs `_build/html/zh` (scripts/build_book.sh) and Debian's chromium. A missing site is a failure.
"""

from __future__ import annotations

import pytest

from tests import test_site as _site

SITE, PageLog, ALLOWED_CONSOLE_ERRORS = _site.SITE, _site.PageLog, _site.ALLOWED_CONSOLE_ERRORS
_move_every_slider = _site._move_every_slider
browser, server = _site.browser, _site.server  # the English site's fixtures (Chromium; http on SITE)

ZH = SITE / "zh"


def _zh_pages():
    if not ZH.exists():
        return []
    return [ZH / "index.html", *sorted((ZH / "book").glob("*.html"))]


def test_chinese_site_has_every_page():
    english = sorted(p.name for p in (SITE / "book").glob("*.html"))
    assert english, f"no English site under {SITE}: build the book first"
    assert sorted(p.name for p in (ZH / "book").glob("*.html")) == english


@pytest.mark.parametrize("path", _zh_pages(), ids=lambda p: p.relative_to(SITE).as_posix())
def test_zh_page_loads_offline_and_widgets_work(path, server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page, server)
    page.goto(f"{server}/{path.relative_to(SITE).as_posix()}", wait_until="networkidle")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    html = path.read_text(encoding="utf-8")
    if "application/vnd.jupyter.widget-state+json" in html:
        page.wait_for_selector(".widget-hslider", timeout=15000)
        _move_every_slider(page)
    if 'class="qwen-live"' in html:
        page.wait_for_selector("div.qwen-live[data-ready='1']", timeout=15000)
    page.wait_for_load_state("networkidle")
    page.close()
    assert not log.off_host, f"requests to other hosts: {log.off_host}"
    assert not log.failed, f"failed requests: {log.failed}"
    assert not log.errors, f"console errors: {log.errors}"


def test_zh_pages_from_file_url_with_the_network_blocked(browser):
    """Opened from disk, offline: the Chinese chapter 1 renders its live widget with Chinese labels, and the
    language link leads to the English page and back."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    off_host = []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("file:")
            else off_host.append(route.request.url) or route.abort()
        ),
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((ZH / "book" / "01_pixels_to_patches.html").as_uri(), wait_until="load")
    page.wait_for_selector("div.qwen-live[data-widget='pixels'][data-ready='1']", timeout=15000)
    widget = page.locator("div.qwen-live[data-widget='pixels']")
    text = widget.inner_text()
    assert "图像块" in text and "合并单元" in text, text[:300]
    assert widget.locator("[data-readout='patch']").inner_text().startswith("(")
    page.locator("a[data-lang-switch='en']").first.click()
    page.wait_for_load_state("load")
    assert page.url == (SITE / "book" / "01_pixels_to_patches.html").as_uri()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.wait_for_selector("div.qwen-live[data-widget='pixels'][data-ready='1']", timeout=15000)
    assert "patch (row, col)" in page.locator("div.qwen-live[data-widget='pixels']").inner_text()
    page.locator("a[data-lang-switch='zh-CN']").first.click()
    page.wait_for_load_state("load")
    assert page.url == (ZH / "book" / "01_pixels_to_patches.html").as_uri()
    context.close()
    assert not off_host, off_host
    assert not [e for e in errors if not any(a in e for a in ALLOWED_CONSOLE_ERRORS)], errors
