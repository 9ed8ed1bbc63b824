"""Golden cases for ``mrope_slots.js`` (which axis owns each M-RoPE frequency slot), from the package.

Expected values come from :func:`qwen_lite.rope.slot_axes` (chunked, Qwen2.5-VL; ``interleaved=True``,
Qwen3-VL) and :func:`qwen_lite.rope.inverse_frequencies`; the angles are read off
:func:`qwen_lite.rope.multimodal_rotary`'s own axis choice (the id of the slot's axis times its speed).
"""

from __future__ import annotations

import random

import torch

from ...rope import inverse_frequencies, slot_axes

AXIS_NAMES = ("t", "h", "w")


def package_axes(section, interleaved: bool) -> list[int]:
    """(head_dim/2) axis per slot (0 t, 1 h, 2 w), from :func:`qwen_lite.rope.slot_axes`."""
    return slot_axes(tuple(section), interleaved).tolist()


def package_slots_by_axis(section, interleaved: bool) -> dict[str, list[int]]:
    axes = slot_axes(tuple(section), interleaved)
    return {name: (axes == k).nonzero().flatten().tolist() for k, name in enumerate(AXIS_NAMES)}


def package_angles(section, head_dim: int, theta: float, interleaved: bool, position) -> list[float]:
    """Angle of every slot for one token at ids ``position`` (t, h, w), in float32 as the package computes."""
    axes = slot_axes(tuple(section), interleaved)
    ids = torch.tensor(position, dtype=torch.float32)[axes]  # (head_dim/2): the id each slot reads
    return (ids * inverse_frequencies(head_dim, theta)).tolist()


def format_slots(slots: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1–3, 7"`` (the widget's readout form); ``"(none)"`` for no slots."""
    if not slots:
        return "(none)"
    parts, start = [], 0
    for i in range(1, len(slots) + 1):
        if i == len(slots) or slots[i] != slots[i - 1] + 1:
            a, b = slots[start], slots[i - 1]
            parts.append(str(a) if a == b else f"{a}–{b}")
            start = i
    return ", ".join(parts)


def random_section(rng: random.Random) -> tuple[list[int], int]:
    """A random (mrope_section, head_dim): head_dim/2 between 3 and 96 split three ways (zeros allowed)."""
    half = rng.randint(3, 96)
    a, b = sorted(rng.randint(0, half) for _ in range(2))
    return [a, b - a, half - b], 2 * half


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """Axes of the released sections and of ``n`` random ones in both layouts; angles; owners; formatting."""
    fixed = [([16, 24, 24], 128), ([24, 20, 20], 128), ([6, 5, 5], 32), ([2, 3, 3], 16), ([0, 0, 4], 8)]
    sections = fixed + [random_section(rng) for _ in range(n)]
    cases = []
    for section, head_dim in sections:
        for interleaved in (False, True):
            mode = "interleaved" if interleaved else "chunked"
            cases.append({"label": f"{mode} axes of {section}", "fn": "slotAxes", "args": [section, interleaved],
                          "expected": package_axes(section, interleaved)})  # fmt: skip
            cases.append({"label": f"{mode} owners of {section}", "fn": "slotsByAxis", "args": [section, interleaved],
                          "expected": package_slots_by_axis(section, interleaved)})  # fmt: skip
        changed = sum(a != b for a, b in zip(package_axes(section, False), package_axes(section, True)))
        cases.append({"label": f"changed slots of {section}", "fn": "changedSlots", "args": [section],
                      "expected": changed})  # fmt: skip
        cases.append({"label": f"valid section {section}", "fn": "sectionProblem", "args": [section, head_dim],
                      "expected": ""})  # fmt: skip
    for _ in range(n):
        section, head_dim = random_section(rng)
        theta = rng.choice([10000.0, 1000000.0, 5000000.0])
        position = [rng.randrange(0, 2000) for _ in range(3)]
        interleaved = rng.random() < 0.5
        cases.append(
            {
                "label": f"angles of {section}, head_dim {head_dim}, theta {theta}, at {position}",
                "fn": "slotAngles",
                "args": [section, head_dim, theta, interleaved, position],
                "expected": package_angles(section, head_dim, theta, interleaved, position),
                "atol": 2e-3,  # float32 in the package, float64 in the page; ids below 2000
            }
        )
        cases.append({"label": f"speeds of head_dim {head_dim}, theta {theta}", "fn": "slotFrequencies",
                      "args": [head_dim, theta], "expected": inverse_frequencies(head_dim, theta).tolist(),
                      "atol": 1e-6})  # fmt: skip
    for slots in ([], [0], [1, 2, 3, 7, 9, 10], list(range(0, 60, 3)) + [60, 61, 62, 63]):
        cases.append(
            {
                "label": f"format {slots}",
                "fn": "formatSlots",
                "args": [slots],
                "expected": format_slots(slots),
            }
        )
    return cases
