"""Golden cases for ``windows.js`` (window order, window boundaries, attention segments), from the package.

Every expected value comes from :func:`qwen_lite.vision.get_window_index`,
:func:`~qwen_lite.vision.get_cu_seqlens`, :func:`~qwen_lite.vision.attention_groups` and
:func:`qwen_lite.processing.patch_coordinates` themselves: edge windows, odd unit grids, several
images, video frames and other window sizes, then random grid lists.
"""

from __future__ import annotations

import random

import torch

from ...processing import patch_coordinates
from ...vision import attention_groups, get_cu_seqlens, get_window_index, units_to_rows

# (grid_thw, window_size): a whole-window image, edge windows at the right and bottom, odd unit grids
# (7 x 11, 3 x 5, 1 x 1), a unit grid smaller than one window, several images, a video, a mix of both.
FIXED = [
    ([[1, 16, 16]], 112),
    ([[1, 14, 22]], 112),
    ([[1, 18, 24]], 112),
    ([[1, 6, 10]], 112),
    ([[1, 2, 2]], 112),
    ([[1, 96, 96]], 112),
    ([[1, 14, 22], [1, 8, 8]], 112),
    ([[3, 8, 12]], 112),
    ([[1, 4, 4], [2, 10, 6], [1, 22, 14]], 112),
    ([[1, 14, 22]], 56),
    ([[2, 12, 20]], 224),
]


def _window_index_case(grid: list[list[int]], window_size: int) -> dict:
    index, cu = get_window_index(grid, window_size=window_size)
    return {
        "label": f"windowIndex {grid}, window {window_size} px",
        "fn": "windowIndex",
        "args": [grid, window_size, 14, 2],
        "expected": {"windowIndex": index.tolist(), "cuWindowSeqlens": cu.tolist()},
    }


def _groups_case(grid: list[list[int]], window: bool, window_size: int) -> dict:
    groups = attention_groups(grid, window=window, window_size=window_size)
    return {
        "label": f"attentionGroups {grid}, {'window' if window else 'full'}, window {window_size} px",
        "fn": "attentionGroups",
        "args": [grid, window, window_size, 14, 2],
        "expected": groups.tolist(),
    }


def window_summary(width: int, height: int, window: bool, query_row: int, query_col: int) -> dict:
    """What the chapter 4 widget shows for one image, block kind and query patch, by the package."""
    grid = [[1, height // 14, width // 14]]
    index, cu = get_window_index(grid)
    segments = cu if window else get_cu_seqlens(grid)
    groups = attention_groups(grid, window=window)
    window_groups = attention_groups(grid, window=True)
    rc = patch_coordinates(torch.tensor(grid))[:, 2:]
    row = int(((rc[:, 0] == query_row) & (rc[:, 1] == query_col)).nonzero()[0, 0])
    position = int(torch.argsort(units_to_rows(index, 4))[row])
    n = rc.shape[0]
    return {
        "gridH": grid[0][1],
        "gridW": grid[0][2],
        "patches": n,
        "windows": len(cu) - 1,
        "lengths": cu.diff().tolist(),
        "queryRow": row,
        "queryPosition": position,
        "queryWindow": int(window_groups[row]),
        "attends": int((groups == groups[row]).sum()),
        "pairs": int((segments.diff().long() ** 2).sum()),
        "fullPairs": n * n,
    }


def token_placement(width: int, height: int, unit: int) -> dict:
    """What the chapter 6 widget shows for merged token ``unit`` (processor order), by the package."""
    grid = [[1, height // 14, width // 14]]
    index, cu = get_window_index(grid)
    rc = patch_coordinates(torch.tensor(grid))[:, 2:]
    window = attention_groups(grid, window=True)
    return {
        "units": len(index),
        "unitRow": int(rc[4 * unit, 0]) // 2,
        "unitCol": int(rc[4 * unit, 1]) // 2,
        "patches": rc[4 * unit : 4 * unit + 4].tolist(),
        "rows": list(range(4 * unit, 4 * unit + 4)),
        "windowPosition": int(torch.argsort(index)[unit]),
        "window": int(window[4 * unit]),
        "windows": len(cu) - 1,
    }


def golden_cases(rng: random.Random, n: int) -> list[dict]:
    """Fixed edge cases (above) for every function, then ``n`` random grid lists and ``n`` random
    widget states (sizes, block kinds, query patches, merged tokens)."""
    cases = []
    for grid, window_size in FIXED:
        cases.append(_window_index_case(grid, window_size))
        cases.append(_groups_case(grid, True, window_size))
        cases.append(_groups_case(grid, False, window_size))
        cases.append(
            {
                "label": f"cuSeqlens {grid}",
                "fn": "cuSeqlens",
                "args": [grid, 2],
                "expected": get_cu_seqlens(grid).tolist(),
            }
        )
    for _ in range(n):
        grid = [
            [rng.choice([1, 1, 2, 3]), 2 * rng.randint(1, 20), 2 * rng.randint(1, 20)]
            for _ in range(rng.randint(1, 3))
        ]
        window_size = rng.choice([112, 112, 112, 56, 224])
        cases.append(_window_index_case(grid, window_size))
        cases.append(_groups_case(grid, rng.random() < 0.5, window_size))
    sizes = [(308, 196), (224, 224), (28, 28), (1344, 1344), (28, 1344)]
    sizes += [(28 * rng.randint(1, 48), 28 * rng.randint(1, 48)) for _ in range(n)]
    for width, height in sizes:
        row, col = rng.randrange(height // 14), rng.randrange(width // 14)
        window = rng.random() < 0.6
        cases.append(
            {
                "label": f"windowSummary {width} x {height} px, {'window' if window else 'full'}, ({row}, {col})",
                "fn": "windowSummary",
                "args": [width, height, window, row, col],
                "expected": window_summary(width, height, window, row, col),
            }
        )
        unit = rng.randrange(width * height // 28**2)
        cases.append(
            {
                "label": f"tokenPlacement {width} x {height} px, token {unit}",
                "fn": "tokenPlacement",
                "args": [width, height, unit],
                "expected": token_placement(width, height, unit),
            }
        )
    return cases
