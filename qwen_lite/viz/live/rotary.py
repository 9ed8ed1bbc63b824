"""Golden cases for ``rotary.js`` (the 2-D rotary score over (Δrow, Δcol)), from the package's rotation.

The expected scores rotate real tensors with :class:`qwen_lite.vision.VisionRotaryEmbedding` and
:func:`qwen_lite.layers.apply_rotary`: a unit content vector on the band's pairs is rotated to a query
position (row, col) and to a key position (row + Δrow, col + Δcol), and the score is their dot product.
Which slots turn with the row and which with the column is read off the package too (the angles of
positions (1, 0) and (0, 1)), so a wrong slot layout in the JS shows up as a wrong score.
"""

from __future__ import annotations

import random

import torch

from ...layers import apply_rotary
from ...vision import VisionRotaryEmbedding

AXES = ("row", "column")


def slot_frequencies(head_dim: int, theta: float = 10000.0) -> dict:
    """``{"row": [slots by frequency], "column": [...], "freqs": [θ_i]}`` read off the package's angles.

    Slot j turns with the row when position (1, 0) gives it a non-zero angle; its frequency index is its
    rank among those angles, fastest first. Only the first head_dim/2 slots (their partners j + head_dim/2
    repeat them).
    """
    rotary = VisionRotaryEmbedding(head_dim, theta)
    cos, sin = rotary(torch.tensor([[1, 0], [0, 1]]))
    angles = torch.atan2(sin, cos)[:, : head_dim // 2]  # below pi for these frequencies
    out = {}
    for axis, row in zip(AXES, angles):
        slots = row.nonzero().flatten().tolist()
        out[axis] = sorted(slots, key=lambda j: -float(row[j]))
    out["freqs"] = [float(angles[0, j]) for j in out["row"]]
    return out


def package_content(band: dict, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """(head_dim) the band's unit content vector: equal values on both slots of each of its pairs."""
    layout = slot_frequencies(head_dim, theta)
    axes = AXES if band["axes"] == "both" else (band["axes"],)
    content = torch.zeros(head_dim)
    pairs = [layout[axis][i] for axis in axes for i in range(band["lo"], band["hi"] + 1)]
    for j in pairs:  # rotate_half pairs slot j with slot j + head_dim/2
        content[[j, j + head_dim // 2]] = (2 * len(pairs)) ** -0.5
    return content


def package_score(
    d_row: int, d_col: int, band: dict, head_dim: int, theta: float = 10000.0, base=(0, 0)
) -> float:
    """q·k for the band's unit content vector rotated to ``base`` and ``base + (d_row, d_col)``."""
    content = package_content(band, head_dim, theta)
    r, c = base
    cos, sin = VisionRotaryEmbedding(head_dim, theta)(torch.tensor([[r, c], [r + d_row, c + d_col]]))
    rotated = apply_rotary(content.expand(2, -1), cos, sin)  # (2 head_dim): query, key
    return float(rotated[0] @ rotated[1])


def random_band(rng: random.Random, head_dim: int) -> dict:
    lo = rng.randrange(head_dim // 4)
    return {"lo": lo, "hi": rng.randint(lo, head_dim // 4 - 1), "axes": rng.choice(["both", "row", "column"])}


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """Frequencies of four head sizes; ``n`` scores at random offsets, bands and base positions; 3 small maps."""
    cases = []
    for head_dim, theta in ((80, 10000.0), (16, 10000.0), (32, 10000.0), (80, 100.0)):
        cases.append(
            {
                "label": f"frequencies of head_dim {head_dim}, theta {theta}",
                "fn": "rotaryFrequencies",
                "args": [head_dim, theta],
                "expected": slot_frequencies(head_dim, theta)["freqs"],
                "atol": 1e-6,
            }
        )
    edges = [(0, 0, {"lo": 0, "hi": 19, "axes": "both"}), (1, 0, {"lo": 0, "hi": 0, "axes": "row"}),
             (0, 3, {"lo": 19, "hi": 19, "axes": "column"}), (-7, 12, {"lo": 5, "hi": 9, "axes": "both"})]  # fmt: skip
    for i in range(n + len(edges)):
        head_dim = 80 if i < len(edges) or rng.random() < 0.75 else rng.choice([16, 32])
        if i < len(edges):
            d_row, d_col, band = edges[i]
        else:
            d_row, d_col, band = rng.randint(-40, 40), rng.randint(-40, 40), random_band(rng, head_dim)
        base = (rng.randrange(60), rng.randrange(60))
        cases.append(
            {
                "label": f"score at ({d_row}, {d_col}) from {base}, band {band}, head_dim {head_dim}",
                "fn": "rotaryScore",
                "args": [d_row, d_col, band, head_dim, 10000.0],
                "expected": package_score(d_row, d_col, band, head_dim, 10000.0, base),
                "atol": 1e-4,
            }
        )
    for _ in range(4):
        band = random_band(rng, 80)
        cases.append(
            {
                "label": f"content of band {band}",
                "fn": "bandContent",
                "args": [band, 80],
                "expected": package_content(band, 80).tolist(),
                "atol": 1e-6,
            }  # fmt: skip
        )
    for _ in range(3):
        band, radius = random_band(rng, 80), 3
        expected = [
            [package_score(dr, dc, band, 80) for dc in range(-radius, radius + 1)]
            for dr in range(-radius, radius + 1)
        ]
        cases.append(
            {
                "label": f"map of radius {radius}, band {band}",
                "fn": "scoreMap",
                "args": [radius, band, 80, 10000.0],
                "expected": expected,
                "atol": 1e-4,
            }  # fmt: skip
        )
    return cases


def package_score_map(radius: int, band: dict, head_dim: int = 80, theta: float = 10000.0, base=(40, 40)):
    """(2 radius + 1, 2 radius + 1) float32 scores for Δrow, Δcol in -radius..radius (rows Δrow), one batch.

    The query sits at ``base``; every key position ``base + (Δrow, Δcol)`` is rotated by the package's
    :class:`~qwen_lite.vision.VisionRotaryEmbedding` and :func:`~qwen_lite.layers.apply_rotary` at once.
    """
    offsets = torch.arange(-radius, radius + 1)
    d_row, d_col = torch.meshgrid(offsets, offsets, indexing="ij")
    keys = torch.stack([d_row.flatten(), d_col.flatten()], dim=-1) + torch.tensor(base)
    positions = torch.cat([torch.tensor([base]), keys])  # (1 + n 2): the query, then the keys
    cos, sin = VisionRotaryEmbedding(head_dim, theta)(positions)
    rotated = apply_rotary(package_content(band, head_dim, theta).expand(len(positions), -1), cos, sin)
    return (rotated[1:] @ rotated[0]).reshape(len(offsets), len(offsets))
