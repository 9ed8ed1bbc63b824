"""Figures and small measuring helpers for the efficiency chapter. Model code never imports this module.

Plots take plain numbers (lists, dicts from :mod:`qwen_lite.accounting`) so the chapter cells stay
short: they compute, these draw. :func:`peak_allocated_bytes` counts what PyTorch allocates (from the
profiler's memory events), which is deterministic, unlike the process's resident size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from qwen_lite.accounting import peak_allocated_bytes  # noqa: F401  (re-exported: chapter 14 measures with it)
from qwen_lite.viz import fig_to_png, linked_grid

COLORS = {
    "patch_embed": "#9e9e9e",
    "vision blocks (window attention)": "#4c72b0",
    "vision blocks (full attention)": "#c44e52",
    "merger": "#8172b2",
    "decoder attention": "#55a868",
    "decoder MLP": "#dd8452",
    "lm_head": "#937860",
}


# --- measuring ----------------------------------------------------------------------------------


def best_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn`` after one warm-up call.

    The minimum, as ``timeit`` recommends: on a shared machine other jobs only ever add time, so the
    fastest run is the one closest to the cost of the work itself.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``k`` in ``y ~ x^k``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


# --- figures ------------------------------------------------------------------------------------


def scaling_figure(patches: Sequence[int], series: dict[str, Sequence[float]], ylabel: str, title: str,
                   fit_from: int = 0, ax=None, dpi: int = 80):  # fmt: skip
    """Log-log lines of ``series`` (label -> values) against ``patches``, each labelled with its fitted
    slope (over the points from index ``fit_from`` on). Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6), dpi=dpi)
    for label, values in series.items():
        slope = loglog_slope(patches[fit_from:], values[fit_from:])
        ax.loglog(patches, values, "o-", label=f"{label} (slope {slope:.2f})")
    ax.set_xticks(patches, [str(n) for n in patches], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("patches in the image")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return ax


def tokens_figure(sides: Sequence[int], budgets: dict[str, Sequence[int]], dpi: int = 80):
    """Visual tokens against the side of a square image, one line per pixel budget (log-log)."""
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=dpi)
    for label, tokens in budgets.items():
        ax.loglog(sides, tokens, "o-", label=label)
    ax.set_xlabel("side of a square image (px)")
    ax.set_ylabel("visual tokens for the LLM")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("tokens grow with the area, until the budget caps them", fontsize=10)
    return fig


def share_label(share: float) -> str:
    """A share of the total as the bars print it: one decimal below 10%, "<0.1%" for a sliver, "0%" for none."""
    if share == 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def flops_bars(ax, rows: list[dict], title: str) -> None:
    """Horizontal bars of each component's share of the forward FLOPs, on a linear 0-100% axis.

    ``rows`` is an :func:`qwen_lite.accounting.accounting_table`. A linear axis keeps a 0.1% part a
    sliver (a log axis drew it nearly as long as a 40% part); each bar is labelled with its share
    and its GFLOPs, so small parts stay readable.
    """
    rows = [r for r in rows if r["component"] in COLORS]
    names = [r["component"] for r in rows]
    shares = [100 * r["flops_share"] for r in rows]
    ax.barh(names, shares, color=[COLORS[n] for n in names])
    for i, r in enumerate(rows):
        ax.text(shares[i], i, f" {share_label(r['flops_share'])} ({r['flops'] / 1e9:,.0f} GFLOPs)",
                va="center", fontsize=8)  # fmt: skip
    ax.set_xlim(0, 140)  # room for the labels right of a long bar
    ax.set_xticks(range(0, 101, 20))
    ax.invert_yaxis()
    ax.set_xlabel("share of the forward FLOPs (%)")
    ax.set_title(title, fontsize=10)


def flops_widget(models: dict[str, object], sides: Sequence[int], table: Callable, dpi: int = 70):
    """Two sliders (model, image side) over precomputed FLOP bar charts; works without a kernel.

    ``table(config, side)`` returns the accounting rows for a square image of ``side`` pixels.
    """
    names = list(models)

    def render(i: int, j: int) -> bytes:
        fig, ax = plt.subplots(figsize=(7, 3.0), dpi=dpi)
        fig.subplots_adjust(
            left=0.4, right=0.97, bottom=0.16, top=0.9
        )  # fixed margins: faster than tight_layout
        flops_bars(ax, table(models[names[i]], sides[j]), f"{names[i]}, {sides[j]} × {sides[j]} image + text")
        return fig_to_png(fig)

    return linked_grid([("model", names), ("image side (px)", [f"{s} px" for s in sides])], render)


def full_attention_share_figure(sides: Sequence[int], shares: dict[str, Sequence[float]], full_blocks: int,
                                depth: int, dpi: int = 80):  # fmt: skip
    """Share of the vision tower's FLOPs in each part, against the image side (stacked areas).

    ``full_blocks`` of ``depth`` blocks attend over the whole image (they name the figure's title).
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=dpi)
    fig.subplots_adjust(left=0.1, right=0.62, bottom=0.15)
    ax.stackplot(sides, *shares.values(), labels=list(shares),
                 colors=[COLORS.get(k, "#cccccc") for k in shares], alpha=0.85)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(sides, [str(s) for s in sides], fontsize=7)
    ax.minorticks_off()
    ax.set_ylim(0, 1)
    ax.set_xlabel("side of a square image (px)")
    ax.set_ylabel("share of vision-tower FLOPs")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(f"{full_blocks} full-attention blocks of {depth} take over at high resolution", fontsize=10)
    return fig
