"""The built site, in a real browser: every page loads with no request to another host, no failed
request and no console error; widgets render from their saved state; moving a slider changes the view.

Needs `_build/html` (scripts/test.sh builds it first) and Debian's `chromium` (scripts/test.sh installs
it). A missing browser or site is a failure, never a skip.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
# sphinx-thebe inlines its configuration script twice on every Jupyter Book 1 page; the second copy
# fails with this exact message. It is harmless: thebe is never started on this site.
ALLOWED_CONSOLE_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _pages() -> list[Path]:
    if not SITE.exists():
        return []
    pages = [SITE / "index.html", *sorted((SITE / "book").glob("*.html"))]
    return [p for p in pages if p.exists()]


@pytest.fixture(scope="module")
def server():
    assert (SITE / "index.html").exists(), f"{SITE}/index.html is missing: build the book first"
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed (scripts/test.sh installs it with apt-get)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """Everything a page did that a reader offline would notice."""

    def __init__(self, page, origin: str):
        self.off_host, self.failed, self.errors = [], [], []
        host = urlparse(origin).netloc
        page.on("request", lambda r: self._request(r, host))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})"))
        page.on("console", lambda m: m.type == "error" and self._error(m.text))
        page.on("pageerror", lambda e: self._error(str(e)))

    def _request(self, request, host):
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != host:
            self.off_host.append(request.url)

    def _error(self, text):
        if not any(allowed in text for allowed in ALLOWED_CONSOLE_ERRORS):
            self.errors.append(text)


def test_site_has_pages():
    assert len(_pages()) >= 2, f"expected the landing page and chapters under {SITE}"


@pytest.mark.parametrize("path", _pages(), ids=lambda p: p.relative_to(SITE).as_posix())
def test_page_loads_offline_and_widgets_work(path, server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    url = f"{server}/{path.relative_to(SITE).as_posix()}"
    log = PageLog(page, server)
    page.goto(url, wait_until="networkidle")
    has_widget_state = "application/vnd.jupyter.widget-state+json" in path.read_text()
    if has_widget_state:
        page.wait_for_selector(".widget-hslider", timeout=15000)
        _move_every_slider(page)
    page.wait_for_load_state("networkidle")
    page.close()
    assert not log.off_host, f"requests to other hosts: {log.off_host}"
    assert not log.failed, f"failed requests: {log.failed}"
    assert not log.errors, f"console errors: {log.errors}"


def _move_every_slider(page) -> None:
    """Press ArrowRight on each slider; the widget output around it must look different afterwards."""
    sliders = page.locator(".widget-hslider")
    assert sliders.count() > 0
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        output = slider.locator("xpath=ancestor::div[contains(@class,'cell_output')][1]")
        slider.scroll_into_view_if_needed()
        before_readout = slider.locator(".widget-readout").inner_text()
        before = output.screenshot()
        slider.locator(".noUi-handle").first.focus()
        slider.locator(".noUi-handle").first.press("ArrowRight")
        page.wait_for_timeout(300)
        after_readout = slider.locator(".widget-readout").inner_text()
        after = output.screenshot()
        assert after_readout != before_readout, f"slider {i}: readout stayed {before_readout!r}"
        assert after != before, f"slider {i} ({after_readout}): the view did not change"


def test_preface_widget_works_from_file_url(browser):
    """Readers may open _build/html/index.html straight from disk: no server, no network."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto((SITE / "book" / "preface.html").as_uri(), wait_until="load")
    page.wait_for_selector(".widget-hslider", timeout=15000)
    _move_every_slider(page)
    page.close()
    assert not [e for e in errors if not any(a in e for a in ALLOWED_CONSOLE_ERRORS)], errors
