"""The vision chapters' live widgets on the built site, opened from disk with the network blocked.

For the pixels (ch01), window-attention (ch04) and 2×2-merge (ch06) widgets: seeded random clicks on
patches and tokens, new sizes and block kinds. Each action must change the drawing, and every number
the page shows (``<dd data-readout>``) must equal what ``qwen_lite`` computes for the same input
(``patchify``, ``get_window_index``, ``attention_groups``, ``patch_coordinates``). No console error.

Needs ``_build/html`` and Debian's ``chromium`` (as tests/test_site.py): missing ones fail, never skip.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections import Counter

import pytest
import torch

from qwen_lite.processing import patch_coordinates, patchify
from qwen_lite.vision import attention_groups, get_cu_seqlens, get_window_index, units_to_rows
from tests.test_site import ALLOWED_CONSOLE_ERRORS, SITE, browser  # noqa: F401  (browser: a fixture)

CLICKS = 24  # random clicks per widget (at least 20)
SIZES = [(308, 196), (224, 224), (1344, 1344), (28, 56), (588, 364), (420, 812)]  # (width, height)


class Widget:
    """One live widget of a chapter page opened from disk, network blocked, console errors recorded."""

    def __init__(self, browser, chapter: str, name: str):  # noqa: F811
        path = SITE / "book" / f"{chapter}.html"
        assert path.exists(), f"{path} is missing: build the book first (scripts/test.sh builds it)"
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self._error(m.text))
        self.page.on("pageerror", lambda e: self._error(str(e)))
        self.page.route("http*://**", lambda route: route.abort())
        self.page.goto(path.as_uri(), wait_until="load")
        self.root = self.page.locator(f'div.qwen-live[data-widget="{name}"]')
        assert self.root.count() == 1, f"{chapter}: expected one {name} widget, found {self.root.count()}"
        self.page.wait_for_selector(f'div.qwen-live[data-widget="{name}"][data-ready]', timeout=15000)
        self.root.scroll_into_view_if_needed()

    def _error(self, text: str) -> None:
        if not any(allowed in text for allowed in ALLOWED_CONSOLE_ERRORS):
            self.errors.append(text)

    def readouts(self) -> dict[str, str]:
        cells = self.root.locator("[data-readout]")
        return {
            cells.nth(i).get_attribute("data-readout"): cells.nth(i).inner_text()
            for i in range(cells.count())
        }

    def canvas(self, role: str):
        return self.root.locator(f'canvas[data-role="{role}"]')

    def drawing(self) -> str:
        """Every canvas of the widget as data URLs: equal strings mean an unchanged view."""
        return self.root.evaluate(
            "el => [...el.querySelectorAll('canvas')].map(c => c.toDataURL()).join('|')"
        )

    def click_cell(self, role: str, row: float, col: float, rows: int, cols: int) -> None:
        """Click the centre of cell (row, col) of a canvas drawn as a rows x cols grid."""
        canvas = self.canvas(role)
        box = canvas.bounding_box()
        canvas.click(
            position={"x": (col + 0.5) * box["width"] / cols, "y": (row + 0.5) * box["height"] / rows}
        )

    def set_number(self, key: str, value: int) -> None:
        box = self.root.locator(f'input[type=number][data-control="{key}"]')
        box.fill(str(value))
        box.press("Enter")
        box.dispatch_event("change")

    def choose(self, key: str, value: str) -> None:
        self.root.locator(f'input[type=radio][data-control="{key}"][data-value="{value}"]').check()

    def close(self) -> None:
        self.page.close()
        assert not self.errors, f"console errors: {self.errors}"


def _ints(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


@contextlib.contextmanager
def _changes(widget: Widget):
    """The actions inside the ``with`` block must change the widget's drawing."""
    before = widget.drawing()
    yield
    widget.page.wait_for_timeout(30)
    assert widget.drawing() != before, "the view did not change"


# --- chapter 1: pixels ------------------------------------------------------------------------------


def _pixel_expected(x: int, y: int, width: int, height: int) -> dict[str, str]:
    """Where pixel (x, y) lands, found by patchify on an image whose values are their own indices."""
    index = torch.arange(3 * height * width, dtype=torch.float64).reshape(1, 3, height, width)
    rows, (_, gh, gw) = patchify(index, 14, 2, 2)
    hits = (rows == y * width + x).nonzero()  # the red channel: one column per frame
    row = int(hits[0, 0])
    columns = sorted(
        int(col)
        for c in range(3)
        for col in (rows[row] == c * height * width + y * width + x).nonzero()[:, 0]
    )
    return {
        "pixel": f"({x}, {y})",
        "patch": f"({y // 14}, {x // 14})",
        "grid": f"{gw} × {gh}",
        "unit": f"({y // 28}, {x // 28})",
        "token": str(row // 4),
        "row": f"{row} of {gh * gw}",
        "columns": ", ".join(map(str, columns)),
    }


def test_pixels_widget(browser):  # noqa: F811
    rng = random.Random(1)
    widget = Widget(browser, "01_pixels_to_patches", "pixels")
    width, height = _ints(widget.readouts()["grid"])
    width, height = width * 14, height * 14
    sizes = iter([(224, 224), (308, 196), (84, 56)])
    for i in range(CLICKS):
        if i % 8 == 7:
            new = next(sizes)
            with _changes(widget):
                widget.set_number("width", new[0])
                widget.set_number("height", new[1])
            width, height = new
        x, y = rng.randrange(width), rng.randrange(height)
        last = widget.readouts()["pixel"]
        if last == f"({x}, {y})":
            continue
        with _changes(widget):
            widget.click_cell("photo", y, x, height, width)
        shown = widget.readouts()
        sx, sy = _ints(shown["pixel"])
        assert abs(sx - x) <= 2 and abs(sy - y) <= 2, (
            f"clicked pixel ({x}, {y}), the page shows {shown['pixel']}"
        )
        assert shown == _pixel_expected(sx, sy, width, height)
    widget.close()


# --- chapter 4: window attention --------------------------------------------------------------------


def _window_expected(width: int, height: int, window: bool, row: int, col: int) -> dict[str, list[int]]:
    grid = [[1, height // 14, width // 14]]
    index, cu = get_window_index(grid)
    segments = cu if window else get_cu_seqlens(grid)
    groups = attention_groups(grid, window=window)
    rc = patch_coordinates(torch.tensor(grid))[:, 2:]
    query = int(((rc[:, 0] == row) & (rc[:, 1] == col)).nonzero()[0, 0])
    n = rc.shape[0]
    full_pairs = n * n
    window_pairs = int((cu.diff().long() ** 2).sum())
    return {
        "size": [width, height],
        "grid": [width // 14, height // 14],
        "query": [row, col],
        "query_row": [query, n],
        "query_position": [int(torch.argsort(units_to_rows(index, 4))[query]), n],
        "query_window": [int(attention_groups(grid, window=True)[query]), len(cu) - 1],
        "attends": [int((groups == groups[query]).sum()), n],
        "windows": [len(cu) - 1],
        "pairs": [int((segments.diff().long() ** 2).sum())],
        "full_pairs": [full_pairs, *_ints(f"{full_pairs / window_pairs:.1f}")],
        "lengths": Counter(cu.diff().tolist()),
    }


def _window_shown(readouts: dict[str, str]) -> dict:
    shown = {key: _ints(text) for key, text in readouts.items() if key != "lengths"}
    shown["lengths"] = Counter({int(n): int(k) for n, k in re.findall(r"(\d+) × (\d+)", readouts["lengths"])})
    return shown


def test_window_attention_widget(browser):  # noqa: F811
    rng = random.Random(4)
    widget = Widget(browser, "04_window_attention", "window_attention")
    width, height = _ints(widget.readouts()["size"])
    window = True
    assert _window_shown(widget.readouts()) == _window_expected(
        width, height, window, *_ints(widget.readouts()["query"])
    )
    sizes = iter(SIZES[1:])
    for i in range(CLICKS):
        if i % 6 == 5:
            new = next(sizes)
            with _changes(widget):
                widget.set_number("width", new[0])
                widget.set_number("height", new[1])
            width, height = new
            window = not window
            kind = "true" if window else "false"
            if _ints(widget.readouts()["windows"])[0] > 1:
                with _changes(widget):
                    widget.choose("window", kind)
            else:  # one window is the whole image: both kinds draw the same, only the label changes
                before, label = widget.drawing(), widget.readouts()["pairs"]
                widget.choose("window", kind)
                assert widget.drawing() == before and widget.readouts()["pairs"] != label
        gh, gw = height // 14, width // 14
        row, col = rng.randrange(gh), rng.randrange(gw)
        if _ints(widget.readouts()["query"]) == [row, col]:
            continue
        with _changes(widget):
            widget.click_cell("photo", row, col, gh, gw)
        assert _window_shown(widget.readouts()) == _window_expected(width, height, window, row, col)
    widget.close()


# --- chapter 6: the 2×2 merge -----------------------------------------------------------------------


def _merge_expected(width: int, height: int, token: int) -> dict[str, list[int]]:
    grid = [[1, height // 14, width // 14]]
    index, cu = get_window_index(grid)
    rc = patch_coordinates(torch.tensor(grid))[:, 2:]
    units = len(index)
    return {
        "size": [width, height],
        "token": [token, units],
        "unit": [int(rc[4 * token, 0]) // 2, int(rc[4 * token, 1]) // 2],
        "patches": rc[4 * token : 4 * token + 4].flatten().tolist(),
        "rows": list(range(4 * token, 4 * token + 4)),
        "window_position": [int(torch.argsort(index)[token]), units],
        "window": [int(attention_groups(grid, window=True)[4 * token]), len(cu) - 1],
    }


def _strip_grid(n: int) -> tuple[int, int]:
    """(lines, cells per line) of merge.js's wrapped sequence drawing for n tokens."""
    cell = max(4, min(18, int((620 * 110 / n) ** 0.5)))
    per_line = 620 // cell
    return -(-n // per_line), per_line


def test_merge_widget(browser):  # noqa: F811
    rng = random.Random(6)
    widget = Widget(browser, "06_patch_merger", "merge")
    width, height = _ints(widget.readouts()["size"])
    sizes = iter(SIZES[1:])
    for i in range(CLICKS):
        if i % 6 == 5:
            new = next(sizes)
            with _changes(widget):
                widget.set_number("width", new[0])
                widget.set_number("height", new[1])
            width, height = new
        uh, uw = height // 28, width // 28
        n = uh * uw
        token = rng.randrange(n)
        if _ints(widget.readouts()["token"])[0] == token:
            continue
        where = i % 3
        if where == 0:  # the photo: the token's 2x2 unit
            with _changes(widget):
                widget.click_cell("photo", token // uw, token % uw, uh, uw)
        else:  # a sequence: processor order (cell = token) or window order (cell = its window position)
            lines, per_line = _strip_grid(n)
            cell = (
                token if where == 1 else int(torch.argsort(get_window_index([[1, 2 * uh, 2 * uw]])[0])[token])
            )
            role = "processor-order" if where == 1 else "window-order"
            with _changes(widget):
                widget.click_cell(role, cell // per_line, cell % per_line, lines, per_line)
        shown = {key: _ints(text) for key, text in widget.readouts().items()}
        assert shown == _merge_expected(width, height, token)
    widget.close()


@pytest.mark.parametrize("chapter", ["01_pixels_to_patches", "04_window_attention", "06_patch_merger"])
def test_widget_state_is_in_the_page(chapter):
    """The site renders each widget from the text/html its notebook output carries (no kernel)."""
    text = (SITE / "book" / f"{chapter}.html").read_text()
    assert text.count('class="qwen-live"') == 1 and "qwen-live-state" in text
