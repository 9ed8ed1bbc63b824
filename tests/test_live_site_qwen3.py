"""Chapter 17's live widget (chunked vs interleaved M-RoPE slots) on the built site, opened from disk.

Seeded random reader actions (type a section, pick a head width, switch the layout, type a position, click
a slot): every action must change the view, and every number the page shows (``<dd data-readout=...>``)
must equal what :func:`qwen_lite.rope.slot_axes` and :func:`qwen_lite.rope.inverse_frequencies` give for
the same input. No console errors. Needs `_build/html` and Debian's `chromium`: a missing build or browser is
a failure, never a skip.
"""

# ruff: noqa: B023  (each lambda handed to WidgetPage.act runs at once, inside that loop iteration)
from __future__ import annotations

import random

import pytest

from qwen_lite.rope import inverse_frequencies, slot_axes
from qwen_lite.viz.live.mrope_slots import format_slots
from qwen_lite.viz.live.mrope_slots_widget import HEAD_DIMS
from tests.test_live_site_positions import WidgetPage
from tests.test_site import browser  # noqa: F401  (a fixture)

ACTIONS = 24  # random actions (at least 20 seeded inputs)


def expected_readouts(s: dict) -> dict:
    """The readouts for state ``s``, from the package."""
    section, head_dim = s["mrope_section"], s["head_dim"]
    interleaved = s["mode"] == "interleaved"
    axes = slot_axes(tuple(section), interleaved)
    owned = {name: (axes == k).nonzero().flatten().tolist() for k, name in enumerate("thw")}
    n = head_dim // 2
    slot = min(s["slot"], n - 1)
    speed = float(inverse_frequencies(head_dim, s["theta"])[slot])
    angle = s["position"][int(axes[slot])] * speed
    changed = int((slot_axes(tuple(section)) != slot_axes(tuple(section), True)).sum())
    return {
        "section": ", ".join(map(str, section)),
        "counts": ", ".join(str(len(owned[a])) for a in "thw"),
        **{f"slots_{a}": format_slots(owned[a]) for a in "thw"},
        "span": ", ".join(f"{a} {owned[a][0]}–{owned[a][-1]}" if owned[a] else f"{a} (none)" for a in "thw"),
        "changed": f"{changed} of {n}",
        "position": "({}, {}, {})".format(*s["position"]),
        "slot": str(slot),
        "slot_axis": "thw"[int(axes[slot])],
        "speed": speed,
        "angle": angle,
    }


def check(shown: dict, s: dict, label: str) -> None:
    want = expected_readouts(s)
    for key in ("section", "counts", "slots_t", "slots_h", "slots_w", "span", "changed", "position", "slot",
                "slot_axis"):  # fmt: skip
        assert shown[key] == want[key], f"{label}: {key}"
    assert float(shown["slot_speed"]) == pytest.approx(want["speed"], rel=1e-4), label
    assert float(shown["slot_angle"]) == pytest.approx(want["angle"], rel=1e-4, abs=1e-9), label


def test_mrope_slots_widget_matches_slot_axes(browser):  # noqa: F811
    w = WidgetPage(browser, "17_qwen3_vl", "mrope_slots_widget")
    rng = random.Random(17)
    s = {k: w.state[k] for k in ("mrope_section", "head_dim", "mode", "position", "slot", "theta")}
    s["mrope_section"], s["position"] = list(s["mrope_section"]), list(s["position"])
    assert s["mode"] == "interleaved" and sum(s["mrope_section"]) * 2 == s["head_dim"]
    check(w.readouts(), s, "initial state")
    kinds = ["section", "head_dim", "mode", "position", "slot"]
    done = set()
    for step in range(ACTIONS):
        kind = kinds[step % 5] if step < 10 else rng.choice(kinds + ["section", "slot"])
        label = f"action {step} ({kind}) from {s}"
        n = s["head_dim"] // 2
        if kind == "section":
            st, sh, _ = s["mrope_section"]
            choices = {
                "t": [v for v in range(n - sh + 1) if v != st],
                "h": [v for v in range(n - st + 1) if v != sh],
            }
            field = rng.choice(
                [f for f in ("t", "h") if choices[f]]
            )  # one of the two always has another value
            value = rng.choice(choices[field])
            s["mrope_section"] = [value, sh, n - value - sh] if field == "t" else [st, value, n - st - value]
            shown = w.act(lambda: w.set_input(f'input[data-field="sec_{field}"]', value), label)
        elif kind == "head_dim":
            value = rng.choice([d for d in HEAD_DIMS if d != s["head_dim"]])
            st, sh, _ = s["mrope_section"]
            a = min(st, value // 2)
            b = min(sh, value // 2 - a)
            s["head_dim"], s["mrope_section"] = value, [a, b, value // 2 - a - b]
            s["slot"] = min(s["slot"], value // 2 - 1)
            shown = w.act(
                lambda: w.root.locator('select[data-field="head_dim"]').select_option(str(value)), label
            )
        elif kind == "mode":
            s["mode"] = "chunked" if s["mode"] == "interleaved" else "interleaved"
            shown = w.act(
                lambda: w.root.locator(f'input[data-control="mode"][data-value="{s["mode"]}"]').check(), label
            )
        elif kind == "position":
            k = rng.randrange(3)
            value = rng.choice([v for v in range(1, 3000) if v != s["position"][k]])
            s["position"][k] = value
            shown = w.act(lambda: w.set_input(f'input[data-field="pos_{"thw"[k]}"]', value), label)
        else:
            value = rng.choice([i for i in range(n) if i != s["slot"]])
            s["slot"] = value
            canvas = w.root.locator('canvas[data-role="strips"]')
            geometry = canvas.evaluate("c => ({...c.dataset})")
            x = int(geometry["left"]) + (value + 0.5) * int(geometry["cell"])
            shown = w.act(lambda: w.click_canvas("strips", x, 10), label)
        done.add(kind)
        check(shown, s, label)
    assert done == set(kinds), done
    w.close()


def test_slot_readouts_are_checked_against_the_package():
    """The expectation itself can fail: the chunked slots of (24, 20, 20) are not the interleaved ones."""
    s = {"mrope_section": [24, 20, 20], "head_dim": 128, "mode": "interleaved", "position": [2, 5, 7], "slot": 1,
         "theta": 5e6}  # fmt: skip
    inter = expected_readouts(s)
    chunked = expected_readouts({**s, "mode": "chunked"})
    assert (
        inter["slots_h"] != chunked["slots_h"] and inter["slot_axis"] == "h" and chunked["slot_axis"] == "t"
    )
    changed = int((slot_axes((24, 20, 20)) != slot_axes((24, 20, 20), interleaved=True)).sum())
    assert inter["changed"] == chunked["changed"] == f"{changed} of 64" and 0 < changed < 64
