"""The live widgets of chapters 3, 8, 11 and 12 on the built site, opened from disk with the network blocked.

For each widget, seeded random reader actions (edit prompt segments, add/remove/reorder them, click tokens
or cells, move sliders, type rates): every action must change the view, and every number the page shows
(``<dd data-readout=...>``) must equal what ``qwen_lite`` computes for the same input in Python. No console
errors. Needs `_build/html` and Debian's `chromium`: a missing build or browser is a failure, never a skip.
"""

# ruff: noqa: B023  (each lambda handed to WidgetPage.act runs at once, inside that loop iteration)
from __future__ import annotations

import json
import math
import random

import pytest

from qwen_lite.viz.live.cache_steps import recorded_steps
from qwen_lite.viz.live.frames import frame_plan
from qwen_lite.viz.live.rope_index import rope_layout
from qwen_lite.viz.live.rotary import package_score, package_score_map
from tests.test_site import ALLOWED_CONSOLE_ERRORS, SITE, browser  # noqa: F401  (browser: a fixture)

ACTIONS = 24  # random actions per widget


class WidgetPage:
    """One chapter page from disk, its first live widget ``name``, and the console errors it logged."""

    def __init__(self, chromium, chapter: str, name: str):
        path = SITE / "book" / f"{chapter}.html"
        assert path.exists(), f"{path} is missing: build the book first (jupyter-book build .)"
        self.errors = []
        self.page = chromium.new_page(viewport={"width": 1280, "height": 1000})
        self.page.route("http*://**", lambda route: route.abort())
        self.page.on("console", lambda m: m.type == "error" and self._error(m.text))
        self.page.on("pageerror", lambda e: self._error(str(e)))
        self.page.goto(path.as_uri(), wait_until="load")
        self.root = self.page.locator(f'div.qwen-live[data-widget="{name}"]').first
        self.root.wait_for(state="attached", timeout=15000)
        self.page.wait_for_selector(f'div.qwen-live[data-widget="{name}"][data-ready]', timeout=15000)
        self.root.scroll_into_view_if_needed()
        self.state = json.loads(self.root.locator("script.qwen-live-state").text_content())

    def _error(self, text):
        if not any(allowed in text for allowed in ALLOWED_CONSOLE_ERRORS):
            self.errors.append(text)

    def readouts(self) -> dict:
        return self.root.evaluate(
            "r => Object.fromEntries([...r.querySelectorAll('[data-readout]')].map(e => [e.dataset.readout, e.textContent]))"
        )

    def shot(self) -> bytes:
        return self.root.screenshot()

    def act(self, action, label: str) -> dict:
        """Run ``action``; the widget must look different afterwards. Returns the readouts."""
        before = self.shot()
        action()
        self.page.wait_for_timeout(60)
        assert self.shot() != before, f"{label}: the view did not change"
        return self.readouts()

    def set_input(self, selector: str, value, event: str = "change") -> None:
        self.root.locator(selector).first.evaluate(
            "(e, [v, ev]) => { e.value = v; e.dispatchEvent(new Event(ev, { bubbles: true })); }",
            [str(value), event],
        )

    def click_canvas(self, role: str, x: float, y: float) -> None:
        """Click canvas pixel (x, y) of the canvas ``data-role=role`` (canvas pixels, scaled to CSS pixels)."""
        canvas = self.root.locator(f'canvas[data-role="{role}"]')
        width = canvas.evaluate("c => c.width")
        scale = canvas.bounding_box()["width"] / width
        canvas.click(position={"x": x * scale, "y": y * scale})

    def close(self):
        self.page.close()
        assert not self.errors, f"console errors: {self.errors}"


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.replace("|", ",").split(",")]


# --- chapter 8: M-RoPE -------------------------------------------------------------------------------

FIELD_RANGES = {
    "text": {"n": (0, 40)},
    "image": {"w": (1, 8), "h": (1, 8)},
    "video": {"t": (1, 8), "w": (1, 6), "h": (1, 6)},
}
NEW = {
    "text": {"kind": "text", "n": 4},
    "image": {"kind": "image", "w": 3, "h": 2},
    "video": {"kind": "video", "t": 3, "w": 2, "h": 2, "fps": 2.0},
}


def _check_mrope(shown: dict, segments: list[dict], token: int, label: str) -> int:
    layout = rope_layout(segments)  # qwen_lite.rope.get_rope_index on the same prompt
    token = max(0, min(token, layout["length"] - 1))
    pos = layout["positionIds"]
    blocks = [s for s in layout["segments"] if s["kind"] != "text"]
    videos = [s for s in blocks if s["kind"] == "video"]
    assert shown["length"] == str(layout["length"]), label
    assert shown["largest"] == str(layout["largest"]), label
    assert shown["rope_deltas"] == str(layout["ropeDeltas"]), label
    assert shown["resume"] == (", ".join(str(s["resume"]) for s in blocks) if blocks else "(no block)"), label
    assert shown["token"] == str(token), label
    assert shown["ids"] == f"({pos[0][token]}, {pos[1][token]}, {pos[2][token]})", label
    if videos:
        expected_seconds = [s["secondPerGrid"] for s in videos]
        assert _floats(shown["second_per_grid"]) == pytest.approx(expected_seconds, rel=1e-5), label
        assert shown["temporal_ids"] == " | ".join(", ".join(map(str, s["temporalIds"])) for s in videos), (
            label
        )
    else:
        assert shown["second_per_grid"] == shown["temporal_ids"] == "(no video)", label
    return token


def test_mrope_widget_edits_match_get_rope_index(browser):  # noqa: F811
    w = WidgetPage(browser, "08_mrope", "mrope")
    rng = random.Random(8)
    segments = [dict(s) for s in w.state["segments"]]
    assert len(segments) >= 3 and {s["kind"] for s in segments} == {"text", "image", "video"}
    token = _check_mrope(w.readouts(), segments, w.state["token"], "initial state")
    kinds_done = set()
    for step in range(ACTIONS):
        kind = (
            ["field", "fps", "add", "remove", "move", "click"][step % 6]
            if step < 12
            else rng.choice(["field", "field", "fps", "add", "remove", "move", "click", "click"])
        )
        if kind == "add" and len(segments) >= 8 or kind == "remove" and len(segments) <= 2:
            kind = "field"
        if kind == "fps" and not any(s["kind"] == "video" for s in segments):
            kind = "add"
        if kind == "move":
            pairs = [i for i in range(len(segments) - 1) if segments[i] != segments[i + 1]]
            if not pairs:
                kind = "field"
        label = f"action {step} ({kind}) on {segments}"
        if kind == "field":
            i = rng.randrange(len(segments))
            field, (lo, hi) = rng.choice(sorted(FIELD_RANGES[segments[i]["kind"]].items()))
            value = rng.choice([v for v in range(lo, min(hi, lo + 9) + 1) if v != segments[i][field]])
            segments[i][field] = value
            shown = w.act(lambda: w.set_input(f'[data-seg="{i}"] input[data-field="{field}"]', value), label)
        elif kind == "fps":
            i = rng.choice([j for j, s in enumerate(segments) if s["kind"] == "video"])
            value = rng.choice(
                [
                    v
                    for v in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 0.3, 2.5)
                    if v != segments[i]["fps"]
                ]
            )
            segments[i]["fps"] = value
            shown = w.act(lambda: w.set_input(f'[data-seg="{i}"] input[data-field="fps"]', value), label)
        elif kind == "add":
            new = rng.choice(["text", "image", "video"])
            segments.append(dict(NEW[new]))
            shown = w.act(lambda: w.root.locator(f'button[data-action="add-{new}"]').click(), label)
        elif kind == "remove":
            i = rng.randrange(len(segments))
            segments.pop(i)
            shown = w.act(
                lambda: w.root.locator(f'[data-seg="{i}"] button[data-action="remove"]').click(), label
            )
        elif kind == "move":
            i = rng.choice(pairs)
            up = rng.random() < 0.5
            segments[i], segments[i + 1] = segments[i + 1], segments[i]
            where, button = (i + 1, "up") if up else (i, "down")
            shown = w.act(
                lambda: w.root.locator(f'[data-seg="{where}"] button[data-action="{button}"]').click(), label
            )
        else:
            length = rope_layout(segments)["length"]
            canvas = w.root.locator('canvas[data-role="ids"]')
            geometry = canvas.evaluate("c => ({...c.dataset})")
            choice = rng.choice([t for t in range(length) if t != token])
            line, col = divmod(choice, int(geometry["perLine"]))
            x = int(geometry["left"]) + (col + 0.5) * int(geometry["cell"])
            y = line * int(geometry["lineH"]) + 2.5 * int(geometry["row"])
            token = choice
            shown = w.act(lambda: w.click_canvas("ids", x, y), label)
        kinds_done.add(kind)
        token = _check_mrope(shown, segments, token, label)
    assert kinds_done >= {"field", "fps", "add", "remove", "move", "click"}, kinds_done
    w.close()


# --- chapter 3: 2-D rotary ---------------------------------------------------------------------------


def test_rotary2d_widget_scores_match_the_package_rotation(browser):  # noqa: F811
    w = WidgetPage(browser, "03_rotary_2d", "rotary2d")
    rng = random.Random(3)
    s = {k: w.state[k] for k in ("lo", "hi", "axes", "radius", "d_row", "d_col")}
    head_dim = w.state["head_dim"]
    assert head_dim == 80

    def check(shown, label):
        band = {"lo": s["lo"], "hi": s["hi"], "axes": s["axes"]}
        dr = max(-s["radius"], min(s["radius"], s["d_row"]))
        dc = max(-s["radius"], min(s["radius"], s["d_col"]))
        assert shown["offset"] == f"({dr}, {dc})", label
        assert float(shown["score"]) == pytest.approx(
            package_score(dr, dc, band, head_dim, base=(5, 9)), abs=2e-4
        ), label
        assert float(shown["origin"]) == pytest.approx(1.0, abs=1e-4), label
        lowest = float(package_score_map(s["radius"], band, head_dim).min())
        assert float(shown["min"]) == pytest.approx(lowest, abs=2e-4), label
        assert shown["band"].startswith(f"{s['lo']}–{s['hi']} ("), label

    check(w.readouts(), "initial state")
    quarter = head_dim // 4
    for step in range(ACTIONS):
        kind = (
            ["click", "lo", "hi", "axes", "radius"][step % 5]
            if step < 10
            else rng.choice(["click", "click", "lo", "hi", "axes", "radius"])
        )
        label = f"action {step} ({kind}) from {s}"
        if kind == "click":
            r = s["radius"]
            dr, dc = rng.randint(-r, r), rng.randint(-r, r)
            while (dr, dc) == (s["d_row"], s["d_col"]):
                dr, dc = rng.randint(-r, r), rng.randint(-r, r)
            canvas = w.root.locator('canvas[data-role="map"]')
            cell = int(canvas.evaluate("c => c.dataset.cell"))
            s["d_row"], s["d_col"] = dr, dc
            shown = w.act(
                lambda: w.click_canvas("map", 30 + (dc + r + 0.5) * cell, (dr + r + 0.5) * cell), label
            )
        elif kind in ("lo", "hi"):
            value = rng.choice([v for v in range(quarter) if v != s[kind]])
            s[kind] = value
            if kind == "lo":
                s["hi"] = max(s["hi"], value)
            else:
                s["lo"] = min(s["lo"], value)
            shown = w.act(lambda: w.set_input(f'input[data-field="{kind}"]', value, "input"), label)
        elif kind == "axes":
            value = rng.choice([a for a in ("both", "row", "column") if a != s["axes"]])
            s["axes"] = value
            shown = w.act(lambda: w.root.locator('select[data-field="axes"]').select_option(value), label)
        else:
            value = rng.choice([r for r in (8, 16, 32) if r != s["radius"]])
            s["radius"] = value
            shown = w.act(
                lambda: w.root.locator('select[data-field="radius"]').select_option(str(value)), label
            )
        check(shown, label)
    w.close()


# --- chapter 11: the KV cache ------------------------------------------------------------------------


def test_kvcache_widget_matches_what_generate_computes(browser):  # noqa: F811
    w = WidgetPage(browser, "11_generation", "kvcache")
    rng = random.Random(11)
    s = {k: w.state[k] for k in ("prompt_len", "step", "use_cache", "max_step")}

    def check(shown, label):
        steps = recorded_steps(s["prompt_len"], s["step"], s["use_cache"])  # generate's forward passes
        now = steps[-1]
        assert shown["length"] == str(now["length"]), label
        assert shown["queries"] == str(now["queryCount"]), label
        assert shown["cached"] == str(now["cached"]), label
        assert shown["total"] == str(sum(x["queryCount"] for x in steps)), label

    check(w.readouts(), "initial state")
    for step in range(ACTIONS):
        kind = (
            ["prompt", "step", "cache"][step % 3]
            if step < 9
            else rng.choice(["prompt", "step", "step", "cache"])
        )
        if kind == "cache" and s["step"] == 0:
            kind = "step"  # the prefill is the same with and without the cache
        label = f"action {step} ({kind}) from {s}"
        if kind == "prompt":
            value = rng.choice([v for v in range(1, 41) if v != s["prompt_len"]])
            s["prompt_len"] = value
            shown = w.act(lambda: w.set_input('input[data-field="prompt_len"]', value), label)
        elif kind == "step":
            value = rng.choice([v for v in range(0, s["max_step"] + 1) if v != s["step"]])
            s["step"] = value
            shown = w.act(lambda: w.set_input('input[data-field="step"]', value, "input"), label)
        else:
            s["use_cache"] = not s["use_cache"]
            shown = w.act(lambda: w.root.locator('input[data-field="use_cache"]').click(), label)
        check(shown, label)
    w.close()


# --- chapter 12: sampling by fps ---------------------------------------------------------------------


def test_fps_widget_matches_select_frames(browser):  # noqa: F811
    w = WidgetPage(browser, "12_video", "fps")
    rng = random.Random(12)
    total, video_fps = w.state["frames"], w.state["video_fps"]
    fps = w.state["fps"]

    def check(shown, label):
        plan = frame_plan(total, video_fps, fps)  # select_frames + get_rope_index
        assert shown["nframes"] == f"{plan['nframes']} of {total}", label
        assert shown["indices"] == ", ".join(map(str, plan["indices"])), label
        assert shown["grid_t"] == str(plan["gridT"]), label
        assert float(shown["second_per_grid"]) == pytest.approx(plan["secondPerGrid"], rel=1e-5), label
        assert shown["temporal_ids"] == ", ".join(map(str, plan["temporalIds"])), label
        return plan

    plan = check(w.readouts(), "initial state")
    for step in range(ACTIONS):
        slider = step % 2 == 1
        while True:  # a rate whose kept frames differ from the current ones, so the view must change
            value = (
                round(rng.uniform(0.1, 12), 1)
                if slider
                else rng.choice(
                    [round(rng.uniform(0.05, 20), 3), rng.choice([0.5, 1, 1.5, 2, 3, 4, 6, 8, 2 / 3])]
                )
            )
            if frame_plan(total, video_fps, value)["indices"] != plan["indices"]:
                break
        label = f"action {step} ({'slider' if slider else 'typed'} fps {value})"
        fps = value
        if slider:
            shown = w.act(lambda: w.set_input('input[data-field="fps-range"]', value, "input"), label)
        else:
            shown = w.act(lambda: w.set_input('input[data-field="fps"]', value), label)
        plan = check(shown, label)
        assert math.isclose(float(w.root.locator('input[data-field="fps"]').input_value()), fps, rel_tol=1e-9)
    w.close()
