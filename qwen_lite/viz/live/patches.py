"""Golden cases for ``patches.js`` (pixel -> patch -> row of ``pixel_values``), from ``patchify``."""

from __future__ import annotations

import random

import torch

from ...processing import patchify


def _locate_with_patchify(
    x: int, y: int, width: int, height: int, patch: int, merge: int, temporal: int
) -> dict:
    """Where pixel (x, y) lands in ``pixel_values``, found by patchifying an image whose values are their own indices."""
    index = torch.arange(3 * height * width, dtype=torch.float64).reshape(1, 3, height, width)
    rows, (t, gh, gw) = patchify(index, patch, temporal, merge)
    targets = [c * height * width + y * width + x for c in range(3)]
    hits = [(rows == v).nonzero().tolist() for v in targets]
    row = hits[0][0][0]
    if any(r != row for hit in hits for r, _ in hit):
        raise AssertionError("one pixel's channels landed in different rows")
    columns = sorted(col for hit in hits for _, col in hit)
    return {
        "gridH": gh,
        "gridW": gw,
        "patchRow": y // patch,
        "patchCol": x // patch,
        "unitRow": y // (patch * merge),
        "unitCol": x // (patch * merge),
        "row": row,
        "rows": t * gh * gw,
        "unit": row // (merge * merge),
        "rowLength": rows.shape[1],
        "columns": columns,
    }


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """``locatePixel`` cases: random sizes (multiples of the unit) and pixels, plus the four corners."""
    cases = []
    sizes = [(28, 28, 14, 2), (56, 84, 14, 2), (112, 28, 14, 2), (48, 32, 8, 2), (36, 54, 6, 3)]
    for _ in range(n):
        unit_h, unit_w = rng.randint(1, 8), rng.randint(1, 8)
        patch, merge = rng.choice([(14, 2), (14, 2), (8, 2), (4, 3)])
        sizes.append((unit_h * patch * merge, unit_w * patch * merge, patch, merge))
    for i, (height, width, patch, merge) in enumerate(sizes):
        points = (
            [(0, 0), (width - 1, height - 1)] if i < 5 else [(rng.randrange(width), rng.randrange(height))]
        )
        for x, y in points:
            expected = _locate_with_patchify(x, y, width, height, patch, merge, 2)
            cases.append(
                {
                    "label": f"pixel ({x}, {y}) of {width} x {height}, patch {patch}, merge {merge}",
                    "fn": "locatePixel",
                    "args": [x, y, width, height, patch, merge, 2, 3],
                    "expected": expected,
                }
            )
    return cases
